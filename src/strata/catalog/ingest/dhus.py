"""ESA SciHub / DHuS responses: OpenSearch JSON (``feed.entry``), OData v1 (``d``), sentinelsat GeoJSON.

Also reads sentinelsat VCR cassettes (YAML ``interactions`` with the recorded response bodies): the
bodies of every recorded response are read and a product seen several times (a search entry and
its OData record) becomes one item, later non-empty values completing earlier ones.

OpenSearch entries carry typed lists ``str``/``int``/``date``/``double`` of ``{name, content}``:
``identifier``, ``footprint`` (WKT), ``orbitnumber``, ``relativeorbitnumber``, ``orbitdirection``,
``slicenumber``, ``missiondatatakeid``, ``polarisationmode``, ``size`` (``1.59 GB``), ``uuid``...
OData records carry ``Name``, ``ContentLength``, ``ContentDate`` (``/Date(ms)/``), ``Checksum``,
``ContentGeometry`` (GML, lat/lon order) and ``Online``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from strata.catalog.errors import IngestError, ItemError
from strata.catalog.geometry import parse_gml_coordinates, parse_wkt
from strata.catalog.ingest import Document, Reader, Rejected
from strata.catalog.ingest.build import build_item, fields_from_name, merge, records
from strata.catalog.model import Item

__all__ = ["READER"]

_UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
_INTS = {
    "orbitnumber": "absolute_orbit",
    "relativeorbitnumber": "relative_orbit",
    "slicenumber": "slice_number",
    "missiondatatakeid": "datatake_id",
}
_GML = re.compile(r"<gml:coordinates>([^<]+)</gml:coordinates>")
_MS_DATE = re.compile(r"/Date\((-?\d+)\)/")

Record = tuple[dict[str, Any], dict[str, Any] | None]


def _size(text: str | None) -> int | None:
    if not text:
        return None
    value, _, unit = text.strip().partition(" ")
    try:
        return int(float(value) * _UNITS[unit.upper()])
    except (ValueError, KeyError):
        return None


def _entry_record(entry: dict[str, Any]) -> Record:
    values: dict[str, Any] = {
        "title": entry.get("title"),
        "uuid": entry.get("id"),
        "ondemand": entry.get("ondemand"),
    }
    for kind in ("str", "int", "date", "double"):
        members = entry.get(kind) or []
        for member in members if isinstance(members, list) else [members]:
            values[member["name"]] = member.get("content")
    return _values_record(values, None)


def _feature_record(feature: dict[str, Any]) -> Record:
    """A feature of sentinelsat's GeoJSON export (DHuS names, ``date_`` prefixed times)."""
    values = {key.removeprefix("date_"): value for key, value in feature["properties"].items()}
    values.setdefault("uuid", values.get("product_id"))
    return _values_record(values, feature.get("geometry"))


def _values_record(values: dict[str, Any], geometry: dict[str, Any] | None) -> Record:
    name = values.get("identifier") or values["title"]
    source: dict[str, Any] = {key: values.get(name_) for name_, key in _INTS.items()}
    pols = values.get("polarisationmode")
    source.update(
        orbit_direction=values.get("orbitdirection"),
        polarisations=tuple(pols.split()) if pols else None,
        size=_size(values.get("size")),
        start_datetime=values.get("beginposition"),
        end_datetime=values.get("endposition"),
        online=str(values.get("ondemand") or "false").lower() != "true",
        properties={
            k: v
            for k, v in {
                "dhus:uuid": values.get("uuid"),
                "s1:product_timeliness": values.get("timeliness"),
                "eo:cloud_cover": values.get("cloudcoverpercentage"),
            }.items()
            if v is not None
        },
    )
    footprint = geometry
    if footprint is None and values.get("footprint"):
        footprint = parse_wkt(values["footprint"])
    elif footprint is None and values.get("gmlfootprint"):
        match = _GML.search(values["gmlfootprint"])
        footprint = parse_gml_coordinates(match.group(1)) if match else None
    return merge(fields_from_name(name), source), footprint


def _ms_date(text: str | None) -> datetime | None:
    match = _MS_DATE.match(text or "")
    return datetime.fromtimestamp(int(match.group(1)) / 1000.0, UTC) if match else None


def _odata_record(record: dict[str, Any]) -> Record:
    checksum = record.get("Checksum") or {}
    dates = record.get("ContentDate") or {}
    source: dict[str, Any] = {
        "size": record.get("ContentLength"),
        "checksum": f"{checksum['Algorithm'].lower()}:{checksum['Value'].lower()}"
        if checksum.get("Value")
        else None,
        "online": record.get("Online"),
        "start_datetime": _ms_date(dates.get("Start")),
        "end_datetime": _ms_date(dates.get("End")),
        "properties": {"dhus:uuid": record.get("Id")},
    }
    match = _GML.search(record.get("ContentGeometry") or "")
    footprint = parse_gml_coordinates(match.group(1)) if match else None
    return merge(fields_from_name(record["Name"]), source), footprint


def _bodies(data: Any) -> list[Any]:
    """Response documents of a DHuS document or of a VCR cassette."""
    if isinstance(data, dict) and isinstance(data.get("interactions"), list):
        bodies = []
        for interaction in data["interactions"]:
            text = ((interaction.get("response") or {}).get("body") or {}).get("string")
            if isinstance(text, str) and text.lstrip().startswith("{"):
                try:
                    bodies.append(json.loads(text))
                except json.JSONDecodeError:
                    continue
        return bodies
    return [data]


def _is_sentinelsat_geojson(body: Any) -> bool:
    if not isinstance(body, dict) or body.get("type") != "FeatureCollection":
        return False
    features = body.get("features")
    props = features[0].get("properties") if isinstance(features, list) and features else None
    return isinstance(props, dict) and "identifier" in props and "date_beginposition" in props


def _is_dhus(body: Any) -> bool:
    if not isinstance(body, dict):
        return False
    return (
        isinstance(body.get("feed"), dict) or isinstance(body.get("d"), dict) or _is_sentinelsat_geojson(body)
    )


def _entries(body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    if body.get("type") == "FeatureCollection":
        return [("feature", f) for f in body["features"]]
    if "feed" in body:
        entries = body["feed"].get("entry") or []
        return [("entry", e) for e in (entries if isinstance(entries, list) else [entries])]
    d = body["d"]
    results = d.get("results") if isinstance(d.get("results"), list) else [d]
    return [("odata", r) for r in results]


def _sniff(document: Document) -> bool:
    if document.kind not in ("json", "yaml"):
        return False
    return any(_is_dhus(b) for b in _bodies(document.data))


def _read(document: Document) -> Iterator[Item | Rejected]:
    bodies = [b for b in _bodies(document.data) if _is_dhus(b)]
    if not bodies:
        raise IngestError(f"{document.path}: no DHuS response in the document")
    merged: dict[str, Record] = {}
    rejected: list[Rejected] = []
    index = 0
    for body in bodies:
        for kind, entry in _entries(body):
            try:
                fields, footprint = _CONVERTERS[kind](entry)
            except (ItemError, KeyError, TypeError, ValueError, AttributeError) as exc:
                rejected.append(Rejected(f"{document.path}#{index}", f"malformed DHuS record ({exc})"))
                index += 1
                continue
            index += 1
            key = str(fields.get("id"))
            if key in merged:
                previous, previous_footprint = merged[key]
                merged[key] = (merge(previous, fields), footprint or previous_footprint)
            else:
                merged[key] = (fields, footprint)
    yield from rejected
    yield from records(
        document.path, list(merged.values()), lambda r: build_item(*r), lambda r: r[0].get("id")
    )


_CONVERTERS = {"entry": _entry_record, "odata": _odata_record, "feature": _feature_record}

READER = Reader(
    name="dhus",
    description="SciHub DHuS OpenSearch/OData JSON, sentinelsat VCR cassettes",
    sniff=_sniff,
    read=_read,
)
