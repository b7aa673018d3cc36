"""Shared helpers of the readers: merge source fields with name-derived ones, validate, build items."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from strata.catalog.errors import ItemError
from strata.catalog.geometry import geometry_bbox, normalize_footprint
from strata.catalog.ingest import Rejected
from strata.catalog.model import Item, parse_datetime
from strata.catalog.naming import name_fields, strip_extension
from strata.catalog.orbits import estimate_s1_footprint, mgrs_tile_footprint
from strata.catalog.sentinel1 import parse_name, relative_orbit

__all__ = ["build_item", "fields_from_name", "merge", "records", "to_float", "to_int"]

T = TypeVar("T")

_INT_FIELDS = ("absolute_orbit", "relative_orbit", "cycle", "datatake_id", "slice_number", "size")
_FLOAT_FIELDS = ("perpendicular_baseline", "temporal_baseline")


def to_int(value: Any, what: str) -> int | None:
    """An integer field of a record (``None`` stays ``None``).

    Raises
    ------
    ItemError
        If the value is not an integer (e.g. a non-numeric orbit).
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ItemError(f"{what} must be an integer, not {value!r}")
    if isinstance(value, int):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ItemError(f"{what} must be an integer, not {value!r}") from None
    if not math.isfinite(number) or number != int(number):
        raise ItemError(f"{what} must be an integer, not {value!r}")
    return int(number)


def to_float(value: Any, what: str) -> float | None:
    """A numeric field of a record (``None`` stays ``None``)."""
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ItemError(f"{what} must be a number, not {value!r}") from None
    if not math.isfinite(number):
        raise ItemError(f"{what} must be a finite number, not {value!r}")
    return number


def fields_from_name(name: str) -> dict[str, Any]:
    """Fields a product name gives, or just ``{"id": name}`` when it is no Sentinel name."""
    try:
        return name_fields(name)
    except ItemError:
        return {"id": strip_extension(name)}


def _estimated_footprint(fields: dict[str, Any], properties: dict[str, Any]) -> dict[str, Any]:
    """A footprint from the name when the source has none: S1 orbit model or S2 MGRS tile."""
    item_id = str(fields["id"])
    tile = properties.get("s2:mgrs_tile")
    if tile:
        geometry, _ = mgrs_tile_footprint(tile)
        return geometry
    if fields.get("collection") == "sentinel-1":
        name = parse_name(item_id)
        geometry, _, direction = estimate_s1_footprint(
            name.satellite, name.mode, name.absolute_orbit, name.start, name.stop
        )
        fields.setdefault("orbit_direction", direction)
        return geometry
    raise ItemError(f"{item_id}: no footprint, and none can be derived from the name")


def build_item(fields: dict[str, Any], footprint: dict[str, Any] | None) -> Item:
    """Validate merged fields and build an :class:`Item`.

    Parameters
    ----------
    fields
        Item keyword arguments (``id``, ``collection``, times and any searchable field);
        ``None`` values are dropped.
    footprint
        The source's GeoJSON footprint, normalised here; when ``None`` it is estimated from the
        product name (Sentinel-1 orbit model, Sentinel-2 MGRS tile) and the item's
        ``strata:footprint`` property says ``estimated``.

    Raises
    ------
    ItemError
        On a missing id, collection, time or footprint, or a malformed value.
    """
    values = {k: v for k, v in fields.items() if v is not None}
    item_id = values.get("id")
    if not item_id:
        raise ItemError("record has no product id")
    if not values.get("collection"):
        raise ItemError(f"{item_id}: no collection (not a Sentinel product name and none given)")
    properties = dict(values.pop("properties", None) or {})
    if footprint is None:
        footprint = _estimated_footprint(values, properties)
        properties["strata:footprint"] = "estimated"
    geometry = normalize_footprint(footprint)
    for key in _INT_FIELDS:
        if key in values:
            values[key] = to_int(values[key], key.replace("_", " "))
    for key in _FLOAT_FIELDS:
        if key in values:
            values[key] = to_float(values[key], key.replace("_", " "))
    start = values.pop("start_datetime", None)
    end = values.pop("end_datetime", None) or start
    if start is None:
        raise ItemError(f"{item_id}: no acquisition start time")
    start_dt = start if isinstance(start, datetime) else parse_datetime(start)
    end_dt = end if isinstance(end, datetime) else parse_datetime(end)
    if end_dt < start_dt:
        raise ItemError(f"{item_id}: acquisition ends before it starts")
    _check_relative_orbit(values, properties)
    if "orbit_direction" in values:
        values["orbit_direction"] = str(values["orbit_direction"]).lower()
    if "polarisations" in values:
        values["polarisations"] = tuple(values["polarisations"])
    values.pop("id")
    return Item(
        id=str(item_id),
        geometry=geometry,
        bbox=geometry_bbox(geometry),
        start_datetime=start_dt,
        end_datetime=end_dt,
        properties=properties,
        **values,
    )


def _check_relative_orbit(values: dict[str, Any], properties: dict[str, Any]) -> None:
    """Sentinel-1 relative orbits follow ESA's formula; a provider's other value is kept aside.

    CDSE labels the October 2014 S1A orbit 2673 as relative orbit 153 where the formula (and the
    footprint, see the orbit model) give 151; the catalog files it under 151 so that every source
    agrees, and keeps the provider's number as ``strata:provider_relative_orbit``.
    """
    platform = str(values.get("platform") or "")
    orbit = values.get("absolute_orbit")
    if not platform.startswith("sentinel-1") or orbit is None:
        return
    computed = relative_orbit(platform[-1], orbit)
    given = values.get("relative_orbit")
    if computed is not None and given is not None and given != computed:
        properties["strata:provider_relative_orbit"] = given
    if computed is not None:
        values["relative_orbit"] = computed


def merge(base: dict[str, Any], source: dict[str, Any]) -> dict[str, Any]:
    """``base`` (name-derived) overridden by the source's non-None values; properties merged."""
    merged = dict(base)
    for key, value in source.items():
        if key == "properties":
            merged["properties"] = {**(base.get("properties") or {}), **value}
        elif value is not None:
            merged[key] = value
    return merged


def records(
    path: Path, entries: Iterable[T], convert: Callable[[T], Item], label: Callable[[T], str | None]
) -> Iterator[Item | Rejected]:
    """Convert each record, turning a bad one into a :class:`Rejected` instead of stopping."""
    for index, entry in enumerate(entries):
        try:
            yield convert(entry)
        except ItemError as exc:
            yield Rejected(_source(path, index, entry, label), str(exc))
        except (KeyError, IndexError) as exc:
            yield Rejected(_source(path, index, entry, label), f"missing field {exc}")
        except (TypeError, ValueError, AttributeError) as exc:
            yield Rejected(_source(path, index, entry, label), f"malformed record ({exc})")


def _source(path: Path, index: int, entry: T, label: Callable[[T], str | None]) -> str:
    try:
        name = label(entry)
    except (KeyError, IndexError, TypeError, AttributeError):
        name = None
    return f"{path}#{index}" + (f" ({name})" if name else "")
