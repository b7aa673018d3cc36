"""Footprint parsing, antimeridian splitting, orientation and bounding boxes."""

import math

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
)
def test_split_keeps_area_and_bounds(centre_lon, centre_lat, width, height, skew):
    corners = [
        (centre_lon - width / 2 + skew, centre_lat - height / 2),
        (centre_lon + width / 2 + skew, centre_lat - height / 2),
        (centre_lon + width / 2 - skew, centre_lat + height / 2),
        (centre_lon - width / 2 - skew, centre_lat + height / 2),
    ]
    wrapped = [[(x + 180.0) % 360.0 - 180.0, y] for x, y in corners]
    result = normalize_footprint({"type": "Polygon", "coordinates": [wrapped]})
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
