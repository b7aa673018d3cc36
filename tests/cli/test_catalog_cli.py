"""``strata catalog``: the ASF acceptance search, generate, and one-line errors on bad input."""

import json
import sys
from pathlib import Path

import pytest

from strata.cli import main

ASF_STACK = "asf_search/S1A_IW_SLC_path13_stack_176.json"


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test gets its own data directory, hence its own SQLite catalog."""
    monkeypatch.setenv("STRATA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("STRATA_DATABASE_URL", raising=False)
    return tmp_path / "data"


def strata(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str
) -> tuple[int, str, str]:
    """Run ``strata ARGS`` in process; returns (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["strata", *args])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_relative_orbit_search_on_the_asf_stack(
    shared_data: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = shared_data / ASF_STACK
    code, out, _ = strata(capsys, monkeypatch, "catalog", "ingest", str(stack))
    assert code == 0 and "176 inserted, 0 updated, 0 rejected" in out
    code, out, _ = strata(
        capsys,
        monkeypatch,
        "catalog",
        "search",
        "--relative-orbit",
        "13",
        "--product-type",
        "SLC",
        "--format",
        "json",
    )
    assert code == 0
    result = json.loads(out)
    records = json.loads(stack.read_text())
    expected = {
        r["properties"]["sceneName"]
        for r in records
        if r["properties"]["pathNumber"] == 13 and r["properties"]["processingLevel"] == "SLC"
    }
    assert result["type"] == "FeatureCollection"
    assert {feature["id"] for feature in result["features"]} == expected
    assert result["numberMatched"] == len(expected) == len(result["features"])
    # re-ingest updates, never duplicates
    code, out, _ = strata(capsys, monkeypatch, "catalog", "ingest", str(stack))
    assert "0 inserted, 176 updated" in out
    code, out, _ = strata(capsys, monkeypatch, "catalog", "count", "--relative-orbit", "1..12,14..175")
    assert (code, out.strip()) == (0, "0")


def test_generate_then_search_pages(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = strata(capsys, monkeypatch, "catalog", "generate", "--count", "300", "--seed", "4")
    assert code == 0 and "300 inserted, 0 updated" in out
    code, out, _ = strata(capsys, monkeypatch, "catalog", "count", "--format", "json")
    assert json.loads(out) == {"numberMatched": 300, "numberMatchedIsEstimate": False}
    code, out, _ = strata(capsys, monkeypatch, "catalog", "search", "--limit", "120", "--format", "geojson")
    first = json.loads(out)
    assert len(first["features"]) == 120 and first["numberMatched"] == 300
    code, out, _ = strata(
        capsys, monkeypatch, "catalog", "search", "--token", first["next"], "--format", "json"
    )
    rest = json.loads(out)
    ids = [f["id"] for f in first["features"] + rest["features"]]
    assert len(ids) == len(set(ids)) == 300 and "next" not in rest
    code, out, _ = strata(
        capsys, monkeypatch, "catalog", "search", "--mode", "IW", "--sortby", "relative_orbit"
    )
    assert code == 0 and "shown of" in out and " IW " in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["search", "--intersects", "POLYGON((0 0, 1 1"], "intersects: malformed WKT"),
        (["search", "--start", "2021-02-01", "--end", "2021-01-01"], "start: 2021-02-01"),
        (["search", "--collection", "nope"], "collections: unknown collection 'nope'"),
        (["count", "--relative-orbit", "thirteen"], "relative_orbit: not an integer: 'thirteen'"),
        (["search", "--format", "csv"], "format: 'csv' is not one of"),
        (["ingest", "no/such/file.json"], "no such file"),
    ],
)
def test_bad_queries_are_one_line_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = strata(capsys, monkeypatch, "catalog", *args)
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_corrupt_files_ingest_nothing(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = (shared_data / "sentinelsat" / "S1A_IW_GRDH_1SDV_20230310T075746_manifest.safe").read_bytes()
    truncated = tmp_path / "manifest.safe"
    truncated.write_bytes(manifest[: len(manifest) // 2])
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"type": "Topology", "objects": {}, "arcs": []}))
    for path, message in ((truncated, "truncated XML"), (other, "not a known metadata format")):
        code, _, err = strata(capsys, monkeypatch, "catalog", "ingest", str(path))
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    code, out, _ = strata(capsys, monkeypatch, "catalog", "count")
    assert (code, out.strip()) == (0, "0")
