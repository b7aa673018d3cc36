"""GeoTIFF helpers of the LiCSAR and GAMMA/PyRate readers and writers (rasterio)."""

from __future__ import annotations

import os
import resource
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import rasterio
from rasterio.errors import RasterioError
from rasterio.transform import Affine
from rasterio.windows import Window

from strata.insar.errors import ReaderError
from strata.insar.io._common import Grid, HandleCache

__all__ = [
    "TiffBand",
    "open_writers",
    "raster_grid",
    "raster_tags",
    "read_band",
    "read_tif_window",
    "write_tif",
    "write_window",
]


@dataclass(frozen=True)
class TiffBand:
    """One band of a GeoTIFF and how its values become stack values.

    ``kind`` is ``phase`` (no-data and exact zeros become NaN, as LiCSBAS and PyRate read them),
    ``coherence`` (uint8 0-255 is scaled to 0-1; float is kept) or ``plain``.
    """

    path: Path
    kind: str = "plain"


def _handles_per_thread() -> int:
    """Open GeoTIFFs kept per thread: within half the process's file limit over all cores."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    limit = soft if soft > 0 else 1024
    return max(32, min(1024, limit // (2 * (os.cpu_count() or 1))))


_HANDLES = HandleCache(rasterio.open, size=_handles_per_thread())
WRITER_CACHE_MB = 256
"""GDAL block cache (MB) while many GeoTIFFs are written block by block."""


def _open_error(path: Path, exc: Exception) -> ReaderError:
    return ReaderError(f"{path}: cannot read GeoTIFF ({exc})")


def raster_grid(path: Path) -> Grid:
    """Grid (size, geotransform, CRS) of a raster; ReaderError naming a missing or unreadable file."""
    if not path.is_file():
        raise ReaderError(f"{path}: file is missing")
    try:
        with rasterio.open(path) as src:
            crs = src.crs.to_wkt() if src.crs else ""
            return Grid(src.height, src.width, tuple(src.transform.to_gdal()), crs)
    except RasterioError as exc:
        raise _open_error(path, exc) from None


def raster_tags(path: Path) -> dict[str, str]:
    """Dataset-level metadata tags of a raster."""
    try:
        with rasterio.open(path) as src:
            return dict(src.tags())
    except RasterioError as exc:
        raise _open_error(path, exc) from None


def read_tif_window(band: TiffBand, window: tuple[slice, slice]) -> npt.NDArray[np.float32]:
    """Read one window of a band as float32 stack values (see :class:`TiffBand`)."""
    rows, cols = window
    win = Window(cols.start, rows.start, cols.stop - cols.start, rows.stop - rows.start)
    try:
        src = _HANDLES.get(band.path)
        raw = src.read(1, window=win)
        nodata = src.nodata
    except (RasterioError, OSError) as exc:
        raise _open_error(band.path, exc) from None
    data: npt.NDArray[np.float32] = np.asarray(raw).astype(np.float32)
    if band.kind == "phase":
        invalid = raw == 0
        if nodata is not None and not np.isnan(nodata):
            invalid |= raw == nodata
        data[invalid] = np.nan
    elif band.kind == "coherence" and raw.dtype == np.uint8:
        data /= np.float32(255.0)
    return data


def read_band(path: Path, kind: str = "plain") -> npt.NDArray[np.float32]:
    """Read a whole small raster (geometry layers) as float32; zeros are NaN for ``kind='phase'``."""
    grid = raster_grid(path)
    return read_tif_window(TiffBand(path, kind), (slice(0, grid.rows), slice(0, grid.cols)))


def _profile(
    transform: Sequence[float], crs: str, rows: int, cols: int, dtype: str, nodata: float | None
) -> dict[str, Any]:
    profile: dict[str, Any] = {
        "driver": "GTiff",
        "height": rows,
        "width": cols,
        "count": 1,
        "dtype": dtype,
        "crs": crs or None,
        "transform": Affine.from_gdal(*transform),
        "compress": "deflate",
        "zlevel": 1,
    }
    if rows >= 256 and cols >= 256:
        profile.update(tiled=True, blockxsize=256, blockysize=256)
    if nodata is not None:
        profile["nodata"] = nodata
    return profile


def write_tif(
    path: Path,
    array: npt.NDArray[Any],
    transform: Sequence[float],
    crs: str,
    *,
    nodata: float | None = None,
    tags: dict[str, str] | None = None,
) -> None:
    """Write a whole 2-D array as a single-band GeoTIFF."""
    path.parent.mkdir(parents=True, exist_ok=True)
    profile = _profile(transform, crs, array.shape[0], array.shape[1], str(array.dtype), nodata)
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(array, 1)
        if tags:
            dst.update_tags(**tags)


@contextmanager
def open_writers(
    paths: Sequence[Path],
    transform: Sequence[float],
    crs: str,
    rows: int,
    cols: int,
    dtype: str,
    nodata: float | None,
    tags: Sequence[dict[str, str]] | None = None,
) -> Iterator[list[Any]]:
    """Open many single-band GeoTIFFs for windowed writing (block-by-block stack writers)."""
    with ExitStack() as stack:
        # bound GDAL's block cache: hundreds of files are open, each with dirty blocks
        stack.enter_context(rasterio.Env(GDAL_CACHEMAX=WRITER_CACHE_MB))
        writers = []
        for i, path in enumerate(paths):
            path.parent.mkdir(parents=True, exist_ok=True)
            dst = stack.enter_context(
                rasterio.open(path, "w", **_profile(transform, crs, rows, cols, dtype, nodata))
            )
            if tags:
                dst.update_tags(**tags[i])
            writers.append(dst)
        yield writers


def write_window(dst: Any, array: npt.NDArray[Any], rows: slice, cols: slice) -> None:
    """Write a block into an open GeoTIFF."""
    dst.write(array, 1, window=Window(cols.start, rows.start, cols.stop - cols.start, rows.stop - rows.start))
