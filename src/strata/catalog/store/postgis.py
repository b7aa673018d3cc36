"""The scalable catalog store: PostgreSQL + PostGIS.

Footprints are ``geometry(Geometry, 4326)`` with a GiST index; a spatial search is one
``ST_Intersects`` with the query geometry (GEOS, as shapely in the SQLite store, on the same
planar longitude/latitude footprints split at the antimeridian), so both stores agree exactly.
Text columns use the ``C`` collation so strings sort byte-wise as in SQLite.
"""

from __future__ import annotations

from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import ColumnElement, Index, Text, create_engine, func, literal_column, or_, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.types import UserDefinedType

from strata.catalog.errors import CatalogError
from strata.catalog.store.base import DEFAULT_MAX_LIMIT
from strata.catalog.store.sql import SqlStore, build_schema

__all__ = ["PostgisStore"]


class _Geometry(UserDefinedType[bytes]):
    """``geometry(Geometry, 4326)`` receiving WKB."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "geometry(Geometry, 4326)"

    def bind_expression(self, bindvalue: Any) -> Any:
        return func.ST_GeomFromWKB(bindvalue, literal_column("4326"))


class PostgisStore(SqlStore):
    """Catalog store in a PostgreSQL database with PostGIS (``postgresql://user@host/db``)."""

    def __init__(
        self, url: str, *, count_exact_limit: int = 100_000, max_limit: int = DEFAULT_MAX_LIMIT
    ) -> None:
        super().__init__(url, count_exact_limit=count_exact_limit, max_limit=max_limit)
        parsed = make_url(url)
        if parsed.drivername in ("postgresql", "postgres"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        self.engine = create_engine(parsed, pool_pre_ping=True)
        self.schema = build_schema(_Geometry(), Text(collation="C"))
        Index("ix_items_geometry", self.schema.items.c.geometry, postgresql_using="gist")
        try:
            with self._write() as conn:
                if not conn.scalar(text("SELECT 1 FROM pg_extension WHERE extname = 'postgis'")):
                    conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
                self.schema.metadata.create_all(conn)
        except SQLAlchemyError as exc:
            raise CatalogError(
                f"cannot open the catalog database {parsed!r}: {getattr(exc, 'orig', None) or exc}"
            ) from None

    def _spatial(self, geometry: BaseGeometry, start: int | None, end: int | None) -> ColumnElement[bool]:
        # one test per part: the GiST index then looks up each part's box, not the box of the whole,
        # which for a geometry split at the antimeridian spans every longitude
        footprint = self.schema.items.c.geometry
        parts = getattr(geometry, "geoms", [geometry])
        return or_(
            *(
                func.ST_Intersects(footprint, func.ST_GeomFromWKB(shapely.to_wkb(part), 4326))
                for part in parts
            )
        )

    def _month(self) -> ColumnElement[str]:
        seconds = self.schema.items.c.start_datetime / 1_000_000.0
        return func.to_char(func.timezone("UTC", func.to_timestamp(seconds)), "YYYY-MM")

    def optimize(self) -> None:
        """Refresh the planner statistics and the visibility map (index-only counts) of the tables."""
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE items"))
            conn.execute(text("VACUUM ANALYZE collections"))
