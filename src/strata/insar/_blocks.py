"""Block machinery of the InSAR workflow: Dask execution over spatial windows and the per-block steps.

Every per-block function is pure — it reads its window, computes, and returns its results (maps,
statistics) rather than writing shared state — so the blocks can run on threads of this process or
on the workers of a ``distributed`` cluster.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import dask.base
import numpy as np
import numpy.typing as npt
import xarray as xr
from dask.callbacks import Callback
from dask.delayed import delayed
from scipy import ndimage

from strata.insar.closure import closure_phase, correct_unwrapping_errors
from strata.insar.inversion import coherence_to_weight

__all__ = [
    "F32",
    "BlockInversion",
    "BlockStatistics",
    "BlockVelocity",
    "ClosureFigures",
    "CountTasks",
    "Window",
    "block_statistics",
    "correct_closures",
    "grid_windows",
    "in_window",
    "interferogram_weights",
    "local_std",
    "map_blocks",
    "ramp_surface",
    "read_window",
]

T = TypeVar("T")
Window = tuple[slice, slice]
F32 = npt.NDArray[np.float32]

LOOKS = 20.0
"""Looks assumed to turn coherence into phase variance (MintPy's default for Sentinel-1)."""


# ------------------------------------------------------------------------------------------------
# Block execution on Dask
# ------------------------------------------------------------------------------------------------
def grid_windows(shape: tuple[int, int], size: int) -> list[Window]:
    """Square windows of ``size`` pixels (smaller along the last row and column) tiling the grid."""
    rows, cols = shape
    return [
        (slice(r, min(r + size, rows)), slice(c, min(c + size, cols)))
        for r in range(0, rows, size)
        for c in range(0, cols, size)
    ]


class CountTasks(Callback):
    """Dask callback counting the finished tasks of a local scheduler."""

    def __init__(self, total: int, report: Callable[[float], None]) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.total = max(total, 1)
        self.done = 0
        self.report = report

    def _posttask(self, key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
        self.done += 1
        self.report(self.done / self.total)


def map_blocks(
    function: Callable[[Window], T],
    windows: Sequence[Window],
    *,
    workers: int,
    scheduler: Any,
    report: Callable[[float], None],
) -> list[T]:
    """Run ``function`` on every window as Dask tasks; results in window order."""
    tasks = [delayed(function, pure=False)(window) for window in windows]
    if hasattr(scheduler, "compute") and hasattr(scheduler, "gather"):  # a distributed.Client
        from distributed import as_completed

        futures = scheduler.compute(tasks)
        for done, _ in enumerate(as_completed(futures), start=1):
            report(done / len(futures))
        results: list[T] = scheduler.gather(futures)
        return results
    with CountTasks(len(tasks), report):
        computed = dask.base.compute(*tasks, scheduler=scheduler or "threads", num_workers=workers)
    return list(computed)


def read_window(stack: xr.Dataset, names: Sequence[str], window: Window) -> dict[str, npt.NDArray[Any]]:
    """Arrays of ``names`` over a window, read within the calling task (no nested scheduling)."""
    part = stack[list(names)].isel(y=window[0], x=window[1])
    # The scheduler is an argument, not ``dask.config.set``: the global config is not thread-safe,
    # and concurrent set/restore from block threads left it at "synchronous" or at a distributed
    # client by chance (the driver's later computes then went to the client, or not).
    loaded = part.compute(scheduler="synchronous")
    return {name: np.asarray(loaded[name].values) for name in names}


# ------------------------------------------------------------------------------------------------
# Per-block computations (pure: arrays in, results out)
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BlockStatistics:
    """Statistics pass of one block: per-pixel maps, per-interferogram sums, a phase sample."""

    window: Window
    maps: dict[str, F32]
    coherence_sum: npt.NDArray[np.float64]
    valid_count: npt.NDArray[np.float64]
    sample: F32


def block_statistics(
    stack: xr.Dataset, spans: npt.NDArray[np.float64], window: Window, step: int
) -> BlockStatistics:
    """Mean coherence, coverage, stacked phase velocity and a phase sample (every ``step`` pixels)."""
    arrays = read_window(stack, ("unwrapped_phase", "coherence"), window)
    phase, coherence = arrays["unwrapped_phase"], arrays["coherence"]
    n_pair = phase.shape[0]
    valid = np.isfinite(phase)
    count = valid.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        coherence_valid = np.where(valid, np.nan_to_num(coherence), 0.0)
        maps = {
            "coherence": (coherence_valid.sum(axis=0) / count).astype(np.float32),
            "coverage": (count / n_pair).astype(np.float32),
            "stacked_velocity": (
                np.where(valid, phase, 0.0).sum(axis=0)
                / np.where(valid, spans[:, None, None], 0.0).sum(axis=0)
            ).astype(np.float32),
        }
    return BlockStatistics(
        window=window,
        maps=maps,
        coherence_sum=coherence_valid.reshape(n_pair, -1).sum(axis=1),
        valid_count=valid.reshape(n_pair, -1).sum(axis=1).astype(np.float64),
        sample=phase[:, -window[0].start % step :: step, -window[1].start % step :: step].reshape(n_pair, -1),
    )


def local_std(values: F32, size: int = 5) -> F32:
    """Standard deviation of ``values`` over a sliding window (NaN-aware): low where the field is smooth."""
    valid = np.isfinite(values)
    filled = np.where(valid, values, 0.0).astype(np.float64)
    count = ndimage.uniform_filter(valid.astype(np.float64), size=size, mode="nearest")
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = ndimage.uniform_filter(filled, size=size, mode="nearest") / count
        square = ndimage.uniform_filter(filled**2, size=size, mode="nearest") / count
    result: F32 = np.sqrt(np.maximum(square - mean**2, 0.0)).astype(np.float32)
    return result


def interferogram_weights(coherence: F32, scheme: str) -> F32 | None:
    if scheme == "none":
        return None
    if scheme == "coherence":
        return np.asarray(np.nan_to_num(coherence, nan=0.0), dtype=np.float32)
    return coherence_to_weight(coherence, LOOKS)


@dataclass(frozen=True)
class ClosureFigures:
    """Unwrapping-error correction of one block: cycles removed and closure statistics."""

    ambiguity: npt.NDArray[np.int8]
    pixels_fixed: npt.NDArray[np.int64]
    sq_before: float = 0.0
    sq_after: float = 0.0
    count: int = 0
    nonzero_before: int = 0
    nonzero_after: int = 0


def correct_closures(
    phase: F32, pairs: npt.NDArray[np.int64], weight: F32 | None, threads: int
) -> tuple[F32, ClosureFigures]:
    """Fix unwrapping errors on the pixels whose loops do not close; the other pixels are left as is."""
    n_pair = phase.shape[0]
    flat = phase.reshape(n_pair, -1)
    closure = closure_phase(flat, pairs)
    finite = np.isfinite(closure.misclosure)
    squares = np.where(finite, closure.misclosure, 0.0).astype(np.float64) ** 2
    before = float(squares.sum())
    nonzero = int(closure.nonzero_count.sum())
    bad = closure.nonzero_count > 0
    ambiguity = np.zeros(phase.shape, dtype=np.int8)
    if not bad.any():
        figures = ClosureFigures(
            ambiguity, np.zeros(n_pair, np.int64), before, before, int(finite.sum()), nonzero, nonzero
        )
        return phase, figures
    subset_weight = None if weight is None else weight.reshape(n_pair, -1)[:, bad]
    correction = correct_unwrapping_errors(flat[:, bad], pairs, weight=subset_weight, threads=threads)
    corrected = flat.copy()
    corrected[:, bad] = correction.phase
    subset_count = int(finite[:, bad].sum())
    after = before - float(squares[:, bad].sum()) + correction.closure_rms_after**2 * subset_count
    ambiguity.reshape(n_pair, -1)[:, bad] = correction.ambiguity
    figures = ClosureFigures(
        ambiguity=ambiguity,
        pixels_fixed=correction.pixels_fixed,
        sq_before=before,
        sq_after=after,
        count=int(finite.sum()),
        nonzero_before=nonzero,
        nonzero_after=nonzero - int(correction.nonzero_before.sum()) + int(correction.nonzero_after.sum()),
    )
    return corrected.reshape(phase.shape), figures


@dataclass(frozen=True)
class BlockInversion:
    """Inversion pass of one block: per-pixel maps, model-share sums, the corrections' subgrid."""

    window: Window
    maps: dict[str, F32]
    closure: ClosureFigures
    share_sum: npt.NDArray[np.float64]
    share_count: npt.NDArray[np.float64]
    fit_rows: npt.NDArray[np.int64]
    fit_cols: npt.NDArray[np.int64]
    fit_values: F32
    fit_coherence: F32
    seconds: dict[str, float]


@dataclass(frozen=True)
class BlockVelocity:
    """Velocity pass of one block: per-pixel maps."""

    window: Window
    maps: dict[str, F32]


def in_window(
    grid: npt.NDArray[np.int64], part: slice
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Indices into ``grid`` of its values inside ``part``, and those values relative to its start."""
    inside = np.flatnonzero((grid >= part.start) & (grid < part.stop))
    return inside, grid[inside] - part.start


def ramp_surface(coefficients: F32, window: Window, shape: tuple[int, int]) -> F32:
    """Ramps of :func:`strata.insar.corrections.deramp` (a + b y + c x [+ y², x², x y]) on a window."""
    rows = np.arange(window[0].start, window[0].stop)
    cols = np.arange(window[1].start, window[1].stop)
    y = (-1.0 + 2.0 * rows / max(shape[0] - 1, 1))[:, None]
    x = (-1.0 + 2.0 * cols / max(shape[1] - 1, 1))[None, :]
    columns = [np.ones_like(y * x), y + 0 * x, x + 0 * y]
    if coefficients.shape[1] == 6:
        columns += [y**2 + 0 * x, x**2 + 0 * y, x * y]
    basis = np.stack(columns)
    ramps: F32 = np.einsum("dk,kyx->dyx", np.nan_to_num(coefficients), basis).astype(np.float32)
    return ramps
