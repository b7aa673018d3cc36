"""The SQL catalog store both backends share: schema, query building, keyset paging, counts.

One table ``items`` holds a row per product: an indexed column per searchable field, the bbox,
the footprint (SQLite: WKB; PostGIS: ``geometry(4326)``) and the full STAC item as JSON text,
which is what a search returns.  Times are stored as integer microseconds since 1970 (UTC) and
polarisations as a bit mask, so both backends compare exactly the same values.  A backend
subclass provides the engine, the spatial predicate and its index maintenance, and the SQL for
binning times by month.
"""

from __future__ import annotations

import dataclasses
import functools
import operator
import struct
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import orjson
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ColumnElement,
    Connection,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    and_,
    bindparam,
    delete,
    false,
    func,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.types import TypeEngine

from strata.catalog.errors import (
    ItemError,
    ItemNotFoundError,
    QueryError,
    UnknownCollectionError,
)
from strata.catalog.model import Collection, Item
from strata.catalog.search import (
    AGGREGATION_FIELDS,
    Bucket,
    Cursor,
    MatchCount,
    Range,
    SearchPage,
    SearchQuery,
    decode_token,
    encode_token,
    polarisation_mask,
)
from strata.catalog.store.base import DEFAULT_MAX_LIMIT, UpsertCounts

__all__ = ["Schema", "SqlStore", "build_schema", "to_micros"]

_CHUNK = 500  # ids per IN (...) list
_SAMPLE_STRIPES = 32  # key stripes sampled to estimate large counts...
_SAMPLE_WIDTH = 256  # ...of this many keys each

# the searchable text and integer columns (text columns get a "C" collation on PostgreSQL so
# strings sort byte-wise, as in SQLite)
_TEXT_FIELDS = (
    "collection",
    "platform",
    "constellation",
    "instrument",
    "product_type",
    "processing_level",
    "sensor_mode",
    "orbit_direction",
    "checksum",
)
_INT_FIELDS = ("absolute_orbit", "relative_orbit", "cycle", "datatake_id", "slice_number")
_LIST_FILTERS = {
    "collections": "collection",
    "ids": "id",
    "platforms": "platform",
    "constellations": "constellation",
    "instruments": "instrument",
    "product_types": "product_type",
    "processing_levels": "processing_level",
    "sensor_modes": "sensor_mode",
}
# Indexes: the time, the keys users look products up by, and (field, time) pairs for the usual
# "this track/type/mode over time, newest first" searches.  Other fields are filtered on the
# rows these (or the spatial index) select; each more index costs ingest speed.
_INDEXED = ("start_datetime", "absolute_orbit", "datatake_id", "updated")
_INDEXED_WITH_TIME = ("collection", "product_type", "sensor_mode", "relative_orbit")


class Schema:
    """The catalog tables for one backend."""

    def __init__(self, metadata: MetaData, items: Table, collections: Table) -> None:
        self.metadata = metadata
        self.items = items
        self.collections = collections


def build_schema(geometry_type: TypeEngine[Any], text_type: TypeEngine[Any]) -> Schema:
    """The catalog tables with the backend's footprint and text column types.

    Parameters
    ----------
    geometry_type
        Type of the ``geometry`` column (it receives WKB bytes).
    text_type
        Type of the indexed text columns (a byte-order collation).
    """
    metadata = MetaData()
    items = Table(
        "items",
        metadata,
        Column("pk", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
        Column("id", text_type, nullable=False, unique=True),
        *(Column(name, text_type, nullable=name != "collection") for name in _TEXT_FIELDS),
        Column("polarisations", Integer, nullable=False),
        *(Column(name, Integer) for name in _INT_FIELDS),
        Column("start_datetime", BigInteger, nullable=False),
        Column("end_datetime", BigInteger, nullable=False),
        Column("size", BigInteger),
        Column("online", Boolean, nullable=False),
        Column("perpendicular_baseline", Float),
        Column("temporal_baseline", Float),
        Column("updated", BigInteger),
        Column("west", Float, nullable=False),
        Column("south", Float, nullable=False),
        Column("east", Float, nullable=False),
        Column("north", Float, nullable=False),
        Column("geometry", geometry_type, nullable=False),
        Column("doc", Text, nullable=False),
    )
    for name in _INDEXED:
        Index(f"ix_items_{name}", items.c[name])
    for name in _INDEXED_WITH_TIME:
        Index(f"ix_items_{name}_time", items.c[name], items.c.start_datetime)
    # the longest product: bounds the start time of products overlapping a time interval
    Index("ix_items_duration", items.c.end_datetime - items.c.start_datetime)
    collections = Table(
        "collections",
        metadata,
        Column("id", text_type, primary_key=True),
        Column("public", Boolean, nullable=False),
        Column("doc", Text, nullable=False),
    )
    return Schema(metadata, items, collections)


def to_micros(value: datetime) -> int:
    """A datetime as integer microseconds since 1970-01-01 UTC (how the stores keep times).

    A naive datetime is taken as UTC, as :func:`strata.catalog.model.parse_datetime` does.
    """
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    delta = aware - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _chunks(values: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


class SqlStore:
    """A :class:`~strata.catalog.store.base.CatalogStore` on SQLAlchemy Core (abstract).

    Subclasses set :attr:`schema` and :attr:`engine` and implement :meth:`_spatial`,
    :meth:`_month` and, when their spatial index lives outside the ``items`` table,
    :meth:`_index_rows` and :meth:`_unindex_rows`.
    """

    schema: Schema
    engine: Engine

    def __init__(
        self, url: str, *, count_exact_limit: int = 100_000, max_limit: int = DEFAULT_MAX_LIMIT
    ) -> None:
        self.url = url
        self.count_exact_limit = count_exact_limit
        self.max_limit = max_limit

    # -- backend hooks ------------------------------------------------------------------------

    def _spatial(self, geometry: BaseGeometry, start: int | None, end: int | None) -> ColumnElement[bool]:
        """Predicate: the row's footprint intersects ``geometry`` (exactly).

        ``start``/``end`` (microseconds, or None) are the query's time bounds, which the backend may
        use to narrow its spatial index lookup (the time filter itself is applied separately).
        """
        raise NotImplementedError

    def _month(self) -> ColumnElement[str]:
        """Expression: ``YYYY-MM`` of the row's start time (UTC)."""
        raise NotImplementedError

    def _index_rows(self, conn: Connection, ids: Sequence[str], replaced: set[str]) -> None:
        """Bring the spatial index up to date for rows just written (``replaced`` existed before)."""

    def _unindex_rows(self, conn: Connection, where: ColumnElement[bool]) -> None:
        """Remove the spatial index entries of the rows about to be deleted."""

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A connection in a write transaction (committed on success, rolled back on error)."""
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """A connection in a read transaction (one snapshot for a page and its count)."""
        with self.engine.begin() as conn:
            yield conn

    # -- writing ------------------------------------------------------------------------------

    def _row(self, item: Item) -> dict[str, Any]:
        try:
            wkb = _wkb(item.geometry)
        except (ValueError, TypeError, AttributeError, KeyError, IndexError, struct.error) as exc:
            raise ItemError(f"{item.id}: footprint is not a GeoJSON geometry: {exc}") from None
        west, south, east, north = item.bbox
        return {
            "id": item.id,
            **{name: getattr(item, name) for name in _TEXT_FIELDS},
            "polarisations": polarisation_mask(item.polarisations),
            **{name: getattr(item, name) for name in _INT_FIELDS},
            "start_datetime": to_micros(item.start_datetime),
            "end_datetime": to_micros(item.end_datetime),
            "size": item.size,
            "online": bool(item.online),
            "perpendicular_baseline": item.perpendicular_baseline,
            "temporal_baseline": item.temporal_baseline,
            "updated": None if item.updated is None else to_micros(item.updated),
            "west": west,
            "south": south,
            "east": east,
            "north": north,
            "geometry": wkb,
            "doc": _dumps(item.to_stac()),
        }

    def upsert(self, items: Iterable[Item]) -> UpsertCounts:
        """Insert or replace products by id, all or nothing (see ``CatalogStore.upsert``)."""
        rows = {item.id: self._row(item) for item in items}
        if not rows:
            return UpsertCounts(0, 0)
        table = self.schema.items
        ids = list(rows)
        try:
            with self._write() as conn:
                replaced: set[str] = set()
                for chunk in _chunks(ids):
                    replaced.update(conn.scalars(select(table.c.id).where(table.c.id.in_(chunk))))
                self._ensure_collections(conn, {row["collection"] for row in rows.values()})
                self._executemany(conn, self._upsert_compiled, list(rows.values()))
                self._index_rows(conn, ids, replaced)
        except SQLAlchemyError as exc:
            raise ItemError(f"cannot store the batch: {getattr(exc, 'orig', None) or exc}") from None
        return UpsertCounts(len(rows) - len(replaced), len(replaced))

    @functools.cached_property
    def _upsert_compiled(self) -> SQLCompiler:
        table = self.schema.items
        columns = [c for c in table.c if c.name != "pk"]
        dialect_insert = postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert
        insert = dialect_insert(table).values({c.name: bindparam(c.name, type_=c.type) for c in columns})
        statement = insert.on_conflict_do_update(
            index_elements=[table.c.id],
            set_={c.name: insert.excluded[c.name] for c in table.c if c.name not in ("pk", "id")},
        )
        return statement.compile(dialect=self.engine.dialect)

    @staticmethod
    def _executemany(conn: Connection, compiled: SQLCompiler, rows: list[dict[str, Any]]) -> None:
        """Run a compiled statement once per row through the driver directly.

        This skips SQLAlchemy's per-row parameter processing, which would dominate bulk upserts;
        the rows hold plain values the drivers take as they are (str, int, float, bool, bytes, None).
        """
        if compiled.positiontup is not None:
            values = operator.itemgetter(*compiled.positiontup)
            conn.exec_driver_sql(compiled.string, [values(row) for row in rows])
        else:
            conn.exec_driver_sql(compiled.string, rows)

    def _ensure_collections(self, conn: Connection, collection_ids: set[str]) -> None:
        table = self.schema.collections
        known = set(conn.scalars(select(table.c.id).where(table.c.id.in_(sorted(collection_ids)))))
        for missing in sorted(collection_ids - known):
            self._put_collection(
                conn, Collection(id=missing, title=missing, description=f"Products of {missing}.")
            )

    def delete(self, item_ids: Sequence[str]) -> int:
        """Delete products by id; returns how many were deleted."""
        table = self.schema.items
        deleted = 0
        with self._write() as conn:
            for chunk in _chunks(list(item_ids)):
                where = table.c.id.in_(chunk)
                self._unindex_rows(conn, where)
                deleted += conn.execute(delete(table).where(where)).rowcount
        return deleted

    # -- collections --------------------------------------------------------------------------

    def _put_collection(self, conn: Connection, collection: Collection) -> None:
        table = self.schema.collections
        conn.execute(delete(table).where(table.c.id == collection.id))
        conn.execute(
            table.insert().values(
                id=collection.id, public=collection.public, doc=_dumps(collection.to_stac())
            )
        )

    def put_collection(self, collection: Collection) -> None:
        """Create or replace a collection."""
        with self._write() as conn:
            self._put_collection(conn, collection)

    def get_collection(self, collection_id: str) -> Collection:
        """The collection with this id (``UnknownCollectionError`` when there is none)."""
        table = self.schema.collections
        with self._read() as conn:
            row = conn.execute(select(table.c.public, table.c.doc).where(table.c.id == collection_id)).first()
        if row is None:
            raise UnknownCollectionError(f"unknown collection {collection_id!r}")
        return _collection(row)

    def list_collections(self) -> list[Collection]:
        """Every collection, sorted by id."""
        table = self.schema.collections
        with self._read() as conn:
            rows = conn.execute(select(table.c.public, table.c.doc).order_by(table.c.id)).all()
        return [_collection(row) for row in rows]

    def delete_collection(self, collection_id: str) -> None:
        """Delete a collection and its products."""
        table = self.schema.collections
        items = self.schema.items
        with self._write() as conn:
            if conn.execute(delete(table).where(table.c.id == collection_id)).rowcount == 0:
                raise UnknownCollectionError(f"unknown collection {collection_id!r}")
            where = items.c.collection == collection_id
            self._unindex_rows(conn, where)
            conn.execute(delete(items).where(where))

    # -- reading ------------------------------------------------------------------------------

    def get(self, item_id: str) -> Item:
        """The product with this id (``ItemNotFoundError`` when there is none)."""
        table = self.schema.items
        with self._read() as conn:
            doc = conn.scalar(select(table.c.doc).where(table.c.id == item_id))
        if doc is None:
            raise ItemNotFoundError(f"no product {item_id!r} in the catalog")
        return Item.from_stac(orjson.loads(doc))

    def _where(self, conn: Connection, query: SearchQuery) -> list[ColumnElement[bool]]:
        """The filter of a query, checking its collections exist."""
        c = self.schema.items.c
        if query.collections:
            table = self.schema.collections
            known = set(conn.scalars(select(table.c.id).where(table.c.id.in_(query.collections))))
            unknown = [name for name in query.collections if name not in known]
            if unknown:
                raise UnknownCollectionError(f"collections: unknown collection {unknown[0]!r}")
        where: list[ColumnElement[bool]] = []
        for parameter, column in _LIST_FILTERS.items():
            values = getattr(query, parameter)
            if values:
                where.append(c[column].in_(values) if len(values) > 1 else c[column] == values[0])
        if query.polarisations:
            mask = query.polarisation_mask
            where.append(c.polarisations.op("&")(mask) == mask)
        if query.orbit_direction is not None:
            where.append(c.orbit_direction == query.orbit_direction)
        for name in _INT_FIELDS:
            ranges = getattr(query, name)
            if ranges:
                where.append(or_(*(_in_range(c[name], r) for r in ranges)))
        for name in ("perpendicular_baseline", "temporal_baseline"):
            bounds = getattr(query, name)
            if bounds is not None:
                where.append(_in_range(c[name], bounds))
        if query.online is not None:
            where.append(c.online == query.online)
        if query.start is not None:
            where.append(c.end_datetime >= to_micros(query.start))
            # products overlapping [start, ...] began at most one product duration before it: a
            # bound the (field, start time) indexes can use, the end-time test alone cannot
            longest = conn.scalar(select(func.max(c.end_datetime - c.start_datetime)))
            if longest is not None:
                where.append(c.start_datetime >= to_micros(query.start) - int(longest))
        if query.end is not None:
            where.append(c.start_datetime <= to_micros(query.end))
        for word in (query.q or "").lower().split():
            escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            where.append(func.lower(c.id).like(f"%{escaped}%", escape="\\"))
        if query.geometry is not None:
            start = None if query.start is None else to_micros(query.start)
            end = None if query.end is None else to_micros(query.end)
            where.append(self._spatial(query.geometry, start, end))
        return where

    def search(self, query: SearchQuery) -> SearchPage:
        """One page of the products matching ``query`` (see ``CatalogStore.search``)."""
        if query.limit > self.max_limit:
            raise QueryError(f"limit: at most {self.max_limit} products per page")
        cursor = decode_token(query)
        backward = cursor is not None and cursor.direction == "prev"
        keys = query.sort_keys
        columns = [self.schema.items.c[key.field] for key in keys]
        order = []
        for key, column in zip(keys, columns, strict=True):
            descending = key.descending != backward
            clause = column.desc() if descending else column.asc()
            if column.nullable:  # products without the field come last (first when paging back)
                clause = clause.nulls_first() if backward else clause.nulls_last()
            order.append(clause)
        with self._read() as conn:
            where = self._where(conn, query)
            paged = list(where)
            if cursor is not None:
                paged.append(_keyset(keys, columns, cursor.values, before=backward))
            statement = (
                select(self.schema.items.c.doc, *columns)
                .where(*paged)
                .order_by(*order)
                .limit(query.limit + 1)
            )
            rows = list(conn.execute(statement).all())
            if cursor is not None:
                matched = cursor.matched
            elif len(rows) <= query.limit:  # the first page holds every match
                matched = MatchCount(len(rows), False)
            else:
                matched = self._count(conn, where)
        more = len(rows) > query.limit
        rows = rows[: query.limit]
        if backward:
            rows.reverse()
        first = list(rows[0][1:]) if rows else None
        last = list(rows[-1][1:]) if rows else None
        after = more or backward  # products follow the page
        before = (more and backward) or (cursor is not None and not backward)
        return SearchPage(
            items=[Item.from_stac(orjson.loads(row[0])) for row in rows],
            number_matched=matched.value,
            matched_is_estimate=matched.is_estimate,
            next_token=encode_token(query, Cursor("next", last, matched))
            if after and last is not None
            else None,
            prev_token=encode_token(query, Cursor("prev", first, matched))
            if before and first is not None
            else None,
        )

    def count(self, query: SearchQuery) -> MatchCount:
        """How many products match ``query``; estimated above ``count_exact_limit``."""
        with self._read() as conn:
            return self._count(conn, self._where(conn, query))

    def _count(self, conn: Connection, where: list[ColumnElement[bool]]) -> MatchCount:
        pk = self.schema.items.c.pk
        limited = select(pk).where(*where).limit(self.count_exact_limit + 1).subquery()
        exact = int(conn.scalar(select(func.count()).select_from(limited)) or 0)
        if exact <= self.count_exact_limit:
            return MatchCount(exact, False)
        # estimate: matches per key in evenly spread stripes of the key range, times the range
        low = conn.scalar(select(func.min(pk)))  # two statements: each is then one index probe
        high = conn.scalar(select(func.max(pk)))
        span = high - low + 1
        if span <= _SAMPLE_STRIPES * _SAMPLE_WIDTH:
            stripes = [(low, high)]
        else:
            step = span // _SAMPLE_STRIPES
            stripes = [(low + i * step, low + i * step + _SAMPLE_WIDTH - 1) for i in range(_SAMPLE_STRIPES)]
        table = self.schema.items
        arms = [  # one key-range scan per stripe (an OR of ranges would scan the table)
            select(func.count().label("hits")).select_from(table).where(pk.between(first, last), *where)
            for first, last in stripes
        ]
        hits = int(conn.scalar(select(func.sum(union_all(*arms).subquery().c.hits))) or 0)
        estimate = round(hits * span / sum(last - first + 1 for first, last in stripes))
        return MatchCount(max(estimate, self.count_exact_limit + 1), True)

    def aggregate(self, query: SearchQuery, fields: Sequence[str]) -> dict[str, list[Bucket]]:
        """Count the matching products by each of ``fields`` (see ``CatalogStore.aggregate``)."""
        c = self.schema.items.c
        unknown = [name for name in fields if name not in AGGREGATION_FIELDS]
        if unknown:
            raise QueryError(
                f"aggregations: cannot aggregate on {unknown[0]!r}; use {', '.join(AGGREGATION_FIELDS)}"
            )
        result: dict[str, list[Bucket]] = {}
        with self._read() as conn:
            where = self._where(conn, query)
            for name in fields:
                if name == "month":
                    expression: ColumnElement[Any] = self._month()
                elif name == "year":
                    expression = func.substr(self._month(), 1, 4)
                else:
                    expression = c[name]
                value = expression.label("value")
                statement = (
                    select(value, func.count().label("matched"))
                    .where(*where)
                    .group_by(value)
                    .order_by(value.asc().nulls_last())
                )
                result[name] = [Bucket(row.value, int(row.matched)) for row in conn.execute(statement)]
        return result

    # -- life cycle -----------------------------------------------------------------------------

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    def __enter__(self) -> SqlStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.engine.url.render_as_string(hide_password=True)!r})"


def _dumps(doc: dict[str, Any]) -> str:
    try:
        return orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY).decode()
    except TypeError as exc:
        raise ItemError(f"{doc.get('id')}: not serialisable as JSON: {exc}") from None


def _polygon_wkb(rings: list[list[list[float]]]) -> bytes:
    parts = [struct.pack("<BII", 1, 3, len(rings))]
    for ring in rings:
        if len(ring) < 4:  # what GEOS (hence PostGIS) rejects too
            raise ValueError(f"a polygon ring needs at least 4 positions, got {len(ring)}")
        flat = [float(value) for position in ring for value in position[:2]]
        parts.append(struct.pack(f"<I{len(flat)}d", len(ring), *flat))
    return b"".join(parts)


def _wkb(geometry: dict[str, Any]) -> bytes:
    """WKB of a GeoJSON geometry; polygons (all footprints) are encoded directly, which is fast."""
    kind = geometry["type"]
    if kind == "Polygon":
        return _polygon_wkb(geometry["coordinates"])
    if kind == "MultiPolygon":
        polygons = geometry["coordinates"]
        return struct.pack("<BII", 1, 6, len(polygons)) + b"".join(_polygon_wkb(p) for p in polygons)
    try:
        return bytes(shapely.to_wkb(shape(geometry)))
    except shapely.errors.GEOSException as exc:
        raise ValueError(str(exc)) from None


def _collection(row: Any) -> Collection:
    return dataclasses.replace(Collection.from_stac(orjson.loads(row.doc)), public=bool(row.public))


def _in_range(column: ColumnElement[Any], bounds: Range) -> ColumnElement[bool]:
    low, high = bounds
    if low is not None and high is not None:
        return column == low if low == high else column.between(low, high)
    return column >= low if low is not None else column <= high


def _keyset(
    keys: Sequence[Any], columns: Sequence[ColumnElement[Any]], values: Sequence[Any], *, before: bool
) -> ColumnElement[bool]:
    """Rows strictly after (or before) the boundary row in the sort order, NULLs sorting last.

    The lexicographic comparison is spelled out as ``k1 > v1 OR (k1 = v1 AND k2 > v2) OR ...``
    so that each key may have its own direction and NULLs (which ``=`` and ``>`` ignore) are
    placed explicitly.
    """
    branches: list[ColumnElement[bool]] = []
    equal: list[ColumnElement[bool]] = []
    for key, column, value in zip(keys, columns, values, strict=True):
        nullable = bool(getattr(column, "nullable", True))
        if value is None:
            # NULLs come last: rows before the boundary are the non-null ones, none come after
            step: ColumnElement[bool] = column.is_not(None) if before else false()
            same: ColumnElement[bool] = column.is_(None)
        else:
            greater = key.descending == before  # the direction that moves past the boundary
            moved = column > value if greater else column < value
            step = or_(moved, column.is_(None)) if nullable and not before else moved
            same = column == value
        branches.append(and_(*equal, step) if equal else step)
        equal.append(same)
    chain = or_(*branches) if branches else true()
    # the same condition on the first key alone, redundant but usable as an index range
    key, column, value = keys[0], columns[0], values[0]
    if value is None:
        return chain
    bound = column >= value if key.descending == before else column <= value
    if bool(getattr(column, "nullable", True)) and not before:
        bound = or_(bound, column.is_(None))
    return and_(bound, chain)
