"""Random fields and distributions of the simulator: power-law surfaces and the multilook phase PDF."""

from __future__ import annotations

import functools

import numba
import numpy as np
import numpy.typing as npt
from scipy import fft, special

__all__ = [
    "noisy_interferograms",
    "phase_noise_table",
    "power_law_fields",
    "upsample_bilinear",
]

F32 = npt.NDArray[np.float32]

N_COHERENCE_BINS = 200
N_QUANTILES = 2048
MAX_EXACT_LOOKS = 200


def power_law_fields(rng: np.random.Generator, count: int, shape: tuple[int, int], exponent: float) -> F32:
    """``count`` zero-mean, unit-std 2-D fields whose power spectrum falls as ``k**-exponent``.

    Fractal surfaces of this kind model turbulent tropospheric delay (exponent 8/3, Hanssen 2001)
    and terrain (exponent ~3.5-4).
    """
    rows, cols = shape
    ky = fft.fftfreq(rows)[:, None]
    kx = fft.rfftfreq(cols)[None, :]
    k = np.hypot(ky, kx)
    k[0, 0] = np.inf
    amplitude = (k ** (-exponent / 2.0)).astype(np.float32)
    out = np.empty((count, rows, cols), dtype=np.float32)
    for i in range(count):
        white = rng.standard_normal(shape, dtype=np.float32)
        field = fft.irfft2(fft.rfft2(white, workers=-1) * amplitude, s=shape, workers=-1)
        field -= field.mean()
        std = field.std()
        out[i] = field / (std if std > 0 else 1.0)
    return out


def _multilook_phase_pdf(
    phase: npt.NDArray[np.float64], coherence: float, looks: int
) -> npt.NDArray[np.float64]:
    """PDF of multilook interferometric phase (Lee et al. 1994; Tough et al. 1995).

    Beyond ``MAX_EXACT_LOOKS`` looks, or where the closed form overflows, the Gaussian of the
    Cramer-Rao standard deviation ``sqrt(1 - g^2) / (g sqrt(2 L))`` is used: the PDF tends to it.
    """
    one_minus = 1.0 - coherence**2
    if looks <= MAX_EXACT_LOOKS:
        pdf = _lee_pdf(phase, coherence, looks)
        if np.all(np.isfinite(pdf)):
            return pdf
    sigma = np.sqrt(one_minus) / (max(coherence, 1e-6) * np.sqrt(2.0 * looks))
    gaussian: npt.NDArray[np.float64] = np.exp(-0.5 * (phase / sigma) ** 2)
    return gaussian


def _lee_pdf(phase: npt.NDArray[np.float64], coherence: float, looks: int) -> npt.NDArray[np.float64]:
    beta = coherence * np.cos(phase)
    one_minus = 1.0 - coherence**2
    log_first = (
        special.gammaln(looks + 0.5)
        - special.gammaln(looks)
        + looks * np.log(one_minus)
        - (looks + 0.5) * np.log1p(-(beta**2))
    )
    with np.errstate(over="ignore", invalid="ignore"):
        first = np.exp(log_first) * beta / (2.0 * np.sqrt(np.pi))
        second = one_minus**looks / (2.0 * np.pi) * special.hyp2f1(looks, 1.0, 0.5, beta**2)
        pdf: npt.NDArray[np.float64] = first + second
    return pdf


@functools.lru_cache(maxsize=8)
def phase_noise_table(looks: int) -> F32:
    """Inverse CDF of the phase noise: ``table[coherence_bin, quantile_bin]`` in radians.

    Coherence bins are ``linspace(0, 0.995, N_COHERENCE_BINS)``; quantiles ``(i + 0.5) / N_QUANTILES``.
    """
    phase = np.linspace(-np.pi, np.pi, 4097)
    quantiles = (np.arange(N_QUANTILES) + 0.5) / N_QUANTILES
    table = np.empty((N_COHERENCE_BINS, N_QUANTILES), dtype=np.float32)
    for i, gamma in enumerate(np.linspace(0.0, 0.995, N_COHERENCE_BINS)):
        pdf = _multilook_phase_pdf(phase, float(gamma), looks)
        cdf = np.concatenate([[0.0], np.cumsum((pdf[1:] + pdf[:-1]) * 0.5 * np.diff(phase))])
        cdf /= cdf[-1]
        table[i] = np.interp(quantiles, cdf, phase)
    return table


@numba.njit(cache=True, nogil=True)
def noisy_interferograms(
    date_phase: F32,
    reference: npt.NDArray[np.intp],
    secondary: npt.NDArray[np.intp],
    base_coherence: F32,
    temporal_coherence: F32,
    table: F32,
    uniform: F32,
    phase_out: F32,
    coherence_out: F32,
) -> None:  # pragma: no cover - compiled
    """Fill ``phase_out``/``coherence_out`` (pair, y, x): phase differences of the dates plus noise.

    Coherence is ``base * temporal[pair]``; the noise is drawn by inverse CDF from
    :func:`phase_noise_table`: ``table[coherence bin, quantile bin of uniform]``.
    """
    n_coh, n_q = table.shape
    scale = (n_coh - 1) / 0.995
    rows, cols = base_coherence.shape
    for k in range(reference.size):
        i = reference[k]
        j = secondary[k]
        factor = temporal_coherence[k]
        for y in range(rows):
            for x in range(cols):
                gamma = base_coherence[y, x] * factor
                ci = min(max(int(gamma * scale + 0.5), 0), n_coh - 1)
                qi = min(int(uniform[k, y, x] * n_q), n_q - 1)
                phase_out[k, y, x] = date_phase[j, y, x] - date_phase[i, y, x] + table[ci, qi]
                coherence_out[k, y, x] = gamma


def upsample_bilinear(coarse: F32, factor: int, rows: slice, cols: slice) -> F32:
    """Bilinear upsampling by ``factor`` of ``coarse`` (..., cy, cx) on a block of the fine grid."""
    cy, cx = coarse.shape[-2:]
    r = (np.arange(rows.start, rows.stop) + 0.5) / factor - 0.5
    c = (np.arange(cols.start, cols.stop) + 0.5) / factor - 0.5
    r = np.clip(r, 0, cy - 1)
    c = np.clip(c, 0, cx - 1)
    r0 = np.minimum(np.floor(r).astype(np.intp), cy - 2 if cy > 1 else 0)
    c0 = np.minimum(np.floor(c).astype(np.intp), cx - 2 if cx > 1 else 0)
    r1 = np.minimum(r0 + 1, cy - 1)
    c1 = np.minimum(c0 + 1, cx - 1)
    wr = (r - r0).astype(np.float32)[:, None]
    wc = (c - c0).astype(np.float32)[None, :]
    # separable: interpolate along rows on the few coarse rows/columns the block needs, then columns
    r_lo, c_lo = int(r0.min()), int(c0.min())
    part = coarse[..., r_lo : int(r1.max()) + 1, c_lo : int(c1.max()) + 1]
    along = np.take(part, r0 - r_lo, axis=-2) * (1 - wr) + np.take(part, r1 - r_lo, axis=-2) * wr
    out: F32 = (
        np.take(along, c0 - c_lo, axis=-1) * (1 - wc) + np.take(along, c1 - c_lo, axis=-1) * wc
    ).astype(np.float32)
    return out
