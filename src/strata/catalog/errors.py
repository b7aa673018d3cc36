"""Errors of the catalog domain."""

from strata.errors import InputError, NotFoundError, StrataError

__all__ = [
    "CatalogError",
    "IngestError",
    "ItemError",
    "ItemNotFoundError",
    "QueryError",
    "UnknownCollectionError",
]


class CatalogError(StrataError):
    """Base class of catalog errors."""


class ItemError(CatalogError, InputError):
    """A product record is malformed (missing field, bad geometry, bad timestamp)."""


class IngestError(CatalogError, InputError):
    """A file given to ingest cannot be read as any supported metadata format."""


class QueryError(CatalogError, InputError):
    """A search query is malformed; the message names the parameter."""


class ItemNotFoundError(CatalogError, NotFoundError):
    """No product with this id."""


class UnknownCollectionError(CatalogError, NotFoundError):
    """No collection with this id."""
