"""The embedded catalog store: SQLite with an R*Tree spatial index, in WAL mode.

The R*Tree ``items_rtree`` holds each footprint's bbox and time span (in days) under the key
``pk * 2`` (``pk * 2 + 1`` for the second half of a footprint crossing the antimeridian, whose bbox
has ``west > east``).  A spatial search first selects the candidates whose boxes meet the query's
boxes during the query's time interval (area + time is the usual search), then tests
the exact footprints with ``strata_intersects``, a SQL function backed by shapely (GEOS, the
engine PostGIS uses), so results are exact and the same as the PostGIS store's.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    and_,
    bindparam,
    create_engine,
    event,
    func,
    or_,
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql.compiler import SQLCompiler

from strata.catalog.errors import CatalogError
from strata.catalog.store.base import DEFAULT_MAX_LIMIT
from strata.catalog.store.sql import SqlStore, build_schema

__all__ = ["SQLiteStore"]

_RTREE = "items_rtree"
_RTREE_COLUMNS = "id, minx, maxx, miny, maxy, mint, maxt"
_DAY = 86_400_000_000  # microseconds: the R*Tree keeps time in days (float32; it rounds outwards)


def _prepared(wkb: bytes) -> BaseGeometry:
    geometry = shapely.from_wkb(wkb)
    shapely.prepare(geometry)
    return geometry


def _intersects_function() -> Callable[[bytes | None, bytes | None], int | None]:
    """The SQL function ``strata_intersects(footprint_wkb, query_wkb)``: 1 when they intersect.

    Each connection gets its own (a connection serves one thread at a time), so the prepared
    query geometries it caches are never shared between threads.
    """
    prepared = functools.lru_cache(maxsize=16)(_prepared)

    def intersects(footprint: bytes | None, query: bytes | None) -> int | None:
        if footprint is None or query is None:
            return None
        return int(prepared(bytes(query)).intersects(shapely.from_wkb(footprint)))

    return intersects


def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy's "begin" event issues BEGIN itself
    dbapi_connection.create_function("strata_intersects", 2, _intersects_function(), deterministic=True)
    for pragma in (
        "journal_mode=WAL",
        "synchronous=NORMAL",
        "cache_size=-131072",  # 128 MiB page cache
        "mmap_size=1073741824",
        "temp_store=MEMORY",
        "busy_timeout=30000",
    ):
        dbapi_connection.execute(f"PRAGMA {pragma}")


def _on_begin(conn: Connection) -> None:
    # writers take the write lock up front, so two writers queue instead of deadlocking
    immediate = conn.get_execution_options().get("strata_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class SQLiteStore(SqlStore):
    """Catalog store in one SQLite file (``sqlite:///path``; ``sqlite://`` for a memory database)."""

    def __init__(
        self, url: str, *, count_exact_limit: int = 100_000, max_limit: int = DEFAULT_MAX_LIMIT
    ) -> None:
        super().__init__(url, count_exact_limit=count_exact_limit, max_limit=max_limit)
        parsed = make_url(url)
        memory = parsed.database in (None, "", ":memory:")
        if not memory:
            Path(str(parsed.database)).expanduser().parent.mkdir(parents=True, exist_ok=True)
        self.engine = create_engine(
            parsed.set(drivername="sqlite"),
            connect_args={"check_same_thread": False},
            poolclass=StaticPool if memory else None,
        )
        event.listen(self.engine, "connect", _on_connect)
        event.listen(self.engine, "begin", _on_begin)
        self.schema = build_schema(LargeBinary(), Text())
        self.rtree = Table(
            _RTREE,
            MetaData(),
            Column("id", Integer, primary_key=True),
            Column("minx", Float),
            Column("maxx", Float),
            Column("miny", Float),
            Column("maxy", Float),
            Column("mint", Float),
            Column("maxt", Float),
        )
        try:
            with self._write() as conn:
                self.schema.metadata.create_all(conn)
                conn.execute(
                    text(f"CREATE VIRTUAL TABLE IF NOT EXISTS {_RTREE} USING rtree({_RTREE_COLUMNS})")
                )
        except SQLAlchemyError as exc:
            raise CatalogError(
                f"cannot open the catalog database {url}: {getattr(exc, 'orig', None) or exc}"
            ) from None

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            conn.execution_options(strata_write=True)
            with conn.begin():
                yield conn

    # -- spatial index ---------------------------------------------------------------------------

    def _index_rows(self, conn: Connection, ids: Sequence[str], replaced: set[str]) -> None:
        items = self.schema.items
        if replaced:
            self._unindex_rows(conn, items.c.id.in_(sorted(replaced)))
        entries: list[dict[str, float | int]] = []
        c = items.c
        for start in range(0, len(ids), 500):
            rows = conn.execute(
                select(c.pk, c.west, c.south, c.east, c.north, c.start_datetime, c.end_datetime).where(
                    c.id.in_(ids[start : start + 500])
                )
            )
            for pk, west, south, east, north, begins, ends in rows:
                box = {"miny": south, "maxy": north, "mint": begins / _DAY, "maxt": ends / _DAY}
                if west <= east:
                    entries.append({"id": pk * 2, "minx": west, "maxx": east, **box})
                else:  # across the antimeridian: one box each side
                    entries.append({"id": pk * 2, "minx": west, "maxx": 180.0, **box})
                    entries.append({"id": pk * 2 + 1, "minx": -180.0, "maxx": east, **box})
        if entries:
            self._executemany(conn, self._rtree_insert, entries)

    @functools.cached_property
    def _rtree_insert(self) -> SQLCompiler:
        return self.rtree.insert().compile(dialect=self.engine.dialect)

    def _unindex_rows(self, conn: Connection, where: ColumnElement[bool]) -> None:
        pks = list(conn.scalars(select(self.schema.items.c.pk).where(where)))
        if pks:
            conn.execute(
                self.rtree.delete().where(self.rtree.c.id == bindparam("rid")),
                [{"rid": key} for pk in pks for key in (pk * 2, pk * 2 + 1)],
            )

    def _spatial(self, geometry: BaseGeometry, start: int | None, end: int | None) -> ColumnElement[bool]:
        rtree = self.rtree
        boxes = [part.bounds for part in getattr(geometry, "geoms", [geometry])]
        overlaps = or_(
            *(
                and_(rtree.c.minx <= east, rtree.c.maxx >= west, rtree.c.miny <= north, rtree.c.maxy >= south)
                for west, south, east, north in boxes
            )
        )
        during = [rtree.c.maxt >= start / _DAY] if start is not None else []
        if end is not None:
            during.append(rtree.c.mint <= end / _DAY)
        candidates = select(rtree.c.id.op(">>")(1)).where(overlaps, *during)
        items = self.schema.items
        return and_(
            items.c.pk.in_(candidates),
            func.strata_intersects(items.c.geometry, shapely.to_wkb(geometry)) == 1,
        )

    def _month(self) -> ColumnElement[str]:
        seconds = self.schema.items.c.start_datetime.op("/")(1_000_000)
        return func.strftime("%Y-%m", seconds, "unixepoch")

    def optimize(self) -> None:
        """Refresh SQLite's planner statistics (sampled: milliseconds even at millions of rows)."""
        with self._write() as conn:
            conn.exec_driver_sql("PRAGMA analysis_limit=2000")
            conn.exec_driver_sql("ANALYZE")
