"""Interferogram kernels: formation with multilooking, coherence, Goldstein filtering, phase removal.

Every function takes numpy or dask arrays and returns the same kind. On dask arrays the
neighbourhood operations run block by block with :func:`dask.array.map_overlap`, with overlaps
large enough that the chunked result equals the one computed on the whole raster, so memory stays
bounded by the chunk size whatever the raster size.

Conventions
-----------
- ``looks`` and ``window`` are ``(azimuth, range)``, i.e. ``(rows, columns)`` of the SLC raster.
- The interferogram of ``reference`` and ``secondary`` is ``secondary * conj(reference)``: its phase
  is ``phase(secondary) - phase(reference)``, as the stack contract of :mod:`strata.insar.stack`
  expects.
- Multilooking averages non-overlapping ``looks`` blocks; trailing rows/columns that do not fill a
  block are dropped, so output pixel ``(i, j)`` covers input rows ``i*la:(i+1)*la`` and columns
  ``j*lr:(j+1)*lr``.
"""

from __future__ import annotations

from typing import Any

import dask.array as da
import numba
import numpy as np
import numpy.typing as npt
from scipy.ndimage import uniform_filter

__all__ = [
    "coherence",
    "correct_coherence_bias",
    "goldstein_filter",
    "height_to_phase",
    "interferogram",
    "multilook",
    "remove_phase",
]

Array = Any
"""A numpy or dask array."""


def _is_dask(*arrays: Any) -> bool:
    return any(isinstance(a, da.Array) for a in arrays)


def _check_pair(reference: Array, secondary: Array) -> None:
    if reference.shape != secondary.shape or reference.ndim != 2:
        raise ValueError(
            f"reference {reference.shape} and secondary {secondary.shape} must be 2-D rasters of one shape"
        )


def _check_window(window: tuple[int, int], name: str) -> tuple[int, int]:
    rows, cols = (int(window[0]), int(window[1]))
    if rows < 1 or cols < 1:
        raise ValueError(f"{name} must be positive, got {window}")
    return rows, cols


def _aligned_chunks(length: int, size: int, minimum: int) -> tuple[int, ...]:
    """Chunks of ``size`` along an axis of ``length``, the last one at least ``minimum`` (a depth)."""
    chunks = [size] * (length // size)
    remainder = length - size * len(chunks)
    if remainder:
        if chunks and remainder < minimum:
            chunks[-1] += remainder
        else:
            chunks.append(remainder)
    return tuple(chunks)


def multilook(data: Array, looks: tuple[int, int]) -> Array:
    """Average non-overlapping ``looks`` blocks of a 2-D raster (complex or real).

    Parameters
    ----------
    data
        2-D numpy or dask array.
    looks
        ``(azimuth, range)`` block size in pixels.

    Returns
    -------
    Array
        Shape ``(rows // looks[0], cols // looks[1])``, same dtype kind as ``data``.
    """
    la, lr = _check_window(looks, "looks")
    rows, cols = data.shape[0] // la, data.shape[1] // lr
    if rows == 0 or cols == 0:
        raise ValueError(f"raster {data.shape} is smaller than the looks {looks}")
    if (la, lr) == (1, 1):
        return data
    trimmed = data[: rows * la, : cols * lr]
    if _is_dask(trimmed):
        chunks = tuple(
            max(look, (c // look) * look) for c, look in zip(trimmed.chunksize, (la, lr), strict=True)
        )
        return da.coarsen(np.mean, trimmed.rechunk(chunks), {0: la, 1: lr}).astype(data.dtype)
    return trimmed.reshape(rows, la, cols, lr).mean(axis=(1, 3)).astype(data.dtype)


def interferogram(
    reference: Array, secondary: Array, looks: tuple[int, int] = (1, 1), *, phase: Array | None = None
) -> Array:
    """Form the multilooked complex interferogram ``secondary * conj(reference)``.

    Parameters
    ----------
    reference, secondary
        Coregistered complex SLC rasters of one shape.
    looks
        ``(azimuth, range)`` multilook factors.
    phase
        Optional modelled phase (radians, SLC grid: flat earth, topography ``h2ph * height``)
        removed at full resolution, before multilooking, as :func:`remove_phase` does.

    Returns
    -------
    Array
        complex64 interferogram on the multilooked grid.
    """
    _check_pair(reference, secondary)
    product = (secondary * np.conj(reference)).astype(np.complex64)
    if phase is not None:
        product = remove_phase(product, phase)
    return multilook(product, looks)


@numba.njit(cache=True, nogil=True)
def _reflect(index: int, size: int) -> int:
    """Index into ``size`` samples mirrored at the edges (``d c b a | a b c d``, scipy's 'reflect')."""
    while index < 0 or index >= size:
        index = -index - 1 if index < 0 else 2 * size - index - 1
    return index


@numba.njit(cache=True, nogil=True)
def _coherence_kernel(
    reference: npt.NDArray[np.complex64],
    secondary: npt.NDArray[np.complex64],
    phase: npt.NDArray[np.float32],
    window_rows: int,
    window_cols: int,
) -> npt.NDArray[np.float32]:
    """Boxcar coherence in two running-sum passes (rows, then columns), O(1) per pixel and window.

    ``phase`` is a (rows, cols) modelled phase to compensate, or a (0, 0) array for none.
    """
    rows, cols = reference.shape
    with_phase = phase.shape[0] > 0
    # pass 1: along each row, running sums of Re/Im(s r* e^-j phase), |r|^2, |s|^2 over window_cols
    sums = np.empty((4, rows, cols), dtype=np.float32)
    left = window_cols // 2
    right = window_cols - 1 - left
    terms = np.empty((4, cols), dtype=np.float64)
    for i in range(rows):
        for j in range(cols):
            r = reference[i, j]
            c = secondary[i, j] * np.conj(r)
            if with_phase:
                c *= np.exp(-1j * np.float64(phase[i, j]))
            terms[0, j] = c.real
            terms[1, j] = c.imag
            terms[2, j] = r.real * r.real + r.imag * r.imag
            t = secondary[i, j]
            terms[3, j] = t.real * t.real + t.imag * t.imag
        for k in range(4):
            total = 0.0
            for j in range(-left, right + 1):
                total += terms[k, _reflect(j, cols)]
            sums[k, i, 0] = total
            for j in range(1, cols):
                total += terms[k, _reflect(j + right, cols)] - terms[k, _reflect(j - left - 1, cols)]
                sums[k, i, j] = total
    # pass 2: down the columns, a running sum of rows over window_rows, then the coherence
    top = window_rows // 2
    bottom = window_rows - 1 - top
    running = np.zeros((4, cols), dtype=np.float64)
    for i in range(-top, bottom + 1):
        running += sums[:, _reflect(i, rows), :]
    out = np.empty((rows, cols), dtype=np.float32)
    for i in range(rows):
        if i > 0:
            running += sums[:, _reflect(i + bottom, rows), :]
            running -= sums[:, _reflect(i - top - 1, rows), :]
        for j in range(cols):
            power = running[2, j] * running[3, j]
            coh = 0.0
            if power > 0.0:
                coh = min(1.0, np.sqrt((running[0, j] ** 2 + running[1, j] ** 2) / power))
            out[i, j] = coh
    return out


def _coherence_block(
    reference: npt.NDArray[np.complexfloating[Any, Any]],
    secondary: npt.NDArray[np.complexfloating[Any, Any]],
    phase: npt.NDArray[np.floating[Any]] | None,
    window: tuple[int, int],
) -> npt.NDArray[np.float32]:
    compensate = (
        np.zeros((0, 0), dtype=np.float32) if phase is None else np.ascontiguousarray(phase, np.float32)
    )
    result: npt.NDArray[np.float32] = _coherence_kernel(
        np.ascontiguousarray(reference, np.complex64),
        np.ascontiguousarray(secondary, np.complex64),
        compensate,
        window[0],
        window[1],
    )
    return result


def coherence(
    reference: Array,
    secondary: Array,
    window: tuple[int, int] = (5, 20),
    looks: tuple[int, int] = (1, 1),
    *,
    phase: Array | None = None,
    bias_correction: bool = False,
) -> Array:
    """Estimate interferometric coherence with a sliding boxcar, then multilook it.

    ``|<s r* exp(-1j phase)>| / sqrt(<|r|^2> <|s|^2>)`` with ``<.>`` the mean over a ``window``
    centred on each SLC pixel (edges mirrored); the coherence map is then averaged over ``looks``
    blocks.

    Parameters
    ----------
    reference, secondary
        Coregistered complex SLC rasters of one shape.
    window
        ``(azimuth, range)`` boxcar size in SLC pixels.
    looks
        ``(azimuth, range)`` multilook factors of the output grid.
    phase
        Optional modelled phase (radians, SLC grid) compensated before averaging, so that
        topographic fringes do not lower the estimate.
    bias_correction
        Remove the positive bias of the sample coherence with
        :func:`correct_coherence_bias`, taking ``window[0] * window[1]`` as the number of looks.

    Returns
    -------
    Array
        float32 coherence in [0, 1] on the multilooked grid (0 where both SLCs are zero).
    """
    _check_pair(reference, secondary)
    window = _check_window(window, "window")
    if _is_dask(reference, secondary, phase):
        half = (window[0] // 2 + 1, window[1] // 2 + 1)
        ref = da.asarray(reference)
        chunks = tuple(
            _aligned_chunks(n, max(c, 2 * h), h)
            for n, c, h in zip(ref.shape, ref.chunksize, half, strict=True)
        )
        arrays = [ref.rechunk(chunks), da.asarray(secondary).rechunk(chunks)]
        if phase is not None:
            arrays.append(da.asarray(phase).rechunk(chunks))

        def block(*blocks: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
            return _coherence_block(blocks[0], blocks[1], blocks[2] if len(blocks) > 2 else None, window)

        # the kernel mirrors the raster edges itself: blocks overlap only where they meet
        coh = da.map_overlap(
            block,
            *arrays,
            depth={
                axis: h if len(c) > 1 else 0 for axis, (c, h) in enumerate(zip(chunks, half, strict=True))
            },
            boundary="none",
            dtype=np.float32,
            meta=np.array((), dtype=np.float32),
        )
    else:
        coh = _coherence_block(
            np.asarray(reference), np.asarray(secondary), None if phase is None else np.asarray(phase), window
        )
    if bias_correction:
        coh = correct_coherence_bias(coh, window[0] * window[1])
    return multilook(coh, looks)


def correct_coherence_bias(coherence: Array, nlooks: float) -> Array:
    """Remove the positive bias of the sample coherence magnitude.

    The sample coherence ``d`` of ``N`` independent looks over circular Gaussian scatterers has
    ``E[d^2] ~= g^2 + (1 - g^2)^2 / N`` with ``g`` the true coherence (the large-N expansion of the
    moments in Touzi et al. 1999, IEEE TGRS 37(1); Hanssen 2001, section 4.5); solving that
    quadratic for ``g^2`` unbiases ``d``: ``d = 1/sqrt(N)`` (the expected value of noise) maps to 0,
    ``d = 1`` to 1, and values below the noise floor to 0.

    Parameters
    ----------
    coherence
        Sample coherence in [0, 1] (numpy or dask).
    nlooks
        Number of independent samples in the estimation window (> 1).

    Returns
    -------
    Array
        float32 bias-corrected coherence in [0, 1].
    """
    if nlooks <= 1:
        raise ValueError(f"nlooks must be > 1, got {nlooks}")
    inv_n = 1.0 / float(nlooks)
    d2 = coherence.astype(np.float64) ** 2
    b = 1.0 - 2.0 * inv_n
    root = (b**2 - 4.0 * inv_n * (inv_n - d2)) ** 0.5
    g2 = (root - b) / (2.0 * inv_n)
    lib: Any = da if _is_dask(coherence) else np
    return lib.sqrt(lib.clip(g2, 0.0, 1.0)).astype(np.float32)


def _goldstein_block(ifg: npt.NDArray[np.complex64], alpha: float, patch: int) -> npt.NDArray[np.complex64]:
    """Goldstein & Werner (1998) filter of one block: overlapping patches, |S|^alpha weighting.

    Patches of ``patch`` pixels start every ``patch // 2`` pixels from the block origin (shifted by
    half a patch of mirrored padding); each filtered patch is tapered by ``sin^2`` windows whose
    half-overlapping sum is exactly one, so every pixel is the weighted sum of the four patches
    covering it.
    """
    step = patch // 2
    rows, cols = ifg.shape
    padded_rows = -(-(rows + 2 * step) // step) * step
    padded_cols = -(-(cols + 2 * step) // step) * step
    valid = np.isfinite(ifg)
    # mirrored padding: no artificial edge in the spectra of the patches that straddle the border
    data = np.pad(
        np.where(valid, ifg, 0).astype(np.complex64),
        ((step, padded_rows - rows - step), (step, padded_cols - cols - step)),
        mode="symmetric",
    )
    patches = np.lib.stride_tricks.sliding_window_view(data, (patch, patch))[::step, ::step]
    spectrum = np.fft.fft2(patches)
    weight = uniform_filter(np.abs(spectrum), size=(1, 1, 3, 3), mode="wrap") ** alpha
    peak = weight.max(axis=(2, 3), keepdims=True)
    weight = np.divide(weight, peak, out=np.zeros_like(weight), where=peak > 0)
    taper_1d = np.sin(np.pi * (np.arange(patch) + 0.5) / patch) ** 2
    filtered = np.fft.ifft2(spectrum * weight) * np.outer(taper_1d, taper_1d)
    out = np.zeros((padded_rows + step, padded_cols + step), dtype=np.complex128)
    for parity_row in (0, 1):
        for parity_col in (0, 1):
            group = filtered[parity_row::2, parity_col::2]
            g_rows, g_cols = group.shape[:2]
            if g_rows == 0 or g_cols == 0:
                continue
            tiles = group.transpose(0, 2, 1, 3).reshape(g_rows * patch, g_cols * patch)
            r0, c0 = parity_row * step, parity_col * step
            out[r0 : r0 + g_rows * patch, c0 : c0 + g_cols * patch] += tiles
    result = out[step : step + rows, step : step + cols].astype(np.complex64)
    result[~valid] = np.nan
    return result


def goldstein_filter(ifg: Array, alpha: float = 0.5, patch: int = 32) -> Array:
    """Goldstein & Werner (1998) adaptive filter of a complex interferogram.

    The spectrum of each ``patch`` x ``patch`` window (half-overlapping) is weighted by its own
    3x3-smoothed magnitude to the power ``alpha``: strong fringes are kept, noise is damped, more so
    where coherence is low. NaN pixels are treated as zero and stay NaN in the output.

    Parameters
    ----------
    ifg
        Complex interferogram (numpy or dask), usually multilooked.
    alpha
        Filter strength in [0, 1]; 0 leaves the phase unchanged.
    patch
        Patch size in pixels, even, >= 4.

    Returns
    -------
    Array
        complex64 filtered interferogram (use its phase; the amplitude is rescaled).
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    if patch < 4 or patch % 2:
        raise ValueError(f"patch must be even and >= 4, got {patch}")
    if not _is_dask(ifg):
        return _goldstein_block(np.asarray(ifg, dtype=np.complex64), alpha, patch)
    step = patch // 2
    chunks = tuple(
        _aligned_chunks(n, max(2 * patch, -(-c // step) * step), patch)
        for n, c in zip(ifg.shape, ifg.chunksize, strict=True)
    )
    depth = {axis: patch if len(c) > 1 else 0 for axis, c in enumerate(chunks)}
    return da.map_overlap(
        _goldstein_block,
        ifg.astype(np.complex64).rechunk(chunks),
        alpha=alpha,
        patch=patch,
        depth=depth,
        boundary="none",
        dtype=np.complex64,
        meta=np.array((), dtype=np.complex64),
    )


def height_to_phase(
    perpendicular_baseline: Array,
    slant_range: Array,
    incidence_angle: Array,
    wavelength: float,
) -> Array:
    """Height-to-phase factor (rad/m) of a pair: ``4 pi B_perp / (lambda R sin(theta))``.

    Parameters
    ----------
    perpendicular_baseline
        Perpendicular baseline of the secondary relative to the reference, metres.
    slant_range
        Slant range, metres.
    incidence_angle
        Incidence angle, degrees.
    wavelength
        Radar wavelength, metres.

    Returns
    -------
    Array
        Topographic phase per metre of height, to multiply by a height to get the phase of
        :func:`remove_phase`.
    """
    return (
        4.0
        * np.pi
        * perpendicular_baseline
        / (wavelength * slant_range * np.sin(np.deg2rad(incidence_angle)))
    )


def remove_phase(ifg: Array, phase: Array) -> Array:
    """Remove a modelled phase (flat earth, topography ``h2ph * height``, ...) from an interferogram.

    Parameters
    ----------
    ifg
        Complex interferogram.
    phase
        Phase to remove, radians, broadcastable to ``ifg`` (on the same grid).

    Returns
    -------
    Array
        complex64 ``ifg * exp(-1j * phase)``.
    """
    lib: Any = da if _is_dask(ifg, phase) else np
    return (ifg * lib.exp(-1j * phase)).astype(np.complex64)
