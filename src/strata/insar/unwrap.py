"""Phase unwrapping with SNAPHU (the ``snaphu`` package), connected components and reference handling.

SNAPHU returns an unwrapped phase congruent with the wrapped input (``unwrapped - wrapped`` is a
multiple of 2 pi on every pixel) and known up to one constant 2 pi k per connected component.
:func:`unwrap` fixes that constant the same way for every interferogram of a stack: the integer
ambiguity at a reference region (pixel + radius) is removed, so the unwrapped phase there equals
the wrapped phase. Closure of the unwrapped phase at the reference then equals the closure of the
wrapped phase, never a spurious 2 pi k.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import threading
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import snaphu

from strata.insar.errors import InsarError

__all__ = ["Unwrapped", "UnwrapError", "reference_ambiguity", "unwrap"]


_STDOUT_LOCK = threading.Lock()


@contextlib.contextmanager
def _silenced_stdout() -> Iterator[None]:
    """Send file descriptor 1 to /dev/null: the SNAPHU executable logs there, not through Python."""
    with _STDOUT_LOCK:
        sys.stdout.flush()
        saved = os.dup(1)
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 1)
            yield
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            os.close(devnull)


class UnwrapError(InsarError, ValueError):
    """An interferogram cannot be unwrapped (no valid pixel, bad reference, SNAPHU failure)."""


class Unwrapped(NamedTuple):
    """Result of :func:`unwrap`."""

    phase: npt.NDArray[np.float32]
    """Unwrapped phase, radians, NaN where masked."""
    connected_components: npt.NDArray[np.uint32]
    """SNAPHU connected-component labels, 0 = unreliable or masked."""


def reference_ambiguity(
    unwrapped_phase: npt.NDArray[np.floating],
    wrapped_phase: npt.NDArray[np.floating],
    reference: tuple[int, int],
    radius: int = 2,
) -> int:
    """Integer number of cycles ``k`` of the unwrapped phase at a reference region.

    ``k = round(median(unwrapped - wrapped) / 2 pi)`` over the valid pixels of the square of half-size
    ``radius`` around ``reference``; subtracting ``2 pi k`` makes the unwrapped phase equal the
    wrapped phase there.

    Parameters
    ----------
    unwrapped_phase, wrapped_phase
        Rasters of one shape, radians, NaN where invalid.
    reference
        ``(row, column)`` of the reference pixel.
    radius
        Half-size of the reference square, pixels.

    Returns
    -------
    int
        The ambiguity ``k``.

    Raises
    ------
    UnwrapError
        When the reference is outside the raster or has no valid pixel.
    """
    row, col = reference
    rows, cols = unwrapped_phase.shape
    if not (0 <= row < rows and 0 <= col < cols):
        raise UnwrapError(f"reference pixel {reference} is outside the {rows}x{cols} raster")
    window = np.s_[max(0, row - radius) : row + radius + 1, max(0, col - radius) : col + radius + 1]
    cycles = (unwrapped_phase[window] - wrapped_phase[window]) / (2.0 * np.pi)
    cycles = cycles[np.isfinite(cycles)]
    if cycles.size == 0:
        raise UnwrapError(f"reference region around pixel {reference} has no valid pixel")
    return int(np.round(np.median(cycles)))


def unwrap(
    ifg: npt.NDArray[np.complexfloating],
    coherence: npt.NDArray[np.floating],
    nlooks: float,
    *,
    mask: npt.NDArray[np.bool_] | None = None,
    reference: tuple[int, int] | None = None,
    reference_radius: int = 2,
    cost: str = "smooth",
    tile_size: int | None = None,
    tile_overlap: int = 64,
    nproc: int = 1,
    min_conncomp_frac: float = 0.01,
    verbose: bool = False,
) -> Unwrapped:
    """Unwrap a complex interferogram with SNAPHU.

    Parameters
    ----------
    ifg
        Complex (filtered) interferogram; NaN or zero pixels are masked.
    coherence
        Coherence in [0, 1] on the same grid (NaN is read as 0).
    nlooks
        Equivalent number of independent looks of ``coherence`` (SNAPHU's statistical cost uses it).
    mask
        Optional boolean raster, True where the pixel may be used.
    reference
        ``(row, column)`` of the reference pixel whose 2 pi ambiguity is removed
        (:func:`reference_ambiguity`); None leaves SNAPHU's constant.
    reference_radius
        Half-size of the reference square.
    cost
        SNAPHU statistical cost mode, ``"smooth"`` or ``"defo"``.
    tile_size
        Unwrap in tiles of about this many pixels per side (then re-optimised as one tile, as
        SNAPHU does); None unwraps the raster as a single tile.
    tile_overlap
        Overlap between tiles, pixels.
    nproc
        Processes SNAPHU may use for tiles.
    min_conncomp_frac
        Smallest connected component, as a fraction of the pixels of a tile.
    verbose
        Let SNAPHU print its log on standard output (silenced by default).

    Returns
    -------
    Unwrapped
        Unwrapped phase (float32, NaN where masked) and connected components (uint32).

    Raises
    ------
    UnwrapError
        When no pixel is valid, shapes differ, or the reference is unusable.
    """
    if ifg.shape != coherence.shape or ifg.ndim != 2:
        raise UnwrapError(
            f"interferogram {ifg.shape} and coherence {coherence.shape} must be 2-D of one shape"
        )
    valid = np.isfinite(ifg) & (ifg != 0)
    if mask is not None:
        if mask.shape != ifg.shape:
            raise UnwrapError(f"mask {mask.shape} does not match the interferogram {ifg.shape}")
        valid &= mask.astype(bool)
    if not valid.any():
        raise UnwrapError("interferogram has no valid pixel to unwrap")
    igram = np.where(valid, ifg, 0).astype(np.complex64)
    corr = np.clip(np.nan_to_num(coherence.astype(np.float32), nan=0.0), 0.0, 1.0)
    ntiles = (1, 1)
    if tile_size is not None:
        ntiles = (max(1, math.ceil(ifg.shape[0] / tile_size)), max(1, math.ceil(ifg.shape[1] / tile_size)))
    with contextlib.nullcontext() if verbose else _silenced_stdout():
        try:
            phase, components = snaphu.unwrap(
                igram,
                corr,
                nlooks=float(nlooks),
                cost=cost,
                mask=valid.astype(np.uint8) if not valid.all() else None,
                ntiles=ntiles,
                tile_overlap=tile_overlap if ntiles != (1, 1) else 0,
                nproc=nproc,
                min_conncomp_frac=min_conncomp_frac,
            )
        except (RuntimeError, ValueError) as exc:
            raise UnwrapError(f"SNAPHU failed: {exc}") from exc
    phase = np.asarray(phase, dtype=np.float32)
    phase[~valid] = np.nan
    if reference is not None:
        k = reference_ambiguity(phase, np.where(valid, np.angle(igram), np.nan), reference, reference_radius)
        phase -= np.float32(2.0 * np.pi * k)
    return Unwrapped(phase, np.asarray(components, dtype=np.uint32))
