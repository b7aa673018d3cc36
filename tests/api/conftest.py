"""A real Strata API served by uvicorn on a free loopback port, over a loaded catalog.

The catalog holds generated Sentinel-1/2 products (``strata.catalog.generate``) and, when
``../shared/data`` is present, the real sample records read by ``strata.catalog.ingest``.  The
session fixture :func:`live` runs on SQLite and (marked ``postgis``) on PostGIS; ``live_scratch`` is a
small server of its own for tests that write at random.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from strata.api.app import create_app
from strata.api.users import UserStore, engine_for
from strata.catalog.archive import Archive
from strata.catalog.generate import generate_items
from strata.catalog.model import Collection, Item
from strata.catalog.store.base import CatalogStore, open_store
from strata.settings import Settings

GENERATED = 30_000
SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
PRIVATE = "private-derived"


@dataclass
class Live:
    """A running server and what the tests need to talk to it."""

    url: str
    settings: Settings
    store: CatalogStore
    users: UserStore
    archive: Archive
    keys: dict[str, str]
    """user name -> API key: ``admin``, ``alice`` (plain user), ``bob`` (granted the private collection)."""
    real_ids: list[str]

    def client(self, user: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.keys[user]}"} if user else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=120)


def _real_items(shared: Path) -> list[Item]:
    """Real sample records of ../shared/data, read by the catalog's ingest (other files skipped)."""
    from strata.catalog.errors import IngestError
    from strata.catalog.ingest import read_path

    items: dict[str, Item] = {}
    for name in ("asf_search", "sentinelsat", "eodag", "stactools_sentinel1"):
        for path in sorted((shared / name).glob("*")):
            if path.suffix in (".json", ".yml", ".yaml", ".safe", ".geojson"):
                try:
                    records = list(read_path(path))
                except IngestError:
                    continue
                items.update((r.id, r) for r in records if isinstance(r, Item))
    return list(items.values())


def _serve(settings: Settings) -> tuple[str, uvicorn.Server, threading.Thread]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(settings), log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the API server did not start")
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server, thread


def _start(tmp: Path, url: str | None, shared: Path | None, generated: int = GENERATED) -> Iterator[Live]:
    settings = Settings(
        data_dir=tmp,
        database_url=url,
        rate_limit_per_second=10_000,
        rate_limit_burst=10_000,
        staging_delay_s=0.5,
        anonymous_download_quota_bytes=10**12,
        run_jobs=False,
    )
    store = open_store(settings.catalog_url)
    store.put_collection(
        Collection(id="sentinel-1", title="Sentinel-1", description="Sentinel-1 SAR products")
    )
    store.put_collection(
        Collection(id="sentinel-2", title="Sentinel-2", description="Sentinel-2 MSI products")
    )
    store.put_collection(
        Collection(id=PRIVATE, title="Private products", description="Derived products of bob", public=False)
    )
    store.upsert(generate_items(generated, seed=7))
    real = _real_items(shared) if shared else []
    if real:
        store.upsert(real)
    engine = engine_for(settings.catalog_url)
    users = UserStore(engine)
    keys = {
        "admin": users.add("admin", "admin")[1],
        "alice": users.add("alice")[1],
        "bob": users.add("bob", collections=(PRIVATE,))[1],
    }
    base, server, thread = _serve(settings)
    try:
        yield Live(base, settings, store, users, Archive(tmp / "archive", engine), keys, [i.id for i in real])
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        store.close()
        engine.dispose()


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """The API loaded with generated and (when present) real products, on SQLite and on PostGIS."""
    shared = SHARED_DATA if SHARED_DATA.is_dir() else None
    if request.param == "sqlite":
        yield from _start(tmp_path_factory.mktemp("api-sqlite"), None, shared)
    else:
        url = _postgis_database(request.getfixturevalue("postgres_url"))
        yield from _start(tmp_path_factory.mktemp("api-postgis"), url, shared)


def _postgis_database(postgres_url: str) -> str:
    """URL of a fresh database ``<test db>_api`` with PostGIS, next to the test database."""
    import sqlalchemy as sa

    admin = engine_for(postgres_url).execution_options(isolation_level="AUTOCOMMIT")
    name = f"{sa.engine.make_url(postgres_url).database}_api"
    with admin.connect() as conn:
        conn.execute(sa.text(f'drop database if exists "{name}" with (force)'))
        conn.execute(sa.text(f'create database "{name}"'))
    admin.dispose()
    url = postgres_url.rsplit("/", 1)[0] + "/" + name
    engine = engine_for(url)
    with engine.begin() as conn:
        conn.execute(sa.text("create extension if not exists postgis"))
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def live_scratch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """A small server of its own, for tests that write at random (schemathesis)."""
    yield from _start(tmp_path_factory.mktemp("api-scratch"), None, None, generated=2_000)
