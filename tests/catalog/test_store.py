"""The catalog store contract, run on SQLite and PostGIS (``store`` fixtures in conftest.py)."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from strata.catalog.errors import ItemError, ItemNotFoundError, QueryError, UnknownCollectionError
from strata.catalog.geometry import geometry_bbox, normalize_footprint, polygon_from_lonlat
from strata.catalog.model import Collection, Item
from strata.catalog.search import SearchQuery
from strata.catalog.store import CatalogStore, open_store
from strata.errors import StrataError

T0 = datetime(2021, 6, 1, 12, 0, tzinfo=UTC)


def make_item(item_id: str, ring: list[tuple[float, float]], *, days: float = 0.0, **fields: Any) -> Item:
    """A product with the footprint ``ring`` (normalised as ingest does), ``days`` after T0."""
    geometry = normalize_footprint(polygon_from_lonlat(ring))
    start = T0 + timedelta(days=days)
    values: dict[str, Any] = {"collection": "sentinel-1", "platform": "sentinel-1a", **fields}
    return Item(
        id=item_id,
        geometry=geometry,
        bbox=geometry_bbox(geometry),
        start_datetime=start,
        end_datetime=start + timedelta(seconds=25),
        **values,
    )


def square(lon: float, lat: float, half: float = 0.5) -> list[tuple[float, float]]:
    return [
        (lon - half, lat - half),
        (lon + half, lat - half),
        (lon + half, lat + half),
        (lon - half, lat + half),
    ]


def ids(store: CatalogStore, **criteria: Any) -> list[str]:
    return [item.id for item in store.search(SearchQuery(limit=1000, **criteria)).items]


def test_upsert_is_idempotent_and_round_trips(store: CatalogStore) -> None:
    items = [
        make_item(f"P{i}", square(10 + i, 45), days=i, relative_orbit=i, polarisations=("VV", "VH"))
        for i in range(5)
    ]
    assert store.upsert(items) == (5, 0)
    assert store.upsert(items) == (0, 5)
    changed = items[2].replace(online=False, size=123)
    assert store.upsert([changed, items[3]]) == (0, 2)
    assert store.count(SearchQuery()) == (5, False)
    assert store.get("P2") == changed
    assert store.get("P0") == items[0]


def test_duplicate_ids_in_one_batch_keep_the_last(store: CatalogStore) -> None:
    first = make_item("P", square(0, 0), size=1)
    assert store.upsert([first, first.replace(size=2)]) == (1, 0)
    assert store.get("P").size == 2


@pytest.mark.parametrize(
    "geometry",
    [
        {"type": "Polygon", "coordinates": "nonsense"},
        {"type": "Polygon", "coordinates": [[[1, 1], [2, 2], [1, 1]]]},  # a ring of 3 positions
    ],
)
def test_a_bad_record_writes_nothing_of_its_batch(store: CatalogStore, geometry: dict[str, Any]) -> None:
    good = make_item("GOOD", square(0, 0))
    bad = make_item("BAD", square(1, 1)).replace(geometry=geometry)
    with pytest.raises(ItemError, match="BAD"):
        store.upsert([good, bad])
    assert store.count(SearchQuery()) == (0, False)
    with pytest.raises(ItemNotFoundError):
        store.get("GOOD")


def test_delete(store: CatalogStore) -> None:
    store.upsert([make_item(f"P{i}", square(i, 0)) for i in range(3)])
    assert store.delete(["P1", "NOPE"]) == 1
    assert sorted(ids(store)) == ["P0", "P2"]
    assert ids(store, bbox=(0.6, -1, 1.4, 1)) == []  # its spatial index entry went too


def test_collections(store: CatalogStore) -> None:
    store.upsert([make_item("P", square(0, 0), collection="derived")])
    assert [c.id for c in store.list_collections()] == ["derived"]  # created on first product
    collection = Collection(
        id="derived",
        title="Derived products",
        description="Velocity maps.",
        keywords=("insar",),
        extent_interval=(T0, None),
        public=False,
    )
    store.put_collection(collection)
    assert store.get_collection("derived") == collection
    with pytest.raises(UnknownCollectionError, match="collections: unknown collection 'nope'"):
        store.search(SearchQuery(collections=["derived", "nope"]))
    store.delete_collection("derived")
    assert store.list_collections() == []
    assert store.count(SearchQuery()) == (0, False)
    with pytest.raises(UnknownCollectionError):
        store.get_collection("derived")


def test_criteria(store: CatalogStore) -> None:
    store.upsert(
        [
            make_item(
                "S1A_A",
                square(0, 0),
                relative_orbit=13,
                polarisations=("VV", "VH"),
                sensor_mode="IW",
                product_type="SLC",
                orbit_direction="descending",
                perpendicular_baseline=-40.0,
            ),
            make_item(
                "S1A_B",
                square(0, 0),
                days=12,
                relative_orbit=13,
                polarisations=("VV",),
                sensor_mode="IW",
                product_type="GRD",
                orbit_direction="descending",
                perpendicular_baseline=80.0,
            ),
            make_item(
                "S1B_C",
                square(0, 0),
                days=24,
                relative_orbit=88,
                polarisations=("HH", "HV"),
                sensor_mode="EW",
                product_type="GRD",
                platform="sentinel-1b",
                online=False,
            ),
        ]
    )
    assert ids(store, relative_orbit=13, product_types="slc") == ["S1A_A"]
    assert sorted(ids(store, relative_orbit="10..20,88")) == ["S1A_A", "S1A_B", "S1B_C"]
    assert sorted(ids(store, polarisations="VV")) == ["S1A_A", "S1A_B"]
    assert ids(store, polarisations="VV,VH") == ["S1A_A"]
    assert ids(store, platforms="S1B") == ["S1B_C"]
    assert ids(store, online=False) == ["S1B_C"]
    assert ids(store, perpendicular_baseline="0..100") == ["S1A_B"]
    assert ids(store, q="s1a _a") == ["S1A_A"]
    assert ids(store, q="1a_%") == []  # LIKE wildcards are literal
    assert ids(store, start=T0 + timedelta(days=10), end=T0 + timedelta(days=13)) == ["S1A_B"]
    assert ids(store, end=T0 + timedelta(seconds=10)) == ["S1A_A"]  # overlap, open start
    assert ids(store, start=T0 + timedelta(days=24, seconds=25)) == ["S1B_C"]  # bounds included
    assert ids(store, sortby="perpendicular_baseline") == ["S1A_A", "S1A_B", "S1B_C"]  # no value: last
    assert ids(store, sortby="-perpendicular_baseline") == ["S1A_B", "S1A_A", "S1B_C"]


def test_antimeridian(store: CatalogStore) -> None:
    crossing = make_item("CROSS", [(179.0, -1.0), (-179.0, -1.0), (-179.0, 1.0), (179.0, 1.0)])
    assert crossing.geometry["type"] == "MultiPolygon" and crossing.bbox[0] > crossing.bbox[2]
    store.upsert([crossing, make_item("WEST", square(-170, 0)), make_item("EAST", square(170, 0))])
    assert ids(store, bbox=(179.5, -0.5, -179.5, 0.5)) == ["CROSS"]
    assert ids(store, bbox=(-179.5, -0.5, -179.2, 0.5)) == ["CROSS"]
    assert ids(store, bbox=(179.2, -0.5, 179.5, 0.5)) == ["CROSS"]
    assert sorted(ids(store, bbox=(169.0, -5, -169.0, 5))) == ["CROSS", "EAST", "WEST"]
    assert ids(store, bbox=(-168.0, -5, 168.0, 5)) == []  # west < east: the box does not cross
    assert ids(store, intersects="POLYGON((179.9 0, -179.9 0, -179.9 0.2, 179.9 0.2, 179.9 0))") == ["CROSS"]
    assert ids(store, point=(-179.99, 0.0), radius=5) == ["CROSS"]


def test_exact_footprint_not_its_box(store: CatalogStore) -> None:
    # a thin diagonal footprint: its bbox covers (1, 1) but the footprint does not
    store.upsert([make_item("DIAG", [(0, 0), (0.1, 0), (2, 1.9), (2, 2), (1.9, 2), (0, 0.1)])])
    assert ids(store, bbox=(0.9, 0.9, 1.1, 1.1)) == ["DIAG"]
    assert ids(store, bbox=(0.2, 1.5, 0.4, 1.7)) == []
    assert ids(store, point=(0.3, 1.6), radius=1) == []
    assert ids(store, point=(0.3, 1.6), radius=120) == ["DIAG"]


def test_mgrs_tile(store: CatalogStore) -> None:
    store.upsert(
        [make_item("TOULOUSE", square(1.44, 43.6, 0.1)), make_item("PARIS", square(2.35, 48.85, 0.1))]
    )
    assert ids(store, tile="31TCJ") == ["TOULOUSE"]
    assert ids(store, tile="T31UDQ") == ["PARIS"]


def test_pages_walk_forward_and_back_with_ties_and_nulls(store: CatalogStore) -> None:
    items = [
        make_item(f"P{i:02d}", square(0, 0), days=i % 3, relative_orbit=None if i % 4 == 0 else i % 5)
        for i in range(23)
    ]
    store.upsert(items)
    for sortby in ("-start_datetime", "relative_orbit,-start_datetime", "-relative_orbit", "id"):
        everything = ids(store, sortby=sortby)
        assert sorted(everything) == sorted(i.id for i in items)
        query = SearchQuery(sortby=sortby, limit=5)
        pages, page = [], store.search(query)
        assert page.prev_token is None and page.number_matched == 23
        while True:
            pages.append([item.id for item in page.items])
            if page.next_token is None:
                break
            page = store.search(query.with_token(page.next_token))
        assert [i for p in pages for i in p] == everything
        assert [len(p) for p in pages] == [5, 5, 5, 5, 3]
        backwards = []
        while page.prev_token is not None:
            page = store.search(query.with_token(page.prev_token))
            backwards.append([item.id for item in page.items])
        assert backwards == pages[-2::-1]


def test_token_checks(store: CatalogStore) -> None:
    store.upsert([make_item(f"P{i}", square(0, 0), days=i) for i in range(3)])
    page = store.search(SearchQuery(limit=1))
    with pytest.raises(QueryError, match="token: .*another query"):
        store.search(SearchQuery(limit=1, relative_orbit=3, token=page.next_token))
    with pytest.raises(QueryError, match="token: malformed"):
        store.search(SearchQuery(token="garbage!"))


def test_limit_and_estimated_count(make_store: Any) -> None:
    store = make_store(count_exact_limit=10, max_limit=20)
    store.upsert([make_item(f"P{i:03d}", square(i % 90, 0), days=i) for i in range(200)])
    with pytest.raises(QueryError, match="limit: at most 20"):
        store.search(SearchQuery(limit=21))
    assert store.count(SearchQuery(end=T0 + timedelta(days=4.5))) == (5, False)
    estimate = store.count(SearchQuery(end=T0 + timedelta(days=99.5)))
    assert estimate.is_estimate and 50 <= estimate.value <= 200
    page = store.search(SearchQuery(limit=20))
    assert page.matched_is_estimate and page.number_matched > 10


def test_aggregate(store: CatalogStore) -> None:
    store.upsert(
        [
            make_item(f"P{i}", square(0, 0), days=20 * i, relative_orbit=i % 2 or None, product_type="SLC")
            for i in range(4)
        ]
    )
    buckets = store.aggregate(SearchQuery(), ["relative_orbit", "month", "product_type"])
    assert buckets["relative_orbit"] == [(1, 2), (None, 2)]
    assert buckets["month"] == [("2021-06", 2), ("2021-07", 2)]
    assert buckets["product_type"] == [("SLC", 4)]
    with pytest.raises(QueryError, match="aggregations: cannot aggregate on 'geometry'"):
        store.aggregate(SearchQuery(), ["geometry"])


def test_open_store_rejects_unknown_schemes() -> None:
    with pytest.raises(StrataError, match="no catalog backend for 'mysql'"):
        open_store("mysql://localhost/x")
