import h5py
import numpy as np
import pytest

from strata.insar.errors import ReaderError
from strata.insar.io import open_stack
from strata.insar.simulate import write_stack


def test_round_trip(simulated, round_trip, tmp_path):
    got = round_trip("mintpy")
    np.testing.assert_allclose(got["height"].values, simulated.dem.values)
    assert "connected_components" in got
    stack_file = tmp_path / "inputs" / "ifgramStack.h5"
    with h5py.File(stack_file, "r") as f:  # MintPy's layout (prep_aria / load_data)
        assert f.attrs["FILE_TYPE"] == "ifgramStack"
        assert f["date"].dtype == np.dtype("S8") and f["date"].shape == (got.sizes["pair"], 2)
        assert f["unwrapPhase"].dtype == np.float32
        assert f["connectComponent"].dtype == np.int16
        assert f["dropIfgram"].dtype == bool
        assert f.attrs["EPSG"] == "4326" and f.attrs["X_UNIT"] == "degrees"
        assert float(f.attrs["Y_STEP"]) < 0
        assert int(f.attrs["LENGTH"]) == got.sizes["y"] and int(f.attrs["WIDTH"]) == got.sizes["x"]
        # no-data is 0 in MintPy files, NaN in the stack
        assert np.all(f["unwrapPhase"][()][np.isnan(simulated.stack["unwrapped_phase"].values)] == 0)


@pytest.fixture
def stack_file(short, tmp_path):
    return write_stack(short, tmp_path, "mintpy")


def test_dropped_interferograms_are_left_out(stack_file):
    with h5py.File(stack_file, "r+") as f:
        keep = f["dropIfgram"][()]
        keep[[0, 3]] = False
        f["dropIfgram"][...] = keep
        labels = [f"{a.decode()}_{b.decode()}" for a, b in f["date"][()]]
    stack = open_stack(stack_file, "mintpy")
    assert stack.sizes["pair"] == len(labels) - 2
    assert labels[0] not in stack["pair"].values and labels[3] not in stack["pair"].values
    with h5py.File(stack_file, "r") as f:
        np.testing.assert_allclose(stack["perpendicular_baseline"].values, f["bperp"][()][keep])


def test_folder_with_inputs(stack_file):
    assert open_stack(stack_file.parent.parent, "mintpy").sizes["pair"] > 0


def test_missing_dataset(stack_file):
    with h5py.File(stack_file, "r+") as f:
        del f["coherence"]
    with pytest.raises(ReaderError, match="ifgramStack.h5: dataset 'coherence' is missing"):
        open_stack(stack_file, "mintpy")


def test_shapes_that_do_not_match(stack_file):
    with h5py.File(stack_file, "r+") as f:
        n, rows, cols = f["coherence"].shape
        del f["coherence"]
        f["coherence"] = np.ones((n, rows, cols - 1), dtype=np.float32)
    with pytest.raises(
        ReaderError, match="ifgramStack.h5: unwrapPhase, coherence and date shapes do not match"
    ):
        open_stack(stack_file, "mintpy")


def test_truncated_file(stack_file):
    data = stack_file.read_bytes()
    stack_file.write_bytes(data[: len(data) // 2])
    with pytest.raises(ReaderError, match="ifgramStack.h5"):
        open_stack(stack_file, "mintpy")


def test_all_nan_interferogram(stack_file):
    with h5py.File(stack_file, "r+") as f:
        f["unwrapPhase"][2] = 0.0
        label = "_".join(d.decode() for d in f["date"][2])
    with pytest.raises(ReaderError, match=rf"ifgramStack.h5 \[{label}\]: interferogram has no valid pixel"):
        open_stack(stack_file, "mintpy")


def test_missing_file(tmp_path):
    with pytest.raises(ReaderError, match="no ifgramStack.h5"):
        open_stack(tmp_path, "mintpy")


MINTPY_CHECK = """
import sys
import numpy as np
from mintpy.objects import ifgramStack
from mintpy.utils import readfile
stack = ifgramStack(sys.argv[1] + "/inputs/ifgramStack.h5")
stack.open(print_msg=False)
np.save(sys.argv[1] + "/unw.npy", stack.read(datasetName="unwrapPhase", print_msg=False))
height, atr = readfile.read(sys.argv[1] + "/inputs/geometryGeo.h5", datasetName="height")
print(stack.numIfgram, stack.get_date12_list()[0], atr["FILE_TYPE"], height.shape[0])
"""


def test_mintpy_reads_the_stack(short, tmp_path, mintpy_run):
    write_stack(short, tmp_path, "mintpy")
    first = str(short.stack["pair"].values[0])
    stdout = mintpy_run(MINTPY_CHECK, str(tmp_path))
    assert stdout.split() == [str(short.stack.sizes["pair"]), first, "geometry", str(short.stack.sizes["y"])]
    expected = np.nan_to_num(short.stack["unwrapped_phase"].values)  # MintPy's no-data is 0
    np.testing.assert_allclose(np.load(tmp_path / "unw.npy"), expected, atol=1e-6)
