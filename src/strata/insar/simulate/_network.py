"""Acquisition dates, perpendicular baselines and the small-baseline network of the simulator."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from strata.insar.errors import NetworkError
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

    Returns an (n_pairs, 2) array, sorted by reference then secondary date.
    """
    cuts = [np.datetime64(d, "D") for d in config.disconnect_after]
    pairs: list[tuple[int, int]] = []
    for i in range(dates.size):
        for j in range(i + 1, min(i + 1 + config.n_nearest, dates.size)):
            span = float((dates[j] - dates[i]).astype("timedelta64[D]").astype(np.int64))
            if config.max_temporal_baseline_days is not None and span > config.max_temporal_baseline_days:
                continue
            bperp = abs(baselines[j] - baselines[i])
            if (
                config.max_perpendicular_baseline_m is not None
                and bperp > config.max_perpendicular_baseline_m
            ):
                continue
            if any(dates[i] <= cut < dates[j] for cut in cuts):
                continue
            pairs.append((i, j))
    if not pairs:
        raise NetworkError("the network settings leave no interferogram")
    return np.asarray(pairs, dtype=np.intp)


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
