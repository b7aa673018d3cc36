"""Copernicus Data Space (CDSE) OData ``Products`` responses (``$expand=Attributes``).

A record has ``Name`` (``….SAFE``), ``Id``, ``ContentDate``, ``GeoFootprint`` (GeoJSON) or
``Footprint`` (EWKT), ``ContentLength``, ``Online``, ``S3Path``, ``Checksum`` and typed
``Attributes`` (``orbitNumber``, ``relativeOrbitNumber``, ``orbitDirection``, ``sliceNumber``,
``polarisationChannels``, ``cycleNumber``, ``cloudCover``, ``tileId``…).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from strata.catalog.geometry import parse_wkt
from strata.catalog.ingest import Document, Reader, Rejected
from strata.catalog.ingest.build import build_item, fields_from_name, merge, records
from strata.catalog.model import Item

__all__ = ["READER"]

_ATTRIBUTES = {
    "orbitNumber": "absolute_orbit",
    "relativeOrbitNumber": "relative_orbit",
    "orbitDirection": "orbit_direction",
    "sliceNumber": "slice_number",
    "cycleNumber": "cycle",
    "datatakeID": "datatake_id",
}
_PROPERTIES = {
    "cloudCover": "eo:cloud_cover",
    "timeliness": "s1:product_timeliness",
    "productType": "cdse:product_type",
    "processorVersion": "processing:version",
    "totalSlices": "s1:total_slices",
    "datastripId": "s2:datastrip_id",
}


def _products(data: Any) -> list[dict[str, Any]] | None:
    if not isinstance(data, dict):
        return None
    values = data["value"] if isinstance(data.get("value"), list) else [data]
    first = values[0] if values else None
    if isinstance(first, dict) and "Name" in first and "ContentDate" in first and "d" not in data:
        return values
    if not values and "@odata.context" in data:
        return values
    return None


def _footprint(record: dict[str, Any]) -> dict[str, Any] | None:
    if isinstance(record.get("GeoFootprint"), dict):
        footprint: dict[str, Any] = record["GeoFootprint"]
        return footprint
    text = record.get("Footprint")
    if isinstance(text, str) and text:
        return parse_wkt(text.removeprefix("geography'").rstrip("'"))
    return None


def _item(record: dict[str, Any]) -> Item:
    attributes = {a["Name"]: a.get("Value") for a in record.get("Attributes") or [] if "Name" in a}
    source: dict[str, Any] = {key: attributes.get(name) for name, key in _ATTRIBUTES.items()}
    pols = attributes.get("polarisationChannels")
    if pols:
        source["polarisations"] = tuple(p for p in str(pols).replace("&", " ").split() if p)
    checksums = {c.get("Algorithm", "").lower(): c.get("Value") for c in record.get("Checksum") or []}
    if checksums.get("md5"):
        source["checksum"] = "md5:" + str(checksums["md5"]).lower()
    size = record.get("ContentLength")
    source["size"] = size if size else None  # CDSE reports 0 for unknown sizes
    source["online"] = record.get("Online")
    dates = record.get("ContentDate") or {}
    source["start_datetime"] = dates.get("Start")
    source["end_datetime"] = dates.get("End")
    props: dict[str, Any] = {key: attributes[name] for name, key in _PROPERTIES.items() if name in attributes}
    props["cdse:id"] = record.get("Id")
    if attributes.get("tileId"):
        props["s2:mgrs_tile"] = attributes["tileId"]
        props["grid:code"] = "MGRS-" + str(attributes["tileId"])
    source["properties"] = {k: v for k, v in props.items() if v is not None}
    if record.get("S3Path"):
        source["assets"] = {"product": {"href": "s3:/" + record["S3Path"], "roles": ["data"]}}
    return build_item(merge(fields_from_name(record["Name"]), source), _footprint(record))


def _sniff(document: Document) -> bool:
    return document.kind == "json" and bool(_products(document.data))


def _read(document: Document) -> Iterator[Item | Rejected]:
    return records(document.path, _products(document.data) or [], _item, lambda r: r.get("Name"))


READER = Reader(name="odata", description="Copernicus Data Space OData Products", sniff=_sniff, read=_read)
