"""Search: query parsing, and random queries on 10k generated products checked by brute force."""

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import shape

from strata.catalog.errors import QueryError
from strata.catalog.generate import generate_items
from strata.catalog.model import Item
from strata.catalog.search import SORTABLE_FIELDS, Range, SearchQuery, SortKey, parse_interval
from strata.catalog.store import CatalogStore, open_store

# --- parsing -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("criteria", "message"),
    [
        ({"relative_orbit": "abc"}, "relative_orbit: not an integer: 'abc'"),
        ({"absolute_orbit": "20..10"}, "absolute_orbit: range 20..10 is empty"),
        ({"start": "2021-02-01", "end": "2021-01-01"}, "start: 2021-02-01T00:00:00.000000Z is after end"),
        ({"start": "yesterday"}, "start: not an RFC 3339 timestamp or date"),
        ({"intersects": "POLYGON((0 0, 1 1"}, "intersects: malformed WKT"),
        ({"intersects": '{"type": "Polygon"}'}, "intersects: "),
        ({"bbox": "1,2,3"}, "bbox: needs 4 numbers"),
        ({"bbox": "0,10,1,5"}, "bbox: latitudes must be within"),
        ({"point": "2,48"}, "radius: point and radius go together"),
        ({"point": "2,89", "radius": 200}, "point: a circle around a pole"),
        ({"tile": "31TZZ"}, "tile: not a Sentinel-2 tile id"),
        ({"tile": "31TCV"}, "tile: no Sentinel-2 tile '31TCV'"),
        ({"bbox": "0,0,1,1", "tile": "31TCJ"}, "tile: bbox and tile are exclusive"),
        ({"polarisations": "VV,XX"}, "polarisations: unknown polarisation 'XX'"),
        ({"orbit_direction": "sideways"}, "orbit_direction: "),
        ({"sortby": "-geometry"}, "sortby: cannot sort on 'geometry'"),
        ({"limit": 0}, "limit: "),
        ({"color": "red"}, "color: "),
    ],
)
def test_malformed_queries_name_the_parameter(criteria: dict[str, Any], message: str) -> None:
    with pytest.raises(QueryError) as error:
        SearchQuery(**criteria)
    assert str(error.value).startswith(message)


def test_query_spellings() -> None:
    query = SearchQuery(
        relative_orbit="13, 100..120, ..5",
        platforms="S1A,sentinel-2b",
        product_types=["slc"],
        polarisations="vh vv".split(),
        perpendicular_baseline="-50..",
        sortby="-relative_orbit,+datetime,sat:absolute_orbit",
        orbit_direction="DESCENDING",
        end="2021-01-31",
    )
    assert query.relative_orbit == [Range(13, 13), Range(100, 120), Range(None, 5)]
    assert query.platforms == ["sentinel-1a", "sentinel-2b"]
    assert query.product_types == ["SLC"]
    assert query.polarisations == ["VH", "VV"]
    assert query.perpendicular_baseline == Range(-50.0, None)
    assert query.end == datetime(2021, 1, 31, 23, 59, 59, 999999, tzinfo=UTC)
    assert query.sort_keys == [
        SortKey("relative_orbit", True),
        SortKey("start_datetime", False),
        SortKey("absolute_orbit", False),
        SortKey("id", False),
    ]


def test_parse_interval() -> None:
    day = datetime(2020, 1, 1, tzinfo=UTC)
    assert parse_interval("2020-01-01") == (day, day + timedelta(days=1, microseconds=-1))
    assert parse_interval("../2020-01-01T00:00:00Z") == (None, day)
    assert parse_interval("2020-01-01T00:00:00Z/..") == (day, None)
    with pytest.raises(QueryError, match="datetime: start .* is after end"):
        parse_interval("2020-02-01/2020-01-01")
    with pytest.raises(QueryError, match="datetime: an interval needs at least one bound"):
        parse_interval("../..")


def test_geometry_of_a_crossing_bbox_is_split() -> None:
    geometry = SearchQuery(bbox=(170, -10, -170, 10)).geometry
    assert geometry is not None and geometry.geom_type == "MultiPolygon"
    assert sorted(part.bounds for part in geometry.geoms) == [(-180, -10, -170, 10), (170, -10, 180, 10)]


def test_circle_radius_is_geodesic() -> None:
    geometry = SearchQuery(point=(10.0, 60.0), radius=100).geometry
    assert geometry is not None
    west, south, east, north = geometry.bounds
    assert 1.79 < east - 10.0 < 1.81  # 100 km east at 60°N is 1.8° of longitude
    assert 0.89 < north - 60.0 < 0.91


# --- random queries against a brute-force filter -------------------------------------------------

START, END = datetime(2016, 10, 1, tzinfo=UTC), datetime(2025, 10, 1, tzinfo=UTC)
TILES = ["31TCJ", "01KAB", "60KYA", "01CDV", "33UUP", "55HFA"]  # 01K, 60K, 01C cross 180°
PRODUCT_TYPES = ["SLC", "GRD", "RAW", "OCN", "S2MSI1C", "S2MSI2A"]
PLATFORMS = ["sentinel-1a", "sentinel-1b", "sentinel-1c", "sentinel-2a", "sentinel-2b"]


@pytest.fixture(scope="module")
def archive() -> list[Item]:
    return list(generate_items(10_000, seed=11))


@pytest.fixture(scope="module")
def footprints(archive: list[Item]) -> dict[str, Any]:
    shapes = {item.id: shape(item.geometry) for item in archive}
    shapely.prepare(list(shapes.values()))
    return shapes


@pytest.fixture(scope="module")
def loaded_store(
    backend: str, new_database_url: Callable[[str], str], archive: list[Item]
) -> Iterator[CatalogStore]:
    store = open_store(new_database_url(backend))
    for start in range(0, len(archive), 2500):
        store.upsert(archive[start : start + 2500])
    store.optimize()
    yield store
    store.close()


def _boxes(bbox: tuple[float, float, float, float]) -> list[Any]:
    west, south, east, north = bbox
    if west <= east:
        return [shapely.box(west, south, east, north)]
    return [shapely.box(west, south, 180, north), shapely.box(-180, south, east, north)]


def _in(value: Any, ranges: list[Range]) -> bool:
    return value is not None and any(
        (r.low is None or value >= r.low) and (r.high is None or value <= r.high) for r in ranges
    )


def brute_force(items: list[Item], footprints: dict[str, Any], query: SearchQuery) -> list[str]:
    """The ids a query should return, in order, computed without the store."""
    if query.bbox is not None:
        areas = _boxes(query.bbox)  # independent of the query's own geometry
    elif query.geometry is not None:
        areas = [query.geometry]
    else:
        areas = []
    kept = []
    for item in items:
        if (
            (query.product_types and item.product_type not in query.product_types)
            or (query.platforms and item.platform not in query.platforms)
            or (query.sensor_modes and item.sensor_mode not in query.sensor_modes)
            or (query.orbit_direction and item.orbit_direction != query.orbit_direction)
            or (query.polarisations and not set(query.polarisations) <= set(item.polarisations))
            or (query.relative_orbit and not _in(item.relative_orbit, query.relative_orbit))
            or (query.absolute_orbit and not _in(item.absolute_orbit, query.absolute_orbit))
            or (query.online is not None and item.online != query.online)
            or (query.start is not None and item.end_datetime < query.start)
            or (query.end is not None and item.start_datetime > query.end)
            or (query.q and not all(word in item.id.lower() for word in query.q.lower().split()))
            or (areas and not any(footprints[item.id].intersects(area) for area in areas))
        ):
            continue
        kept.append(item)
    for key in reversed(query.sort_keys):  # stable sorts, last key first; no value sorts last
        present = [i for i in kept if getattr(i, key.field) is not None]
        present.sort(key=lambda i, f=key.field: getattr(i, f), reverse=key.descending)
        kept = present + [i for i in kept if getattr(i, key.field) is None]
    return [item.id for item in kept]


def _wrap(lon: float) -> float:
    return (lon + 180.0) % 360.0 - 180.0


@st.composite
def spatial(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["none", "bbox", "bbox-crossing", "point", "wkt", "tile"]))
    lat = draw(st.floats(-80, 60))
    height = draw(st.floats(1, 25))
    width = draw(st.floats(1, 60))
    if kind == "bbox":
        west = draw(st.floats(-180, 180 - width))
        return {"bbox": (west, lat, west + width, lat + height)}
    if kind == "bbox-crossing":
        west = draw(st.floats(180 - width + 0.01, 179.99))
        return {"bbox": (west, lat, _wrap(west + width), lat + height)}
    if kind == "point":
        return {"point": (draw(st.floats(-180, 180)), lat), "radius": draw(st.floats(1, 1500))}
    if kind == "wkt":  # a box given with longitudes past 180 when it crosses
        west = draw(st.floats(150, 179))
        ring = [
            (west, lat),
            (west + width, lat),
            (west + width, lat + height),
            (west, lat + height),
            (west, lat),
        ]
        return {"intersects": "POLYGON((" + ", ".join(f"{x} {y}" for x, y in ring) + "))"}
    if kind == "tile":
        return {"tile": draw(st.sampled_from(TILES))}
    return {}


@st.composite
def queries(draw: st.DrawFn) -> SearchQuery:
    criteria: dict[str, Any] = draw(spatial())
    if draw(st.booleans()):
        start = START + timedelta(days=draw(st.floats(0, 3000)))
        end = start + timedelta(days=draw(st.floats(100, 2000)))
        criteria.update(start=draw(st.sampled_from([start, None])), end=end)
    if draw(st.integers(0, 2)) == 0:
        low = draw(st.integers(1, 175))
        criteria["relative_orbit"] = draw(
            st.sampled_from([str(low), f"{low}..{low + 60}", f"..{low}", f"{low},{low + 3}"])
        )
    if draw(st.integers(0, 3)) == 0:
        criteria["absolute_orbit"] = f"{draw(st.integers(0, 60000))}.."
    if draw(st.integers(0, 2)) == 0:
        criteria["product_types"] = draw(st.lists(st.sampled_from(PRODUCT_TYPES), min_size=1, max_size=3))
    if draw(st.integers(0, 3)) == 0:
        criteria["platforms"] = draw(st.lists(st.sampled_from(PLATFORMS), min_size=1, max_size=2))
    if draw(st.integers(0, 3)) == 0:
        criteria["sensor_modes"] = draw(st.sampled_from(["IW", "EW"]))
    if draw(st.integers(0, 3)) == 0:
        criteria["orbit_direction"] = draw(st.sampled_from(["ascending", "descending"]))
    if draw(st.integers(0, 3)) == 0:
        criteria["polarisations"] = draw(
            st.lists(st.sampled_from(["VV", "VH", "HH", "HV"]), min_size=1, max_size=2)
        )
    if draw(st.integers(0, 4)) == 0:
        criteria["online"] = draw(st.booleans())
    if draw(st.integers(0, 4)) == 0:
        criteria["q"] = draw(st.sampled_from(["s1a", "_iw_", "msil2a t3", "grdh 1sdv"]))
    keys = draw(st.lists(st.sampled_from(SORTABLE_FIELDS), max_size=2, unique=True))
    criteria["sortby"] = [f"{draw(st.sampled_from('+-'))}{key}" for key in keys] or None
    criteria["limit"] = draw(st.integers(1, 60))
    return SearchQuery(**criteria)


@settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(query=queries())
def test_random_queries_match_brute_force(
    loaded_store: CatalogStore, archive: list[Item], footprints: dict[str, Any], query: SearchQuery
) -> None:
    expected = brute_force(archive, footprints, query)
    page = loaded_store.search(query)
    assert (page.number_matched, page.matched_is_estimate) == (len(expected), False)
    assert [item.id for item in page.items] == expected[: query.limit]
    if page.next_token is not None:
        following = loaded_store.search(query.with_token(page.next_token))
        assert [item.id for item in following.items] == expected[query.limit : 2 * query.limit]
    else:
        assert len(expected) <= query.limit


def test_the_archive_exercises_the_antimeridian(archive: list[Item], loaded_store: CatalogStore) -> None:
    crossing = [item for item in archive if item.bbox[0] > item.bbox[2]]
    assert len(crossing) >= 5  # the property test's crossing queries have footprints to find
    found = loaded_store.search(SearchQuery(bbox=(179.9, -90, -179.9, 90), limit=1000))
    assert {item.id for item in crossing} <= {item.id for item in found.items}
