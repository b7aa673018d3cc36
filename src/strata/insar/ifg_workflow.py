"""Workflow ``strata insar ifg``: coregistered SLC stack → interferogram stack the NSBAS engine reads.

Steps: read the SLC stack (:mod:`strata.insar.io.slc`), select small-baseline pairs
(:func:`strata.insar.network.build_network`), then per pair form the multilooked interferogram
and coherence with the topographic phase removed when the stack has ``h2ph`` and ``height``
(:mod:`strata.insar.interferogram`), Goldstein-filter it, write ``.int.tif`` and ``.cc.tif``; then
pick one reference pixel for every pair (highest mean coherence) and unwrap each pair with SNAPHU
(:mod:`strata.insar.unwrap`), writing ``.unw.tif`` and ``.conncomp.tif``. The output folder is read
back by :func:`strata.insar.io.slc_ifgs.read_slc_ifgs`.

Memory stays bounded: SLCs are read block by block (dask) and only the multilooked rasters of one
batch of pairs (one pair for large rasters, see :data:`BATCH_PIXELS`) are held at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import xarray as xr
from dask.base import compute
from pydantic import Field, model_validator
from scipy.ndimage import uniform_filter

from strata.insar.config import ConfigError, YamlModel
from strata.insar.errors import NetworkError, ReaderError
from strata.insar.interferogram import coherence, goldstein_filter, interferogram, multilook
from strata.insar.io.slc import GEOMETRY_NAMES, read_slc_stack
from strata.insar.io.slc_ifgs import pair_paths, read_layer, write_layer
from strata.insar.network import build_network
from strata.insar.stack import pair_label
from strata.insar.unwrap import unwrap

__all__ = [
    "IfgConfig",
    "IfgResult",
    "PairOptions",
    "UnwrapOptions",
    "choose_reference",
    "multilooked_transform",
    "parse_looks",
    "run",
]

Progress = Callable[[str, float], None]

BATCH_PIXELS = 2**24
"""SLC pixels (pairs x rows x cols) formed in one dask computation: small rasters are batched."""


class PairOptions(YamlModel):
    """Which pairs of the SLC stack become interferograms."""

    pairs: list[tuple[str, str]] | None = Field(
        default=None,
        description="Explicit pairs as [YYYYMMDD, YYYYMMDD] (reference, secondary); null: a small-baseline "
        "network from the options below.",
    )
    n_nearest: int | None = Field(
        default=3, ge=1, description="Pair each date with its n following dates (null: no limit)."
    )
    max_temporal_baseline: float | None = Field(
        default=None, gt=0, description="Longest temporal baseline in days (null: no limit)."
    )
    max_perpendicular_baseline: float | None = Field(
        default=None,
        gt=0,
        description="Longest |perpendicular baseline| in metres (null: no limit; needs baselines).",
    )
    spanning: bool = Field(
        default=True, description="Add the shortest pairs that reconnect a disconnected network."
    )


class UnwrapOptions(YamlModel):
    """SNAPHU unwrapping and the reference of the unwrapped phase."""

    enabled: bool = Field(default=True, description="Unwrap the interferograms (false: .int and .cc only).")
    cost: Literal["smooth", "defo"] = Field(default="smooth", description="SNAPHU statistical cost mode.")
    tile_size: int | None = Field(
        default=2048,
        ge=64,
        description="Unwrap rasters larger than this many multilooked pixels per side in tiles of about "
        "this size, re-optimised as one tile afterwards (null: always one tile).",
    )
    tile_overlap: int = Field(default=64, ge=0, description="Overlap between SNAPHU tiles, pixels.")
    min_coherence: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="Mask pixels whose coherence is below this before unwrapping.",
    )
    reference_rowcol: tuple[int, int] | None = Field(
        default=None,
        description="Reference pixel [row, column] of the multilooked grid whose 2-pi ambiguity is removed "
        "in every pair; null: the pixel of highest mean coherence.",
    )
    reference_radius: int = Field(default=2, ge=0, description="Half-size of the reference square, pixels.")


class IfgConfig(YamlModel):
    """Configuration of one run of the interferometry workflow (``strata insar ifg``)."""

    input: Path = Field(
        default=Path(), description="Folder (or Zarr / .znap store) of the coregistered SLCs."
    )
    format: Literal["geotiff", "envi", "zarr", "znap"] | None = Field(
        default=None, description="SLC stack format; null: detected from the folder's content."
    )
    output: Path = Field(default=Path("ifg-output"), description="Folder receiving the per-pair rasters.")
    looks_range: int = Field(default=20, ge=1, description="Multilook factor in range (columns).")
    looks_azimuth: int = Field(default=5, ge=1, description="Multilook factor in azimuth (rows).")
    coherence_window: tuple[int, int] | None = Field(
        default=None,
        description="Coherence boxcar [azimuth, range] in SLC pixels; null: the multilook cell.",
    )
    coherence_bias_correction: bool = Field(
        default=False, description="Remove the positive bias of low sample coherence (Touzi et al. 1999)."
    )
    filter_strength: float = Field(
        default=0.5, ge=0.0, le=1.0, description="Goldstein filter exponent alpha (0: no filtering)."
    )
    filter_patch: int = Field(default=32, ge=4, description="Goldstein filter patch size, pixels (even).")
    remove_topography: bool = Field(
        default=True,
        description="Remove the topographic phase (h2ph x height) when the stack carries both.",
    )
    pairs: PairOptions = Field(default_factory=PairOptions, description="Pair selection.")
    unwrap: UnwrapOptions = Field(default_factory=UnwrapOptions, description="Unwrapping.")
    chunk_size: int = Field(default=2048, ge=64, description="Side of the SLC blocks processed at once.")
    workers: int | None = Field(default=None, ge=1, description="Parallel threads (null: all cores).")

    @model_validator(mode="after")
    def _even_patch(self) -> IfgConfig:
        if self.filter_patch % 2:
            raise ValueError("filter_patch must be even")
        return self

    @property
    def looks(self) -> tuple[int, int]:
        """``(azimuth, range)`` multilook factors."""
        return (self.looks_azimuth, self.looks_range)


@dataclass
class IfgResult:
    """What :func:`run` wrote."""

    output_dir: Path
    pairs: list[str]
    reference_pixel: tuple[int, int] | None
    paths: dict[str, Path] = field(default_factory=dict)
    mean_coherence: dict[str, float] = field(default_factory=dict)


def parse_looks(text: str) -> tuple[int, int]:
    """Parse ``RGxAZ`` (e.g. ``20x5``) into ``(range, azimuth)`` looks.

    Raises
    ------
    ConfigError
        When the text is not two positive integers separated by ``x``.
    """
    parts = text.lower().split("x")
    try:
        range_looks, azimuth_looks = (int(p) for p in parts)
    except ValueError:
        raise ConfigError(f"--looks expects RGxAZ such as 20x5, got '{text}'") from None
    if range_looks < 1 or azimuth_looks < 1:
        raise ConfigError(f"--looks must be positive, got '{text}'")
    return range_looks, azimuth_looks


def multilooked_transform(stack: xr.Dataset, looks: tuple[int, int]) -> list[float]:
    """GDAL geotransform of the multilooked grid of a stack (pixel ``(i, j)`` covers SLC block ``(i, j)``)."""
    la, lr = looks
    c, a, b, f, d, e = stack.attrs["transform"]
    return [c, a * lr, b * la, f, d * lr, e * la]


def choose_reference(mean_coherence: npt.NDArray[np.floating[Any]], radius: int) -> tuple[int, int]:
    """Pixel (row, col) whose (2 radius + 1)² neighbourhood has the highest mean coherence."""
    smoothed = uniform_filter(np.nan_to_num(mean_coherence), size=2 * radius + 1, mode="constant")
    row, col = np.unravel_index(int(np.argmax(smoothed)), smoothed.shape)
    return int(row), int(col)


def _select_pairs(stack: xr.Dataset, options: PairOptions) -> list[tuple[int, int]]:
    dates = stack["date"].values.astype("datetime64[D]")
    if options.pairs is not None:
        index = {str(d).replace("-", ""): i for i, d in enumerate(dates)}
        chosen = []
        for first, second in options.pairs:
            if first not in index or second not in index:
                raise NetworkError(f"pair {first}_{second}: date not in the SLC stack")
            if index[first] >= index[second]:
                raise NetworkError(f"pair {first}_{second}: the secondary date must follow the reference")
            chosen.append((index[first], index[second]))
        return chosen
    bperp = stack["perpendicular_baseline"].values if "perpendicular_baseline" in stack.coords else None
    pairs = build_network(
        dates,
        perpendicular_baseline=bperp,
        max_temporal_baseline=options.max_temporal_baseline,
        max_perpendicular_baseline=options.max_perpendicular_baseline,
        n_nearest=options.n_nearest,
        spanning=options.spanning,
    )
    return [(int(i), int(j)) for i, j in pairs]


def _topographic_phase(stack: xr.Dataset, ref: int, sec: int) -> Any | None:
    if "h2ph" not in stack or "height" not in stack:
        return None
    return (stack["h2ph"].data[sec] - stack["h2ph"].data[ref]) * stack["height"].data


def _pair_graph(stack: xr.Dataset, ref: int, sec: int, config: IfgConfig) -> tuple[Any, Any]:
    """Lazy (filtered interferogram, coherence) of one pair on the multilooked grid."""
    reference, secondary = stack["slc"].data[ref], stack["slc"].data[sec]
    topo = _topographic_phase(stack, ref, sec) if config.remove_topography else None
    ifg = interferogram(reference, secondary, config.looks, phase=topo)
    if config.filter_strength > 0:
        ifg = goldstein_filter(ifg, config.filter_strength, config.filter_patch)
    window = config.coherence_window or config.looks
    coh = coherence(
        reference,
        secondary,
        window,
        config.looks,
        phase=topo,
        bias_correction=config.coherence_bias_correction,
    )
    return ifg, coh


@dataclass
class _Grid:
    """Where and how the rasters of a run are written."""

    output: Path
    crs: str
    transform: list[float]

    def write(self, path: Path, data: npt.NDArray[Any], tags: dict[str, str]) -> None:
        write_layer(path, data, crs=self.crs, transform=self.transform, tags=tags)


def _pair_tags(stack: xr.Dataset, ref: int, sec: int) -> dict[str, str]:
    dates = stack["date"].values
    tags = {
        "FIRST_DATE": str(dates[ref])[:10],
        "SECOND_DATE": str(dates[sec])[:10],
        "WAVELENGTH_METRES": repr(float(stack.attrs["wavelength"])),
        "INSAR_PROCESSOR": "strata",
    }
    if "perpendicular_baseline" in stack.coords:
        bperp = stack["perpendicular_baseline"].values
        tags["PERPENDICULAR_BASELINE_METRES"] = repr(float(bperp[sec] - bperp[ref]))
    return tags


def run(config: IfgConfig, progress: Progress | None = None) -> IfgResult:
    """Form, filter and unwrap the interferograms of a coregistered SLC stack.

    Parameters
    ----------
    config
        Input, output, multilooking, filtering, pair selection and unwrapping options.
    progress
        Optional callback ``(step, fraction_done)``.

    Returns
    -------
    IfgResult
        Output folder, pair labels, reference pixel, written paths and mean coherence per pair.

    Raises
    ------
    ReaderError
        When the SLC stack cannot be read (names the file).
    NetworkError
        When no pair can be formed.
    """
    report = progress or (lambda step, fraction: None)
    report("reading SLC stack", 0.0)
    stack = read_slc_stack(config.input, format=config.format)
    stack = stack.chunk({"y": config.chunk_size, "x": config.chunk_size})
    if stack.sizes["date"] < 2:
        raise ReaderError(f"{config.input}: an SLC stack needs at least two dates")
    pairs = _select_pairs(stack, config.pairs)
    transform = multilooked_transform(stack, config.looks)
    config.output.mkdir(parents=True, exist_ok=True)
    grid = _Grid(config.output, stack.attrs.get("crs", ""), transform)
    result = IfgResult(output_dir=config.output, pairs=[], reference_pixel=None)
    scheduler: dict[str, Any] = {"scheduler": "threads", "num_workers": config.workers}
    for name in GEOMETRY_NAMES:
        if name in stack:
            (values,) = compute(multilook(stack[name].data, config.looks), **scheduler)
            result.paths[name] = config.output / f"{name}.tif"
            grid.write(result.paths[name], np.asarray(values, dtype=np.float32), {})
    share = 0.6 if config.unwrap.enabled else 1.0
    # small rasters: several pairs per dask computation, so that scheduling does not dominate
    batch = max(1, BATCH_PIXELS // (stack.sizes["y"] * stack.sizes["x"]))
    coherence_sum: npt.NDArray[np.float64] | None = None
    for start in range(0, len(pairs), batch):
        chosen = pairs[start : start + batch]
        report(
            f"interferogram {pair_label(*stack['date'].values[list(chosen[0])])}", share * start / len(pairs)
        )
        values = compute(
            *[graph for ref, sec in chosen for graph in _pair_graph(stack, ref, sec, config)], **scheduler
        )
        for (ref, sec), ifg_values, coh_values in zip(chosen, values[::2], values[1::2], strict=True):
            tags = _pair_tags(stack, ref, sec)
            label = pair_label(*stack["date"].values[[ref, sec]])
            paths = pair_paths(config.output, *stack["date"].values[[ref, sec]])
            grid.write(paths["int"], ifg_values.astype(np.complex64), tags)
            grid.write(paths["cc"], coh_values.astype(np.float32), tags)
            result.pairs.append(label)
            result.paths[label] = paths["int"].parent
            result.mean_coherence[label] = float(np.nanmean(coh_values))
            coherence_sum = coh_values + (0.0 if coherence_sum is None else coherence_sum)
    if config.unwrap.enabled and coherence_sum is not None:
        options = config.unwrap
        result.reference_pixel = options.reference_rowcol or choose_reference(
            coherence_sum / len(pairs), options.reference_radius
        )
        for k, (ref, sec) in enumerate(pairs):
            report(f"unwrapping {result.pairs[k]}", share + (1.0 - share) * k / len(pairs))
            _unwrap_pair(stack, ref, sec, config, grid, result.reference_pixel)
    report("done", 1.0)
    return result


def _unwrap_pair(
    stack: xr.Dataset, ref: int, sec: int, config: IfgConfig, grid: _Grid, reference_pixel: tuple[int, int]
) -> None:
    """Unwrap the written interferogram of one pair and write its .unw and .conncomp rasters."""
    options = config.unwrap
    paths = pair_paths(grid.output, *stack["date"].values[[ref, sec]])
    ifg_values = read_layer(paths["int"])
    coh_values = read_layer(paths["cc"])
    unwrapped = unwrap(
        ifg_values,
        coh_values,
        float(config.looks[0] * config.looks[1]),
        mask=coh_values >= options.min_coherence if options.min_coherence > 0 else None,
        reference=reference_pixel,
        reference_radius=options.reference_radius,
        cost=options.cost,
        tile_size=options.tile_size,
        tile_overlap=options.tile_overlap,
        nproc=config.workers or 1,
    )
    tags = _pair_tags(stack, ref, sec)
    grid.write(paths["unw"], unwrapped.phase, tags)
    grid.write(paths["conncomp"], unwrapped.connected_components, tags)
