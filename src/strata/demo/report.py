"""The demo's report: one HTML page of figures and tables, every number computed in the run.

For each processed stack: the velocity over a shaded-relief basemap (the stack's DEM), its
uncertainty, the network with its gaps, time series at three points with 1-sigma error bars and, for
the simulated case, the truth; then the quality figures (velocity RMSE against truth, loop-closure
statistics, unwrapping errors fixed against those injected), time per step and peak memory.
"""

from __future__ import annotations

import html
import shutil
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import rasterio
import xarray as xr
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LightSource
from matplotlib.figure import Figure

from strata.insar.plots import plot_timeseries

if TYPE_CHECKING:
    from strata.demo import StackCase

__all__ = ["quality", "write_report"]


def _read(path: Path) -> tuple[npt.NDArray[np.float64], tuple[float, ...]]:
    with rasterio.open(path) as src:
        return src.read(1).astype(np.float64), tuple(src.transform.to_gdal())


def _extent(transform: Sequence[float], shape: tuple[int, int]) -> tuple[float, float, float, float]:
    x0, dx, _, y0, _, dy = transform
    return (x0, x0 + dx * shape[1], y0 + dy * shape[0], y0)


def _map(
    path: Path,
    values: npt.NDArray[np.float64],
    transform: Sequence[float],
    *,
    relief: npt.NDArray[np.float64] | None,
    title: str,
    label: str,
    cmap: str,
    symmetric: bool,
    points: Sequence[tuple[str, float, float]] = (),
) -> Path:
    """A map of ``values`` over a hillshade of ``relief`` (when given), with a colour bar."""
    extent = _extent(transform, values.shape)
    finite = values[np.isfinite(values)]
    fig = Figure(figsize=(7.5, 6.2))
    ax = fig.add_subplot()
    if relief is not None and np.isfinite(relief).any():
        filled = np.where(np.isfinite(relief), relief, float(np.nanmean(relief)))
        shade = LightSource(azdeg=315, altdeg=45).hillshade(filled)
        ax.imshow(shade, cmap="gray", extent=extent, interpolation="bilinear", vmin=0, vmax=1)
    if symmetric:
        limit = float(np.percentile(np.abs(finite), 99)) if finite.size else 1.0
        vmin, vmax = -limit, limit
    else:
        vmin, vmax = (
            (float(np.percentile(finite, 1)), float(np.percentile(finite, 99))) if finite.size else (0, 1)
        )
    image = ax.imshow(
        values, cmap=cmap, vmin=vmin, vmax=vmax, extent=extent, alpha=0.75, interpolation="nearest"
    )
    fig.colorbar(image, ax=ax, shrink=0.85, extend="both").set_label(label)
    for name, lon, lat in points:
        ax.plot(lon, lat, marker="^", color="black", markerfacecolor="yellow", markersize=9)
        right = lon > extent[0] + 0.75 * (extent[1] - extent[0])  # label leftwards near the right edge
        ax.annotate(
            name,
            (lon, lat),
            textcoords="offset points",
            xytext=(-6, 6) if right else (6, 6),
            ha="right" if right else "left",
            fontsize=9,
            weight="bold",
        )
    ax.set_title(title)
    ax.set_xlabel("longitude (°)" if abs(transform[1]) < 1 else "easting (m)")
    ax.set_ylabel("latitude (°)" if abs(transform[1]) < 1 else "northing (m)")
    fig.tight_layout()
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=110)
    return path


def _three_points(
    velocity: npt.NDArray[np.float64], coherence: npt.NDArray[np.float64], ref: tuple[int, int]
) -> list[tuple[str, tuple[int, int]]]:
    """Fastest-moving pixel, a pixel half-way up its velocity, and the reference point.

    The first two are taken among the pixels of high temporal coherence (top decile), so the
    points show the signal rather than the noisiest pixel of the scene.
    """
    finite = np.isfinite(velocity) & np.isfinite(coherence)
    trusted = finite & (coherence >= np.percentile(coherence[finite], 90))
    speed = np.where(trusted, -velocity, -np.inf)
    fastest = np.unravel_index(int(np.argmax(speed)), velocity.shape)
    half = velocity[fastest] / 2.0
    rows, cols = np.nonzero(trusted & (np.abs(velocity - half) < max(abs(half) * 0.05, 0.5)))
    if rows.size:
        dist = (rows - fastest[0]) ** 2 + (cols - fastest[1]) ** 2
        k = int(np.argmin(dist))
        middle = (int(rows[k]), int(cols[k]))
    else:
        middle = (velocity.shape[0] // 2, velocity.shape[1] // 2)
    return [
        ("A (fastest)", (int(fastest[0]), int(fastest[1]))),
        ("B (bowl flank)", middle),
        ("R (reference)", ref),
    ]


def quality(case: StackCase) -> dict[str, Any]:
    """Accuracy figures of a simulated case against its truth (empty for a real stack).

    Velocity RMSE over the pixels kept by the mask, after referencing the truth to the same
    reference pixel; unwrapping errors fixed: injected error pixels whose estimated ambiguity (the
    ``cycles`` removed by the closure correction) equals the injected one.
    """
    sim = case.simulation
    if sim is None:
        return {}
    out = case.output_dir
    velocity, _ = _read(out / "velocity.tif")
    mask, _ = _read(out / "mask.tif")
    row, col = case.summary["reference"]["row"], case.summary["reference"]["col"]
    truth = np.asarray(sim.velocity.values, dtype=np.float64)
    truth = truth - truth[row, col]
    keep = (mask > 0) & np.isfinite(velocity)
    error = velocity[keep] - truth[keep]
    coherent = keep & sim.coherent_mask()
    figures: dict[str, Any] = {
        "velocity_rmse_mm_yr": float(np.sqrt(np.mean(error**2))),
        "velocity_rmse_coherent_mm_yr": float(np.sqrt(np.mean((velocity[coherent] - truth[coherent]) ** 2))),
        "coherent_pixels": int(coherent.sum()),
        "velocity_bias_mm_yr": float(np.mean(error)),
        "velocity_p95_abs_error_mm_yr": float(np.percentile(np.abs(error), 95)),
        "pixels_compared": int(keep.sum()),
        "truth_velocity_range_mm_yr": [float(np.nanmin(truth)), float(np.nanmax(truth))],
    }
    corrections = out / "unwrapping_corrections.nc"
    injected = np.asarray(sim.unwrapping_errors.values)
    figures["unwrapping_errors_injected_pixels"] = int(np.count_nonzero(injected))
    figures["interferograms_with_injected_errors"] = int(len(sim.error_pairs))
    if corrections.exists() and injected.any():
        with xr.open_dataset(corrections) as ds:
            labels = ds["pair"].values.tolist()
            cycles = ds["cycles"].values
        order = [labels.index(p) for p in sim.stack["pair"].values.tolist() if p in labels]
        if len(order) == injected.shape[0]:
            cycles = cycles[order]
            affected = injected != 0
            fixed = affected & (cycles == injected)
            figures["unwrapping_errors_fixed_share"] = float(fixed.sum() / affected.sum())
            figures["false_corrections"] = int(np.count_nonzero((cycles != 0) & ~affected))
    return figures


def _table(rows: Sequence[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def _case_section(case: StackCase, folder: Path) -> str:
    out = case.output_dir
    velocity, transform = _read(out / "velocity.tif")
    std, _ = _read(out / "velocity_std.tif")
    relief = None
    if case.simulation is not None:
        relief = np.asarray(case.simulation.dem.values, dtype=np.float64)
    ref = (int(case.summary["reference"]["row"]), int(case.summary["reference"]["col"]))
    temporal_coherence, _ = _read(out / "temporal_coherence.tif")
    points = _three_points(velocity, temporal_coherence, ref)
    x0, dx, _, y0, _, dy = transform
    lonlat = [(name, x0 + (c + 0.5) * dx, y0 + (r + 0.5) * dy) for name, (r, c) in points]
    name = case.name
    _map(
        folder / f"{name}_velocity.png",
        velocity,
        transform,
        relief=relief,
        title=f"{case.title}: LOS velocity",
        label="LOS velocity (mm/yr), positive toward the satellite",
        cmap="RdBu",
        symmetric=True,
        points=lonlat,
    )
    _map(
        folder / f"{name}_velocity_std.png",
        std,
        transform,
        relief=relief,
        title="Velocity uncertainty (1σ)",
        label="velocity standard deviation (mm/yr)",
        cmap="magma_r",
        symmetric=False,
    )
    shutil.copyfile(out / "network.png", folder / f"{name}_network.png")
    with xr.open_dataset(out / "timeseries.nc") as ts:
        dates = ts["time"].values
        series = np.stack([ts["displacement"].values[:, r, c] for _, (r, c) in points])
        errors = np.stack([ts["displacement_std"].values[:, r, c] for _, (r, c) in points])
    labels = [p[0] for p in points]
    if case.simulation is not None:
        truth = np.asarray(case.simulation.displacement.values, dtype=np.float64)
        truth_series = np.stack([truth[:, r, c] - truth[:, ref[0], ref[1]] for _, (r, c) in points])
        series = np.concatenate([series, truth_series])
        errors = np.concatenate([errors, np.zeros_like(truth_series)])
        labels += [f"{label} truth" for label in labels]
    plot_timeseries(
        folder / f"{name}_timeseries.png",
        dates,
        series,
        errors,
        labels=labels,
        title=f"{case.title}: time series (1σ error bars)",
    )
    summary = case.summary
    closure = summary.get("closure", {})
    network = summary.get("network", {})
    velocity_info = summary.get("velocity", {})
    rows: list[tuple[str, str]] = [
        (
            "stack",
            f"{case.pairs} interferograms, {network.get('dates')} dates, "
            f"{velocity.shape[0]}×{velocity.shape[1]} px",
        ),
        ("network gaps", ", ".join(f"{a} → {b}" for a, b in network.get("gaps", [])) or "none"),
        (
            "dates imposed by the NSBAS model",
            ", ".join(summary.get("inversion", {}).get("model_imposed_dates", [])) or "none",
        ),
        (
            "velocity percentiles (mm/yr)",
            ", ".join(f"p{k}: {v:.1f}" for k, v in velocity_info.get("percentiles", {}).items()),
        ),
        ("median velocity uncertainty (mm/yr)", f"{velocity_info.get('median_std', float('nan')):.2f}"),
        (
            "loop-closure misclosure RMS before → after (rad)",
            f"{closure.get('misclosure_rms_before_rad', float('nan')):.3f} → "
            f"{closure.get('misclosure_rms_after_rad', float('nan')):.3f}",
        ),
        ("unwrapping errors fixed (pixel·interferograms)", f"{closure.get('unwrapping_errors_fixed', 0):,}"),
        (
            "inversion speed (pixels/s)",
            f"{summary.get('inversion', {}).get('pixels_per_second', float('nan')):,.0f}",
        ),
        ("job", f"{case.job_id} in {case.job_seconds:.1f} s"),
        ("catalog products published", ", ".join(case.products) or "none"),
    ]
    rows += [(f"  workflow step: {k}", f"{v:.1f} s") for k, v in summary.get("steps_seconds", {}).items()]
    figures = quality(case)
    if figures:
        rows += [
            (
                "velocity RMSE against truth (mm/yr)",
                f"{figures['velocity_rmse_mm_yr']:.2f} over {figures['pixels_compared']:,} px",
            ),
            (
                "velocity RMSE on coherent pixels (base coherence ≥ 0.5)",
                f"{figures['velocity_rmse_coherent_mm_yr']:.2f} mm/yr over {figures['coherent_pixels']:,} px",
            ),
            (
                "velocity bias / p95 |error| (mm/yr)",
                f"{figures['velocity_bias_mm_yr']:.2f} / {figures['velocity_p95_abs_error_mm_yr']:.2f}",
            ),
            ("true velocity range (mm/yr)", "{:.1f} … {:.1f}".format(*figures["truth_velocity_range_mm_yr"])),
            (
                "unwrapping errors injected",
                f"{figures['unwrapping_errors_injected_pixels']:,} pixel·interferograms in "
                f"{figures['interferograms_with_injected_errors']} interferograms",
            ),
        ]
        if "unwrapping_errors_fixed_share" in figures:
            rows.append(
                (
                    "share of injected errors corrected",
                    f"{100 * figures['unwrapping_errors_fixed_share']:.1f} %",
                )
            )
            rows.append(
                (
                    "corrections where none was injected",
                    f"{figures['false_corrections']:,} pixel·interferograms",
                )
            )
    images = "".join(
        f'<figure><img src="{name}_{kind}.png" alt="{kind}"><figcaption>{caption}</figcaption></figure>'
        for kind, caption in (
            ("velocity", "LOS velocity over shaded relief; A, B, R are the time-series points"),
            ("velocity_std", "velocity uncertainty (propagated, 1σ)"),
            ("network", "interferogram network; red bands are gaps bridged by the NSBAS constraint"),
            ("timeseries", "displacement at A, B, R with 1σ error bars"),
        )
    )
    return (
        f"<section><h2>{html.escape(case.title)}</h2>{_table(rows)}<div class='figs'>{images}</div></section>"
    )


def write_report(
    folder: Path,
    cases: Sequence[StackCase],
    catalog: dict[str, Any],
    steps: dict[str, float],
    peaks: dict[str, float],
    notes: Sequence[str],
) -> Path:
    """Write ``index.html`` and its PNGs into ``folder``; return the page's path."""
    folder.mkdir(parents=True, exist_ok=True)
    sections = "".join(_case_section(case, folder) for case in cases)
    catalog_rows = [
        (k.replace("_", " "), str(v) if not isinstance(v, list) else f"{len(v)}") for k, v in catalog.items()
    ]
    step_rows = [(k, f"{v:.1f} s") for k, v in steps.items()] + [("total", f"{sum(steps.values()):.1f} s")]
    memory_rows = [(k, f"{v:,.0f} MB") for k, v in peaks.items()]
    notes_html = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Strata demo: deformation study</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
th, td {{ border-bottom: 1px solid #ddd; padding: 4px 10px; text-align: left; }}
th {{ font-weight: 600; color: #444; }} .figs {{ display: flex; flex-wrap: wrap; gap: 12px; }}
figure {{ margin: 0; max-width: 580px; }} img {{ max-width: 100%; border: 1px solid #ccc; }}
figcaption {{ font-size: 0.9em; color: #555; }}
</style></head><body>
<h1>Strata — FLATSIM-style deformation study</h1>
<p>Generated {datetime.now(UTC):%Y-%m-%d %H:%M UTC} by <code>make demo</code>.
Every figure on this page was computed in this run:
catalog ingest → stack selection from the catalog → NSBAS time series as a work plan on a local Dask cluster →
products back in the catalog. Browse them with <code>strata serve</code>.</p>
<ul>{notes_html}</ul>
<h2>Catalog</h2>{_table(catalog_rows)}
{sections}
<h2>Time per step</h2>{_table(step_rows)}
<h2>Peak memory (resident set)</h2>{_table(memory_rows)}
</body></html>
"""
    path = folder / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
