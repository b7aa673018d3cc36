"""Corrections of interferograms and time series: reference point, ramps, DEM error, troposphere.

Public functions
----------------
``select_reference(coherence, *, temporal_coherence=None, variability=None, mask=None,
margin=None) -> ReferencePoint``
    Automatic reference pixel: coherent (spatially smoothed average coherence), with high temporal
    coherence and low variability, away from the edges.
``pixel_of(x, y, transform, *, shape, crs=None) -> (row, col)``
    Pixel containing map coordinates (or lon/lat when ``crs`` is given and not geographic).
``apply_reference(data, row, col, *, radius=0)``
    Subtract, layer by layer, the mean of a (2 radius + 1)² window around the reference pixel.
``deramp(data, *, mask=None, order=1) -> Deramp``
    Remove a planar (order 1) or quadratic (order 2) ramp from every layer (date or interferogram).
``estimate_dem_error(timeseries, dates, perpendicular_baseline, *, slant_range, incidence_angle,
seasonal=False, steps=()) -> DemError``
    Per-pixel DEM error from the time series (Fattahi & Amelung 2013).
``phase_elevation(data, height, *, mask=None, with_ramp=False) -> PhaseElevation``
    Empirical stratified troposphere: per-layer linear fit of phase (or displacement) against height.

Layers are the leading axis of ``(n_layer, rows, cols)`` arrays; NaN marks missing pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from pyproj import CRS, Transformer
from scipy import ndimage

from strata.insar.errors import InsarError
from strata.insar.velocity import time_functions, weighted_least_squares

__all__ = [
    "DemError",
    "Deramp",
    "PhaseElevation",
    "ReferencePoint",
    "apply_reference",
    "deramp",
    "estimate_dem_error",
    "phase_elevation",
    "pixel_of",
    "select_reference",
]

FloatArray = npt.NDArray[np.float64]
F32 = npt.NDArray[np.float32]


class ReferencePoint(NamedTuple):
    """A reference pixel."""

    row: int
    """Row of the pixel."""
    col: int
    """Column of the pixel."""
    candidates: int
    """Number of pixels that passed the coherence and stability criteria."""


class Deramp(NamedTuple):
    """Ramp removal result."""

    corrected: F32
    """(n_layer, rows, cols) data minus the ramps."""
    coefficients: F32
    """(n_layer, n_coef) ramp coefficients on normalised coordinates (NaN if too few pixels)."""


class DemError(NamedTuple):
    """DEM-error estimation result."""

    dem_error: F32
    """(rows, cols) DEM error in metres (true height minus DEM height)."""
    corrected: F32
    """(n_date, rows, cols) time series minus the DEM-error term."""
    dem_error_std: F32
    """(rows, cols) one-sigma uncertainty of the DEM error (m)."""


class PhaseElevation(NamedTuple):
    """Empirical phase-elevation correction result."""

    corrected: F32
    """(n_layer, rows, cols) data minus the fitted height-correlated term (and ramp)."""
    slope: F32
    """(n_layer,) fitted data units per metre of height."""


def select_reference(
    coherence: npt.ArrayLike,
    *,
    temporal_coherence: npt.ArrayLike | None = None,
    variability: npt.ArrayLike | None = None,
    mask: npt.ArrayLike | None = None,
    margin: int | None = None,
    window: int = 5,
) -> ReferencePoint:
    """Choose a coherent, stable reference pixel away from the edges.

    Candidates are the valid pixels inside ``margin`` whose ``window``-averaged coherence is in the
    top decile (or above 0.85, MintPy's threshold, whichever is lower) and, when given, whose
    temporal coherence is in the top quartile. Among them the pixel of least ``variability`` (e.g.
    the residual RMS or the std of the time series) is chosen, else the most coherent.

    Parameters
    ----------
    coherence
        (rows, cols) average spatial coherence.
    temporal_coherence
        (rows, cols) temporal coherence of the inversion.
    variability
        (rows, cols) a measure of noise or motion (lower is better).
    mask
        (rows, cols) True where a pixel may be chosen.
    margin
        Pixels excluded along each edge (default 5 % of the smaller dimension, at least 1).
    window
        Size of the square window over which coherence is averaged.

    Returns
    -------
    ReferencePoint
        The chosen pixel and how many candidates there were.
    """
    coh = np.asarray(coherence, dtype=np.float64)
    if coh.ndim != 2:
        raise InsarError("coherence must be a 2-D array")
    rows, cols = coh.shape
    valid = np.isfinite(coh)
    if mask is not None:
        valid &= np.asarray(mask, dtype=bool)
    edge = max(1, round(0.05 * min(rows, cols))) if margin is None else margin
    inner = np.zeros_like(valid)
    inner[edge : rows - edge, edge : cols - edge] = True
    if (valid & inner).any():
        valid &= inner
    smooth = ndimage.uniform_filter(np.where(np.isfinite(coh), coh, 0.0), size=window, mode="nearest")
    score = np.where(valid, smooth, -np.inf)
    if not valid.any():
        raise InsarError("no valid pixel to choose a reference from")
    candidates = valid & (score >= min(0.85, float(np.quantile(score[valid], 0.9))))
    if temporal_coherence is not None:
        tcoh = np.nan_to_num(np.asarray(temporal_coherence, dtype=np.float64), nan=-np.inf)
        tcoh_ok = candidates & (tcoh >= np.quantile(tcoh[candidates], 0.75))
        candidates = tcoh_ok if tcoh_ok.any() else candidates
    if variability is not None:
        noise = np.nan_to_num(np.asarray(variability, dtype=np.float64), nan=np.inf)
        choice = np.where(candidates, noise, np.inf)
        index = int(np.argmin(choice)) if np.isfinite(choice).any() else int(np.argmax(score))
    else:
        index = int(np.argmax(np.where(candidates, score, -np.inf)))
    row, col = divmod(index, cols)
    return ReferencePoint(row=row, col=col, candidates=int(candidates.sum()))


def pixel_of(
    x: float,
    y: float,
    transform: Sequence[float],
    *,
    shape: tuple[int, int],
    crs: str | None = None,
) -> tuple[int, int]:
    """Pixel (row, col) containing a point.

    Parameters
    ----------
    x, y
        Coordinates of the point: longitude and latitude when ``crs`` is given, else coordinates in
        the grid's own CRS.
    transform
        GDAL geotransform of the grid (6 floats, north-up).
    shape
        (rows, cols) of the grid.
    crs
        WKT or EPSG string of the grid; the point is transformed from lon/lat (EPSG:4326) to it.

    Returns
    -------
    tuple of int
        (row, col).
    """
    if crs is not None:
        grid_crs = CRS.from_user_input(crs)
        if not grid_crs.is_geographic:
            to_grid = Transformer.from_crs("EPSG:4326", grid_crs, always_xy=True)
            x, y = to_grid.transform(x, y)
    x0, dx, _, y0, _, dy = (float(v) for v in transform)
    col = int(np.floor((x - x0) / dx))
    row = int(np.floor((y - y0) / dy))
    if not (0 <= row < shape[0] and 0 <= col < shape[1]):
        raise InsarError(f"point ({x}, {y}) is outside the grid of {shape[0]} x {shape[1]} pixels")
    return row, col


def apply_reference(data: npt.ArrayLike, row: int, col: int, *, radius: int = 0) -> F32:
    """Subtract from each layer the mean over the window of ``radius`` around (row, col).

    Layers where the whole window is NaN become NaN (they cannot be referenced).
    """
    cube = np.asarray(data, dtype=np.float32)
    window = cube[..., max(row - radius, 0) : row + radius + 1, max(col - radius, 0) : col + radius + 1]
    flat = window.reshape(*cube.shape[:-2], -1)
    valid = np.isfinite(flat)
    count = valid.sum(axis=-1)
    offset = np.where(count > 0, np.where(valid, flat, 0).sum(axis=-1) / np.maximum(count, 1), np.nan)
    return np.asarray(cube - offset[..., None, None], dtype=np.float32)


def _coordinates(shape: tuple[int, int]) -> tuple[FloatArray, FloatArray]:
    """Row and column coordinates scaled to [-1, 1] (flattened), for well-conditioned fits."""
    rows, cols = shape
    yy, xx = np.meshgrid(np.linspace(-1.0, 1.0, rows), np.linspace(-1.0, 1.0, cols), indexing="ij")
    return yy.ravel(), xx.ravel()


def _ramp_columns(shape: tuple[int, int], order: int) -> list[FloatArray]:
    if order not in (1, 2):
        raise InsarError(f"ramp order must be 1 (plane) or 2 (quadratic), got {order}")
    yy, xx = _coordinates(shape)
    columns = [np.ones_like(yy), yy, xx]
    if order == 2:
        columns += [yy**2, xx**2, yy * xx]
    return columns


def _fit_layers(
    data: npt.ArrayLike, columns: list[FloatArray], mask: npt.ArrayLike | None
) -> tuple[F32, FloatArray]:
    """Per-layer least squares of the data on pixel-wise columns; returns (residual data, coefficients)."""
    cube = np.asarray(data, dtype=np.float32)
    if cube.ndim != 3:
        raise InsarError("data must be a (n_layer, rows, cols) array")
    n_layer = cube.shape[0]
    flat = cube.reshape(n_layer, -1)
    design = np.stack(columns, axis=1)
    use = np.isfinite(flat) & np.all(np.isfinite(design), axis=1)
    if mask is not None:
        use &= np.asarray(mask, dtype=bool).ravel()
    values = np.where(use, flat, 0.0).astype(np.float64)
    # Pixels play the role of "dates" of the shared batched solver: transpose to (pixel, layer).
    coefficients, _, _ = weighted_least_squares(
        values.T, use.T.astype(np.float64), np.nan_to_num(design, nan=0.0)
    )
    model = coefficients.T @ np.nan_to_num(design, nan=0.0).T
    corrected = (flat - model).reshape(cube.shape).astype(np.float32)
    return corrected, coefficients.T


def deramp(data: npt.ArrayLike, *, mask: npt.ArrayLike | None = None, order: int = 1) -> Deramp:
    """Remove a planar or quadratic ramp from every layer.

    Parameters
    ----------
    data
        (n_layer, rows, cols) interferograms or time-series epochs.
    mask
        (rows, cols) True on the pixels the ramp is fitted to (e.g. coherent, non-deforming).
    order
        1 for ``a + b y + c x``, 2 adds ``y², x², x y``.

    Returns
    -------
    Deramp
        Corrected data (the ramp is removed everywhere) and the coefficients per layer.
    """
    cube = np.asarray(data, dtype=np.float32)
    if cube.ndim != 3:
        raise InsarError("data must be a (n_layer, rows, cols) array")
    corrected, coefficients = _fit_layers(cube, _ramp_columns(cube.shape[1:], order), mask)
    return Deramp(corrected=corrected, coefficients=coefficients.astype(np.float32))


def _trend(cube: F32, dates: npt.ArrayLike) -> FloatArray:
    """Per-pixel linear fit in time of a (n_date, rows, cols) cube, evaluated at the dates."""
    matrix = time_functions(dates).matrix
    flat = cube.reshape(cube.shape[0], -1).astype(np.float64)
    valid = np.isfinite(flat)
    params, _, _ = weighted_least_squares(np.where(valid, flat, 0.0), valid.astype(np.float64), matrix)
    return np.asarray((matrix @ params).reshape(cube.shape))


def phase_elevation(
    data: npt.ArrayLike,
    height: npt.ArrayLike,
    *,
    mask: npt.ArrayLike | None = None,
    with_ramp: bool = False,
    dates: npt.ArrayLike | None = None,
) -> PhaseElevation:
    """Empirical phase-elevation (stratified troposphere) correction, layer by layer.

    Fits ``a + k h`` (plus a planar ramp when ``with_ramp``, since ramps and height trends are
    often correlated) on the masked pixels of each layer and removes ``k h`` (and the ramp); the
    constant is kept, so a referenced stack stays referenced up to ``k`` times the reference height.

    Parameters
    ----------
    data
        (n_layer, rows, cols) interferograms or time-series epochs.
    height
        (rows, cols) terrain height in metres.
    mask
        (rows, cols) True on the pixels used for the fit (coherent, away from deformation).
    with_ramp
        Fit and remove a planar ramp jointly.
    dates
        For a time series (layers are epochs): the dates, so that each pixel's linear trend is
        removed before the fit. Deformation that happens to correlate with height (or with
        position, for the ramp) then does not leak into the correction; the layers' own
        tropospheric signal is mostly random in time and survives the detrending.

    Returns
    -------
    PhaseElevation
        Corrected data and the slope per layer.
    """
    cube = np.asarray(data, dtype=np.float32)
    if cube.ndim != 3:
        raise InsarError("data must be a (n_layer, rows, cols) array")
    h = np.asarray(height, dtype=np.float64)
    if h.shape != cube.shape[1:]:
        raise InsarError(f"height shape {h.shape} does not match the data {cube.shape[1:]}")
    flat_h = h.ravel()
    centre = np.nanmean(flat_h)
    columns = [np.ones_like(flat_h), flat_h - centre]
    if with_ramp:
        columns += _ramp_columns(cube.shape[1:], 1)[1:]
    target = cube
    if dates is not None:
        target = np.asarray(
            cube - _trend(cube, dates),
            dtype=np.float32,
        )
    _, coefficients = _fit_layers(target, columns, mask)
    trend = np.stack(columns[1:], axis=1) @ coefficients[:, 1:].T
    corrected = cube - trend.T.reshape(cube.shape)
    return PhaseElevation(corrected=corrected.astype(np.float32), slope=coefficients[:, 1].astype(np.float32))


def estimate_dem_error(
    timeseries: npt.ArrayLike,
    dates: npt.ArrayLike,
    perpendicular_baseline: npt.ArrayLike,
    *,
    slant_range: float | npt.ArrayLike,
    incidence_angle: float | npt.ArrayLike,
    seasonal: bool = False,
    steps: Sequence[np.datetime64] = (),
) -> DemError:
    """Estimate the DEM error of each pixel from a displacement time series in mm.

    A DEM error ``dz`` adds ``1000 · B⊥(t) · dz / (R sin θ)`` mm to the displacement of date t
    (MintPy's convention, positive toward the satellite, with ``B⊥`` of each date relative to a
    common reference). It is fitted per pixel jointly with the temporal model (linear, optional
    annual and steps), as Fattahi & Amelung (2013).

    Parameters
    ----------
    timeseries
        (n_date, rows, cols) displacement in mm, NaN where missing.
    dates
        (n_date,) dates.
    perpendicular_baseline
        (n_date,) perpendicular baseline of each date in metres (e.g. from
        :func:`strata.insar.network.date_baselines`).
    slant_range
        Slant range in metres, scalar or (rows, cols).
    incidence_angle
        Incidence angle in degrees, scalar or (rows, cols).
    seasonal, steps
        Temporal model, see :func:`strata.insar.velocity.time_functions`.

    Returns
    -------
    DemError
        DEM error, its uncertainty, and the corrected time series.
    """
    cube = np.asarray(timeseries, dtype=np.float64)
    if cube.ndim != 3:
        raise InsarError("timeseries must be a (n_date, rows, cols) array")
    n_date = cube.shape[0]
    baseline = np.asarray(perpendicular_baseline, dtype=np.float64)
    if baseline.shape != (n_date,):
        raise InsarError(f"perpendicular_baseline needs one value per date ({n_date})")
    spatial = cube.shape[1:]
    scale = 1000.0 / (
        np.broadcast_to(np.asarray(slant_range, dtype=np.float64), spatial)
        * np.sin(np.radians(np.broadcast_to(np.asarray(incidence_angle, dtype=np.float64), spatial)))
    )
    functions = time_functions(dates, seasonal=seasonal, steps=steps)
    design = np.column_stack([functions.matrix, baseline - baseline[0]])
    flat = cube.reshape(n_date, -1)
    valid = np.isfinite(flat)
    params, inverse, _ = weighted_least_squares(np.where(valid, flat, 0.0), valid.astype(np.float64), design)
    coefficient = params[-1]
    residual = np.where(valid, flat - design @ params, 0.0)
    dof = np.maximum(valid.sum(axis=0) - design.shape[1], 1)
    sigma2 = (residual**2).sum(axis=0) / dof
    coefficient_std = np.sqrt(np.maximum(inverse[:, -1, -1] * sigma2, 0.0))
    term = np.outer(baseline - baseline[0], coefficient)
    corrected = (flat - term).reshape(cube.shape)
    return DemError(
        dem_error=(coefficient.reshape(spatial) / scale).astype(np.float32),
        corrected=corrected.astype(np.float32),
        dem_error_std=(coefficient_std.reshape(spatial) / scale).astype(np.float32),
    )
