"""PNG figures of the InSAR results: velocity map, interferogram network, time series at points.

Figures are drawn with matplotlib's object API on the Agg canvas (no pyplot state), so they can
be made from worker threads and headless machines.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import date2num
from matplotlib.figure import Figure

from strata.insar.io.products import ProductGrid
from strata.insar.network import connectivity, date_baselines, pair_indices

__all__ = ["plot_network", "plot_timeseries", "plot_velocity"]

DPI = 120


def _save(fig: Figure, path: str | Path) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.savefig(target, dpi=DPI)
    return target


def plot_velocity(
    path: str | Path,
    velocity: npt.ArrayLike,
    grid: ProductGrid,
    *,
    reference_pixel: tuple[int, int] | None = None,
    title: str = "LOS velocity",
    units: str = "mm/yr",
    vmax: float | None = None,
) -> Path:
    """Velocity map with a symmetric diverging colour bar (red = away from the satellite).

    ``vmax`` defaults to the 99th percentile of ``|velocity|``; the reference point is marked.
    """
    data = np.asarray(velocity, dtype=np.float64)
    finite = np.abs(data[np.isfinite(data)])
    limit = vmax if vmax is not None else (float(np.percentile(finite, 99)) if finite.size else 1.0)
    limit = limit if limit > 0 else 1.0
    x0, dx, _, y0, _, dy = grid.transform
    extent = (x0, x0 + dx * grid.cols, y0 + dy * grid.rows, y0)
    fig = Figure(figsize=(7, 6))
    ax = fig.add_subplot()
    image = ax.imshow(data, cmap="RdBu", vmin=-limit, vmax=limit, extent=extent, interpolation="nearest")
    colorbar = fig.colorbar(image, ax=ax, shrink=0.85, extend="both")
    colorbar.set_label(f"{title} ({units}), positive toward the satellite")
    if reference_pixel is not None:
        ref_y, ref_x = grid.lat_lon(*reference_pixel)
        ax.plot(
            ref_x, ref_y, marker="s", color="black", markerfacecolor="none", markersize=8, label="reference"
        )
        ax.legend(loc="lower right", fontsize="small")
    ax.set_title(title)
    ax.set_xlabel("x (longitude)" if abs(dx) < 1 else "x (m)")
    ax.set_ylabel("y (latitude)" if abs(dx) < 1 else "y (m)")
    fig.tight_layout()
    return _save(fig, path)


def plot_network(
    path: str | Path,
    reference: npt.ArrayLike,
    secondary: npt.ArrayLike,
    perpendicular_baseline: npt.ArrayLike | None = None,
    *,
    title: str = "Interferogram network",
) -> Path:
    """Network plot: acquisitions at (date, perpendicular baseline), one line per interferogram.

    Gaps (date intervals spanned by no interferogram) are shaded red and listed in the legend.
    """
    ref = np.asarray(reference).astype("datetime64[D]")
    sec = np.asarray(secondary).astype("datetime64[D]")
    index = pair_indices(ref, sec)
    dates = index.dates
    if perpendicular_baseline is None:
        baselines = np.zeros(dates.size)
    else:
        baselines = date_baselines(index.pairs, perpendicular_baseline, dates.size)
    fig = Figure(figsize=(9, 4.5))
    ax = fig.add_subplot()
    for r, s in index.pairs:
        ax.plot(
            [dates[r], dates[s]], [baselines[r], baselines[s]], color="tab:blue", linewidth=0.6, alpha=0.6
        )
    ax.plot(dates, baselines, "o", color="tab:orange", markersize=4, label=f"{dates.size} acquisitions")
    gaps = connectivity(index.pairs, dates).gaps
    for k, (first, second) in enumerate(gaps):
        start, stop = (float(v) for v in date2num(np.array([first, second])))  # type: ignore[no-untyped-call]
        ax.axvspan(start, stop, color="red", alpha=0.2, label=f"gap {first} to {second}" if k < 5 else None)
    ax.set_title(f"{title}: {ref.size} interferograms" + (f", {len(gaps)} gap(s)" if gaps else ""))
    ax.set_xlabel("date")
    ax.set_ylabel("perpendicular baseline (m)" if perpendicular_baseline is not None else "")
    ax.legend(loc="best", fontsize="small")
    fig.autofmt_xdate()
    fig.tight_layout()
    return _save(fig, path)


def plot_timeseries(
    path: str | Path,
    dates: npt.ArrayLike,
    displacement: npt.ArrayLike,
    std: npt.ArrayLike | None = None,
    *,
    labels: Sequence[str] | None = None,
    title: str = "LOS displacement",
    units: str = "mm",
) -> Path:
    """Time series at chosen points with 1-sigma error bars.

    ``displacement`` and ``std`` are (n_points, n_dates); ``labels`` names each point.
    """
    time = np.asarray(dates).astype("datetime64[D]")
    values = np.atleast_2d(np.asarray(displacement, dtype=np.float64))
    errors = None if std is None else np.atleast_2d(np.asarray(std, dtype=np.float64))
    names = list(labels) if labels is not None else [f"point {k + 1}" for k in range(values.shape[0])]
    fig = Figure(figsize=(9, 4.5))
    ax = fig.add_subplot()
    for k, series in enumerate(values):
        ax.errorbar(
            time,
            series,
            yerr=None if errors is None else errors[k],
            fmt="o-",
            markersize=3,
            linewidth=0.8,
            capsize=2,
            label=names[k],
        )
    ax.axhline(0.0, color="grey", linewidth=0.5)
    ax.set_title(title)
    ax.set_xlabel("date")
    ax.set_ylabel(f"displacement ({units}), positive toward the satellite")
    ax.legend(loc="best", fontsize="small")
    fig.autofmt_xdate()
    fig.tight_layout()
    return _save(fig, path)
