"""Velocity: fit of a temporal model (linear, optional annual sin/cos and steps) to time series.

Public functions
----------------
``decimal_years(dates, origin=None)``
    Years elapsed since ``origin`` (default: the first date), 365.25-day years.
``time_functions(dates, *, seasonal=False, steps=(), origin=None) -> TimeFunctions``
    The design matrix of the temporal model, shared with the NSBAS inversion. Columns, in order:
    ``velocity`` (t in years), ``intercept`` (1), then ``annual_sin``/``annual_cos`` when
    ``seasonal``, then one ``step_YYYYMMDD`` Heaviside column per step date.
``fit_velocity(timeseries, dates, *, seasonal=False, steps=(), timeseries_std=None, model_share=None)``
    Vectorised weighted least squares per pixel; NaN epochs are dropped per pixel, and so are
    epochs imposed by the NSBAS model (``model_share`` >= 0.5). Uncertainty of every parameter
    propagated from the residuals (a posteriori variance factor, MintPy's ``residue`` method) or,
    with ``uncertainty="covariance"``, from ``timeseries_std`` alone.
``bootstrap_velocity(timeseries, dates, *, samples=100, seed=0, ...) -> VelocityBootstrap``
    Standard deviation of the velocity over fits on dates resampled with replacement (seeded), as
    LiCSBAS ``vel_std`` and MintPy ``bootstrap``.

Arrays are ``(n_date, *spatial)``; the outputs keep ``*spatial``. The time-series unit (mm, rad)
carries to the outputs per year.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, NamedTuple

import numpy as np
import numpy.typing as npt

from strata.insar.errors import InsarError

__all__ = [
    "TimeFunctions",
    "VelocityBootstrap",
    "VelocityFit",
    "bootstrap_velocity",
    "decimal_years",
    "fit_velocity",
    "time_functions",
    "weighted_least_squares",
]

IMPOSED = 0.5
"""Epochs whose NSBAS model share is at least this are imposed by the model, not data: dropped."""

FloatArray = npt.NDArray[np.float64]
DAYS_PER_YEAR = 365.25


class TimeFunctions(NamedTuple):
    """Design matrix of a temporal model evaluated at the dates."""

    matrix: FloatArray
    """(n_date, n_param) values of each function at each date."""
    names: tuple[str, ...]
    """Parameter names: ``velocity``, ``intercept``, ``annual_sin``, ``annual_cos``, ``step_YYYYMMDD``."""


class VelocityFit(NamedTuple):
    """Per-pixel fit of the temporal model (``*spatial`` shaped arrays, float32)."""

    velocity: npt.NDArray[np.float32]
    """Linear rate, time-series unit per year."""
    velocity_std: npt.NDArray[np.float32]
    """One-sigma uncertainty of the velocity."""
    parameters: npt.NDArray[np.float32]
    """(n_param, *spatial) every model parameter, in the order of ``names``."""
    parameters_std: npt.NDArray[np.float32]
    """(n_param, *spatial) one-sigma uncertainty of every parameter."""
    names: tuple[str, ...]
    """Parameter names (see :func:`time_functions`)."""
    annual_amplitude: npt.NDArray[np.float32]
    """Amplitude of the annual term (NaN-free zeros when not seasonal)."""
    residual_rms: npt.NDArray[np.float32]
    """Root mean square of the time-series residual to the model."""
    epochs_used: npt.NDArray[np.int32]
    """Number of epochs with data used in the fit."""


class VelocityBootstrap(NamedTuple):
    """Bootstrap statistics of the velocity (``*spatial`` arrays, float32)."""

    velocity_mean: npt.NDArray[np.float32]
    """Mean velocity over the bootstrap samples."""
    velocity_std: npt.NDArray[np.float32]
    """Standard deviation of the velocity over the bootstrap samples."""
    samples: int
    """Number of bootstrap samples drawn."""


def decimal_years(
    dates: npt.ArrayLike,
    origin: np.datetime64 | None = None,
) -> FloatArray:
    """Years (365.25 days) elapsed from ``origin`` (default the first date) to each date."""
    days = np.asarray(dates, dtype="datetime64[s]")
    if days.ndim != 1 or days.size == 0:
        raise InsarError("dates must be a non-empty 1-D array")
    start = days[0] if origin is None else np.asarray(origin, dtype="datetime64[s]")
    seconds = (days - start).astype(np.float64)
    return np.asarray(seconds / (DAYS_PER_YEAR * 86400.0), dtype=np.float64)


def time_functions(
    dates: npt.ArrayLike,
    *,
    seasonal: bool = False,
    steps: Sequence[np.datetime64] = (),
    origin: np.datetime64 | None = None,
) -> TimeFunctions:
    """Design matrix of the temporal model at ``dates``.

    Parameters
    ----------
    dates
        (n_date,) acquisition dates (``datetime64``).
    seasonal
        Add annual ``sin(2 pi t)`` and ``cos(2 pi t)`` columns.
    steps
        Dates of Heaviside steps (0 before, 1 on and after the step date).
    origin
        Time origin of the velocity column (default: the first date).

    Returns
    -------
    TimeFunctions
        ``matrix`` (n_date, n_param) and parameter ``names``.
    """
    t = decimal_years(dates, origin)
    columns = [t, np.ones_like(t)]
    names = ["velocity", "intercept"]
    if seasonal:
        columns += [np.sin(2.0 * np.pi * t), np.cos(2.0 * np.pi * t)]
        names += ["annual_sin", "annual_cos"]
    days = np.asarray(dates, dtype="datetime64[D]")
    for step in steps:
        day = np.asarray(step, dtype="datetime64[D]")
        columns.append((days >= day).astype(np.float64))
        names.append("step_" + str(day).replace("-", ""))
    return TimeFunctions(np.stack(columns, axis=1), tuple(names))


def weighted_least_squares(
    values: FloatArray,
    weights: FloatArray,
    matrix: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Batched weighted least squares ``values ≈ matrix @ params``, one fit per pixel.

    Parameters
    ----------
    values
        (n_date, n_pixel) observations, finite everywhere (put 0 where the weight is 0).
    weights
        (n_date, n_pixel) weights, 0 where a value is missing.
    matrix
        (n_date, n_param) design matrix shared by all pixels.

    Returns
    -------
    tuple
        Parameters (n_param, n_pixel), inverse normal matrices (n_pixel, n_param, n_param) and
        residuals (n_date, n_pixel); pixels with fewer weighted values than parameters get NaN.
    """
    normal = np.einsum("tp,tq,tn->npq", matrix, matrix, weights, optimize=True)
    rhs = np.einsum("tp,tn->np", matrix, weights * values, optimize=True)
    n_param = matrix.shape[1]
    # Singular pixels (too few epochs) are regularised then set to NaN below.
    counts = np.count_nonzero(weights > 0, axis=0)
    singular = counts < n_param
    normal[singular] = np.eye(n_param)
    try:
        inverse = np.linalg.inv(normal)
    except np.linalg.LinAlgError:
        inverse = np.linalg.pinv(normal)
    params = np.einsum("npq,nq->pn", inverse, rhs)
    params[:, singular] = np.nan
    inverse[singular] = np.nan
    residual = values - matrix @ params
    return params, inverse, residual


def _flatten(timeseries: npt.ArrayLike, n_date: int) -> tuple[FloatArray, tuple[int, ...]]:
    data = np.asarray(timeseries, dtype=np.float64)
    if data.ndim < 1 or data.shape[0] != n_date:
        raise InsarError(f"time series has {data.shape[:1]} epochs, the dates {n_date}")
    spatial = data.shape[1:]
    return data.reshape(n_date, -1), spatial


def fit_velocity(
    timeseries: npt.ArrayLike,
    dates: npt.ArrayLike,
    *,
    seasonal: bool = False,
    steps: Sequence[np.datetime64] = (),
    timeseries_std: npt.ArrayLike | None = None,
    uncertainty: Literal["residual", "covariance"] = "residual",
    model_share: npt.ArrayLike | None = None,
) -> VelocityFit:
    """Fit velocity (and optional annual terms and steps) per pixel.

    Parameters
    ----------
    timeseries
        (n_date, *spatial) displacement, NaN where missing.
    dates
        (n_date,) dates of the epochs.
    seasonal, steps
        Temporal model, see :func:`time_functions`. Across a network gap the offset between the
        subsets of an NSBAS series is imposed by the inversion's own temporal model; a step at the
        first date after each gap (:func:`strata.insar.network.connectivity` gives the gaps)
        leaves that offset free, so the velocity and its uncertainty come from the data alone.
    timeseries_std
        Optional (n_date, *spatial) or (n_date,) one-sigma uncertainty per epoch (e.g.
        ``Inversion.timeseries_std``); epochs are weighted by ``1 / std**2``. After a network gap
        the NSBAS std includes the uncertainty of the model-imposed offset, common to the whole
        subset: with a step at the gap, prefer equal weights (leave this ``None``).
    uncertainty
        ``"residual"``: parameter covariance scaled by the a posteriori variance factor of the
        residuals (MintPy ``residue``); ``"covariance"``: propagated from ``timeseries_std`` alone
        (requires it).
    model_share
        Optional (n_date, *spatial) ``Inversion.model_share``: epochs the NSBAS model imposed
        (share >= 0.5, e.g. dates inside a gap) are dropped, since their value is the model's
        prediction and would feed it back into the fit.

    Returns
    -------
    VelocityFit
        Velocity, its uncertainty, all parameters and their uncertainties, residual RMS.
    """
    n_date = np.asarray(dates).shape[0]
    values, spatial = _flatten(timeseries, n_date)
    functions = time_functions(dates, seasonal=seasonal, steps=steps)
    valid = np.isfinite(values)
    if timeseries_std is None:
        if uncertainty == "covariance":
            raise InsarError("uncertainty='covariance' needs timeseries_std")
        weights = valid.astype(np.float64)
    else:
        std = np.broadcast_to(np.asarray(timeseries_std, dtype=np.float64).reshape(n_date, -1), values.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            weights = np.where(valid & np.isfinite(std) & (std > 0), 1.0 / std**2, 0.0)
    if model_share is not None:
        share = np.asarray(model_share, dtype=np.float64).reshape(n_date, -1)
        weights = np.where(share >= IMPOSED, 0.0, weights)
    values = np.where(weights > 0, values, 0.0)
    params, inverse, residual = weighted_least_squares(values, weights, functions.matrix)
    used = np.count_nonzero(weights > 0, axis=0)
    n_param = functions.matrix.shape[1]
    variance = np.einsum("npp->pn", inverse)
    if uncertainty == "residual":
        dof = np.maximum(used - n_param, 1)
        factor = np.sum(weights * residual**2, axis=0) / dof
        variance = variance * factor
    unweighted = np.where(weights > 0, residual, 0.0)
    rms = np.sqrt(np.sum(unweighted**2, axis=0) / np.maximum(used, 1))
    rms[used == 0] = np.nan
    if seasonal:
        amplitude = np.hypot(params[2], params[3])
    else:
        amplitude = np.zeros(params.shape[1])
    std_params = np.sqrt(np.maximum(variance, 0.0))
    return VelocityFit(
        velocity=params[0].reshape(spatial).astype(np.float32),
        velocity_std=std_params[0].reshape(spatial).astype(np.float32),
        parameters=params.reshape((n_param, *spatial)).astype(np.float32),
        parameters_std=std_params.reshape((n_param, *spatial)).astype(np.float32),
        names=functions.names,
        annual_amplitude=amplitude.reshape(spatial).astype(np.float32),
        residual_rms=rms.reshape(spatial).astype(np.float32),
        epochs_used=used.reshape(spatial).astype(np.int32),
    )


def bootstrap_velocity(
    timeseries: npt.ArrayLike,
    dates: npt.ArrayLike,
    *,
    samples: int = 100,
    seed: int = 0,
    seasonal: bool = False,
    steps: Sequence[np.datetime64] = (),
) -> VelocityBootstrap:
    """Velocity uncertainty by bootstrap over the dates (resampled with replacement, seeded).

    Each sample fits the model with each date weighted by how many times it was drawn, which is the
    least-squares fit on the resampled series. Samples that leave a pixel with fewer distinct
    dates than parameters are ignored for that pixel.

    Parameters
    ----------
    timeseries
        (n_date, *spatial) displacement, NaN where missing.
    dates
        (n_date,) dates of the epochs.
    samples
        Number of bootstrap samples.
    seed
        Seed of the random generator.
    seasonal, steps
        Temporal model, see :func:`time_functions`.

    Returns
    -------
    VelocityBootstrap
        Mean and standard deviation of the velocity over the samples.
    """
    if samples < 2:
        raise InsarError("bootstrap needs at least 2 samples")
    n_date = np.asarray(dates).shape[0]
    values, spatial = _flatten(timeseries, n_date)
    matrix = time_functions(dates, seasonal=seasonal, steps=steps).matrix
    valid = np.isfinite(values)
    filled = np.where(valid, values, 0.0)
    rng = np.random.default_rng(seed)
    total = np.zeros(values.shape[1])
    total_sq = np.zeros(values.shape[1])
    count = np.zeros(values.shape[1])
    for _ in range(samples):
        draws = np.bincount(rng.integers(0, n_date, n_date), minlength=n_date).astype(np.float64)
        weights = valid * draws[:, None]
        params, _, _ = weighted_least_squares(filled, weights, matrix)
        velocity = params[0]
        ok = np.isfinite(velocity)
        total[ok] += velocity[ok]
        total_sq[ok] += velocity[ok] ** 2
        count[ok] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
        std = np.sqrt(np.maximum(total_sq / count - mean**2, 0.0) * count / (count - 1))
    return VelocityBootstrap(
        velocity_mean=mean.reshape(spatial).astype(np.float32),
        velocity_std=std.reshape(spatial).astype(np.float32),
        samples=samples,
    )
