import numpy as np
import pytest
import rasterio

from strata.insar.errors import ReaderError
from strata.insar.io import open_stack
from strata.insar.io.gamma import read_bperp_par
from strata.insar.simulate import write_stack
from strata.insar.stack import dates_of, phase_to_mm


def test_round_trip(simulated, round_trip, tmp_path):
    got = round_trip("gamma")
    np.testing.assert_allclose(got["height"].values, simulated.dem.values, rtol=1e-6)
    unw = sorted((tmp_path / "geotiffs").glob("*_unw.tif"))[0]
    with rasterio.open(unw) as src:
        tags = src.tags()
    assert tags["DATA_TYPE"] == "ORIGINAL_IFG" and "FIRST_DATE" in tags and "WAVELENGTH_METRES" in tags


@pytest.mark.filterwarnings("ignore:All-NaN slice")
def test_real_mexico_city_stack(shared_data):
    stack = open_stack(shared_data / "pyrate_cropA", "gamma")
    assert stack.sizes == {"pair": 30, "y": 60, "x": 100}
    assert dates_of(stack).size == 13
    assert str(stack["pair"].values[0]) == "20180106_20180130"
    assert stack.attrs["wavelength"] == pytest.approx(0.0555041577, rel=1e-8)
    assert stack["incidence_angle"].values.mean() == pytest.approx(39.70, abs=0.01)
    assert 2200 < float(np.nanmean(stack["height"].values)) < 2300  # Mexico City basin
    # baselines from the GAMMA base_perp tables, coherence within 0..1
    assert stack["perpendicular_baseline"].values[0] == pytest.approx(
        read_bperp_par(shared_data / "pyrate_cropA/geometry/20180106-20180130_VV_8rlks_bperp.par")
    )
    coherence = stack["coherence"].values
    assert 0 <= coherence.min() and coherence.max() <= 1
    phase = stack["unwrapped_phase"].values
    assert 0 < np.isnan(phase).mean() < 0.05  # GAMMA's zeros are no-data
    # the known subsidence: relative LOS rates reach -15 cm/yr or more (negative = away from satellite)
    span = (stack["secondary"] - stack["reference"]).values.astype("timedelta64[D]").astype(float) / 365.25
    mm = phase_to_mm(phase, stack.attrs["wavelength"])
    rate = (mm - np.nanmedian(mm, axis=(1, 2), keepdims=True)) / span[:, None, None]
    velocity = np.nanmedian(rate, axis=0)
    assert np.nanpercentile(velocity, 1) < -150
    assert np.nanpercentile(velocity, 99) < 150


@pytest.fixture
def folder(short, tmp_path):
    return write_stack(short, tmp_path, "gamma") / "geotiffs"


def test_missing_coherence_file(folder):
    cc = sorted(folder.glob("*_cc.tif"))[0]
    unw_name = cc.name.replace("_flat_eqa_cc.tif", "_eqa_unw.tif")
    cc.unlink()
    with pytest.raises(ReaderError, match=f"{unw_name}: no coherence file"):
        open_stack(folder.parent, "gamma")


def test_grid_that_does_not_match(folder):
    path = sorted(folder.glob("*_cc.tif"))[2]
    with rasterio.open(path) as src:
        profile = src.profile
    profile.update(height=profile["height"] + 2)
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.ones((1, profile["height"], profile["width"]), dtype=np.float32))
    with pytest.raises(ReaderError, match=f"{path.name}: grid"):
        open_stack(folder.parent, "gamma")


def test_all_nan_interferogram(folder):
    path = sorted(folder.glob("*_unw.tif"))[1]
    with rasterio.open(path, "r+") as dst:
        dst.write(np.zeros((1, dst.height, dst.width), dtype=np.float32))
    with pytest.raises(ReaderError, match=f"{path.name}: interferogram has no valid pixel"):
        open_stack(folder.parent, "gamma")


def test_truncated_file(folder):
    path = sorted(folder.glob("*_unw.tif"))[3]
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ReaderError, match=path.name):
        open_stack(folder.parent, "gamma")


def test_missing_folder(tmp_path):
    with pytest.raises(ReaderError, match="folder is missing"):
        open_stack(tmp_path / "nothing", "gamma")
