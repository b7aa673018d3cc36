"""Downloads: resume with Range, checksums, ETag, staging of offline products, selections, quotas."""

from __future__ import annotations

import hashlib
import io
import time
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pytest

from strata.catalog.model import Item
from strata.catalog.search import SearchQuery

from .conftest import Live


def _items(live: Live, count: int, skip: int = 0) -> list[Item]:
    page = live.store.search(SearchQuery(collections=["sentinel-1"], limit=count + skip, sortby="id"))
    return page.items[skip:]


def _file(tmp_path: Path, name: str, size: int, seed: int) -> Path:
    path = tmp_path / name
    path.write_bytes(np.random.default_rng(seed).bytes(size))
    return path


def test_range_resume_checksums_and_etag(live: Live, tmp_path: Path) -> None:
    item = _items(live, 1)[0]
    source = _file(tmp_path, "a.zip", 3_000_001, 1)
    live.archive.put(item, source)
    sha = hashlib.sha256(source.read_bytes()).hexdigest()
    md5 = hashlib.md5(source.read_bytes()).hexdigest()
    with live.client() as client:
        head = client.head(f"/download/{item.id}")
        assert head.status_code == 200 and int(head.headers["content-length"]) == 3_000_001
        assert head.headers["x-checksum-sha256"] == sha and head.headers["x-checksum-md5"] == md5
        assert head.headers["etag"] == f'"{sha}"' and head.headers["accept-ranges"] == "bytes"
        first = client.get(f"/download/{item.id}", headers={"Range": "bytes=0-1234566"})
        assert first.status_code == 206 and len(first.content) == 1_234_567
        rest = client.get(
            f"/download/{item.id}", headers={"Range": "bytes=1234567-", "If-Range": head.headers["etag"]}
        )
        assert rest.status_code == 206 and rest.headers["content-range"] == "bytes 1234567-3000000/3000001"
        assert hashlib.sha256(first.content + rest.content).hexdigest() == sha
        assert (
            client.get(f"/download/{item.id}", headers={"If-None-Match": head.headers["etag"]}).status_code
            == 304
        )
        stale = client.get(f"/download/{item.id}", headers={"Range": "bytes=10-", "If-Range": '"other"'})
        assert stale.status_code == 200 and len(stale.content) == 3_000_001
        assert client.get(f"/download/{item.id}", headers={"Range": "bytes=5000000-"}).status_code == 416
        assert client.get("/download/no-such-product").status_code == 404


def test_offline_product_is_staged_then_served(live: Live, tmp_path: Path) -> None:
    item = _items(live, 1, skip=1)[0]
    source = _file(tmp_path, "b.zip", 100_000, 2)
    live.archive.put(item, source, online=False)
    with live.client() as client:
        accepted = client.get(f"/download/{item.id}")
        assert accepted.status_code == 202 and accepted.json()["status"] == "pending"
        monitor = accepted.headers["location"]
        deadline = time.monotonic() + 30
        while (status := client.get(monitor).json()["status"]) == "pending" and time.monotonic() < deadline:
            time.sleep(0.2)
        assert status == "done"
        served = client.get(f"/download/{item.id}")
        assert served.status_code == 200 and served.content == source.read_bytes()
    assert live.store.get(item.id).online


def test_selection_as_metalink_and_zip(live: Live, tmp_path: Path) -> None:
    items = _items(live, 3, skip=2)
    sources = {}
    for n, item in enumerate(items):
        sources[item.id] = _file(tmp_path, f"s{n}.zip", 50_000 + n, 10 + n)
        live.archive.put(item, sources[item.id])
    ids = [item.id for item in items]
    with live.client() as client:
        meta = client.post("/downloads/selection.meta4", json={"ids": ids})
        archive = client.get("/downloads/selection.zip", params={"ids": ",".join(ids)})
    ns = {"m": "urn:ietf:params:xml:ns:metalink"}
    files = ElementTree.fromstring(meta.content).findall("m:file", ns)
    assert [f.findtext("m:identity", namespaces=ns) for f in files] == ids
    for node in files:
        data = sources[node.findtext("m:identity", namespaces=ns)].read_bytes()
        assert node.findtext("m:hash[@type='sha-256']", namespaces=ns) == hashlib.sha256(data).hexdigest()
        assert int(node.findtext("m:size", namespaces=ns)) == len(data)
    with zipfile.ZipFile(io.BytesIO(archive.content)) as zf:
        assert zf.testzip() is None
        sums = dict(line.split("  ")[::-1] for line in zf.read("SHA256SUMS").decode().splitlines())
        for item in items:
            name = live.archive.online_path(item).name
            assert zf.read(name) == sources[item.id].read_bytes()
            assert sums[name] == hashlib.sha256(sources[item.id].read_bytes()).hexdigest()


def test_download_quota_and_rate_limit_answer_429(live: Live, tmp_path: Path) -> None:
    item = _items(live, 1, skip=5)[0]
    live.archive.put(item, _file(tmp_path, "q.zip", 600_000, 3))
    _, key = live.users.add("carol", download_quota_bytes=1_000_000)
    _, slow_key = live.users.add("dave", rate_limit_per_second=0.01)
    import httpx

    with httpx.Client(base_url=live.url, headers={"X-API-Key": key}) as carol:
        assert carol.get(f"/download/{item.id}").status_code == 200
        refused = carol.get(f"/download/{item.id}")
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
        assert "quota" in refused.json()["description"]
        assert carol.get(f"/download/{item.id}", headers={"Range": "bytes=0-99999"}).status_code == 206
    with httpx.Client(base_url=live.url, headers={"Authorization": f"Bearer {slow_key}"}) as dave:
        codes = [dave.get("/collections").status_code for _ in range(3)]
        refused = dave.get("/collections")
    assert codes[0] == 200 and codes[-1] == 429
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    with httpx.Client(base_url=live.url, headers={"Authorization": "Bearer wrong"}) as stranger:
        assert stranger.get("/collections").status_code == 401


@pytest.mark.slow
def test_one_gigabyte_download_interrupted_and_resumed(live: Live, tmp_path: Path) -> None:
    item = _items(live, 1, skip=9)[0]
    size = 1024**3
    source = tmp_path / "big.zip"
    with source.open("wb") as f:
        rng = np.random.default_rng(4)
        for _ in range(64):
            f.write(rng.bytes(size // 64))
    live.archive.put(item, source)
    expected = live.archive.file(item).sha256
    target = tmp_path / "download.part"
    import httpx

    with httpx.Client(base_url=live.url, timeout=600) as client:
        with client.stream("GET", f"/download/{item.id}") as response, target.open("wb") as out:
            for chunk in response.iter_bytes(1024 * 1024):
                out.write(chunk)
                if out.tell() >= size // 2:
                    break  # the connection drops half-way
        done = target.stat().st_size
        assert size // 2 <= done < size
        with (
            client.stream(
                "GET",
                f"/download/{item.id}",
                headers={"Range": f"bytes={done}-", "If-Range": f'"{expected}"'},
            ) as response,
            target.open("ab") as out,
        ):
            assert response.status_code == 206
            for chunk in response.iter_bytes(1024 * 1024):
                out.write(chunk)
    digest = hashlib.sha256()
    with target.open("rb") as f:
        while chunk := f.read(8 * 1024 * 1024):
            digest.update(chunk)
    assert target.stat().st_size == size and digest.hexdigest() == expected
