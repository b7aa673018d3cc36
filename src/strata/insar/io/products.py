"""Writers of InSAR results: COG GeoTIFFs, NetCDF-CF time series, MintPy ``timeseries.h5``, ``velocity.h5``.

Units and conventions (issue 3, item 10): displacement in mm and velocity in mm/yr in the COGs
and the NetCDF, metres and m/yr in the MintPy files (as MintPy writes them); positive toward the
satellite; the time series is referenced to its first date and to the reference pixel. Every
file is written under a temporary name and renamed when complete, so a failure never leaves a
half-written product.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dask.array as da
import h5py
import numpy as np
import numpy.typing as npt
import rasterio
import rasterio.shutil
import xarray as xr
from pyproj import CRS
from rasterio.io import MemoryFile
from rasterio.transform import Affine

from strata.insar.io._common import pixel_coordinates, yyyymmdd
from strata.insar.io.mintpy import grid_attributes

__all__ = [
    "ProductGrid",
    "write_cog",
    "write_mintpy_timeseries",
    "write_mintpy_velocity",
    "write_timeseries_netcdf",
]

COG_BLOCK = 256


@dataclass(frozen=True)
class ProductGrid:
    """The grid of the products: size, GDAL geotransform and CRS (WKT)."""

    rows: int
    cols: int
    transform: tuple[float, ...]
    crs: str

    @classmethod
    def from_stack(cls, stack: xr.Dataset) -> ProductGrid:
        """The grid of an interferogram stack (:mod:`strata.insar.stack`)."""
        return cls(stack.sizes["y"], stack.sizes["x"], tuple(stack.attrs["transform"]), stack.attrs["crs"])

    def coordinates(self) -> tuple[npt.NDArray[np.float64], ...]:
        """Pixel-centre ``(y, x)`` coordinates."""
        return pixel_coordinates(self.transform, self.rows, self.cols)

    def lat_lon(self, row: int, col: int) -> tuple[float, float]:
        """Pixel-centre coordinates ``(y, x)`` of a pixel, in the grid's CRS."""
        y, x = self.coordinates()
        return float(y[row]), float(x[col])


@contextmanager
def _atomic(path: Path) -> Iterator[Path]:
    """Yield a temporary sibling of ``path``; rename it to ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def write_cog(
    path: str | Path,
    array: npt.ArrayLike,
    grid: ProductGrid,
    *,
    units: str,
    description: str,
    nodata: float = float("nan"),
) -> Path:
    """Write a 2-D array as a Cloud-Optimized GeoTIFF (float32, deflate, tiled, with overviews).

    Parameters
    ----------
    path
        Output file.
    array
        (rows, cols) values; NaN marks masked pixels (the no-data value).
    grid
        Grid of the array.
    units, description
        Stored as the band's unit type and description (shown by QGIS and ``gdalinfo``).
    nodata
        No-data value (NaN by default; integer masks may use e.g. 255 after casting).

    Returns
    -------
    Path
        ``path``.
    """
    data = np.asarray(array, dtype=np.float32)
    if data.shape != (grid.rows, grid.cols):
        raise ValueError(f"array shape {data.shape} does not match the grid {grid.rows}x{grid.cols}")
    profile: dict[str, Any] = {
        "driver": "GTiff",
        "height": grid.rows,
        "width": grid.cols,
        "count": 1,
        "dtype": "float32",
        "crs": grid.crs or None,
        "transform": Affine.from_gdal(*grid.transform),
        "nodata": nodata,
    }
    target = Path(path)
    with MemoryFile() as memory, memory.open(**profile) as dataset:
        dataset.write(data, 1)
        dataset.set_band_description(1, description)
        dataset.update_tags(1, units=units)
        dataset.units = (units,)
        with _atomic(target) as tmp:
            rasterio.shutil.copy(
                dataset,
                tmp,
                driver="COG",
                compress="DEFLATE",
                predictor="YES",
                blocksize=COG_BLOCK,
                overview_resampling="AVERAGE",
            )
    return target


def _cf_grid_mapping(crs_wkt: str, transform: Sequence[float]) -> dict[str, Any]:
    attrs: dict[str, Any] = {"GeoTransform": " ".join(repr(float(v)) for v in transform)}
    if crs_wkt:
        crs = CRS.from_user_input(crs_wkt)
        attrs.update(crs.to_cf())
        attrs["spatial_ref"] = crs.to_wkt()
    return attrs


def _coordinate_attrs(crs_wkt: str) -> tuple[dict[str, str], dict[str, str]]:
    geographic = bool(crs_wkt) and CRS.from_user_input(crs_wkt).is_geographic
    if geographic:
        return (
            {"standard_name": "latitude", "units": "degrees_north", "axis": "Y"},
            {"standard_name": "longitude", "units": "degrees_east", "axis": "X"},
        )
    return (
        {"standard_name": "projection_y_coordinate", "units": "m", "axis": "Y"},
        {"standard_name": "projection_x_coordinate", "units": "m", "axis": "X"},
    )


def write_timeseries_netcdf(
    path: str | Path,
    displacement: Any,
    dates: npt.ArrayLike,
    grid: ProductGrid,
    *,
    std: Any | None = None,
    reference_pixel: tuple[int, int] | None = None,
    attrs: dict[str, Any] | None = None,
) -> Path:
    """Write a displacement time series as NetCDF-CF (``timeseries.nc``).

    Parameters
    ----------
    path
        Output file.
    displacement
        (date, rows, cols) LOS displacement in mm, positive toward the satellite, referenced to
        the first date and to the reference pixel (numpy or dask; dask is written chunk by chunk).
    dates
        Acquisition dates (``datetime64``).
    grid
        Grid of the rasters (written as a CF ``grid_mapping`` with the WKT and GDAL geotransform).
    std
        Optional (date, rows, cols) 1-sigma uncertainty of the displacement in mm.
    reference_pixel
        (row, col) of the reference point, stored as attributes.
    attrs
        Extra global attributes.

    Returns
    -------
    Path
        ``path``.
    """
    time = np.asarray(dates).astype("datetime64[ns]")
    y, x = grid.coordinates()
    y_attrs, x_attrs = _coordinate_attrs(grid.crs)
    variables: dict[str, Any] = {
        "displacement": (
            ("time", "y", "x"),
            displacement,
            {
                "units": "mm",
                "long_name": "line-of-sight displacement, positive toward the satellite",
                "grid_mapping": "spatial_ref",
            },
        )
    }
    if std is not None:
        variables["displacement_std"] = (
            ("time", "y", "x"),
            std,
            {
                "units": "mm",
                "long_name": "1-sigma uncertainty of the displacement",
                "grid_mapping": "spatial_ref",
            },
        )
    global_attrs: dict[str, Any] = {
        "Conventions": "CF-1.8",
        "title": "Strata InSAR displacement time series",
        "reference_date": str(time[0].astype("datetime64[D]")),
        **(attrs or {}),
    }
    if reference_pixel is not None:
        ref_y, ref_x = grid.lat_lon(*reference_pixel)
        global_attrs.update(
            reference_row=int(reference_pixel[0]),
            reference_col=int(reference_pixel[1]),
            reference_y=ref_y,
            reference_x=ref_x,
        )
    ds = xr.Dataset(
        variables,
        coords={
            "time": ("time", time, {"standard_name": "time", "axis": "T"}),
            "y": ("y", y, y_attrs),
            "x": ("x", x, x_attrs),
            "spatial_ref": ((), np.int32(0), _cf_grid_mapping(grid.crs, grid.transform)),
        },
        attrs=global_attrs,
    )
    rows, cols = min(grid.rows, 256), min(grid.cols, 256)
    encoding = {
        name: {
            "dtype": "float32",
            "zlib": True,
            "complevel": 4,
            "chunksizes": (1, rows, cols),
            "_FillValue": np.nan,
        }
        for name in variables
    }
    encoding["time"] = {"units": f"days since {time[0].astype('datetime64[D]')}", "calendar": "standard"}
    target = Path(path)
    with _atomic(target) as tmp:
        # written by this process's threads, never by a default distributed client (see _store)
        ds.to_netcdf(tmp, engine="netcdf4", encoding=encoding, compute=False).compute(scheduler="threads")
    return target


def _mintpy_attrs(
    grid: ProductGrid,
    wavelength: float,
    dates: npt.NDArray[np.datetime64],
    reference_pixel: tuple[int, int] | None,
) -> dict[str, str]:
    attrs = grid_attributes(grid.rows, grid.cols, grid.transform, grid.crs, wavelength)
    attrs.update(
        PROCESSOR="strata",
        REF_DATE=yyyymmdd(dates[0]),
        START_DATE=yyyymmdd(dates[0]),
        END_DATE=yyyymmdd(dates[-1]),
        DATE12=f"{yyyymmdd(dates[0])}_{yyyymmdd(dates[-1])}",
    )
    if reference_pixel is not None:
        row, col = (int(v) for v in reference_pixel)
        ref_y, ref_x = grid.lat_lon(row, col)
        attrs.update(REF_Y=str(row), REF_X=str(col), REF_LAT=repr(ref_y), REF_LON=repr(ref_x))
    return attrs


def _store(dataset: h5py.Dataset, values: Any, scale: float) -> None:
    if isinstance(values, da.Array):
        # The target is an h5py dataset open in this process: the store runs on this process's
        # threads, never on a default distributed client (the lock and handle cannot travel).
        da.store((values * scale).astype(np.float32), dataset, lock=threading.Lock(), scheduler="threads")
    else:
        dataset[...] = (np.asarray(values) * scale).astype(np.float32)


def write_mintpy_timeseries(
    path: str | Path,
    displacement: Any,
    dates: npt.ArrayLike,
    grid: ProductGrid,
    *,
    wavelength: float,
    reference_pixel: tuple[int, int] | None = None,
    perpendicular_baseline: Sequence[float] | None = None,
) -> Path:
    """Write a MintPy-compatible ``timeseries.h5`` (datasets ``date``, ``bperp``, ``timeseries`` in m).

    ``displacement`` is (date, rows, cols) in mm (numpy or dask), positive toward the satellite;
    attributes follow MintPy (``FILE_TYPE=timeseries``, ``UNIT=m``, ``REF_DATE``, ``REF_Y``/``REF_X``,
    ``REF_LAT``/``REF_LON``, ``LENGTH``, ``WIDTH``, ``X_FIRST``..., ``WAVELENGTH``) so that
    ``mintpy.utils.readfile.read`` and ``view.py`` open it.
    """
    time = np.asarray(dates).astype("datetime64[D]")
    attrs = _mintpy_attrs(grid, wavelength, time, reference_pixel)
    attrs.update(FILE_TYPE="timeseries", UNIT="m")
    bperp = np.zeros(time.size) if perpendicular_baseline is None else np.asarray(perpendicular_baseline)
    target = Path(path)
    with _atomic(target) as tmp, h5py.File(tmp, "w") as f:
        f.attrs.update(attrs)
        f["date"] = np.array([yyyymmdd(d) for d in time], dtype="S8")
        f["bperp"] = bperp.astype(np.float32)
        chunks = (1, min(grid.rows, 256), min(grid.cols, 256))
        dataset = f.create_dataset("timeseries", (time.size, grid.rows, grid.cols), np.float32, chunks=chunks)
        _store(dataset, displacement, 1e-3)
    return target


def write_mintpy_velocity(
    path: str | Path,
    velocity: npt.ArrayLike,
    velocity_std: npt.ArrayLike,
    dates: npt.ArrayLike,
    grid: ProductGrid,
    *,
    wavelength: float,
    reference_pixel: tuple[int, int] | None = None,
) -> Path:
    """Write a MintPy-compatible ``velocity.h5`` (``velocity``, ``velocityStd`` in m/yr).

    ``velocity`` and ``velocity_std`` are (rows, cols) in mm/yr; attributes follow MintPy's
    ``timeseries2velocity`` (``FILE_TYPE=velocity``, ``UNIT=m/year``, ``START_DATE``, ``END_DATE``,
    ``DATE12``, ``REF_DATE``, ``REF_Y``/``REF_X``...).
    """
    time = np.asarray(dates).astype("datetime64[D]")
    attrs = _mintpy_attrs(grid, wavelength, time, reference_pixel)
    attrs.update(FILE_TYPE="velocity", UNIT="m/year")
    target = Path(path)
    with _atomic(target) as tmp, h5py.File(tmp, "w") as f:
        f.attrs.update(attrs)
        for name, values in (("velocity", velocity), ("velocityStd", velocity_std)):
            f.create_dataset(name, data=(np.asarray(values, dtype=np.float64) * 1e-3).astype(np.float32))
            f[name].attrs["UNIT"] = "m/year"
    return target
