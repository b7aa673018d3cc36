"""The catalog's product model: a STAC Item with the Sentinel fields Strata searches on.

An :class:`Item` holds the searchable fields as typed attributes (what the stores index) and
keeps everything else in ``properties``.  :meth:`Item.to_stac` renders a STAC 1.0 Item using the
``sat``, ``sar``, ``processing``, ``file`` and ``storage`` extensions; :meth:`Item.from_stac`
reads one back, so STAC is the lossless interchange form between stores, the API and ingest.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from strata.catalog.errors import ItemError

__all__ = [
    "STAC_EXTENSIONS",
    "SEARCHABLE_FIELDS",
    "Collection",
    "Item",
    "format_datetime",
    "parse_datetime",
]

STAC_VERSION = "1.0.0"
STAC_EXTENSIONS = {
    "sat": "https://stac-extensions.github.io/sat/v1.1.0/schema.json",
    "sar": "https://stac-extensions.github.io/sar/v1.0.0/schema.json",
    "processing": "https://stac-extensions.github.io/processing/v1.2.0/schema.json",
    "file": "https://stac-extensions.github.io/file/v2.1.0/schema.json",
    "storage": "https://stac-extensions.github.io/storage/v1.0.0/schema.json",
}

# attribute name -> STAC property name.  The stores index these; the API exposes them as queryables.
SEARCHABLE_FIELDS: dict[str, str] = {
    "platform": "platform",
    "constellation": "constellation",
    "instrument": "instruments",
    "product_type": "product_type",
    "processing_level": "processing:level",
    "sensor_mode": "sar:instrument_mode",
    "polarisations": "sar:polarizations",
    "orbit_direction": "sat:orbit_state",
    "absolute_orbit": "sat:absolute_orbit",
    "relative_orbit": "sat:relative_orbit",
    "cycle": "sat:orbit_cycle",
    "datatake_id": "s1:datatake_id",
    "slice_number": "s1:slice_number",
    "start_datetime": "start_datetime",
    "end_datetime": "end_datetime",
    "size": "file:size",
    "checksum": "file:checksum",
    "online": "storage:online",
    "perpendicular_baseline": "strata:perpendicular_baseline",
    "temporal_baseline": "strata:temporal_baseline",
    "updated": "updated",
}


def parse_datetime(value: str | datetime) -> datetime:
    """Parse an ISO 8601 / RFC 3339 timestamp into an aware UTC datetime.

    Naive timestamps are taken as UTC (Sentinel metadata never carries another zone).

    Raises
    ------
    ItemError
        If ``value`` is not a timestamp.
    """
    if isinstance(value, datetime):
        dt = value
    else:
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            raise ItemError(f"not an ISO 8601 timestamp: {value!r}") from None
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def format_datetime(value: datetime) -> str:
    """Render a datetime as RFC 3339 UTC with a ``Z`` suffix (what STAC clients expect)."""
    text = value.astimezone(UTC).isoformat(timespec="microseconds")
    return text.replace("+00:00", "Z")


@dataclass(slots=True)
class Item:
    """One product of the catalog (a Sentinel product or a product Strata derived)."""

    id: str
    collection: str
    geometry: dict[str, Any]
    """GeoJSON geometry in WGS 84 (Polygon or MultiPolygon; split at the antimeridian)."""
    bbox: tuple[float, float, float, float]
    """(west, south, east, north); west > east when the footprint crosses the antimeridian."""
    start_datetime: datetime
    end_datetime: datetime
    platform: str | None = None
    """Lower-case STAC platform: ``sentinel-1a``, ``sentinel-2b``..."""
    constellation: str | None = None
    instrument: str | None = None
    """Lower-case instrument: ``c-sar``, ``msi``, ``olci``, ``slstr``, ``sral``."""
    product_type: str | None = None
    """Product type as the producer names it: ``SLC``, ``GRD``, ``RAW``, ``OCN``, ``S2MSI1C``..."""
    processing_level: str | None = None
    """``L0``, ``L1``, ``L2``..."""
    sensor_mode: str | None = None
    """SAR instrument mode: ``IW``, ``EW``, ``SM`` (S1-S6), ``WV``."""
    polarisations: tuple[str, ...] = ()
    orbit_direction: str | None = None
    """``ascending`` or ``descending``."""
    absolute_orbit: int | None = None
    relative_orbit: int | None = None
    cycle: int | None = None
    datatake_id: int | None = None
    slice_number: int | None = None
    size: int | None = None
    """Size of the product in bytes."""
    checksum: str | None = None
    """``<algorithm>:<hex digest>``, e.g. ``md5:0f3c...``."""
    online: bool = True
    perpendicular_baseline: float | None = None
    """Perpendicular baseline in metres to the stack reference, when the source gives it."""
    temporal_baseline: float | None = None
    """Temporal baseline in days to the stack reference, when the source gives it."""
    assets: dict[str, dict[str, Any]] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)
    """Every other STAC property, kept verbatim."""
    links: list[dict[str, Any]] = field(default_factory=list)
    updated: datetime | None = None

    @property
    def datetime(self) -> datetime:
        """The nominal time of the product: its start time."""
        return self.start_datetime

    def replace(self, **changes: Any) -> Item:
        """Return a copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def to_stac(self) -> dict[str, Any]:
        """Render as a STAC 1.0 Item dictionary."""
        props: dict[str, Any] = dict(self.properties)
        props["datetime"] = format_datetime(self.start_datetime)
        for attr, name in SEARCHABLE_FIELDS.items():
            value = getattr(self, attr)
            if value is None or value == ():
                continue
            if isinstance(value, datetime):
                value = format_datetime(value)
            elif attr == "instrument":
                value = [value]
            elif attr == "polarisations":
                value = list(value)
            props[name] = value
        prefixes = {name.partition(":")[0] for name in props if ":" in name}
        used = [url for prefix, url in STAC_EXTENSIONS.items() if prefix in prefixes]
        return {
            "type": "Feature",
            "stac_version": STAC_VERSION,
            "stac_extensions": used,
            "id": self.id,
            "collection": self.collection,
            "geometry": self.geometry,
            "bbox": list(self.bbox),
            "properties": props,
            "links": list(self.links),
            "assets": self.assets,
        }

    @classmethod
    def from_stac(cls, doc: dict[str, Any], collection: str | None = None) -> Item:
        """Build an item from a STAC Item dictionary.

        Raises
        ------
        ItemError
            If a required member (id, geometry, a datetime) is missing or malformed.
        """
        try:
            item_id = str(doc["id"])
            geometry = doc["geometry"]
            props = dict(doc.get("properties") or {})
        except (KeyError, TypeError):
            raise ItemError("a STAC item needs 'id', 'geometry' and 'properties'") from None
        if not isinstance(geometry, dict) or "type" not in geometry:
            raise ItemError(f"{item_id}: geometry is not a GeoJSON geometry")
        coll = collection or doc.get("collection")
        if not coll:
            raise ItemError(f"{item_id}: no collection")
        start = props.pop("start_datetime", None) or props.get("datetime")
        end = props.pop("end_datetime", None) or props.get("datetime") or start
        if start is None or end is None:
            raise ItemError(f"{item_id}: no datetime, start_datetime or end_datetime")
        props.pop("datetime", None)
        values: dict[str, Any] = {}
        for attr, name in SEARCHABLE_FIELDS.items():
            if attr in ("start_datetime", "end_datetime") or name not in props:
                continue
            value = props.pop(name)
            if attr == "instrument" and isinstance(value, list):
                value = value[0] if value else None
            elif attr == "polarisations":
                value = tuple(value)
            elif attr == "updated":
                value = parse_datetime(value)
            values[attr] = value
        bbox = doc.get("bbox")
        if bbox is None:
            from strata.catalog.geometry import geometry_bbox

            bbox = geometry_bbox(geometry)
        return cls(
            id=item_id,
            collection=str(coll),
            geometry=geometry,
            bbox=(float(bbox[0]), float(bbox[1]), float(bbox[-2]), float(bbox[-1])),
            start_datetime=parse_datetime(start),
            end_datetime=parse_datetime(end),
            assets=dict(doc.get("assets") or {}),
            links=[
                link for link in doc.get("links") or [] if link.get("rel") not in ("self", "root", "parent")
            ],
            properties=props,
            **values,
        )


@dataclass(slots=True)
class Collection:
    """A STAC collection: a set of products of one kind (``sentinel-1``, a derived product...)."""

    id: str
    title: str
    description: str
    license: str = "proprietary"
    extent_bbox: tuple[float, float, float, float] = (-180.0, -90.0, 180.0, 90.0)
    extent_interval: tuple[datetime | None, datetime | None] = (None, None)
    keywords: tuple[str, ...] = ()
    public: bool = True
    summaries: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_stac(self) -> dict[str, Any]:
        """Render as a STAC 1.0 Collection dictionary."""
        start, end = self.extent_interval
        return {
            "type": "Collection",
            "stac_version": STAC_VERSION,
            "stac_extensions": [],
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "license": self.license,
            "keywords": list(self.keywords),
            "extent": {
                "spatial": {"bbox": [list(self.extent_bbox)]},
                "temporal": {
                    "interval": [
                        [format_datetime(start) if start else None, format_datetime(end) if end else None]
                    ]
                },
            },
            "summaries": self.summaries,
            "links": [],
            **self.extra,
        }

    @classmethod
    def from_stac(cls, doc: dict[str, Any]) -> Collection:
        """Build a collection from a STAC Collection dictionary (the inverse of :meth:`to_stac`).

        Raises
        ------
        ItemError
            If ``id`` is missing or the extent is malformed.
        """
        rest = {k: v for k, v in doc.items() if k not in _COLLECTION_MEMBERS}
        try:
            bbox = doc.get("extent", {}).get("spatial", {}).get("bbox", [[-180.0, -90.0, 180.0, 90.0]])[0]
            interval = doc.get("extent", {}).get("temporal", {}).get("interval", [[None, None]])[0]
            return cls(
                id=str(doc["id"]),
                title=str(doc.get("title") or doc["id"]),
                description=str(doc.get("description") or ""),
                license=str(doc.get("license") or "proprietary"),
                extent_bbox=(float(bbox[0]), float(bbox[1]), float(bbox[-2]), float(bbox[-1])),
                extent_interval=(
                    parse_datetime(interval[0]) if interval[0] else None,
                    parse_datetime(interval[1]) if interval[1] else None,
                ),
                keywords=tuple(doc.get("keywords") or ()),
                summaries=dict(doc.get("summaries") or {}),
                extra=rest,
            )
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
            raise ItemError(f"malformed STAC collection: {exc}") from None


_COLLECTION_MEMBERS = frozenset(Collection(id="", title="", description="").to_stac())
