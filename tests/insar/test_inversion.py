import datetime as dt

import numpy as np
import pytest

from strata.insar.corrections import apply_reference
from strata.insar.errors import NetworkError
from strata.insar.inversion import coherence_to_weight, invert_nsbas, invert_sbas
from strata.insar.network import build_network, connectivity, incidence_matrix
from strata.insar.simulate import (
    AcquisitionConfig,
    AtmosphereConfig,
    GridConfig,
    SimulationConfig,
    simulate_stack,
)
from strata.insar.stack import phase_to_mm
from strata.insar.velocity import decimal_years, fit_velocity, time_functions

N_DATE = 40
DATES = np.datetime64("2021-01-01") + np.arange(N_DATE) * 12


def synthetic(pairs, npix=400, seed=0, noise=0.2, aps=0.3, seasonal=0.0):
    """Phases of a linear (+ optional annual) motion with per-date and per-pair noise."""
    rng = np.random.default_rng(seed)
    t = decimal_years(DATES)
    velocity = rng.uniform(-20.0, 20.0, npix)
    truth = t[:, None] * velocity + seasonal * np.sin(2 * np.pi * t)[:, None]
    truth = truth + rng.normal(0.0, aps, truth.shape)
    truth -= truth[0]
    phase = truth[pairs[:, 1]] - truth[pairs[:, 0]] + rng.normal(0.0, noise, (len(pairs), npix))
    return phase, truth, velocity


def gap_network(first_gap=15, last_gap=20):
    """3-nearest network whose dates first_gap..last_gap have no interferogram at all."""
    pairs = build_network(DATES, n_nearest=3)
    inside = (pairs >= first_gap) & (pairs <= last_gap)
    return pairs[~inside.any(axis=1)]


def test_matches_dense_normal_equations():
    rng = np.random.default_rng(3)
    pairs = build_network(DATES[:15], n_nearest=3)
    phase = rng.normal(0.0, 1.0, (len(pairs), 1))
    phase[4] = np.nan
    weight = rng.uniform(1.0, 5.0, (len(pairs), 1))
    gamma = 0.1
    result = invert_nsbas(phase, pairs, DATES[:15], weight=weight, gamma=gamma)
    # Independent dense NSBAS normal equations on (phases of dates 1.., model parameters).
    ok = np.isfinite(phase[:, 0])
    design = np.hstack([incidence_matrix(pairs, 15)[ok, 1:], np.zeros((ok.sum(), 2))])
    model = time_functions(DATES[:15]).matrix
    constraint = np.hstack([np.vstack([np.zeros((1, 14)), np.eye(14)]), -model])
    w = weight[ok, 0]
    data_normal = design.T @ (w[:, None] * design)
    normal = data_normal + gamma**2 * w.mean() * constraint.T @ constraint
    solution = np.linalg.solve(normal, design.T @ (w * phase[ok, 0]))
    np.testing.assert_allclose(result.timeseries[1:, 0], solution[:14], atol=1e-5)
    np.testing.assert_allclose(result.model_parameters[:, 0], solution[14:], atol=1e-5)
    resolution = np.linalg.solve(normal, data_normal)
    np.testing.assert_allclose(result.model_share[1:, 0], 1 - np.diag(resolution)[:14], atol=1e-5)
    residual = phase[ok, 0] - design @ solution
    sigma2 = (w * residual**2).sum() / (ok.sum() - np.trace(resolution))
    expected_std = np.sqrt(sigma2 * np.diag(np.linalg.inv(normal))[:14])
    np.testing.assert_allclose(result.timeseries_std[1:, 0], expected_std, rtol=1e-4)
    assert result.interferograms_used[0] == ok.sum()
    assert result.residual_rms[0] == pytest.approx(np.sqrt(np.mean(residual**2)), rel=1e-4)


def test_sbas_on_connected_network_is_weighted_least_squares():
    rng = np.random.default_rng(6)
    pairs = build_network(DATES[:12], n_nearest=3)
    phase = rng.normal(0.0, 1.0, (len(pairs), 5))
    weight = rng.uniform(0.5, 3.0, (len(pairs), 5))
    result = invert_sbas(phase, pairs, DATES[:12], weight=weight, threads=2)
    design = incidence_matrix(pairs, 12)[:, 1:]
    for pixel in range(5):
        root = np.sqrt(weight[:, pixel])
        expected = np.linalg.lstsq(design * root[:, None], phase[:, pixel] * root, rcond=None)[0]
        np.testing.assert_allclose(result.timeseries[1:, pixel], expected, atol=1e-4)
    assert result.model_parameters.shape == (0, 5) and result.parameter_names == ()
    assert np.all(result.model_share < 1e-3)


def test_connected_network_recovers_time_series():
    pairs = build_network(DATES, n_nearest=4)
    phase, truth, velocity = synthetic(pairs, aps=0.0, noise=0.05)
    result = invert_nsbas(phase.reshape(len(pairs), 20, 20), pairs, DATES)
    assert result.timeseries.shape == (N_DATE, 20, 20)
    assert np.sqrt(np.mean((result.timeseries.reshape(N_DATE, -1) - truth) ** 2)) < 0.1
    assert result.parameter_names == ("velocity", "intercept")
    assert np.sqrt(np.mean((result.model_parameters[0].ravel() - velocity) ** 2)) < 0.1
    assert np.all(result.model_share < 0.01)
    assert np.all(result.temporal_coherence > 0.95)


def test_missing_values_and_weights():
    pairs = build_network(DATES, n_nearest=4)
    phase, truth, _ = synthetic(pairs, aps=0.0, noise=0.05, seed=1)
    rng = np.random.default_rng(1)
    phase[rng.random(phase.shape) < 0.15] = np.nan
    weight = coherence_to_weight(rng.uniform(0.3, 0.9, phase.shape))
    result = invert_nsbas(phase, pairs, DATES, weight=weight)
    used = np.isfinite(phase).sum(axis=0)
    np.testing.assert_array_equal(result.interferograms_used, used)
    determined = result.model_share < 0.5
    assert determined.mean() > 0.95
    error = np.abs(result.timeseries - truth)[determined]
    assert np.percentile(error, 99) < 0.3


def test_nsbas_ties_disconnected_network_and_flags_gap_epochs():
    pairs = gap_network()
    report = connectivity(pairs, DATES)
    assert report.n_components > 1
    phase, _, velocity = synthetic(pairs, seed=2)
    result = invert_nsbas(phase, pairs, DATES)
    rmse = np.sqrt(np.mean((result.model_parameters[0] - velocity) ** 2))
    assert rmse < 0.5
    share = np.median(result.model_share, axis=1)
    assert np.all(share[15:21] > 0.95)
    assert np.all(share[:15] < 0.05)
    assert np.all(share[21:] < 0.5)
    # SBAS (minimum-norm velocity, MintPy-like) cannot recover the offset across the gap.
    sbas = invert_sbas(phase, pairs, DATES)
    t = decimal_years(DATES)
    sbas_velocity = np.polyfit(t, sbas.timeseries, 1)[0]
    nsbas_velocity = np.polyfit(t, result.timeseries, 1)[0]
    assert np.sqrt(np.mean((sbas_velocity - velocity) ** 2)) > 3 * np.sqrt(
        np.mean((nsbas_velocity - velocity) ** 2)
    )
    assert np.all(np.median(sbas.model_share, axis=1)[16:20] > 0.95)


def disconnected_network(after=19):
    """3-nearest network without the pairs spanning dates ``after`` and ``after + 1``: two subsets."""
    pairs = build_network(DATES, n_nearest=3)
    return pairs[~((pairs[:, 0] <= after) & (pairs[:, 1] > after))]


def test_imposed_epochs_std_matches_dense_prior_covariance():
    rng = np.random.default_rng(8)
    dates = DATES[:16]
    pairs = build_network(dates, n_nearest=3)
    pairs = pairs[~((pairs[:, 0] <= 7) & (pairs[:, 1] > 7))]
    assert connectivity(pairs, dates).n_components == 2
    phase = rng.normal(0.0, 1.0, (len(pairs), 1))
    weight = rng.uniform(1.0, 5.0, (len(pairs), 1))
    gamma = 1e-3
    result = invert_nsbas(phase, pairs, dates, weight=weight, gamma=gamma)
    # Dense: estimate with the gamma constraint, covariance with the misfit-weighted constraint.
    w = weight[:, 0]
    design = np.hstack([incidence_matrix(pairs, 16)[:, 1:], np.zeros((len(pairs), 2))])
    model = time_functions(dates).matrix
    constraint = np.hstack([np.vstack([np.zeros((1, 15)), np.eye(15)]), -model])
    data_normal = design.T @ (w[:, None] * design)
    normal = data_normal + gamma**2 * w.mean() * constraint.T @ constraint
    solution = np.linalg.solve(normal, design.T @ (w * phase[:, 0]))
    resolution = np.linalg.solve(normal, data_normal)
    share = np.clip(1 - np.diag(resolution)[:15], 0.0, 1.0)
    np.testing.assert_allclose(result.model_share[1:, 0], share, atol=1e-5)
    assert 15 - np.trace(resolution[:15, :15]) > 0.5  # one direction (the offset) is imposed
    residual = phase[:, 0] - design @ solution
    sigma2 = (w * residual**2).sum() / (len(pairs) - np.trace(resolution))
    series = np.concatenate([[0.0], solution[:15]])
    determined = np.concatenate([[True], share < 0.5])
    misfit = series - model @ solution[15:]
    model_var = max((misfit[determined] ** 2).sum() / (determined.sum() - 2), sigma2 / w.mean())
    covariance = sigma2 * np.linalg.inv(data_normal + sigma2 / model_var * constraint.T @ constraint)
    np.testing.assert_allclose(result.timeseries_std[1:, 0], np.sqrt(np.diag(covariance)[:15]), rtol=1e-3)
    assert result.timeseries_std[1:, 0].max() < 10 * np.sqrt(sigma2)


@pytest.mark.parametrize("network", ["dates_without_data", "disconnected_subsets"])
def test_std_after_network_gap_is_of_the_order_of_the_error(network):
    pairs = gap_network() if network == "dates_without_data" else disconnected_network()
    assert connectivity(pairs, DATES).n_components > 1
    phase, truth, _ = synthetic(pairs, npix=2000, seed=5, noise=0.2, aps=0.3)
    result = invert_nsbas(phase, pairs, DATES)
    error = result.timeseries - truth
    for epochs in (slice(1, 15), slice(15, 21), slice(21, None)):
        spread = error[epochs].std()
        sigma = result.timeseries_std[epochs]
        assert np.mean(np.abs(error[epochs]) <= 3 * sigma) > 0.97
        assert 0.5 * spread < np.median(sigma) < 2 * spread


def test_velocity_uncertainty_across_a_network_gap():
    pairs = gap_network()
    phase, _, velocity = synthetic(pairs, npix=2000, seed=5, noise=0.2, aps=0.3)
    result = invert_nsbas(phase, pairs, DATES)
    imposed = result.model_share >= 0.5
    assert np.all(imposed[15:21]) and not imposed[:15].any()
    # Model-imposed epochs dropped, the offset across the gap left free by a step.
    fit = fit_velocity(result.timeseries, DATES, model_share=result.model_share, steps=[DATES[21]])
    np.testing.assert_array_equal(fit.epochs_used, np.count_nonzero(~imposed, axis=0))
    error = fit.velocity - velocity
    assert np.mean(np.abs(error) <= 3 * fit.velocity_std) > 0.9
    assert 0.5 * error.std() < np.median(fit.velocity_std) < 2 * error.std()


def test_seasonal_model_parameters():
    pairs = build_network(DATES, n_nearest=3)
    phase, _, velocity = synthetic(pairs, seed=4, aps=0.05, noise=0.05, seasonal=2.0)
    result = invert_nsbas(phase, pairs, DATES, seasonal=True)
    names = result.parameter_names
    assert names == ("velocity", "intercept", "annual_sin", "annual_cos")
    np.testing.assert_allclose(result.model_parameters[0], velocity, atol=0.3)
    np.testing.assert_allclose(result.model_parameters[2], 2.0, atol=0.3)


def test_robust_inversion_resists_outlier_interferograms():
    pairs = build_network(DATES, n_nearest=4)
    phase, truth, _ = synthetic(pairs, seed=5, aps=0.0, noise=0.05)
    rng = np.random.default_rng(5)
    bad = rng.choice(len(pairs), size=len(pairs) // 20, replace=False)
    phase[bad] += 2 * np.pi
    plain = invert_nsbas(phase, pairs, DATES)
    robust = invert_nsbas(phase, pairs, DATES, robust=True, return_residual=True)
    plain_error = np.sqrt(np.mean((plain.timeseries - truth) ** 2))
    robust_error = np.sqrt(np.mean((robust.timeseries - truth) ** 2))
    assert robust_error < 0.1 < plain_error
    assert robust.residual is not None
    flagged = np.abs(robust.residual) > np.pi
    assert flagged[bad].mean() > 0.95
    assert np.delete(flagged, bad, axis=0).mean() < 0.01


def test_pixel_without_data_is_nan():
    pairs = build_network(DATES[:10], n_nearest=2)
    phase = np.zeros((len(pairs), 3))
    phase[:, 1] = np.nan
    result = invert_nsbas(phase, pairs, DATES[:10], min_interferograms=2)
    assert np.all(np.isnan(result.timeseries[:, 1]))
    assert result.interferograms_used[1] == 0
    assert np.all(result.timeseries[:, [0, 2]] == 0)


def test_bad_pairs_are_rejected():
    with pytest.raises(NetworkError):
        invert_nsbas(np.zeros((1, 4)), [[2, 1]], DATES[:3])
    with pytest.raises(NetworkError):
        invert_nsbas(np.zeros((2, 4)), [[0, 1]], DATES[:3])
    with pytest.raises(NetworkError):
        invert_nsbas(np.zeros((1, 4)), [[0, 1]], DATES[:3], weight=np.ones(3))


# Residual noise after an external tropospheric correction (ERA5/GACOS-like): the simulator's
# decorrelation, DEM error and missing-data model are kept at their defaults.
CORRECTED_ATMOSPHERE = AtmosphereConfig(stratified_mm_per_km=2.0, turbulent_mm=1.0, ramp_mm=1.0)


def simulated_velocity_error(config, dates=None):
    """Velocity error (mm/yr) over coherent pixels, and the inversion, on a simulated stack."""
    sim = simulate_stack(config)
    stack = sim.stack
    row, col = sim.reference_pixel
    phase = apply_reference(stack["unwrapped_phase"].values, row, col, radius=1)
    out_dates = sim.dates if dates is None else dates
    pairs = np.searchsorted(out_dates, sim.dates)[sim.pairs]
    weight = coherence_to_weight(stack["coherence"].values)
    inversion = invert_nsbas(phase, pairs, out_dates, weight=weight)
    displacement = phase_to_mm(inversion.timeseries, stack.attrs["wavelength"])
    known = np.isin(out_dates, sim.dates)
    velocity = fit_velocity(displacement[known], out_dates[known]).velocity
    truth = sim.velocity.values - sim.velocity.values[row, col]
    coherent = sim.coherent_mask(0.7)
    error = (velocity - truth)[coherent]
    # The reference pixel's own noise shifts every pixel alike; compare the fields up to it.
    rmse = float(np.sqrt(np.mean((error - np.median(error)) ** 2)))
    return rmse, inversion, sim


@pytest.mark.slow
def test_simulated_stack_velocity_accuracy():
    config = SimulationConfig(seed=1, grid=GridConfig(rows=80, cols=80), atmosphere=CORRECTED_ATMOSPHERE)
    rmse, inversion, sim = simulated_velocity_error(config)
    assert 55 <= len(sim.dates) <= 65 and 160 <= len(sim.pairs) <= 200
    assert rmse <= 1.0
    assert np.nanmedian(inversion.temporal_coherence[sim.coherent_mask(0.7)]) > 0.9


@pytest.mark.slow
def test_simulated_three_month_gap():
    gap = (dt.date(2019, 11, 1), dt.date(2020, 1, 31))
    config = SimulationConfig(
        seed=2,
        grid=GridConfig(rows=80, cols=80),
        atmosphere=CORRECTED_ATMOSPHERE,
        acquisitions=AcquisitionConfig(gaps=[gap]),
    )
    sim_dates = simulate_stack(config).dates
    # Output epochs on the regular 12-day cycle, including those inside the acquisition gap.
    regular = sim_dates[0] + np.arange(
        0, (sim_dates[-1] - sim_dates[0]).astype("timedelta64[D]").astype(int) + 1, 12
    ).astype("timedelta64[D]")
    rmse, inversion, _ = simulated_velocity_error(config, dates=regular)
    assert rmse <= 1.5
    in_gap = (regular >= np.datetime64(gap[0])) & (regular <= np.datetime64(gap[1]))
    assert in_gap.sum() >= 6
    share = np.nanmedian(inversion.model_share.reshape(len(regular), -1), axis=1)
    assert np.all(share[in_gap] > 0.9)
    assert np.all(share[~in_gap] < 0.1)
