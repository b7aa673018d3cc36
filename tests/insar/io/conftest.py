"""Fixtures of the stack reader tests: a small simulated stack and the round-trip check."""

import datetime as dt
import functools
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from strata.insar.io import open_stack
from strata.insar.simulate import (
    AcquisitionConfig,
    GridConfig,
    MissingDataConfig,
    SimulatedStack,
    SimulationConfig,
    UnwrappingErrorConfig,
    simulate_stack,
    write_stack,
)
from strata.insar.stack import validate_stack


@pytest.fixture(scope="session")
def simulated() -> SimulatedStack:
    """A 40 x 56 stack (61 dates, 177 pairs) with missing pixels and unwrapping errors."""
    config = SimulationConfig(
        seed=11,
        grid=GridConfig(rows=40, cols=56, chunk_size=32),
        missing=MissingDataConfig(random_share=0.05),
        unwrapping_errors=UnwrappingErrorConfig(interferogram_share=0.05),
    )
    return simulate_stack(config)


@pytest.fixture(scope="session")
def short() -> SimulatedStack:
    """A 3-month stack (8 dates, ~20 pairs) for the bad-input tests."""
    config = SimulationConfig(
        seed=12,
        grid=GridConfig(rows=30, cols=40),
        acquisitions=AcquisitionConfig(end=dt.date(2019, 3, 31)),
    )
    return simulate_stack(config)


def _round_trip(sim: SimulatedStack, folder: Path, fmt: str, coherence_atol: float = 1e-6) -> xr.Dataset:
    """Write ``sim`` in ``fmt``, read it back lazily and check it equals the simulated stack."""
    expected = sim.stack.compute()
    path = write_stack(sim, folder, fmt)
    stack = open_stack(path, fmt, chunks=24)
    validate_stack(stack)
    assert stack.attrs["source_format"] == fmt
    assert stack["unwrapped_phase"].chunks is not None
    assert stack["unwrapped_phase"].chunks[0] == (stack.sizes["pair"],)  # never chunked in pair
    assert stack["unwrapped_phase"].chunks[1] == (24, 16)  # chunked in space
    got = stack.compute()
    np.testing.assert_array_equal(got["pair"].values, expected["pair"].values)
    np.testing.assert_array_equal(got["reference"].values, expected["reference"].values)
    np.testing.assert_array_equal(got["secondary"].values, expected["secondary"].values)
    np.testing.assert_allclose(got["x"].values, expected["x"].values, atol=1e-9)
    np.testing.assert_allclose(got["y"].values, expected["y"].values, atol=1e-9)
    np.testing.assert_allclose(got.attrs["transform"], expected.attrs["transform"], atol=1e-9)
    assert got.attrs["wavelength"] == pytest.approx(expected.attrs["wavelength"])
    np.testing.assert_allclose(
        got["unwrapped_phase"].values, expected["unwrapped_phase"].values, atol=1e-5, equal_nan=True
    )
    np.testing.assert_allclose(got["coherence"].values, expected["coherence"].values, atol=coherence_atol)
    np.testing.assert_allclose(
        got["perpendicular_baseline"].values, expected["perpendicular_baseline"].values, atol=1e-3
    )
    return got


@pytest.fixture
def round_trip(simulated, tmp_path):
    """``round_trip(fmt, coherence_atol=...)``: write the simulated stack, read it back, compare."""
    return functools.partial(_round_trip, simulated, tmp_path)
