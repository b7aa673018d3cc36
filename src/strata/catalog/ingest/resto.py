"""RESTO / PEPS ``search.json`` responses (GeoJSON FeatureCollections of the RESTO satellite model).

Properties used: ``productIdentifier``/``title`` (the product name), ``startDate``,
``completionDate``, ``productType``, ``processingLevel``, ``platform``, ``sensorMode``,
``orbitNumber``, ``relativeOrbitNumber``, ``orbitDirection``, ``polarisation``, ``missionTakeId``,
``resourceSize``, ``resourceChecksum``, ``storage.mode`` (``disk`` is online; ``tape``/``staging``
offline), ``services.download.url``, ``quicklook``, ``cloudCover``, ``mgrs``/``tileid``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from strata.catalog.ingest import Document, Reader, Rejected
from strata.catalog.ingest.build import build_item, fields_from_name, merge, records
from strata.catalog.model import Item

__all__ = ["READER"]

# RESTO collection names -> mission collections (PEPS: S1, S2, S2ST, S3)
_COLLECTIONS = {"S1": "sentinel-1", "S2": "sentinel-2", "S2ST": "sentinel-2", "S3": "sentinel-3"}


def _features(data: Any) -> list[dict[str, Any]] | None:
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        return None
    features = data.get("features")
    if not isinstance(features, list):
        return None
    if not features:
        return features if "totalResults" in (data.get("properties") or {}) else None
    props = features[0].get("properties") if isinstance(features[0], dict) else None
    if (
        isinstance(props, dict)
        and "startDate" in props
        and ("productIdentifier" in props or "title" in props)
    ):
        return features
    return None


def _item(feature: dict[str, Any]) -> Item:
    props = feature["properties"]
    name = props.get("productIdentifier") or props["title"]
    base = fields_from_name(str(name).rsplit("/", 1)[-1])
    download = ((props.get("services") or {}).get("download")) or {}
    checksum = props.get("resourceChecksum") or download.get("checksum")
    mode = ((props.get("storage") or {}).get("mode") or "disk").lower()
    tile = props.get("mgrs") or props.get("tileid")
    pols = props.get("polarisation")
    source: dict[str, Any] = {
        "collection": base.get("collection") or _COLLECTIONS.get(str(props.get("collection"))),
        "absolute_orbit": props.get("orbitNumber"),
        "relative_orbit": props.get("relativeOrbitNumber"),
        "orbit_direction": props.get("orbitDirection"),
        "datatake_id": props.get("missionTakeId"),
        "polarisations": tuple(str(pols).replace("+", " ").split()) if pols else None,
        "size": props.get("resourceSize") or download.get("size"),
        "checksum": f"md5:{str(checksum).lower()}" if checksum else None,
        "online": mode in ("disk", "unknown"),
        "start_datetime": props.get("startDate"),
        "end_datetime": props.get("completionDate"),
        "properties": {
            k: v
            for k, v in {
                "eo:cloud_cover": props.get("cloudCover"),
                "resto:id": feature.get("id"),
                "resto:collection": props.get("collection"),
                "storage:mode": mode,
                "s2:mgrs_tile": tile,
                "grid:code": f"MGRS-{tile}" if tile else None,
            }.items()
            if v is not None
        },
    }
    if "product_type" not in base:
        source.update(product_type=props.get("productType"), sensor_mode=props.get("sensorMode"))
    assets: dict[str, dict[str, Any]] = {}
    if download.get("url"):
        assets["product"] = {"href": download["url"], "type": download.get("mimeType"), "roles": ["data"]}
    if props.get("quicklook"):
        assets["thumbnail"] = {"href": props["quicklook"], "roles": ["thumbnail"]}
    source["assets"] = assets
    return build_item(merge(base, source), feature["geometry"])


def _sniff(document: Document) -> bool:
    return document.kind == "json" and _features(document.data) is not None


def _read(document: Document) -> Iterator[Item | Rejected]:
    return records(
        document.path,
        _features(document.data) or [],
        _item,
        lambda f: f["properties"].get("productIdentifier") or f["properties"].get("title"),
    )


READER = Reader(name="resto", description="RESTO / PEPS search.json", sniff=_sniff, read=_read)
