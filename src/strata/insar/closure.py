"""Loop closure: triplet misclosure, bad-interferogram detection, unwrapping-error correction.

Public functions
----------------
``closure_phase(phase, pairs) -> Closure``
    Misclosure ``phase[ij] + phase[jk] - phase[ik]`` of every triplet of the network, per pixel,
    and its integer ambiguity ``round(misclosure / 2 pi)`` (MintPy's ``T_int``).
``detect_bad_interferograms(phase, pairs, *, threshold=0.02) -> BadInterferograms``
    Share of each interferogram's checked pixels where none of its triplets closes (non-zero
    integer misclosure in all of them, as LiCSBAS's bad-loop rule); interferograms above
    ``threshold`` are flagged.
``correct_unwrapping_errors(phase, pairs, *, weight=None, passes=2, threads=None) -> UnwrappingCorrection``
    Integer 2-pi ambiguities per interferogram and pixel, estimated from the closures without
    connected components.
``reference_ambiguity(phase, pairs, *, weight=None) -> array``
    Unwrapping error (2-pi cycles) carried by the reference point of each interferogram, decided
    by the majority of the pixels of a sample spread over the scene.

Correction method
-----------------
The ambiguities ``n`` (one integer per interferogram) should make every closure of ``phase - 2 pi
n`` vanish. The corrections that leave the closures unchanged are exactly the differences of per-date
values (the range of the incidence matrix G), so the sparsest ``n`` consistent with the integer
closures is ``round((phase - G x) / 2 pi)`` where ``x`` minimises ``sum |phase - G x|`` — the L1
(robust) network inversion. It is solved per pixel by IRLS with the envelope solver of
:mod:`strata.insar.inversion`, so an interferogram with an error is outvoted by the loops it is part
of, even when several interferograms are wrong at the same pixel, as long as every date keeps a
majority of correct interferograms. A rounded ambiguity is kept only where the interferogram has
evidence — a non-zero integer misclosure in at least half of its triplets at that pixel — and a
pixel is left unchanged if the correction does not reduce its number of non-zero integer closures.
Interferograms that are in no triplet cannot be checked and are never changed.

Reference point
---------------
Closures are invariant to referencing only if the reference phase itself closes: when the
reference point lies in a region that an interferogram unwrapped with an error of ``k`` cycles,
subtracting its phase moves that error to every other pixel, and the correction then "fixes" the
whole scene except that region — a consistent phase, but ambiguities that name the wrong pixels.
Which side of an unwrapping jump is wrong is decided by the majority of the scene (an unwrapping
error is a patch; the rest of the interferogram is right): :func:`reference_ambiguity` runs the
correction on a sample of pixels spread over the scene and returns, per interferogram, minus the
most common ambiguity — the error of the reference itself, to be removed from the reference phase
before referencing (``reference_phase - 2 pi k``). It depends only on the referenced phase, so
arbitrary integer offsets of the unwrapper cancel.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from scipy import sparse

from strata.insar.errors import NetworkError
from strata.insar.inversion import invert_sbas
from strata.insar.network import triplets

__all__ = [
    "BadInterferograms",
    "Closure",
    "UnwrappingCorrection",
    "closure_phase",
    "correct_unwrapping_errors",
    "detect_bad_interferograms",
    "reference_ambiguity",
]

TWO_PI = 2.0 * np.pi


class Closure(NamedTuple):
    """Triplet misclosures of a stack (spatial arrays keep the input's ``*spatial`` shape)."""

    triplets: npt.NDArray[np.int64]
    """(n_triplet, 3) pair indices (ij, jk, ik) of each loop."""
    misclosure: npt.NDArray[np.float32]
    """(n_triplet, *spatial) closure phase in radians, NaN where a pair is missing."""
    integer_misclosure: npt.NDArray[np.int16]
    """(n_triplet, *spatial) ``round(misclosure / 2 pi)``, 0 where missing."""
    nonzero_count: npt.NDArray[np.int32]
    """(*spatial) number of triplets with a non-zero integer misclosure."""


class BadInterferograms(NamedTuple):
    """Interferograms whose loops do not close."""

    share: npt.NDArray[np.float64]
    """(n_pair,) share of checked pixels where none of the pair's triplets closes."""
    bad: npt.NDArray[np.bool_]
    """(n_pair,) True where ``share`` exceeds the threshold."""
    triplet_count: npt.NDArray[np.int64]
    """(n_pair,) number of triplets the pair belongs to (0: the pair cannot be checked)."""


class UnwrappingCorrection(NamedTuple):
    """Unwrapping-error correction and its statistics."""

    phase: npt.NDArray[np.float32]
    """(n_pair, *spatial) corrected unwrapped phase."""
    ambiguity: npt.NDArray[np.int16]
    """(n_pair, *spatial) number of 2-pi cycles removed (corrected = input - 2 pi ambiguity)."""
    pixels_fixed: npt.NDArray[np.int64]
    """(n_pair,) number of pixels changed in each interferogram."""
    closure_rms_before: float
    """RMS of all valid triplet misclosures before correction (rad)."""
    closure_rms_after: float
    """RMS of all valid triplet misclosures after correction (rad)."""
    nonzero_before: npt.NDArray[np.int32]
    """(*spatial) triplets with a non-zero integer misclosure per pixel before correction."""
    nonzero_after: npt.NDArray[np.int32]
    """(*spatial) the same after correction."""


def _loops(phase: npt.NDArray[np.float32], loops: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
    closure: npt.NDArray[np.float32] = phase[loops[:, 0]] + phase[loops[:, 1]] - phase[loops[:, 2]]
    return closure


def _integer(closure: npt.NDArray[np.float32]) -> npt.NDArray[np.int16]:
    integer: npt.NDArray[np.int16] = np.nan_to_num(np.rint(closure / TWO_PI), nan=0.0).astype(np.int16)
    return integer


def _as_stack(
    phase: npt.ArrayLike, pairs: npt.ArrayLike
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    data = np.asarray(phase, dtype=np.float32)
    index = np.asarray(pairs, dtype=np.int64)
    if index.ndim != 2 or index.shape[1] != 2 or index.shape[0] != data.shape[0]:
        raise NetworkError(f"pairs must be (n_pair, 2) with n_pair = {data.shape[0]}, got {index.shape}")
    return data, index


def closure_phase(phase: npt.ArrayLike, pairs: npt.ArrayLike) -> Closure:
    """Misclosure of every triplet of the network, per pixel.

    Parameters
    ----------
    phase
        (n_pair, *spatial) unwrapped phase in radians, NaN where missing.
    pairs
        (n_pair, 2) date indices (reference, secondary).

    Returns
    -------
    Closure
        Triplets, misclosure, integer misclosure and per-pixel count of non-closing loops.
    """
    data, index = _as_stack(phase, pairs)
    loops = triplets(index)
    closure = _loops(data, loops)
    integer = _integer(closure)
    return Closure(
        triplets=loops,
        misclosure=closure,
        integer_misclosure=integer,
        nonzero_count=np.count_nonzero(integer, axis=0).astype(np.int32),
    )


def _per_pair_counts(
    values: npt.NDArray[np.int32], loops: npt.NDArray[np.int64], n_pair: int
) -> npt.NDArray[np.int32]:
    """Sum over the triplets containing each pair of ``values`` (n_triplet, n_pixel)."""
    membership = sparse.csr_matrix(
        (np.ones(loops.size, dtype=np.int32), (np.repeat(np.arange(loops.shape[0]), 3), loops.ravel())),
        shape=(loops.shape[0], n_pair),
    )
    counts: npt.NDArray[np.int32] = np.asarray(membership.T @ values, dtype=np.int32)
    return counts


def _closure_counts(
    data: npt.NDArray[np.float32], loops: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32]]:
    """Per pair and pixel: number of its triplets with a non-zero integer misclosure, and of valid ones."""
    closure = _loops(data, loops)
    valid = np.isfinite(closure).astype(np.int32)
    nonzero = (_integer(closure) != 0).astype(np.int32)
    n_pair = data.shape[0]
    return _per_pair_counts(nonzero, loops, n_pair), _per_pair_counts(valid, loops, n_pair)


def detect_bad_interferograms(
    phase: npt.ArrayLike,
    pairs: npt.ArrayLike,
    *,
    threshold: float = 0.02,
) -> BadInterferograms:
    """Flag interferograms whose loops do not close on a large share of their pixels.

    Parameters
    ----------
    phase
        (n_pair, *spatial) unwrapped phase in radians, NaN where missing.
    pairs
        (n_pair, 2) date indices.
    threshold
        Share of pixels above which an interferogram is flagged as bad.

    Returns
    -------
    BadInterferograms
        Share of failing pixels, the flags and the number of triplets of each pair.
    """
    data, index = _as_stack(phase, pairs)
    n_pair = data.shape[0]
    flat = data.reshape(n_pair, -1)
    loops = triplets(index)
    nonzero, total = _closure_counts(flat, loops)
    failing = (total > 0) & (nonzero == total)
    checked = np.count_nonzero(total > 0, axis=1)
    share = np.where(checked > 0, np.count_nonzero(failing, axis=1) / np.maximum(checked, 1), 0.0)
    triplet_count = np.bincount(loops.ravel(), minlength=n_pair).astype(np.int64)
    return BadInterferograms(share=share, bad=share > threshold, triplet_count=triplet_count)


def correct_unwrapping_errors(
    phase: npt.ArrayLike,
    pairs: npt.ArrayLike,
    *,
    weight: npt.ArrayLike | None = None,
    passes: int = 2,
    robust_iterations: int = 15,
    threads: int | None = None,
) -> UnwrappingCorrection:
    """Estimate and remove integer 2-pi unwrapping errors from the loop closures.

    Parameters
    ----------
    phase
        (n_pair, *spatial) unwrapped phase in radians, NaN where missing.
    pairs
        (n_pair, 2) date indices.
    weight
        Optional (n_pair, *spatial) or (n_pair,) weights of the L1 fit (inverse phase variance).
    passes
        Number of estimate-and-correct passes.
    robust_iterations
        IRLS iterations of each L1 fit.
    threads
        Threads of the L1 fits (see :func:`strata.insar.inversion.invert_sbas`).

    Returns
    -------
    UnwrappingCorrection
        Corrected phase, ambiguities, pixels fixed per interferogram, closure statistics.
    """
    data, index = _as_stack(phase, pairs)
    n_pair = data.shape[0]
    spatial = data.shape[1:]
    flat = data.reshape(n_pair, -1)
    loops = triplets(index)
    n_date = int(index.max()) + 1 if index.size else 0
    # The L1 fit only needs the network; evenly spaced dates set the (vanishing) SBAS penalty.
    dates = np.datetime64("2000-01-01") + np.arange(n_date)
    flat_weight = None
    if weight is not None:
        w = np.asarray(weight, dtype=np.float32)
        flat_weight = w if w.shape == (n_pair,) else w.reshape(n_pair, -1)
    before = _loops(flat, loops)
    nonzero_before = np.count_nonzero(_integer(before), axis=0)
    ambiguity = np.zeros(flat.shape, dtype=np.int16)
    corrected = flat.copy()
    # Only pixels with a non-closing loop are fitted; each pass revisits those still failing.
    failing = nonzero_before > 0
    for _ in range(max(passes, 1) if loops.size else 0):
        columns = np.flatnonzero(failing)
        if columns.size == 0:
            break
        subset = corrected[:, columns]
        per_pixel = flat_weight is not None and flat_weight.ndim == 2
        fit = invert_sbas(
            subset,
            index,
            dates,
            weight=flat_weight[:, columns] if per_pixel and flat_weight is not None else flat_weight,
            robust=True,
            robust_iterations=robust_iterations,
            return_residual=True,
            threads=threads,
        )
        cycles = np.nan_to_num(np.rint(np.asarray(fit.residual) / TWO_PI), nan=0.0).astype(np.int16)
        nonzero, total = _closure_counts(subset, loops)
        cycles[(total == 0) | (2 * nonzero < total)] = 0
        subset = subset - np.float32(TWO_PI) * cycles
        corrected[:, columns] = subset
        ambiguity[:, columns] += cycles
        failing[columns] = cycles.any(axis=0) & (
            np.count_nonzero(_integer(_loops(subset, loops)), axis=0) > 0
        )
    # Keep a pixel's correction only if it reduces the number of non-closing loops.
    nonzero_after = np.count_nonzero(_integer(_loops(corrected, loops)), axis=0)
    worse = nonzero_after >= nonzero_before
    ambiguity[:, worse] = 0
    corrected[:, worse] = flat[:, worse]
    after = _loops(corrected, loops)
    nonzero_after = np.count_nonzero(_integer(after), axis=0)

    def rms(closure: npt.NDArray[np.float32]) -> float:
        finite = closure[np.isfinite(closure)]
        return float(np.sqrt(np.mean(finite.astype(np.float64) ** 2))) if finite.size else float("nan")

    return UnwrappingCorrection(
        phase=corrected.reshape(data.shape),
        ambiguity=ambiguity.reshape(data.shape),
        pixels_fixed=np.count_nonzero(ambiguity, axis=1).astype(np.int64),
        closure_rms_before=rms(before),
        closure_rms_after=rms(after),
        nonzero_before=nonzero_before.reshape(spatial).astype(np.int32),
        nonzero_after=nonzero_after.reshape(spatial).astype(np.int32),
    )


def reference_ambiguity(
    phase: npt.ArrayLike,
    pairs: npt.ArrayLike,
    *,
    weight: npt.ArrayLike | None = None,
) -> npt.NDArray[np.int16]:
    """Unwrapping error of the reference point in each interferogram, by majority over the scene.

    Parameters
    ----------
    phase
        (n_pair, n_sample) unwrapped phase (rad) of pixels spread over the scene, referenced to the
        reference point; NaN where missing.
    pairs
        (n_pair, 2) date indices.
    weight
        Optional weights of the L1 fits, as in :func:`correct_unwrapping_errors`.

    Returns
    -------
    numpy.ndarray
        (n_pair,) int16 cycles ``k`` carried by the reference: ``phase + 2 pi k`` (equivalently a
        reference phase corrected by ``- 2 pi k``) leaves most pixels of each interferogram without
        correction. 0 for interferograms without valid sample pixels.
    """
    data, index = _as_stack(phase, pairs)
    flat = data.reshape(data.shape[0], -1)
    ambiguity = correct_unwrapping_errors(flat, index, weight=weight).ambiguity
    cycles = np.zeros(flat.shape[0], dtype=np.int16)
    for k in range(flat.shape[0]):
        values, counts = np.unique(ambiguity[k][np.isfinite(flat[k])], return_counts=True)
        if values.size:
            cycles[k] = -values[np.argmax(counts)]
    return cycles
