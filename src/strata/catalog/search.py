"""Catalog search: the query every adapter builds, and the page every store returns.

A :class:`SearchQuery` is validated when it is built: a malformed value raises
:class:`~strata.catalog.errors.QueryError` whose message starts with the parameter's name
(``relative_orbit: not an integer: 'abc'``), so adapters can show it as is.  Values may be given
as Python objects or as the strings a command line or a URL carries:

- lists (``collections``, ``platforms``, ...) accept a list or a comma-separated string;
- integer fields (``absolute_orbit``, ``relative_orbit``, ``cycle``, ``datatake_id``,
  ``slice_number``) accept values and ranges: ``13``, ``"13,45"``, ``"100..200"``, ``"..200"``;
- baselines accept a range of numbers: ``"-50..50"``;
- ``start``/``end`` accept RFC 3339 timestamps or dates; a date given as ``end`` means the end of
  that day.  :func:`parse_interval` reads STAC ``datetime`` intervals (``a/b``, ``../b``, ``a/..``).

Semantics (both stores implement them identically):

- every criterion narrows the result (AND); the values of one list criterion are alternatives (OR),
  except ``polarisations``, which a product must all carry (``VV`` matches VV and VV+VH products);
- the time interval selects products whose [start, end] overlaps it, bounds included;
- the spatial criterion (exactly one of ``bbox``, ``intersects``, ``point`` + ``radius``, ``tile``)
  selects products whose footprint intersects it, tested exactly on the footprint, not its box.
  A ``bbox`` with ``west > east`` crosses the antimeridian; polygons follow the footprint
  convention of :mod:`strata.catalog.geometry` (a ring stepping over 180° of longitude crosses it);
- ``q`` matches products whose id contains every word, ignoring case;
- results are sorted by ``sortby`` (default newest first), then by id, so pages are stable;
  ``token`` continues from the page that handed it out, in either direction, to any depth
  (keyset paging: a deep page costs what the first one does).  The count of the first page is
  carried by the tokens rather than recounted on every page.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal, NamedTuple

import shapely
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)
from pyproj import Geod
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from strata.catalog.errors import ItemError, QueryError
from strata.catalog.geometry import normalize_footprint, parse_geojson, parse_wkt, polygon_from_lonlat
from strata.catalog.mgrs import tile_geometry
from strata.catalog.model import SEARCHABLE_FIELDS, Item, format_datetime, parse_datetime

__all__ = [
    "AGGREGATION_FIELDS",
    "DEFAULT_LIMIT",
    "POLARISATIONS",
    "SORTABLE_FIELDS",
    "Bucket",
    "Cursor",
    "MatchCount",
    "Range",
    "SearchPage",
    "SearchQuery",
    "SortKey",
    "decode_token",
    "encode_token",
    "parse_interval",
    "polarisation_mask",
]

DEFAULT_LIMIT = 50
POLARISATIONS = ("HH", "HV", "VH", "VV")

SORTABLE_FIELDS: tuple[str, ...] = (
    "id",
    "collection",
    *(name for name in SEARCHABLE_FIELDS if name not in ("polarisations", "checksum")),
)
"""Fields a search can sort on: the scalar searchable fields, the id and the collection."""

AGGREGATION_FIELDS: tuple[str, ...] = (
    "collection",
    "platform",
    "product_type",
    "processing_level",
    "sensor_mode",
    "orbit_direction",
    "relative_orbit",
    "month",
    "year",
)
"""Fields :meth:`CatalogStore.aggregate` counts by; ``month``/``year`` bin the start time."""

# STAC names and common spellings -> field name
_SORT_ALIASES: dict[str, str] = {
    **{stac: attr for attr, stac in SEARCHABLE_FIELDS.items()},
    "datetime": "start_datetime",
    "properties.datetime": "start_datetime",
    **{f"properties.{stac}": attr for attr, stac in SEARCHABLE_FIELDS.items()},
}
_PLATFORM_CODE = re.compile(r"^S(\d)([A-D])$", re.IGNORECASE)
_MAX_RADIUS_KM = 5000.0
_CIRCLE_VERTICES = 64
_GEOD = Geod(ellps="WGS84")


class Range(NamedTuple):
    """A closed interval; ``None`` leaves that side open."""

    low: int | float | None
    high: int | float | None


class SortKey(NamedTuple):
    """One sort criterion."""

    field: str
    descending: bool = False


class MatchCount(NamedTuple):
    """How many products a query matches; an estimate when ``is_estimate``."""

    value: int
    is_estimate: bool


class Bucket(NamedTuple):
    """One value of an aggregation and how many matched products have it."""

    value: str | int | None
    matched: int


def _split_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, (list, tuple, set, frozenset)):
        out: list[Any] = []
        for member in value:
            out.extend(_split_list(member) if isinstance(member, str) else [member])
        return out
    return [value]


def _number(text: Any, kind: type[int] | type[float]) -> float:
    if isinstance(text, bool):
        text = str(text)  # never a number
    if kind is int and isinstance(text, float) and not text.is_integer():
        raise ValueError(f"not an integer: {text!r}")
    try:
        value = kind(text.strip() if isinstance(text, str) else text)
    except (TypeError, ValueError):
        raise ValueError(f"not {'an integer' if kind is int else 'a number'}: {text!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {text!r}")
    return value


def _parse_range(value: Any, kind: type[int] | type[float]) -> Range:
    """A range from ``"a..b"`` (either side may be empty), a single number, or a pair."""
    low: Any
    high: Any
    if isinstance(value, (list, tuple)) and len(value) == 2:
        low, high = value
    elif isinstance(value, str) and ".." in value:
        first, _, second = value.partition("..")
        low, high = first.strip() or None, second.strip() or None
    else:
        low = high = value
    bounds = Range(
        None if low is None else _number(low, kind),
        None if high is None else _number(high, kind),
    )
    if bounds.low is not None and bounds.high is not None and bounds.low > bounds.high:
        raise ValueError(f"range {bounds.low}..{bounds.high} is empty (low above high)")
    if bounds.low is None and bounds.high is None:
        raise ValueError(f"range {value!r} has no bound")
    return bounds


def _parse_bound(value: Any, *, end: bool) -> datetime | None:
    """A time bound; a bare date as an end bound means the end of that day."""
    if value is None or value in ("", ".."):
        return None
    if isinstance(value, datetime):
        return parse_datetime(value)
    if isinstance(value, date):
        value = value.isoformat()
    text = str(value).strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        midnight = datetime.combine(date.fromisoformat(text), time(), tzinfo=UTC)
        return midnight + timedelta(days=1, microseconds=-1) if end else midnight
    try:
        return parse_datetime(text)
    except ItemError:
        raise ValueError(f"not an RFC 3339 timestamp or date: {text!r}") from None


def parse_interval(text: str) -> tuple[datetime | None, datetime | None]:
    """Parse a STAC ``datetime`` parameter into (start, end).

    Parameters
    ----------
    text
        ``"2020-01-01T00:00:00Z/2020-02-01T00:00:00Z"``, ``"../2020-02-01"``, ``"2020-01-01/.."``,
        or one timestamp or date (a date covers its whole day).

    Returns
    -------
    tuple
        ``(start, end)``, ``None`` for an open side.

    Raises
    ------
    QueryError
        Naming ``datetime`` when a bound is malformed or the interval is empty.
    """
    first, slash, second = text.strip().partition("/")
    try:
        start = _parse_bound(first, end=False)
        stop = _parse_bound(second if slash else first, end=True)
    except ValueError as exc:
        raise QueryError(f"datetime: {exc}") from None
    if slash and start is None and stop is None:
        raise QueryError("datetime: an interval needs at least one bound")
    if start is not None and stop is not None and start > stop:
        raise QueryError(f"datetime: start {format_datetime(start)} is after end {format_datetime(stop)}")
    return start, stop


def _circle(lon: float, lat: float, radius_km: float) -> dict[str, Any]:
    """A geodesic circle as a GeoJSON polygon (continuous longitudes, normalised later)."""
    azimuths = [360.0 * i / _CIRCLE_VERTICES for i in range(_CIRCLE_VERTICES)]
    lons, lats, _ = _GEOD.fwd(
        [lon] * len(azimuths), [lat] * len(azimuths), azimuths, [radius_km * 1e3] * len(azimuths)
    )
    ring = [(lon + (x - lon + 180.0) % 360.0 - 180.0, y) for x, y in zip(lons, lats, strict=True)]
    return polygon_from_lonlat(ring)


class SearchQuery(BaseModel):
    """A catalog search.  Every field is optional; an empty query matches every product.

    Building one with a malformed value raises :class:`~strata.catalog.errors.QueryError`
    naming the parameter.  See the module docstring for the accepted spellings and semantics.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    collections: list[str] = Field(default_factory=list, description="Collection ids (any of).")
    ids: list[str] = Field(default_factory=list, description="Product ids (any of).")
    platforms: list[str] = Field(
        default_factory=list, description="Platforms, e.g. sentinel-1a (or S1A); any of."
    )
    constellations: list[str] = Field(default_factory=list, description="Constellations (any of).")
    instruments: list[str] = Field(default_factory=list, description="Instruments, e.g. c-sar (any of).")
    product_types: list[str] = Field(default_factory=list, description="Product types, e.g. SLC (any of).")
    processing_levels: list[str] = Field(default_factory=list, description="Processing levels (any of).")
    sensor_modes: list[str] = Field(default_factory=list, description="SAR modes IW/EW/SM/WV (any of).")
    polarisations: list[str] = Field(
        default_factory=list, description="Polarisations a product must all carry (HH, HV, VH, VV)."
    )
    orbit_direction: Literal["ascending", "descending"] | None = Field(
        default=None, description="Orbit direction."
    )
    absolute_orbit: list[Range] = Field(default_factory=list, description="Absolute orbit values/ranges.")
    relative_orbit: list[Range] = Field(default_factory=list, description="Relative orbit values/ranges.")
    cycle: list[Range] = Field(default_factory=list, description="Orbit cycle values/ranges.")
    datatake_id: list[Range] = Field(default_factory=list, description="Datatake id values/ranges.")
    slice_number: list[Range] = Field(default_factory=list, description="Slice number values/ranges.")
    online: bool | None = Field(default=None, description="Only products online (true) or offline (false).")
    start: datetime | None = Field(default=None, description="Products ending at or after this time.")
    end: datetime | None = Field(default=None, description="Products starting at or before this time.")
    bbox: tuple[float, float, float, float] | None = Field(
        default=None, description="(west, south, east, north); west > east crosses the antimeridian."
    )
    intersects: dict[str, Any] | str | None = Field(
        default=None, description="A geometry as GeoJSON (object or text) or WKT."
    )
    point: tuple[float, float] | None = Field(default=None, description="(lon, lat) of a circle's centre.")
    radius: float | None = Field(default=None, description="Radius in km of the circle around ``point``.")
    tile: str | None = Field(default=None, description="Sentinel-2 MGRS tile id, e.g. 31TCJ.")
    perpendicular_baseline: Range | None = Field(
        default=None, description="Perpendicular baseline range (m)."
    )
    temporal_baseline: Range | None = Field(default=None, description="Temporal baseline range (days).")
    q: str | None = Field(default=None, description="Words the product id must all contain (any case).")
    sortby: list[SortKey] = Field(
        default_factory=lambda: [SortKey("start_datetime", True)], description="Sort keys, first first."
    )
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, description="Products per page.")
    token: str | None = Field(default=None, description="Cursor from a previous page (next or prev).")

    _geometry: BaseGeometry | None = PrivateAttr(default=None)

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            error = exc.errors()[0]
            message = str(error.get("ctx", {}).get("error") or error["msg"]).removeprefix("Value error, ")
            if error["loc"]:  # a field's own error; model-level messages already name the parameter
                message = f"{error['loc'][0]}: {message}"
            raise QueryError(message) from None

    # -- field parsing --------------------------------------------------------------------------

    @field_validator(
        "collections",
        "ids",
        "constellations",
        "instruments",
        "product_types",
        "processing_levels",
        "sensor_modes",
        "platforms",
        "polarisations",
        mode="before",
    )
    @classmethod
    def _list(cls, value: Any) -> list[str]:
        return [str(v).strip() for v in _split_list(value)]

    @field_validator("platforms")
    @classmethod
    def _platforms(cls, value: list[str]) -> list[str]:
        out = []
        for name in value:
            code = _PLATFORM_CODE.match(name)
            out.append(f"sentinel-{code.group(1)}{code.group(2).lower()}" if code else name.lower())
        return out

    @field_validator("instruments", "constellations")
    @classmethod
    def _lower(cls, value: list[str]) -> list[str]:
        return [v.lower() for v in value]

    @field_validator("product_types", "processing_levels", "sensor_modes")
    @classmethod
    def _upper(cls, value: list[str]) -> list[str]:
        return [v.upper() for v in value]

    @field_validator("polarisations")
    @classmethod
    def _polarisations(cls, value: list[str]) -> list[str]:
        out = sorted({v.upper() for v in value})
        unknown = [v for v in out if v not in POLARISATIONS]
        if unknown:
            raise ValueError(f"unknown polarisation {unknown[0]!r}; expected {', '.join(POLARISATIONS)}")
        return out

    @field_validator("orbit_direction", mode="before")
    @classmethod
    def _direction(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator(
        "absolute_orbit", "relative_orbit", "cycle", "datatake_id", "slice_number", mode="before"
    )
    @classmethod
    def _int_ranges(cls, value: Any) -> list[Range]:
        if isinstance(value, (Range, str, int, float)) or value is None:
            members = _split_list(value)
        else:
            members = list(value)
        return [_parse_range(member, int) for member in members]

    @field_validator("perpendicular_baseline", "temporal_baseline", mode="before")
    @classmethod
    def _float_range(cls, value: Any) -> Range | None:
        return None if value is None else _parse_range(value, float)

    @field_validator("start", mode="before")
    @classmethod
    def _start(cls, value: Any) -> datetime | None:
        return _parse_bound(value, end=False)

    @field_validator("end", mode="before")
    @classmethod
    def _end(cls, value: Any) -> datetime | None:
        return _parse_bound(value, end=True)

    @field_validator("bbox", mode="before")
    @classmethod
    def _bbox(cls, value: Any) -> Any:
        numbers = [_number(v, float) for v in _split_list(value)] if value is not None else None
        if numbers is None:
            return None
        if len(numbers) == 6:  # 3D bbox: drop the heights
            numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
        if len(numbers) != 4:
            raise ValueError(f"needs 4 numbers (west, south, east, north), got {len(numbers)}")
        west, south, east, north = numbers
        if not (-180.0 <= west <= 180.0 and -180.0 <= east <= 180.0):
            raise ValueError("longitudes must be within [-180, 180]")
        if not (-90.0 <= south <= north <= 90.0):
            raise ValueError("latitudes must be within [-90, 90] with south <= north")
        return tuple(numbers)

    @field_validator("point", mode="before")
    @classmethod
    def _point(cls, value: Any) -> Any:
        if value is None:
            return None
        numbers = [_number(v, float) for v in _split_list(value)]
        if len(numbers) != 2 or not (-180.0 <= numbers[0] <= 180.0 and -90.0 <= numbers[1] <= 90.0):
            raise ValueError("needs lon,lat within [-180, 180] and [-90, 90]")
        return tuple(numbers)

    @field_validator("radius", mode="before")
    @classmethod
    def _radius(cls, value: Any) -> float | None:
        if value is None:
            return None
        radius = _number(value, float)
        if not 0.0 <= radius <= _MAX_RADIUS_KM:
            raise ValueError(f"must be within [0, {_MAX_RADIUS_KM:g}] km")
        return radius

    @field_validator("q", "tile", "token", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        if isinstance(value, str):
            return value.strip() or None
        return value

    @field_validator("sortby", mode="before")
    @classmethod
    def _sortby(cls, value: Any) -> list[SortKey]:
        keys: list[SortKey] = []
        for member in _split_list(value):
            if isinstance(member, SortKey):
                name, descending = member
            elif isinstance(member, dict):
                name = str(member.get("field", ""))
                direction = str(member.get("direction", "asc")).lower()
                if direction not in ("asc", "desc"):
                    raise ValueError(f"direction must be asc or desc, not {direction!r}")
                descending = direction == "desc"
            elif isinstance(member, (list, tuple)) and len(member) == 2:
                name, descending = str(member[0]), member[1] in (True, "desc", "DESC")
            else:
                text = str(member).strip()
                descending = text.startswith("-")
                name = text.lstrip("+-").strip()
            field = _SORT_ALIASES.get(name, name)
            if field not in SORTABLE_FIELDS:
                raise ValueError(f"cannot sort on {name!r}; sortable: {', '.join(SORTABLE_FIELDS)}")
            if field not in [k.field for k in keys]:
                keys.append(SortKey(field, bool(descending)))
        return keys or [SortKey("start_datetime", True)]

    @model_validator(mode="after")
    def _check(self) -> SearchQuery:
        if self.start is not None and self.end is not None and self.start > self.end:
            raise ValueError(f"start: {format_datetime(self.start)} is after end {format_datetime(self.end)}")
        given = [name for name in ("bbox", "intersects", "point", "tile") if getattr(self, name) is not None]
        if len(given) > 1:
            raise ValueError(f"{given[1]}: {' and '.join(given)} are exclusive; give one spatial criterion")
        if (self.point is None) != (self.radius is None):
            raise ValueError("radius: point and radius go together")
        return self

    def model_post_init(self, context: Any, /) -> None:
        """Build the spatial criterion once (raising QueryError naming the parameter)."""
        name = next((n for n in ("bbox", "intersects", "point", "tile") if getattr(self, n) is not None), "")
        try:
            self._geometry = self._build_geometry()
        except QueryError as exc:
            message = str(exc)
            raise QueryError(message if message.startswith(f"{name}:") else f"{name}: {message}") from None

    def _build_geometry(self) -> BaseGeometry | None:
        if self.bbox is not None:
            west, south, east, north = self.bbox
            if west > east:
                return shapely.MultiPolygon(
                    [shapely.box(west, south, 180.0, north), shapely.box(-180.0, south, east, north)]
                )
            return shapely.envelope(shapely.MultiPoint([(west, south), (east, north)]))
        if self.point is not None and self.radius is not None:
            lon, lat = self.point
            if self.radius == 0.0:
                return shapely.Point(lon, lat)
            pole_distance = _GEOD.inv(lon, lat, lon, 90.0 if lat >= 0 else -90.0)[2] / 1e3
            if pole_distance <= self.radius:
                raise QueryError("point: a circle around a pole is not supported; use bbox")
            return shape(normalize_footprint(_circle(lon, lat, self.radius), QueryError))
        if self.tile is not None:
            return shape(tile_geometry(self.tile))
        if self.intersects is not None:
            return _intersects_geometry(self.intersects)
        return None

    # -- derived values the stores use ----------------------------------------------------------

    @property
    def geometry(self) -> BaseGeometry | None:
        """The spatial criterion as a shapely geometry within ±180° (split at the antimeridian)."""
        return self._geometry

    @property
    def sort_keys(self) -> list[SortKey]:
        """``sortby`` completed with the id, the tie-breaker that makes pages stable."""
        keys = list(self.sortby)
        if "id" not in [k.field for k in keys]:
            keys.append(SortKey("id", False))
        return keys

    @property
    def polarisation_mask(self) -> int:
        """Bit mask of ``polarisations`` (see :func:`polarisation_mask`)."""
        return polarisation_mask(self.polarisations)

    def fingerprint(self) -> str:
        """A short hash of the criteria and sort order (not the page): tokens carry it."""
        criteria = self.model_dump(mode="json", exclude={"limit", "token"})
        digest = hashlib.sha256(json.dumps(criteria, sort_keys=True, default=str).encode())
        return digest.hexdigest()[:12]

    def with_token(self, token: str | None) -> SearchQuery:
        """The same query at another page."""
        return self.model_copy(update={"token": token})


def polarisation_mask(polarisations: Any) -> int:
    """Bit mask of a set of polarisations (HH=1, HV=2, VH=4, VV=8); unknown names are ignored."""
    return sum(1 << POLARISATIONS.index(p) for p in set(polarisations) if p in POLARISATIONS)


def _intersects_geometry(value: dict[str, Any] | str) -> BaseGeometry:
    if isinstance(value, dict) or value.lstrip().startswith("{"):
        doc = parse_geojson(value, QueryError)
    else:
        doc = parse_wkt(value, QueryError)
    if doc.get("type") in ("Polygon", "MultiPolygon"):
        doc = normalize_footprint(doc, QueryError)
    try:
        geometry = shape(doc)
    except (ValueError, TypeError, AttributeError, shapely.errors.GEOSException) as exc:
        raise QueryError(f"malformed geometry: {exc}") from None
    west, south, east, north = geometry.bounds
    if not (-180.0 <= west and east <= 180.0 and -90.0 <= south and north <= 90.0):
        raise QueryError("coordinates must be longitude/latitude in degrees")
    if not geometry.is_valid:
        raise QueryError(f"invalid geometry ({shapely.is_valid_reason(geometry)})")
    return geometry


# --- pages and cursors ---------------------------------------------------------------------------


class Cursor(NamedTuple):
    """What a paging token carries."""

    direction: Literal["next", "prev"]
    """``next`` continues after the boundary product, ``prev`` before it."""
    values: list[Any]
    """Values of :attr:`SearchQuery.sort_keys` of the boundary product."""
    matched: MatchCount
    """The count of the first page, reused by the following ones (so deep pages stay cheap)."""


def encode_token(query: SearchQuery, cursor: Cursor) -> str:
    """A paging token: ``cursor`` bound to the query's criteria and sort order.

    Parameters
    ----------
    query
        The query whose page hands out the token.
    cursor
        Direction, boundary values (JSON-compatible) and count to carry.
    """
    body = {
        "d": cursor.direction[0],
        "k": cursor.values,
        "m": [cursor.matched.value, cursor.matched.is_estimate],
        "f": query.fingerprint(),
    }
    return base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_token(query: SearchQuery) -> Cursor | None:
    """The cursor of ``query.token``; ``None`` without a token.

    Raises
    ------
    QueryError
        If the token is malformed or was handed out for another query.
    """
    if query.token is None:
        return None
    try:
        padded = query.token + "=" * (-len(query.token) % 4)
        body = json.loads(base64.urlsafe_b64decode(padded.encode()))
        direction, values, (matched, estimate), fingerprint = body["d"], body["k"], body["m"], body["f"]
    except (ValueError, TypeError, KeyError):
        raise QueryError("token: malformed paging token") from None
    if direction not in ("n", "p") or not isinstance(values, list) or len(values) != len(query.sort_keys):
        raise QueryError("token: malformed paging token")
    if fingerprint != query.fingerprint():
        raise QueryError("token: this paging token belongs to another query (criteria or sort changed)")
    return Cursor("next" if direction == "n" else "prev", values, MatchCount(int(matched), bool(estimate)))


@dataclass(frozen=True, slots=True)
class SearchPage:
    """One page of search results."""

    items: list[Item]
    number_matched: int
    """Products matching the query (all pages); an estimate when ``matched_is_estimate``."""
    matched_is_estimate: bool
    next_token: str | None
    """Token of the following page; ``None`` on the last page."""
    prev_token: str | None
    """Token of the preceding page; ``None`` on the first page."""

    def to_geojson(self) -> dict[str, Any]:
        """The page as a GeoJSON FeatureCollection of STAC items, with ``numberMatched``."""
        collection: dict[str, Any] = {
            "type": "FeatureCollection",
            "features": [item.to_stac() for item in self.items],
            "numberMatched": self.number_matched,
            "numberReturned": len(self.items),
        }
        if self.matched_is_estimate:
            collection["numberMatchedIsEstimate"] = True
        if self.next_token:
            collection["next"] = self.next_token
        if self.prev_token:
            collection["prev"] = self.prev_token
        return collection
