"""Simulated coregistered SLC stacks of distributed scatterers with known deformation.

The truth (dates, baselines, DEM, deformation, atmosphere, base coherence) comes from the stack
simulator's :class:`~strata.insar.simulate._generator.StackGenerator` for the same
:class:`~strata.insar.simulate.SimulationConfig`, with its grid read as the SLC pixel grid. Each
pixel is a distributed scatterer: circular Gaussian speckle whose coherence between dates ``i`` and
``j`` is ``base(x, y) * (rho_inf + (1 - rho_inf) exp(-|t_i - t_j| / tau))`` (the simulator's
temporal decorrelation model), drawn as

``z_i = sqrt(base) * (L w)_i + sqrt(1 - base) * n_i``

with ``L`` the Cholesky factor of the temporal correlation matrix and ``w``, ``n`` white circular
Gaussian. Each date's SLC is ``z * exp(1j * phi)`` with ``phi`` the phase of the LOS signal
(deformation + atmosphere + DEM error, ``-4 pi / lambda * d``) plus the topographic phase
``h2ph * height``, so an interferogram ``s * conj(r)`` carries ``phi_s - phi_r`` as
:mod:`strata.insar.stack` expects. ``h2ph`` and ``height`` are part of the stack so that
:func:`strata.insar.interferogram.remove_phase` can take the topography out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dask.array as da
import numpy as np
import numpy.typing as npt
import xarray as xr

from strata.insar.io.slc import make_slc_stack
from strata.insar.simulate._config import SimulationConfig
from strata.insar.simulate._generator import StackGenerator

__all__ = ["SimulatedSlcStack", "simulate_slc_stack"]


@dataclass(frozen=True)
class SimulatedSlcStack:
    """A simulated SLC stack and its truth.

    Attributes
    ----------
    config
        The configuration it was generated from.
    slc
        SLC stack (per :mod:`strata.insar.io.slc`), dask-backed, with ``height`` and ``h2ph``.
    velocity
        True linear LOS velocity (y, x), mm/yr, positive toward the satellite.
    displacement
        True LOS displacement (date, y, x), mm, zero at the first date (lazy).
    base_coherence
        Coherence (y, x) of each pixel before temporal decorrelation.
    reference_pixel
        (row, col) of a coherent, nearly stable SLC pixel.
    """

    config: SimulationConfig
    slc: xr.Dataset
    velocity: xr.DataArray
    displacement: xr.DataArray
    base_coherence: xr.DataArray
    reference_pixel: tuple[int, int]


class _SlcGenerator:
    """Computes the SLCs of any spatial block from the drawn state of a :class:`StackGenerator`."""

    def __init__(self, config: SimulationConfig) -> None:
        self.config = config
        self.truth = StackGenerator(config)
        dec = config.decorrelation
        span = np.abs(self.truth.years[:, None] - self.truth.years[None, :]) * 365.25
        correlation = dec.long_term_coherence + (1.0 - dec.long_term_coherence) * np.exp(
            -span / dec.temporal_decorrelation_days
        )
        self.cholesky = np.linalg.cholesky(correlation).astype(np.complex64)
        self.h2ph = (
            self.truth.phase_per_mm * self.truth.date_baselines * self.truth.dem_error_factor
        ).astype(np.float32)

    def block(self, block_info: dict[Any, Any] | None = None) -> npt.NDArray[np.complex64]:
        """The SLCs (date, y, x) of the block that ``block_info`` locates."""
        assert block_info is not None
        (_, _), (r0, r1), (c0, c1) = block_info[None]["array-location"]
        _, bi, bj = block_info[None]["chunk-location"]
        rows, cols = slice(r0, r1), slice(c0, c1)
        n_dates = self.truth.dates.size
        shape = (n_dates, r1 - r0, c1 - c0)
        rng = np.random.default_rng([self.config.seed, 7, bi, bj])

        def circular(size: tuple[int, ...]) -> npt.NDArray[np.complex64]:
            scale = np.float32(np.sqrt(0.5))
            out = np.empty(size, dtype=np.complex64)
            out.real = rng.standard_normal(size, dtype=np.float32) * scale
            out.imag = rng.standard_normal(size, dtype=np.float32) * scale
            return out

        common = np.tensordot(self.cholesky, circular(shape), axes=(1, 0))
        base = self.truth.base_coherence[rows, cols][None]
        speckle = np.sqrt(base) * common + np.sqrt(1.0 - base) * circular(shape)
        signal = (self.truth.displacement(rows, cols) + self.truth.delay(rows, cols)) * np.float32(
            self.truth.phase_per_mm
        )
        signal += self.h2ph[:, None, None] * self.truth.dem[rows, cols][None]
        slc: npt.NDArray[np.complex64] = (speckle * np.exp(1j * signal)).astype(np.complex64)
        return slc


def simulate_slc_stack(config: SimulationConfig | None = None) -> SimulatedSlcStack:
    """Simulate a coregistered SLC stack of distributed scatterers with known deformation.

    Parameters
    ----------
    config
        Seeded simulation settings; ``grid`` is the SLC pixel grid (rows = azimuth, cols = range),
        ``decorrelation`` sets the base coherence and its temporal decay, ``network`` only the
        perpendicular baselines (pairs are chosen later, from the SLCs).

    Returns
    -------
    SimulatedSlcStack
        The lazy SLC stack (generated block by block, any size fits in memory) and its truth.
    """
    config = config or SimulationConfig()
    generator = _SlcGenerator(config)
    truth = generator.truth
    rows, cols = truth.shape
    chunk = config.grid.chunk_size
    n_dates = truth.dates.size
    chunks = (
        (n_dates,),
        da.core.normalize_chunks(chunk, (rows,))[0],
        da.core.normalize_chunks(chunk, (cols,))[0],
    )
    slc = da.map_blocks(
        generator.block, dtype=np.complex64, chunks=chunks, meta=np.array((), dtype=np.complex64)
    )
    h2ph = da.broadcast_to(
        da.from_array(generator.h2ph[:, None, None], chunks=(n_dates, 1, 1)), slc.shape, chunks=slc.chunks
    )
    dates = truth.dates.astype("datetime64[ns]")
    stack = make_slc_stack(
        slc,
        dates,
        wavelength=config.wavelength,
        source_format="simulated",
        perpendicular_baseline=truth.date_baselines,
        geometry={"height": da.from_array(truth.dem, chunks=chunk)},
        h2ph=h2ph,
    )
    coords = {"y": stack["y"].values, "x": stack["x"].values}
    full = (slice(0, rows), slice(0, cols))
    displacement = da.map_blocks(
        lambda block_info=None: truth.displacement(
            *(slice(*loc) for loc in block_info[None]["array-location"][1:])
        ),
        dtype=np.float32,
        chunks=chunks,
        meta=np.array((), dtype=np.float32),
    )
    return SimulatedSlcStack(
        config=config,
        slc=stack,
        velocity=xr.DataArray(
            truth.velocity(*full), dims=("y", "x"), coords=coords, attrs={"units": "mm/yr"}
        ),
        displacement=xr.DataArray(
            displacement, dims=("date", "y", "x"), coords={"date": dates, **coords}, attrs={"units": "mm"}
        ),
        base_coherence=xr.DataArray(truth.base_coherence, dims=("y", "x"), coords=coords),
        reference_pixel=truth.reference_pixel(),
    )
