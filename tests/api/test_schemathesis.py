"""Property-based fuzzing of the whole OpenAPI document with schemathesis: no 5xx, ever."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import Live

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


@pytest.mark.slow
def test_no_server_error_on_1000_generated_requests(live_scratch: Live) -> None:
    """Every operation of the OpenAPI document (STAC, OpenSearch, downloads, processes), as admin."""
    args = [
        str(SCHEMATHESIS),
        "run",
        f"{live_scratch.url}/openapi.json",
        "--checks",
        "not_a_server_error",
        "--max-examples",
        "25",
        "--seed",
        "1",
        "--phases",
        "examples,fuzzing",
        "--generation-database",
        "none",
        "--header",
        f"Authorization: Bearer {live_scratch.keys['admin']}",
        "--workers",
        "2",
        "--request-timeout",
        "60",
    ]
    run = subprocess.run(args, capture_output=True, text=True, timeout=1800)
    report = run.stdout + run.stderr
    print(report[-4000:])
    generated = re.search(r"(\d+) generated, (\d+) passed", report)
    assert run.returncode == 0 and "Server error" not in report, report[-8000:]
    assert generated is not None and int(generated.group(1)) >= 1000, report[-3000:]
    assert generated.group(1) == generated.group(2)
