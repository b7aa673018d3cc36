"""GAMMA interferograms as GeoTIFFs prepared for PyRate: reader and writer.

Layout (PyRate's ``cropA`` test set, a real Sentinel-1 stack over Mexico City)::

    geotiffs/<prefix>_<d1>-<d2>_<pol>_<looks>_eqa_unw.tif       unwrapped phase (rad, 0 = no data)
    geotiffs/<prefix>_<d1>-<d2>_<pol>_<looks>_flat_eqa_cc.tif   coherence (0-1)
    geotiffs/<prefix>_dem.tif                                   DEM height (m)
    geometry/<d1>-<d2>_<pol>_<looks>_bperp.par                  GAMMA base_perp table

The dates come from the GeoTIFF tags ``FIRST_DATE``/``SECOND_DATE`` (else from the name), the
wavelength from ``WAVELENGTH_METRES`` and the incidence from ``INCIDENCE_DEGREES``; the
perpendicular baseline is the mean of the ``bperp`` column of the pair's ``*_bperp.par``. PyRate
outputs ``-lambda / (4 pi) * phi`` with its default ``signal_polarity: -1``: the stack's convention.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from strata.insar.errors import ReaderError
from strata.insar.io._common import (
    Grid,
    check_not_empty,
    iter_blocks,
    lazy_stack,
    normalize_chunks,
    parse_date_pair,
    pixel_coordinates,
    stack_token,
    yyyymmdd,
)
from strata.insar.io._geotiff import (
    TiffBand,
    open_writers,
    raster_grid,
    raster_tags,
    read_band,
    read_tif_window,
    write_tif,
    write_window,
)
from strata.insar.stack import SENTINEL1_WAVELENGTH, make_stack

__all__ = ["read_bperp_par", "read_gamma", "write_gamma"]

PREFIX = "stack"
SUFFIX_UNW = "_VV_8rlks_eqa_unw.tif"
SUFFIX_CC = "_VV_8rlks_flat_eqa_cc.tif"


def _tiff_folder(path: Path) -> Path:
    folder = path / "geotiffs" if (path / "geotiffs").is_dir() else path
    if not folder.is_dir():
        raise ReaderError(f"{path}: folder is missing")
    return folder


def _pair_of(path: Path, tags: dict[str, str]) -> tuple[np.datetime64, np.datetime64]:
    if "FIRST_DATE" in tags and "SECOND_DATE" in tags:
        text = f"{tags['FIRST_DATE'].replace('-', '')}_{tags['SECOND_DATE'].replace('-', '')}"
        first, second = parse_date_pair(text, path)
    else:
        first, second = parse_date_pair(path.name, path)
    if second <= first:
        raise ReaderError(f"{path}: second date is not after the first")
    return first, second


def read_bperp_par(path: Path) -> float:
    """Mean perpendicular baseline (m) of a GAMMA ``base_perp`` table (``*_bperp.par``)."""
    values = []
    for line in path.read_text().splitlines():
        fields = line.split()
        if len(fields) == 9:
            try:
                values.append(float(fields[7]))
            except ValueError:
                continue
    if not values:
        raise ReaderError(f"{path}: no baseline table row")
    return float(np.mean(values))


def _baselines(root: Path, pairs: list[tuple[np.datetime64, np.datetime64]]) -> list[float] | None:
    geometry = root / "geometry"
    out = []
    for first, second in pairs:
        files = sorted(geometry.glob(f"{yyyymmdd(first)}-{yyyymmdd(second)}*_bperp.par"))
        if not files:
            return None
        out.append(read_bperp_par(files[0]))
    return out


def _float_tag(tags: list[dict[str, str]], key: str, files: list[Path], rtol: float) -> float | None:
    """Mean of a numeric tag over the files; ReaderError naming a file that departs by more than ``rtol``."""
    values = {}
    for path, t in zip(files, tags, strict=True):
        if key in t:
            try:
                values[path] = float(t[key])
            except ValueError:
                raise ReaderError(f"{path}: tag {key}={t[key]!r} is not a number") from None
    if not values:
        return None
    mean = float(np.mean(list(values.values())))
    for path, value in values.items():
        if not np.isclose(value, mean, rtol=rtol):
            raise ReaderError(f"{path}: {key} {value} differs from the stack's {mean}")
    return mean


def read_gamma(path: Path, chunks: int | tuple[int, int] | None = None, check: bool = True) -> xr.Dataset:
    """Open GAMMA/PyRate interferogram GeoTIFFs as a lazy stack.

    Parameters
    ----------
    path
        The folder holding ``geotiffs/`` (and ``geometry/``), or the GeoTIFF folder itself.
    chunks
        Spatial chunk size (pixels).
    check
        Sample every interferogram to reject truncated or all-NaN files up front.

    Raises
    ------
    ReaderError
        Naming the file: no date pair, a missing coherence file, grids that do not match,
        an unreadable file, an interferogram with no valid pixel.
    """
    root = Path(path)
    folder = _tiff_folder(root)
    unw_files = sorted(folder.glob("*unw*.tif"))
    if not unw_files:
        raise ReaderError(f"{folder}: no unwrapped interferogram (*unw*.tif)")
    cc_by_pair: dict[tuple[np.datetime64, np.datetime64], Path] = {}
    for cc_file in sorted(folder.glob("*_cc.tif")):
        cc_by_pair[_pair_of(cc_file, raster_tags(cc_file))] = cc_file
    tags = [raster_tags(f) for f in unw_files]
    pairs = [_pair_of(f, t) for f, t in zip(unw_files, tags, strict=True)]
    if len(set(pairs)) != len(pairs):
        raise ReaderError(f"{folder}: two interferograms share a date pair")
    missing = [f for f, p in zip(unw_files, pairs, strict=True) if p not in cc_by_pair]
    if missing:
        raise ReaderError(f"{missing[0]}: no coherence file (*_cc.tif) for this date pair")
    order = sorted(range(len(pairs)), key=lambda i: pairs[i])
    pairs = [pairs[i] for i in order]
    unw = [TiffBand(unw_files[i], "phase") for i in order]
    cc = [TiffBand(cc_by_pair[p], "coherence") for p in pairs]
    grid: Grid = raster_grid(unw[0].path)
    for band in [*unw, *cc]:
        grid.check(raster_grid(band.path), band.path)
    shape = (grid.rows, grid.cols)
    if check:
        check_not_empty(unw, read_tif_window, shape, lambda band: str(band.path))
    geometry: dict[str, Any] = {}
    dem = sorted(folder.glob("*dem*.tif"))
    if dem:
        grid.check(raster_grid(dem[0]), dem[0])
        geometry["height"] = read_band(dem[0], kind="phase")
    incidence = _float_tag(tags, "INCIDENCE_DEGREES", unw_files, rtol=0.02)
    if incidence is not None:
        geometry["incidence_angle"] = np.full(shape, incidence, dtype=np.float32)
    wavelength = _float_tag(tags, "WAVELENGTH_METRES", unw_files, rtol=1e-6) or SENTINEL1_WAVELENGTH
    size = normalize_chunks(chunks)
    token = stack_token(str(folder.resolve()), [b.path.name for b in unw])
    y, x = pixel_coordinates(grid.transform, grid.rows, grid.cols)
    return make_stack(
        lazy_stack(unw, read_tif_window, shape, size, np.float32, f"gamma-unw-{token}"),
        lazy_stack(cc, read_tif_window, shape, size, np.float32, f"gamma-cc-{token}"),
        [p[0] for p in pairs],
        [p[1] for p in pairs],
        x=x,
        y=y,
        crs=grid.crs,
        transform=grid.transform,
        wavelength=wavelength,
        source_format="gamma",
        perpendicular_baseline=_baselines(root if (root / "geometry").is_dir() else folder.parent, pairs),
        geometry=geometry,
    )


def _bperp_table(bperp: float) -> str:
    header = (
        "*** Calculate baseline components perpendicular and parallel to look vector ***\n\n"
        "  line   range      B_t       B_c        B_n     look angle      bpara       bperp       blen\n"
        + "*" * 96
        + "\n"
    )
    rows = [
        f"{line:6d} {rng:6d} {0.0:10.4f} {0.0:10.4f} {0.0:10.4f} {39.0:12.6f} {0.0:10.4f} "
        f"{bperp:10.4f} {abs(bperp):10.4f}"
        for line in (0, 4500)
        for rng in (0, 8400)
    ]
    return header + "\n".join(rows) + "\n"


def write_gamma(stack: xr.Dataset, path: Path) -> Path:
    """Write a stack as PyRate-style GAMMA GeoTIFFs under ``path``, block by block.

    Returns ``path`` (holding ``geotiffs/`` and ``geometry/``).
    """
    root = Path(path)
    folder = root / "geotiffs"
    transform = stack.attrs["transform"]
    crs = stack.attrs["crs"]
    rows, cols = stack.sizes["y"], stack.sizes["x"]
    refs = stack["reference"].values
    secs = stack["secondary"].values
    incidence = float(np.nanmean(stack["incidence_angle"].values)) if "incidence_angle" in stack else None
    names = [f"{PREFIX}_{yyyymmdd(r)}-{yyyymmdd(s)}" for r, s in zip(refs, secs, strict=True)]
    tags = []
    for r, s in zip(refs, secs, strict=True):
        span = float((s - r).astype("timedelta64[D]").astype(np.int64)) / 365.25
        tag = {
            "FIRST_DATE": str(np.datetime64(r, "D")),
            "SECOND_DATE": str(np.datetime64(s, "D")),
            "WAVELENGTH_METRES": repr(float(stack.attrs["wavelength"])),
            "INSAR_PROCESSOR": "GAMMA",
            "TIME_SPAN_YEAR": repr(span),
            "DATA_UNITS": "RADIANS",
        }
        if incidence is not None:
            tag["INCIDENCE_DEGREES"] = repr(incidence)
        tags.append(tag)
    unw_tags = [{**t, "DATA_TYPE": "ORIGINAL_IFG"} for t in tags]
    cc_tags = [{**t, "DATA_TYPE": "ORIGINAL_COH"} for t in tags]
    with (
        open_writers(
            [folder / f"{n}{SUFFIX_UNW}" for n in names], transform, crs, rows, cols, "float32", 0.0, unw_tags
        ) as unw_out,
        open_writers(
            [folder / f"{n}{SUFFIX_CC}" for n in names], transform, crs, rows, cols, "float32", 0.0, cc_tags
        ) as cc_out,
    ):
        for r, c, arrays in iter_blocks(stack, ("unwrapped_phase", "coherence")):
            phase = np.nan_to_num(arrays["unwrapped_phase"], nan=0.0)
            coherence = np.nan_to_num(arrays["coherence"], nan=0.0)
            for k in range(len(names)):
                write_window(unw_out[k], phase[k], r, c)
                write_window(cc_out[k], coherence[k], r, c)
    if "height" in stack:
        height = np.nan_to_num(stack["height"].values).astype(np.float32)
        write_tif(
            folder / f"{PREFIX}_dem.tif",
            height,
            transform,
            crs,
            nodata=0.0,
            tags={"DATA_TYPE": "ORIGINAL_DEM"},
        )
    if "perpendicular_baseline" in stack.coords:
        geometry = root / "geometry"
        geometry.mkdir(parents=True, exist_ok=True)
        for r, s, b in zip(refs, secs, stack["perpendicular_baseline"].values, strict=True):
            (geometry / f"{yyyymmdd(r)}-{yyyymmdd(s)}_VV_8rlks_bperp.par").write_text(_bperp_table(float(b)))
    return root
