"""Acquisition dates, perpendicular baselines and the small-baseline network of the simulator."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from strata.insar.errors import NetworkError
from strata.insar.network import build_network
from strata.insar.simulate._config import AcquisitionConfig, NetworkConfig

__all__ = ["acquisition_dates", "decimal_years", "sequential_pairs", "year_fraction"]


def acquisition_dates(config: AcquisitionConfig) -> npt.NDArray[np.datetime64]:
    """Regular acquisition dates between ``start`` and ``end``, minus the gap periods."""
    days = np.arange(0, (config.end - config.start).days + 1, config.interval_days)
    dates = np.datetime64(config.start, "D") + days.astype("timedelta64[D]")
    keep = np.ones(dates.size, dtype=bool)
    for first, last in config.gaps:
        keep &= ~((dates >= np.datetime64(first, "D")) & (dates <= np.datetime64(last, "D")))
    if keep.sum() < 2:
        raise NetworkError("the acquisition settings leave fewer than two dates")
    return dates[keep]


def sequential_pairs(
    dates: npt.NDArray[np.datetime64], baselines: npt.NDArray[np.float64], config: NetworkConfig
) -> npt.NDArray[np.intp]:
    """Index pairs (reference, secondary) of an n-nearest sequential network with thresholds.

    The thresholds may leave the network disconnected (no spanning pairs are added), and
    ``disconnect_after`` removes every pair across its dates. Returns an (n_pairs, 2) array
    sorted by reference then secondary date.
    """
    pairs = build_network(
        dates,
        perpendicular_baseline=baselines,
        max_temporal_baseline=config.max_temporal_baseline_days,
        max_perpendicular_baseline=config.max_perpendicular_baseline_m,
        n_nearest=config.n_nearest,
        spanning=False,
    )
    keep = np.ones(pairs.shape[0], dtype=bool)
    for cut in config.disconnect_after:
        day = np.datetime64(cut, "D")
        keep &= ~((dates[pairs[:, 0]] <= day) & (dates[pairs[:, 1]] > day))
    if not keep.any():
        raise NetworkError("the network settings leave no interferogram")
    return pairs[keep].astype(np.intp)


def decimal_years(dates: npt.NDArray[np.datetime64]) -> npt.NDArray[np.float64]:
    """Time since the first date in years of 365.25 days."""
    days = (dates - dates[0]).astype("timedelta64[D]").astype(np.float64)
    years: npt.NDArray[np.float64] = days / 365.25
    return years


def year_fraction(dates: npt.NDArray[np.datetime64]) -> npt.NDArray[np.float64]:
    """Absolute time of each date in years of 365.25 days since 1970-01-01 (for seasonal terms)."""
    days = dates.astype("datetime64[D]").astype(np.int64).astype(np.float64)
    years: npt.NDArray[np.float64] = days / 365.25
    return years
