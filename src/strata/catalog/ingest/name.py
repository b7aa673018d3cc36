"""A text file of Sentinel product names, one per line (``#`` starts a comment).

Everything comes from the name (see :mod:`strata.catalog.naming`).  The catalog needs a footprint
to index a product, and a name carries none, so one is estimated: a Sentinel-1 slice from the
orbit model of :mod:`strata.catalog.orbits` (absolute orbit and times in the name fix the track
and the position along it; within ~50 km of the real footprint), a Sentinel-2 product from its
MGRS tile.  Such items carry ``strata:footprint: estimated``; ingesting the real metadata later
replaces them (same id).  A Sentinel-3 name, whose footprint cannot be derived, is rejected.
"""

from __future__ import annotations

from collections.abc import Iterator

from strata.catalog.ingest import Document, Reader, Rejected
from strata.catalog.ingest.build import build_item, records
from strata.catalog.model import Item
from strata.catalog.naming import is_product_name, name_fields

__all__ = ["READER", "item_from_name"]


def item_from_name(name: str) -> Item:
    """An item from a bare product name, with an estimated footprint.

    Raises
    ------
    ItemError
        If ``name`` is not a Sentinel-1/2 product name.
    """
    return build_item(name_fields(name), None)


def _lines(document: Document) -> list[str]:
    return [line for line in document.data if not line.startswith("#")]


def _sniff(document: Document) -> bool:
    lines = _lines(document) if document.kind == "text" else []
    return bool(lines) and is_product_name(lines[0].split()[0])


def _read(document: Document) -> Iterator[Item | Rejected]:
    names = [line.split()[0] for line in _lines(document)]
    return records(document.path, names, item_from_name, lambda n: n)


READER = Reader(name="name", description="text file of Sentinel product names", sniff=_sniff, read=_read)
