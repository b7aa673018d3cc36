from pathlib import Path

import dask.array as da
import numpy as np
import pytest
import rasterio
import zarr
from rasterio.transform import Affine

from strata.insar.errors import ReaderError
from strata.insar.io.slc import (
    make_slc_stack,
    read_slc_envi,
    read_slc_geotiffs,
    read_slc_stack,
    read_slc_zarr,
    read_slc_znap,
    write_slc_zarr,
)

DATES = ("20230101", "20230113", "20230125")


def _slcs(shape: tuple[int, int] = (30, 50)) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [
        (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64) for _ in DATES
    ]


def _write_tif(path: Path, data: np.ndarray, dtype: str | None = None) -> None:
    profile = {
        "driver": "GTiff",
        "height": data.shape[0],
        "width": data.shape[1],
        "count": 1,
        "dtype": dtype or data.dtype.name,
        "crs": "EPSG:32631",
        "transform": Affine(10.0, 0.0, 600000.0, 0.0, -10.0, 5800000.0),
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)


def _write_envi(path: Path, data: np.ndarray, *, big_endian: bool, code: int = 6) -> None:
    dtype = data.dtype.newbyteorder(">" if big_endian else "<")
    data.astype(dtype).tofile(path)
    header = (
        f"ENVI\nsamples = {data.shape[1]}\nlines = {data.shape[0]}\nbands = 1\nheader offset = 0\n"
        f"data type = {code}\ninterleave = bsq\nbyte order = {int(big_endian)}\n"
    )
    path.with_name(path.name + ".hdr").write_text(header)


def test_znap_real_pair_reads_lazily_with_geometry(shared_data):
    stack = read_slc_znap(shared_data / "sarxarray")
    assert stack.sizes == {"date": 2, "y": 84, "x": 338}
    assert [str(d)[:10] for d in stack["date"].values] == ["2023-03-19", "2023-03-31"]
    assert stack["slc"].dtype == np.complex64 and isinstance(stack["slc"].data, da.Array)
    assert {"latitude", "longitude", "height", "h2ph"} <= set(stack.data_vars)
    latitude = stack["latitude"].values
    assert 52.2 < latitude.min() < latitude.max() < 52.5  # Amsterdam
    # SNAP exports h2ph for the secondary only: the reference date (31 March) gets zero
    h2ph = stack["h2ph"].values
    assert np.all(h2ph[1] == 0) and np.any(h2ph[0] != 0)
    amplitude = np.abs(stack["slc"].values)
    assert amplitude.mean() > 10 and np.isfinite(amplitude).all()
    assert read_slc_stack(shared_data / "sarxarray").attrs["source_format"] == "znap"


def test_geotiff_folder_round_trip_with_geometry_and_baselines(tmp_path):
    slcs = _slcs()
    for date, slc in zip(DATES, slcs, strict=True):
        _write_tif(tmp_path / f"{date}.tif", slc)
    _write_tif(tmp_path / "height.tif", np.full(slcs[0].shape, 12.5, dtype=np.float32))
    (tmp_path / "baselines.txt").write_text("# date bperp\n20230101 0\n20230113 42.5\n20230125 -17\n")
    stack = read_slc_stack(tmp_path)
    assert stack.attrs["source_format"] == "geotiff"
    np.testing.assert_array_equal(stack["slc"].values, np.stack(slcs))
    np.testing.assert_array_equal(stack["perpendicular_baseline"].values, [0.0, 42.5, -17.0])
    assert float(stack["height"].mean()) == 12.5
    assert stack["x"].values[0] == 600005.0 and stack["y"].values[0] == 5799995.0
    assert "32631" in stack.attrs["crs"] or "UTM zone 31N" in stack.attrs["crs"]


def test_sentinel1_cint16_geotiffs_read_as_complex64(tmp_path):
    """Sentinel-1 SAFE measurement rasters are CInt16 (complex_int16)."""
    slcs = [np.round(slc * 100) for slc in _slcs((16, 24))]
    for date, slc in zip(DATES, slcs, strict=True):
        _write_tif(tmp_path / f"{date}.tif", slc, dtype="complex_int16")
    stack = read_slc_geotiffs(tmp_path)
    assert stack["slc"].dtype == np.complex64
    np.testing.assert_array_equal(stack["slc"].values, np.stack(slcs))


@pytest.mark.parametrize("big_endian", [False, True])
def test_envi_folder_round_trip_in_both_byte_orders(tmp_path, big_endian):
    slcs = _slcs((20, 35))
    for date, slc in zip(DATES, slcs, strict=True):
        _write_envi(tmp_path / f"{date}.slc", slc, big_endian=big_endian)
    stack = read_slc_stack(tmp_path)
    assert stack.attrs["source_format"] == "envi"
    np.testing.assert_array_equal(stack["slc"].values, np.stack(slcs))


def test_zarr_round_trip(tmp_path):
    slcs = np.stack(_slcs())
    dates = [np.datetime64(f"{d[:4]}-{d[4:6]}-{d[6:]}") for d in DATES]
    stack = make_slc_stack(
        da.from_array(slcs, chunks=(1, 16, 16)),
        dates,
        perpendicular_baseline=[0.0, 10.0, 20.0],
        geometry={"height": np.ones(slcs.shape[1:], dtype=np.float32)},
    )
    write_slc_zarr(stack, tmp_path / "stack.zarr")
    back = read_slc_stack(tmp_path / "stack.zarr")
    assert back.attrs["source_format"] == "zarr"
    np.testing.assert_array_equal(back["slc"].values, slcs)
    np.testing.assert_array_equal(back["date"].values, stack["date"].values)
    np.testing.assert_array_equal(back["perpendicular_baseline"].values, [0.0, 10.0, 20.0])
    assert float(back["height"].sum()) == slcs.shape[1] * slcs.shape[2]


def test_slcs_of_different_shapes_name_the_file(tmp_path):
    slcs = _slcs()
    _write_tif(tmp_path / "20230101.tif", slcs[0])
    _write_tif(tmp_path / "20230113.tif", slcs[1][:, :40])
    with pytest.raises(ReaderError, match="20230113.tif"):
        read_slc_geotiffs(tmp_path)
    envi = tmp_path / "envi"
    envi.mkdir()
    _write_envi(envi / "20230101.slc", slcs[0], big_endian=False)
    _write_envi(envi / "20230113.slc", slcs[1][:20], big_endian=False)
    with pytest.raises(ReaderError, match="20230113.slc"):
        read_slc_envi(envi)


def test_real_valued_raster_given_as_slc_names_the_file(tmp_path):
    _write_tif(tmp_path / "20230101.tif", _slcs()[0])
    _write_tif(tmp_path / "20230113.tif", np.abs(_slcs()[1]).astype(np.float32))
    with pytest.raises(ReaderError, match=r"20230113\.tif.*real-valued"):
        read_slc_geotiffs(tmp_path)
    envi = tmp_path / "envi"
    envi.mkdir()
    _write_envi(envi / "20230101.slc", np.abs(_slcs()[0]).astype(np.float32), big_endian=False, code=4)
    with pytest.raises(ReaderError, match=r"20230101\.slc.*complex"):
        read_slc_envi(envi)


def test_missing_files_are_named(tmp_path):
    with pytest.raises(ReaderError, match="nowhere"):
        read_slc_stack(tmp_path / "nowhere")
    _write_envi(tmp_path / "20230101.slc", _slcs()[0], big_endian=False)
    (tmp_path / "20230113.slc").write_bytes(b"\0" * 64)  # a binary without its header
    with pytest.raises(ReaderError, match=r"20230113\.slc.*no ENVI header"):
        read_slc_envi(tmp_path)
    (tmp_path / "20230113.slc.hdr").write_text((tmp_path / "20230101.slc.hdr").read_text())
    with pytest.raises(ReaderError, match=r"20230113\.slc.*bytes"):
        read_slc_envi(tmp_path)  # truncated binary
    (tmp_path / "20230113.slc").unlink()
    (tmp_path / "20230113.slc.hdr").unlink()
    (tmp_path / "baselines.txt").write_text("20230113 12.0\n")
    with pytest.raises(ReaderError, match=r"baselines\.txt: no baseline for 2023-01-01"):
        read_slc_envi(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ReaderError, match="not an SLC stack"):
        read_slc_stack(empty)
    with pytest.raises(ReaderError, match="stack.zarr"):
        read_slc_zarr(tmp_path / "stack.zarr")


def test_znap_store_without_q_band_is_named(tmp_path):
    store = tmp_path / "20230319.znap"
    zarr.open_array(str(store / "i_VV_19Mar2023"), mode="w", shape=(4, 6), dtype=">f4")[:] = 1.0
    with pytest.raises(ReaderError, match=r"20230319\.znap.*q_VV_19Mar2023"):
        read_slc_znap(tmp_path)
    zarr.open_array(str(store / "q_VV_19Mar2023"), mode="w", shape=(4, 6), dtype=">f4")[:] = 2.0
    stack = read_slc_znap(tmp_path)
    assert stack["slc"].values[0, 0, 0] == 1 + 2j and stack.sizes["date"] == 1
