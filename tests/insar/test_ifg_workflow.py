import datetime as dt
import sys

import numpy as np
import pytest
import rasterio

from strata.cli import main
from strata.insar.config import ConfigError
from strata.insar.errors import NetworkError, ReaderError
from strata.insar.ifg_workflow import IfgConfig, PairOptions, UnwrapOptions, parse_looks, run
from strata.insar.interferogram import multilook
from strata.insar.inversion import coherence_to_weight, invert_nsbas
from strata.insar.io import open_stack
from strata.insar.io.slc import write_slc_zarr
from strata.insar.io.slc_ifgs import read_slc_ifgs
from strata.insar.network import pair_indices
from strata.insar.simulate import (
    AcquisitionConfig,
    AtmosphereConfig,
    BowlConfig,
    DecorrelationConfig,
    DeformationConfig,
    GridConfig,
    SimulationConfig,
    TopographyConfig,
)
from strata.insar.simulate.slc import simulate_slc_stack
from strata.insar.stack import phase_to_mm, validate_stack
from strata.insar.velocity import fit_velocity

LOOKS = (4, 4)


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """One year of 12-day SLCs over a subsiding bowl, through `run` to an interferogram folder."""
    sim = simulate_slc_stack(
        SimulationConfig(
            seed=11,
            grid=GridConfig(rows=128, cols=256, chunk_size=128),
            acquisitions=AcquisitionConfig(start=dt.date(2021, 1, 1), end=dt.date(2021, 12, 31)),
            atmosphere=AtmosphereConfig(turbulent_mm=0.0, stratified_mm_per_km=0.0, ramp_mm=0.0),
            deformation=DeformationConfig(bowls=[BowlConfig(rate_mm_yr=-50.0)]),
            decorrelation=DecorrelationConfig(coherence_min=0.45, coherence_max=0.9),
            topography=TopographyConfig(dem_error_std_m=0.0),  # DEM error is the engine's to correct
        )
    )
    root = tmp_path_factory.mktemp("ifg")
    write_slc_zarr(sim.slc, root / "slc.zarr")
    config = IfgConfig(
        input=root / "slc.zarr",
        output=root / "out",
        looks_azimuth=LOOKS[0],
        looks_range=LOOKS[1],
        pairs=PairOptions(n_nearest=2),
        chunk_size=96,  # several blocks: the chunked path is the one exercised
    )
    steps: list[str] = []
    result = run(config, progress=lambda step, done: steps.append(step))
    return sim, result, steps


def test_simulated_slc_stack_to_nsbas_velocity(simulated):
    sim, result, steps = simulated
    assert steps[0] == "reading SLC stack" and steps[-1] == "done"
    stack = read_slc_ifgs(result.output_dir)
    validate_stack(stack)
    n_dates = sim.slc.sizes["date"]
    assert stack.sizes["pair"] == 2 * n_dates - 3 == len(result.pairs)
    row, col = result.reference_pixel
    phase = stack["unwrapped_phase"].values
    # every pair is referenced at the same pixel: no 2 pi k left there
    wrapped = np.angle(np.exp(1j * phase[:, row, col]))
    np.testing.assert_allclose(phase[:, row, col], wrapped, atol=1e-5)
    index = pair_indices(stack["reference"].values, stack["secondary"].values)
    inversion = invert_nsbas(
        phase - phase[:, row : row + 1, col : col + 1],
        index.pairs,
        index.dates,
        weight=coherence_to_weight(stack["coherence"].values, LOOKS[0] * LOOKS[1]),
    )
    fit = fit_velocity(phase_to_mm(inversion.timeseries, stack.attrs["wavelength"]), index.dates)
    truth = multilook(sim.velocity.values, LOOKS)
    truth = truth - truth[row, col]
    rmse = float(np.sqrt(np.nanmean((fit.velocity - truth) ** 2)))
    assert np.ptp(truth) > 40  # the bowl is there to be found
    assert rmse <= 2.0, f"velocity RMSE {rmse:.2f} mm/yr"


def test_output_rasters_follow_the_documented_layout(simulated):
    _, result, _ = simulated
    label = result.pairs[0]
    folder = result.output_dir / label
    with rasterio.open(folder / f"{label}.cc.tif") as src:
        assert src.dtypes[0] == "float32"
        coh = src.read(1)
        tags = src.tags()
    assert 0.0 <= coh.min() and coh.max() <= 1.0
    assert tags["FIRST_DATE"] == f"{label[:4]}-{label[4:6]}-{label[6:8]}"
    assert float(tags["WAVELENGTH_METRES"]) == pytest.approx(0.05546576)
    assert "PERPENDICULAR_BASELINE_METRES" in tags
    with rasterio.open(folder / f"{label}.int.tif") as src:
        assert src.dtypes[0] == "complex64"
    with rasterio.open(folder / f"{label}.unw.tif") as src:
        assert src.dtypes[0] == "float32" and src.shape == coh.shape == (128 // 4, 256 // 4)
    assert (result.output_dir / "height.tif").is_file()
    assert result.mean_coherence[label] == pytest.approx(float(coh.mean()), rel=1e-5)


def test_output_opens_through_the_reader_registry(simulated):
    _, result, _ = simulated
    stack = open_stack(result.output_dir, "ifg")
    assert stack.attrs["source_format"] == "ifg"
    assert "connected_components" in stack and "height" in stack


def _strata(args: list[str], monkeypatch, capsys) -> tuple[int, str, str]:
    """Run the ``strata`` entry point in-process; returns (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["strata", *args])
    with pytest.raises(SystemExit) as stopped:
        main()
    captured = capsys.readouterr()
    return int(stopped.value.code or 0), captured.out, captured.err


def test_cli_on_the_real_amsterdam_pair(shared_data, tmp_path, monkeypatch, capsys):
    args = ["insar", "ifg", "--input", str(shared_data / "sarxarray"), "--output", str(tmp_path)]
    code, out, err = _strata([*args, "--looks", "20x5"], monkeypatch, capsys)
    assert code == 0, err
    label = "20230319_20230331"
    mean = float(out.split(f"{label}\tmean coherence")[1].split()[0])
    assert 0.7 < mean < 0.8
    for layer in ("int", "cc", "unw", "conncomp"):
        assert (tmp_path / label / f"{label}.{layer}.tif").is_file()
    with rasterio.open(tmp_path / "latitude.tif") as src:
        assert 52.2 < float(src.read(1).mean()) < 52.5  # multilooked geolocation of Amsterdam
    stack = read_slc_ifgs(tmp_path)
    assert stack.sizes == {"pair": 1, "y": 84 // 5, "x": 338 // 20}
    assert np.isfinite(stack["unwrapped_phase"].values).mean() > 0.99


def test_cli_reads_a_yaml_config_and_flags_override_it(shared_data, tmp_path, monkeypatch, capsys):
    config = IfgConfig(
        input=shared_data / "sarxarray",
        output=tmp_path / "from-config",
        looks_range=10,
        looks_azimuth=2,
        unwrap=UnwrapOptions(enabled=False),
    )
    config.to_yaml(tmp_path / "ifg.yaml")
    assert IfgConfig.from_yaml(tmp_path / "ifg.yaml") == config
    code, _, err = _strata(
        ["insar", "ifg", "--config", str(tmp_path / "ifg.yaml"), "--looks", "20x4"], monkeypatch, capsys
    )
    assert code == 0, err
    label = "20230319_20230331"
    with rasterio.open(tmp_path / "from-config" / label / f"{label}.cc.tif") as src:
        assert src.shape == (84 // 4, 338 // 20)
    assert not (tmp_path / "from-config" / label / f"{label}.unw.tif").exists()


def test_cli_bad_input_is_one_line_naming_the_file(tmp_path, monkeypatch, capsys):
    (tmp_path / "20230101.tif").write_bytes(b"not a tiff")
    args = ["insar", "ifg", "--input", str(tmp_path), "--output", str(tmp_path / "o")]
    code, _, err = _strata(args, monkeypatch, capsys)
    assert code == 2
    assert "Traceback" not in err and "20230101.tif" in err
    code, _, err = _strata([*args, "--looks", "5"], monkeypatch, capsys)
    assert code == 2 and "RGxAZ" in err


def test_explicit_pairs_and_options(tmp_path, shared_data):
    config = IfgConfig(
        input=shared_data / "sarxarray",
        output=tmp_path,
        looks_range=10,
        looks_azimuth=2,
        filter_strength=0.0,
        pairs=PairOptions(pairs=[("20230319", "20230331")]),
        unwrap=UnwrapOptions(enabled=False),
    )
    result = run(config)
    assert result.pairs == ["20230319_20230331"] and result.reference_pixel is None
    assert not (tmp_path / "20230319_20230331" / "20230319_20230331.unw.tif").exists()
    with pytest.raises(NetworkError, match="20230320"):
        run(config.model_copy(update={"pairs": PairOptions(pairs=[("20230320", "20230331")])}))
    with pytest.raises(ReaderError, match="missing"):
        run(config.model_copy(update={"input": tmp_path / "missing"}))


def test_parse_looks():
    assert parse_looks("20x5") == (20, 5)
    for text in ("20", "ax5", "0x5"):
        with pytest.raises(ConfigError, match="looks"):
            parse_looks(text)
    with pytest.raises(ConfigError, match="filter_patch"):
        IfgConfig.from_dict({"filter_patch": 31})
