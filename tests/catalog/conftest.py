"""Catalog store fixtures: every store test runs on SQLite and, when reachable, on PostGIS.

PostGIS tests each get their own schema (``search_path`` set through the URL), so they never
see another test's rows and leave nothing behind.
"""

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, text

from strata.catalog.store import CatalogStore, open_store

BACKENDS = ["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)]


@pytest.fixture(scope="session")
def new_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[str], str]]:
    """A function giving the URL of a new, empty catalog database of a backend.

    ``sqlite`` gives a file under a temporary folder; ``postgis`` a new schema of the database
    of ``STRATA_TEST_POSTGRES_URL`` (the test skips when unset), dropped at the end of the session.
    """
    counter = itertools.count()
    schemas: list[str] = []
    engines = []

    def make(backend: str) -> str:
        if backend == "sqlite":
            folder: Path = tmp_path_factory.mktemp("catalog")
            return f"sqlite:///{folder / 'catalog.sqlite'}"
        url: str = request.getfixturevalue("postgres_url")
        if not engines:
            engines.append(create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1)))
        name = f"strata_test_{os.getpid()}_{next(counter)}"
        with engines[0].begin() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
            conn.execute(text(f"CREATE SCHEMA {name}"))
        schemas.append(name)
        separator = "&" if "?" in url else "?"
        return f"{url}{separator}options={quote(f'-csearch_path={name},public')}"

    yield make
    for engine in engines:
        with engine.begin() as conn:
            for name in schemas:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {name} CASCADE"))
        engine.dispose()


StoreFactory = Callable[..., CatalogStore]


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each store backend in turn: ``sqlite``, then ``postgis`` (marked ``postgis``)."""
    return str(request.param)


@pytest.fixture
def make_store(backend: str, new_database_url: Callable[[str], str]) -> Iterator[StoreFactory]:
    """Open stores on one fresh database of each backend (keyword arguments go to ``open_store``)."""
    url = new_database_url(backend)
    opened: list[CatalogStore] = []

    def factory(**options: int) -> CatalogStore:
        opened.append(open_store(url, **options))
        return opened[-1]

    yield factory
    for store in opened:
        store.close()


@pytest.fixture
def store(make_store: StoreFactory) -> CatalogStore:
    """An empty store of each backend."""
    return make_store()
