"""A reduced demo, end to end: the same code path as ``make demo`` on a small frame."""

import re
from pathlib import Path

import pytest

from strata.catalog.search import SearchQuery
from strata.catalog.store.base import open_store
from strata.demo import DemoConfig, run
from strata.settings import Settings


@pytest.mark.slow
def test_reduced_demo_writes_report_and_publishes_products(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    config = DemoConfig(size=96, years=1.0, generated=300, real_stack=True, chunk_size=48)
    result = run(config, settings, say=lambda _: None)

    page = result.report.read_text(encoding="utf-8")
    for src in re.findall(r'<img src="([^"]+)"', page):
        assert (result.report.parent / src).stat().st_size > 10_000, src
    tehran = next(case for case in result.cases if case.name == "tehran")
    assert tehran.pairs > 50
    assert tehran.summary["network"]["gaps"], "the simulated network has a gap, bridged by NSBAS"
    from strata.demo.report import quality

    figures = quality(tehran)
    # a 96-px frame with a 250 mm/yr bowl: the velocity is recovered within a few mm/yr
    assert figures["velocity_rmse_mm_yr"] < 5.0
    assert figures["velocity_rmse_coherent_mm_yr"] < 5.0
    assert figures["truth_velocity_range_mm_yr"][0] < -100.0
    assert "velocity RMSE against truth" in page
    assert result.catalog["generated"] == 300

    store = open_store(settings.catalog_url)
    try:
        derived = store.search(SearchQuery(collections=["strata-derived"], limit=100)).items
        assert {item.id for item in derived} >= {p for case in result.cases for p in case.products}
        assert all(case.products for case in result.cases)
    finally:
        store.close()
