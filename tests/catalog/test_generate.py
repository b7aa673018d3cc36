"""The synthetic archive follows the real orbit geometry and naming."""

import json
import lzma
from datetime import UTC, datetime, timedelta

import pytest
from shapely.geometry import shape

from strata.catalog.generate import generate_items
from strata.catalog.geometry import geometry_bbox
from strata.catalog.ingest import read_path
from strata.catalog.mgrs import load_grid, tile_polygon
from strata.catalog.model import Item
from strata.catalog.naming import name_fields
from strata.catalog.orbits import S1_PERIOD, mgrs_tile_footprint, s1_orbit_at
from strata.catalog.sentinel1 import cycle_number, parse_name, relative_orbit


@pytest.fixture(scope="module")
def items():
    return list(generate_items(20000, seed=11))


def test_deterministic_by_seed():
    first = [(i.id, i.bbox) for i in generate_items(500, seed=3)]
    assert first == [(i.id, i.bbox) for i in generate_items(500, seed=3)]
    assert first != [(i.id, i.bbox) for i in generate_items(500, seed=4)]


def test_ids_are_unique_names_that_parse_to_the_item_fields(items):
    assert len({i.id for i in items}) == len(items)
    for item in items[:3000]:
        fields = name_fields(item.id)
        for key in (
            "collection",
            "platform",
            "product_type",
            "processing_level",
            "relative_orbit",
            "absolute_orbit",
            "datatake_id",
            "polarisations",
            "sensor_mode",
        ):
            if key in fields:
                assert fields[key] == getattr(item, key), (item.id, key)
        assert fields["start_datetime"] == item.start_datetime.replace(microsecond=0)


def test_sentinel1_orbits_times_and_tracks_agree(items):
    s1 = [i for i in items if i.collection == "sentinel-1"]
    assert {i.platform for i in s1} >= {"sentinel-1a", "sentinel-1b"}
    for item in s1:
        sat = item.platform[-1].upper()
        assert item.relative_orbit == relative_orbit(sat, item.absolute_orbit)
        assert item.cycle == cycle_number(sat, item.absolute_orbit)
        orbit, node = s1_orbit_at(sat, item.start_datetime + timedelta(seconds=5))
        assert orbit == item.absolute_orbit
        middle = item.start_datetime + (item.end_datetime - item.start_datetime) / 2
        seconds = (middle - node).total_seconds()
        ascending = (seconds / S1_PERIOD) % 1.0 < 0.25 or (seconds / S1_PERIOD) % 1.0 > 0.75
        assert item.orbit_direction == ("ascending" if ascending else "descending")
        assert 1 <= item.relative_orbit <= 175


def test_twelve_day_repeat_and_six_day_constellation(items):
    # the same track is flown by one satellite every 12 days, S1A and S1B 6 days apart
    nodes = {}
    for item in items:
        if item.collection == "sentinel-1":
            sat = item.platform[-1].upper()
            _, node = s1_orbit_at(sat, item.start_datetime + timedelta(seconds=5))
            nodes.setdefault((sat, item.relative_orbit), []).append(node)
    repeat = timedelta(days=12).total_seconds()
    checked = 0
    for rel in range(1, 176):
        a, b = nodes.get(("A", rel), []), nodes.get(("B", rel), [])
        for series in (a, b):
            for node in series[1:]:
                assert ((node - series[0]).total_seconds() / repeat) % 1.0 == pytest.approx(
                    0.0, abs=1e-6
                ) or ((node - series[0]).total_seconds() / repeat) % 1.0 == pytest.approx(1.0, abs=1e-6)
        if a and b:
            offset = ((b[0] - a[0]).total_seconds() / repeat) % 1.0
            assert offset == pytest.approx(0.5, abs=2e-4)  # within ~3 minutes of half a cycle
            checked += 1
    assert checked > 50


def test_footprints_sizes_and_extent(items):
    s1 = [i for i in items if i.collection == "sentinel-1"]
    for item in items[:5000]:
        assert item.bbox == pytest.approx(geometry_bbox(item.geometry))
        assert shape(item.geometry).is_valid
    crossing = [i for i in items if i.bbox[0] > i.bbox[2]]
    assert crossing and all(i.geometry["type"] == "MultiPolygon" for i in crossing)
    assert max(i.bbox[3] for i in s1) > 80.0 and min(i.bbox[1] for i in s1) < -75.0
    iw_slc = [i.size for i in s1 if (i.sensor_mode, i.product_type, len(i.polarisations)) == ("IW", "SLC", 2)]
    iw_grd = [i.size for i in s1 if (i.sensor_mode, i.product_type, len(i.polarisations)) == ("IW", "GRD", 2)]
    assert 6.5e9 < min(iw_slc) and max(iw_slc) < 8.2e9
    assert 1.4e9 < min(iw_grd) and max(iw_grd) < 1.8e9
    iw = [shape(i.geometry) for i in s1 if i.sensor_mode == "IW" and i.geometry["type"] == "Polygon"][:200]
    # an IW slice is ~250 km across and ~170 km long: ~4e4 km², a few square degrees at mid-latitudes
    assert all(0.5 < g.area < 60.0 for g in iw)


def test_sentinel2_products_sit_on_their_mgrs_tiles(items):
    s2 = [i for i in items if i.collection == "sentinel-2"]
    assert {i.product_type for i in s2} == {"S2MSI1C", "S2MSI2A"}
    for item in s2[:500]:
        tile = item.properties["s2:mgrs_tile"]
        assert f"_T{tile}_" in item.id
        _, bbox = mgrs_tile_footprint(tile)
        assert item.bbox == pytest.approx(bbox)
        assert 1 <= item.relative_orbit <= 143
        assert item.orbit_direction == "descending"


def test_sentinel2_tiles_are_tiles_of_the_esa_grid(items):
    bboxes = {i.properties["s2:mgrs_tile"]: i.bbox for i in items if i.collection == "sentinel-2"}
    assert len(bboxes) > 200
    grid = load_grid()
    assert sorted(t for t in bboxes if t not in grid) == []
    for tile in sorted(bboxes)[::10]:  # the footprint is the ESA tile's (its band and row), not a namesake's
        if bboxes[tile][0] <= bboxes[tile][2]:
            assert bboxes[tile] == pytest.approx(tile_polygon(tile).bounds, abs=0.01), tile


def test_time_span(items):
    start, end = datetime(2016, 10, 1, tzinfo=UTC), datetime(2025, 10, 1, tzinfo=UTC)
    s1_times = [i.start_datetime for i in items if i.collection == "sentinel-1"]
    assert min(s1_times) >= start - timedelta(minutes=1) and max(s1_times) <= end + timedelta(minutes=1)
    assert any(i.platform == "sentinel-1c" for i in items)
    assert not any(i.platform == "sentinel-1b" and i.start_datetime.year > 2021 for i in items)


def test_mgrs_tiles_match_the_esa_grid(shared_data):
    grid_path = shared_data / "s2_tiling_grid" / "sentinel2_tiles_world_with_land.geojson.xz"
    grid = json.loads(lzma.decompress(grid_path.read_bytes()))
    checked = 0
    for feature in grid["features"][::97]:
        name = feature["properties"]["Name"]
        real = shape(feature["geometry"])
        west, south, east, north = real.bounds
        _, bbox = mgrs_tile_footprint(name)
        if east - west > 20.0 or bbox[0] > bbox[2]:  # the grid file splits tiles at the antimeridian
            continue
        assert bbox == pytest.approx((west, south, east, north), abs=0.02), name
        checked += 1
    assert checked > 400


def test_real_tile_and_slice_positions(shared_data):
    geodes = json.loads((shared_data / "eodag" / "geodes_stac_search_S2.json").read_text())["features"][0]
    _, bbox = mgrs_tile_footprint("14ULD")
    assert bbox == pytest.approx(geodes["bbox"], abs=0.01)
    name = parse_name("S1A_IW_GRDH_1SDV_20210809T173953_20210809T174018_039156_049F13_6FF8")
    orbit, _ = s1_orbit_at(name.satellite, name.start)
    assert orbit == name.absolute_orbit


def test_sentinel2a_orbit_numbering_matches_real_records(shared_data, items):
    # S2A relative orbit = (absolute + 2) % 143 + 1 on the real SciHub, CDSE and RESTO records of
    # 2015-2020; the generator numbers S2A orbits the same way
    real = []
    for path in [
        *sorted((shared_data / "sentinelsat").glob("*.yaml")),
        *sorted((shared_data / "eodag").glob("*.json")),
    ]:
        real += [r for r in read_path(path) if isinstance(r, Item) and r.platform == "sentinel-2a"]
    before_2025 = [r for r in real if r.start_datetime.year < 2025]
    assert len(before_2025) >= 3
    for record in before_2025:
        assert (record.absolute_orbit + 2) % 143 + 1 == record.relative_orbit, record.id
    generated = [i for i in items if i.platform == "sentinel-2a"]
    assert generated and all((i.absolute_orbit + 2) % 143 + 1 == i.relative_orbit for i in generated)
