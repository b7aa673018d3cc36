"""The catalog store interface, and :func:`open_store` choosing a backend by URL.

Two backends implement :class:`CatalogStore` with the same semantics and, for the same query,
the same results in the same order (one test suite runs against both):

- ``sqlite:///path/catalog.sqlite`` → :class:`strata.catalog.store.sqlite.SQLiteStore`
  (embedded, R*Tree spatial index);
- ``postgresql://user@host/db`` → :class:`strata.catalog.store.postgis.PostgisStore`
  (PostgreSQL + PostGIS, GiST spatial index).

A new backend subclasses :class:`strata.catalog.store.sql.SqlStore` (or implements the protocol
from scratch), registers its URL scheme in :data:`BACKENDS`, and runs ``tests/catalog/test_store.py``.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Sequence
from typing import NamedTuple, Protocol, runtime_checkable

from strata.catalog.errors import CatalogError
from strata.catalog.model import Collection, Item
from strata.catalog.search import Bucket, MatchCount, SearchPage, SearchQuery

__all__ = ["BACKENDS", "DEFAULT_MAX_LIMIT", "CatalogStore", "UpsertCounts", "open_store"]

DEFAULT_MAX_LIMIT = 10_000
"""Largest page a search may ask for, unless the store is opened with another ``max_limit``."""

BACKENDS: dict[str, str] = {
    "sqlite": "strata.catalog.store.sqlite:SQLiteStore",
    "postgresql": "strata.catalog.store.postgis:PostgisStore",
    "postgres": "strata.catalog.store.postgis:PostgisStore",
}
"""URL scheme (before any ``+driver``) → ``module:class`` of the backend."""


class UpsertCounts(NamedTuple):
    """What an upsert did: products added and products replaced."""

    inserted: int
    updated: int


@runtime_checkable
class CatalogStore(Protocol):
    """Storage of products and collections with search.

    Every method is safe to call from several threads; writes are transactional.
    """

    url: str
    """The database URL the store was opened with."""
    count_exact_limit: int
    """Above this many matches, counts are estimated (and flagged as such)."""
    max_limit: int
    """Largest page a search may ask for."""

    def upsert(self, items: Iterable[Item]) -> UpsertCounts:
        """Insert or replace products by id, all or nothing, in one transaction.

        Collections the products name are created (with a generic description) when missing.
        Re-upserting the same products changes nothing but their stored copy (idempotent).

        Raises
        ------
        ItemError
            If a product cannot be stored (nothing of the batch is written).
        """
        ...

    def get(self, item_id: str) -> Item:
        """The product with this id.

        Raises
        ------
        ItemNotFoundError
            If there is none.
        """
        ...

    def delete(self, item_ids: Sequence[str]) -> int:
        """Delete products by id (unknown ids are ignored); returns how many were deleted."""
        ...

    def search(self, query: SearchQuery) -> SearchPage:
        """One page of the products matching ``query``.

        Raises
        ------
        QueryError
            If the query asks for more than the store's page limit or carries a bad token.
        UnknownCollectionError
            If ``query.collections`` names a collection the catalog does not have.
        """
        ...

    def count(self, query: SearchQuery) -> MatchCount:
        """How many products match; estimated (and flagged) above the store's exact-count limit."""
        ...

    def aggregate(self, query: SearchQuery, fields: Sequence[str]) -> dict[str, list[Bucket]]:
        """Count the matching products by each of ``fields`` (see ``AGGREGATION_FIELDS``).

        Returns
        -------
        dict
            field → buckets sorted by value (``None``, for products without the field, last).

        Raises
        ------
        QueryError
            If a field cannot be aggregated.
        """
        ...

    def put_collection(self, collection: Collection) -> None:
        """Create or replace a collection."""
        ...

    def get_collection(self, collection_id: str) -> Collection:
        """The collection with this id.

        Raises
        ------
        UnknownCollectionError
            If there is none.
        """
        ...

    def list_collections(self) -> list[Collection]:
        """Every collection, sorted by id."""
        ...

    def delete_collection(self, collection_id: str) -> None:
        """Delete a collection and its products.

        Raises
        ------
        UnknownCollectionError
            If there is none.
        """
        ...

    def optimize(self) -> None:
        """Refresh the planner's statistics (run after a large ingest)."""
        ...

    def close(self) -> None:
        """Release the database connections."""
        ...


def open_store(
    url: str, *, count_exact_limit: int = 100_000, max_limit: int = DEFAULT_MAX_LIMIT
) -> CatalogStore:
    """Open (creating its tables when needed) the catalog store at ``url``.

    Parameters
    ----------
    url
        SQLAlchemy-style database URL; its scheme selects the backend (see :data:`BACKENDS`).
    count_exact_limit
        Above this many matches, counts are estimated and flagged as such
        (``Settings.count_exact_limit``).
    max_limit
        Largest page a search may ask for.

    Raises
    ------
    CatalogError
        If no backend serves the URL's scheme or the database cannot be opened.
    """
    scheme = url.partition(":")[0].partition("+")[0].lower()
    target = BACKENDS.get(scheme)
    if target is None:
        raise CatalogError(f"no catalog backend for {scheme!r} URLs; known: {', '.join(sorted(BACKENDS))}")
    module, _, name = target.partition(":")
    backend: type[CatalogStore] = getattr(importlib.import_module(module), name)
    return backend(url, count_exact_limit=count_exact_limit, max_limit=max_limit)  # type: ignore[call-arg]
