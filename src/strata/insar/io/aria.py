"""ARIA GUNW (Geocoded UNWrapped interferogram) NetCDF products: reader and writer.

One NetCDF-4 file per pair, named ``S1-GUNW-<dir>-R-<track>-tops-<later>_<earlier>-<time>-<lon>_<lat>
-PP-<hash>-v<version>.nc`` (ARIA-tools takes the pair from field 6 of the name). Layers:

- ``/science/grids/data/{unwrappedPhase, coherence, connectedComponents}`` (float32) on dims
  ``(latitude, longitude)`` with coordinate variables of the same names (pixel centres) and a
  ``crs`` grid mapping; no-data is 0 for ``unwrappedPhase`` and ``coherence``, -1 for
  ``connectedComponents`` (ACCESS ``isce2_topsapp`` packaging template);
- ``/science/grids/imagingGeometry/perpendicularBaseline`` on a coarse
  ``(heightsMeta, latitudeMeta, longitudeMeta)`` cube;
- ``/science/radarMetaData/wavelength``.

The products pair the later date as reference: like MintPy's ``prep_aria`` (``data *= -1  #
date2_date1 -> date1_date2``) the reader negates the phase and the baseline.
"""

from __future__ import annotations

import threading
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import netCDF4
import numpy as np
import numpy.typing as npt
import xarray as xr

from strata.insar.errors import ReaderError
from strata.insar.io._common import (
    Grid,
    HandleCache,
    check_not_empty,
    iter_blocks,
    lazy_stack,
    normalize_chunks,
    parse_date_pair,
    pixel_coordinates,
    stack_token,
    yyyymmdd,
)
from strata.insar.stack import SENTINEL1_WAVELENGTH, make_stack

__all__ = ["read_aria", "write_aria"]

DATA = "science/grids/data"
GEOMETRY = "science/grids/imagingGeometry"
RADAR = "science/radarMetaData"
FILL = {"unwrappedPhase": 0.0, "coherence": 0.0, "connectedComponents": -1}
LAYER_DESCRIPTION = {
    "unwrappedPhase": "Unwrapped phase",
    "coherence": "Coherence",
    "connectedComponents": "Snaphu connected components",
}
NETCDF_LOCK = threading.RLock()
"""The netCDF-C library is not thread-safe: every access from this module holds this lock."""


@dataclass(frozen=True)
class _Layer:
    path: Path
    name: str


READ_CHUNK_CACHE = 1 << 18
"""Chunk cache (bytes) per data layer of an open product: windows are read once, and netCDF-C's
default cache would keep every chunk read from each of hundreds of open products."""


def _open_for_reading(path: Path) -> netCDF4.Dataset:
    ds = netCDF4.Dataset(path, "r")
    for name in FILL:
        if name in ds[DATA].variables:
            ds[f"{DATA}/{name}"].set_var_chunk_cache(size=READ_CHUNK_CACHE)
    return ds


_HANDLES = HandleCache(_open_for_reading, size=256, per_thread=False)


def _open(path: Path) -> netCDF4.Dataset:
    if not path.is_file():
        raise ReaderError(f"{path}: file is missing")
    try:
        return netCDF4.Dataset(path, "r")
    except OSError as exc:
        raise ReaderError(f"{path}: cannot read NetCDF ({exc})") from None


def _group(ds: netCDF4.Dataset, name: str, path: Path) -> Any:
    try:
        return ds[name]
    except (IndexError, KeyError):
        raise ReaderError(f"{path}: no group or variable '/{name}' (not an ARIA GUNW product)") from None


def _read_layer(layer: _Layer, window: tuple[slice, slice]) -> npt.NDArray[np.float32]:
    try:
        with NETCDF_LOCK:
            var = _HANDLES.get(layer.path)[f"{DATA}/{layer.name}"]
            var.set_auto_mask(False)
            raw = np.asarray(var[window[0], window[1]])
    except (OSError, RuntimeError, IndexError) as exc:
        raise ReaderError(f"{layer.path}: cannot read {layer.name} ({exc})") from None
    data = raw.astype(np.float32)
    if layer.name == "unwrappedPhase":
        data[raw == FILL["unwrappedPhase"]] = np.nan
        np.negative(data, out=data)  # later_earlier -> earlier_later
    elif layer.name == "connectedComponents":
        data[raw == FILL["connectedComponents"]] = 0
    return data


def _describe(path: Path) -> tuple[Grid, np.datetime64, np.datetime64, float, float]:
    fields = path.name.split("-")
    if len(fields) < 7:
        raise ReaderError(f"{path}: name is not an ARIA GUNW name (no <later>_<earlier> field)")
    later, earlier = parse_date_pair(fields[6], path)
    if later <= earlier:
        raise ReaderError(f"{path}: ARIA pairs are later_earlier, got '{fields[6]}'")
    with NETCDF_LOCK, _open(path) as ds:
        data = _group(ds, DATA, path)
        lat = np.asarray(_group(data, "latitude", path)[:], dtype=np.float64)
        lon = np.asarray(_group(data, "longitude", path)[:], dtype=np.float64)
        for name in ("unwrappedPhase", "coherence"):
            var = _group(data, name, path)
            if var.shape != (lat.size, lon.size):
                raise ReaderError(f"{path}: {name} shape {var.shape} does not match latitude x longitude")
        wavelength = float(np.asarray(_group(ds, f"{RADAR}/wavelength", path)[...]).ravel()[0])
        try:
            bperp = -float(np.nanmean(np.asarray(ds[f"{GEOMETRY}/perpendicularBaseline"][:], dtype=float)))
        except (IndexError, KeyError):
            bperp = float("nan")
        crs = str(getattr(data["crs"], "crs_wkt", "")) if "crs" in data.variables else ""
    dlon = float(lon[1] - lon[0]) if lon.size > 1 else 0.0
    dlat = float(lat[1] - lat[0]) if lat.size > 1 else 0.0
    transform = (lon[0] - dlon / 2, dlon, 0.0, lat[0] - dlat / 2, 0.0, dlat)
    return Grid(lat.size, lon.size, transform, crs), earlier, later, wavelength, bperp


def read_aria(path: Path, chunks: int | tuple[int, int] | None = None, check: bool = True) -> xr.Dataset:
    """Open a folder of ARIA GUNW NetCDF products (one per pair) as a lazy stack.

    Parameters
    ----------
    path
        Folder holding the ``*.nc`` products (or a ``products`` sub-folder).
    chunks
        Spatial chunk size (pixels).
    check
        Sample every interferogram to reject truncated or all-NaN files up front.

    Raises
    ------
    ReaderError
        Naming the file: not a GUNW product, unreadable, a grid that does not match the others,
        no valid pixel.
    """
    folder = Path(path)
    if (folder / "products").is_dir():
        folder = folder / "products"
    files = sorted(folder.glob("*.nc")) if folder.is_dir() else []
    if not files:
        raise ReaderError(f"{path}: no ARIA GUNW product (*.nc)")
    described = [_describe(f) for f in files]
    grid = described[0][0]
    for f, d in zip(files, described, strict=True):
        grid.check(d[0], f)
    order = np.lexsort(([d[2] for d in described], [d[1] for d in described]))
    files = [files[i] for i in order]
    described = [described[i] for i in order]
    phase = [_Layer(f, "unwrappedPhase") for f in files]
    shape = (grid.rows, grid.cols)
    if check:
        check_not_empty(phase, _read_layer, shape, lambda layer: str(layer.path))
    size = normalize_chunks(chunks)
    token = stack_token(str(folder.resolve()), [f.name for f in files])
    y, x = pixel_coordinates(grid.transform, grid.rows, grid.cols)
    bperp = [d[4] for d in described]
    wavelengths = {round(d[3], 9) for d in described}
    if len(wavelengths) > 1:
        raise ReaderError(f"{folder}: products have different wavelengths {sorted(wavelengths)}")
    return make_stack(
        lazy_stack(phase, _read_layer, shape, size, np.float32, f"aria-unw-{token}"),
        lazy_stack(
            [_Layer(f, "coherence") for f in files], _read_layer, shape, size, np.float32, f"aria-cc-{token}"
        ),
        [d[1] for d in described],
        [d[2] for d in described],
        x=x,
        y=y,
        crs=grid.crs,
        transform=grid.transform,
        wavelength=described[0][3] or SENTINEL1_WAVELENGTH,
        source_format="aria",
        perpendicular_baseline=None if np.isnan(bperp).any() else bperp,
        connected_components=lazy_stack(
            [_Layer(f, "connectedComponents") for f in files],
            _read_layer,
            shape,
            size,
            np.int16,
            f"aria-conncomp-{token}",
        ),
    )


def _product_name(stack: xr.Dataset, later: np.datetime64, earlier: np.datetime64) -> str:
    lon = float(stack["x"].values.mean())
    lat = float(stack["y"].values.mean())
    lon_tag = f"{abs(round(lon * 100)):05d}{'E' if lon >= 0 else 'W'}"
    lat_tag = f"{abs(round(lat * 100)):05d}{'N' if lat >= 0 else 'S'}"
    pair = f"{yyyymmdd(later)}_{yyyymmdd(earlier)}"
    return f"S1-GUNW-A-R-005-tops-{pair}-004021-{lon_tag}_{lat_tag}-PP-0000-v3_0_1.nc"


def _create(path: Path, stack: xr.Dataset, bperp: float, later: str, earlier: str, chunk: int) -> None:
    """Create a GUNW product with its metadata and empty (chunked, compressed) data layers."""
    with NETCDF_LOCK, netCDF4.Dataset(path, "w", format="NETCDF4") as ds:
        _fill_product(ds, stack, bperp, later, earlier, chunk)


def _fill_product(
    ds: netCDF4.Dataset, stack: xr.Dataset, bperp: float, later: str, earlier: str, chunk: int
) -> None:
    ds.setncatts(
        {"Conventions": "CF-1.6", "product_type": "UNW GEO IFG", "title": "ARIA standard product UNW GEO IFG"}
    )
    data = ds.createGroup(DATA)
    data.createDimension("latitude", stack.sizes["y"])
    data.createDimension("longitude", stack.sizes["x"])
    lat = data.createVariable("latitude", "f8", ("latitude",))
    lat[:] = stack["y"].values
    lat.setncatts({"units": "degrees_north", "standard_name": "latitude"})
    lon = data.createVariable("longitude", "f8", ("longitude",))
    lon[:] = stack["x"].values
    lon.setncatts({"units": "degrees_east", "standard_name": "longitude"})
    crs = data.createVariable("crs", "i4")
    crs.setncatts(
        {
            "grid_mapping_name": "latitude_longitude",
            "longitude_of_prime_meridian": 0.0,
            "semi_major_axis": 6378137.0,
            "inverse_flattening": 298.257223563,
            "crs_wkt": stack.attrs["crs"],
        }
    )
    chunks = (min(chunk, stack.sizes["y"]), min(chunk, stack.sizes["x"]))
    for name, dtype in (("unwrappedPhase", "f4"), ("coherence", "f4"), ("connectedComponents", "f4")):
        var = data.createVariable(
            name, dtype, ("latitude", "longitude"), fill_value=FILL[name], chunksizes=chunks, zlib=True
        )
        var.set_var_chunk_cache(size=0, nelems=0)
        var.grid_mapping = "crs"
        var.units = "rad" if name == "unwrappedPhase" else "unitless"
        var.description = LAYER_DESCRIPTION[name]
    geometry = ds.createGroup(GEOMETRY)
    for dim, size in (("heightsMeta", 2), ("latitudeMeta", 2), ("longitudeMeta", 2)):
        geometry.createDimension(dim, size)
    cube = geometry.createVariable(
        "perpendicularBaseline", "f4", ("heightsMeta", "latitudeMeta", "longitudeMeta")
    )
    cube[:] = np.full((2, 2, 2), -bperp, dtype=np.float32)
    radar = ds.createGroup(RADAR)
    radar.createVariable("wavelength", "f8")[...] = stack.attrs["wavelength"]
    slc = radar.createGroup("inputSLC")
    for role, date in (("reference", later), ("secondary", earlier)):
        group = slc.createGroup(role)
        group.createDimension("granules", 1)
        granules = group.createVariable("L1InputGranules", str, ("granules",))
        granules[0] = f"S1A_IW_SLC__1SDV_{date}T004021_{date}T004048_000000_000000_0000"


def _write_block(data: Any, k: int, rows: slice, cols: slice, arrays: dict[str, npt.NDArray[Any]]) -> None:
    phase = -arrays["unwrapped_phase"][k]
    data["unwrappedPhase"][rows, cols] = np.where(np.isnan(phase), FILL["unwrappedPhase"], phase)
    data["coherence"][rows, cols] = np.nan_to_num(arrays["coherence"][k])
    if "connected_components" in arrays:
        data["connectedComponents"][rows, cols] = arrays["connected_components"][k]
    else:
        data["connectedComponents"][rows, cols] = np.where(np.isnan(phase), FILL["connectedComponents"], 1)


def write_aria(stack: xr.Dataset, path: Path) -> Path:
    """Write a stack as ARIA GUNW NetCDF products (one per pair) under ``path``, block by block.

    Returns the folder of the products.
    """
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    refs = stack["reference"].values
    secs = stack["secondary"].values
    has_bperp = "perpendicular_baseline" in stack.coords
    bperp = stack["perpendicular_baseline"].values if has_bperp else np.zeros(refs.size)
    names = ["unwrapped_phase", "coherence"]
    if "connected_components" in stack:
        names.append("connected_components")
    chunk = int(stack["unwrapped_phase"].chunks[1][0]) if stack["unwrapped_phase"].chunks else 512
    targets = [folder / _product_name(stack, sec, ref) for ref, sec in zip(refs, secs, strict=True)]
    for target, ref, sec, b in zip(targets, refs, secs, bperp, strict=True):
        _create(target, stack, float(b), yyyymmdd(sec), yyyymmdd(ref), chunk)
    # The data go in through h5py: netCDF-C keeps every written chunk of an open file in memory
    # until it is closed, h5py does not (hundreds of products stay open while blocks stream in).
    with ExitStack() as files:
        products = [files.enter_context(h5py.File(target, "r+")) for target in targets]
        for r, c, arrays in iter_blocks(stack, names):
            for k, product in enumerate(products):
                _write_block(product[DATA], k, r, c, arrays)
    return folder
