"""Shared fixtures: paths to the real samples of ../shared/data (tests skip when absent)."""

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real sample folder ``../shared/data``; skips the test when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is absent")
    return SHARED_DATA


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """URL of a PostgreSQL database with PostGIS, from STRATA_TEST_POSTGRES_URL; skips when unset."""
    url = os.environ.get("STRATA_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("STRATA_TEST_POSTGRES_URL is not set (PostGIS tests need it)")
    return url
