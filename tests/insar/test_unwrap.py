from pathlib import Path

import numpy as np
import pytest
import rasterio

from strata.insar.unwrap import UnwrapError, reference_ambiguity, unwrap


def _wrap(phase: np.ndarray) -> np.ndarray:
    return np.angle(np.exp(1j * phase))


def _share_within_constant_cycle(estimate: np.ndarray, truth: np.ndarray, valid: np.ndarray) -> float:
    """Share of valid pixels where estimate - truth equals the most common 2 pi k."""
    cycles = (estimate - truth)[valid] / (2 * np.pi)
    k = np.round(np.median(cycles))
    return float(np.mean(np.abs(cycles - k) < 1e-3))


def _pyrate_pairs(shared_data: Path) -> list[Path]:
    paths = sorted((shared_data / "pyrate_cropA" / "geotiffs").glob("*_eqa_unw.tif"))
    assert len(paths) == 30
    return paths


def test_real_gamma_unwrapped_interferograms_are_reproduced(shared_data):
    """PyRate's Mexico City GAMMA interferograms, re-wrapped and unwrapped by Strata."""
    spanning_cycles = 0
    for path in _pyrate_pairs(shared_data):
        with rasterio.open(path) as src:
            truth = src.read(1).astype(np.float64)
        with rasterio.open(str(path).replace("_eqa_unw.tif", "_flat_eqa_cc.tif")) as src:
            coh = src.read(1)
        valid = np.isfinite(truth) & (truth != 0)  # GAMMA writes 0 where not unwrapped
        spanning_cycles += np.ptp(truth[valid]) > 2 * np.pi
        ifg = np.where(valid, np.exp(1j * truth), 0).astype(np.complex64)
        result = unwrap(ifg, coh, nlooks=8.0)
        assert np.isnan(result.phase[~valid]).all()
        share = _share_within_constant_cycle(result.phase, truth, valid)
        assert share >= 0.99, f"{path.name}: only {share:.3%} reproduced"
    assert spanning_cycles >= 20  # most pairs hold more than one fringe: wrapping matters


def _ramp(shape: tuple[int, int], rng: np.random.Generator, noise: float) -> np.ndarray:
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    truth = 0.08 * cols + 0.05 * rows + 6 * np.exp(-((rows - 60) ** 2 + (cols - 90) ** 2) / 900)
    return truth + rng.normal(0, noise, shape)


def test_reference_removes_the_ambiguity_consistently():
    rng = np.random.default_rng(0)
    truth = _ramp((120, 200), rng, 0.1)
    coh = np.full(truth.shape, 0.8, dtype=np.float32)
    reference = (30, 150)
    result = unwrap(np.exp(1j * truth), coh, nlooks=10, reference=reference)
    # at the reference the unwrapped phase equals the wrapped phase: no 2 pi k left there
    assert result.phase[reference] == pytest.approx(_wrap(truth)[reference], abs=1e-4)
    k_reference = np.round((truth[reference] - _wrap(truth)[reference]) / (2 * np.pi))
    difference = (truth - result.phase) / (2 * np.pi)
    assert np.mean(np.abs(difference - k_reference) < 1e-3) >= 0.99
    assert set(np.unique(result.connected_components)) == {1}
    shifted = unwrap(np.exp(1j * (truth + 2 * np.pi * 3)), coh, nlooks=10, reference=reference)
    np.testing.assert_allclose(shifted.phase, result.phase, atol=1e-3)


def test_tiled_unwrapping_matches_single_tile():
    rng = np.random.default_rng(1)
    truth = _ramp((240, 300), rng, 0.2)
    coh = np.full(truth.shape, 0.7, dtype=np.float32)
    ifg = np.exp(1j * truth)
    single = unwrap(ifg, coh, nlooks=10, reference=(10, 10))
    tiled = unwrap(ifg, coh, nlooks=10, reference=(10, 10), tile_size=128, tile_overlap=32)
    valid = np.ones(truth.shape, dtype=bool)
    assert _share_within_constant_cycle(tiled.phase, single.phase, valid) >= 0.99


def test_masked_pixels_are_nan_with_component_zero():
    rng = np.random.default_rng(2)
    truth = _ramp((80, 120), rng, 0.1)
    mask = np.ones(truth.shape, dtype=bool)
    mask[:, 50:55] = False  # a decorrelated river splits the scene
    result = unwrap(np.exp(1j * truth), np.full(truth.shape, 0.8), nlooks=10, mask=mask)
    assert np.isnan(result.phase[~mask]).all()
    assert (result.connected_components[~mask] == 0).all()
    assert set(np.unique(result.connected_components[mask])) == {1, 2}


def test_reference_ambiguity_counts_cycles():
    wrapped = np.zeros((5, 5))
    assert reference_ambiguity(wrapped + 4 * np.pi, wrapped, (2, 2), radius=1) == 2


def test_unusable_inputs_raise_unwrap_error():
    coh = np.ones((20, 20), dtype=np.float32)
    with pytest.raises(UnwrapError, match="no valid pixel"):
        unwrap(np.zeros((20, 20), dtype=np.complex64), coh, nlooks=4)
    with pytest.raises(UnwrapError, match="outside"):
        unwrap(np.ones((20, 20), dtype=np.complex64), coh, nlooks=4, reference=(40, 2))
    with pytest.raises(UnwrapError, match="one shape"):
        unwrap(np.ones((20, 20), dtype=np.complex64), coh[:10], nlooks=4)
