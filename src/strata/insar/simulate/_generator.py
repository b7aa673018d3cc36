"""Block-wise generation of a simulated stack: every spatial block is computed from a small state.

The state holds what must be drawn over the whole grid (DEM, DEM error, base coherence, coarse
turbulence per date, per-date scalars, unwrapping-error regions); the interferograms of any block
are then computed from it alone, so a stack of any size is generated with bounded memory.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
import numpy.typing as npt
from scipy import special

from strata.insar.simulate._config import BowlConfig, SimulationConfig
from strata.insar.simulate._fields import (
    noisy_interferograms,
    phase_noise_table,
    power_law_fields,
    upsample_bilinear,
)
from strata.insar.simulate._network import acquisition_dates, decimal_years, sequential_pairs, year_fraction

__all__ = ["StackGenerator"]

F32 = npt.NDArray[np.float32]
PAIR_BATCH = 64
COARSE_TURBULENCE_SIZE = 256


class StackGenerator:
    """The drawn state of a simulation and the functions that compute any block from it."""

    def __init__(self, config: SimulationConfig) -> None:
        self.config = config
        self.token = hashlib.sha1(config.model_dump_json().encode(), usedforsecurity=False).hexdigest()[:16]
        grid = config.grid
        self.shape = (grid.rows, grid.cols)
        self.dates = acquisition_dates(config.acquisitions)
        n_dates = self.dates.size
        self.years = decimal_years(self.dates)
        rng = np.random.default_rng([config.seed, 0])
        baselines = rng.normal(0.0, config.network.baseline_std_m, n_dates)
        self.date_baselines = baselines - baselines[0]
        self.pairs = sequential_pairs(self.dates, self.date_baselines, config.network)
        ref, sec = self.pairs.T
        self.perpendicular_baseline = self.date_baselines[sec] - self.date_baselines[ref]
        spans = (self.dates[sec] - self.dates[ref]).astype("timedelta64[D]").astype(np.float64)
        dec = config.decorrelation
        self.temporal_coherence = (
            dec.long_term_coherence
            + (1.0 - dec.long_term_coherence) * np.exp(-spans / dec.temporal_decorrelation_days)
        ).astype(np.float32)

        topo = config.topography
        relief = power_law_fields(np.random.default_rng([config.seed, 1]), 1, self.shape, 3.6)[0]
        relief = (relief - relief.min()) / max(float(np.ptp(relief)), 1e-6)
        self.dem = (topo.base_height_m + topo.relief_m * relief).astype(np.float32)
        self.dem_mean = float(self.dem.mean())
        self.dem_error = (
            np.random.default_rng([config.seed, 2])
            .normal(0.0, topo.dem_error_std_m, self.shape)
            .astype(np.float32)
        )
        self.dem_error_factor = 1000.0 / (topo.slant_range_m * math.sin(math.radians(topo.incidence_deg)))

        field = power_law_fields(np.random.default_rng([config.seed, 3]), 1, self.shape, 3.0)[0]
        shift = float(special.ndtri(dec.coherent_share))
        sigmoid = 1.0 / (1.0 + np.exp(-2.5 * (field + shift)))
        self.base_coherence = (dec.coherence_min + (dec.coherence_max - dec.coherence_min) * sigmoid).astype(
            np.float32
        )

        atmo = config.atmosphere
        rng = np.random.default_rng([config.seed, 4])
        self.factor = max(1, math.ceil(max(self.shape) / COARSE_TURBULENCE_SIZE))
        coarse = (math.ceil(grid.rows / self.factor) + 1, math.ceil(grid.cols / self.factor) + 1)
        scale = atmo.turbulent_mm * rng.uniform(0.5, 1.5, n_dates)
        self.turbulence = power_law_fields(rng, n_dates, coarse, atmo.turbulent_exponent)
        self.turbulence *= scale.astype(np.float32)[:, None, None]
        self.stratified = rng.normal(0.0, atmo.stratified_mm_per_km, n_dates)
        n_terms = 5 if atmo.quadratic_ramp else 2
        self.ramps = rng.normal(0.0, atmo.ramp_mm, (n_dates, n_terms))

        self._draw_unwrapping_errors(np.random.default_rng([config.seed, 5]))
        self.noise_table = phase_noise_table(dec.looks)
        self.phase_per_mm = -4.0 * np.pi / (config.wavelength * 1000.0)

    def __dask_tokenize__(self) -> str:
        """Token of the generator for dask: its configuration (hashing its arrays takes minutes)."""
        return self.token

    def _draw_unwrapping_errors(self, rng: np.random.Generator) -> None:
        cfg = self.config.unwrapping_errors
        n_pairs = self.pairs.shape[0]
        count = math.ceil(cfg.interferogram_share * n_pairs) if cfg.interferogram_share > 0 else 0
        self.error_pairs = np.sort(rng.choice(n_pairs, size=count, replace=False)).astype(np.intp)
        rows, cols = self.shape
        radius = math.sqrt(cfg.region_share * rows * cols / math.pi)
        aspect = rng.uniform(0.6, 1.6, count)
        self.error_regions = np.column_stack(
            [
                rng.uniform(0.15, 0.85, count) * rows,
                rng.uniform(0.15, 0.85, count) * cols,
                radius * np.sqrt(aspect),
                radius / np.sqrt(aspect),
                rng.uniform(0.0, np.pi, count),
            ]
        )
        magnitude = rng.integers(1, cfg.max_cycles + 1, count)
        self.error_cycles = (magnitude * rng.choice([-1, 1], count)).astype(np.int8)

    # ---- truth -------------------------------------------------------------------------------

    def _grid(self, rows: slice, cols: slice) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        r = np.arange(rows.start, rows.stop, dtype=np.float64)[:, None]
        c = np.arange(cols.start, cols.stop, dtype=np.float64)[None, :]
        return r, c

    def _gaussian(
        self, rows: slice, cols: slice, center: tuple[float, float], sigma: tuple[float, float], angle: float
    ) -> npt.NDArray[np.float64]:
        r, c = self._grid(rows, cols)
        n_rows, n_cols = self.shape
        dr = r - center[0] * n_rows
        dc = c - center[1] * n_cols
        cos, sin = math.cos(angle), math.sin(angle)
        along = (dc * cos - dr * sin) / (sigma[0] * max(self.shape))
        across = (dc * sin + dr * cos) / (sigma[1] * max(self.shape))
        out: npt.NDArray[np.float64] = np.exp(-0.5 * (along**2 + across**2))
        return out

    def velocity(self, rows: slice, cols: slice) -> F32:
        """True linear LOS velocity (mm/yr) of a block."""
        cfg = self.config.deformation
        _, c = self._grid(rows, cols)
        v = cfg.velocity_mm_yr + cfg.velocity_gradient_mm_yr * (c / max(self.shape[1] - 1, 1) - 0.5)
        return (v + self._bowls(rows, cols)).astype(np.float32)

    def _bowls(self, rows: slice, cols: slice) -> npt.NDArray[np.float64]:
        """LOS velocity (mm/yr) of the subsidence bowls alone."""
        out = np.zeros((rows.stop - rows.start, cols.stop - cols.start))
        bowl: BowlConfig
        for bowl in self.config.deformation.bowls:
            angle = math.radians(bowl.angle_deg)
            out += bowl.rate_mm_yr * self._gaussian(rows, cols, bowl.center, bowl.sigma, angle)
        return out

    def displacement(self, rows: slice, cols: slice) -> F32:
        """True LOS displacement (mm, toward the satellite, zero at the first date): (date, y, x)."""
        cfg = self.config.deformation
        disp = self.years[:, None, None] * self.velocity(rows, cols)[None].astype(np.float64)
        if cfg.seasonal_amplitude_mm > 0:
            _, c = self._grid(rows, cols)
            phase = 2.0 * np.pi * (year_fraction(self.dates) - (cfg.seasonal_peak_day - 1) / 365.25)
            seasonal = np.cos(phase) - np.cos(phase[0])
            weight = cfg.seasonal_amplitude_mm * c / max(self.shape[1] - 1, 1)
            disp += seasonal[:, None, None] * weight[None]
        for step in cfg.steps:
            after = (self.dates >= np.datetime64(step.date, "D")).astype(np.float64)
            shape = self._gaussian(rows, cols, step.center, (step.sigma, step.sigma), 0.0)
            disp += after[:, None, None] * (step.amplitude_mm * shape)[None]
        return disp.astype(np.float32)

    def unwrapping_errors(self, rows: slice, cols: slice) -> npt.NDArray[np.int8]:
        """Injected 2-pi cycles of each interferogram on a block: (pair, y, x) int8, 0 where none."""
        out = np.zeros((self.pairs.shape[0], rows.stop - rows.start, cols.stop - cols.start), dtype=np.int8)
        r, c = self._grid(rows, cols)
        for k, (r0, c0, a, b, angle), cycles in zip(
            self.error_pairs, self.error_regions, self.error_cycles, strict=True
        ):
            dr, dc = r - r0, c - c0
            cos, sin = math.cos(angle), math.sin(angle)
            inside = ((dc * cos - dr * sin) / a) ** 2 + ((dc * sin + dr * cos) / b) ** 2 <= 1.0
            out[k][inside] = cycles
        return out

    # ---- observations --------------------------------------------------------------------------

    def delay(self, rows: slice, cols: slice) -> F32:
        """Nuisance LOS delay per date (mm): troposphere, orbital ramp, DEM error x baseline."""
        atmo = self.config.atmosphere
        out = upsample_bilinear(self.turbulence, self.factor, rows, cols)
        dem = self.dem[rows, cols] - np.float32(self.dem_mean)
        out += (self.stratified / 1000.0).astype(np.float32)[:, None, None] * dem[None]
        r, c = self._grid(rows, cols)
        x = (c / max(self.shape[1] - 1, 1) - 0.5).astype(np.float32)
        y = (r / max(self.shape[0] - 1, 1) - 0.5).astype(np.float32)
        terms = [x, y]
        if atmo.quadratic_ramp:
            terms += [x * x, y * y, x * y]
        for k, term in enumerate(terms):
            out += self.ramps[:, k].astype(np.float32)[:, None, None] * term[None]
        factor = (self.date_baselines * self.dem_error_factor).astype(np.float32)
        out += factor[:, None, None] * self.dem_error[rows, cols][None]
        return out

    def interferograms(self, rows: slice, cols: slice, block_index: tuple[int, int]) -> tuple[F32, F32]:
        """Unwrapped phase (rad) and coherence of every interferogram on a block: 2 x (pair, y, x)."""
        cfg = self.config
        date_phase = (self.displacement(rows, cols) + self.delay(rows, cols)) * np.float32(self.phase_per_mm)
        base = np.ascontiguousarray(self.base_coherence[rows, cols])
        n_pairs = self.pairs.shape[0]
        shape = (n_pairs, rows.stop - rows.start, cols.stop - cols.start)
        phase = np.empty(shape, dtype=np.float32)
        coherence = np.empty(shape, dtype=np.float32)
        rng = np.random.default_rng([cfg.seed, 6, *block_index])
        cycles = self.unwrapping_errors(rows, cols)
        ref, sec = np.ascontiguousarray(self.pairs.T)
        for start in range(0, n_pairs, PAIR_BATCH):
            batch = slice(start, min(start + PAIR_BATCH, n_pairs))
            ph, coh = phase[batch], coherence[batch]
            uniform = rng.random(ph.shape, dtype=np.float32)
            noisy_interferograms(
                date_phase,
                ref[batch],
                sec[batch],
                base,
                self.temporal_coherence[batch],
                self.noise_table,
                uniform,
                ph,
                coh,
            )
            if cfg.missing.random_share > 0:
                ph[rng.random(ph.shape, dtype=np.float32) < cfg.missing.random_share] = np.nan
            if cfg.missing.below_coherence > 0:
                ph[coh < cfg.missing.below_coherence] = np.nan
        for k in self.error_pairs:
            phase[k] += np.float32(2.0 * np.pi) * cycles[k]
        return phase, coherence

    def reference_pixel(self) -> tuple[int, int]:
        """A coherent, nearly stable pixel away from the bowls (row, col): a natural reference point."""
        full = (slice(0, self.shape[0]), slice(0, self.shape[1]))
        speed = np.abs(self.velocity(*full)) + np.abs(self._bowls(*full))
        coherent = self.base_coherence >= np.quantile(self.base_coherence, 0.8)
        score = np.where(coherent, speed, np.inf)
        row, col = np.unravel_index(int(np.argmin(score)), self.shape)
        return int(row), int(col)
