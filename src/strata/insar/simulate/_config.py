"""Configuration of the stack simulator (pydantic models, ``extra="forbid"``, every field described)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, model_validator

from strata.insar.stack import SENTINEL1_WAVELENGTH

__all__ = [
    "AcquisitionConfig",
    "AtmosphereConfig",
    "BowlConfig",
    "DecorrelationConfig",
    "DeformationConfig",
    "GridConfig",
    "MissingDataConfig",
    "NetworkConfig",
    "SimulationConfig",
    "StepConfig",
    "TopographyConfig",
    "UnwrappingErrorConfig",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GridConfig(_Model):
    """The geographic grid (EPSG:4326, north-up, like LiCSAR and ARIA products)."""

    rows: int = Field(200, ge=8, description="Number of grid rows (y).")
    cols: int = Field(200, ge=8, description="Number of grid columns (x).")
    pixel_size_deg: float = Field(0.001, gt=0, description="Pixel size in degrees (LiCSAR: 0.001, ~100 m).")
    west_lon: float = Field(-99.25, ge=-180, le=180, description="Longitude of the upper-left corner.")
    north_lat: float = Field(19.50, ge=-90, le=90, description="Latitude of the upper-left corner.")
    chunk_size: int = Field(
        256,
        ge=16,
        description="Side of the square spatial blocks the stack is generated in (and dask chunks); "
        "the noise realisation depends on it, the truth does not.",
    )


class AcquisitionConfig(_Model):
    """Acquisition dates: a regular repeat cycle with optional gaps."""

    start: dt.date = Field(dt.date(2019, 1, 1), description="First acquisition date.")
    end: dt.date = Field(dt.date(2021, 1, 1), description="Last possible acquisition date (inclusive).")
    interval_days: int = Field(12, ge=1, description="Repeat cycle in days (Sentinel-1: 12 or 6).")
    gaps: list[tuple[dt.date, dt.date]] = Field(
        default_factory=list,
        description="Periods [first, last] (inclusive) with no acquisition, e.g. a 3-month outage.",
    )

    @model_validator(mode="after")
    def _ordered(self) -> AcquisitionConfig:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        for first, last in self.gaps:
            if last < first:
                raise ValueError(f"gap {first}..{last} ends before it starts")
        return self


class NetworkConfig(_Model):
    """Small-baseline network of the simulated interferograms."""

    n_nearest: int = Field(3, ge=1, description="Each date is paired with its n following dates.")
    max_temporal_baseline_days: float | None = Field(
        None, gt=0, description="Drop pairs longer than this many days (None: no limit)."
    )
    max_perpendicular_baseline_m: float | None = Field(
        None, gt=0, description="Drop pairs with a larger |perpendicular baseline| (None: no limit)."
    )
    disconnect_after: list[dt.date] = Field(
        default_factory=list,
        description="Split the network: no pair links a date on or before one of these to a later date.",
    )
    baseline_std_m: float = Field(
        50.0, ge=0, description="Standard deviation of the per-date perpendicular baseline (m)."
    )


class BowlConfig(_Model):
    """An elliptical Gaussian subsidence (or uplift) bowl, like Mexico City or Tehran."""

    center: tuple[float, float] = Field(
        (0.5, 0.5), description="Centre (row, col) as fractions of the grid size (0..1)."
    )
    sigma: tuple[float, float] = Field(
        (0.12, 0.08), description="Gaussian semi-axes (along, across) as fractions of the grid size."
    )
    angle_deg: float = Field(30.0, description="Rotation of the ellipse, degrees counter-clockwise.")
    rate_mm_yr: float = Field(
        -120.0, ge=-300.0, le=300.0, description="Peak LOS rate (mm/yr, negative = away from satellite)."
    )


class StepConfig(_Model):
    """A coseismic-like step: an offset at a date, Gaussian in space."""

    date: dt.date = Field(description="Date of the step (acquisitions on or after it are offset).")
    amplitude_mm: float = Field(description="Peak LOS offset in mm (positive toward the satellite).")
    center: tuple[float, float] = Field((0.5, 0.5), description="Centre (row, col) as grid fractions.")
    sigma: float = Field(0.2, gt=0, description="Gaussian width as a fraction of the grid size.")


class DeformationConfig(_Model):
    """The true LOS deformation (mm, positive toward the satellite)."""

    velocity_mm_yr: float = Field(0.0, description="Uniform background LOS velocity (mm/yr).")
    velocity_gradient_mm_yr: float = Field(
        4.0, description="West-to-east linear change of LOS velocity across the grid (mm/yr)."
    )
    bowls: list[BowlConfig] = Field(
        default_factory=lambda: [BowlConfig()], description="Subsidence bowls (empty: none)."
    )
    seasonal_amplitude_mm: float = Field(
        0.0, ge=0, description="Amplitude of an annual sinusoid (mm); a linear-only fit is biased by it."
    )
    seasonal_peak_day: int = Field(200, ge=1, le=366, description="Day of year of the seasonal maximum.")
    steps: list[StepConfig] = Field(default_factory=list, description="Step offsets (empty: none).")


class AtmosphereConfig(_Model):
    """Tropospheric delays and orbital ramps, independent per acquisition."""

    stratified_mm_per_km: float = Field(
        5.0, ge=0, description="Std of the per-date phase-elevation coefficient (mm of delay per km)."
    )
    turbulent_mm: float = Field(
        2.0, ge=0, description="Mean standard deviation over the grid of the turbulent delay per date (mm)."
    )
    turbulent_exponent: float = Field(
        8.0 / 3.0, gt=0, description="Power-law exponent beta of the turbulence spectrum P(k) ~ k^-beta."
    )
    ramp_mm: float = Field(
        2.0, ge=0, description="Std of the per-date orbital ramp, as delay across the grid (mm)."
    )
    quadratic_ramp: bool = Field(False, description="Add quadratic terms to the orbital ramps.")


class TopographyConfig(_Model):
    """The synthetic DEM, the DEM error and the viewing geometry."""

    base_height_m: float = Field(2240.0, description="Lowest height of the synthetic relief (m).")
    relief_m: float = Field(600.0, ge=0, description="Height range of the synthetic relief (m).")
    dem_error_std_m: float = Field(5.0, ge=0, description="Std of the per-pixel DEM error (m).")
    incidence_deg: float = Field(39.0, gt=0, lt=90, description="Incidence angle at mid-range (degrees).")
    slant_range_m: float = Field(875_000.0, gt=0, description="Slant range (m).")


class DecorrelationConfig(_Model):
    """Coherence model and the phase noise drawn from it."""

    looks: int = Field(
        50, ge=1, description="Effective number of looks of the interferograms (phase PDF; ~100 m pixels)."
    )
    coherence_min: float = Field(0.15, ge=0, le=1, description="Lowest pixel coherence.")
    coherence_max: float = Field(0.9, ge=0, le=0.99, description="Highest pixel coherence.")
    coherent_share: float = Field(
        0.8, gt=0, lt=1, description="Approximate share of pixels whose base coherence is above mid-range."
    )
    temporal_decorrelation_days: float = Field(
        60.0, gt=0, description="e-folding time of temporal decorrelation (days)."
    )
    long_term_coherence: float = Field(
        0.6, ge=0, le=1, description="Share of the base coherence that remains at long time spans."
    )


class UnwrappingErrorConfig(_Model):
    """2-pi jumps over regions of some interferograms."""

    interferogram_share: float = Field(
        0.0, ge=0, le=1, description="Share of interferograms given one unwrapping-error region."
    )
    region_share: float = Field(
        0.04, gt=0, lt=0.5, description="Area of each error region as a share of the grid."
    )
    max_cycles: int = Field(1, ge=1, le=3, description="Largest |number of 2-pi cycles| of a jump.")


class MissingDataConfig(_Model):
    """Missing pixels (NaN) in the unwrapped phase."""

    random_share: float = Field(
        0.0, ge=0, lt=1, description="Share of pixels set to NaN at random, independently per interferogram."
    )
    below_coherence: float = Field(
        0.0, ge=0, le=1, description="Pixels whose coherence is below this value are NaN (0: none)."
    )


class SimulationConfig(_Model):
    """A complete, seeded description of a simulated interferogram stack."""

    seed: int = Field(0, ge=0, description="Seed of every random draw; equal configs give equal stacks.")
    wavelength: float = Field(SENTINEL1_WAVELENGTH, gt=0, description="Radar wavelength (m).")
    grid: GridConfig = Field(default_factory=GridConfig, description="The geographic grid.")
    acquisitions: AcquisitionConfig = Field(
        default_factory=AcquisitionConfig, description="Acquisition dates."
    )
    network: NetworkConfig = Field(default_factory=NetworkConfig, description="Interferogram network.")
    deformation: DeformationConfig = Field(default_factory=DeformationConfig, description="True deformation.")
    atmosphere: AtmosphereConfig = Field(default_factory=AtmosphereConfig, description="Troposphere, orbits.")
    topography: TopographyConfig = Field(default_factory=TopographyConfig, description="DEM and geometry.")
    decorrelation: DecorrelationConfig = Field(
        default_factory=DecorrelationConfig, description="Coherence and phase noise."
    )
    unwrapping_errors: UnwrappingErrorConfig = Field(
        default_factory=UnwrappingErrorConfig, description="Injected unwrapping errors."
    )
    missing: MissingDataConfig = Field(default_factory=MissingDataConfig, description="Missing pixels.")
