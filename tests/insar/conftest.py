"""Fixtures of the InSAR tests."""

import subprocess
from pathlib import Path

import pytest

MINTPY_PYTHON = (
    Path(__file__).resolve().parents[2] / "benchmarks" / ".work" / "mintpy-venv" / "bin" / "python"
)


@pytest.fixture(scope="session")
def mintpy_run():
    """``mintpy_run(script, *args) -> stdout``: run a script with MintPy 1.6.4's own interpreter.

    That interpreter lives in the venv made by ``benchmarks/inversion.py``; tests skip without it.
    """
    if not MINTPY_PYTHON.exists():
        pytest.skip("MintPy's venv (made by benchmarks/inversion.py) is absent")

    def run(script: str, *args: str) -> str:
        result = subprocess.run(
            [str(MINTPY_PYTHON), "-c", script, *args], capture_output=True, text=True, check=True
        )
        return result.stdout

    return run
