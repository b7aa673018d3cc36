"""The PEPS/RESTO OpenSearch façade: same products as the STAC search, Atom, description document."""

from __future__ import annotations

from xml.etree import ElementTree

from .conftest import Live


def test_peps_query_returns_the_same_products_as_stac(live: Live) -> None:
    peps = {
        "box": "-10,35,30,60",
        "productType": "GRD",
        "sensorMode": "IW",
        "orbitDirection": "descending",
        "maxRecords": "20",
    }
    stac = {
        "collections": ["sentinel-1"],
        "bbox": [-10, 35, 30, 60],
        "sortby": [{"field": "datetime", "direction": "desc"}],
        "filter": {
            "op": "and",
            "args": [
                {"op": "=", "args": [{"property": "product_type"}, "GRD"]},
                {"op": "=", "args": [{"property": "sar:instrument_mode"}, "IW"]},
                {"op": "=", "args": [{"property": "sat:orbit_state"}, "descending"]},
            ],
        },
        "limit": 1000,
    }
    with live.client() as client:
        pages = []
        for page in (1, 2, 3):
            body = client.get(
                "/resto/api/collections/S1/search.json", params={**peps, "page": str(page)}
            ).json()
            pages.append([f["id"] for f in body["features"]])
        stac_ids = [f["id"] for f in client.post("/search", json=stac).json()["features"]]
        total = body["properties"]["totalResults"]
    assert total == len(stac_ids) and total > 20
    assert sum(pages, []) == stac_ids[:60]
    assert all(len(p) == 20 for p in pages[:-1])


def test_resto_properties_and_atom(live: Live) -> None:
    params = {
        "box": "-10,35,30,60",
        "productType": "SLC",
        "maxRecords": "5",
        "startDate": "2019-01-01",
        "completionDate": "2021-12-31",
    }
    with live.client() as client:
        body = client.get("/resto/api/collections/sentinel-1/search.json", params=params).json()
        atom = client.get("/resto/api/collections/S1/search.atom", params=params)
        describe = client.get("/resto/api/collections/S1/describe.xml")
    props = body["features"][0]["properties"]
    assert props["productType"] == "SLC" and props["storage"]["mode"] in ("disk", "tape")
    assert "2019-01-01" <= props["startDate"][:10] <= "2021-12-31"
    feed = ElementTree.fromstring(atom.content)
    entries = feed.findall("{http://www.w3.org/2005/Atom}entry")
    assert [e.findtext("{http://www.w3.org/2005/Atom}id") for e in entries] == [
        f["id"] for f in body["features"]
    ]
    assert describe.status_code == 200 and b"search.json?" in describe.content


def test_opensearch_errors_name_the_parameter(live: Live) -> None:
    with live.client() as client:
        for params, name in (
            ({"box": "1,2"}, "box"),
            ({"maxRecords": "501"}, "maxRecords"),
            ({"startDate": "yesterday"}, "startDate"),
            ({"orbitNumber": "x"}, "orbitNumber"),
        ):
            response = client.get("/resto/api/collections/S1/search.json", params=params)
            assert response.status_code == 400 and name in response.json()["description"], response.text
        assert client.get("/resto/api/collections/S9/search.json").status_code == 404


def test_lat_lon_radius_and_relative_orbit(live: Live) -> None:
    with live.client() as client:
        body = client.get(
            "/resto/api/collections/S1/search.json",
            params={
                "lat": "45",
                "lon": "10",
                "radius": "300000",
                "relativeOrbitNumber": "[1,175]",
                "maxRecords": "50",
            },
        ).json()
    assert body["features"]
    assert all(1 <= f["properties"]["relativeOrbitNumber"] <= 175 for f in body["features"])
