"""OGC API - Processes and WPS 1.0.0 on a real uvicorn server with a Dask LocalCluster.

The catalog holds the real coregistered Sentinel-1 SLC pair over Amsterdam (``../shared/data/
sarxarray``), archived as two complex GeoTIFF products; OWSLib's OGC API - Processes client and
plain WPS KVP requests run processes on them.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import rasterio
import uvicorn
from defusedxml import ElementTree
from fastapi import FastAPI
from owslib.ogcapi.processes import Processes
from typer.testing import CliRunner

from strata.api.app import create_app
from strata.api.users import UserStore, engine_for
from strata.catalog.archive import Archive
from strata.catalog.model import Item
from strata.catalog.store.base import open_store
from strata.cli import build_app
from strata.cli.process import parse_inputs
from strata.client import Client, ClientError
from strata.errors import InputError
from strata.insar.interferogram import coherence
from strata.insar.io.slc import read_slc_znap
from strata.processing.errors import JobFailedError
from strata.processing.workplan import running_jobs
from strata.settings import Settings

WPS = "{http://www.opengis.net/wps/1.0.0}"
OWS = "{http://www.opengis.net/ows/1.1}"
AMSTERDAM = {
    "type": "Polygon",
    "coordinates": [[[4.85, 52.33], [4.95, 52.33], [4.95, 52.40], [4.85, 52.40], [4.85, 52.33]]],
}


@dataclass
class Server:
    url: str
    app: FastAPI
    keys: dict[str, str]
    products: list[str]
    slcs: list[np.ndarray]

    def client(self, user: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.keys[user]}"} if user else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=120)


def _archive_slc_pair(settings: Settings, shared: Path) -> tuple[list[str], list[np.ndarray]]:
    """Write the real pair as complex GeoTIFFs and archive them as two catalog products."""
    stack = read_slc_znap(shared / "sarxarray")
    store = open_store(settings.catalog_url)
    archive = Archive(settings.data_dir / "archive", engine_for(settings.catalog_url))
    ids, slcs = [], []
    for index, date in enumerate(stack["date"].values.astype("datetime64[s]").tolist()):
        data = stack["slc"][index].values.astype(np.complex64)
        product_id = f"S1A_IW_SLC_AMSTERDAM_{date:%Y%m%d}"
        source = settings.data_dir / f"{product_id}.tif"
        with rasterio.open(
            source, "w", driver="GTiff", width=data.shape[1], height=data.shape[0], count=1, dtype="complex64"
        ) as dst:
            dst.write(data, 1)
        when = date.replace(tzinfo=UTC)
        item = Item(
            id=product_id,
            collection="sentinel-1",
            geometry=AMSTERDAM,
            bbox=(4.85, 52.33, 4.95, 52.40),
            start_datetime=when,
            end_datetime=when,
            platform="sentinel-1a",
            product_type="SLC",
            sensor_mode="IW",
            assets={"data": {"href": source.name, "type": "image/tiff; application=geotiff"}},
        )
        archive.put(item, source)
        store.upsert([item])
        ids.append(product_id)
        slcs.append(data)
    store.close()
    return ids, slcs


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("processes")
    settings = Settings(
        data_dir=tmp,
        dask_workers=2,
        rate_limit_per_second=10_000,
        rate_limit_burst=10_000,
        job_stop_grace_s=1.0,
    )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    products, slcs = _archive_slc_pair(settings, shared_data)
    users = UserStore(engine_for(settings.catalog_url))
    keys = {
        name: users.add(name, role)[1]
        for name, role in (("alice", "user"), ("bob", "user"), ("root", "admin"))
    }
    app = create_app(settings)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive(), "the API server did not start"
        time.sleep(0.05)
    try:
        yield Server(f"http://127.0.0.1:{sock.getsockname()[1]}", app, keys, products, slcs)
    finally:
        server.should_exit = True
        thread.join(timeout=60)


def _wait(
    client: httpx.Client, job_id: str, until: tuple[str, ...] = ("successful", "failed")
) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while True:
        info = client.get(f"/jobs/{job_id}").json()
        if info["status"] in until or time.monotonic() > deadline:
            return info
        time.sleep(0.1)


def test_owslib_lists_executes_async_polls_and_fetches_results(server: Server) -> None:
    api = Processes(server.url, headers={"Authorization": f"Bearer {server.keys['alice']}"})
    ids = {p["id"] for p in api.processes()}
    assert {"quicklook", "sbas_timeseries", "coherence_s1"} <= ids
    description = api.process("quicklook")
    assert description["inputs"]["product"]["schema"]["anyOf"][0]["type"] == "string"
    status = api.execute("quicklook", {"product": server.products[0], "max_size": 64}, async_=True)
    assert status["status"] in ("accepted", "running")
    location = api.response_headers["Location"]
    job_id = status["jobID"]
    assert location.endswith(f"/jobs/{job_id}")
    while (info := api._request(path=f"jobs/{job_id}"))["status"] not in ("successful", "failed"):
        assert 0 <= info["progress"] <= 100
        time.sleep(0.1)
    assert info["status"] == "successful", info
    assert info["progress"] == 100
    results = api._request(path=f"jobs/{job_id}/results")
    assert (results["width"], results["height"]) == (64, round(64 * 84 / 338))
    png = httpx.get(results["quicklook"]["href"], timeout=60)
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")


def test_wps_execute_coherence_s1_on_the_real_pair(server: Server) -> None:
    first, second = server.products
    with server.client() as client:
        capabilities = ElementTree.fromstring(client.get("/wps?service=WPS&request=GetCapabilities").content)
        offered = [e.text for e in capabilities.iter(f"{OWS}Identifier")]
        assert "COHERENCE_S1" in offered
        described = client.get(
            "/wps?service=WPS&version=1.0.0&request=DescribeProcess&identifier=COHERENCE_S1"
        )
        inputs = [e.text for e in ElementTree.fromstring(described.content).iter(f"{OWS}Identifier")]
        assert {"first_product", "second_product"} <= set(inputs)
        response = client.get(
            "/wps?service=WPS&request=Execute&identifier=COHERENCE_S1"
            f"&datainputs=first_product={first};second_product={second}"
        )
    assert response.status_code == 200, response.text
    root = ElementTree.fromstring(response.content)
    assert root.find(f"{WPS}Status/{WPS}ProcessSucceeded") is not None, response.text
    outputs = {o.findtext(f"{OWS}Identifier"): o for o in root.iter(f"{WPS}Output")}
    mean = float(outputs["mean_coherence"].findtext(f"{WPS}Data/{WPS}LiteralData"))
    expected = coherence(server.slcs[0], server.slcs[1], (5, 20))
    assert mean == pytest.approx(float(expected.mean()), rel=1e-5)
    href = outputs["coherence"].find(f"{WPS}Reference").get("href")
    cog = httpx.get(href, timeout=60)
    assert cog.status_code == 200
    path = Path(server.app.state.settings.data_dir) / "downloaded-coherence.tif"
    path.write_bytes(cog.content)
    with rasterio.open(path) as src:
        assert src.driver == "GTiff" and src.overviews(1) is not None
        np.testing.assert_allclose(src.read(1), expected, rtol=1e-6)
    item_id = href.rsplit("/", 1)[1]
    item = server.app.state.strata.store.get(item_id)
    assert item.collection == "strata-derived"
    assert item.properties["strata:process"] == "coherence_s1"
    assert item.properties["strata:inputs"]["first_product"] == first
    assert {link["href"].rsplit("/", 1)[1] for link in item.links if link["rel"] == "derived_from"} == {
        first,
        second,
    }


def test_sync_execute_answers_results(server: Server) -> None:
    with server.client("alice") as client:
        response = client.post("/processes/echo/execution", json={"inputs": {"message": {"value": "hello"}}})
    assert response.status_code == 200
    assert response.json() == {"message": "hello"}
    assert "/jobs/" in response.headers["Location"]


def test_invalid_inputs_answer_400_naming_the_input(server: Server) -> None:
    with server.client("alice") as client:
        bad = client.post("/processes/echo/execution", json={"inputs": {"duration": "later"}})
        assert bad.status_code == 400
        assert bad.json()["input"] == "duration" and "'duration'" in bad.json()["detail"]
        unknown = client.post("/processes/coherence_s1/execution", json={"inputs": {"first_product": "X"}})
        assert unknown.status_code == 400 and unknown.json()["input"] == "second_product"
        missing = client.post(
            "/processes/coherence_s1/execution",
            json={"inputs": {"first_product": "X", "second_product": server.products[1]}},
        )
        assert missing.status_code == 400 and missing.json()["input"] == "first_product"
        wps = client.get("/wps?service=WPS&request=Execute&identifier=ECHO&datainputs=duration=later")
        assert wps.status_code == 400
        exception = ElementTree.fromstring(wps.content).find(f"{OWS}Exception")
        assert exception.get("locator") == "duration"
        assert exception.get("exceptionCode") == "InvalidParameterValue"
        no_process = client.get("/processes/nothing")
        assert no_process.status_code == 404 and no_process.json()["type"].endswith("no-such-process")


def test_private_process_needs_authentication(server: Server) -> None:
    with server.client() as client:
        response = client.post("/processes/sbas_timeseries/execution", json={"inputs": {"stack": "x"}})
    assert response.status_code == 401


def test_users_cannot_list_read_or_cancel_each_others_jobs(server: Server) -> None:
    with server.client("alice") as alice, server.client("bob") as bob, server.client("root") as root:
        job_id = alice.post(
            "/processes/echo/execution",
            json={"inputs": {"message": "mine"}},
            headers={"Prefer": "respond-async"},
        ).json()["jobID"]
        assert _wait(alice, job_id)["status"] == "successful"
        assert bob.get(f"/jobs/{job_id}").status_code == 404
        assert bob.get(f"/jobs/{job_id}").json()["type"].endswith("no-such-job")
        assert bob.get(f"/jobs/{job_id}/results").status_code == 404
        assert bob.delete(f"/jobs/{job_id}").status_code == 404
        assert bob.post(f"/jobs/{job_id}/resubmit").status_code == 404
        assert job_id not in {j["jobID"] for j in bob.get("/jobs").json()["jobs"]}
        assert bob.get("/jobs", params={"owner": "alice"}).json()["numberMatched"] == 0
        assert job_id in {j["jobID"] for j in alice.get("/jobs").json()["jobs"]}
        assert job_id in {j["jobID"] for j in root.get("/jobs", params={"owner": "alice"}).json()["jobs"]}
        assert alice.get(f"/jobs/{job_id}/results").json() == {"message": "mine"}


def test_jobs_list_filters_and_pages(server: Server) -> None:
    with server.client("bob") as bob:
        for i in range(3):
            bob.post("/processes/echo/execution", json={"inputs": {"message": str(i)}})
        first = bob.get("/jobs", params={"processID": "echo", "status": "successful", "limit": 2}).json()
        assert first["numberMatched"] >= 3 and len(first["jobs"]) == 2
        following = next(link["href"] for link in first["links"] if link["rel"] == "next")
        second = bob.get(following).json()
        assert not {j["jobID"] for j in first["jobs"]} & {j["jobID"] for j in second["jobs"]}
        assert bob.get("/jobs", params={"processID": "quicklook"}).json()["numberMatched"] == 0


def test_dismiss_stops_the_running_task_on_the_cluster(server: Server) -> None:
    processing = server.app.state.processing
    with server.client("alice") as alice:
        job_id = alice.post(
            "/processes/echo/execution",
            json={"inputs": {"duration": 600}},
            headers={"Prefer": "respond-async"},
        ).json()["jobID"]
        heartbeat = processing.service.job_dir(job_id) / "steps" / "echo.progress"
        while not heartbeat.exists():
            time.sleep(0.05)
        assert any(job_id in jobs for jobs in processing.client.run(running_jobs).values())
        dismissed = alice.delete(f"/jobs/{job_id}").json()
        assert dismissed["status"] == "dismissed"
        # the step is no longer executing on any worker, and its working files are gone
        assert not any(job_id in jobs for jobs in processing.client.run(running_jobs).values())
        assert not processing.service.job_dir(job_id).exists()
        steps = alice.get(f"/jobs/{job_id}").json()["strata:steps"]
        assert [s["state"] for s in steps] == ["cancelled"]
        assert alice.get(f"/jobs/{job_id}/results").status_code == 404


def test_stop_then_resume_continues_the_job(server: Server) -> None:
    with server.client("alice") as alice:
        job_id = alice.post(
            "/processes/echo/execution",
            json={"inputs": {"duration": 1.5}},
            headers={"Prefer": "respond-async"},
        ).json()["jobID"]
        _wait(alice, job_id, until=("running",))
        stopped = alice.post(f"/jobs/{job_id}/stop").json()
        assert stopped["strata:state"] == "stopped"
        assert alice.post(f"/jobs/{job_id}/stop").status_code == 409  # not active any more
        resumed = alice.post(f"/jobs/{job_id}/resume").json()
        assert resumed["status"] in ("accepted", "running")
        assert _wait(alice, job_id)["status"] == "successful"
        logs = alice.get(f"/jobs/{job_id}/logs").json()["logs"]
        assert any("stopped by operator" in line for line in logs)
        assert any("resumed" in line for line in logs)
        assert datetime.fromisoformat(alice.get(f"/jobs/{job_id}").json()["finished"]).tzinfo is not None


def test_python_client_submits_waits_and_downloads(server: Server, tmp_path: Path) -> None:
    with Client(server.url, token=server.keys["alice"]) as client:
        job = client.submit("quicklook", {"product": server.products[1], "max_size": 48})
        info = client.wait(job, timeout=120, poll=0.1, progress=False)
        assert info["progress"] == 100
        files = client.download(job, tmp_path)
        assert files["quicklook"].read_bytes().startswith(b"\x89PNG")
        with pytest.raises(ClientError, match="HTTP 400.*'max_size'"):
            client.submit("quicklook", {"product": server.products[1], "max_size": 1})
        failing = client.submit("quicklook", {"product": server.products[1], "band": 3})
        with pytest.raises(JobFailedError, match="has 1 bands, not 3"):
            client.wait(failing, timeout=120, poll=0.1, progress=False)
        with pytest.raises(ClientError, match=r"HTTP 500: job .* failed \(processor\)") as failed:
            client.results(failing)
        assert failed.value.status == 500


def test_cli_lists_runs_and_operates_jobs(server: Server) -> None:
    runner = CliRunner()
    auth = ["--url", server.url, "--token", server.keys["bob"]]
    listed = runner.invoke(build_app(), ["process", "list", *auth])
    assert listed.exit_code == 0 and "coherence_s1" in listed.output and "private" in listed.output
    ran = runner.invoke(build_app(), ["process", "run", "echo", "-i", "message=from-cli", *auth])
    assert ran.exit_code == 0, ran.output
    assert 'message: "from-cli"' in ran.output
    job = ran.output.split()[1]
    status = runner.invoke(build_app(), ["process", "status", job, *auth])
    assert "successful" in status.output and "echo" in status.output
    retry = runner.invoke(build_app(), ["process", "retry", job, *auth])
    assert isinstance(retry.exception, ClientError) and retry.exception.status == 409
    other = runner.invoke(
        build_app(), ["process", "cancel", job, "--url", server.url, "--token", server.keys["alice"]]
    )
    assert isinstance(other.exception, ClientError) and other.exception.status == 404
    cancelled = runner.invoke(build_app(), ["process", "cancel", job, *auth])
    assert cancelled.exit_code == 0 and "dismissed" in cancelled.output


def test_cli_inputs_parse_lists_and_json() -> None:
    assert parse_inputs(["a=1", "b=x", "a=2", 'c={"k": [1]}'], None) == {
        "a": [1, 2],
        "b": "x",
        "c": {"k": [1]},
    }
    with pytest.raises(InputError, match="expected name=value"):
        parse_inputs(["novalue"], None)


def test_wps_stored_execute_answers_at_once_with_a_status_location(server: Server) -> None:
    with server.client() as client:
        accepted = client.get(
            "/wps?service=WPS&request=Execute&identifier=echo&storeExecuteResponse=true&status=true"
            "&datainputs=message=later;duration=0.3"
        )
        root = ElementTree.fromstring(accepted.content)
        assert root.find(f"{WPS}Status/{WPS}ProcessSucceeded") is None
        location = root.get("statusLocation")
        deadline = time.monotonic() + 60
        while (status := ElementTree.fromstring(client.get(location).content)).find(
            f"{WPS}Status/{WPS}ProcessSucceeded"
        ) is None:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    literal = status.find(f"{WPS}ProcessOutputs/{WPS}Output/{WPS}Data/{WPS}LiteralData")
    assert literal is not None and literal.text == "later"
