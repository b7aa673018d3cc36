"""Ingest of every real sample of ../shared/data, bad input, and format round trips."""

import json
import re
from pathlib import Path

import pytest
import yaml
from shapely.geometry import shape

from strata.catalog.errors import IngestError
from strata.catalog.generate import generate_items
from strata.catalog.ingest import Rejected, read_path, readers
from strata.catalog.ingest.name import item_from_name
from strata.catalog.model import Item

REAL_FILES = [
    "asf_search/S1A_IW_SLC_path13_stack_176.json",
    "asf_search/SLC_BURST_stack_166.yml",
    "asf_search/S1_baseline_stack.yml",
    "asf_search/S1_response.yml",
    "asf_search/SLC_BURST.yml",
    "asf_search/Fairbanks_SLC.yml",
    "asf_search/Fairbanks_S1_stack.yml",
    "asf_search/Fairbanks_SLC_jsonlite.json",
    "sentinelsat/test_footprints_s1.yaml",
    "sentinelsat/test_sentinel1_flag.yaml",
    "sentinelsat/test_returned_filesize.yaml",
    "sentinelsat/test_area_relation.yaml",
    "sentinelsat/node_test_products.yaml",
    "sentinelsat/expected_search_footprints_s1.geojson",
    "sentinelsat/S1A_IW_GRDH_1SDV_20230310T075746_manifest.safe",
    "eodag/cdse_odata_S1_GRD_search_10.json",
    "eodag/cdse_odata_search_S2.json",
    "eodag/sara_resto_search_S2.json",
    "eodag/geodes_stac_search_S2.json",
    "eodag/manifest.safe.S1_SAR_GRD",
    "stactools_sentinel1/S1A_IW_GRDH_20210809_stac_item.json",
    "stactools_sentinel1/S1A_IW_GRDH_20210809_manifest.safe",
    "sarsen/S1B_IW_GRDH_1SDV_20211223T051122_20211223T051147_030148_039993_5371.SAFE",
    "sarsen/S1B_IW_GRDH_1SDV_20211223T051122_20211223T051147_030148_039993_5371.SAFE/manifest.safe",
    "xarray_sentinel/S1B_IW_SLC__1SDV_20210401T052622_20210401T052650_026269_032297_EFA4.SAFE",
    "xarray_sentinel/S1B_IW_SLC__1SDV_20210401T052622_20210401T052650_026269_032297_EFA4.SAFE/manifest.safe",
    "s1_reader/S1A_IW_SLC__1SDV_20200511T135117_20200511T135144_032518_03C421_7768.zip",
]


def _read(path: Path) -> tuple[list[Item], list[Rejected]]:
    out = list(read_path(path))
    return [o for o in out if isinstance(o, Item)], [o for o in out if isinstance(o, Rejected)]


def _raw_records(path: Path) -> list:
    text = path.read_text()
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        doc = yaml.load(text, Loader=yaml.CSafeLoader)
    return doc if isinstance(doc, list) else [doc]


@pytest.mark.parametrize("relative", REAL_FILES)
def test_every_real_sample_ingests(shared_data, relative):
    items, rejected = _read(shared_data / relative)
    assert rejected == []
    assert items
    for item in items:
        assert item.collection in ("sentinel-1", "sentinel-2")
        assert shape(item.geometry).is_valid
        assert item.start_datetime <= item.end_datetime
        assert item.platform and item.platform.startswith(item.collection)
        assert "strata:footprint" not in item.properties  # every real sample has a footprint


def test_asf_stack_fields_match_the_raw_records(shared_data):
    path = shared_data / "asf_search" / "S1A_IW_SLC_path13_stack_176.json"
    raw = {r["properties"]["sceneName"]: r["properties"] for r in _raw_records(path)}
    items, _ = _read(path)
    assert len(items) == len(raw) == 176
    for item in items:
        props = raw[item.id]
        assert item.relative_orbit == props["pathNumber"]
        assert item.absolute_orbit == props["orbit"]
        assert item.size == props["bytes"]
        assert item.checksum == "md5:" + props["md5sum"]
        assert item.perpendicular_baseline == props["perpendicularBaseline"]
        assert item.temporal_baseline == props["temporalBaseline"]
        assert item.orbit_direction == props["flightDirection"].lower()
        assert item.product_type == "SLC" and item.sensor_mode == "IW"
        assert item.assets["product"]["href"] == props["url"]
    path13 = {i.id for i in items if i.relative_orbit == 13 and i.product_type == "SLC"}
    assert path13 == {name for name, p in raw.items() if p["pathNumber"] == 13}


@pytest.mark.parametrize(
    "relative", [f for f in REAL_FILES if f.startswith("asf_search/") and f.endswith(".yml")]
)
def test_relative_orbit_of_asf_records_equals_path_number(shared_data, relative):
    path = shared_data / relative
    raw = {r["properties"]["sceneName"]: r["properties"]["pathNumber"] for r in _raw_records(path)}
    items, _ = _read(path)
    assert {i.id: i.relative_orbit for i in items} == raw


def test_bursts_keep_their_ids_and_parent_datatake(shared_data):
    items, _ = _read(shared_data / "asf_search" / "SLC_BURST_stack_166.yml")
    assert len(items) == 166
    assert {i.product_type for i in items} == {"BURST"}
    assert {i.properties["s1:burst_id"] for i in items} == {"174_372326_IW3"}
    parents = [i for i in items if "s1:parent_product" in i.properties]
    assert parents and all(
        i.datatake_id == int(i.properties["s1:parent_product"][56:62], 16) for i in parents
    )


def test_manifest_fields_and_rebuilt_name(shared_data):
    path = shared_data / "sentinelsat" / "S1A_IW_GRDH_1SDV_20230310T075746_manifest.safe"
    text = path.read_text()
    (item,), _ = _read(path)
    # the file name is not the product name: it is rebuilt, CRC included, from the manifest
    assert item.id == "S1A_IW_GRDH_1SDV_20230310T075746_20230310T075811_047579_05B6B2_8312"
    assert item.cycle == int(re.search(r"<safe:cycleNumber>(\d+)<", text).group(1))
    assert item.datatake_id == int(re.search(r"missionDataTakeID>(\d+)<", text).group(1))
    assert item.slice_number == int(re.search(r"sliceNumber>(\d+)<", text).group(1))
    assert item.orbit_direction == "descending"
    assert item.polarisations == ("VV", "VH")


def test_same_product_from_different_sources_has_one_id(shared_data):
    (from_stac,), _ = _read(shared_data / "stactools_sentinel1" / "S1A_IW_GRDH_20210809_stac_item.json")
    (from_manifest,), _ = _read(shared_data / "stactools_sentinel1" / "S1A_IW_GRDH_20210809_manifest.safe")
    assert from_stac.id == from_manifest.id
    assert from_stac.collection == from_manifest.collection == "sentinel-1"
    for attr in (
        "absolute_orbit",
        "relative_orbit",
        "cycle",
        "datatake_id",
        "slice_number",
        "orbit_direction",
    ):
        assert getattr(from_stac, attr) == getattr(from_manifest, attr), attr
    cassette, _ = _read(shared_data / "sentinelsat" / "node_test_products.yaml")
    (manifest,), _ = _read(shared_data / "sentinelsat" / "S1A_IW_GRDH_1SDV_20230310T075746_manifest.safe")
    merged = next(i for i in cassette if i.id == manifest.id)
    assert merged.checksum == "md5:69bdce1998ccc02f56193290d38322e9"  # from the OData record
    assert merged.orbit_direction == "descending"  # from the OpenSearch entry


def test_provider_variants(shared_data):
    (geodes,), _ = _read(shared_data / "eodag" / "geodes_stac_search_S2.json")
    assert geodes.id == "S2A_MSIL1C_20250402T175741_N0511_R141_T14ULD_20250403T022035"
    assert geodes.properties["stac:source_id"].startswith("URN:FEATURE")
    assert (geodes.online, geodes.size, geodes.platform) == (False, 764210185, "sentinel-2a")
    resto_path = shared_data / "eodag" / "sara_resto_search_S2.json"
    resto, _ = _read(resto_path)
    raw = json.loads(resto_path.read_text())["features"]
    assert [i.online for i in resto] == [f["properties"]["storage"]["mode"] == "disk" for f in raw]
    assert [i.checksum for i in resto] == ["md5:" + f["properties"]["resourceChecksum"].lower() for f in raw]
    cdse, _ = _read(shared_data / "eodag" / "cdse_odata_S1_GRD_search_10.json")
    assert {i.relative_orbit for i in cdse} == {151}
    assert {i.properties["strata:provider_relative_orbit"] for i in cdse} == {153}
    assert sorted(i.slice_number for i in cdse) == list(range(1, 11))
    (zipped,), _ = _read(
        shared_data / "s1_reader" / "S1A_IW_SLC__1SDV_20200511T135117_20200511T135144_032518_03C421_7768.zip"
    )
    assert zipped.orbit_direction == "descending"  # from the annotation: the zip has no manifest
    assert shape(zipped.geometry).area > 3.0


def test_names_file_estimates_footprints_near_the_real_ones(shared_data, tmp_path):
    records = _raw_records(shared_data / "asf_search" / "S1A_IW_SLC_path13_stack_176.json")
    names = [r["properties"]["sceneName"] for r in records]
    listing = tmp_path / "names.txt"
    listing.write_text("# products\n" + "\n".join(names) + "\nnot-a-product\n")
    out = list(read_path(listing))
    items = [o for o in out if isinstance(o, Item)]
    rejected = [o for o in out if isinstance(o, Rejected)]
    assert len(items) == 176 and len(rejected) == 1 and "not-a-product" in rejected[0].source
    real = {r["properties"]["sceneName"]: shape(r["geometry"]) for r in records}
    for item in items:
        assert item.properties["strata:footprint"] == "estimated"
        assert item.relative_orbit == 13 and item.orbit_direction == "descending"
        # the orbit model places the slice within ~1.5° of the real footprint over 2015-2021
        assert shape(item.geometry).distance(real[item.id]) < 1.5, item.id


def test_bare_name_in_place_of_a_path():
    (item,) = list(read_path("S2B_MSIL2A_20210712T105619_N0301_R094_T31TCJ_20210712T134622"))
    assert item.collection == "sentinel-2" and item.properties["strata:footprint"] == "estimated"
    west, south, east, north = item.bbox
    assert 0.4 < west < 0.6 and 43.1 < south < 43.3  # MGRS tile 31TCJ near Toulouse
    assert item_from_name(
        "S1C_IW_GRDH_1SDV_20251118T052605_20251118T052630_005064_00A084_DD79"
    ).relative_orbit


def test_truncated_xml_is_an_error(shared_data, tmp_path):
    text = (shared_data / "eodag" / "manifest.safe.S1_SAR_GRD").read_bytes()
    broken = tmp_path / "manifest.safe"
    broken.write_bytes(text[: len(text) // 2])
    with pytest.raises(IngestError, match="truncated XML"):
        read_path(broken)


def test_truncated_json_is_an_error(shared_data, tmp_path):
    text = (shared_data / "eodag" / "cdse_odata_S1_GRD_search_10.json").read_text()
    broken = tmp_path / "search.json"
    broken.write_text(text[:5000])
    with pytest.raises(IngestError, match="search.json"):
        read_path(broken)


@pytest.mark.parametrize(
    "relative",
    ["sarxarray/20230319-coreg.znap/.zattrs", "sarxarray/20230319-coreg.znap/h2ph_VV_19Mar2023/.zarray"],
)
def test_json_of_another_format_is_an_error(shared_data, relative):
    with pytest.raises(IngestError, match="not a known metadata format"):
        read_path(shared_data / relative)


def test_other_bad_inputs(tmp_path):
    prose = tmp_path / "notes.txt"
    prose.write_text("hello\nworld\n")
    with pytest.raises(IngestError, match="not a known metadata format"):
        read_path(prose)
    with pytest.raises(IngestError, match="no such file"):
        read_path(tmp_path / "missing.json")
    with pytest.raises(IngestError, match="unknown metadata format"):
        read_path(prose, format="shapefile")
    binary = tmp_path / "data.bin"
    binary.write_bytes(bytes(range(256)))
    with pytest.raises(IngestError):
        read_path(binary)


def test_malformed_records_are_rejected_and_the_rest_ingested(shared_data, tmp_path):
    records = _raw_records(shared_data / "asf_search" / "S1A_IW_SLC_path13_stack_176.json")[:5]
    records[1]["properties"]["orbit"] = "twelve"
    del records[2]["geometry"]
    records[3]["properties"]["startTime"] = "yesterday"
    path = tmp_path / "asf.json"
    path.write_text(json.dumps(records))
    items, rejected = _read(path)
    assert [i.id for i in items] == [
        records[0]["properties"]["sceneName"],
        records[4]["properties"]["sceneName"],
    ]
    assert [r.source.split("#")[1][:1] for r in rejected] == ["1", "2", "3"]
    assert "integer" in rejected[0].reason
    assert "geometry" in rejected[1].reason
    assert "timestamp" in rejected[2].reason


def test_stac_round_trip_of_generated_items(tmp_path):
    items = list(generate_items(300, seed=5))
    collection = tmp_path / "items.json"
    collection.write_text(
        json.dumps({"type": "FeatureCollection", "features": [i.to_stac() for i in items]}, default=str)
    )
    ndjson = tmp_path / "items.ndjson"
    ndjson.write_text("\n".join(json.dumps(i.to_stac()) for i in items))
    for path in (collection, ndjson):
        back, rejected = _read(path)
        assert rejected == []
        assert [b.id for b in back] == [i.id for i in items]
        for original, copy in zip(items, back, strict=True):
            for attr in (
                "collection",
                "relative_orbit",
                "absolute_orbit",
                "cycle",
                "polarisations",
                "size",
                "orbit_direction",
                "datatake_id",
                "start_datetime",
                "online",
                "checksum",
            ):
                assert getattr(copy, attr) == getattr(original, attr), attr
            assert copy.bbox == pytest.approx(original.bbox)


def test_stac_collection_reads_linked_items(shared_data, tmp_path):
    item = json.loads(
        (shared_data / "stactools_sentinel1" / "S1A_IW_GRDH_20210809_stac_item.json").read_text()
    )
    (tmp_path / "items").mkdir()
    (tmp_path / "items" / "one.json").write_text(json.dumps(item))
    catalog = {
        "type": "Collection",
        "stac_version": "1.0.0",
        "id": "local",
        "description": "",
        "license": "proprietary",
        "extent": {},
        "links": [{"rel": "item", "href": "items/one.json"}, {"rel": "item", "href": "https://x/y.json"}],
    }
    (tmp_path / "collection.json").write_text(json.dumps(catalog))
    items, rejected = _read(tmp_path / "collection.json")
    assert [i.id for i in items] == ["S1A_IW_GRDH_1SDV_20210809T173953_20210809T174018_039156_049F13_6FF8"]


def test_registry_lists_builtin_readers():
    assert set(readers()) >= {"safe", "stac", "asf", "odata", "resto", "dhus", "name"}
