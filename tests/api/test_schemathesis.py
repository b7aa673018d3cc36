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
    args = [
        str(SCHEMATHESIS),
        "run",
        f"{live_scratch.url}/openapi.json",
        "--checks",
        "not_a_server_error",
        "--max-examples",
        "30",
        "--seed",
        "1",
        "--phases",
        "examples,coverage,fuzzing",
        "--generation-database",
        "none",
        "--header",
        f"Authorization: Bearer {live_scratch.keys['admin']}",
        "--workers",
        "1",
        "--request-timeout",
        "60",
    ]
    run = subprocess.run(args, capture_output=True, text=True, timeout=1800)
    report = run.stdout + run.stderr
    print(report[-6000:])
    cases = sum(int(n) for n in re.findall(r"(\\d+) generated", report)) or sum(
        int(n) for n in re.findall(r"Test cases:\\s+(\\d+)", report)
    )
    assert run.returncode == 0, report[-6000:]
    assert "not_a_server_error" in report
    assert cases >= 1000, report[-3000:]
