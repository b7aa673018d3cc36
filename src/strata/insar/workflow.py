"""The InSAR time-series workflow: ``run(InsarConfig) -> WorkflowResult``.

Steps, each a kernel of :mod:`strata.insar` applied block by block:

1. open the stack lazily (:func:`strata.insar.io.open_stack`);
2. network: baseline filters, then a statistics pass over the stack (per-interferogram mean
   coherence and coverage, per-pixel mean coherence, coverage and stacked velocity) feeding the
   quality filters and the reference point; a disconnected network gives a ``NetworkGapWarning``
   naming the gap dates, not an error;
3. reference point: given (lon/lat or row/col) or automatic (coherent, complete and stable); its
   phase is removed from every interferogram;
4. per spatial block: loop-closure correction of unwrapping errors, NSBAS inversion (weights from
   coherence) into a displacement time series in mm, kept on disk in a Zarr cube;
5. corrections: phase-elevation troposphere and ramps per epoch (fitted on a regular subgrid of
   coherent, stable pixels), DEM error per pixel, then the series referenced to the reference point;
6. velocity and its uncertainty per block;
7. products (:mod:`strata.insar.io.products`, :mod:`strata.insar.plots`) and ``summary.json``.

Blocks run as Dask tasks — threads of this process by default, or the scheduler the caller passes
(a ``distributed.Client`` or a scheduler name) — and return their results instead of writing
shared state, so the peak memory is a few blocks of all pairs whatever the size of the stack.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import dask.array as da
import numpy as np
import numpy.typing as npt
import xarray as xr
import zarr

from strata.insar._blocks import (
    F32,
    BlockInversion,
    BlockStatistics,
    BlockVelocity,
    ClosureFigures,
    Window,
    block_statistics,
    correct_closures,
    grid_windows,
    in_window,
    interferogram_weights,
    local_std,
    map_blocks,
    ramp_surface,
    read_window,
)
from strata.insar.closure import reference_ambiguity
from strata.insar.config import ConfigError, InsarConfig
from strata.insar.corrections import deramp, estimate_dem_error, phase_elevation, pixel_of, select_reference
from strata.insar.errors import StackError
from strata.insar.inversion import invert_nsbas
from strata.insar.io import open_stack
from strata.insar.io.products import (
    ProductGrid,
    write_cog,
    write_mintpy_timeseries,
    write_mintpy_velocity,
    write_timeseries_netcdf,
)
from strata.insar.network import connectivity, date_baselines, filter_pairs, pair_indices, warn_gaps
from strata.insar.plots import plot_network, plot_timeseries, plot_velocity
from strata.insar.stack import phase_to_mm
from strata.insar.velocity import bootstrap_velocity, fit_velocity, time_functions

__all__ = ["ProgressCallback", "WorkflowResult", "run"]

ProgressCallback = Callable[[str, float], None]
"""Called with the current step name and the overall fraction done (0 to 1)."""

T = TypeVar("T")

MODEL_IMPOSED = 0.5
"""An epoch whose mean model share exceeds this is reported as imposed by the NSBAS model."""
REFERENCE_RADIUS = 2
"""Half-size of the reference window (5 x 5 pixels): its median phase is removed from every
interferogram and its mean corrected series from every time series."""
FIT_SIDE = 500
"""Side of the regular subgrid of pixels on which ramps and phase-elevation are fitted."""
SLANT_RANGE = 875_000.0
"""Slant range (m) used for the DEM error when the stack does not give one (Sentinel-1 IW)."""
INCIDENCE = 39.0
"""Incidence angle (degrees) used when the stack has no ``incidence_angle`` layer."""
SAMPLE_SIDE = 64
"""Side of the regular grid of pixels sampled by the statistics pass to check the reference point's
own unwrapping errors (:func:`strata.insar.closure.reference_ambiguity`)."""


@dataclass(frozen=True)
class WorkflowResult:
    """Outputs of :func:`run`."""

    output_dir: Path
    """The output folder."""
    paths: dict[str, Path]
    """Every product by name (``velocity``, ``timeseries_netcdf``, ``velocity_png``...)."""
    summary: dict[str, Any]
    """The content of ``summary.json``: figures of the run."""


@dataclass
class _Timer:
    steps: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.steps[name] = self.steps.get(name, 0.0) + time.perf_counter() - start


class _Progress:
    """Maps the fraction done of each step onto the overall fraction reported to the callback."""

    SPAN = {
        "statistics": (0.0, 0.15),
        "inversion": (0.15, 0.75),
        "corrections": (0.75, 0.8),
        "velocity": (0.8, 0.9),
        "products": (0.9, 1.0),
    }

    def __init__(self, callback: ProgressCallback | None) -> None:
        self.callback = callback

    def __call__(self, step: str, done: float = 0.0) -> None:
        if self.callback is not None:
            low, high = self.SPAN[step]
            self.callback(step, low + (high - low) * min(max(done, 0.0), 1.0))


# ------------------------------------------------------------------------------------------------
# The run
# ------------------------------------------------------------------------------------------------
class _Run:
    """State of one workflow run; each public-looking method is one step.

    Block tasks are closures over this object; on a distributed cluster it is pickled without
    what only the driver needs (the scheduler itself, the callback, the full-grid maps).
    """

    DRIVER_ONLY = ("scheduler", "progress", "timer", "summary", "maps", "fit_cube", "fit_coherence", "sample")

    def __init__(self, config: InsarConfig, progress: ProgressCallback | None, scheduler: Any) -> None:
        self.config = config
        self.timer = _Timer()
        self.progress = _Progress(progress)
        self.scheduler = scheduler
        self.cores = os.cpu_count() or 1
        self.workers = config.chunking.workers or self.cores
        # Threads of the kernels inside one block task, so that blocks x threads = cores.
        self.kernel_threads = max(1, self.cores // self.workers)
        self.output = Path(config.output)
        self.work = self.output / ".strata-work"
        self.summary: dict[str, Any] = {}
        self.maps: dict[str, F32] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {key: value for key, value in self.__dict__.items() if key not in self.DRIVER_ONLY}

    def blocks(
        self, function: Callable[[Window], T], step: str, windows: Sequence[Window] | None = None
    ) -> list[T]:
        """Run ``function`` over the blocks of the grid, reporting progress under ``step``."""
        return map_blocks(
            function,
            self.windows if windows is None else windows,
            workers=self.workers,
            scheduler=self.scheduler,
            report=lambda fraction: self.progress(step, fraction),
        )

    def gather(self, blocks: Sequence[BlockStatistics | BlockInversion | BlockVelocity]) -> None:
        """Paste the per-block maps into the full-grid maps."""
        for block in blocks:
            for name, values in block.maps.items():
                if name not in self.maps:
                    self.maps[name] = np.full(self.shape, np.nan, dtype=np.float32)
                self.maps[name][block.window] = values

    # -- 1. open ---------------------------------------------------------------------------------
    def open(self) -> None:
        options = self.config.input
        with self.timer("open"):
            self.stack = open_stack(options.path, options.format, chunks=self.config.chunking.chunk_size)
        self.shape = (self.stack.sizes["y"], self.stack.sizes["x"])
        self.windows = grid_windows(self.shape, self.config.chunking.chunk_size)
        self.wavelength = float(self.stack.attrs["wavelength"])

    # -- 2. network ------------------------------------------------------------------------------
    def select_network(self) -> None:
        """Baseline filters, statistics pass, quality filters, connectivity report."""
        all_labels = [str(p) for p in self.stack["pair"].values]
        options = self.config.network
        keep = np.ones(len(all_labels), dtype=bool)
        days = (self.stack["secondary"].values - self.stack["reference"].values) / np.timedelta64(1, "D")
        if options.max_temporal_baseline is not None:
            keep &= days <= options.max_temporal_baseline
        if options.max_perpendicular_baseline is not None and "perpendicular_baseline" in self.stack.coords:
            keep &= np.abs(self.stack["perpendicular_baseline"].values) <= options.max_perpendicular_baseline
        if not keep.any():
            raise StackError("the baseline thresholds leave no interferogram")
        stack = self.stack.isel(pair=np.flatnonzero(keep))
        spans = days[keep].astype(np.float64) / 365.25
        with self.timer("statistics"):
            step = -(-max(self.shape) // SAMPLE_SIDE)
            blocks = self.blocks(lambda w: block_statistics(stack, spans, w, step), "statistics")
            self.gather(blocks)
        valid = np.sum([b.valid_count for b in blocks], axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_coherence = np.where(
                valid > 0, np.sum([b.coherence_sum for b in blocks], axis=0) / valid, 0.0
            )
        coverage = valid / float(self.shape[0] * self.shape[1])
        empty = np.flatnonzero(valid == 0)
        if empty.size:
            names = ", ".join(str(p) for p in stack["pair"].values[empty][:5])
            raise StackError(f"interferograms with no valid pixel: {names}")
        index = pair_indices(stack["reference"].values, stack["secondary"].values)
        quality = filter_pairs(
            index.pairs,
            index.dates.size,
            mean_coherence=mean_coherence,
            coverage=coverage,
            min_coherence=options.min_coherence,
            min_coverage=options.min_coverage,
        )
        self.stack = stack.isel(pair=np.flatnonzero(quality))
        self.sample = np.concatenate([b.sample for b in blocks], axis=1)[quality].astype(np.float32)
        index = pair_indices(self.stack["reference"].values, self.stack["secondary"].values)
        self.dates, self.pairs = index.dates, index.pairs
        self.labels = [str(p) for p in self.stack["pair"].values]
        report = connectivity(self.pairs, self.dates)
        warn_gaps(report)
        # Across a temporal gap the offset between the subsets is the NSBAS model's, not data: the
        # velocity fits get a step at the first date after each gap, which leaves that offset free.
        self.steps = [after for _, after in report.gaps] if report.n_components > 1 else []
        self.summary["network"] = {
            "interferograms_in_stack": len(all_labels),
            "interferograms_used": len(self.labels),
            "dropped": sorted(set(all_labels) - set(self.labels)),
            "dates": int(self.dates.size),
            "first_date": str(self.dates[0]),
            "last_date": str(self.dates[-1]),
            "components": int(report.n_components),
            "gaps": [[str(a), str(b)] for a, b in report.gaps],
            "mean_coherence": float(np.mean(mean_coherence[quality])),
        }

    # -- 3. reference point ----------------------------------------------------------------------
    def reference(self) -> None:
        options = self.config.corrections
        with self.timer("reference"):
            if options.reference_rowcol is not None:
                row, col = options.reference_rowcol
                if not (0 <= row < self.shape[0] and 0 <= col < self.shape[1]):
                    raise ConfigError(f"reference row/col {row}, {col} is outside the {self.shape} grid")
                mode = "given row/col"
            elif options.reference_lonlat is not None:
                row, col = pixel_of(
                    *options.reference_lonlat,
                    self.stack.attrs["transform"],
                    shape=self.shape,
                    crs=self.stack.attrs["crs"] or None,  # radar geometry: no CRS
                )
                mode = "given lon/lat"
            else:
                point = select_reference(
                    self.maps["coherence"],
                    variability=local_std(self.maps["stacked_velocity"]),
                    mask=self.maps["coverage"] >= np.nanquantile(self.maps["coverage"], 0.9),
                )
                row, col, mode = point.row, point.col, "automatic"
            self.ref_pixel = (row, col)
            # An unwrapping error at the reference would move to every other pixel: remove it first.
            median = self._reference_phase(row, col)
            cycles = reference_ambiguity(self.sample - median[:, None], self.pairs)
            self.ref_phase = median - np.float32(2.0 * np.pi) * cycles
        self.summary["reference"] = {
            "row": row,
            "col": col,
            "x": float(self.stack["x"].values[col]),
            "y": float(self.stack["y"].values[row]),
            "mode": mode,
        }

    def _reference_phase(self, row: int, col: int) -> F32:
        """Median phase of each interferogram over the reference window."""
        half = REFERENCE_RADIUS
        self.ref_window = (
            slice(max(row - half, 0), min(row + half + 1, self.shape[0])),
            slice(max(col - half, 0), min(col + half + 1, self.shape[1])),
        )
        phase = read_window(self.stack, ("unwrapped_phase",), self.ref_window)["unwrapped_phase"]
        flat = phase.reshape(phase.shape[0], -1)
        empty = ~np.isfinite(flat).any(axis=1)
        if empty.any():
            names = ", ".join(np.asarray(self.labels)[empty][:5])
            raise StackError(f"the reference point ({row}, {col}) has no data in interferograms {names}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            median: F32 = np.nanmedian(flat, axis=1).astype(np.float32)
        return median

    # -- 4. closure correction and inversion -----------------------------------------------------
    def invert(self) -> None:
        """Closure correction and NSBAS inversion per block; time series to a Zarr cube on disk."""
        n_date = self.dates.size
        size = self.config.chunking.chunk_size
        if self.work.exists():
            shutil.rmtree(self.work)
        self.work.mkdir(parents=True)
        store = zarr.open_group(str(self.work / "cube.zarr"), mode="w")
        cubes = [("timeseries", n_date, "f4"), ("timeseries_std", n_date, "f4"), ("imposed", n_date, "u1")]
        if self.config.closure.enabled:
            cubes.append(("ambiguity", len(self.labels), "i1"))
        for name, layers, dtype in cubes:
            store.create_dataset(name, shape=(layers, *self.shape), chunks=(1, size, size), dtype=dtype)
        self.store = store
        self.fit_rows, self.fit_cols = (
            np.unique(np.linspace(0, n - 1, min(n, FIT_SIDE)).round().astype(np.int64)) for n in self.shape
        )
        options = self.config.inversion
        threshold = self.config.network.pixel_min_coherence
        mm_per_radian = np.float32(abs(phase_to_mm(1.0, self.wavelength)))

        def one(window: Window) -> BlockInversion:
            arrays = read_window(self.stack, ("unwrapped_phase", "coherence"), window)
            phase = arrays["unwrapped_phase"].astype(np.float32)
            coherence = arrays["coherence"].astype(np.float32)
            if threshold > 0:
                phase[~(coherence >= threshold)] = np.nan
            phase -= self.ref_phase[:, None, None]
            weight = interferogram_weights(coherence, options.weighting)
            closure = ClosureFigures(np.zeros(0, np.int8), np.zeros(phase.shape[0], np.int64))
            start = time.perf_counter()
            if self.config.closure.enabled:
                phase, closure = correct_closures(phase, self.pairs, weight, self.kernel_threads)
            middle = time.perf_counter()
            # Inverted in radians (temporal coherence is defined on the phase), then scaled to mm.
            result = invert_nsbas(
                phase,
                self.pairs,
                self.dates,
                weight=weight,
                seasonal=options.functional_model == "seasonal",
                gamma=options.constraint_weight,
                robust=options.robust,
                threads=self.kernel_threads,
            )
            seconds = {"closure": middle - start, "nsbas": time.perf_counter() - middle}
            series = phase_to_mm(result.timeseries, self.wavelength)
            store["timeseries"][:, window[0], window[1]] = series
            store["timeseries_std"][:, window[0], window[1]] = result.timeseries_std * mm_per_radian
            store["imposed"][:, window[0], window[1]] = result.model_share > MODEL_IMPOSED
            if self.config.closure.enabled:
                store["ambiguity"][:, window[0], window[1]] = closure.ambiguity
            share = result.model_share.reshape(n_date, -1)
            finite = np.isfinite(share)
            fit_r, local_r = in_window(self.fit_rows, window[0])
            fit_c, local_c = in_window(self.fit_cols, window[1])
            return BlockInversion(
                window=window,
                maps={
                    "temporal_coherence": result.temporal_coherence,
                    "residual_rms": result.residual_rms * mm_per_radian,
                    "interferograms_used": result.interferograms_used.astype(np.float32),
                    "model_share_max": np.nanmax(np.where(finite, share, 0.0), axis=0)
                    .reshape(result.residual_rms.shape)
                    .astype(np.float32),
                },
                closure=closure,
                share_sum=np.where(finite, share, 0.0).sum(axis=1, dtype=np.float64),
                share_count=finite.sum(axis=1).astype(np.float64),
                fit_rows=fit_r,
                fit_cols=fit_c,
                fit_values=series[:, local_r][:, :, local_c],
                fit_coherence=result.temporal_coherence[local_r][:, local_c],
                seconds=seconds,
            )

        with self.timer("inversion"):
            blocks = self.blocks(one, "inversion")
        self.gather(blocks)
        self.fit_cube = np.full((n_date, self.fit_rows.size, self.fit_cols.size), np.nan, dtype=np.float32)
        self.fit_coherence = np.full((self.fit_rows.size, self.fit_cols.size), np.nan, dtype=np.float32)
        for block in blocks:
            self.fit_cube[:, block.fit_rows[:, None], block.fit_cols[None, :]] = block.fit_values
            self.fit_coherence[block.fit_rows[:, None], block.fit_cols[None, :]] = block.fit_coherence
        self._summarise_inversion(blocks)

    def _summarise_inversion(self, blocks: list[BlockInversion]) -> None:
        fixed = np.sum([b.closure.pixels_fixed for b in blocks], axis=0)
        count = sum(b.closure.count for b in blocks)
        share = np.sum([b.share_sum for b in blocks], axis=0) / np.maximum(
            np.sum([b.share_count for b in blocks], axis=0), 1
        )
        self.model_share = share.astype(np.float32)
        pixels = self.shape[0] * self.shape[1]

        def rms(total: float) -> float | None:
            return float(np.sqrt(total / count)) if count else None

        self.summary["closure"] = {
            "enabled": self.config.closure.enabled,
            "misclosure_rms_before_rad": rms(sum(b.closure.sq_before for b in blocks)),
            "misclosure_rms_after_rad": rms(sum(b.closure.sq_after for b in blocks)),
            "nonzero_integer_closures_before": int(sum(b.closure.nonzero_before for b in blocks)),
            "nonzero_integer_closures_after": int(sum(b.closure.nonzero_after for b in blocks)),
            "unwrapping_errors_fixed": int(fixed.sum()),
            "interferograms_corrected": int(np.count_nonzero(fixed)),
            "pixels_fixed_per_interferogram": {
                label: int(n) for label, n in zip(self.labels, fixed, strict=True) if n
            },
        }
        self.summary["inversion"] = {
            "method": "nsbas",
            "pixels": pixels,
            "pixels_per_second": pixels / max(self.timer.steps["inversion"], 1e-9),
            "block_seconds": {  # wall time of each step summed over the blocks (workers run concurrently)
                step: float(sum(b.seconds[step] for b in blocks)) for step in ("closure", "nsbas")
            },
            "model_share_per_date": {str(d): float(s) for d, s in zip(self.dates, share, strict=True)},
            "model_imposed_dates": [
                str(d) for d, s in zip(self.dates, share, strict=True) if s > MODEL_IMPOSED
            ],
        }

    # -- 5. corrections --------------------------------------------------------------------------
    def fit_corrections(self) -> None:
        """Per-epoch troposphere slope and ramp, fitted on the coherent, stable pixels of the subgrid."""
        options = self.config.corrections
        n_date = self.dates.size
        self.tropo_slope = np.zeros(n_date, dtype=np.float32)
        self.ramp_coefficients = np.zeros((n_date, 0), dtype=np.float32)
        self.height: F32 | None = None
        self.progress("corrections", 0.0)
        with self.timer("corrections"):
            if options.troposphere or options.dem_error:
                if "height" not in self.stack:
                    raise ConfigError(
                        "troposphere and DEM-error corrections need heights; the stack has none"
                    )
                # on this process's threads, whatever the default scheduler (a client included)
                height = self.stack["height"].compute(scheduler="threads")
                self.height = np.asarray(height.values, dtype=np.float32)
            if options.troposphere or options.deramp != "none":
                self._fit_spatial(options.troposphere, options.deramp)
        self.progress("corrections", 1.0)
        if options.dem_error:
            baselines = (
                self.stack["perpendicular_baseline"].values
                if "perpendicular_baseline" in self.stack.coords
                else np.zeros(len(self.labels))
            )
            self.date_baseline = date_baselines(self.pairs, baselines, self.dates.size)
        self.ref_series = np.zeros(n_date, dtype=np.float32)
        series = self._corrected(self.ref_window)[0].reshape(n_date, -1)
        if not np.isfinite(series).any(axis=1).all():
            raise StackError(f"the reference point {self.ref_pixel} has no time series (not inverted)")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            self.ref_series = np.nanmean(series, axis=1).astype(np.float32)

    def _fit_spatial(self, troposphere: bool, ramp: str) -> None:
        """Troposphere slopes and ramps per epoch, fitted to the time-series residual from the temporal model.

        Fitting the residual (subgrid series minus their own linear [+ seasonal] fit) keeps
        deformation that is steady in time — a velocity gradient, a bowl correlated with the
        relief — out of the per-epoch fits, which then only see what changes from date to date
        (atmosphere, orbits).
        """
        seasonal = self.config.velocity.model == "seasonal"
        trend = fit_velocity(self.fit_cube, self.dates, seasonal=seasonal, steps=self.steps)
        functions = time_functions(self.dates, seasonal=seasonal, steps=self.steps).matrix
        residual = self.fit_cube - np.einsum("dp,pyx->dyx", functions, trend.parameters).astype(np.float32)
        mask = self.fit_coherence >= self.config.inversion.min_temporal_coherence
        if not mask.any():
            raise StackError("no coherent pixel to fit the troposphere or the ramps on")
        if troposphere and self.height is not None:
            height = self.height[self.fit_rows[:, None], self.fit_cols[None, :]]
            fit = phase_elevation(residual, height, mask=mask)
            self.tropo_slope = np.nan_to_num(fit.slope - fit.slope[0])  # the first date stays the origin
            residual = fit.corrected
        if ramp != "none":
            ramps = deramp(residual, mask=mask, order=1 if ramp == "linear" else 2)
            self.ramp_coefficients = np.nan_to_num(ramps.coefficients - ramps.coefficients[:1])

    def _corrected(self, window: Window) -> tuple[F32, npt.NDArray[np.bool_], F32 | None]:
        """Corrected, referenced time series of a window, its model-imposed epochs and its DEM error."""
        rows, cols = window
        series = np.asarray(self.store["timeseries"][:, rows, cols], dtype=np.float32)
        imposed = np.asarray(self.store["imposed"][:, rows, cols], dtype=bool)
        if self.height is not None and np.any(self.tropo_slope):
            series -= self.tropo_slope[:, None, None] * self.height[rows, cols][None]
        if self.ramp_coefficients.size:
            series -= ramp_surface(self.ramp_coefficients, window, self.shape)
        dem_error = None
        if self.config.corrections.dem_error:
            incidence = (
                np.asarray(
                    read_window(self.stack, ("incidence_angle",), window)["incidence_angle"], dtype=np.float64
                )
                if "incidence_angle" in self.stack
                else INCIDENCE
            )
            estimate = estimate_dem_error(
                series,
                self.dates,
                self.date_baseline,
                slant_range=float(self.stack.attrs.get("slant_range", SLANT_RANGE)),
                incidence_angle=incidence,
                seasonal=self.config.velocity.model == "seasonal",
            )
            series, dem_error = estimate.corrected, estimate.dem_error
        return series - self.ref_series[:, None, None], imposed, dem_error

    # -- 6. velocity -----------------------------------------------------------------------------
    def velocity(self) -> None:
        options = self.config.velocity
        seasonal = options.model == "seasonal"

        def one(window: Window) -> BlockVelocity:
            series, imposed, dem_error = self._corrected(window)
            self.store["timeseries"][:, window[0], window[1]] = series
            # Epochs imposed by the NSBAS model carry no information on the velocity: weight 0.
            weight_std = np.where(imposed, np.inf, 1.0).astype(np.float32)
            fit = fit_velocity(
                series, self.dates, seasonal=seasonal, steps=self.steps, timeseries_std=weight_std
            )
            maps = {"velocity": fit.velocity, "velocity_std": fit.velocity_std}
            if seasonal:
                maps["annual_amplitude"] = fit.annual_amplitude
            if options.bootstrap:
                boot = bootstrap_velocity(
                    series, self.dates, samples=options.bootstrap, seasonal=seasonal, steps=self.steps
                )
                maps["velocity_std_bootstrap"] = boot.velocity_std
            if dem_error is not None:
                maps["dem_error"] = dem_error
            return BlockVelocity(window=window, maps=maps)

        with self.timer("velocity"):
            self.gather(self.blocks(one, "velocity"))
        coherent = self.maps["temporal_coherence"] >= self.config.inversion.min_temporal_coherence
        self.mask = coherent & np.isfinite(self.maps["velocity"])
        for name in ("velocity", "velocity_std", "velocity_std_bootstrap", "annual_amplitude"):
            if name in self.maps:
                self.maps[name] = np.where(self.mask, self.maps[name], np.nan).astype(np.float32)
        velocity = self.maps["velocity"][self.mask]
        self.summary["velocity"] = {
            "model": options.model,
            "steps": [str(step) for step in self.steps],
            "unit": "mm/yr",
            "masked_pixels": int(self.mask.size - self.mask.sum()),
            "coherent_share": float(self.mask.mean()),
            "percentiles": {
                str(q): float(np.percentile(velocity, q)) if velocity.size else None
                for q in (1, 5, 50, 95, 99)
            },
            "median_std": float(np.nanmedian(self.maps["velocity_std"][self.mask]))
            if velocity.size
            else None,
        }

    # -- 7. products -----------------------------------------------------------------------------
    def write_products(self) -> dict[str, Path]:
        """Rasters, cubes and MintPy files; each is written under a temporary name, then renamed."""
        out = self.output
        grid = ProductGrid.from_stack(self.stack)
        ref = self.ref_pixel
        maps = self.maps
        std_name = "velocity_std_bootstrap" if "velocity_std_bootstrap" in maps else "velocity_std"
        rasters = [
            ("velocity", maps["velocity"], "mm/yr", "LOS velocity, positive toward the satellite"),
            ("velocity_std", maps[std_name], "mm/yr", f"1-sigma velocity uncertainty ({std_name})"),
            ("temporal_coherence", maps["temporal_coherence"], "1", "temporal coherence of the inversion"),
            ("mask", self.mask.astype(np.float32), "1", "1 where the velocity is reliable"),
            ("residual_rms", maps["residual_rms"], "mm", "RMS of the interferogram residuals"),
        ]
        if "dem_error" in maps:
            rasters.append(("dem_error", maps["dem_error"], "m", "DEM error (true minus DEM height)"))
        if "annual_amplitude" in maps:
            rasters.append(("annual_amplitude", maps["annual_amplitude"], "mm", "annual amplitude"))
        paths = {
            name: write_cog(out / f"{name}.tif", values, grid, units=units, description=text)
            for name, values, units, text in rasters
        }
        self.progress("products", 0.2)
        series = da.from_zarr(self.store["timeseries"])
        std = da.from_zarr(self.store["timeseries_std"])
        attrs = {"model_share": self.model_share, "source_format": self.config.input.format}
        paths["timeseries_netcdf"] = write_timeseries_netcdf(
            out / "timeseries.nc", series, self.dates, grid, std=std, reference_pixel=ref, attrs=attrs
        )
        self.progress("products", 0.5)
        baseline = getattr(self, "date_baseline", None)
        paths["timeseries_mintpy"] = write_mintpy_timeseries(
            out / "timeseries.h5",
            series,
            self.dates,
            grid,
            wavelength=self.wavelength,
            reference_pixel=ref,
            perpendicular_baseline=None if baseline is None else list(baseline),
        )
        paths["velocity_mintpy"] = write_mintpy_velocity(
            out / "velocity.h5",
            maps["velocity"],
            maps[std_name],
            self.dates,
            grid,
            wavelength=self.wavelength,
            reference_pixel=ref,
        )
        if "ambiguity" in self.store:
            paths["unwrapping_corrections"] = self._write_ambiguity(out / "unwrapping_corrections.nc")
        self.progress("products", 0.7)
        paths.update(self._figures(grid))
        return paths

    def _points(self) -> list[tuple[str, tuple[int, int]]]:
        """Points of the time-series figure: the configured ones, else the reference and the fastest pixel."""
        transform, crs = self.stack.attrs["transform"], self.stack.attrs["crs"] or None
        if self.config.points:
            return [
                (f"{lon:.4f}, {lat:.4f}", pixel_of(lon, lat, transform, shape=self.shape, crs=crs))
                for lon, lat in self.config.points
            ]
        points = [("reference", self.ref_pixel)]
        speed = np.abs(np.nan_to_num(self.maps["velocity"], nan=0.0))
        if speed.any():
            row, col = np.unravel_index(int(np.argmax(speed)), self.shape)
            points.append(("fastest", (int(row), int(col))))
        return points

    def _figures(self, grid: ProductGrid) -> dict[str, Path]:
        out = self.output
        baseline = (
            self.stack["perpendicular_baseline"].values
            if "perpendicular_baseline" in self.stack.coords
            else None
        )
        points = self._points()
        rows = np.array([p[1][0] for p in points])
        cols = np.array([p[1][1] for p in points])
        series = np.stack([self.store["timeseries"][:, r, c] for r, c in zip(rows, cols, strict=True)])
        std = np.stack([self.store["timeseries_std"][:, r, c] for r, c in zip(rows, cols, strict=True)])
        return {
            "velocity_png": plot_velocity(
                out / "velocity.png", self.maps["velocity"], grid, reference_pixel=self.ref_pixel
            ),
            "network_png": plot_network(
                out / "network.png", self.stack["reference"].values, self.stack["secondary"].values, baseline
            ),
            "timeseries_png": plot_timeseries(
                out / "timeseries.png",
                self.dates,
                series,
                std,
                labels=[f"{name} (row {r}, col {c})" for name, (r, c) in points],
            ),
        }

    def _write_ambiguity(self, path: Path) -> Path:
        """The 2-pi cycles removed per interferogram and pixel (int8, compressed NetCDF)."""
        cycles = da.from_zarr(self.store["ambiguity"])
        ds = xr.Dataset(
            {
                "cycles": (
                    ("pair", "y", "x"),
                    cycles,
                    {"long_name": "2-pi cycles removed from the unwrapped phase"},
                )
            },
            coords={"pair": self.labels, "y": self.stack["y"].values, "x": self.stack["x"].values},
        )
        tmp = path.with_name(f".{path.name}.tmp")
        encoding = {"cycles": {"zlib": True, "complevel": 4}}
        # written by this process's threads, whatever the default scheduler (a client included)
        ds.to_netcdf(tmp, engine="netcdf4", encoding=encoding, compute=False).compute(scheduler="threads")
        tmp.replace(path)
        return path

    def finish(self, paths: dict[str, Path]) -> WorkflowResult:
        self.summary["steps_seconds"] = dict(self.timer.steps)
        self.summary["workers"] = self.workers
        self.summary["grid"] = {"rows": self.shape[0], "cols": self.shape[1], "crs": self.stack.attrs["crs"]}
        paths["summary"] = self.output / "summary.json"
        paths["summary"].write_text(json.dumps(self.summary, indent=2), encoding="utf-8")
        shutil.rmtree(self.work, ignore_errors=True)
        self.progress("products", 1.0)
        return WorkflowResult(output_dir=self.output, paths=paths, summary=self.summary)


def run(
    config: InsarConfig,
    *,
    progress: ProgressCallback | None = None,
    scheduler: Any = None,
) -> WorkflowResult:
    """Invert an interferogram stack into displacement time series and velocity, and write the products.

    Parameters
    ----------
    config
        What to read, how to invert and correct, where to write.
    progress
        Called with the step name and the overall fraction done (0 to 1) as blocks complete.
    scheduler
        Dask scheduler of the block tasks: ``None`` for threads of this process (as many as
        ``config.chunking.workers``, default all cores), a scheduler name, or a
        ``distributed.Client`` (its workers must see the output folder).

    Returns
    -------
    WorkflowResult
        Paths of the products and the summary figures.

    Raises
    ------
    strata.errors.StrataError
        Bad input (the message names the file or the option); nothing is left half-written in
        the output folder's products.

    Warns
    -----
    NetworkGapWarning
        When the network is disconnected; NSBAS ties the subsets through its temporal model.
    """
    state = _Run(config, progress, scheduler)
    start = time.perf_counter()
    state.open()
    state.output.mkdir(parents=True, exist_ok=True)
    state.select_network()
    state.reference()
    state.invert()
    state.fit_corrections()
    state.velocity()
    with state.timer("products"):
        paths = state.write_products()
    state.summary["total_seconds"] = time.perf_counter() - start
    return state.finish(paths)
