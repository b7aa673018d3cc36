"""STAC: Items, ItemCollections / search responses (GEODES, STAC APIs), Collections and NDJSON.

An item whose product name (``s1:product_identifier``, ``identifier``, ``title`` or ``id``) is a
Sentinel name is filed under its mission collection (``sentinel-1``…) with the name as id, so the
same product read from STAC, OData or a manifest is one catalog entry; the provider's id is kept
as ``stac:source_id``.  Other items keep their id and collection.  Common provider variants are
mapped to the catalog's fields: ``sar:product_type``/``product:type``, ``platform: S2A``,
``sat:orbit_state: Descending``, ``s1:datatake_id`` as text, ``grid:code: T14ULD``, and GEODES'
asset descriptions (``File size``, ``Is online``, ``Checksum MD5``).

A Collection document is read for the items it links to (``item`` and ``child`` links to local
files); the collection's own metadata is not an item and is not stored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from strata.catalog.errors import IngestError
from strata.catalog.ingest import Document, Reader, Rejected
from strata.catalog.ingest.build import build_item, fields_from_name, merge, records
from strata.catalog.model import SEARCHABLE_FIELDS, Item

__all__ = ["READER", "item_fields"]

_BY_PROPERTY = {name: attr for attr, name in SEARCHABLE_FIELDS.items()}
_ALIASES = {
    "sar:product_type": "product_type",
    "product:type": "product_type",
    "s1:slice_number": "slice_number",
    "s1:datatake_id": "datatake_id",
    "instrument": "instrument",
}
_NAME_KEYS = ("s1:product_identifier", "identifier", "title")
_GEODES_SIZE = re.compile(r"File size: (\d+) bytes")
_GEODES_ONLINE = re.compile(r"Is online: (true|false)")
_GEODES_MD5 = re.compile(r"Checksum MD5: ([0-9a-fA-F]{32})")


def _is_item(doc: Any) -> bool:
    return isinstance(doc, dict) and doc.get("type") == "Feature" and "stac_version" in doc


def _platform(value: Any) -> Any:
    text = str(value)
    if len(text) == 3 and text[:2] in ("S1", "S2", "S3"):  # GEODES/PEPS "S2A"
        return f"sentinel-{text[1]}{text[2].lower()}"
    return text.lower()


def item_fields(doc: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Catalog fields and footprint of a STAC Item dictionary."""
    props = dict(doc.get("properties") or {})
    item_id = str(doc["id"])
    name = next((str(props[k]) for k in _NAME_KEYS if isinstance(props.get(k), str)), item_id)
    base = fields_from_name(name)
    if "collection" not in base:
        base = {"id": item_id, "collection": doc.get("collection")}
    elif base["id"] != item_id:
        props["stac:source_id"] = item_id
    source: dict[str, Any] = {}
    for key in list(props):
        attr = _BY_PROPERTY.get(key) or _ALIASES.get(key)
        if attr is not None:
            source[attr] = props.pop(key)
    if isinstance(source.get("instrument"), list):
        source["instrument"] = source["instrument"][0] if source["instrument"] else None
    if source.get("instrument"):
        source["instrument"] = str(source["instrument"]).lower()
    if source.get("platform"):
        source["platform"] = _platform(source["platform"])
    if "polarisations" in source:
        source["polarisations"] = tuple(source["polarisations"] or ())
    grid = props.get("grid:code")
    if isinstance(grid, str) and grid.startswith("T") and len(grid) == 6:
        props["grid:code"] = "MGRS-" + grid[1:]
        props.setdefault("s2:mgrs_tile", grid[1:])
    start = source.pop("start_datetime", None) or props.get("datetime")
    end = source.pop("end_datetime", None) or props.get("datetime")
    props.pop("datetime", None)
    source["start_datetime"], source["end_datetime"] = start, end
    if isinstance(source.get("updated"), str):
        props["updated"] = source.pop("updated")
    source.pop("updated", None)
    assets = dict(doc.get("assets") or {})
    for asset in assets.values():
        description = str(asset.get("description") or "") if isinstance(asset, dict) else ""
        if "data" in (asset.get("roles") or []) and description:
            size, online, md5 = (
                _GEODES_SIZE.search(description),
                _GEODES_ONLINE.search(description),
                _GEODES_MD5.search(description),
            )
            source.setdefault("size", int(size.group(1)) if size else None)
            if online:
                source.setdefault("online", online.group(1) == "true")
            source.setdefault("checksum", "md5:" + md5.group(1).lower() if md5 else None)
    source["assets"] = assets
    source["links"] = [
        link
        for link in doc.get("links") or []
        if link.get("rel") not in ("self", "root", "parent", "collection")
    ]
    source["properties"] = props
    geometry = doc.get("geometry")
    return merge(base, source), geometry if isinstance(geometry, dict) else None


def _item(doc: dict[str, Any]) -> Item:
    fields, footprint = item_fields(doc)
    return build_item(fields, footprint)


def _linked_items(path: Path, doc: dict[str, Any], seen: set[Path]) -> Iterator[dict[str, Any]]:
    """Item documents reachable from a Collection/Catalog through local ``item``/``child`` links."""
    for link in doc.get("links") or []:
        rel, href = link.get("rel"), link.get("href")
        if rel not in ("item", "child") or not isinstance(href, str) or "://" in href:
            continue
        target = (path.parent / href).resolve()
        if target in seen or not target.is_file():
            continue
        seen.add(target)
        try:
            child = json.loads(target.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise IngestError(f"{target}: linked from {path} but not readable JSON ({exc})") from None
        if _is_item(child):
            yield child
        elif isinstance(child, dict) and child.get("type") in ("Collection", "Catalog"):
            yield from _linked_items(target, child, seen)


def _documents(document: Document) -> list[dict[str, Any]] | None:
    data = document.data
    if document.kind == "ndjson":
        return data if all(_is_item(d) for d in data) else None
    if document.kind != "json" or not isinstance(data, dict):
        return None
    if _is_item(data):
        return [data]
    if data.get("type") == "FeatureCollection" and isinstance(data.get("features"), list):
        features = data["features"]
        stac = "stac_version" in data or any("stac_version" in f for f in features[:1] if isinstance(f, dict))
        return features if stac else None
    if data.get("type") in ("Collection", "Catalog") and "stac_version" in data:
        return list(_linked_items(document.path, data, set()))
    return None


def _sniff(document: Document) -> bool:
    return _documents(document) is not None


def _read(document: Document) -> Iterator[Item | Rejected]:
    return records(document.path, _documents(document) or [], _item, lambda d: d.get("id"))


READER = Reader(
    name="stac",
    description="STAC Items, ItemCollections, Collections, NDJSON",
    sniff=_sniff,
    read=_read,
)
