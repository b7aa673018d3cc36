import netCDF4
import numpy as np
import pytest
import rasterio

from strata.insar.errors import ReaderError
from strata.insar.io import open_stack
from strata.insar.simulate import write_stack


def test_round_trip(simulated, round_trip, tmp_path):
    got = round_trip("aria")
    np.testing.assert_array_equal(
        got["connected_components"].values, np.isfinite(simulated.stack["unwrapped_phase"].values)
    )
    products = sorted(tmp_path.glob("S1-GUNW-*.nc"))
    assert len(products) == got.sizes["pair"]
    first = products[0]
    later, earlier = first.name.split("-")[6].split("_")  # ARIA names pairs later_earlier
    assert later > earlier
    with netCDF4.Dataset(first) as ds:
        data = ds["science/grids/data"]
        assert data["unwrappedPhase"].dimensions == ("latitude", "longitude")
        assert float(ds["science/radarMetaData/wavelength"][...]) == pytest.approx(got.attrs["wavelength"])
        assert ds["science/grids/imagingGeometry/perpendicularBaseline"].ndim == 3
        label = f"{earlier}_{later}"
        k = list(got["pair"].values).index(label)
        stored = np.asarray(data["unwrappedPhase"][:].filled(np.nan))
    # stored phase is later minus earlier: the negative of the stack's
    np.testing.assert_allclose(
        stored, -simulated.stack["unwrapped_phase"].values[k], atol=1e-5, equal_nan=True
    )
    # GDAL (through which ARIA-tools reads the layers) sees the grid, CRS and no-data value
    with rasterio.open(f"netcdf:{first}:/science/grids/data/unwrappedPhase") as src:
        assert src.crs.to_epsg() == 4326
        np.testing.assert_allclose(src.transform.to_gdal(), got.attrs["transform"], atol=1e-9)
        assert src.nodata == 0


@pytest.fixture
def folder(short, tmp_path):
    return write_stack(short, tmp_path, "aria")


def _products(folder):
    return sorted(folder.glob("*.nc"))


def test_not_a_gunw_product(folder):
    other = folder / "S1-GUNW-A-R-005-tops-20190301_20190101-004021-09925W_01948N-PP-0000-v3_0_1.nc"
    with netCDF4.Dataset(other, "w") as ds:
        ds.createGroup("science")
    with pytest.raises(ReaderError, match=f"{other.name}: no group or variable"):
        open_stack(folder, "aria")


def test_name_without_date_pair(folder):
    path = _products(folder)[0]
    path.rename(folder / "my-product.nc")
    with pytest.raises(ReaderError, match="my-product.nc: name is not an ARIA GUNW name"):
        open_stack(folder, "aria")


def test_grid_that_does_not_match(folder):
    path = _products(folder)[2]
    with netCDF4.Dataset(path, "r+") as ds:
        ds["science/grids/data/longitude"][:] = ds["science/grids/data/longitude"][:] + 0.5
    with pytest.raises(ReaderError, match=f"{path.name}: geotransform"):
        open_stack(folder, "aria")


def test_truncated_file(folder):
    path = _products(folder)[1]
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ReaderError, match=path.name):
        open_stack(folder, "aria")


def test_all_nan_interferogram(folder):
    path = _products(folder)[4]
    with netCDF4.Dataset(path, "r+") as ds:
        var = ds["science/grids/data/unwrappedPhase"]
        var[:] = np.zeros(var.shape, dtype=np.float32)  # the _FillValue
    with pytest.raises(ReaderError, match=f"{path.name}: interferogram has no valid pixel"):
        open_stack(folder, "aria")


def test_empty_folder(tmp_path):
    with pytest.raises(ReaderError, match="no ARIA GUNW product"):
        open_stack(tmp_path, "aria")
