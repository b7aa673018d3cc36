"""The interferogram folder that ``strata insar ifg`` writes, and its reader for the NSBAS engine.

Layout (one folder per pair, LiCSAR-like names without the ``.geo`` infix)::

    OUTPUT/
      height.tif                          optional, multilooked height (m), read as the stack's height
      latitude.tif, longitude.tif         optional, multilooked geolocation (degrees)
      YYYYMMDD_YYYYMMDD/
        YYYYMMDD_YYYYMMDD.int.tif         complex64 (CFloat32) interferogram, filtered, topography removed;
                                          its phase is phase(secondary) - phase(reference)
        YYYYMMDD_YYYYMMDD.cc.tif          float32 coherence in [0, 1]
        YYYYMMDD_YYYYMMDD.unw.tif         float32 unwrapped phase (rad), NaN where not unwrapped
        YYYYMMDD_YYYYMMDD.conncomp.tif    uint32 SNAPHU connected components (0 = unreliable)

Every raster carries the tags ``FIRST_DATE``/``SECOND_DATE`` (YYYY-MM-DD), ``WAVELENGTH_METRES`` and,
when known, ``PERPENDICULAR_BASELINE_METRES`` (as PyRate's GeoTIFFs do). Rasters in radar geometry
have no CRS; their geotransform maps multilooked pixel indices to SLC pixel indices.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import numpy.typing as npt
import rasterio
import xarray as xr
from rasterio.errors import NotGeoreferencedWarning, RasterioIOError
from rasterio.transform import Affine

from strata.insar.errors import ReaderError
from strata.insar.io._geotiff import write_tif
from strata.insar.io.slc import RasterBand
from strata.insar.stack import make_stack, pair_label

__all__ = ["LAYERS", "pair_paths", "read_layer", "read_slc_ifgs", "write_layer"]

LAYERS = ("int", "cc", "unw", "conncomp")
"""Suffixes of the per-pair rasters."""

DEFAULT_CHUNK = 512
PAIR_FOLDER = re.compile(r"^(\d{8})_(\d{8})$")


def pair_paths(output: Path, reference: np.datetime64, secondary: np.datetime64) -> dict[str, Path]:
    """Paths of the rasters of one pair under ``output``, by layer suffix.

    Parameters
    ----------
    output
        Root folder of the interferogram stack.
    reference, secondary
        Dates of the pair.

    Returns
    -------
    dict[str, Path]
        ``{"int": .../<pair>/<pair>.int.tif, "cc": ..., "unw": ..., "conncomp": ...}``.
    """
    label = pair_label(reference, secondary)
    return {layer: output / label / f"{label}.{layer}.tif" for layer in LAYERS}


def write_layer(
    path: Path,
    data: npt.NDArray[Any],
    *,
    crs: str,
    transform: list[float] | tuple[float, ...],
    tags: dict[str, str],
) -> None:
    """Write one raster (deflate-compressed GeoTIFF, NaN nodata for floats) with its tags.

    Parameters
    ----------
    path
        Target file; its folder is created.
    data
        2-D array (complex64, float32 or uint32).
    crs, transform
        CRS as WKT ("" in radar geometry: none written) and GDAL geotransform.
    tags
        GeoTIFF metadata tags.
    """
    nodata = float("nan") if np.issubdtype(data.dtype, np.floating) else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        write_tif(path, data, transform, crs, nodata=nodata, tags=tags)


def read_layer(path: Path) -> npt.NDArray[Any]:
    """Band 1 of one raster of the folder, in memory.

    Raises
    ------
    ReaderError
        When the file is missing or unreadable.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(path) as src:
                data: npt.NDArray[Any] = src.read(1)
    except RasterioIOError as exc:
        raise ReaderError(f"{path}: cannot read ({exc})") from exc
    return data


def _open(path: Path, dtype: type, chunk_size: int) -> tuple[da.Array, dict[str, str], Any, Affine]:
    """Lazy band 1 of a raster, its tags, CRS and transform."""
    if not path.is_file():
        raise ReaderError(f"{path}: missing (every pair needs .unw, .cc and .conncomp)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(path) as src:
                shape, tags, crs, transform = (src.height, src.width), src.tags(), src.crs, src.transform
    except RasterioIOError as exc:
        raise ReaderError(f"{path}: cannot read ({exc})") from exc
    band = RasterBand(path, shape, np.dtype(dtype))
    array = da.from_array(band, chunks=chunk_size, meta=np.array((), dtype=dtype))
    return array, tags, crs, transform


def read_slc_ifgs(path: Path | str, chunks: int | None = None) -> xr.Dataset:
    """Read an interferogram folder written by ``strata insar ifg`` as a stack for the engine.

    Parameters
    ----------
    path
        Root folder holding ``YYYYMMDD_YYYYMMDD/`` pair folders.
    chunks
        Side of the square dask chunks of the returned stack (default 512).

    Returns
    -------
    xarray.Dataset
        Stack per :mod:`strata.insar.stack` (``unwrapped_phase``, ``coherence``,
        ``connected_components``, optional ``height``), ``source_format="ifg"``.

    Raises
    ------
    ReaderError
        When the folder holds no pair, a raster is missing, or grids differ; names the file.
    """
    root = Path(path)
    chunk_size = chunks or DEFAULT_CHUNK
    if not root.is_dir():
        raise ReaderError(f"{root}: no such folder")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and PAIR_FOLDER.match(p.name))
    if not folders:
        raise ReaderError(f"{root}: no YYYYMMDD_YYYYMMDD pair folder")
    layers: dict[str, list[da.Array]] = {"unw": [], "cc": [], "conncomp": []}
    dtypes = {"unw": np.float32, "cc": np.float32, "conncomp": np.uint32}
    refs, secs, baselines = [], [], []
    grid: tuple[tuple[int, ...], Affine] | None = None
    crs: Any = None
    wavelength = float("nan")
    for folder in folders:
        first, second = (np.datetime64(f"{d[:4]}-{d[4:6]}-{d[6:]}", "D") for d in folder.name.split("_"))
        paths = pair_paths(root, first, second)
        for layer, arrays in layers.items():
            array, tags, crs, transform = _open(paths[layer], dtypes[layer], chunk_size)
            if grid is None:
                grid = (array.shape, transform)
            elif (array.shape, transform) != grid:
                raise ReaderError(
                    f"{paths[layer]}: grid {array.shape} differs from the first pair's {grid[0]}"
                )
            arrays.append(array)
        wavelength = float(tags.get("WAVELENGTH_METRES", "nan"))
        baselines.append(float(tags.get("PERPENDICULAR_BASELINE_METRES", "nan")))
        refs.append(first)
        secs.append(second)
    if grid is None or not np.isfinite(wavelength):
        raise ReaderError(f"{root}: rasters carry no WAVELENGTH_METRES tag")
    shape, transform = grid
    rows, cols = shape
    geometry = {}
    height_path = root / "height.tif"
    if height_path.is_file():
        height, _, _, height_transform = _open(height_path, np.float32, chunk_size)
        if (height.shape, height_transform) != grid:
            raise ReaderError(f"{height_path}: grid {height.shape} differs from the interferograms' {shape}")
        geometry["height"] = height

    return make_stack(
        da.stack(layers["unw"]).rechunk({0: -1}),
        da.stack(layers["cc"]).rechunk({0: -1}),
        refs,
        secs,
        x=transform.c + transform.a * (np.arange(cols) + 0.5),
        y=transform.f + transform.e * (np.arange(rows) + 0.5),
        crs=crs.to_wkt() if crs else "",
        transform=transform.to_gdal(),
        wavelength=wavelength,
        source_format="ifg",
        perpendicular_baseline=None if np.isnan(baselines).any() else baselines,
        connected_components=da.stack(layers["conncomp"]).rechunk({0: -1}),
        geometry=geometry,
    )
