"""Footprint geometry helpers: parsing (GeoJSON, WKT, GML coordinates), antimeridian handling, bbox.

Conventions (the stores and the search rely on them):

- Geometries are GeoJSON dictionaries in WGS 84 longitude/latitude, longitudes in [-180, 180].
- A footprint that crosses the antimeridian is split into a MultiPolygon whose parts touch
  +180 and -180 (RFC 7946 section 3.1.9); its bbox then has ``west > east`` (section 5.2).
- Exterior rings are counter-clockwise, holes clockwise (RFC 7946 section 3.1.6).

Only :func:`normalize_footprint` uses shapely, and only for footprints that need splitting or
re-orienting checks; :func:`geometry_bbox` is pure Python so it stays cheap on hot paths.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from typing import Any

import shapely
from shapely.geometry import MultiPolygon, Polygon, box, mapping, shape
from shapely.geometry.polygon import orient

from strata.catalog.errors import CatalogError, ItemError

__all__ = [
    "Bbox",
    "crosses_antimeridian",
    "geometry_bbox",
    "normalize_footprint",
    "parse_geojson",
    "parse_gml_coordinates",
    "parse_wkt",
    "polygon_from_lonlat",
]

Bbox = tuple[float, float, float, float]
"""(west, south, east, north) in degrees; ``west > east`` across the antimeridian."""

_ErrorType = type[CatalogError]


def _iter_positions(coordinates: Any) -> Iterable[Sequence[float]]:
    """Yield every position of a GeoJSON coordinates array, at any nesting depth."""
    if not isinstance(coordinates, (list, tuple)):
        raise TypeError(coordinates)
    if coordinates and not isinstance(coordinates[0], (list, tuple)):
        yield coordinates
        return
    for part in coordinates:
        yield from _iter_positions(part)


def _positions(geometry: dict[str, Any], error: _ErrorType) -> list[Sequence[float]]:
    if not isinstance(geometry, dict):
        raise error(f"not a GeoJSON geometry: {geometry!r:.80}")
    kind = geometry.get("type")
    if kind == "GeometryCollection":
        points: list[Sequence[float]] = []
        members = geometry.get("geometries")
        if not isinstance(members, list) or not members:
            raise error("GeoJSON GeometryCollection has no geometries")
        for member in members:
            points.extend(_positions(member, error))
        return points
    coordinates = geometry.get("coordinates")
    if not isinstance(coordinates, list) or not coordinates:
        raise error(f"GeoJSON {kind} has no coordinates")
    try:
        points = list(_iter_positions(coordinates))
    except (TypeError, RecursionError):
        raise error(f"GeoJSON {kind} has malformed coordinates") from None
    if not points:
        raise error(f"GeoJSON {kind} has no coordinates")
    return points


def geometry_bbox(geometry: dict[str, Any], error: _ErrorType = ItemError) -> Bbox:
    """Bounding box of a GeoJSON geometry.

    A MultiPolygon with parts touching both +180 and -180 (a footprint split at the
    antimeridian) gets the smallest box going across it, with ``west > east``.

    Parameters
    ----------
    geometry
        GeoJSON geometry dictionary.
    error
        Error class raised on malformed input (``ItemError`` for records, ``QueryError`` for queries).

    Returns
    -------
    Bbox
        ``(west, south, east, north)``.
    """
    points = _positions(geometry, error)
    try:
        lons = [float(p[0]) for p in points]
        lats = [float(p[1]) for p in points]
    except (TypeError, ValueError, IndexError, KeyError, OverflowError):
        raise error("GeoJSON coordinates must be pairs of numbers") from None
    west, east = min(lons), max(lons)
    south, north = min(lats), max(lats)
    if (
        geometry.get("type") == "MultiPolygon"
        and west <= -180.0
        and east >= 180.0
        and abs(north) < 90.0 > abs(south)
    ):
        # split footprint: the box goes from the westmost point east of the widest gap
        ordered = sorted(set(lons))
        gaps = [(b - a, i) for i, (a, b) in enumerate(zip(ordered, ordered[1:], strict=False))]
        widest, index = max(gaps)
        if widest > 0.0:
            west, east = ordered[index + 1], ordered[index]
            west = 180.0 if west == -180.0 else west
            east = -180.0 if east == 180.0 else east
            if west <= east:  # the parts only touch the antimeridian on one side
                west, east = min(lons), max(lons)
    return (west, south, east, north)


def crosses_antimeridian(ring: Sequence[Sequence[float]]) -> bool:
    """Whether a ring of (lon, lat) positions jumps across the antimeridian (a step over 180°)."""
    return any(abs(b[0] - a[0]) > 180.0 for a, b in zip(ring, ring[1:], strict=False))


def _unwrap(ring: Sequence[Sequence[float]], near: float | None = None) -> list[tuple[float, float]]:
    """Shift longitudes so consecutive positions never step over 180° (values may pass 180).

    The ring then starts within 360° of ``near`` (a hole next to its shell) or, without
    ``near``, lies east of -180 (a shell: only longitudes above 180 need cutting).
    """
    out: list[tuple[float, float]] = []
    offset = 0.0
    previous: float | None = None
    for lon, lat, *_ in ring:
        if previous is not None:
            step = lon - previous
            if step > 180.0:
                offset -= 360.0
            elif step < -180.0:
                offset += 360.0
        previous = lon
        out.append((lon + offset, lat))
    if near is not None:
        shift = -360.0 * round((out[0][0] - near) / 360.0)
    else:
        shift = 360.0 if min(p[0] for p in out) < -180.0 else 0.0
    return [(lon + shift, lat) for lon, lat in out] if shift else out


def _split_at_antimeridian(polygon: Polygon) -> list[Polygon]:
    """Split a polygon whose longitudes run past 180 into parts within [-180, 180]."""
    pieces = [
        shapely.affinity.translate(
            polygon.intersection(box(west, -90.0, west + 360.0, 90.0)), xoff=-west - 180.0
        )
        for west in (-540.0, -180.0, 180.0)
    ]
    merged = shapely.unary_union([p for p in pieces if not p.is_empty])  # a polar cap's pieces abut
    candidates = merged.geoms if isinstance(merged, (MultiPolygon, shapely.GeometryCollection)) else [merged]
    return [p for p in candidates if isinstance(p, Polygon) and p.area > 0.0]


def _check_ring(ring: Any, error: _ErrorType) -> list[tuple[float, float]]:
    if not isinstance(ring, (list, tuple)) or len(ring) < 3:
        raise error("a polygon ring needs at least 3 positions")
    positions: list[tuple[float, float]] = []
    for position in ring:
        try:
            lon, lat = float(position[0]), float(position[1])
        except (TypeError, ValueError, IndexError, KeyError, OverflowError):
            raise error(f"bad position in polygon ring: {position!r:.60}") from None
        if not (math.isfinite(lon) and math.isfinite(lat)) or abs(lat) > 90.0 or abs(lon) > 360.0:
            raise error(f"position out of range: lon={lon}, lat={lat}")
        positions.append((lon, lat))
    if positions[0] != positions[-1]:
        positions.append(positions[0])
    if len(positions) < 4:
        raise error("a polygon ring needs at least 3 distinct positions")
    return positions


def _segments_cross(a: Sequence[float], b: Sequence[float], c: Sequence[float], d: Sequence[float]) -> bool:
    """Whether segments ab and cd properly intersect."""

    def side(p: Sequence[float], q: Sequence[float], r: Sequence[float]) -> float:
        return (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])

    return side(a, b, c) * side(a, b, d) < 0 and side(c, d, a) * side(c, d, b) < 0


def _simple_quadrilateral(ring: list[tuple[float, float]], error: _ErrorType) -> list[list[float]] | None:
    """The fast path for the usual 4-corner footprint: orient it without shapely.

    Returns None when the ring needs the general path (more corners, antimeridian, wrap).
    """
    if len(ring) != 5 or any(abs(lon) > 180.0 for lon, _ in ring) or crosses_antimeridian(ring):
        return None
    a, b, c, d = ring[:4]
    if _segments_cross(a, b, c, d) or _segments_cross(b, c, d, a):
        raise error("footprint polygon crosses itself")
    area = sum(p[0] * q[1] - q[0] * p[1] for p, q in zip(ring, ring[1:], strict=False))
    if area == 0.0:
        raise error("footprint polygon has no area")
    ordered = ring if area > 0 else ring[::-1]
    return [[lon, lat] for lon, lat in ordered]


def normalize_footprint(geometry: dict[str, Any], error: _ErrorType = ItemError) -> dict[str, Any]:
    """Validate a Polygon/MultiPolygon footprint and bring it to the catalog's conventions.

    Rings are closed, longitudes beyond ±180 wrapped, a polygon crossing the antimeridian
    (a ring stepping over 180° of longitude, as ESA/ASF footprints do, or one running past
    ±180, as some providers write them) is split into a MultiPolygon with parts in
    [-180, 180], a ring winding around a pole (a search circle around
    it) is closed along the pole, rings are oriented counter-clockwise (holes clockwise) and a
    single-part MultiPolygon becomes a Polygon.

    Parameters
    ----------
    geometry
        GeoJSON Polygon or MultiPolygon.
    error
        Error class raised on malformed input.

    Returns
    -------
    dict
        GeoJSON geometry with list coordinates.

    Raises
    ------
    ItemError
        (or ``error``) if the geometry is not a valid polygonal footprint.
    """
    if not isinstance(geometry, dict):
        raise error(f"footprint is not a GeoJSON geometry: {geometry!r:.80}")
    kind = geometry.get("type")
    coordinates = geometry.get("coordinates")
    polygons: list[Any] | tuple[Any, ...]
    if kind == "Polygon":
        polygons = [coordinates]
    elif kind == "MultiPolygon" and isinstance(coordinates, (list, tuple)):
        polygons = coordinates
    else:
        raise error(f"footprint must be a Polygon or MultiPolygon, not {kind!r}")
    if not isinstance(polygons, (list, tuple)) or not polygons:
        raise error(f"footprint {kind} has no coordinates")
    if len(polygons) == 1 and isinstance(polygons[0], (list, tuple)) and len(polygons[0]) == 1:
        quad = _simple_quadrilateral(_check_ring(polygons[0][0], error), error)
        if quad is not None:
            return {"type": "Polygon", "coordinates": [quad]}
    parts: list[Polygon] = []
    for rings in polygons:
        if not isinstance(rings, (list, tuple)) or not rings:
            raise error(f"footprint {kind} has an empty polygon")
        checked = [_check_ring(ring, error) for ring in rings]
        if crosses_antimeridian(checked[0]) or any(abs(lon) > 180.0 for lon, _ in checked[0]):
            shell = _unwrap(checked[0])
            holes = [_unwrap(ring, near=shell[0][0]) for ring in checked[1:]]
            if abs(shell[-1][0] - shell[0][0]) > 180.0:  # the ring winds around a pole: close it there
                pole = 90.0 if sum(lat for _, lat in shell) > 0 else -90.0
                shell = [*shell, (shell[-1][0], pole), (shell[0][0], pole), shell[0]]
                if min(lon for lon, _ in shell) < -180.0 or max(lon for lon, _ in shell) > 540.0:
                    raise error("footprint winds around a pole more than once")
            polygon = Polygon(shell, holes)
            if not polygon.is_valid:
                polygon = shapely.make_valid(polygon)
            parts.extend(_split_at_antimeridian(polygon))
        else:
            polygon = Polygon(checked[0], checked[1:])
            if polygon.area == 0.0:
                raise error("footprint polygon has no area")
            parts.append(polygon)
    if not parts:
        raise error("footprint polygon has no area")
    oriented = [orient(p, 1.0) for p in parts]
    result = oriented[0] if len(oriented) == 1 else MultiPolygon(oriented)
    normalized: dict[str, Any] = _as_lists(mapping(result))
    return normalized


def _as_lists(value: Any) -> Any:
    """Turn shapely's nested tuples into the nested lists JSON round-trips give back."""
    if isinstance(value, dict):
        return {k: _as_lists(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_as_lists(v) for v in value]
    return value


def polygon_from_lonlat(positions: Sequence[tuple[float, float]]) -> dict[str, Any]:
    """A GeoJSON Polygon (not normalised) from (lon, lat) positions, closing the ring."""
    ring = [[float(lon), float(lat)] for lon, lat in positions]
    if ring and ring[0] != ring[-1]:
        ring.append(list(ring[0]))
    return {"type": "Polygon", "coordinates": [ring]}


def parse_gml_coordinates(text: str, error: _ErrorType = ItemError) -> dict[str, Any]:
    """Parse a GML ``<gml:coordinates>`` text of ``lat,lon`` pairs (the SAFE/DHuS order).

    Returns a GeoJSON Polygon (not normalised; pass it to :func:`normalize_footprint`).
    """
    positions: list[tuple[float, float]] = []
    for pair in text.split():
        try:
            lat, lon = (float(v) for v in pair.split(","))
        except ValueError:
            raise error(f"bad GML coordinate pair {pair!r}") from None
        positions.append((lon, lat))
    if len(positions) < 3:
        raise error("GML footprint has fewer than 3 positions")
    return polygon_from_lonlat(positions)


def parse_wkt(text: str, error: _ErrorType = ItemError) -> dict[str, Any]:
    """Parse WKT (optionally EWKT with ``SRID=4326;``) into a GeoJSON geometry dictionary.

    Raises
    ------
    ItemError
        (or ``error``) naming the problem when the text is not WKT.
    """
    body = text.strip()
    if body.upper().startswith("SRID="):
        srid, _, body = body.partition(";")
        if srid.strip().upper() not in ("SRID=4326", "SRID=4979"):
            raise error(f"WKT must be in WGS 84 (SRID=4326), got {srid.strip()}")
    try:
        geom = shapely.from_wkt(body)
    except shapely.errors.GEOSException as exc:
        raise error(f"malformed WKT {text[:60]!r}: {exc}") from None
    if geom is None or geom.is_empty:
        raise error(f"empty WKT geometry {text[:60]!r}")
    return _as_lists(mapping(geom))  # type: ignore[no-any-return]


# GeoJSON geometry types and the nesting depth of their coordinates (0: a position)
_COORDINATE_DEPTHS = {
    "Point": 0,
    "MultiPoint": 1,
    "LineString": 1,
    "MultiLineString": 2,
    "Polygon": 2,
    "MultiPolygon": 3,
}
_COLLECTION_DEPTH = 8  # nested GeometryCollections allowed (RFC 7946 advises against any)


def _check_position(value: Any, kind: str, error: _ErrorType) -> None:
    if not isinstance(value, (list, tuple)) or not 2 <= len(value) <= 3:
        raise error(f"GeoJSON {kind}: a position must be 2 or 3 numbers, got {value!r:.60}")
    for number in value:
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            raise error(f"GeoJSON {kind}: a position must be 2 or 3 numbers, got {value!r:.60}")
        try:
            finite = math.isfinite(number)
        except OverflowError:  # an integer too large for a float
            finite = False
        if not finite:
            raise error(f"GeoJSON {kind}: coordinate {number!r:.30} is not a finite number")


def _check_coordinates(value: Any, depth: int, kind: str, error: _ErrorType) -> None:
    """Check the shape of a coordinates array ``depth`` levels above its positions."""
    if depth == 0:
        _check_position(value, kind, error)
        return
    if not isinstance(value, (list, tuple)):
        members = "positions" if depth == 1 else "arrays"
        raise error(f"GeoJSON {kind}: expected an array of {members}, got {value!r:.60}")
    if not value:
        raise error(f"GeoJSON {kind}: empty array in the coordinates")
    for member in value:
        _check_coordinates(member, depth - 1, kind, error)
    if depth == 1 and kind in ("LineString", "MultiLineString") and len(value) < 2:
        raise error(f"GeoJSON {kind}: a line needs at least 2 positions")
    if depth == 1 and kind in ("Polygon", "MultiPolygon"):
        closed = len(value) > 1 and value[0] == value[-1]
        if len(value) - closed < 3:
            raise error(f"GeoJSON {kind}: a ring needs at least 3 positions (4 when closed)")


def _check_geometry(doc: Any, error: _ErrorType, nesting: int = 0) -> None:
    """Check that ``doc`` is a GeoJSON geometry object, naming the first defect found."""
    if not isinstance(doc, dict):
        raise error(f"not a GeoJSON geometry: {doc!r:.60}")
    kind = doc.get("type")
    if kind == "GeometryCollection":
        members = doc.get("geometries")
        if not isinstance(members, list) or not members:
            raise error("GeoJSON GeometryCollection has no geometries")
        if nesting >= _COLLECTION_DEPTH:
            raise error("GeoJSON GeometryCollection nested too deeply")
        for member in members:
            _check_geometry(member, error, nesting + 1)
        return
    if not isinstance(kind, str) or kind not in _COORDINATE_DEPTHS:
        raise error(f"not a GeoJSON geometry type: {kind!r:.40}")
    coordinates = doc.get("coordinates")
    if coordinates is None or (isinstance(coordinates, (list, tuple)) and not coordinates):
        raise error(f"GeoJSON {kind} has no coordinates")
    _check_coordinates(coordinates, _COORDINATE_DEPTHS[kind], kind, error)


def parse_geojson(value: str | dict[str, Any], error: _ErrorType = ItemError) -> dict[str, Any]:
    """Parse a GeoJSON geometry (text or dict; a Feature gives its geometry) and check it.

    The check covers the structure of RFC 7946 geometries: a known type, coordinates nested as
    that type needs, positions of 2 or 3 finite numbers, lines of 2 positions or more, rings of 3
    positions or more besides the closing one (closing is left to :func:`normalize_footprint`), non-empty
    GeometryCollections.  It does not check ranges or validity (self-intersections).

    Raises
    ------
    ItemError
        (or ``error``) naming the defect if it is not a GeoJSON geometry; no other exception.
    """
    doc: Any = value
    if isinstance(value, str):
        try:
            doc = json.loads(value)
        except json.JSONDecodeError as exc:
            raise error(f"malformed GeoJSON: {exc}") from None
        except RecursionError:
            raise error("malformed GeoJSON: nested too deeply") from None
    if isinstance(doc, dict) and doc.get("type") == "Feature":
        doc = doc.get("geometry")
        if doc is None:
            raise error("GeoJSON Feature has no geometry")
    _check_geometry(doc, error)
    try:
        shape(doc)
    except (ValueError, TypeError, AttributeError, KeyError, IndexError, shapely.errors.GEOSException) as exc:
        raise error(f"malformed GeoJSON {doc.get('type')}: {exc}") from None
    return doc  # type: ignore[no-any-return]
