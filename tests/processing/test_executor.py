"""The job runner on a real Dask LocalCluster: processor errors, lost workers, products, job scripts."""

from __future__ import annotations

import datetime as dt
import os
import signal
import time
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from pydantic import BaseModel, ConfigDict, Field
from pyproj import Transformer
from rasterio.transform import from_origin
from typer.testing import CliRunner

from strata.catalog.model import Item
from strata.cli import build_app
from strata.insar.simulate import AcquisitionConfig, GridConfig, SimulationConfig, simulate_stack, write_stack
from strata.processing.errors import ProcessInputError
from strata.processing.executor import jobqueue_cluster
from strata.processing.jobs import JobStatus
from strata.processing.process import PlanContext, Process, Publication
from strata.processing.products import DERIVED_COLLECTION, result_file
from strata.processing.runtime import Processing
from strata.processing.workplan import Step, StepContext, StepState
from strata.settings import Settings


class HeartbeatInputs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    heartbeat: str = Field(description="File the step appends a line to every 50 ms.")


def beat_without_checking(ctx: StepContext) -> dict[str, Any]:
    """A step that never reports progress, so never sees a stop request."""
    path = Path(ctx.inputs["heartbeat"])
    while True:
        with path.open("a") as out:
            out.write("beat\n")
        time.sleep(0.05)


class Stubborn(Process):
    id = "stubborn"
    title = "Stubborn"
    description = "Writes heartbeats until killed."
    inputs = HeartbeatInputs
    outputs = HeartbeatInputs

    def plan(self, inputs: BaseModel, context: PlanContext) -> list[Step]:
        return [Step.of(beat_without_checking, "beat")]

    def publish(self, inputs: BaseModel, record: dict[str, Any]) -> Publication:
        return Publication()


@pytest.fixture(scope="module")
def processing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Processing]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("executor"), dask_workers=2, job_max_attempts=2)
    processing = Processing.start(settings)
    yield processing
    processing.close()


def _raster(path: Path, georeferenced: bool, bands: int = 1) -> Path:
    rng = np.random.default_rng(5)
    data = rng.normal(100, 20, (bands, 40, 60)).astype(np.float32)
    profile = {"driver": "GTiff", "width": 60, "height": 40, "count": bands, "dtype": "float32"}
    if georeferenced:
        profile.update(crs="EPSG:32631", transform=from_origin(600_000, 5_800_000, 10, 10))
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
    return path


def _run(processing: Processing, process: str, inputs: dict[str, object], owner: str | None = None) -> str:
    job = processing.service.submit(process, inputs, owner)
    return processing.service.wait(job.id, 120).id


def test_georeferenced_quicklook_becomes_a_catalog_product(processing: Processing) -> None:
    raster = _raster(processing.settings.data_dir / "scene.tif", georeferenced=True)
    job = processing.service.store.get(_run(processing, "quicklook", {"raster": str(raster), "max_size": 30}))
    assert job.status == JobStatus.SUCCESSFUL, job.message
    assert job.results is not None and (job.results["width"], job.results["height"]) == (30, 20)
    item = processing.products.store.get(job.item_id or "")
    assert item.collection == DERIVED_COLLECTION
    to_wgs84 = Transformer.from_crs("EPSG:32631", "EPSG:4326", always_xy=True)
    lons, lats = to_wgs84.transform(
        [600_000, 600_600, 600_000, 600_600], [5_800_000, 5_800_000, 5_799_600, 5_799_600]
    )
    np.testing.assert_allclose(item.bbox, (min(lons), min(lats), max(lons), max(lats)), atol=1e-4)
    assert item.properties["strata:process_version"] == "1.0.0"
    archived = processing.products.archive.file(item)
    assert archived.path.read_bytes().startswith(b"\x89PNG")
    assert item.checksum == f"sha256:{archived.sha256}"


def test_ungeoreferenced_quicklook_is_kept_with_the_job(processing: Processing) -> None:
    raster = _raster(processing.settings.data_dir / "radar.tif", georeferenced=False)
    job = processing.service.store.get(_run(processing, "quicklook", {"raster": str(raster)}))
    assert job.status == JobStatus.SUCCESSFUL and job.item_id is None
    assert job.results is not None and job.results["quicklook"]["href"] == f"/jobs/{job.id}/results/quicklook"
    kept = result_file(processing.settings.data_dir, job.id, "quicklook")
    assert kept is not None and kept.read_bytes().startswith(b"\x89PNG")


def test_processor_error_fails_the_job_once_and_retry_runs_it_again(processing: Processing) -> None:
    raster = _raster(processing.settings.data_dir / "one-band.tif", georeferenced=True)
    job_id = _run(processing, "quicklook", {"raster": str(raster), "band": 2})
    job = processing.service.store.get(job_id)
    assert (job.status, job.failure) == (JobStatus.FAILED, "processor")
    assert "has 1 bands, not 2" in job.message
    step = processing.service.store.steps(job_id)[0]
    assert (step.state, step.attempts) == (StepState.ERROR, 1)  # a processor error is not retried
    assert any("Traceback" in line for line in processing.service.store.logs(job_id))
    # the operator fixes the data, then retries the failed step
    _raster(raster, georeferenced=True, bands=2)
    processing.service.retry(job_id, None)
    job = processing.service.wait(job_id, 120)
    assert job.status == JobStatus.SUCCESSFUL
    assert processing.service.store.steps(job_id)[0].attempts == 2


def test_worker_lost_on_every_attempt_is_an_infrastructure_failure(processing: Processing) -> None:
    job = processing.service.submit("echo", {"duration": 60}, None)
    runs = processing.service.job_dir(job.id) / "steps" / "echo.runs"
    killed = []
    for attempt in (1, 2):
        while len(runs.read_text().splitlines() if runs.exists() else []) < attempt:
            time.sleep(0.05)
        pid = int(runs.read_text().splitlines()[-1].split()[0])
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)
    job = processing.service.wait(job.id, 120)
    assert (job.status, job.failure, job.attempt) == (JobStatus.FAILED, "infrastructure", 2)
    assert "after 2 attempts" in job.message
    logs = processing.service.store.logs(job.id)
    assert any("infrastructure failure in step echo" in line and "attempt 2/2" in line for line in logs)


def test_dismiss_restarts_the_worker_of_a_step_that_ignores_the_stop(
    processing: Processing, tmp_path: Path
) -> None:
    processing.service.registry.register(Stubborn())
    heartbeat = tmp_path / "heartbeat"
    job = processing.service.submit("stubborn", {"heartbeat": str(heartbeat)}, None)
    while not heartbeat.exists():
        time.sleep(0.05)
    assert processing.service.dismiss(job.id, None, timeout=180).status == JobStatus.DISMISSED
    assert any("restarting workers" in line for line in processing.service.store.logs(job.id))
    beats = heartbeat.read_text().count("beat")
    time.sleep(1.0)  # a live step would have written ~20 more beats by now
    assert heartbeat.read_text().count("beat") == beats


def _zip(target: Path, files: list[Path], root: Path) -> Path:
    with zipfile.ZipFile(target, "w") as archive:
        for path in files:
            archive.write(path, path.relative_to(root))
    return target


def test_sbas_on_a_stack_chosen_by_catalog_query(processing: Processing, tmp_path: Path) -> None:
    config = SimulationConfig(
        seed=4,
        grid=GridConfig(rows=48, cols=40, chunk_size=16),
        acquisitions=AcquisitionConfig(end=dt.date(2019, 5, 31)),
    )
    geoc = write_stack(simulate_stack(config), tmp_path / "stack", "licsar")
    bbox = (-99.25, 19.452, -99.21, 19.5)
    footprint = {
        "type": "Polygon",
        "coordinates": [
            [[-99.25, 19.452], [-99.21, 19.452], [-99.21, 19.5], [-99.25, 19.5], [-99.25, 19.452]]
        ],
    }
    products = {f"LICSAR_{d.name}": sorted(d.iterdir()) for d in sorted(geoc.iterdir()) if d.is_dir()}
    products["LICSAR_frame"] = sorted(p for p in geoc.iterdir() if p.is_file())
    for product_id, files in products.items():
        when = datetime(2019, 1, 1, tzinfo=UTC)
        item = Item(
            id=product_id,
            collection="licsar-ifg",
            geometry=footprint,
            bbox=bbox,
            start_datetime=when,
            end_datetime=when,
            assets={"data": {"href": f"{product_id}.zip"}},
        )
        processing.products.archive.put(item, _zip(tmp_path / f"{product_id}.zip", files, geoc))
        processing.products.store.upsert([item])
    with pytest.raises(ProcessInputError, match="'query'"):
        processing.service.submit("sbas_timeseries", {"query": {"collections": ["nothing"]}}, "alice")
    job_id = _run(
        processing, "sbas_timeseries", {"query": {"collections": ["licsar-ifg"]}, "chunk_size": 16}, "alice"
    )
    job = processing.service.store.get(job_id)
    assert job.status == JobStatus.SUCCESSFUL, job.message
    assert job.results is not None
    assert job.results["summary"]["network"]["interferograms_in_stack"] == len(products) - 1
    velocity = processing.products.store.get(job.results["velocity"]["id"])
    assert {link["href"].rsplit("/", 1)[1] for link in velocity.links} == set(products)
    with rasterio.open(processing.products.archive.file(velocity).path) as src:
        assert (src.height, src.width) == (48, 40)


@pytest.mark.parametrize(
    ("kind", "lines"),
    [
        (
            "pbs",
            ["#PBS -q batch", "#PBS -A proj", "#PBS -l select=1:ncpus=4:mem=", "#PBS -l walltime=02:00:00"],
        ),
        (
            "slurm",
            ["#SBATCH -p batch", "#SBATCH -A proj", "#SBATCH --cpus-per-task=4", "#SBATCH -t 02:00:00"],
        ),
    ],
)
def test_jobqueue_scripts_request_the_resources(kind: str, lines: list[str]) -> None:
    cluster = jobqueue_cluster(
        kind,  # type: ignore[arg-type]
        cores=4,
        memory="16GB",
        walltime="02:00:00",
        queue_name="batch",
        account="proj",
    )
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    for line in lines:
        assert line in script
    assert "distributed.cli.dask_worker tcp://" in script and "--nthreads 4" in script


def test_worker_cli_prints_the_batch_script() -> None:
    result = CliRunner().invoke(
        build_app(),
        ["worker", "--cluster", "slurm", "--cores", "8", "--walltime", "00:30:00", "--print-job-script"],
    )
    assert result.exit_code == 0, result.output
    assert "#SBATCH --cpus-per-task=8" in result.output and "#SBATCH -t 00:30:00" in result.output
