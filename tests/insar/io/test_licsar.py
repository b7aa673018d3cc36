import numpy as np
import pytest
import rasterio

from strata.insar.errors import ReaderError
from strata.insar.io import open_stack
from strata.insar.io.licsar import read_licsar, write_licsar
from strata.insar.simulate import write_stack


def test_round_trip_uint8_coherence(simulated, round_trip, tmp_path):
    got = round_trip("licsar", coherence_atol=0.5 / 255 + 1e-6)
    geoc = tmp_path / "GEOC"
    label = str(got["pair"].values[0])
    with rasterio.open(geoc / label / f"{label}.geo.cc.tif") as src:
        assert src.dtypes[0] == "uint8"  # as LiCSAR publishes coherence
    np.testing.assert_allclose(got["height"].values, simulated.dem.values, rtol=1e-6)
    np.testing.assert_allclose(got["incidence_angle"].values, 39.0, atol=1e-3)
    assert (geoc / "metadata.txt").is_file()
    assert (geoc / "baselines").is_file()


def test_float_coherence_and_parent_folder(short, tmp_path):
    write_licsar(short.stack, tmp_path, coherence_dtype="float32")
    stack = read_licsar(tmp_path)  # the folder that holds GEOC/
    np.testing.assert_allclose(stack["coherence"].values, short.stack["coherence"].values, atol=1e-6)


def test_wavelength_from_radar_frequency(short, tmp_path):
    geoc = write_stack(short, tmp_path, "licsar")
    (geoc / "metadata.txt").write_text("master=20190101\nradar_frequency=5.405e9 Hz\n")
    assert read_licsar(geoc).attrs["wavelength"] == pytest.approx(299_792_458.0 / 5.405e9)


@pytest.fixture
def geoc(short, tmp_path):
    return write_stack(short, tmp_path, "licsar")


def _first_pair(geoc):
    return sorted(p for p in geoc.iterdir() if p.is_dir())[0]


def test_folder_that_is_not_a_date_pair(geoc):
    bad = geoc / "20190101_2019011"
    bad.mkdir()
    (bad / "20190101_2019011.geo.unw.tif").write_bytes(b"")
    with pytest.raises(ReaderError, match="20190101_2019011.*not a date pair"):
        open_stack(geoc, "licsar")


def test_impossible_date_in_folder_name(geoc):
    (geoc / "20190101_20191345").mkdir()
    with pytest.raises(ReaderError, match="20190101_20191345"):
        open_stack(geoc, "licsar")


def test_missing_coherence_file(geoc):
    pair = _first_pair(geoc)
    (pair / f"{pair.name}.geo.cc.tif").unlink()
    with pytest.raises(ReaderError, match=f"{pair.name}.geo.cc.tif: file is missing"):
        open_stack(geoc, "licsar")


def test_grid_that_does_not_match(geoc):
    pair = _first_pair(geoc)
    path = pair / f"{pair.name}.geo.unw.tif"
    with rasterio.open(path) as src:
        profile = src.profile
    profile.update(width=profile["width"] - 1)
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.ones((1, profile["height"], profile["width"]), dtype=np.float32))
    # the first pair sets the grid: every other file is named as not matching it
    with pytest.raises(ReaderError, match="does not match"):
        open_stack(geoc, "licsar")


def test_truncated_file(geoc):
    pair = sorted(p for p in geoc.iterdir() if p.is_dir())[3]
    path = pair / f"{pair.name}.geo.unw.tif"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(ReaderError, match=f"{pair.name}.geo.unw.tif"):
        open_stack(geoc, "licsar")


def test_all_nan_interferogram(geoc):
    pair = sorted(p for p in geoc.iterdir() if p.is_dir())[5]
    path = pair / f"{pair.name}.geo.unw.tif"
    with rasterio.open(path, "r+") as dst:
        dst.write(np.zeros((1, dst.height, dst.width), dtype=np.float32))  # 0 = LiCSAR no-data
    with pytest.raises(ReaderError, match=f"{pair.name}.geo.unw.tif: interferogram has no valid pixel"):
        open_stack(geoc, "licsar")


def test_no_interferogram(tmp_path):
    (tmp_path / "GEOC").mkdir()
    with pytest.raises(ReaderError, match="no interferogram folder"):
        open_stack(tmp_path, "licsar")


def test_crs_that_does_not_match(geoc):
    pair = sorted(p for p in geoc.iterdir() if p.is_dir())[2]
    path = pair / f"{pair.name}.geo.cc.tif"
    with rasterio.open(path) as src:
        profile, data = src.profile, src.read()
    profile.update(crs="EPSG:32614")
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
    with pytest.raises(ReaderError, match=f"{pair.name}.geo.cc.tif: CRS does not match"):
        open_stack(geoc, "licsar")
