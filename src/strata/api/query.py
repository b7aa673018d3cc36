"""Search parameters of every façade (STAC GET/POST, OpenSearch), parsed once into :class:`SearchRequest`.

Parsing checks each parameter and raises :class:`~strata.catalog.errors.QueryError` with a message
that starts with the parameter's name (``bbox: ...``, ``datetime: ...``, ``filter: ...``), which
the API answers with 400.  CQL2 (text or JSON) is parsed with the ``cql2`` library; the legacy
``query`` object is rewritten into CQL2 JSON, so every filter reaches the store in one form.
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import cql2
from stac_fastapi.types.rfc3339 import rfc3339_str_to_datetime

from strata.catalog.errors import QueryError
from strata.catalog.geometry import parse_geojson
from strata.catalog.model import SEARCHABLE_FIELDS

__all__ = [
    "MAX_LIMIT",
    "QUERYABLE_TYPES",
    "SearchRequest",
    "decode_token",
    "encode_token",
    "parse_bbox",
    "parse_datetime_interval",
    "parse_filter",
    "parse_intersects",
    "parse_sortby",
    "query_to_cql2",
]

MAX_LIMIT = 10_000

# STAC property -> JSON schema of the queryable (every searchable field of the catalog).
QUERYABLE_TYPES: dict[str, dict[str, Any]] = {
    "id": {"type": "string", "title": "Product identifier"},
    "collection": {"type": "string", "title": "Collection"},
    "datetime": {"type": "string", "format": "date-time", "title": "Acquisition start"},
    "geometry": {"$ref": "https://geojson.org/schema/Geometry.json", "title": "Footprint"},
    "platform": {"type": "string", "title": "Platform (sentinel-1a, ...)"},
    "constellation": {"type": "string", "title": "Constellation"},
    "instruments": {"type": "array", "items": {"type": "string"}, "title": "Instruments"},
    "product_type": {"type": "string", "title": "Product type (SLC, GRD, ...)"},
    "processing:level": {"type": "string", "title": "Processing level"},
    "sar:instrument_mode": {"type": "string", "title": "Sensor mode (IW, EW, SM, WV)"},
    "sar:polarizations": {"type": "array", "items": {"type": "string"}, "title": "Polarisations"},
    "sat:orbit_state": {"type": "string", "enum": ["ascending", "descending"], "title": "Orbit direction"},
    "sat:absolute_orbit": {"type": "integer", "title": "Absolute orbit"},
    "sat:relative_orbit": {"type": "integer", "title": "Relative orbit"},
    "sat:orbit_cycle": {"type": "integer", "title": "Orbit cycle"},
    "s1:datatake_id": {"type": "integer", "title": "Datatake id"},
    "s1:slice_number": {"type": "integer", "title": "Slice number"},
    "start_datetime": {"type": "string", "format": "date-time", "title": "Start time"},
    "end_datetime": {"type": "string", "format": "date-time", "title": "End time"},
    "file:size": {"type": "integer", "title": "Size in bytes"},
    "file:checksum": {"type": "string", "title": "Checksum"},
    "storage:online": {"type": "boolean", "title": "On disk (not on tape)"},
    SEARCHABLE_FIELDS["perpendicular_baseline"]: {"type": "number", "title": "Perpendicular baseline (m)"},
    SEARCHABLE_FIELDS["temporal_baseline"]: {"type": "number", "title": "Temporal baseline (days)"},
    "updated": {"type": "string", "format": "date-time", "title": "Last update"},
    "eo:cloud_cover": {"type": "number", "minimum": 0, "maximum": 100, "title": "Cloud cover (%), optical"},
}
assert set(SEARCHABLE_FIELDS.values()) <= set(QUERYABLE_TYPES)

_QUERY_OPS = {"eq": "=", "neq": "<>", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
_QUERY_LIKE = {"startsWith": "{}%", "endsWith": "%{}", "contains": "%{}%"}


@dataclass(frozen=True)
class SearchRequest:
    """One search, whatever façade it came through."""

    collections: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()
    bbox: tuple[float, float, float, float] | None = None
    intersects: dict[str, Any] | None = None
    start: datetime | None = None
    """Items ending at or after this time."""
    end: datetime | None = None
    """Items starting at or before this time."""
    filter: dict[str, Any] | None = None
    """CQL2 JSON (the legacy ``query`` folded in)."""
    q: tuple[str, ...] = ()
    """Free-text terms (any may match)."""
    sortby: tuple[tuple[str, bool], ...] = ()
    """(STAC property, ascending) pairs."""
    limit: int = 10
    token: str | None = None
    """Continuation token handed out by a previous page."""
    offset: int = 0
    """Matching products to skip first (page-number clients); 0 with a token."""
    fields_include: tuple[str, ...] | None = None
    """Fields to keep (``None``: not given, keep all; empty: the default fields)."""
    fields_exclude: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def at(self, token: str | None) -> SearchRequest:
        """The same search continuing at ``token``."""
        return replace(self, token=token, offset=0)


def encode_token(store_token: str | None, skip: int) -> str:
    """Opaque continuation token: the store's page token plus products of that page already used."""
    body = json.dumps({"t": store_token, "s": skip}, separators=(",", ":"))
    return base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")


def decode_token(token: str) -> tuple[str | None, int]:
    """The (store token, skip) of a token from :func:`encode_token`.

    Raises
    ------
    QueryError
        If the token was not made by :func:`encode_token`.
    """
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        store_token, skip = data["t"], int(data["s"])
    except (ValueError, KeyError, TypeError):
        raise QueryError(f"token: not a paging token: {token!r}") from None
    if skip < 0 or not (store_token is None or isinstance(store_token, str)):
        raise QueryError("token: not a paging token")
    return store_token, skip


def parse_bbox(
    value: str | list[float] | tuple[float, ...] | None, name: str = "bbox"
) -> tuple[float, ...] | None:
    """Parse and check a bbox (4 or 6 numbers, west > east allowed across the antimeridian).

    Raises
    ------
    QueryError
        If the value is not a valid bbox; the message names ``name``.
    """
    if value is None or value == "":
        return None
    try:
        numbers = [float(v) for v in (value.split(",") if isinstance(value, str) else value)]
    except (TypeError, ValueError):
        raise QueryError(f"{name}: not a list of numbers: {value!r}") from None
    if len(numbers) not in (4, 6) or not all(math.isfinite(v) for v in numbers):
        raise QueryError(f"{name}: needs 4 (or 6) finite numbers west,south,east,north, got {value!r}")
    half = len(numbers) // 2
    west, south, east, north = numbers[0], numbers[1], numbers[half], numbers[half + 1]
    if not (-180 <= west <= 180 and -180 <= east <= 180):
        raise QueryError(f"{name}: longitudes must be within [-180, 180], got {value!r}")
    if not (-90 <= south <= north <= 90):
        raise QueryError(f"{name}: latitudes must be within [-90, 90] with south <= north, got {value!r}")
    return (west, south, east, north)


def parse_intersects(value: str | dict[str, Any] | None) -> dict[str, Any] | None:
    """Parse and check an ``intersects`` GeoJSON geometry.

    Raises
    ------
    QueryError
        If the value is not a GeoJSON geometry.
    """
    if value is None or value == "":
        return None
    try:
        return parse_geojson(value, error=QueryError)
    except QueryError as exc:
        raise QueryError(f"intersects: {exc}") from None


def _instant(text: str) -> datetime | None:
    if text in ("", ".."):
        return None
    try:
        return rfc3339_str_to_datetime(text)
    except ValueError:
        raise QueryError(f"datetime: not an RFC 3339 date-time: {text!r}") from None


def parse_datetime_interval(
    value: str | None, name: str = "datetime"
) -> tuple[datetime | None, datetime | None]:
    """Parse an RFC 3339 instant or interval (``a/b``, ``../b``, ``a/..``) into (start, end).

    Raises
    ------
    QueryError
        If the value is malformed, doubly open or reversed; the message names ``name``.
    """
    if value is None:
        return None, None
    parts = value.split("/")
    if not value or len(parts) > 2 or value == "..":
        raise QueryError(f"{name}: expected an RFC 3339 date-time or interval, got {value!r}")
    try:
        if len(parts) == 1:
            instant = _instant(value)
            return instant, instant
        start, end = _instant(parts[0]), _instant(parts[1])
    except QueryError as exc:
        raise QueryError(str(exc).replace("datetime:", f"{name}:", 1)) from None
    if start is None and end is None:
        raise QueryError(f"{name}: an interval needs at least one end, got {value!r}")
    if start is not None and end is not None and start > end:
        raise QueryError(f"{name}: interval starts after it ends: {value!r}")
    return start, end


def parse_filter(value: str | dict[str, Any] | None, lang: str | None = None) -> dict[str, Any] | None:
    """Parse a CQL2 filter (text, or JSON as a string or object) into CQL2 JSON.

    Raises
    ------
    QueryError
        If the filter is not valid CQL2, or uses a property that is not queryable.
    """
    if value is None or value == "" or value == {}:
        return None
    if lang not in (None, "cql2-text", "cql2-json"):
        raise QueryError(f"filter-lang: {lang!r} is not cql2-text or cql2-json")
    try:
        if isinstance(value, dict):
            expr = cql2.parse_json(json.dumps(value))
        elif lang == "cql2-json" or value.lstrip().startswith("{"):
            expr = cql2.parse_json(value)
        else:
            expr = cql2.parse_text(value)
        expr.validate()
        parsed: dict[str, Any] = expr.to_json()
    except (cql2.ParseError, cql2.ValidationError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise QueryError(f"filter: not valid CQL2: {first}") from None
    for name in _properties(parsed):
        if name not in QUERYABLE_TYPES and not name.startswith("properties."):
            raise QueryError(f"filter: {name!r} is not a queryable (see /queryables)")
    return parsed


def _properties(node: Any) -> set[str]:
    if isinstance(node, dict):
        if set(node) == {"property"}:
            return {str(node["property"])}
        return set().union(*(_properties(v) for v in node.values())) if node else set()
    if isinstance(node, list):
        return set().union(*(_properties(v) for v in node)) if node else set()
    return set()


def query_to_cql2(query: dict[str, Any] | str | None) -> dict[str, Any] | None:
    """Rewrite a legacy Query-extension object (``{"prop": {"eq": 1}}``) as CQL2 JSON.

    Raises
    ------
    QueryError
        If the object is malformed or uses an unknown operator or property.
    """
    if query is None or query == "" or query == {}:
        return None
    if isinstance(query, str):
        try:
            query = json.loads(query)
        except ValueError:
            raise QueryError("query: not a JSON object") from None
    if not isinstance(query, dict):
        raise QueryError("query: not a JSON object")
    args: list[dict[str, Any]] = []
    for name, ops in query.items():
        if name not in QUERYABLE_TYPES:
            raise QueryError(f"query: {name!r} is not a queryable (see /queryables)")
        if not isinstance(ops, dict) or not ops:
            raise QueryError(f'query: {name!r} needs an object of operators, e.g. {{"eq": ...}}')
        prop = {"property": name}
        for op, raw in ops.items():
            value = _coerce(name, raw)
            if op in _QUERY_OPS:
                args.append({"op": _QUERY_OPS[op], "args": [prop, value]})
            elif op in _QUERY_LIKE:
                args.append({"op": "like", "args": [prop, _QUERY_LIKE[op].format(value)]})
            elif op == "in" and isinstance(value, list):
                args.append({"op": "in", "args": [prop, value]})
            else:
                raise QueryError(f"query: unknown operator {op!r} on {name!r}")
    return args[0] if len(args) == 1 else {"op": "and", "args": args}


def _coerce(name: str, value: Any) -> Any:
    """A Query-extension value in the queryable's type (clients send numbers as strings)."""
    if isinstance(value, list):
        return [_coerce(name, v) for v in value]
    kind = QUERYABLE_TYPES[name].get("type")
    if isinstance(value, str) and kind in ("integer", "number"):
        try:
            number = float(value)
        except ValueError:
            raise QueryError(f"query: {name!r} takes numbers, got {value!r}") from None
        return int(number) if kind == "integer" and number.is_integer() else number
    return value


def parse_sortby(value: str | list[Any] | None) -> tuple[tuple[str, bool], ...]:
    """Parse ``sortby`` (``-datetime,+id`` or ``[{"field": ..., "direction": ...}]``).

    Raises
    ------
    QueryError
        If a field is not sortable or a direction unknown.
    """
    if not value:
        return ()
    keys: list[tuple[str, bool]] = []
    entries: list[Any] = value.split(",") if isinstance(value, str) else list(value)
    for entry in entries:
        if isinstance(entry, str):
            text = entry.strip()
            ascending = not text.startswith("-")
            name = text.lstrip("+- ")
        else:
            name = str(
                getattr(entry, "field", None) or (entry.get("field") if isinstance(entry, dict) else "")
            )
            direction = getattr(entry, "direction", None) or (
                entry.get("direction") if isinstance(entry, dict) else "asc"
            )
            direction = str(getattr(direction, "value", direction)).lower()
            if direction not in ("asc", "desc"):
                raise QueryError(f"sortby: direction must be asc or desc, got {direction!r}")
            ascending = direction == "asc"
        name = name.removeprefix("properties.")
        if name not in QUERYABLE_TYPES or name == "geometry":
            raise QueryError(f"sortby: {name!r} is not sortable (see /queryables)")
        keys.append((name, ascending))
    return tuple(keys)
