"""Footprint parsing, antimeridian splitting, orientation and bounding boxes."""

import json
import math
import re

import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Polygon, shape

from strata.catalog.errors import ItemError, QueryError
from strata.catalog.geometry import (
    geometry_bbox,
    normalize_footprint,
    parse_geojson,
    parse_gml_coordinates,
    parse_wkt,
)


def _parts(geometry):
    geom = shape(geometry)
    return list(geom.geoms) if geom.geom_type == "MultiPolygon" else [geom]


def test_crossing_polygon_is_split_at_the_antimeridian():
    ring = [[179.0, 10.0], [-178.0, 10.5], [-178.5, 12.0], [178.5, 11.5], [179.0, 10.0]]
    result = normalize_footprint({"type": "Polygon", "coordinates": [ring]})
    assert result["type"] == "MultiPolygon"
    parts = _parts(result)
    assert len(parts) == 2
    assert all(-180.0 <= x <= 180.0 for p in parts for x, _ in p.exterior.coords)
    assert all(p.exterior.is_ccw for p in parts)
    unwrapped = Polygon([(x + 360.0 if x < 0 else x, y) for x, y in ring])
    assert sum(p.area for p in parts) == pytest.approx(unwrapped.area)
    west, south, east, north = geometry_bbox(result)
    assert (west, east) == (178.5, -178.0)
    assert (south, north) == (10.0, 12.0)


def test_plain_polygon_is_closed_and_made_counter_clockwise():
    clockwise = [[1.0, 10.0], [1.0, 12.0], [3.0, 12.0], [3.0, 10.0]]
    result = normalize_footprint({"type": "Polygon", "coordinates": [clockwise]})
    ring = result["coordinates"][0]
    assert ring[0] == ring[-1]
    assert shape(result).exterior.is_ccw
    assert geometry_bbox(result) == (1.0, 10.0, 3.0, 12.0)


@settings(max_examples=60, deadline=None)
@given(
    centre_lon=st.floats(170.0, 190.0),
    centre_lat=st.floats(-70.0, 70.0),
    width=st.floats(0.5, 8.0),
    height=st.floats(0.5, 5.0),
    skew=st.floats(-1.0, 1.0),
    written=st.sampled_from(["wrapped", "east", "west"]),
)
def test_split_keeps_area_and_bounds(centre_lon, centre_lat, width, height, skew, written):
    corners = [
        (centre_lon - width / 2 + skew, centre_lat - height / 2),
        (centre_lon + width / 2 + skew, centre_lat - height / 2),
        (centre_lon + width / 2 - skew, centre_lat + height / 2),
        (centre_lon - width / 2 - skew, centre_lat + height / 2),
    ]
    # as ESA writes it (wrapped into ±180, stepping across it), or continuous past +180 or -180
    offset = {"wrapped": None, "east": 0.0, "west": -360.0}[written]
    ring = [[(x + 180.0) % 360.0 - 180.0 if offset is None else x + offset, y] for x, y in corners]
    result = normalize_footprint({"type": "Polygon", "coordinates": [ring]})
    parts = _parts(result)
    assert all(-180.0 <= x <= 180.0 and -90.0 <= y <= 90.0 for p in parts for x, y in p.exterior.coords)
    assert all(p.is_valid and p.exterior.is_ccw for p in parts)
    assert sum(p.area for p in parts) == pytest.approx(Polygon(corners).area, rel=1e-9)
    west, south, east, north = geometry_bbox(result)
    crosses = min(x for x, _ in corners) < 180.0 < max(x for x, _ in corners)
    assert (west > east) == crosses
    assert south == pytest.approx(min(y for _, y in corners))


def test_parse_wkt_and_ewkt():
    geometry = parse_wkt("SRID=4326;POLYGON ((-105.3 28.9, -102.7 29.3, -102.4 27.6, -105.3 28.9))")
    assert geometry["type"] == "Polygon"
    assert geometry["coordinates"][0][0] == [-105.3, 28.9]
    assert parse_wkt("POINT (2 45)") == {"type": "Point", "coordinates": [2.0, 45.0]}


@pytest.mark.parametrize("text", ["POLYGON((1 2, 3", "CIRCLE (1 2)", "", "SRID=3857;POINT (1 2)"])
def test_malformed_wkt_raises_the_given_error(text):
    with pytest.raises(QueryError):
        parse_wkt(text, error=QueryError)


def test_gml_coordinates_are_lat_lon():
    geometry = parse_gml_coordinates("37.05,-27.19 37.45,-30.03 38.96,-29.72 38.56,-26.82")
    assert geometry["coordinates"][0][0] == [-27.19, 37.05]
    assert geometry["coordinates"][0][-1] == geometry["coordinates"][0][0]
    with pytest.raises(ItemError):
        parse_gml_coordinates("37.05;-27.19")


def test_parse_geojson_accepts_features_and_rejects_junk():
    polygon = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}
    assert parse_geojson({"type": "Feature", "geometry": polygon, "properties": {}}) == polygon
    with pytest.raises(QueryError):
        parse_geojson('{"type": "Polygon", "coordinates": 5}', error=QueryError)
    with pytest.raises(QueryError):
        parse_geojson("{not json", error=QueryError)


@pytest.mark.parametrize(
    "geometry",
    [
        {"type": "Point", "coordinates": [1, 2]},
        {"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]},
        {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [2, 2], [0, 0]]]},
        {"type": "Polygon", "coordinates": [[[0, 0], [1, 95], [2, 2], [0, 0]]]},
        {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]},  # bow-tie
        {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [2, 2], [3, 3], [0, 0]]]},  # flat quad
        {"type": "Polygon", "coordinates": [[["a", 0], [1, 1], [2, 0], ["a", 0]]]},
        {"type": "MultiPolygon", "coordinates": []},
        "POLYGON ((0 0, 1 0, 1 1, 0 0))",
    ],
)
def test_bad_footprints_raise_item_error(geometry):
    with pytest.raises(ItemError):
        normalize_footprint(geometry)


def test_bbox_of_points_and_collections():
    assert geometry_bbox({"type": "Point", "coordinates": [5.0, 6.0]}) == (5.0, 6.0, 5.0, 6.0)
    collection = {
        "type": "GeometryCollection",
        "geometries": [{"type": "Point", "coordinates": [1, 2]}, {"type": "Point", "coordinates": [3, -4]}],
    }
    assert geometry_bbox(collection) == (1, -4, 3, 2)
    with pytest.raises(ItemError):
        geometry_bbox({"type": "Polygon", "coordinates": []})
    assert shapely.is_valid(
        shape(normalize_footprint({"type": "Polygon", "coordinates": [[[0, 0], [2, 0], [2, 2], [0, 0]]]}))
    )


@pytest.mark.parametrize("pole", [90.0, -90.0])
def test_ring_around_a_pole_is_closed_along_it(pole):
    sign = 1.0 if pole > 0 else -1.0
    ring = [[-177.0 + 10.0 * i, sign * (84.0 + math.sin(i))] for i in range(36)]
    result = normalize_footprint({"type": "Polygon", "coordinates": [ring]})
    geom = shape(result)
    assert geom.is_valid
    assert geom.covers(shape({"type": "Point", "coordinates": [45.0, sign * 89.9]}))
    assert not geom.covers(shape({"type": "Point", "coordinates": [45.0, sign * 80.0]}))
    west, south, east, north = geometry_bbox(result)
    assert (west, east) == (-180.0, 180.0)
    assert (north if pole > 0 else south) == pole


def test_hole_is_kept_with_its_shell_across_the_antimeridian():
    shell = [[175.0, 10.0], [-175.0, 10.0], [-175.0, 20.0], [175.0, 20.0]]
    hole = [[-179.5, 14.0], [-179.5, 16.0], [-179.0, 16.0], [-179.0, 14.0]]  # east of the line
    result = normalize_footprint({"type": "Polygon", "coordinates": [shell, hole]})
    parts = _parts(result)
    assert sum(p.area for p in parts) == pytest.approx(100.0 - 1.0)
    assert not any(p.covers(shapely.Point(-179.25, 15.0)) for p in parts)
    assert any(p.covers(shapely.Point(-179.75, 15.0)) for p in parts)


@pytest.mark.parametrize(
    ("geometry", "defect"),
    [
        ({"type": "Polygon"}, "no coordinates"),
        ({"type": "Polygon", "coordinates": []}, "no coordinates"),
        (
            {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 0]]]},
            "at least 3 positions (4 when closed)",
        ),
        ({"type": "Polygon", "coordinates": [[0, 0], [1, 0], [1, 1]]}, "2 or 3 numbers"),
        ({"type": "Point", "coordinates": [1, "2"]}, "2 or 3 numbers"),
        ({"type": "Point", "coordinates": [1, 2, 3, 4]}, "2 or 3 numbers"),
        ({"type": "Point", "coordinates": [1, float("nan")]}, "not a finite number"),
        ({"type": "LineString", "coordinates": [[1, 2]]}, "at least 2 positions"),
        ({"type": "MultiPolygon", "coordinates": {"a": 1}}, "expected an array"),
        ({"type": "MultiPolygon", "coordinates": [[]]}, "empty array"),
        ({"type": "Circle", "coordinates": [1, 2]}, "geometry type: 'Circle'"),
        ({"type": 5, "coordinates": [1, 2]}, "geometry type: 5"),
        ({"coordinates": [1, 2]}, "geometry type: None"),
        ({"type": "GeometryCollection"}, "no geometries"),
        ({"type": "GeometryCollection", "geometries": [{"type": "Point"}]}, "no coordinates"),
        ({"type": "Feature", "geometry": None}, "Feature has no geometry"),
        ([1, 2], "not a GeoJSON geometry"),
        ('{"type": "Point", "coordinates": [1, 2]', "malformed GeoJSON"),
        ("[" * 100_000, "nested too deeply"),
    ],
)
def test_malformed_geojson_names_its_defect(geometry, defect):
    with pytest.raises(QueryError, match=re.escape(defect)):
        parse_geojson(geometry, error=QueryError)


_GEOMETRY_TYPES = ["Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon"]
_FINITE = st.floats(-200.0, 200.0) | st.integers(-200, 200)
_ODD = st.sampled_from([math.nan, math.inf, 10**400, True, "1", None, [], {}])


def _nested(position):
    """Coordinates of every nesting depth, from a position to a MultiPolygon's."""
    line = st.lists(position, max_size=6)
    return position | line | st.lists(line, max_size=3) | st.lists(st.lists(line, max_size=2), max_size=2)


# coordinates that are right or nearly right, and coordinates with odd values in them
_COORDINATES = _nested(st.lists(_FINITE, min_size=1, max_size=4)) | _nested(
    st.lists(_FINITE | _ODD, min_size=1, max_size=4) | _ODD
)
_JSON = st.recursive(
    st.none() | st.booleans() | _FINITE | _ODD | st.text(max_size=3),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["type", "coordinates", "geometries", "geometry"]), inner, max_size=4
        )
    ),
    max_leaves=20,
)
# well-formed geometries of every type (longitudes past ±180 and rings crossing themselves included)
_POSITION = st.tuples(st.floats(-200.0, 200.0), st.floats(-90.0, 90.0)).map(list) | st.tuples(
    st.integers(-360, 360), st.integers(-95, 95)
).map(list)
_RING = st.lists(_POSITION, min_size=3, max_size=7)
_SHAPES = {
    "Point": _POSITION,
    "MultiPoint": st.lists(_POSITION, min_size=1, max_size=4),
    "LineString": st.lists(_POSITION, min_size=2, max_size=5),
    "MultiLineString": st.lists(st.lists(_POSITION, min_size=2, max_size=5), min_size=1, max_size=3),
    "Polygon": st.lists(_RING, min_size=1, max_size=3),
    "MultiPolygon": st.lists(st.lists(_RING, min_size=1, max_size=2), min_size=1, max_size=3),
}
_GEOMETRIES = st.sampled_from(_GEOMETRY_TYPES).flatmap(
    lambda kind: st.fixed_dictionaries({"type": st.just(kind), "coordinates": _SHAPES[kind]})
)
_TYPES = st.sampled_from([*_GEOMETRY_TYPES, "GeometryCollection", "Feature", "Circle", "polygon", None, 5])
_GEOJSON = st.deferred(
    lambda: st.fixed_dictionaries(
        {"type": _TYPES},
        optional={
            "coordinates": _COORDINATES | _JSON,
            "geometries": st.lists(_GEOJSON, max_size=3) | _JSON,
            "geometry": _GEOJSON | _JSON,
        },
    )
)


@settings(max_examples=400, deadline=None)
@given(value=_GEOMETRIES | _GEOJSON | _JSON, as_text=st.booleans())
def test_parse_geojson_raises_only_the_given_error(value, as_text):
    try:
        doc = parse_geojson(json.dumps(value) if as_text else value, error=QueryError)
    except QueryError as exc:
        assert str(exc)
        return
    assert doc["type"] in [*_GEOMETRY_TYPES, "GeometryCollection"]
    assert not shape(doc).is_empty


@settings(max_examples=400, deadline=None)
@given(value=_GEOMETRIES | _GEOJSON | _JSON)
def test_footprints_and_bboxes_raise_only_the_given_error(value):
    for function in (normalize_footprint, geometry_bbox):
        try:
            result = function(value, error=QueryError)
        except QueryError as exc:
            assert str(exc)
            continue
        if function is normalize_footprint:  # an accepted footprint lies within ±180°
            west, _, east, _ = shape(result).bounds
            assert -180.0 <= west <= east <= 180.0
