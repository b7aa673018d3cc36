"""Catalog storage: one interface (:class:`CatalogStore`), SQLite and PostGIS backends."""

from strata.catalog.store.base import BACKENDS, DEFAULT_MAX_LIMIT, CatalogStore, UpsertCounts, open_store

__all__ = ["BACKENDS", "DEFAULT_MAX_LIMIT", "CatalogStore", "UpsertCounts", "open_store"]
