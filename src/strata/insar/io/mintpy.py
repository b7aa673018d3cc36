"""MintPy ``ifgramStack.h5`` (+ ``geometryGeo.h5``): reader and writer.

Layout (MintPy ``prep_aria``/``load_data``): datasets ``date`` (n, 2) ``S8`` ``YYYYMMDD``, ``bperp``
(n,) float32, ``dropIfgram`` (n,) bool (True = kept), ``unwrapPhase`` (n, length, width) float32
radians (0 = no data), ``coherence``, ``connectComponent`` int16; root attributes ``FILE_TYPE``
= ``ifgramStack``, ``LENGTH``, ``WIDTH``, ``WAVELENGTH``, ``X_FIRST``/``Y_FIRST`` (upper-left
corner), ``X_STEP``/``Y_STEP``, ``X_UNIT``/``Y_UNIT``, ``EPSG``. MintPy's phase convention
(positive = motion away from the satellite, date1 earlier) is the stack's: no sign change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import numpy.typing as npt
import xarray as xr
from pyproj import CRS
from pyproj.exceptions import CRSError

from strata.insar.errors import ReaderError
from strata.insar.io._common import (
    check_not_empty,
    iter_blocks,
    lazy_cube,
    normalize_chunks,
    parse_date_pair,
    pixel_coordinates,
    stack_token,
)
from strata.insar.stack import make_stack

__all__ = ["grid_attributes", "read_mintpy", "write_mintpy"]

STACK_FILE = "ifgramStack.h5"
GEOMETRY_FILE = "geometryGeo.h5"
RADAR_TRANSFORM = (0.0, 1.0, 0.0, 0.0, 0.0, 1.0)


def _find(path: Path) -> Path:
    if path.is_file():
        return path
    for candidate in (path / "inputs" / STACK_FILE, path / STACK_FILE):
        if candidate.is_file():
            return candidate
    raise ReaderError(f"{path}: no {STACK_FILE} (looked in the folder and in inputs/)")


def _attr(attrs: Any, key: str, source: Path) -> str:
    if key not in attrs:
        raise ReaderError(f"{source}: attribute {key} is missing")
    value = attrs[key]
    return value.decode() if isinstance(value, bytes) else str(value)


def _crs_and_transform(attrs: Any, source: Path) -> tuple[str, tuple[float, ...]]:
    if "X_FIRST" not in attrs:
        return "", RADAR_TRANSFORM
    x0, dx = float(_attr(attrs, "X_FIRST", source)), float(_attr(attrs, "X_STEP", source))
    y0, dy = float(_attr(attrs, "Y_FIRST", source)), float(_attr(attrs, "Y_STEP", source))
    unit = _attr(attrs, "X_UNIT", source).lower() if "X_UNIT" in attrs else ""
    try:
        if "EPSG" in attrs:
            crs = CRS.from_epsg(int(_attr(attrs, "EPSG", source))).to_wkt()
        elif unit.startswith("deg") or (not unit and abs(dx) < 1):
            crs = CRS.from_epsg(4326).to_wkt()
        else:
            crs = ""
    except (CRSError, ValueError):
        raise ReaderError(f"{source}: EPSG attribute is not a valid EPSG code") from None
    return crs, (x0, dx, 0.0, y0, 0.0, dy)


@dataclass(frozen=True)
class _Cube:
    path: Path
    name: str
    index: tuple[int, ...]

    def __call__(self, window: tuple[slice, slice]) -> npt.NDArray[Any]:
        try:
            with h5py.File(self.path, "r") as f:
                raw = f[self.name][:, window[0], window[1]]
        except (OSError, KeyError) as exc:
            raise ReaderError(f"{self.path}: cannot read {self.name} ({exc})") from None
        raw = np.asarray(raw)[list(self.index)]
        if self.name == "unwrapPhase":
            data: npt.NDArray[np.float32] = raw.astype(np.float32)
            data[raw == 0] = np.nan
            return data
        return raw

    def pair(self, k: int, window: tuple[slice, slice]) -> npt.NDArray[Any]:
        """One interferogram's window (for the empty-file check)."""
        try:
            with h5py.File(self.path, "r") as f:
                raw = np.asarray(f[self.name][self.index[k], window[0], window[1]], dtype=np.float32)
        except (OSError, KeyError) as exc:
            raise ReaderError(f"{self.path}: cannot read {self.name} ({exc})") from None
        raw[raw == 0] = np.nan
        return raw


def _geometry(folder: Path, shape: tuple[int, int]) -> dict[str, Any]:
    path = folder / GEOMETRY_FILE
    if not path.is_file():
        return {}
    out: dict[str, Any] = {}
    try:
        with h5py.File(path, "r") as f:
            for ours, theirs in (("height", "height"), ("incidence_angle", "incidenceAngle")):
                if theirs in f:
                    if f[theirs].shape != shape:
                        raise ReaderError(f"{path}: {theirs} shape {f[theirs].shape} does not match {shape}")
                    out[ours] = np.asarray(f[theirs][()], dtype=np.float32)
    except OSError as exc:
        raise ReaderError(f"{path}: cannot read HDF5 ({exc})") from None
    return out


def read_mintpy(path: Path, chunks: int | tuple[int, int] | None = None, check: bool = True) -> xr.Dataset:
    """Open a MintPy ``ifgramStack.h5`` as a lazy stack (kept interferograms only).

    Parameters
    ----------
    path
        The file, or a MintPy folder holding ``inputs/ifgramStack.h5``; height and incidence
        angle come from ``geometryGeo.h5`` beside it when present.
    chunks
        Spatial chunk size (pixels).
    check
        Sample every interferogram to reject all-NaN (all-zero) ones up front.

    Raises
    ------
    ReaderError
        Naming the file: unreadable or truncated HDF5, missing datasets or attributes,
        datasets whose shapes disagree, an interferogram with no valid pixel.
    """
    source = _find(Path(path))
    try:
        with h5py.File(source, "r") as f:
            for name in ("date", "unwrapPhase", "coherence"):
                if name not in f:
                    raise ReaderError(f"{source}: dataset '{name}' is missing (not an ifgramStack file)")
            n, rows, cols = f["unwrapPhase"].shape
            if f["coherence"].shape != (n, rows, cols) or f["date"].shape != (n, 2):
                raise ReaderError(f"{source}: unwrapPhase, coherence and date shapes do not match")
            dates = [[d.decode() if isinstance(d, bytes) else str(d) for d in row] for row in f["date"][()]]
            keep = np.asarray(f["dropIfgram"][()], dtype=bool) if "dropIfgram" in f else np.ones(n, bool)
            bperp = np.asarray(f["bperp"][()], dtype=np.float64) if "bperp" in f else None
            has_cc = "connectComponent" in f
            wavelength = float(_attr(f.attrs, "WAVELENGTH", source))
            crs, transform = _crs_and_transform(f.attrs, source)
    except OSError as exc:
        raise ReaderError(f"{source}: cannot read HDF5 ({exc})") from None
    index = tuple(int(i) for i in np.flatnonzero(keep))
    if not index:
        raise ReaderError(f"{source}: every interferogram is dropped (dropIfgram all False)")
    pairs = [parse_date_pair(f"{dates[i][0]}_{dates[i][1]}", source) for i in index]
    shape = (rows, cols)
    phase = _Cube(source, "unwrapPhase", index)
    if check:
        check_not_empty(
            list(range(len(index))),
            phase.pair,
            shape,
            lambda k: f"{source} [{dates[index[k]][0]}_{dates[index[k]][1]}]",
        )
    size = normalize_chunks(chunks)
    token = stack_token(str(source.resolve()), index, source.stat().st_mtime_ns)
    y, x = pixel_coordinates(transform, rows, cols)
    return make_stack(
        lazy_cube(phase, len(index), shape, size, np.float32, f"mintpy-unw-{token}"),
        lazy_cube(
            _Cube(source, "coherence", index), len(index), shape, size, np.float32, f"mintpy-coh-{token}"
        ),
        [p[0] for p in pairs],
        [p[1] for p in pairs],
        x=x,
        y=y,
        crs=crs,
        transform=transform,
        wavelength=wavelength,
        source_format="mintpy",
        perpendicular_baseline=None if bperp is None else bperp[list(index)].tolist(),
        connected_components=(
            lazy_cube(
                _Cube(source, "connectComponent", index),
                len(index),
                shape,
                size,
                np.int16,
                f"mintpy-cc-{token}",
            )
            if has_cc
            else None
        ),
        geometry=_geometry(source.parent, shape),
    )


def grid_attributes(
    rows: int, cols: int, transform: Sequence[float], crs: str, wavelength: float
) -> dict[str, str]:
    """MintPy grid attributes (``LENGTH``, ``WIDTH``, ``X_FIRST``... ``EPSG``, ``WAVELENGTH``) as strings."""
    x0, dx, _, y0, _, dy = (float(v) for v in transform)
    attrs = {
        "LENGTH": str(rows),
        "WIDTH": str(cols),
        "X_FIRST": repr(x0),
        "Y_FIRST": repr(y0),
        "X_STEP": repr(dx),
        "Y_STEP": repr(dy),
        "WAVELENGTH": repr(float(wavelength)),
    }
    if crs:
        parsed = CRS.from_user_input(crs)
        unit = "degrees" if parsed.is_geographic else "meters"
        attrs.update(X_UNIT=unit, Y_UNIT=unit)
        epsg = parsed.to_epsg()
        if epsg is not None:
            attrs["EPSG"] = str(epsg)
    return attrs


def write_mintpy(stack: xr.Dataset, path: Path) -> Path:
    """Write a stack as MintPy ``inputs/ifgramStack.h5`` + ``inputs/geometryGeo.h5``, block by block.

    NaN phase is written as 0 (MintPy's no-data). Returns the ``ifgramStack.h5`` path.
    """
    folder = Path(path) / "inputs"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / STACK_FILE
    n, rows, cols = stack.sizes["pair"], stack.sizes["y"], stack.sizes["x"]
    chunk = (1, min(rows, 256), min(cols, 256))
    names = ["unwrapped_phase", "coherence"] + (
        ["connected_components"] if "connected_components" in stack else []
    )
    attrs = {
        "FILE_TYPE": "ifgramStack",
        "PROCESSOR": "strata",
        "UNIT": "radian",
        **grid_attributes(
            rows, cols, stack.attrs["transform"], stack.attrs["crs"], stack.attrs["wavelength"]
        ),
    }
    ref = stack["reference"].values.astype("datetime64[D]").astype(str)
    sec = stack["secondary"].values.astype("datetime64[D]").astype(str)
    with h5py.File(target, "w") as f:
        f.attrs.update(attrs)
        f["date"] = np.array(
            [[r.replace("-", ""), s.replace("-", "")] for r, s in zip(ref, sec, strict=True)], dtype="S8"
        )
        f["dropIfgram"] = np.ones(n, dtype=bool)
        bperp = (
            stack["perpendicular_baseline"].values
            if "perpendicular_baseline" in stack.coords
            else np.zeros(n)
        )
        f["bperp"] = bperp.astype(np.float32)
        datasets = {
            "unwrapped_phase": f.create_dataset("unwrapPhase", (n, rows, cols), np.float32, chunks=chunk),
            "coherence": f.create_dataset("coherence", (n, rows, cols), np.float32, chunks=chunk),
            "connected_components": f.create_dataset(
                "connectComponent", (n, rows, cols), np.int16, chunks=chunk
            ),
        }
        for r, c, arrays in iter_blocks(stack, names):
            datasets["unwrapped_phase"][:, r, c] = np.nan_to_num(arrays["unwrapped_phase"], nan=0.0)
            datasets["coherence"][:, r, c] = np.nan_to_num(arrays["coherence"])
            components = arrays.get("connected_components")
            if components is None:
                components = np.isfinite(arrays["unwrapped_phase"]).astype(np.int16)
            datasets["connected_components"][:, r, c] = components
    with h5py.File(folder / GEOMETRY_FILE, "w") as f:
        f.attrs.update({**attrs, "FILE_TYPE": "geometry", "UNIT": "1"})
        for ours, theirs in (("height", "height"), ("incidence_angle", "incidenceAngle")):
            if ours in stack:
                f[theirs] = np.asarray(stack[ours].values, dtype=np.float32)
    return target
