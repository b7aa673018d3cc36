"""``strata insar``: config template, simulate, run (flags over config), real data, one-line errors."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
import yaml

from strata.cli import main
from strata.insar.config import InsarConfig
from strata.insar.interferogram import multilook
from strata.insar.io.slc import write_slc_zarr
from strata.insar.simulate import AcquisitionConfig, GridConfig, SimulationConfig
from strata.insar.simulate.slc import simulate_slc_stack


def invoke(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str, str]:
    """``strata insar ARGS`` in this process: (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["strata", "insar", *args])
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_print_empty_is_a_documented_round_trip(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = invoke(monkeypatch, capsys, "config", "--print-empty")
    assert code == 0
    assert yaml.safe_load(out) == json.loads(InsarConfig().model_dump_json())
    lines = out.splitlines()
    keys = [i for i, line in enumerate(lines) if not line.lstrip().startswith("#")]
    assert all(lines[i - 1].lstrip().startswith("#") for i in keys)  # every option has its description
    (tmp_path / "c.yaml").write_text(out)
    assert InsarConfig.from_yaml(tmp_path / "c.yaml") == InsarConfig()


def test_simulate_then_run_with_flags_over_config(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = invoke(
        monkeypatch, capsys, "simulate", "--output", str(tmp_path / "sim"), "--format", "aria",
        "--rows", "32", "--cols", "32", "--years", "0.5",
    )  # fmt: skip
    assert code == 0, out
    config = InsarConfig.from_dict({"output": str(tmp_path / "from-config"), "chunking": {"chunk_size": 16}})
    config.to_yaml(tmp_path / "run.yaml")
    code, out, err = invoke(
        monkeypatch, capsys, "run", "--config", str(tmp_path / "run.yaml"), "--input", str(tmp_path / "sim"),
        "--format", "aria", "--output", str(tmp_path / "out"),
    )  # fmt: skip
    assert code == 0, err
    assert not (tmp_path / "from-config").exists()  # --output overrides the config file
    with rasterio.open(tmp_path / "out" / "velocity.tif") as src:
        velocity = src.read(1)
    with rasterio.open(tmp_path / "sim" / "truth_velocity.tif") as src:
        truth = src.read(1)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    ref = summary["reference"]
    error = (velocity - (truth - truth[ref["row"], ref["col"]]))[np.isfinite(velocity)]
    assert np.median(np.abs(error)) < 10.0  # half a year of data: a rough but unbiased velocity
    assert "velocity.tif" in out


def test_run_mexico_city_with_reference(
    shared_data: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = invoke(
        monkeypatch, capsys, "run", "--input", str(shared_data / "pyrate_cropA"), "--format", "gamma",
        "--output", str(tmp_path / "out"), "--reference", "-99.176,19.373",
    )  # fmt: skip
    assert code == 0, err
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["reference"]["mode"] == "given lon/lat"
    assert summary["velocity"]["percentiles"]["5"] < -100.0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--input", "{missing}", "--format", "licsar", "--output", "{out}"], "missing"),
        (["run", "--input", "{tmp}", "--format", "sentinel", "--output", "{out}"], "sentinel"),
        (
            ["run", "--input", "{tmp}", "--format", "gamma", "--reference", "east", "--output", "{out}"],
            "--reference",
        ),
        (["run", "--config", "{missing}/c.yaml"], "c.yaml"),
    ],
)
def test_bad_input_is_one_line_exit_2(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    args: list[str],
    message: str,
) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # no wrapping of long paths
    values = {"missing": str(tmp_path / "missing"), "tmp": str(tmp_path), "out": str(tmp_path / "out")}
    code, _, err = invoke(monkeypatch, capsys, *[a.format(**values) for a in args])
    assert code == 2
    assert "Traceback" not in err
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_ifg_then_run_with_the_ifg_format(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """`strata insar ifg` on simulated SLCs, then `strata insar run --format ifg` on its output.

    The simulation's defaults (a -12 cm/yr bowl, troposphere, ramps, DEM error) over one year of
    12-day dates; the run keeps its own defaults (no troposphere or DEM-error correction), so the
    velocity is checked loosely: RMSE 2.8 mm/yr against the multilooked truth.
    """
    sim = simulate_slc_stack(
        SimulationConfig(
            seed=11,
            grid=GridConfig(rows=128, cols=256, chunk_size=128),
            acquisitions=AcquisitionConfig(start=dt.date(2021, 1, 1), end=dt.date(2021, 12, 31)),
        )
    )
    write_slc_zarr(sim.slc, tmp_path / "slc.zarr")
    code, out, err = invoke(
        monkeypatch, capsys, "ifg", "--input", str(tmp_path / "slc.zarr"), "--output", str(tmp_path / "ifg"),
        "--looks", "4x4",
    )  # fmt: skip
    assert code == 0, err
    assert out.count("mean coherence") == 3 * sim.slc.sizes["date"] - 6  # each date with its 3 next
    code, _, err = invoke(
        monkeypatch, capsys, "run", "--input", str(tmp_path / "ifg"), "--format", "ifg",
        "--output", str(tmp_path / "out"), "--chunk-size", "16",
    )  # fmt: skip
    assert code == 0, err
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["network"]["dates"] == sim.slc.sizes["date"]
    with rasterio.open(tmp_path / "out" / "velocity.tif") as src:
        velocity = src.read(1)
    truth = multilook(sim.velocity.values, (4, 4))
    ref = summary["reference"]
    error = (velocity - (truth - truth[ref["row"], ref["col"]]))[np.isfinite(velocity)]
    assert error.size > 0.5 * velocity.size
    assert np.ptp(truth) > 100.0  # the bowl is there to be found
    assert np.sqrt(np.mean(error**2)) < 5.0, f"velocity RMSE {np.sqrt(np.mean(error**2)):.2f} mm/yr"
