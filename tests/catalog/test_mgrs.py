"""Sentinel-2 tiles rebuilt from the bundled grid agree with the ESA tiling grid."""

import json
import lzma
import random
from pathlib import Path

import numpy as np
import pytest
import shapely
from shapely.geometry import shape

from strata.catalog.errors import QueryError
from strata.catalog.mgrs import load_grid, parse_tile_id, tile_geometry


def test_parse_tile_id() -> None:
    assert parse_tile_id("31TCJ") == (31, False, 300_000)
    assert parse_tile_id("T55HFA") == (55, True, 600_000)
    with pytest.raises(QueryError, match="tile: column 'A' does not exist in UTM zone 32"):
        parse_tile_id("32TAA")


def test_known_places() -> None:
    toulouse = shape(tile_geometry("31TCJ"))
    assert toulouse.contains(shapely.Point(1.44, 43.6)) and not toulouse.contains(shapely.Point(2.35, 48.85))
    crossing = tile_geometry("01KAB")
    assert crossing["type"] == "MultiPolygon"  # cut at the antimeridian, both parts within ±180
    assert max(abs(x) for part in crossing["coordinates"] for x, _ in part[0]) == 180.0


def test_bundle_matches_the_esa_grid(shared_data: Path) -> None:
    with lzma.open(shared_data / "s2_tiling_grid" / "sentinel2_tiles_world_with_land.geojson.xz") as f:
        features = json.load(f)["features"]
    names = {feature["properties"]["Name"] for feature in features}
    assert names == set(load_grid())
    sample = random.Random(5).sample(features, 400)
    for feature in sample:
        esa = np.asarray(feature["geometry"]["coordinates"][0])[:, :2]
        ours = shape(tile_geometry(feature["properties"]["Name"]))
        inner = esa[np.abs(esa[:, 0]) < 180.0]  # ESA's cut vertices on ±180 are placed differently
        offsets = shapely.distance(ours.boundary, shapely.points(inner))
        assert offsets.max() < 0.005, feature["properties"]["Name"]  # < ~500 m
