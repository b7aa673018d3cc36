"""STAC API against the live server: conformance, search semantics, errors, transactions, clients."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import cql2
import pytest

from strata.catalog.model import SEARCHABLE_FIELDS
from strata.catalog.search import SearchQuery

from .conftest import PRIVATE, Live

ROOT = Path(__file__).resolve().parents[2]
VALIDATOR_PYTHON = ROOT / ".venv-tools" / "bin" / "python"


def test_landing_page_and_conformance(live: Live) -> None:
    with live.client() as client:
        landing = client.get("/").json()
        conformance = client.get("/conformance").json()["conformsTo"]
        service = next(link["href"] for link in landing["links"] if link["rel"] == "service-desc")
        openapi = client.get(service).json()
    rels = {link["rel"] for link in landing["links"]}
    assert {"self", "conformance", "data", "search", "service-desc"} <= rels
    assert any(rel.endswith("queryables") for rel in rels)
    for fragment in (
        "core",
        "collections",
        "ogcapi-features",
        "item-search",
        "item-search#filter",
        "item-search#sort",
        "item-search#fields",
        "item-search#query",
    ):
        assert any(c.endswith(f"/{fragment}") or c.endswith(fragment) for c in conformance), fragment
    assert "/download/{product_id}" in openapi["paths"]
    assert "/resto/api/collections/{collection}/search.json" in openapi["paths"]


def test_queryables_list_every_catalog_field(live: Live) -> None:
    with live.client() as client:
        queryables = client.get("/queryables").json()["properties"]
    assert set(SEARCHABLE_FIELDS.values()) <= set(queryables)


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"bbox": "1,2,3"}, "bbox"),
        ({"bbox": "10,50,20,40"}, "bbox"),
        ({"bbox": "a,b,c,d"}, "bbox"),
        ({"datetime": "2020-13-01T00:00:00Z"}, "datetime"),
        ({"datetime": "2021-01-01T00:00:00Z/2020-01-01T00:00:00Z"}, "datetime"),
        ({"datetime": "../.."}, "datetime"),
        ({"filter": "platform = = 'x'"}, "filter"),
        ({"filter": "nosuchfield = 3"}, "filter"),
        ({"limit": "0"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"sortby": "-nosuchfield"}, "sortby"),
        ({"token": "garbage!"}, "token"),
    ],
)
def test_malformed_parameters_are_400_naming_the_parameter(
    live: Live, params: dict[str, str], name: str
) -> None:
    with live.client() as client:
        response = client.get("/search", params=params)
    assert response.status_code == 400, response.text
    assert name in response.json()["description"]


def test_post_search_malformed_body_is_400(live: Live) -> None:
    with live.client() as client:
        assert client.post("/search", json=[None, None]).status_code == 400
        assert client.post("/aggregate", json=[1]).status_code == 400
        bad_limit = client.post("/search", json={"limit": -1})
        bad_filter = client.post("/search", json={"filter": {"op": "=", "args": [{"property": "nope"}, 1]}})
    assert bad_limit.status_code == 400 and "limit" in bad_limit.json()["description"]
    assert bad_filter.status_code == 400 and "filter" in bad_filter.json()["description"]


def _all_ids(client, body: dict) -> list[str]:  # type: ignore[no-untyped-def]
    ids: list[str] = []
    while True:
        page = client.post("/search", json=body).json()
        ids += [f["id"] for f in page["features"]]
        nxt = [link for link in page["links"] if link["rel"] == "next"]
        if not nxt:
            return ids
        body = nxt[0]["body"]


def test_filter_not_expressible_by_the_store_is_evaluated_not_ignored(live: Live) -> None:
    """An OR across fields and a LIKE have no store criterion: the server evaluates them."""
    text = "(\"sat:relative_orbit\" = 13 OR platform = 'sentinel-2a') AND id LIKE '%1SDV%'"
    body = {
        "collections": ["sentinel-1", "sentinel-2"],
        "datetime": "2020-01-01T00:00:00Z/2021-01-01T00:00:00Z",
        "filter": cql2.parse_text(text).to_json(),
        "limit": 37,
    }
    with live.client() as client:
        ids = _all_ids(client, body)
    expr = cql2.parse_text(text)
    expected = []
    token = None
    while True:
        page = live.store.search(
            SearchQuery(
                collections=["sentinel-1", "sentinel-2"],
                start="2020-01-01T00:00:00Z",
                end="2021-01-01T00:00:00Z",
                limit=1000,
                token=token,
            )
        )
        expected += [i.id for i in page.items if expr.matches(i.to_stac())]
        token = page.next_token
        if token is None:
            break
    assert expected and sorted(ids) == sorted(expected) and len(set(ids)) == len(ids)


def test_query_extension_equals_cql2(live: Live) -> None:
    with live.client() as client:
        legacy = client.post(
            "/search",
            json={
                "query": {"sat:relative_orbit": {"gte": 10, "lte": 12}, "product_type": {"eq": "GRD"}},
                "limit": 500,
            },
        ).json()
        cql = client.get(
            "/search",
            params={
                "filter": "\"sat:relative_orbit\" BETWEEN 10 AND 12 AND product_type = 'GRD'",
                "limit": 500,
            },
        ).json()
    assert legacy["numberMatched"] == cql["numberMatched"] > 0
    assert [f["id"] for f in legacy["features"]] == [f["id"] for f in cql["features"]]
    for feature in legacy["features"]:
        assert 10 <= feature["properties"]["sat:relative_orbit"] <= 12


def test_sort_fields_and_free_text(live: Live) -> None:
    with live.client() as client:
        page = client.get(
            "/search",
            params={
                "sortby": "+sat:absolute_orbit,-datetime",
                "limit": 200,
                "collections": "sentinel-1",
                "fields": "id,properties.sat:absolute_orbit,-assets",
            },
        ).json()
        found = client.get("/search", params={"q": "1SDV", "limit": 50}).json()
    orbits = [f["properties"]["sat:absolute_orbit"] for f in page["features"]]
    assert orbits == sorted(orbits)
    assert all(set(f["properties"]) == {"sat:absolute_orbit"} and "assets" not in f for f in page["features"])
    assert found["features"] and all("1SDV" in f["id"] for f in found["features"])


def test_aggregation_counts_match_searches(live: Live) -> None:
    with live.client() as client:
        agg = client.get(
            "/aggregate",
            params={
                "collections": "sentinel-1",
                "aggregations": "total_count,platform_frequency,relative_orbit_frequency,datetime_frequency",
            },
        ).json()
        by_name = {a["name"]: a for a in agg["aggregations"]}
        for bucket in by_name["platform_frequency"]["buckets"][:3]:
            count = client.get(
                "/search",
                params={"collections": "sentinel-1", "limit": 1, "filter": f"platform = '{bucket['key']}'"},
            ).json()["numberMatched"]
            assert count == bucket["frequency"]
        posted = client.post(
            "/collections/sentinel-1/aggregate", json={"aggregations": ["total_count"]}
        ).json()
        assert posted["aggregations"][0]["value"] == by_name["total_count"]["value"]
    total = by_name["total_count"]["value"]
    assert sum(b["frequency"] for b in by_name["platform_frequency"]["buckets"]) == total
    assert sum(b["frequency"] for b in by_name["datetime_frequency"]["buckets"]) == total


def test_private_collection_is_404_to_others(live: Live) -> None:
    item = json.loads(
        json.dumps(
            next(iter(live.store.search(SearchQuery(collections=["sentinel-1"], limit=1)).items)).to_stac()
        )
    )
    item["id"] = "private-product-1"
    item["collection"] = PRIVATE
    live.store.upsert([__import__("strata.catalog.model", fromlist=["Item"]).Item.from_stac(item)])
    path = f"/collections/{PRIVATE}/items/private-product-1"
    with live.client() as anonymous, live.client("alice") as alice, live.client("bob") as bob:
        assert anonymous.get(path).status_code == 404
        assert alice.get(path).status_code == 404
        assert alice.get(f"/collections/{PRIVATE}").status_code == 404
        assert alice.get("/download/private-product-1").status_code == 404
        assert PRIVATE not in [c["id"] for c in alice.get("/collections").json()["collections"]]
        assert not alice.get("/search", params={"ids": "private-product-1"}).json()["features"]
        assert bob.get(path).status_code == 200
        assert bob.get("/search", params={"ids": "private-product-1"}).json()["features"]


def test_transactions_need_the_admin_role(live: Live) -> None:
    doc = next(iter(live.store.search(SearchQuery(collections=["sentinel-2"], limit=1)).items)).to_stac()
    doc["id"] = "transaction-test-item"
    url = "/collections/sentinel-2/items"
    with live.client() as anonymous, live.client("alice") as alice, live.client("admin") as admin:
        assert anonymous.post(url, json=doc).status_code == 401
        assert alice.post(url, json=doc).status_code == 403
        assert alice.delete(f"{url}/transaction-test-item").status_code == 403
        created = admin.post(url, json=doc)
        assert created.status_code in (200, 201), created.text
        assert admin.post(url, json=doc).status_code == 409
        assert anonymous.get(f"{url}/transaction-test-item").status_code == 200
        bulk = {"items": {f"bulk-{i}": {**doc, "id": f"bulk-{i}"} for i in range(5)}, "method": "upsert"}
        assert alice.post("/collections/sentinel-2/bulk_items", json=bulk).status_code == 403
        assert admin.post("/collections/sentinel-2/bulk_items", json=bulk).status_code == 200
        assert len(admin.get("/search", params={"ids": ",".join(bulk["items"])}).json()["features"]) == 5
        assert admin.delete(f"{url}/transaction-test-item").status_code in (200, 204)
        assert anonymous.get(f"{url}/transaction-test-item").status_code == 404


@pytest.mark.slow
def test_pystac_client_pages_through_10000_results(live: Live) -> None:
    from pystac_client import Client

    client = Client.open(live.url)
    search = client.search(
        collections=["sentinel-1", "sentinel-2"],
        bbox=[-180, -70, 180, 70],
        datetime="2016-10-01T00:00:00Z/2025-10-01T00:00:00Z",
        filter={"op": ">=", "args": [{"property": "sat:relative_orbit"}, 1]},
        filter_lang="cql2-json",
        sortby=[{"field": "properties.sat:relative_orbit", "direction": "asc"}],
        limit=1000,
    )
    matched = search.matched()
    items = list(search.items_as_dicts())
    ids = [item["id"] for item in items]
    orbits = [item["properties"]["sat:relative_orbit"] for item in items]
    print(f"pystac-client paged {len(ids)} items of {matched} matched")
    assert matched is not None and matched >= 10_000
    assert orbits == sorted(orbits)
    assert len(ids) == matched == len(set(ids))
    query = SearchQuery(
        collections=["sentinel-1", "sentinel-2"],
        bbox=(-180, -70, 180, 70),
        start="2016-10-01T00:00:00Z",
        end="2025-10-01T00:00:00Z",
        relative_orbit=[(1, None)],
        limit=10_000,
    )
    expected: set[str] = set()
    token = None
    while True:
        page = live.store.search(query.with_token(token))
        expected.update(i.id for i in page.items)
        token = page.next_token
        if token is None:
            break
    assert set(ids) == expected


VALIDATOR_ARGS = [
    "--collection",
    "sentinel-1",
    "--geometry",
    json.dumps({"type": "Polygon", "coordinates": [[[5, 40], [15, 40], [15, 50], [5, 50], [5, 40]]]}),
    "--fields-nested-property",
    "properties.sat:relative_orbit",
    "--query-comparison-field",
    "sat:relative_orbit",
    *[arg for op in ("eq", "neq", "lt", "lte", "gt", "gte") for arg in (f"--query-{op}-value", "13")],
    "--query-substring-field",
    "product_type",
    "--query-starts-with-value",
    "G",
    "--query-ends-with-value",
    "D",
    "--query-contains-value",
    "R",
    "--query-in-field",
    "instruments",
    "--query-in-values",
    "c-sar,msi",
    *[
        arg
        for name in (
            "core",
            "collections",
            "features",
            "item-search",
            "filter",
            "item-search#sort",
            "item-search#fields",
            "item-search#query",
        )
        for arg in ("--conformance", name)
    ],
]


@pytest.mark.slow
def test_stac_api_validator_passes(live: Live) -> None:
    """stac-api-validator (its own venv, schemas served offline) reports no error."""
    if not VALIDATOR_PYTHON.exists():
        pytest.skip("stac-api-validator is not installed in .venv-tools (run make test)")
    wrapper = Path(__file__).with_name("offline_validator.py")
    run = subprocess.run(
        [str(VALIDATOR_PYTHON), str(wrapper), "--root-url", f"{live.url}/", *VALIDATOR_ARGS],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    report = run.stdout + run.stderr
    print(report[-20000:])
    assert "Errors: none" in report, report[-8000:]
    assert run.returncode == 0


def test_antimeridian_bbox_is_the_union_of_its_two_sides(live: Live) -> None:
    def ids(bbox: str) -> set[str]:
        with live.client() as client:
            body = client.get(
                "/search", params={"bbox": bbox, "limit": 10_000, "collections": "sentinel-1"}
            ).json()
        return {f["id"] for f in body["features"]}

    across = ids("170,-60,-170,60")
    assert across and across == ids("170,-60,180,60") | ids("-180,-60,-170,60")
