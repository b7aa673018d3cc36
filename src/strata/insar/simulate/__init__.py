"""Simulated interferogram stacks with known truth.

:func:`simulate_stack` turns a seeded :class:`SimulationConfig` into a :class:`SimulatedStack`: the
stack (an :mod:`xarray` dataset following :mod:`strata.insar.stack`, backed by dask and generated
block by block, so any size fits in memory) and the truth it was made from.

Signals (all in mm of LOS delay, positive toward the satellite, converted to phase with
``phi = -4 pi / lambda * d``):

- deformation: uniform velocity + west-east gradient, elliptical Gaussian bowls (up to 30 cm/yr),
  an annual sinusoid (amplitude growing west to east) and Gaussian steps;
- troposphere: stratified (a per-date coefficient times height) and turbulent (power-law
  ``k**-8/3`` fields, drawn on a coarse grid and interpolated);
- orbital ramps per date (planar, optionally quadratic);
- DEM error ``dz``: ``1000 * B_perp * dz / (R sin(theta))`` mm;
- decorrelation: coherence ``gamma = base(x, y) * (rho_inf + (1 - rho_inf) exp(-dt / tau))`` and
  phase noise drawn from the multilook phase PDF at that coherence (Lee et al. 1994);
- unwrapping errors: integer 2-pi jumps over elliptical regions of a share of interferograms;
- missing pixels: NaN at random and/or below a coherence threshold.

The truth is the deformation alone: ``displacement`` (date, y, x) referenced to the first date and
``velocity`` (y, x), the linear rate of the model (with a seasonal term, only a fit that models it
recovers this rate). Neither is referenced in space: compare estimates with
``truth - truth[reference_pixel]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import numpy.typing as npt
import xarray as xr
from dask.delayed import delayed

from strata.insar.simulate._config import (
    AcquisitionConfig,
    AtmosphereConfig,
    BowlConfig,
    DecorrelationConfig,
    DeformationConfig,
    GridConfig,
    MissingDataConfig,
    NetworkConfig,
    SimulationConfig,
    StepConfig,
    TopographyConfig,
    UnwrappingErrorConfig,
)
from strata.insar.simulate._generator import StackGenerator
from strata.insar.stack import make_stack

__all__ = [
    "AcquisitionConfig",
    "AtmosphereConfig",
    "BowlConfig",
    "DecorrelationConfig",
    "DeformationConfig",
    "GridConfig",
    "MissingDataConfig",
    "NetworkConfig",
    "SimulatedStack",
    "SimulationConfig",
    "StepConfig",
    "TopographyConfig",
    "UnwrappingErrorConfig",
    "simulate_stack",
    "write_stack",
]

WGS84_WKT = (
    'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],'
    'AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],'
    'UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],'
    'AXIS["Latitude",NORTH],AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]'
)


@dataclass(frozen=True)
class SimulatedStack:
    """A simulated stack and its truth.

    Attributes
    ----------
    config
        The configuration it was generated from.
    stack
        The interferogram stack (dask-backed, per :mod:`strata.insar.stack`), with ``height``
        and ``incidence_angle`` geometry.
    dates
        Acquisition dates (``datetime64[ns]``).
    pairs
        (n_pairs, 2) indices into ``dates`` of each interferogram's reference and secondary.
    displacement
        True LOS displacement (date, y, x) in mm, positive toward the satellite, zero at the first date.
    velocity
        True linear LOS velocity (y, x) in mm/yr.
    unwrapping_errors
        Injected 2-pi cycles (pair, y, x) int8; non-zero marks the affected pixels.
    error_pairs
        Indices of the interferograms that carry an unwrapping error.
    dem
        Synthetic DEM (y, x) in metres (the ``height`` of the stack).
    dem_error
        True DEM error (y, x) in metres (true height minus ``dem``).
    base_coherence
        Coherence (y, x) of each pixel before temporal decorrelation.
    reference_pixel
        (row, col) of a coherent, nearly stable pixel.
    """

    config: SimulationConfig
    stack: xr.Dataset
    dates: npt.NDArray[np.datetime64]
    pairs: npt.NDArray[np.intp]
    displacement: xr.DataArray
    velocity: xr.DataArray
    unwrapping_errors: xr.DataArray
    error_pairs: npt.NDArray[np.intp]
    dem: xr.DataArray
    dem_error: xr.DataArray
    base_coherence: xr.DataArray
    reference_pixel: tuple[int, int]

    def coherent_mask(self, threshold: float = 0.5) -> npt.NDArray[np.bool_]:
        """Pixels whose base coherence is at least ``threshold``."""
        mask: npt.NDArray[np.bool_] = self.base_coherence.values >= threshold
        return mask


def _blocks(size: int, chunk: int) -> list[slice]:
    return [slice(start, min(start + chunk, size)) for start in range(0, size, chunk)]


def _lazy(
    generator: StackGenerator, name: str, token: str, leading: int, dtype: type, item: int | None = None
) -> da.Array:
    """Dask array (leading, y, x) whose blocks come from ``generator.<name>``."""
    chunk = generator.config.grid.chunk_size
    rows_list = _blocks(generator.shape[0], chunk)
    cols_list = _blocks(generator.shape[1], chunk)
    function = getattr(generator, name)
    grid: list[list[da.Array]] = []
    for bi, rows in enumerate(rows_list):
        line: list[da.Array] = []
        for bj, cols in enumerate(cols_list):
            args: tuple[Any, ...] = (rows, cols, (bi, bj)) if name == "interferograms" else (rows, cols)
            task = delayed(function, pure=True)(*args, dask_key_name=f"sim-{name}-{token}-{bi}-{bj}")
            if item is not None:
                task = task[item]
            shape = (leading, rows.stop - rows.start, cols.stop - cols.start)
            line.append(da.from_delayed(task, shape=shape, dtype=dtype))
        grid.append(line)
    out: da.Array = da.block([grid])
    return out


def simulate_stack(config: SimulationConfig | None = None) -> SimulatedStack:
    """Simulate an interferogram stack with known truth.

    Parameters
    ----------
    config
        Seeded description of the stack; the defaults give 2 years of 12-day acquisitions
        (61 dates, ~180 interferograms) on 200 x 200 pixels with a subsidence bowl.

    Returns
    -------
    SimulatedStack
        The lazy stack and the truth. Generating it draws only grid-wide state (DEM, coherence,
        coarse turbulence); the interferograms are computed block by block when read.
    """
    config = config or SimulationConfig()
    generator = StackGenerator(config)
    token = generator.token
    grid = config.grid
    n_pairs = generator.pairs.shape[0]
    step = grid.pixel_size_deg
    transform = [grid.west_lon, step, 0.0, grid.north_lat, 0.0, -step]
    x = grid.west_lon + step * (np.arange(grid.cols, dtype=np.float64) + 0.5)
    y = grid.north_lat - step * (np.arange(grid.rows, dtype=np.float64) + 0.5)
    ref, sec = generator.pairs.T
    dem = da.from_array(generator.dem, chunks=grid.chunk_size)
    incidence = da.full(
        generator.shape, config.topography.incidence_deg, dtype=np.float32, chunks=grid.chunk_size
    )
    stack = make_stack(
        _lazy(generator, "interferograms", token, n_pairs, np.float32, item=0),
        _lazy(generator, "interferograms", token, n_pairs, np.float32, item=1),
        generator.dates[ref],
        generator.dates[sec],
        x=x,
        y=y,
        crs=WGS84_WKT,
        transform=transform,
        wavelength=config.wavelength,
        source_format="simulated",
        perpendicular_baseline=generator.perpendicular_baseline.tolist(),
        geometry={"height": dem, "incidence_angle": incidence},
    )
    dates = generator.dates.astype("datetime64[ns]")
    coords = {"y": y, "x": x}
    full = (slice(0, grid.rows), slice(0, grid.cols))
    return SimulatedStack(
        config=config,
        stack=stack,
        dates=dates,
        pairs=generator.pairs,
        displacement=xr.DataArray(
            _lazy(generator, "displacement", token, dates.size, np.float32),
            dims=("date", "y", "x"),
            coords={"date": dates, **coords},
            attrs={"units": "mm"},
        ),
        velocity=xr.DataArray(
            generator.velocity(*full), dims=("y", "x"), coords=coords, attrs={"units": "mm/yr"}
        ),
        unwrapping_errors=xr.DataArray(
            _lazy(generator, "unwrapping_errors", token, n_pairs, np.int8),
            dims=("pair", "y", "x"),
            coords={"pair": stack["pair"].values, **coords},
        ),
        error_pairs=generator.error_pairs,
        dem=xr.DataArray(generator.dem, dims=("y", "x"), coords=coords, attrs={"units": "m"}),
        dem_error=xr.DataArray(generator.dem_error, dims=("y", "x"), coords=coords, attrs={"units": "m"}),
        base_coherence=xr.DataArray(generator.base_coherence, dims=("y", "x"), coords=coords),
        reference_pixel=generator.reference_pixel(),
    )


def write_stack(sim: SimulatedStack, directory: str | Path, format: str) -> Path:
    """Write a simulated stack in one of the input formats, block by block (bounded memory).

    Parameters
    ----------
    sim
        The simulated stack.
    directory
        Output folder (created).
    format
        A writer name of :data:`strata.insar.io.WRITERS` (``licsar``, ``aria``, ``mintpy``, ``gamma``).

    Returns
    -------
    Path
        The path to pass to :func:`strata.insar.io.open_stack` with the same format.
    """
    from strata.insar.io import write_stack_as

    return write_stack_as(sim.stack, Path(directory), format)
