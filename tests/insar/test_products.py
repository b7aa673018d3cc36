import dask.array as da
import h5py
import numpy as np
import pytest
import rasterio
import xarray as xr
from rasterio.crs import CRS

from strata.insar.io.products import (
    ProductGrid,
    write_cog,
    write_mintpy_timeseries,
    write_mintpy_velocity,
    write_timeseries_netcdf,
)

GRID = ProductGrid(600, 700, (-99.3, 0.001, 0.0, 19.6, 0.0, -0.001), CRS.from_epsg(4326).to_wkt())
DATES = np.array(["2019-01-01", "2019-01-13", "2019-01-25", "2019-02-18"], dtype="datetime64[D]")


@pytest.fixture(scope="module")
def velocity():
    rng = np.random.default_rng(1)
    values = rng.normal(0, 20, (GRID.rows, GRID.cols)).astype(np.float32)
    values[:50, :80] = np.nan
    return values


@pytest.fixture(scope="module")
def displacement():
    rng = np.random.default_rng(2)
    values = rng.normal(0, 5, (DATES.size, GRID.rows, GRID.cols)).astype(np.float32)
    values[0] = 0.0
    return values


def test_cog_is_valid(tmp_path, velocity):
    path = write_cog(tmp_path / "velocity.tif", velocity, GRID, units="mm/yr", description="LOS velocity")
    with rasterio.open(path) as src:
        assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert src.profile["tiled"] and src.block_shapes[0] == (256, 256)
        assert src.overviews(1)  # reduced-resolution levels for quick display
        assert src.dtypes[0] == "float32" and np.isnan(src.nodata)
        assert src.crs.to_epsg() == 4326
        assert src.transform.to_gdal() == pytest.approx(GRID.transform)
        assert src.units[0] == "mm/yr" and src.descriptions[0] == "LOS velocity"
        np.testing.assert_array_equal(src.read(1), velocity)
    assert [p.name for p in tmp_path.iterdir()] == ["velocity.tif"]  # no temporary left


def test_cog_with_wrong_shape_writes_nothing(tmp_path, velocity):
    with pytest.raises(ValueError, match="does not match the grid"):
        write_cog(tmp_path / "v.tif", velocity[:10], GRID, units="mm/yr", description="x")
    assert not list(tmp_path.iterdir())


def test_timeseries_netcdf_is_cf(tmp_path, displacement):
    std = da.from_array(np.full(displacement.shape, 1.5, np.float32), chunks=(1, 200, 200))
    path = write_timeseries_netcdf(
        tmp_path / "timeseries.nc",
        da.from_array(displacement, chunks=(1, 300, 300)),
        DATES,
        GRID,
        std=std,
        reference_pixel=(10, 20),
    )
    with xr.open_dataset(path) as ds:
        np.testing.assert_array_equal(ds["time"].values, DATES.astype("datetime64[ns]"))
        assert ds["displacement"].dims == ("time", "y", "x")
        assert ds["displacement"].attrs["units"] == "mm"
        assert ds["displacement"].attrs["grid_mapping"] == "spatial_ref"
        assert ds["spatial_ref"].attrs["grid_mapping_name"] == "latitude_longitude"
        assert ds["y"].attrs["standard_name"] == "latitude"
        assert ds.attrs["Conventions"].startswith("CF-")
        assert ds.attrs["reference_row"] == 10 and ds.attrs["reference_date"] == "2019-01-01"
        np.testing.assert_allclose(ds["displacement"].values, displacement)
        np.testing.assert_allclose(ds["displacement_std"].values, 1.5)
    with rasterio.open(f"netcdf:{path}:displacement") as src:  # GDAL sees the same grid and CRS
        assert src.crs.to_epsg() == 4326
        assert src.transform.to_gdal() == pytest.approx(GRID.transform)
        assert src.count == DATES.size


def test_mintpy_timeseries_layout(tmp_path, displacement):
    path = write_mintpy_timeseries(
        tmp_path / "timeseries.h5",
        da.from_array(displacement, chunks=(2, 256, 256)),
        DATES,
        GRID,
        wavelength=0.05546576,
        reference_pixel=(10, 20),
        perpendicular_baseline=[0, 10, -5, 3],
    )
    with h5py.File(path, "r") as f:
        # what mintpy.utils.readfile.read_attribute relies on: 2-D+ datasets and root attributes
        assert [name for name in f if f[name].ndim >= 2] == ["timeseries"]
        attrs = dict(f.attrs)
        assert attrs["FILE_TYPE"] == "timeseries" and attrs["UNIT"] == "m"
        assert attrs["REF_DATE"] == "20190101"
        assert (attrs["REF_Y"], attrs["REF_X"]) == ("10", "20")
        assert float(attrs["REF_LAT"]) == pytest.approx(19.6 - 0.0105)
        assert float(attrs["REF_LON"]) == pytest.approx(-99.3 + 0.0205)
        assert (attrs["LENGTH"], attrs["WIDTH"]) == ("600", "700")
        assert float(attrs["X_FIRST"]) == -99.3 and float(attrs["Y_STEP"]) == -0.001
        assert attrs["EPSG"] == "4326" and float(attrs["WAVELENGTH"]) == 0.05546576
        assert f["date"].dtype == np.dtype("S8")
        assert [d.decode() for d in f["date"][()]] == ["20190101", "20190113", "20190125", "20190218"]
        np.testing.assert_allclose(f["bperp"][()], [0, 10, -5, 3])
        np.testing.assert_allclose(f["timeseries"][()], displacement / 1000, rtol=1e-6)  # metres


def test_mintpy_velocity_layout(tmp_path, velocity):
    path = write_mintpy_velocity(
        tmp_path / "velocity.h5",
        velocity,
        np.abs(velocity) / 10,
        DATES,
        GRID,
        wavelength=0.05546576,
        reference_pixel=(1, 2),
    )
    with h5py.File(path, "r") as f:
        assert f.attrs["FILE_TYPE"] == "velocity" and f.attrs["UNIT"] == "m/year"
        assert f.attrs["DATE12"] == "20190101_20190218"
        assert f.attrs["START_DATE"] == "20190101" and f.attrs["END_DATE"] == "20190218"
        np.testing.assert_allclose(f["velocity"][()], velocity / 1000, rtol=1e-6)
        np.testing.assert_allclose(f["velocityStd"][()], np.abs(velocity) / 10000, rtol=1e-6)


MINTPY_CHECK = """
import sys
import numpy as np
from mintpy.objects import timeseries
from mintpy.utils import readfile
folder = sys.argv[1]
ts, atr = readfile.read(folder + "/timeseries.h5")
obj = timeseries(folder + "/timeseries.h5")
obj.open(print_msg=False)
vel, vatr = readfile.read(folder + "/velocity.h5")
std, _ = readfile.read(folder + "/velocity.h5", datasetName="velocityStd")
print(atr["FILE_TYPE"], atr["REF_DATE"], obj.numDate, vatr["FILE_TYPE"], vatr["DATE12"])
np.save(folder + "/ts_read.npy", ts)
np.save(folder + "/vel_read.npy", np.stack([vel, std]))
"""


def test_mintpy_reads_the_files(tmp_path, displacement, velocity, mintpy_run):
    write_mintpy_timeseries(tmp_path / "timeseries.h5", displacement, DATES, GRID, wavelength=0.05546576)
    write_mintpy_velocity(
        tmp_path / "velocity.h5", velocity, np.abs(velocity), DATES, GRID, wavelength=0.05546576
    )
    stdout = mintpy_run(MINTPY_CHECK, str(tmp_path))
    assert stdout.split() == ["timeseries", "20190101", "4", "velocity", "20190101_20190218"]
    np.testing.assert_allclose(np.load(tmp_path / "ts_read.npy"), displacement / 1000, rtol=1e-6)
    read = np.load(tmp_path / "vel_read.npy")
    np.testing.assert_allclose(read[0], velocity / 1000, rtol=1e-6)
    np.testing.assert_allclose(read[1], np.abs(velocity) / 1000, rtol=1e-6)
