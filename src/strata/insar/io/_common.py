"""Helpers shared by the stack readers and writers: date pairs, lazy chunked reads, block iteration."""

from __future__ import annotations

import functools
import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import dask.array as da
import numpy as np
import numpy.typing as npt
import xarray as xr
from dask.delayed import delayed
from pyproj import CRS

from strata.insar.errors import ReaderError
from strata.insar.network import date_baselines as date_baselines_of_network
from strata.insar.network import pair_indices

__all__ = [
    "DEFAULT_CHUNK",
    "Grid",
    "HandleCache",
    "check_not_empty",
    "date_baselines",
    "iter_blocks",
    "lazy_cube",
    "lazy_stack",
    "normalize_chunks",
    "parse_date_pair",
    "pixel_coordinates",
    "stack_token",
    "yyyymmdd",
]

DEFAULT_CHUNK = 512
"""Default side of the spatial chunks of the readers (pixels)."""

S = TypeVar("S")
Window = tuple[slice, slice]
WindowReader = Callable[[S, Window], npt.NDArray[Any]]

_PAIR = re.compile(r"(\d{8})[_-](\d{8})")


def parse_date_pair(text: str, source: Path | str) -> tuple[np.datetime64, np.datetime64]:
    """Parse ``YYYYMMDD_YYYYMMDD`` (or ``-``) from ``text``; ReaderError naming ``source`` otherwise."""
    match = _PAIR.fullmatch(text) or _PAIR.search(text)
    if match is None:
        raise ReaderError(f"{source}: '{text}' is not a date pair YYYYMMDD_YYYYMMDD")
    try:
        first, second = (np.datetime64(f"{d[:4]}-{d[4:6]}-{d[6:]}", "D") for d in match.groups())
    except ValueError:
        raise ReaderError(f"{source}: '{text}' is not a date pair YYYYMMDD_YYYYMMDD") from None
    return first, second


@dataclass(frozen=True)
class Grid:
    """Size and geotransform of a raster, to check that all files of a stack share one grid."""

    rows: int
    cols: int
    transform: tuple[float, ...]
    crs: str

    def check(self, other: Grid, source: Path | str) -> None:
        """Raise ReaderError naming ``source`` if ``other`` is not this grid."""
        if (other.rows, other.cols) != (self.rows, self.cols):
            raise ReaderError(
                f"{source}: grid {other.rows}x{other.cols} does not match the stack's {self.rows}x{self.cols}"
            )
        if not np.allclose(
            other.transform, self.transform, rtol=0, atol=1e-9 * max(1.0, abs(self.transform[0]))
        ):
            raise ReaderError(f"{source}: geotransform {other.transform} does not match {self.transform}")
        if other.crs != self.crs and not _same_crs(other.crs, self.crs):
            raise ReaderError(f"{source}: CRS does not match the stack's")


@functools.lru_cache(maxsize=64)
def _same_crs(first: str, second: str) -> bool:
    if not first or not second:
        return first == second
    return bool(CRS.from_user_input(first) == CRS.from_user_input(second))


def pixel_coordinates(
    transform: Sequence[float], rows: int, cols: int
) -> tuple[npt.NDArray[np.float64], ...]:
    """Pixel-centre ``(y, x)`` coordinates of a north-up GDAL geotransform."""
    x = transform[0] + transform[1] * (np.arange(cols, dtype=np.float64) + 0.5)
    y = transform[3] + transform[5] * (np.arange(rows, dtype=np.float64) + 0.5)
    return y, x


def normalize_chunks(chunks: int | tuple[int, int] | None) -> tuple[int, int]:
    """Spatial chunk shape ``(rows, cols)`` from the ``chunks`` argument of the readers."""
    if chunks is None:
        return DEFAULT_CHUNK, DEFAULT_CHUNK
    if isinstance(chunks, int):
        return chunks, chunks
    return int(chunks[0]), int(chunks[1])


def _read_sources(
    sources: Sequence[S], reader: WindowReader[S], window: Window, dtype: np.dtype[Any]
) -> npt.NDArray[Any]:
    out = np.empty((len(sources), window[0].stop - window[0].start, window[1].stop - window[1].start), dtype)
    for i, source in enumerate(sources):
        out[i] = reader(source, window)
    return out


def lazy_cube(
    read: Callable[[Window], npt.NDArray[Any]],
    leading: int,
    shape: tuple[int, int],
    chunks: tuple[int, int],
    dtype: npt.DTypeLike,
    name: str,
) -> da.Array:
    """A (leading, y, x) dask array whose spatial chunks are ``read(window)``, one call per chunk.

    The array is chunked in space only; nothing is read until a chunk is computed. ``name`` must
    identify the source uniquely (it prefixes the dask keys).
    """
    rows, cols = shape
    dt = np.dtype(dtype)
    grid: list[list[da.Array]] = []
    for r0 in range(0, rows, chunks[0]):
        line: list[da.Array] = []
        for c0 in range(0, cols, chunks[1]):
            window = (slice(r0, min(r0 + chunks[0], rows)), slice(c0, min(c0 + chunks[1], cols)))
            task = delayed(read, pure=True)(window, dask_key_name=f"{name}-{r0}-{c0}")
            block_shape = (leading, window[0].stop - r0, window[1].stop - c0)
            line.append(da.from_delayed(task, shape=block_shape, dtype=dt))
        grid.append(line)
    out: da.Array = da.block([grid])
    return out


def lazy_stack(
    sources: Sequence[S],
    reader: WindowReader[S],
    shape: tuple[int, int],
    chunks: tuple[int, int],
    dtype: npt.DTypeLike,
    name: str,
) -> da.Array:
    """A (n_sources, y, x) dask array; each spatial chunk reads one window of every source."""
    dt = np.dtype(dtype)
    return lazy_cube(
        functools.partial(_read_sources, list(sources), reader, dtype=dt),
        len(sources),
        shape,
        chunks,
        dt,
        name,
    )


def stack_token(*parts: object) -> str:
    """A short stable token naming a source in dask keys."""
    return hashlib.sha1(repr(parts).encode(), usedforsecurity=False).hexdigest()[:12]


def _sample_windows(shape: tuple[int, int], size: int = 64) -> list[Window]:
    """A central window (data is most likely there) and the last pixels (a truncated file fails there)."""
    rows, cols = shape
    h, w = min(size, rows), min(size, cols)
    r0, c0 = (rows - h) // 2, (cols - w) // 2
    return [(slice(r0, r0 + h), slice(c0, c0 + w)), (slice(rows - 1, rows), slice(cols - 1, cols))]


def check_not_empty(
    sources: Sequence[S], reader: WindowReader[S], shape: tuple[int, int], describe: Callable[[S], str]
) -> None:
    """Raise ReaderError naming the first source that holds no valid (non-NaN) value.

    Two small windows of each source are read (the centre and the last pixel); only a source
    whose samples are all NaN is read in full (row strips), so a valid stack costs two small
    reads per file. Reading the last pixel also exposes truncated files.
    """
    windows = _sample_windows(shape)
    strip = max(1, (1 << 22) // max(shape[1], 1))
    for source in sources:
        if any(np.any(np.isfinite(reader(source, w))) for w in windows):
            continue
        full_rows = range(0, shape[0], strip)
        if not any(
            np.any(np.isfinite(reader(source, (slice(r, min(r + strip, shape[0])), slice(0, shape[1])))))
            for r in full_rows
        ):
            raise ReaderError(f"{describe(source)}: interferogram has no valid pixel (all NaN or no-data)")


def iter_blocks(
    stack: xr.Dataset, names: Sequence[str], block: int | None = None
) -> Iterator[tuple[slice, slice, dict[str, npt.NDArray[Any]]]]:
    """Yield ``(rows, cols, arrays)`` for each spatial block of ``stack``.

    The blocks follow the dask chunks of ``stack`` (or ``block`` pixels), so a lazily generated
    or read stack is written with memory bounded by two blocks of all pairs: the next block is
    computed in the background while the caller writes the current one.
    """
    phase = stack["unwrapped_phase"]
    if block is None and phase.chunks is not None:
        row_edges = np.cumsum((0, *phase.chunks[1]))
        col_edges = np.cumsum((0, *phase.chunks[2]))
    else:
        size = block or DEFAULT_CHUNK
        row_edges = np.append(np.arange(0, stack.sizes["y"], size), stack.sizes["y"])
        col_edges = np.append(np.arange(0, stack.sizes["x"], size), stack.sizes["x"])
    windows = [
        (slice(int(r0), int(r1)), slice(int(c0), int(c1)))
        for r0, r1 in zip(row_edges[:-1], row_edges[1:], strict=True)
        for c0, c1 in zip(col_edges[:-1], col_edges[1:], strict=True)
    ]
    subset = stack[list(names)]

    def compute(window: Window) -> dict[str, npt.NDArray[Any]]:
        part = subset.isel(y=window[0], x=window[1]).compute()
        return {name: part[name].values for name in names}

    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(compute, windows[0])
        for k, window in enumerate(windows):
            arrays = pending.result()
            if k + 1 < len(windows):
                pending = pool.submit(compute, windows[k + 1])
            yield window[0], window[1], arrays


def date_baselines(stack: xr.Dataset) -> tuple[npt.NDArray[np.datetime64], npt.NDArray[np.float64]]:
    """Acquisition dates and per-date perpendicular baselines (first date 0; zeros when absent)."""
    index = pair_indices(stack["reference"].values, stack["secondary"].values)
    if "perpendicular_baseline" not in stack.coords:
        return index.dates, np.zeros(index.dates.size)
    bperp = date_baselines_of_network(index.pairs, stack["perpendicular_baseline"].values, index.dates.size)
    return index.dates, bperp


def yyyymmdd(date: np.datetime64) -> str:
    """``YYYYMMDD`` of a date."""
    return str(np.asarray(date).astype("datetime64[D]")).replace("-", "")


class HandleCache:
    """Least-recently-used cache of open file handles, keyed by path, modification time and size.

    Reading a chunk of a stack touches every file; reopening each file for every chunk costs more
    than the read itself, so readers keep handles open. With ``per_thread`` each thread has its
    own handles (libraries whose handles are not thread-safe, such as GDAL); otherwise callers
    serialise access themselves (netCDF-C under one lock).
    """

    def __init__(self, opener: Callable[[Path], Any], size: int = 512, per_thread: bool = True) -> None:
        self._opener = opener
        self._size = size
        self._local = threading.local() if per_thread else None
        self._shared: OrderedDict[tuple[str, int, int], Any] = OrderedDict()

    def _handles(self) -> OrderedDict[tuple[str, int, int], Any]:
        if self._local is None:
            return self._shared
        if not hasattr(self._local, "handles"):
            self._local.handles = OrderedDict()
        handles: OrderedDict[tuple[str, int, int], Any] = self._local.handles
        return handles

    def get(self, path: Path) -> Any:
        """An open handle on ``path`` (opened now if absent or if the file changed)."""
        stat = path.stat()
        key = (str(path), stat.st_mtime_ns, stat.st_size)
        handles = self._handles()
        if key in handles:
            handles.move_to_end(key)
            return handles[key]
        handle = self._opener(path)
        handles[key] = handle
        if len(handles) > self._size:
            _, oldest = handles.popitem(last=False)
            oldest.close()
        return handle
