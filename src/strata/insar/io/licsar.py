"""LiCSAR ``GEOC`` stacks: reader and writer.

Layout (as LiCSBAS step 01 downloads it and step 02 reads it)::

    GEOC/
      <d1>_<d2>/<d1>_<d2>.geo.unw.tif   unwrapped phase (rad, float32, 0 = no data)
      <d1>_<d2>/<d1>_<d2>.geo.cc.tif    coherence (uint8 0-255, or float32 0-1)
      <frame>.geo.{E,N,U}.tif           LOS unit vector (ground to satellite)
      <frame>.geo.hgt.tif               DEM height (m)
      metadata.txt                      key=value lines (master, center_time, heading, inc_angle, ...)
      baselines                         "<prime> <date> <bperp> <dt>" per date

The phase converts as LiCSBAS does, ``d[mm] = -lambda / (4 pi) * phi * 1000``; LiCSAR's metadata
carry no wavelength, so it is Sentinel-1's unless ``wavelength`` or ``radar_frequency`` is given.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import xarray as xr

from strata.insar.errors import ReaderError
from strata.insar.io._common import (
    Grid,
    check_not_empty,
    date_baselines,
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
    read_band,
    read_tif_window,
    write_tif,
    write_window,
)
from strata.insar.stack import SENTINEL1_WAVELENGTH, make_stack

__all__ = ["read_licsar", "read_metadata", "write_licsar"]

SPEED_OF_LIGHT = 299_792_458.0
_PAIR_DIR = re.compile(r"\d{8}_\d{8}")
DEFAULT_FRAME = "000A_00000_000000"
DEFAULT_HEADING = -10.0


def _geoc(path: Path) -> Path:
    geoc = path / "GEOC" if (path / "GEOC").is_dir() else path
    if not geoc.is_dir():
        raise ReaderError(f"{path}: no LiCSAR GEOC folder")
    return geoc


def read_metadata(path: Path) -> dict[str, str]:
    """``key=value`` lines of a LiCSAR ``metadata.txt`` (empty dict when the file is absent)."""
    if not path.is_file():
        return {}
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if "=" in line:
            key, value = line.split("=", 1)
            out[key.strip()] = value.strip()
    return out


def _wavelength(metadata: dict[str, str], source: Path) -> float:
    try:
        if "wavelength" in metadata:
            return float(metadata["wavelength"])
        for key in ("radar_frequency", "radar_freq"):
            if key in metadata:
                return SPEED_OF_LIGHT / float(metadata[key].split()[0])
    except ValueError:
        raise ReaderError(f"{source}: wavelength or radar frequency is not a number") from None
    return SENTINEL1_WAVELENGTH


def _read_baselines(path: Path) -> dict[np.datetime64, float]:
    if not path.is_file():
        return {}
    out: dict[np.datetime64, float] = {}
    for line in path.read_text().splitlines():
        fields = line.split()
        if len(fields) == 4 and fields[0][:1] in "12":
            try:
                prime, date = parse_date_pair(f"{fields[0]}_{fields[1]}", path)
                out[prime] = 0.0
                out[date] = float(fields[2])
            except (ReaderError, ValueError):
                raise ReaderError(f"{path}: cannot parse baselines line '{line}'") from None
    return out


def _pair_dirs(geoc: Path) -> list[tuple[Path, np.datetime64, np.datetime64]]:
    pairs = []
    for entry in sorted(geoc.iterdir()):
        if not entry.is_dir():
            continue
        looks_like_pair = any(entry.glob("*.geo.unw.tif")) or "_" in entry.name
        if not looks_like_pair:
            continue
        if not _PAIR_DIR.fullmatch(entry.name):
            raise ReaderError(f"{entry}: folder name is not a date pair YYYYMMDD_YYYYMMDD")
        first, second = parse_date_pair(entry.name, entry)
        if second <= first:
            raise ReaderError(f"{entry}: second date is not after the first")
        pairs.append((entry, first, second))
    if not pairs:
        raise ReaderError(f"{geoc}: no interferogram folder <d1>_<d2>")
    return pairs


def _geometry(geoc: Path, grid: Grid) -> dict[str, Any]:
    geometry: dict[str, Any] = {}
    for name, suffix in (("height", "hgt"), ("los_up", "U")):
        files = sorted(geoc.glob(f"*.geo.{suffix}.tif"))
        if not files:
            continue
        grid.check(raster_grid(files[0]), files[0])
        data = read_band(files[0], kind="phase")  # 0 = no data, as LiCSBAS reads them
        if name == "height":
            geometry["height"] = data
        else:
            geometry["incidence_angle"] = np.degrees(np.arccos(np.clip(data, -1.0, 1.0))).astype(np.float32)
    return geometry


def read_licsar(path: Path, chunks: int | tuple[int, int] | None = None, check: bool = True) -> xr.Dataset:
    """Open a LiCSAR ``GEOC`` folder (or its parent) as a lazy stack.

    Parameters
    ----------
    path
        The ``GEOC`` folder, or a folder that contains it.
    chunks
        Spatial chunk size (pixels); the pair dimension is never chunked.
    check
        Sample every interferogram to reject truncated or all-NaN files up front.

    Raises
    ------
    ReaderError
        Naming the file or folder: a folder that is not a date pair, a missing or unreadable
        file, grids that do not match, an interferogram with no valid pixel.
    """
    geoc = _geoc(Path(path))
    pairs = _pair_dirs(geoc)
    unw = [TiffBand(d / f"{d.name}.geo.unw.tif", "phase") for d, _, _ in pairs]
    cc = [TiffBand(d / f"{d.name}.geo.cc.tif", "coherence") for d, _, _ in pairs]
    grid = raster_grid(unw[0].path)
    for band in [*unw, *cc]:
        grid.check(raster_grid(band.path), band.path)
    shape = (grid.rows, grid.cols)
    if check:
        check_not_empty(unw, read_tif_window, shape, lambda band: str(band.path))
    metadata = read_metadata(geoc / "metadata.txt")
    baselines = _read_baselines(geoc / "baselines")
    refs = [p[1] for p in pairs]
    secs = [p[2] for p in pairs]
    bperp = None
    if baselines and all(d in baselines for d in (*refs, *secs)):
        bperp = [baselines[s] - baselines[r] for r, s in zip(refs, secs, strict=True)]
    size = normalize_chunks(chunks)
    token = stack_token(str(geoc.resolve()), len(pairs))
    y, x = pixel_coordinates(grid.transform, grid.rows, grid.cols)
    return make_stack(
        lazy_stack(unw, read_tif_window, shape, size, np.float32, f"licsar-unw-{token}"),
        lazy_stack(cc, read_tif_window, shape, size, np.float32, f"licsar-cc-{token}"),
        refs,
        secs,
        x=x,
        y=y,
        crs=grid.crs,
        transform=grid.transform,
        wavelength=_wavelength(metadata, geoc / "metadata.txt"),
        source_format="licsar",
        perpendicular_baseline=bperp,
        geometry=_geometry(geoc, grid),
    )


def _los_vector(incidence: npt.NDArray[np.float32], heading_deg: float) -> dict[str, npt.NDArray[np.float32]]:
    inc = np.radians(incidence)
    heading = np.radians(heading_deg)
    return {
        "E": (-np.sin(inc) * np.cos(heading)).astype(np.float32),
        "N": (np.sin(inc) * np.sin(heading)).astype(np.float32),
        "U": np.cos(inc).astype(np.float32),
    }


def write_licsar(
    stack: xr.Dataset, path: Path, frame: str = DEFAULT_FRAME, coherence_dtype: str = "uint8"
) -> Path:
    """Write a stack as a LiCSAR ``GEOC`` folder under ``path``, block by block.

    Coherence is written as uint8 0-255 (as LiCSAR publishes it) or float32 0-1; NaN phase is
    written as 0 (LiCSAR's no-data). Returns the ``GEOC`` folder.
    """
    geoc = Path(path) / "GEOC"
    geoc.mkdir(parents=True, exist_ok=True)
    transform = stack.attrs["transform"]
    crs = stack.attrs["crs"]
    rows, cols = stack.sizes["y"], stack.sizes["x"]
    labels = [str(p) for p in stack["pair"].values]
    unw_paths = [geoc / label / f"{label}.geo.unw.tif" for label in labels]
    cc_paths = [geoc / label / f"{label}.geo.cc.tif" for label in labels]
    with (
        open_writers(unw_paths, transform, crs, rows, cols, "float32", 0.0) as unw_out,
        open_writers(cc_paths, transform, crs, rows, cols, coherence_dtype, None) as cc_out,
    ):
        for r, c, arrays in iter_blocks(stack, ("unwrapped_phase", "coherence")):
            phase = np.nan_to_num(arrays["unwrapped_phase"], nan=0.0)
            coherence = np.nan_to_num(arrays["coherence"], nan=0.0)
            if coherence_dtype == "uint8":
                coherence = np.clip(np.rint(coherence * 255.0), 0, 255).astype(np.uint8)
            for k in range(len(labels)):
                write_window(unw_out[k], phase[k], r, c)
                write_window(cc_out[k], coherence[k], r, c)
    if "height" in stack:
        write_tif(geoc / f"{frame}.geo.hgt.tif", np.nan_to_num(stack["height"].values), transform, crs)
    if "incidence_angle" in stack:
        vectors = _los_vector(stack["incidence_angle"].values, DEFAULT_HEADING)
        for name, array in vectors.items():
            write_tif(geoc / f"{frame}.geo.{name}.tif", array, transform, crs)
    dates, bperp = date_baselines(stack)
    prime = yyyymmdd(dates[0])
    lines = [
        f"{prime} {yyyymmdd(d)} {b:.3f} {int((d - dates[0]).astype('timedelta64[D]').astype(int))}"
        for d, b in zip(dates[1:], bperp[1:], strict=True)
    ]
    (geoc / "baselines").write_text("\n".join(lines) + "\n")
    inc = float(np.nanmean(stack["incidence_angle"].values)) if "incidence_angle" in stack else 39.0
    (geoc / "metadata.txt").write_text(
        f"master={prime}\nheading={DEFAULT_HEADING}\ninc_angle={inc:.4f}\n"
        f"wavelength={stack.attrs['wavelength']}\n"
    )
    return geoc
