"""Faults with real processes: kill -9 of the Dask worker running an SBAS job, and of the API server.

The server runs as a subprocess (uvicorn, with its Dask LocalCluster of worker processes); the
job is ``sbas_timeseries`` on a simulated LiCSAR stack: ``prepare`` → ``timeseries`` (the InSAR
workflow).  After either fault the job must finish with outputs identical to an undisturbed run
(SHA-256 of every file; of HDF5/NetCDF files, of their datasets and attributes), and a step
that had a checkpoint must not have run again (``<step>.runs`` traces each start).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import httpx
import numpy as np
import psutil
import pytest

from strata.api.users import UserStore, engine_for
from strata.insar.simulate import AcquisitionConfig, GridConfig, SimulationConfig, simulate_stack, write_stack
from strata.settings import Settings

pytestmark = pytest.mark.slow

IGNORED = {"step.json", "summary.json"}  # these record run times
HDF5_REFERENCES = {"DIMENSION_LIST", "REFERENCE_LIST"}  # object references: byte addresses in the file


@dataclass
class Deployment:
    data_dir: Path
    stack: Path
    key: str
    started: list[int] = field(default_factory=list)
    """Pids of every process the servers started (server, nannies, workers), for the cleanup."""

    def start(self) -> tuple[subprocess.Popen[bytes], httpx.Client]:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.close()
        env = {
            **os.environ,
            "STRATA_DATA_DIR": str(self.data_dir),
            "STRATA_DASK_WORKERS": "2",
            "STRATA_JOB_LEASE_S": "2",
            "STRATA_RATE_LIMIT_PER_SECOND": "1000",
        }
        command = [sys.executable, "-m", "uvicorn", "--factory", "strata.api.app:create_app"]
        server = subprocess.Popen(
            [*command, "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"], env=env
        )
        self.started.append(server.pid)
        client = httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {self.key}"}, timeout=60
        )
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, "the server exited"
            assert time.monotonic() < deadline, "the server did not start"
            try:
                if client.get("/processes").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.started.extend(p.pid for p in psutil.Process(server.pid).children(recursive=True))
        return server, client

    def submit(self, client: httpx.Client) -> str:
        response = client.post(
            "/processes/sbas_timeseries/execution",
            json={"inputs": {"stack": str(self.stack), "chunk_size": 32}},
            headers={"Prefer": "respond-async"},
        )
        assert response.status_code == 201, response.text
        return str(response.json()["jobID"])

    def steps(self, job_id: str) -> Path:
        return self.data_dir / "jobs" / job_id / "steps"

    def runs(self, job_id: str, step: str) -> list[list[str]]:
        path = self.steps(job_id) / f"{step}.runs"
        return [line.split() for line in path.read_text().splitlines()] if path.exists() else []

    def checksums(self, job_id: str) -> dict[str, str]:
        folder = self.steps(job_id) / "timeseries"
        return {
            str(p.relative_to(folder)): _checksum(p)
            for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name not in IGNORED
        }

    def wait_midway(self, job_id: str) -> None:
        """Until the ``timeseries`` step is running and has reported some progress."""
        progress = self.steps(job_id) / "timeseries.progress"
        deadline = time.monotonic() + 120
        while not (self.runs(job_id, "timeseries") and progress.exists()):
            assert time.monotonic() < deadline, "the timeseries step did not start"
            time.sleep(0.02)


def _checksum(path: Path) -> str:
    """SHA-256 of a file; of an HDF5/NetCDF-4 file, of its datasets and attributes in name order.

    HDF5 places chunks in the order they are written, and the workflow writes blocks from parallel
    threads: equal content may lie at other byte offsets (which dimension-scale references hold).
    """
    digest = hashlib.sha256()
    if path.suffix not in (".nc", ".h5"):
        digest.update(path.read_bytes())
        return digest.hexdigest()
    with h5py.File(path, "r") as h5:
        objects: list[tuple[str, Any]] = [("/", h5)]
        h5.visititems(lambda name, obj: objects.append((name, obj)))
        for name, obj in sorted(objects, key=lambda pair: pair[0]):
            digest.update(name.encode())
            for key in sorted(set(obj.attrs) - HDF5_REFERENCES):
                digest.update(f"{key}={obj.attrs[key]!r}".encode())
            if isinstance(obj, h5py.Dataset):
                data = np.asarray(obj[()])
                # variable-length strings are objects: hash their values, not their pointers
                digest.update(repr(data.tolist()).encode() if data.dtype.kind == "O" else data.tobytes())
    return digest.hexdigest()


def _wait(client: httpx.Client, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 300
    while (info := client.get(f"/jobs/{job_id}").json())["status"] not in ("successful", "failed"):
        assert time.monotonic() < deadline, info
        time.sleep(0.2)
    return info


def _stop(server: subprocess.Popen[bytes], client: httpx.Client) -> None:
    client.close()
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=60)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    data_dir = tmp_path_factory.mktemp("faults")
    config = SimulationConfig(
        seed=11,
        grid=GridConfig(rows=160, cols=120, chunk_size=32),
        acquisitions=AcquisitionConfig(end=dt.date(2019, 12, 31)),
    )
    stack = write_stack(simulate_stack(config), data_dir / "stack", "licsar")
    users = UserStore(engine_for(Settings(data_dir=data_dir).catalog_url))
    deployment = Deployment(data_dir, stack, users.add("operator")[1])
    try:
        yield deployment
    finally:
        for pid in deployment.started:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.fixture(scope="module")
def undisturbed(deployment: Deployment) -> dict[str, str]:
    server, client = deployment.start()
    try:
        job_id = deployment.submit(client)
        assert _wait(client, job_id)["status"] == "successful"
    finally:
        _stop(server, client)
    checksums = deployment.checksums(job_id)
    assert checksums, "the workflow wrote no output files"
    return checksums


def test_killed_worker_job_finishes_identically_without_rerunning_checkpoints(
    deployment: Deployment, undisturbed: dict[str, str]
) -> None:
    server, client = deployment.start()
    try:
        job_id = deployment.submit(client)
        deployment.wait_midway(job_id)
        victim = int(deployment.runs(job_id, "timeseries")[0][0])
        os.kill(victim, signal.SIGKILL)
        info = _wait(client, job_id)
        logs = client.get(f"/jobs/{job_id}/logs").json()["logs"]
    finally:
        _stop(server, client)
    assert info["status"] == "successful", logs
    assert info["strata:attempt"] == 2
    assert any("infrastructure failure in step timeseries" in line for line in logs)
    assert len(deployment.runs(job_id, "prepare")) == 1  # checkpointed before the kill: not rerun
    timeseries_runs = deployment.runs(job_id, "timeseries")
    assert len(timeseries_runs) == 2 and int(timeseries_runs[1][0]) != victim
    assert deployment.checksums(job_id) == undisturbed


def test_killed_server_job_completes_after_restart(
    deployment: Deployment, undisturbed: dict[str, str]
) -> None:
    server, client = deployment.start()
    job_id = deployment.submit(client)
    deployment.wait_midway(job_id)
    server.send_signal(signal.SIGKILL)
    server.wait(timeout=30)
    client.close()
    server, client = deployment.start()
    try:
        info = _wait(client, job_id)
        logs = client.get(f"/jobs/{job_id}/logs").json()["logs"]
    finally:
        _stop(server, client)
    assert info["status"] == "successful", logs
    assert sum("runner" in line and "the job" in line for line in logs) == 2  # started, then resumed
    assert len(deployment.runs(job_id, "prepare")) == 1
    assert deployment.checksums(job_id) == undisturbed
