"""ASF search results: GeoJSON features, asf_search ``.yml``/JSON product records and ``jsonlite``.

Each record's ``properties`` carry ``sceneName``, ``orbit``, ``pathNumber``, ``frameNumber``,
``flightDirection``, ``polarization`` (``VV+VH``), ``bytes``, ``md5sum``, ``url``/``s3Urls`` and, in
stack searches, ``temporalBaseline`` (days) and ``perpendicularBaseline`` (metres).  Burst records
(``processingLevel: BURST``) carry the burst id and the parent SLC in their URL.

The relative orbit comes from the product name (ESA formula), not from ``pathNumber``, which the
tests use as an independent check; ``pathNumber`` fills in only where the name gives none.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from strata.catalog.geometry import parse_wkt
from strata.catalog.ingest import Document, Reader, Rejected
from strata.catalog.ingest.build import build_item, fields_from_name, merge, records
from strata.catalog.model import Item

__all__ = ["READER"]

_PARENT = re.compile(
    r"(S1[A-D]_[A-Z0-9]{2}_[A-Z_]{4}_\d[A-Z]{3}_\d{8}T\d{6}_\d{8}T\d{6}_\d{6}_[0-9A-F]{6}_[0-9A-F]{4})"
)


def _record_list(data: Any) -> list[dict[str, Any]] | None:
    """The ASF records of a document, or None if it is not ASF output."""
    if isinstance(data, dict):
        if isinstance(data.get("results"), list):
            results = data["results"]
            return (
                results if results and isinstance(results[0], dict) and "granuleName" in results[0] else None
            )
        if data.get("type") == "FeatureCollection":
            data = data.get("features") or []
        else:
            data = [data]
    if not isinstance(data, list) or not data or not isinstance(data[0], dict):
        return None
    props = data[0].get("properties")
    if isinstance(props, dict) and "sceneName" in props and ("fileID" in props or "beamModeType" in props):
        return data
    return None


def _polarisations(text: str | None) -> tuple[str, ...] | None:
    if not text:
        return None
    found = tuple(p for p in re.split(r"[+ ,/]", text.upper()) if p in ("HH", "HV", "VV", "VH"))
    return found or None


def _platform(text: str | None) -> str | None:
    return text.lower().replace("_", "-") if text else None


def _feature_item(record: dict[str, Any]) -> Item:
    props = record["properties"]
    name = props["sceneName"]
    base = fields_from_name(name)
    level = props.get("processingLevel")
    extra: dict[str, Any] = {
        "asf:frame": props.get("frameNumber"),
        "asf:group_id": props.get("groupID"),
    }
    if props.get("pgeVersion"):
        extra["processing:software"] = {"Sentinel-1 IPF": props["pgeVersion"]}
    node_time = (record.get("baseline") or {}).get("ascendingNodeTime")
    if node_time:
        extra["sat:anx_datetime"] = node_time
    source: dict[str, Any] = {
        "orbit_direction": props.get("flightDirection"),
        "absolute_orbit": props.get("orbit"),
        "size": props.get("bytes"),
        "checksum": f"md5:{props['md5sum']}" if props.get("md5sum") else None,
        "perpendicular_baseline": props.get("perpendicularBaseline"),
        "temporal_baseline": props.get("temporalBaseline"),
        "start_datetime": props.get("startTime"),
        "end_datetime": props.get("stopTime"),
        "properties": {k: v for k, v in extra.items() if v is not None},
    }
    if "collection" not in base:  # burst or other non-standard name: fill from the record
        burst = props.get("burst") or {}
        parent = _PARENT.search(props.get("url") or "")
        parent_fields = fields_from_name(parent.group(1)) if parent else {}
        source.update(
            collection="sentinel-1" if "SENTINEL-1" in str(props.get("platform", "")).upper() else None,
            platform=_platform(props.get("platform")),
            constellation="sentinel-1",
            instrument=str(props.get("sensor") or "c-sar").lower(),
            product_type=level,
            sensor_mode=props.get("beamModeType"),
            polarisations=_polarisations(props.get("polarization")),
            relative_orbit=props.get("pathNumber"),
            datatake_id=parent_fields.get("datatake_id"),
            cycle=parent_fields.get("cycle"),
        )
        if burst:
            source["properties"].update(
                {
                    "s1:burst_id": burst.get("fullBurstID"),
                    "s1:absolute_burst_id": burst.get("absoluteBurstID"),
                    "s1:relative_burst_id": burst.get("relativeBurstID"),
                    "s1:subswath": burst.get("subswath"),
                    "s1:parent_product": parent.group(1) if parent else None,
                }
            )
    assets: dict[str, dict[str, Any]] = {}
    if props.get("url"):
        assets["product"] = {"href": props["url"], "roles": ["data"], "file:size": props.get("bytes")}
    for index, url in enumerate(props.get("s3Urls") or []):
        assets[f"s3-{index}" if index else "s3"] = {"href": url, "roles": ["data"]}
    if props.get("browse"):
        browse = props["browse"]
        assets["thumbnail"] = {
            "href": browse[0] if isinstance(browse, list) else browse,
            "roles": ["thumbnail"],
        }
    source["assets"] = assets
    return build_item(merge(base, source), record["geometry"])


def _jsonlite_item(record: dict[str, Any]) -> Item:
    name = record["granuleName"]
    orbit = record.get("orbit")
    size_mb = record.get("sizeMB")
    source: dict[str, Any] = {
        "orbit_direction": record.get("flightDirection"),
        "absolute_orbit": orbit[0] if isinstance(orbit, list) and orbit else orbit,
        "size": int(float(size_mb) * 1024 * 1024) if size_mb is not None else None,
        "start_datetime": record.get("startTime"),
        "end_datetime": record.get("stopTime"),
        "properties": {"asf:frame": record.get("frame")},
        "assets": {"product": {"href": record["downloadUrl"], "roles": ["data"]}}
        if record.get("downloadUrl")
        else {},
    }
    return build_item(merge(fields_from_name(name), source), parse_wkt(record["wkt"]))


def _sniff(document: Document) -> bool:
    return document.kind in ("json", "yaml") and _record_list(document.data) is not None


def _read(document: Document) -> Iterator[Item | Rejected]:
    entries = _record_list(document.data) or []
    if entries and "granuleName" in entries[0]:
        return records(document.path, entries, _jsonlite_item, lambda r: r.get("granuleName"))
    return records(document.path, entries, _feature_item, lambda r: r["properties"].get("sceneName"))


READER = Reader(
    name="asf",
    description="ASF search results (GeoJSON, asf_search records, jsonlite)",
    sniff=_sniff,
    read=_read,
)
