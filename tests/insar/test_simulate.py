import datetime as dt

import numpy as np
import pydantic
import pytest
import yaml

from strata.insar.simulate import (
    AcquisitionConfig,
    AtmosphereConfig,
    BowlConfig,
    DecorrelationConfig,
    DeformationConfig,
    GridConfig,
    MissingDataConfig,
    NetworkConfig,
    SimulationConfig,
    StepConfig,
    TopographyConfig,
    UnwrappingErrorConfig,
    simulate_stack,
)
from strata.insar.simulate._fields import phase_noise_table
from strata.insar.stack import dates_of, phase_to_mm, validate_stack

SMALL = GridConfig(rows=64, cols=80, chunk_size=32)
QUIET = AtmosphereConfig(stratified_mm_per_km=0, turbulent_mm=0, ramp_mm=0)


def _errors_mm(sim):
    stack = sim.stack.compute()
    ref, sec = sim.pairs.T
    disp = sim.displacement.values
    measured = phase_to_mm(stack["unwrapped_phase"].values, stack.attrs["wavelength"])
    return measured - (disp[sec] - disp[ref])


def test_default_stack_follows_the_contract():
    sim = simulate_stack(SimulationConfig(grid=SMALL))
    ds = sim.stack
    validate_stack(ds)
    assert ds.sizes["y"] == 64 and ds.sizes["x"] == 80
    assert ds["unwrapped_phase"].dtype == np.float32
    assert ds["unwrapped_phase"].chunks[0] == (ds.sizes["pair"],)
    assert 55 <= dates_of(ds).size <= 62  # 2 years of 12-day acquisitions
    assert 150 <= ds.sizes["pair"] <= 190
    assert ds["height"].dims == ("y", "x")
    coherence = ds["coherence"].values
    assert np.nanmin(coherence) >= 0 and np.nanmax(coherence) <= 1
    np.testing.assert_array_equal(sim.dates, dates_of(ds))
    assert sim.displacement.shape == (sim.dates.size, 64, 80)
    assert np.all(sim.displacement.values[0] == 0)


def test_same_seed_same_stack_other_seed_other_stack():
    a = simulate_stack(SimulationConfig(grid=SMALL, seed=3)).stack["unwrapped_phase"].values
    b = simulate_stack(SimulationConfig(grid=SMALL, seed=3)).stack["unwrapped_phase"].values
    c = simulate_stack(SimulationConfig(grid=SMALL, seed=4)).stack["unwrapped_phase"].values
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_truth_does_not_depend_on_chunking():
    big = simulate_stack(SimulationConfig(grid=SMALL))
    small = simulate_stack(SimulationConfig(grid=SMALL.model_copy(update={"chunk_size": 16})))
    np.testing.assert_array_equal(big.displacement.values, small.displacement.values)


def test_displacement_is_velocity_times_time_without_seasonal_or_steps():
    sim = simulate_stack(SimulationConfig(grid=SMALL))
    years = (sim.dates - sim.dates[0]).astype("timedelta64[D]").astype(float) / 365.25
    expected = years[:, None, None] * sim.velocity.values[None]
    np.testing.assert_allclose(sim.displacement.values, expected, atol=1e-3)


def test_bowl_peak_rate():
    bowl = BowlConfig(center=(0.5, 0.5), rate_mm_yr=-300.0)
    deformation = DeformationConfig(bowls=[bowl], velocity_gradient_mm_yr=0.0)
    sim = simulate_stack(SimulationConfig(grid=SMALL, deformation=deformation))
    assert sim.velocity.values.min() == pytest.approx(-300.0, abs=5.0)
    row, col = sim.reference_pixel
    assert abs(sim.velocity.values[row, col]) < 5.0


def test_seasonal_and_step_enter_the_truth():
    step = StepConfig(date=dt.date(2020, 1, 10), amplitude_mm=30.0, sigma=10.0)
    deformation = DeformationConfig(
        bowls=[], velocity_gradient_mm_yr=0.0, seasonal_amplitude_mm=10.0, steps=[step]
    )
    sim = simulate_stack(SimulationConfig(grid=SMALL, deformation=deformation))
    disp = sim.displacement.values[:, :, -1]  # east edge: full seasonal amplitude
    after = sim.dates >= np.datetime64("2020-01-10")
    jump = disp[after][0].mean() - disp[~after][-1].mean()
    assert jump == pytest.approx(30.0, abs=8.0)
    west = sim.displacement.values[:, :, 0]
    assert np.ptp(west.mean(axis=1)) == pytest.approx(30.0, abs=3.0)  # step only, no seasonal
    assert np.ptp(disp.mean(axis=1)) > 40.0


def test_noise_follows_coherence():
    config = SimulationConfig(grid=SMALL, atmosphere=QUIET, topography=TopographyConfig(dem_error_std_m=0))
    sim = simulate_stack(config)
    errors = _errors_mm(sim)
    coherence = sim.stack["coherence"].values
    high = coherence > 0.8
    low = (coherence > 0.2) & (coherence < 0.35)
    assert abs(np.mean(errors[high])) < 0.05
    assert np.std(errors[high]) < np.std(errors[low])
    to_rad = 4 * np.pi / (sim.stack.attrs["wavelength"] * 1000)
    gamma = float(np.median(coherence[high]))
    cramer_rao = np.sqrt(1 - gamma**2) / (gamma * np.sqrt(2 * config.decorrelation.looks))
    assert np.std(errors[high]) * to_rad == pytest.approx(cramer_rao, rel=0.3)


def test_phase_noise_table_matches_cramer_rao_at_high_coherence():
    table = phase_noise_table(20)
    gamma = 0.9
    row = int(round(gamma * (table.shape[0] - 1) / 0.995))
    assert np.std(table[row]) == pytest.approx(np.sqrt(1 - gamma**2) / (gamma * np.sqrt(40)), rel=0.1)
    assert np.std(table[0]) == pytest.approx(np.pi / np.sqrt(3), rel=0.02)  # uniform at zero coherence


def test_dem_error_scales_with_baseline():
    config = SimulationConfig(
        grid=SMALL,
        atmosphere=QUIET,
        topography=TopographyConfig(dem_error_std_m=30.0),
        network=NetworkConfig(baseline_std_m=100.0),
    )
    sim = simulate_stack(config)
    errors = _errors_mm(sim)
    bperp = sim.stack["perpendicular_baseline"].values
    topo = config.topography
    expected = (
        1000
        * bperp[:, None, None]
        * sim.dem_error.values[None]
        / (topo.slant_range_m * np.sin(np.radians(topo.incidence_deg)))
    )
    residual = errors - expected
    assert np.std(residual) < 0.5 * np.std(errors)


def test_unwrapping_errors_are_integer_cycles_in_the_chosen_share():
    config = SimulationConfig(
        grid=SMALL,
        atmosphere=QUIET,
        unwrapping_errors=UnwrappingErrorConfig(interferogram_share=0.1, region_share=0.1),
    )
    sim = simulate_stack(config)
    n_pairs = sim.stack.sizes["pair"]
    assert sim.error_pairs.size == int(np.ceil(0.1 * n_pairs))
    cycles = sim.unwrapping_errors.values
    affected = np.flatnonzero(np.any(cycles != 0, axis=(1, 2)))
    assert set(affected) <= set(sim.error_pairs.tolist())
    assert affected.size >= sim.error_pairs.size - 1  # a region may fall off a tiny grid
    errors_rad = _errors_mm(sim) * (-4 * np.pi / (sim.stack.attrs["wavelength"] * 1000))
    coherent = sim.stack["coherence"].values > 0.6
    inside = (cycles != 0) & coherent
    np.testing.assert_allclose(np.median(errors_rad[inside] / (2 * np.pi * cycles[inside])), 1.0, atol=0.05)


def test_missing_pixels():
    config = SimulationConfig(grid=SMALL, missing=MissingDataConfig(random_share=0.1, below_coherence=0.2))
    sim = simulate_stack(config)
    phase = sim.stack["unwrapped_phase"].values
    coherence = sim.stack["coherence"].values
    assert np.all(np.isnan(phase[coherence < 0.2]))
    share = np.isnan(phase[coherence >= 0.2]).mean()
    assert share == pytest.approx(0.1, abs=0.02)


def test_gap_and_disconnected_network():
    gap = (dt.date(2019, 6, 1), dt.date(2019, 8, 31))
    config = SimulationConfig(
        grid=SMALL,
        acquisitions=AcquisitionConfig(gaps=[gap]),
        network=NetworkConfig(disconnect_after=[dt.date(2020, 3, 1)]),
    )
    sim = simulate_stack(config)
    dates = sim.dates.astype("datetime64[D]")
    assert not np.any((dates >= np.datetime64(gap[0])) & (dates <= np.datetime64(gap[1])))
    ref = sim.stack["reference"].values.astype("datetime64[D]")
    sec = sim.stack["secondary"].values.astype("datetime64[D]")
    cut = np.datetime64("2020-03-01")
    assert not np.any((ref <= cut) & (sec > cut))
    # pairs still span the acquisition gap (n-nearest ignores time)
    assert np.any((ref < np.datetime64(gap[0])) & (sec > np.datetime64(gap[1])))


def test_thresholds_limit_the_network():
    config = SimulationConfig(
        grid=SMALL,
        network=NetworkConfig(n_nearest=5, max_temporal_baseline_days=30, max_perpendicular_baseline_m=60),
    )
    sim = simulate_stack(config)
    span = (sim.stack["secondary"] - sim.stack["reference"]).values.astype("timedelta64[D]").astype(int)
    assert span.max() <= 30
    assert np.abs(sim.stack["perpendicular_baseline"].values).max() <= 60


def test_velocity_recovered_from_interferograms_without_noise_sources():
    config = SimulationConfig(
        grid=SMALL,
        atmosphere=QUIET,
        topography=TopographyConfig(dem_error_std_m=0),
        decorrelation=DecorrelationConfig(coherence_min=0.98, coherence_max=0.99, looks=10_000),
    )
    sim = simulate_stack(config)
    mm = phase_to_mm(sim.stack["unwrapped_phase"].values, sim.stack.attrs["wavelength"])
    n_dates = sim.dates.size
    design = np.zeros((sim.pairs.shape[0], n_dates - 1))
    for k, (i, j) in enumerate(sim.pairs):
        if i > 0:
            design[k, i - 1] -= 1
        design[k, j - 1] += 1
    series = np.linalg.lstsq(design, mm.reshape(mm.shape[0], -1), rcond=None)[0]
    years = (sim.dates[1:] - sim.dates[0]).astype("timedelta64[D]").astype(float) / 365.25
    velocity = (years @ series) / (years @ years)  # fit through the origin (first date is 0)
    error = velocity.reshape(mm.shape[1:]) - sim.velocity.values
    assert np.sqrt(np.mean(error**2)) < 0.05  # mm/yr, while the bowl reaches -120 mm/yr


def test_config_round_trips_and_rejects_unknown_fields():
    config = SimulationConfig(
        seed=5,
        acquisitions=AcquisitionConfig(gaps=[(dt.date(2019, 6, 1), dt.date(2019, 8, 31))]),
        deformation=DeformationConfig(steps=[StepConfig(date=dt.date(2020, 1, 1), amplitude_mm=10.0)]),
    )
    text = yaml.safe_dump(config.model_dump(mode="json"))
    assert SimulationConfig.model_validate(yaml.safe_load(text)) == config
    with pytest.raises(pydantic.ValidationError, match="extra"):
        SimulationConfig.model_validate({"grid": {"rows": 10, "colums": 10}})
    for name, field in SimulationConfig.model_fields.items():
        assert field.description, name
