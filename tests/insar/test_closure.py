import numpy as np
import pytest
import xarray as xr

from strata.demo import DemoConfig, _tehran_config
from strata.insar.closure import (
    closure_phase,
    correct_unwrapping_errors,
    detect_bad_interferograms,
    reference_ambiguity,
)
from strata.insar.config import InsarConfig
from strata.insar.errors import NetworkGapWarning
from strata.insar.network import build_network
from strata.insar.simulate import (
    GridConfig,
    SimulationConfig,
    UnwrappingErrorConfig,
    simulate_stack,
    write_stack,
)
from strata.insar.workflow import run

N_DATE = 30


def consistent_stack(npix=500, seed=0, noise=0.3):
    rng = np.random.default_rng(seed)
    pairs = build_network(np.arange(N_DATE), n_nearest=4)
    dates = np.cumsum(rng.normal(0.0, 3.0, (N_DATE, npix)), axis=0)
    phase = dates[pairs[:, 1]] - dates[pairs[:, 0]] + rng.normal(0.0, noise, (len(pairs), npix))
    return pairs, phase.astype(np.float32), rng


def test_closure_of_consistent_and_broken_stack():
    pairs, phase, _ = consistent_stack(noise=0.0)
    closure = closure_phase(phase.reshape(len(pairs), 20, 25), pairs)
    assert closure.misclosure.shape == (len(closure.triplets), 20, 25)
    np.testing.assert_allclose(closure.misclosure, 0.0, atol=1e-3)
    assert closure.nonzero_count.max() == 0
    phase[5, :10] += 2 * np.pi
    phase[6, 15] = np.nan
    broken = closure_phase(phase, pairs)
    in_loop = np.any(broken.triplets == 5, axis=1)
    assert np.all(np.abs(broken.integer_misclosure[in_loop, :10]) == 1)
    assert np.all(broken.integer_misclosure[~in_loop] == 0)
    assert np.all(np.isnan(broken.misclosure[np.any(broken.triplets == 6, axis=1), 15]))


def test_correction_fixes_injected_errors_even_when_several_share_a_pixel():
    pairs, phase, rng = consistent_stack(seed=1)
    cycles = np.zeros(phase.shape, dtype=np.int16)
    error_pairs = rng.choice(len(pairs), size=len(pairs) // 10, replace=False)
    for p in error_pairs:
        pixels = rng.random(phase.shape[1]) < 0.3
        cycles[p, pixels] = rng.choice([-2, -1, 1, 2], size=pixels.sum())
    phase_with_errors = phase + 2 * np.pi * cycles
    phase_with_errors[rng.random(phase.shape) < 0.05] = np.nan
    weight = rng.uniform(5.0, 50.0, phase.shape).astype(np.float32)
    result = correct_unwrapping_errors(phase_with_errors, pairs, weight=weight)
    affected = (cycles != 0) & np.isfinite(phase_with_errors)
    assert (np.count_nonzero(cycles[:, affected.any(axis=0)], axis=0) >= 2).any()
    assert np.mean(result.ambiguity[affected] == cycles[affected]) >= 0.95
    assert np.mean(result.ambiguity[~affected] != 0) < 0.001
    np.testing.assert_allclose(
        result.phase, phase_with_errors - 2 * np.pi * result.ambiguity, atol=1e-4, equal_nan=True
    )
    np.testing.assert_array_equal(result.pixels_fixed, np.count_nonzero(result.ambiguity, axis=1))
    assert result.closure_rms_after < result.closure_rms_before
    assert result.nonzero_after.sum() < 0.05 * result.nonzero_before.sum()


def test_detect_bad_interferograms():
    pairs, phase, _ = consistent_stack(seed=2)
    phase[[4, 40]] += 2 * np.pi * (np.arange(phase.shape[1]) < 100)
    report = detect_bad_interferograms(phase, pairs)
    np.testing.assert_array_equal(np.flatnonzero(report.bad), [4, 40])
    assert report.share[4] == pytest.approx(0.2, abs=0.02)
    assert report.triplet_count.min() >= 1


@pytest.mark.slow
def test_simulated_stack_unwrapping_errors_are_corrected():
    config = SimulationConfig(
        seed=3,
        grid=GridConfig(rows=80, cols=80),
        unwrapping_errors=UnwrappingErrorConfig(interferogram_share=0.08, max_cycles=2),
    )
    sim = simulate_stack(config)
    phase = sim.stack["unwrapped_phase"].values
    truth = sim.unwrapping_errors.values
    error_pairs = np.unique(np.flatnonzero(np.any(truth != 0, axis=(1, 2))))
    assert error_pairs.size >= 0.05 * len(sim.pairs)
    result = correct_unwrapping_errors(phase, sim.pairs)
    affected = truth != 0
    assert np.mean(result.ambiguity[affected] == truth[affected]) >= 0.95
    assert np.mean(result.ambiguity[~affected] != 0) < 0.001


def test_reference_ambiguity_is_decided_by_the_majority():
    pairs, phase, _ = consistent_stack(npix=600, seed=4)
    cycles = np.zeros(phase.shape, dtype=np.int16)
    cycles[7, :120] = 1
    cycles[30, 100:200] = -2
    raw = phase + 2 * np.pi * cycles
    reference = 110  # inside both error patches
    referenced = raw - raw[:, reference : reference + 1]
    found = reference_ambiguity(referenced, pairs)
    np.testing.assert_array_equal(found, cycles[:, reference])
    # Referenced to the corrected reference phase, the correction names the injected pixels.
    result = correct_unwrapping_errors(referenced + 2 * np.pi * found[:, None], pairs)
    assert np.mean(result.ambiguity == cycles) > 0.999


def test_tehran_like_stack_with_reference_in_an_unwrapping_error(tmp_path):
    """Regression (demo): a reference inside an error patch moved that error to the whole scene."""
    sim = simulate_stack(_tehran_config(DemoConfig(size=64, years=1, generated=0)))
    truth = sim.unwrapping_errors.values
    labels = [str(p) for p in sim.unwrapping_errors["pair"].values]
    patch = truth[sim.error_pairs[0]] != 0
    row, col = np.unravel_index(np.argmax(np.where(patch, sim.base_coherence.values, -1.0)), patch.shape)
    stack = write_stack(sim, tmp_path / "stack", "licsar")
    config = InsarConfig.from_dict(
        {
            "input": {"path": str(stack), "format": "licsar"},
            "output": str(tmp_path / "out"),
            "corrections": {"reference_rowcol": [int(row), int(col)]},
        }
    )
    with pytest.warns(NetworkGapWarning):
        result = run(config)
    with xr.open_dataset(result.paths["unwrapping_corrections"]) as products:
        order = [labels.index(str(p)) for p in products["pair"].values]
        cycles = products["cycles"].values.astype(np.int16)
    expected = truth[order]
    injected = expected != 0
    assert injected.sum() > 500
    assert np.mean(cycles[injected] == expected[injected]) >= 0.95
    assert np.count_nonzero(cycles[~injected]) < 0.05 * injected.sum()
