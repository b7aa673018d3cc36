import datetime as dt
from pathlib import Path

import dask.array as da
import numpy as np
import pytest
from scipy.ndimage import uniform_filter

from strata.insar.interferogram import (
    coherence,
    correct_coherence_bias,
    goldstein_filter,
    height_to_phase,
    interferogram,
    multilook,
    remove_phase,
)
from strata.insar.io.slc import read_slc_znap
from strata.insar.simulate import AcquisitionConfig, AtmosphereConfig, GridConfig, SimulationConfig
from strata.insar.simulate.slc import simulate_slc_stack


def _numpy_boxcar_coherence(first: np.ndarray, second: np.ndarray, rows: int, cols: int) -> float:
    """Mean coherence over every full rows x cols window, with cumulative sums (independent of scipy)."""

    def window_sums(values: np.ndarray) -> np.ndarray:
        table = np.zeros((values.shape[0] + 1, values.shape[1] + 1), dtype=values.dtype)
        table[1:, 1:] = values.cumsum(0).cumsum(1)
        return table[rows:, cols:] - table[:-rows, cols:] - table[rows:, :-cols] + table[:-rows, :-cols]

    first = first.astype(np.complex128)
    second = second.astype(np.complex128)
    cross = window_sums(first * np.conj(second))
    power = window_sums(np.abs(first) ** 2).real * window_sums(np.abs(second) ** 2).real
    return float(np.mean(np.abs(cross) / np.sqrt(power)))


@pytest.fixture(scope="module")
def amsterdam(shared_data: Path) -> tuple[np.ndarray, np.ndarray]:
    stack = read_slc_znap(shared_data / "sarxarray")
    return stack["slc"].values[0], stack["slc"].values[1]


def test_amsterdam_pair_coherence_matches_independent_numpy_estimate(amsterdam):
    first, second = amsterdam
    expected = _numpy_boxcar_coherence(first, second, 5, 20)
    estimate = float(coherence(first, second, window=(5, 20)).mean())
    assert 0.65 < expected < 0.85
    assert abs(estimate - expected) <= 0.05
    rng = np.random.default_rng(0)
    shuffled = rng.permutation(second.ravel()).reshape(second.shape)
    assert float(coherence(first, shuffled, window=(5, 20)).mean()) <= 0.1


def test_amsterdam_pair_coherence_is_the_same_lazily(amsterdam):
    first, second = amsterdam
    eager = coherence(first, second, (5, 20), (5, 20))
    lazy = coherence(
        da.from_array(first, chunks=(40, 100)), da.from_array(second, chunks=(40, 100)), (5, 20), (5, 20)
    )
    assert isinstance(lazy, da.Array)
    np.testing.assert_allclose(lazy.compute(), eager, atol=1e-6)


@pytest.mark.parametrize(("shape", "window"), [((60, 90), (5, 20)), ((7, 12), (4, 25)), ((33, 40), (1, 1))])
def test_coherence_equals_the_scipy_boxcar_with_mirrored_edges(shape, window):
    rng = np.random.default_rng(5)
    first = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)
    second = (first + rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)
    phase = rng.uniform(-np.pi, np.pi, shape).astype(np.float32)

    def box(values: np.ndarray) -> np.ndarray:
        return uniform_filter(values.astype(np.float64), window, mode="reflect")

    product = second.astype(np.complex128) * np.conj(first) * np.exp(-1j * phase.astype(np.float64))
    power = box(np.abs(first) ** 2) * box(np.abs(second) ** 2)
    expected = np.sqrt((box(product.real) ** 2 + box(product.imag) ** 2) / power)
    np.testing.assert_allclose(coherence(first, second, window, phase=phase), expected, atol=1e-5)


@pytest.mark.parametrize(
    ("shape", "chunks", "window"), [((5, 300), (5, 64), (20, 5)), ((100, 100), (7, 7), (5, 20))]
)
def test_lazy_coherence_equals_eager_for_any_chunking(shape, chunks, window):
    rng = np.random.default_rng(6)
    first = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)
    second = (first + rng.standard_normal(shape)).astype(np.complex64)
    lazy = coherence(da.from_array(first, chunks=chunks), da.from_array(second, chunks=chunks), window)
    np.testing.assert_allclose(lazy.compute(), coherence(first, second, window), atol=1e-6)


def _correlated_pair(rng: np.random.Generator, gamma: float, shape: tuple[int, int]):
    def circular() -> np.ndarray:
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) / np.sqrt(2)

    first = circular()
    return first.astype(np.complex64), (gamma * first + np.sqrt(1 - gamma**2) * circular()).astype(
        np.complex64
    )


def test_interferogram_phase_is_secondary_minus_reference_and_multilooked():
    rng = np.random.default_rng(1)
    reference = np.exp(1j * rng.uniform(-np.pi, np.pi, (12, 40))).astype(np.complex64)
    secondary = reference * np.exp(1j * 0.7)
    ifg = interferogram(reference, secondary, looks=(3, 8))
    assert ifg.shape == (4, 5) and ifg.dtype == np.complex64
    np.testing.assert_allclose(np.angle(ifg), 0.7, atol=1e-5)
    assert multilook(np.ones((13, 41)), (3, 8)).shape == (4, 5)


def test_coherence_recovers_known_coherence_and_bias_correction_removes_the_floor():
    rng = np.random.default_rng(2)
    window = (4, 5)  # 20 looks
    for gamma in (0.0, 0.3, 0.6, 0.9):
        first, second = _correlated_pair(rng, gamma, (300, 300))
        raw = coherence(first, second, window)
        corrected = coherence(first, second, window, bias_correction=True)
        rms_raw, rms_corrected = np.sqrt(np.mean(raw**2)), np.sqrt(np.mean(corrected**2))
        if gamma == 0.0:
            # the noise floor (about 1/sqrt(20)) is mostly removed; clipping at 0 keeps a little
            assert corrected.mean() < 0.1 < 0.18 < raw.mean()
        else:
            # the correction unbiases the second moment: E[corrected^2] = gamma^2
            assert abs(rms_corrected - gamma) < 0.015
            assert rms_raw - gamma > 0.0 and rms_raw - gamma >= rms_corrected - gamma
    assert rms_raw - 0.9 < 0.01  # high coherence is barely biased
    assert float(correct_coherence_bias(np.array([1.0]), 20)[0]) == pytest.approx(1.0)
    assert float(correct_coherence_bias(np.array([0.1]), 20)[0]) == 0.0


def _fringes(shape: tuple[int, int]) -> np.ndarray:
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    return 2e-3 * ((rows - shape[0] / 2) ** 2 + (cols - shape[1] / 3) ** 2)


def test_goldstein_filter_reduces_phase_noise_and_alpha_zero_keeps_phase():
    rng = np.random.default_rng(3)
    truth = _fringes((200, 260))
    noisy = np.exp(1j * (truth + rng.normal(0, 0.8, truth.shape))).astype(np.complex64)
    filtered = goldstein_filter(noisy, alpha=0.8)
    before = np.std(np.angle(noisy * np.exp(-1j * truth)))
    after = np.std(np.angle(filtered * np.exp(-1j * truth)))
    assert after < before / 2.5
    rows, cols = np.mgrid[:64, :128]
    bump = np.exp(-((rows - 32) ** 2 + (cols - 64) ** 2) / (2 * 15**2))  # a 1-rad bowl, no noise
    kept = goldstein_filter(np.exp(1j * bump).astype(np.complex64), alpha=0.5)
    assert np.max(np.abs(np.angle(kept * np.exp(-1j * bump)))) < 0.1
    unchanged = goldstein_filter(noisy, alpha=0.0)
    assert np.max(np.abs(np.angle(unchanged * np.conj(noisy)))) < 1e-4


def test_goldstein_filter_chunked_equals_whole_raster_and_keeps_nan():
    rng = np.random.default_rng(4)
    ifg = np.exp(1j * (_fringes((150, 333)) + rng.normal(0, 1, (150, 333)))).astype(np.complex64)
    ifg[10:14, 20:30] = np.nan
    whole = goldstein_filter(ifg, 0.6, 32)
    chunked = goldstein_filter(da.from_array(ifg, chunks=(50, 70)), 0.6, 32).compute()
    np.testing.assert_allclose(chunked, whole, atol=1e-5)
    assert np.isnan(whole[10:14, 20:30]).all() and np.isfinite(whole[:10]).all()


def test_topographic_phase_removal_with_h2ph_and_height():
    sim = simulate_slc_stack(
        SimulationConfig(
            seed=3,
            grid=GridConfig(rows=64, cols=128, chunk_size=64),
            acquisitions=AcquisitionConfig(start=dt.date(2020, 1, 1), end=dt.date(2020, 1, 25)),
            atmosphere=AtmosphereConfig(turbulent_mm=0, stratified_mm_per_km=0, ramp_mm=0),
        )
    )
    slc = sim.slc
    ref, sec = slc["slc"].values[0], slc["slc"].values[2]
    topo = (slc["h2ph"].values[2] - slc["h2ph"].values[0]) * slc["height"].values
    assert np.ptp(topo) > 2 * np.pi  # the raw interferogram carries topographic fringes
    phase_per_mm = -4 * np.pi / (slc.attrs["wavelength"] * 1000)
    deformation = (sim.displacement.values[2] - sim.displacement.values[0]) * phase_per_mm
    looks = (4, 4)
    truth = np.exp(1j * multilook(deformation, looks))
    corrected = interferogram(ref, sec, looks, phase=topo)
    raw = interferogram(ref, sec, looks)
    error_corrected = np.abs(np.angle(corrected * np.conj(truth))).mean()
    error_raw = np.abs(np.angle(raw * np.conj(truth))).mean()
    assert error_corrected < 0.5 < error_raw
    assert coherence(ref, sec, (4, 4), looks, phase=topo).mean() > coherence(ref, sec, (4, 4), looks).mean()
    # remove_phase after multilooking agrees with removal before it where the topography is smooth
    late = remove_phase(raw, multilook(topo, looks))
    assert np.median(np.abs(np.angle(late * np.conj(corrected)))) < 0.2


def test_height_to_phase_is_the_textbook_factor():
    factor = height_to_phase(100.0, 850_000.0, 39.0, 0.05546576)
    assert factor == pytest.approx(4 * np.pi * 100 / (0.05546576 * 850_000 * np.sin(np.radians(39))))


def test_kernels_reject_mismatched_inputs():
    with pytest.raises(ValueError, match="one shape"):
        interferogram(np.ones((4, 4), np.complex64), np.ones((4, 5), np.complex64))
    with pytest.raises(ValueError, match="looks"):
        multilook(np.ones((4, 4)), (0, 2))
    with pytest.raises(ValueError, match="alpha"):
        goldstein_filter(np.ones((8, 8), np.complex64), alpha=2.0)
