"""End-to-end acceptance of the InSAR workflow on simulated stacks with known truth and on real data.

The simulated stacks follow the acceptance of issue 3: 2 years of 12-day acquisitions (61 dates,
3-nearest network: 177 interferograms), realistic noise (stratified and turbulent troposphere,
orbital ramps, DEM error, decorrelation noise at LiCSAR-like 80 looks), a subsidence bowl,
unwrapping errors in 10 % of the interferograms. The grid is small (80 x 80) to stay fast.
"""

from __future__ import annotations

import datetime as dt
import json
import pickle
import shutil
import warnings
from pathlib import Path
from typing import Any

import dask
import dask.base
import h5py
import numpy as np
import pytest
import rasterio
import xarray as xr

from strata.errors import StrataError
from strata.insar.config import InsarConfig
from strata.insar.errors import NetworkGapWarning
from strata.insar.io import open_stack, write_stack_as
from strata.insar.io.slc_ifgs import pair_paths, write_layer
from strata.insar.simulate import (
    AcquisitionConfig,
    DecorrelationConfig,
    GridConfig,
    NetworkConfig,
    SimulatedStack,
    SimulationConfig,
    UnwrappingErrorConfig,
    simulate_stack,
)
from strata.insar.workflow import WorkflowResult, run

GRID = GridConfig(rows=80, cols=80, chunk_size=40)
GAP = (dt.date(2019, 4, 1), dt.date(2019, 6, 30))


def _config(stack_path: Path, output: Path, fmt: str = "licsar", **options: Any) -> InsarConfig:
    content: dict[str, Any] = {
        "input": {"path": str(stack_path), "format": fmt},
        "output": str(output),
        "chunking": {"chunk_size": 40, "workers": 2},
        "corrections": {"troposphere": True},
    }
    for key, value in options.items():
        content.setdefault(key, {}).update(value)
    return InsarConfig.from_dict(content)


def _velocity(result: WorkflowResult) -> np.ndarray:
    with rasterio.open(result.paths["velocity"]) as src:
        return np.asarray(src.read(1))


def _rmse_against_truth(sim: SimulatedStack, result: WorkflowResult) -> float:
    """RMSE of the velocity over coherent pixels, truth referenced to the same reference point."""
    ref = result.summary["reference"]
    truth = sim.velocity.values - sim.velocity.values[ref["row"], ref["col"]]
    velocity = _velocity(result)
    coherent = sim.coherent_mask() & np.isfinite(velocity)
    assert coherent.mean() > 0.5
    return float(np.sqrt(np.mean((velocity - truth)[coherent] ** 2)))


def _uncertainty_calibration(sim: SimulatedStack, result: WorkflowResult) -> tuple[float, float]:
    """Share of coherent pixels whose velocity error is within 3 sigma, and median sigma / error spread."""
    ref = result.summary["reference"]
    truth = sim.velocity.values - sim.velocity.values[ref["row"], ref["col"]]
    velocity = _velocity(result)
    with rasterio.open(result.paths["velocity_std"]) as src:
        sigma = np.asarray(src.read(1))
    coherent = sim.coherent_mask() & np.isfinite(velocity)
    error, sigma = (velocity - truth)[coherent], sigma[coherent]
    return float(np.mean(np.abs(error) <= 3.0 * sigma)), float(np.median(sigma) / np.std(error))


@pytest.fixture(scope="module")
def errors_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[SimulatedStack, WorkflowResult]:
    """Realistic stack with unwrapping errors in 10 % of the interferograms, LiCSAR layout."""
    sim = simulate_stack(
        SimulationConfig(
            seed=3,
            grid=GRID,
            decorrelation=DecorrelationConfig(looks=80),
            unwrapping_errors=UnwrappingErrorConfig(interferogram_share=0.1),
        )
    )
    root = tmp_path_factory.mktemp("errors")
    path = write_stack_as(sim.stack, root / "stack", "licsar")
    fractions: list[float] = []
    result = run(_config(path, root / "out"), progress=lambda step, done: fractions.append(done))
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    return sim, result


def test_velocity_rmse_below_1_mm_per_year(errors_run: tuple[SimulatedStack, WorkflowResult]) -> None:
    sim, result = errors_run
    assert sim.stack.sizes["pair"] >= 170 and sim.dates.size >= 60
    assert _rmse_against_truth(sim, result) <= 1.0


def test_velocity_std_matches_the_error_of_a_connected_network(
    errors_run: tuple[SimulatedStack, WorkflowResult],
) -> None:
    sim, result = errors_run
    assert result.summary["velocity"]["steps"] == []  # a connected network's temporal model has no step
    within, ratio = _uncertainty_calibration(sim, result)
    assert within >= 0.95
    assert 1 / 3 <= ratio <= 3.0


def test_unwrapping_errors_corrected_on_95_percent(errors_run: tuple[SimulatedStack, WorkflowResult]) -> None:
    sim, result = errors_run
    assert sim.error_pairs.size >= 0.05 * sim.stack.sizes["pair"]
    injected = sim.unwrapping_errors.values
    phase = sim.stack["unwrapped_phase"].values
    with xr.open_dataset(result.paths["unwrapping_corrections"]) as ds:
        removed = ds["cycles"].values
    affected = (injected != 0) & np.isfinite(phase)
    assert affected.sum() > 1000
    assert np.mean(removed[affected] == injected[affected]) >= 0.95
    assert result.summary["closure"]["unwrapping_errors_fixed"] >= 0.95 * affected.sum()
    closure = result.summary["closure"]
    assert closure["nonzero_integer_closures_after"] < closure["nonzero_integer_closures_before"]


def test_products_open_as_expected(errors_run: tuple[SimulatedStack, WorkflowResult]) -> None:
    sim, result = errors_run
    out = result.output_dir
    for name in ("velocity", "velocity_std", "temporal_coherence", "mask"):
        with rasterio.open(out / f"{name}.tif") as src:
            assert src.dtypes == ("float32",)
            assert src.crs is not None and src.crs.to_epsg() == 4326
            assert src.shape == (GRID.rows, GRID.cols)
            assert src.profile["tiled"]
            assert src.overviews(1) or max(src.shape) <= 512
    velocity = _velocity(result)
    with rasterio.open(out / "mask.tif") as src:
        mask = src.read(1) == 1
    assert np.isnan(velocity[~mask]).all() and np.isfinite(velocity[mask]).all()
    with xr.open_dataset(out / "timeseries.nc") as ds:
        assert ds["displacement"].attrs["units"] == "mm"
        assert ds.sizes["time"] == sim.dates.size
        np.testing.assert_array_equal(ds["time"].values, sim.dates)
        assert np.nanmax(np.abs(ds["displacement"].isel(time=0).values)) == 0.0
        ref = result.summary["reference"]
        window = ds["displacement"].isel(
            y=slice(max(ref["row"] - 2, 0), ref["row"] + 3), x=slice(max(ref["col"] - 2, 0), ref["col"] + 3)
        )
        np.testing.assert_allclose(window.mean(("y", "x")).values, 0.0, atol=1e-3)  # referenced there
    with h5py.File(out / "timeseries.h5") as f:
        assert f.attrs["FILE_TYPE"] == "timeseries"
        assert f["timeseries"].shape == (sim.dates.size, GRID.rows, GRID.cols)
        assert f["date"][0].decode() == "20190101"
    with h5py.File(out / "velocity.h5") as f:
        np.testing.assert_allclose(f["velocity"][...][mask], velocity[mask] / 1000.0, rtol=1e-5)
    for png in ("velocity.png", "network.png", "timeseries.png"):
        assert (out / png).stat().st_size > 10_000
    summary = json.loads((out / "summary.json").read_text())
    assert summary["inversion"]["pixels_per_second"] > 0
    assert set(summary["steps_seconds"]) >= {"statistics", "inversion", "velocity", "products"}
    assert not (out / ".strata-work").exists()


def _decorrelated_gap(sim: SimulatedStack) -> xr.Dataset:
    """The stack with every interferogram touching the gap dates decorrelated (NaN) on 3/4 of the grid."""
    stack = sim.stack
    start, end = (np.datetime64(d, "ns") for d in GAP)
    touches = ((stack["reference"] >= start) & (stack["reference"] <= end)) | (
        (stack["secondary"] >= start) & (stack["secondary"] <= end)
    )
    region = xr.DataArray(np.arange(GRID.rows) >= GRID.rows // 4, dims="y") & xr.DataArray(
        np.ones(GRID.cols, dtype=bool), dims="x"
    )
    return stack.assign(unwrapped_phase=stack["unwrapped_phase"].where(~(touches & region)))


def test_three_month_gap(tmp_path: Path) -> None:
    """A 3-month gap: RMSE <= 1.5 mm/yr, the gap epochs flagged as imposed by the model.

    The interferograms touching the gap dates are decorrelated (NaN) on 3/4 of the grid, as snow
    would do: there each pixel's network splits into two subsets tied only by the NSBAS model, so
    the velocity rests on the slopes within each subset. Its error is about twice that of a
    connected pixel (0.8-1.7 mm/yr over seeds 4-9 of this configuration; seed 5: 1.05).
    """
    sim = simulate_stack(SimulationConfig(seed=5, grid=GRID, decorrelation=DecorrelationConfig(looks=80)))
    path = write_stack_as(_decorrelated_gap(sim), tmp_path / "stack", "mintpy")
    result = run(_config(path, tmp_path / "out", "mintpy", closure={"enabled": False}))
    assert _rmse_against_truth(sim, result) <= 1.5
    in_gap = [
        str(d.astype("datetime64[D]"))
        for d in sim.dates
        if GAP[0] <= d.astype("datetime64[D]").item() <= GAP[1]
    ]
    assert len(in_gap) >= 6
    assert set(result.summary["inversion"]["model_imposed_dates"]) == set(in_gap)
    with xr.open_dataset(result.paths["timeseries_netcdf"]) as ds:
        share = np.asarray(ds.attrs["model_share"])
    flagged = share > 0.5
    assert flagged.sum() == len(in_gap)


def test_disconnected_network_warns_with_gap_dates(tmp_path: Path) -> None:
    """A network cut in two is a NetworkGapWarning naming the dates; NSBAS ties the subsets.

    The offset NSBAS imposes across the gap is no data: the velocity fit has a step at the first
    date after the gap, so its uncertainty matches the error (without the step, seed 5: 81 % of
    the coherent pixels within 3 sigma and sigma half the error spread; with it: 99 %, 0.95).
    """
    cut = dt.date(2019, 12, 1)
    sim = simulate_stack(
        SimulationConfig(
            seed=5,
            grid=GRID,
            decorrelation=DecorrelationConfig(looks=80),
            network=NetworkConfig(disconnect_after=[cut]),
        )
    )
    path = write_stack_as(sim.stack, tmp_path / "stack", "licsar")
    with pytest.warns(NetworkGapWarning, match="2019-11-21..2019-12-03"):
        result = run(_config(path, tmp_path / "out", closure={"enabled": False}))
    assert result.summary["network"]["components"] == 2
    assert result.summary["network"]["gaps"] == [["2019-11-21", "2019-12-03"]]
    assert result.summary["velocity"]["steps"] == ["2019-12-03"]
    assert _rmse_against_truth(sim, result) <= 1.5
    within, ratio = _uncertainty_calibration(sim, result)
    assert within >= 0.95
    assert 1 / 3 <= ratio <= 3.0


def test_mexico_city_subsidence(shared_data: Path, tmp_path: Path) -> None:
    """The real Sentinel-1 stack over Mexico City (PyRate cropA, GAMMA) shows the known subsidence.

    The crop spans 15 km from the western hills (firm ground, -99.19) to the lacustrine basin near
    the airport (-99.05), where the clay compacts by up to ~35 cm/yr vertically (Chaussard et al.
    2014); in the line of sight (incidence ~40 deg) that is up to ~ -27 cm/yr. Relative to a
    reference on firm ground, the basin must move away from the satellite by several cm/yr up to
    tens of cm/yr, and nothing physical exceeds ~45 cm/yr.
    """
    stack = shared_data / "pyrate_cropA"
    config = _config(
        stack,
        tmp_path / "out",
        "gamma",
        corrections={"troposphere": False, "reference_lonlat": (-99.176, 19.373)},
    )
    result = run(config)
    velocity = _velocity(result)
    valid = velocity[np.isfinite(velocity)]
    assert valid.size > 0.5 * velocity.size
    assert np.percentile(valid, 5) < -100.0  # tens of cm/yr of subsidence in the basin
    assert np.percentile(valid, 1) > -450.0  # and no more than physically possible
    west, east = np.nanmedian(velocity[:, :20]), np.nanmedian(velocity[:, -20:])
    assert east - west < -100.0  # the basin (east) subsides relative to the hills (west)
    assert result.summary["network"]["dates"] == 13 and result.summary["network"]["interferograms_used"] == 30


@pytest.fixture(scope="module")
def small_stack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny LiCSAR stack (3 months) to break in the bad-input tests."""
    sim = simulate_stack(
        SimulationConfig(
            seed=6,
            grid=GridConfig(rows=24, cols=24),
            acquisitions=AcquisitionConfig(end=dt.date(2019, 3, 31)),
        )
    )
    return write_stack_as(sim.stack, tmp_path_factory.mktemp("small") / "stack", "licsar")


def _broken_copy(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def _pair_dirs(geoc: Path) -> list[Path]:
    return sorted(p for p in geoc.iterdir() if p.is_dir() and "_" in p.name)


def _break_grid(geoc: Path) -> Path:
    unw = next(_pair_dirs(geoc)[2].glob("*.unw.tif"))
    with rasterio.open(unw) as src:
        profile, data = src.profile, src.read(1)
    profile.update(height=data.shape[0] - 2)
    with rasterio.open(unw, "w", **profile) as dst:
        dst.write(data[:-2], 1)
    return unw


def _break_missing(geoc: Path) -> Path:
    cc = next(_pair_dirs(geoc)[1].glob("*.cc.tif"))
    cc.unlink()
    return cc.parent


def _break_truncated(geoc: Path) -> Path:
    unw = next(_pair_dirs(geoc)[3].glob("*.unw.tif"))
    unw.write_bytes(unw.read_bytes()[: unw.stat().st_size // 2])
    return unw


def _break_folder_name(geoc: Path) -> Path:
    folder = _pair_dirs(geoc)[0]
    bad = folder.with_name("2019O101_notapair")
    folder.rename(bad)
    return bad


def _break_all_nan(geoc: Path) -> Path:
    unw = next(_pair_dirs(geoc)[4].glob("*.unw.tif"))
    with rasterio.open(unw) as src:
        profile, data = src.profile, src.read(1)
    with rasterio.open(unw, "w", **profile) as dst:
        dst.write(np.full_like(data, np.nan), 1)
    return unw


@pytest.mark.parametrize(
    "breaker", [_break_grid, _break_missing, _break_truncated, _break_folder_name, _break_all_nan]
)
def test_bad_input_names_the_file(small_stack: Path, tmp_path: Path, breaker: Any) -> None:
    geoc = _broken_copy(small_stack, tmp_path / "GEOC")
    culprit = breaker(geoc)
    with pytest.raises(StrataError, match=culprit.name):
        run(_config(geoc, tmp_path / "out", corrections={"troposphere": False}))
    assert not (tmp_path / "out" / "velocity.tif").exists()


def test_schedulers_agree(small_stack: Path, tmp_path: Path) -> None:
    """Threads (default), the synchronous scheduler and a distributed client give the same products.

    The client is the default scheduler while the workflow runs (as inside ``worker_client()``):
    what the driver computes itself (products written through open HDF5 files) must stay local.
    """
    from distributed import Client

    base = _config(small_stack, tmp_path / "a", chunking={"chunk_size": 16})
    threaded = run(base)
    synchronous = run(base.model_copy(update={"output": tmp_path / "b"}), scheduler="synchronous")
    assert dask.config.get("scheduler", None) is None  # block threads leave the global config alone
    with Client(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None) as client:
        distributed = run(base.model_copy(update={"output": tmp_path / "c"}), scheduler=client)
        assert dask.base.get_scheduler() == client.get  # still the default after the run
    np.testing.assert_array_equal(_velocity(threaded), _velocity(synchronous))
    np.testing.assert_array_equal(_velocity(threaded), _velocity(distributed))
    with (
        h5py.File(threaded.paths["timeseries_mintpy"]) as a,
        h5py.File(distributed.paths["timeseries_mintpy"]) as c,
    ):
        np.testing.assert_array_equal(a["timeseries"][()], c["timeseries"][()])


def _write_ifg(stack: xr.Dataset, root: Path) -> Path:
    """``stack`` as the folder ``strata insar ifg`` writes (the ``ifg`` format has no stack writer)."""
    georef = {"crs": stack.attrs["crs"], "transform": tuple(stack.attrs["transform"])}
    tags = {"WAVELENGTH_METRES": str(stack.attrs["wavelength"])}
    for k in range(stack.sizes["pair"]):
        pair = stack.isel(pair=k)
        paths = pair_paths(root, pair["reference"].values, pair["secondary"].values)
        write_layer(paths["unw"], pair["unwrapped_phase"].values.astype(np.float32), tags=tags, **georef)
        write_layer(paths["cc"], pair["coherence"].values.astype(np.float32), tags=tags, **georef)
        write_layer(paths["conncomp"], np.ones(pair["coherence"].shape, np.uint32), tags=tags, **georef)
    return root


@pytest.mark.parametrize("fmt", ["licsar", "aria", "mintpy", "gamma", "ifg"])
def test_stack_graph_serialises_after_a_read(fmt: str, tmp_path: Path) -> None:
    """The graph of every reader's stack travels to distributed workers once its file caches are warm.

    The stack is read once first, so that the readers' open-handle caches (GeoTIFF handles,
    netCDF products) are populated, then pickled and serialised as a client sends it.
    """
    from distributed.protocol import deserialize, serialize

    sim = simulate_stack(
        SimulationConfig(
            seed=8,
            grid=GridConfig(rows=20, cols=20),
            acquisitions=AcquisitionConfig(end=dt.date(2019, 2, 28)),
        )
    )
    stack = sim.stack.isel(pair=slice(0, 6))
    path = _write_ifg(stack, tmp_path / "ifg") if fmt == "ifg" else write_stack_as(stack, tmp_path / fmt, fmt)
    opened = open_stack(path, fmt, chunks=10)
    expected = opened[["unwrapped_phase", "coherence"]].compute()
    names = ("unwrapped_phase", "coherence")
    for name in names:
        graph = dict(opened[name].data.__dask_graph__())
        restored = pickle.loads(pickle.dumps(graph))
        assert restored.keys() == graph.keys()
        deserialize(*serialize(opened[name].data, serializers=("pickle",), on_error="raise"))
    again = pickle.loads(pickle.dumps(opened))
    for name in names:
        np.testing.assert_array_equal(again[name].values, expected[name].values)


def test_missing_heights_for_troposphere_is_an_error(small_stack: Path, tmp_path: Path) -> None:
    geoc = _broken_copy(small_stack, tmp_path / "GEOC")
    for hgt in geoc.glob("*.hgt.tif"):
        hgt.unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(StrataError, match="heights"):
            run(_config(geoc, tmp_path / "out"))


def test_config_rejects_unknown_and_conflicting_options(tmp_path: Path) -> None:
    config_file = tmp_path / "c.yaml"
    config_file.write_text("inversion:\n  constraint_wieght: 0.1\n")
    with pytest.raises(StrataError, match=r"c\.yaml: inversion\.constraint_wieght: Extra inputs"):
        InsarConfig.from_yaml(config_file)
    with pytest.raises(StrataError, match="not both"):
        InsarConfig.from_dict({"corrections": {"reference_lonlat": [1.0, 2.0], "reference_rowcol": [3, 4]}})
    config = InsarConfig.from_dict({"corrections": {"reference_rowcol": [3, 4]}, "points": [[-99.1, 19.4]]})
    config.to_yaml(tmp_path / "d.yaml")
    assert InsarConfig.from_yaml(tmp_path / "d.yaml") == config
