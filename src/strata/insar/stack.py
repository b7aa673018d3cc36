"""The in-memory form of an interferogram stack, shared by every reader, the simulator and the workflow.

A stack is an :class:`xarray.Dataset` (usually backed by dask arrays, chunked in space and never
in ``pair``) with:

- dims ``("pair", "y", "x")``;
- ``unwrapped_phase`` (pair, y, x) float32, radians, NaN where missing;
- ``coherence`` (pair, y, x) float32 in [0, 1];
- optional ``connected_components`` (pair, y, x) integer (0 = unreliable, as SNAPHU writes);
- optional geometry (y, x): ``height`` (m), ``incidence_angle`` (degrees);
- coords ``reference`` and ``secondary`` (pair) as ``datetime64[ns]`` dates, ``pair`` labels
  ``YYYYMMDD_YYYYMMDD``, optional ``perpendicular_baseline`` (pair) in metres, and ``y``/``x``
  pixel-centre coordinates in the CRS;
- attrs ``wavelength`` (m), ``crs`` (WKT), ``transform`` (GDAL geotransform, 6 floats) and
  ``source_format``.

Phase convention: the interferogram ``reference_secondary`` is phase(secondary) - phase(reference),
so a stack reads as displacement of secondary relative to reference once converted by
:func:`phase_to_mm` (positive toward the satellite, LiCSBAS/MintPy convention).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import xarray as xr

from strata.insar.errors import StackError

__all__ = [
    "SENTINEL1_WAVELENGTH",
    "dates_of",
    "lonlat_bounds",
    "make_stack",
    "pair_label",
    "phase_to_mm",
    "validate_stack",
]

SENTINEL1_WAVELENGTH = 0.05546576
"""Sentinel-1 C-band radar wavelength in metres."""

REQUIRED_VARS = ("unwrapped_phase", "coherence")


def pair_label(reference: np.datetime64, secondary: np.datetime64) -> str:
    """``YYYYMMDD_YYYYMMDD`` label of a pair, as LiCSAR and MintPy name them."""
    fmt = "%Y%m%d"
    ref = reference.astype("datetime64[s]").item().strftime(fmt)
    sec = secondary.astype("datetime64[s]").item().strftime(fmt)
    return f"{ref}_{sec}"


def phase_to_mm(phase: Any, wavelength: float) -> Any:
    """Convert unwrapped phase (rad) to line-of-sight displacement in mm, positive toward the satellite.

    ``d = -lambda / (4 pi) * phi * 1000`` (LiCSBAS convention for LiCSAR products).
    """
    return phase * (-wavelength / (4.0 * np.pi) * 1000.0)


def make_stack(
    unwrapped_phase: Any,
    coherence: Any,
    reference: Sequence[np.datetime64] | npt.NDArray[np.datetime64],
    secondary: Sequence[np.datetime64] | npt.NDArray[np.datetime64],
    *,
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
    crs: str,
    transform: Sequence[float],
    wavelength: float = SENTINEL1_WAVELENGTH,
    source_format: str = "memory",
    perpendicular_baseline: Sequence[float] | None = None,
    connected_components: Any | None = None,
    geometry: dict[str, Any] | None = None,
) -> xr.Dataset:
    """Assemble a stack dataset from arrays (numpy or dask) and validate it."""
    ref = np.asarray(reference, dtype="datetime64[D]").astype("datetime64[ns]")
    sec = np.asarray(secondary, dtype="datetime64[D]").astype("datetime64[ns]")
    labels = [pair_label(r, s) for r, s in zip(ref, sec, strict=True)]
    coords: dict[str, Any] = {
        "pair": ("pair", labels),
        "reference": ("pair", ref),
        "secondary": ("pair", sec),
        "y": ("y", np.asarray(y, dtype=np.float64)),
        "x": ("x", np.asarray(x, dtype=np.float64)),
    }
    if perpendicular_baseline is not None:
        coords["perpendicular_baseline"] = ("pair", np.asarray(perpendicular_baseline, dtype=np.float64))
    data_vars: dict[str, Any] = {
        "unwrapped_phase": (("pair", "y", "x"), unwrapped_phase),
        "coherence": (("pair", "y", "x"), coherence),
    }
    if connected_components is not None:
        data_vars["connected_components"] = (("pair", "y", "x"), connected_components)
    for name, array in (geometry or {}).items():
        data_vars[name] = (("y", "x"), array)
    ds = xr.Dataset(
        data_vars,
        coords=coords,
        attrs={
            "wavelength": float(wavelength),
            "crs": crs,
            "transform": [float(v) for v in transform],
            "source_format": source_format,
        },
    )
    validate_stack(ds)
    return ds


def validate_stack(ds: xr.Dataset) -> None:
    """Check that ``ds`` follows the stack contract of this module.

    Raises
    ------
    StackError
        Naming what is missing or inconsistent.
    """
    for name in REQUIRED_VARS:
        if name not in ds:
            raise StackError(f"stack has no '{name}' variable")
        if ds[name].dims != ("pair", "y", "x"):
            raise StackError(f"'{name}' has dims {ds[name].dims}, expected ('pair', 'y', 'x')")
    for attr in ("wavelength", "crs", "transform"):
        if attr not in ds.attrs:
            raise StackError(f"stack has no '{attr}' attribute")
    if ds.sizes["pair"] == 0:
        raise StackError("stack has no interferogram")
    ref = ds["reference"].values
    sec = ds["secondary"].values
    if np.any(sec <= ref):
        bad = [str(p) for p in ds["pair"].values[sec <= ref]]
        raise StackError(f"pairs whose secondary date is not after the reference: {', '.join(bad[:5])}")
    if len(set(ds["pair"].values.tolist())) != ds.sizes["pair"]:
        raise StackError("stack has duplicate pairs")


def dates_of(ds: xr.Dataset) -> npt.NDArray[np.datetime64]:
    """Sorted unique acquisition dates of a stack (``datetime64[ns]``)."""
    return np.unique(np.concatenate([ds["reference"].values, ds["secondary"].values]))


def lonlat_bounds(ds: xr.Dataset) -> tuple[float, float, float, float]:
    """(west, south, east, north) of a stack's grid in WGS 84 longitude/latitude, pixel edges included."""
    from rasterio.warp import transform_bounds

    x0, dx, _, y0, _, dy = (float(v) for v in ds.attrs["transform"])
    xs = sorted((x0, x0 + dx * ds.sizes["x"]))
    ys = sorted((y0, y0 + dy * ds.sizes["y"]))
    west, south, east, north = transform_bounds(ds.attrs["crs"], "EPSG:4326", xs[0], ys[0], xs[1], ys[1])
    return (float(west), float(south), float(east), float(north))
