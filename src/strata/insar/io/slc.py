"""Readers for coregistered complex SLC stacks, and the in-memory form they share.

An SLC stack is an :class:`xarray.Dataset` (dask-backed, chunked in space) with:

- dims ``("date", "y", "x")``; ``slc`` (date, y, x) complex64;
- coords ``date`` (``datetime64[ns]``), ``y``/``x`` pixel-centre coordinates (row/column indices in
  radar geometry, or the CRS of geocoded rasters), optional ``perpendicular_baseline`` (date) in
  metres relative to the first date;
- optional geometry (y, x): ``latitude``, ``longitude`` (degrees), ``height`` (m);
- optional ``h2ph`` (date, y, x): height-to-phase factor of each date relative to the stack's
  reference acquisition (rad/m), so that the topographic phase of a pair ``(r, s)`` is
  ``(h2ph[s] - h2ph[r]) * height``;
- attrs ``wavelength`` (m), ``crs`` (WKT, empty in radar geometry), ``transform`` (GDAL
  geotransform) and ``source_format``.

Formats read by :func:`read_slc_stack` (chosen from what the folder holds):

- ``geotiff``: a folder of date-named complex GeoTIFFs ``YYYYMMDD.tif`` (CFloat32/CInt16 ...);
- ``envi``: a folder of ``YYYYMMDD.<ext>`` binary complex rasters with ENVI ``.hdr`` headers
  (data type 6 or 9, band-sequential, either byte order);
- ``zarr``: a Zarr store written from this dataset (:func:`write_slc_zarr`);
- ``znap``: SNAP's Zarr export, one ``YYYYMMDD*.znap`` folder per date with ``i_<pol>_<ddMonYYYY>``
  and ``q_<pol>_<ddMonYYYY>`` bands (big-endian float32), plus ``latitude_<pol>``,
  ``longitude_<pol>``, ``elevation_<pol>`` and ``h2ph_<pol>_<date>`` bands when exported.

GeoTIFF and ENVI folders may also hold geometry rasters named ``latitude``, ``longitude`` and
``height`` (same format and size as the SLCs) and a ``baselines.txt`` of ``YYYYMMDD bperp_m`` lines.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import numpy.typing as npt
import rasterio
import xarray as xr
import zarr
from rasterio.errors import RasterioIOError
from rasterio.windows import Window

from strata.insar.errors import ReaderError
from strata.insar.stack import SENTINEL1_WAVELENGTH

__all__ = [
    "GEOMETRY_NAMES",
    "RasterBand",
    "SLC_FORMATS",
    "make_slc_stack",
    "read_slc_envi",
    "read_slc_geotiffs",
    "read_slc_stack",
    "read_slc_zarr",
    "read_slc_znap",
    "write_slc_zarr",
]

DATE_NAME = re.compile(r"^(\d{8})(?:\.|$)")
GEOMETRY_NAMES = ("latitude", "longitude", "height")
"""Names of the optional (y, x) geometry layers of an SLC stack."""
BASELINES_FILE = "baselines.txt"
DEFAULT_CHUNK = 2048
RADAR_TRANSFORM = (0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
MONTHS = {m: i + 1 for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split())}
ENVI_DTYPES = {6: np.complex64, 9: np.complex128}


def _parse_date(text: str, source: Path) -> np.datetime64:
    try:
        return np.datetime64(dt.datetime.strptime(text, "%Y%m%d").date(), "ns")
    except ValueError as exc:
        raise ReaderError(f"{source}: '{text}' is not a YYYYMMDD date") from exc


def make_slc_stack(
    slc: Any,
    dates: npt.ArrayLike,
    *,
    x: npt.NDArray[np.float64] | None = None,
    y: npt.NDArray[np.float64] | None = None,
    crs: str = "",
    transform: tuple[float, ...] = RADAR_TRANSFORM,
    wavelength: float = SENTINEL1_WAVELENGTH,
    source_format: str = "memory",
    perpendicular_baseline: npt.ArrayLike | None = None,
    geometry: dict[str, Any] | None = None,
    h2ph: Any | None = None,
) -> xr.Dataset:
    """Assemble an SLC stack dataset (see the module docstring) from arrays, sorted by date.

    Parameters
    ----------
    slc
        (date, y, x) complex array (numpy or dask).
    dates
        Acquisition dates, one per layer.
    x, y
        Pixel-centre coordinates; pixel indices when omitted.
    crs, transform
        CRS as WKT ("" in radar geometry) and GDAL geotransform.
    wavelength
        Radar wavelength, metres.
    source_format
        Name of the format read.
    perpendicular_baseline
        Per-date perpendicular baseline, metres.
    geometry
        (y, x) arrays among ``latitude``, ``longitude``, ``height``.
    h2ph
        (date, y, x) height-to-phase factors, rad/m.

    Returns
    -------
    xarray.Dataset
        The SLC stack.

    Raises
    ------
    ReaderError
        When the layers are not complex, dates repeat, or shapes disagree.
    """
    if not np.iscomplexobj(slc) or slc.ndim != 3:
        raise ReaderError(f"SLC stack must be a complex (date, y, x) array, got {slc.dtype} {slc.shape}")
    time = np.asarray(dates, dtype="datetime64[ns]")
    if time.size != slc.shape[0]:
        raise ReaderError(f"{time.size} dates for {slc.shape[0]} SLC layers")
    if np.unique(time).size != time.size:
        raise ReaderError("SLC stack has two layers with the same date")
    rows, cols = slc.shape[1:]
    coords: dict[str, Any] = {
        "date": ("date", time),
        "y": ("y", np.arange(rows, dtype=np.float64) if y is None else np.asarray(y, dtype=np.float64)),
        "x": ("x", np.arange(cols, dtype=np.float64) if x is None else np.asarray(x, dtype=np.float64)),
    }
    if perpendicular_baseline is not None:
        coords["perpendicular_baseline"] = ("date", np.asarray(perpendicular_baseline, dtype=np.float64))
    data_vars: dict[str, Any] = {"slc": (("date", "y", "x"), slc)}
    for name, array in (geometry or {}).items():
        if name not in GEOMETRY_NAMES or array.shape != (rows, cols):
            raise ReaderError(f"geometry layer '{name}' {array.shape} does not match the SLCs {(rows, cols)}")
        data_vars[name] = (("y", "x"), array)
    if h2ph is not None:
        if h2ph.shape != slc.shape:
            raise ReaderError(f"h2ph {h2ph.shape} does not match the SLC stack {slc.shape}")
        data_vars["h2ph"] = (("date", "y", "x"), h2ph)
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
    return ds.sortby("date")


class RasterBand:
    """Lazy array view of band 1 of a raster file: dask reads windows of it on demand.

    ``da.from_array(RasterBand(path, shape, dtype), chunks=...)`` opens the file once per chunk read.
    """

    def __init__(self, path: Path, shape: tuple[int, int], dtype: np.dtype[Any]) -> None:
        self.path = path
        self.shape = shape
        self.dtype = dtype
        self.ndim = 2

    def __getitem__(self, key: tuple[slice, slice]) -> npt.NDArray[Any]:
        rows, cols = (k.indices(n) for k, n in zip(key, self.shape, strict=True))
        window = Window.from_slices(rows[:2], cols[:2])
        try:
            with rasterio.open(self.path) as src:
                data: npt.NDArray[Any] = src.read(1, window=window).astype(self.dtype, copy=False)
        except RasterioIOError as exc:
            raise ReaderError(f"{self.path}: cannot read ({exc})") from exc
        return data


def _open_raster(path: Path, *, complex_required: bool, chunks: int) -> da.Array:
    """A lazy band-1 array of a raster (complex64 SLC, or float32 for geometry)."""
    if not path.is_file():
        raise ReaderError(f"{path}: no such file")
    try:
        with rasterio.open(path) as src:
            dtype = np.dtype(src.dtypes[0]) if src.dtypes[0] != "complex_int16" else np.dtype(np.complex64)
            shape = (src.height, src.width)
    except RasterioIOError as exc:
        raise ReaderError(f"{path}: not a readable raster ({exc})") from exc
    if complex_required and not np.issubdtype(dtype, np.complexfloating):
        raise ReaderError(f"{path}: an SLC must be complex, this raster is {dtype} (real-valued)")
    target = np.dtype(np.complex64 if complex_required else np.float32)
    array: da.Array = da.from_array(
        RasterBand(path, shape, target), chunks=(chunks, chunks), meta=np.array((), target)
    )
    return array


def _georeference(path: Path) -> dict[str, Any]:
    """Pixel-centre coordinates, CRS and geotransform of a raster, as :func:`make_slc_stack` takes them."""
    with rasterio.open(path) as src:
        transform, crs, rows, cols = src.transform, src.crs, src.height, src.width
    return {
        "x": transform.c + transform.a * (np.arange(cols) + 0.5),
        "y": transform.f + transform.e * (np.arange(rows) + 0.5),
        "crs": crs.to_wkt() if crs else "",
        "transform": transform.to_gdal(),
    }


def _dated_files(folder: Path, suffixes: tuple[str, ...]) -> list[tuple[np.datetime64, Path]]:
    if not folder.is_dir():
        raise ReaderError(f"{folder}: no such folder")
    found = []
    for path in sorted(folder.iterdir()):
        match = DATE_NAME.match(path.name)
        if match and path.is_file() and path.suffix.lower() in suffixes:
            found.append((_parse_date(match.group(1), path), path))
    if not found:
        raise ReaderError(f"{folder}: no date-named SLC file (YYYYMMDD{'|'.join(suffixes)})")
    return found


def _read_baselines(folder: Path, dates: list[np.datetime64]) -> npt.NDArray[np.float64] | None:
    path = folder / BASELINES_FILE
    if not path.is_file():
        return None
    values: dict[np.datetime64, float] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        try:
            values[_parse_date(fields[0], path)] = float(fields[1])
        except (IndexError, ValueError) as exc:
            raise ReaderError(f"{path}:{number}: expected 'YYYYMMDD baseline_m', got '{line}'") from exc
    missing = [str(d)[:10] for d in dates if d not in values]
    if missing:
        raise ReaderError(f"{path}: no baseline for {', '.join(missing)}")
    return np.array([values[d] for d in dates])


def _stack_layers(layers: list[tuple[Path, da.Array]]) -> da.Array:
    shape = layers[0][1].shape
    for path, array in layers[1:]:
        if array.shape != shape:
            raise ReaderError(
                f"{path}: SLC is {array.shape[0]}x{array.shape[1]}, "
                f"but {layers[0][0].name} is {shape[0]}x{shape[1]} (a stack must be coregistered)"
            )
    stacked: da.Array = da.stack([array for _, array in layers])
    return stacked


def _geometry_layers(
    folder: Path, shape: tuple[int, int], opener: Callable[[Path], da.Array], suffixes: tuple[str, ...]
) -> dict[str, da.Array]:
    geometry = {}
    for name in GEOMETRY_NAMES:
        for suffix in suffixes:
            path = folder / f"{name}{suffix}"
            if path.is_file():
                array = opener(path)
                if array.shape != shape:
                    raise ReaderError(f"{path}: geometry is {array.shape}, the SLCs are {shape}")
                geometry[name] = array.astype(np.float32)
                break
    return geometry


def _read_dated_folder(
    folder: Path,
    *,
    source_format: str,
    suffixes: tuple[str, ...],
    opener: Callable[[Path, bool], da.Array],
    wavelength: float,
    georeference: Callable[[Path], dict[str, Any]] | None,
) -> xr.Dataset:
    """SLC stack of a folder of ``YYYYMMDD<suffix>`` rasters, geometry rasters and ``baselines.txt``."""
    files = _dated_files(folder, suffixes)
    slc = _stack_layers([(path, opener(path, True)) for _, path in files])
    geometry = _geometry_layers(folder, slc.shape[1:], lambda path: opener(path, False), suffixes)
    dates = [date for date, _ in files]
    return make_slc_stack(
        slc,
        dates,
        wavelength=wavelength,
        source_format=source_format,
        perpendicular_baseline=_read_baselines(folder, dates),
        geometry=geometry,
        **(georeference(files[0][1]) if georeference else {}),
    )


def read_slc_geotiffs(
    folder: Path | str, *, wavelength: float = SENTINEL1_WAVELENGTH, chunks: int = DEFAULT_CHUNK
) -> xr.Dataset:
    """Read a folder of date-named complex GeoTIFFs ``YYYYMMDD.tif`` as a lazy SLC stack.

    Parameters
    ----------
    folder
        Folder with the SLCs, optional ``latitude.tif``/``longitude.tif``/``height.tif`` and
        ``baselines.txt``.
    wavelength
        Radar wavelength, metres.
    chunks
        Side of the square dask chunks, pixels.

    Returns
    -------
    xarray.Dataset
        SLC stack (module docstring).

    Raises
    ------
    ReaderError
        Naming the file that is missing, real-valued or of another size.
    """
    return _read_dated_folder(
        Path(folder),
        source_format="geotiff",
        suffixes=(".tif", ".tiff"),
        opener=lambda path, is_slc: _open_raster(path, complex_required=is_slc, chunks=chunks),
        wavelength=wavelength,
        georeference=_georeference,
    )


def _envi_header(path: Path) -> dict[str, str]:
    header = path.with_name(path.name + ".hdr")
    if not header.is_file():
        header = path.with_suffix(".hdr")
    if not header.is_file():
        raise ReaderError(f"{path}: no ENVI header ({path.name}.hdr or {path.stem}.hdr)")
    text = header.read_text(encoding="utf-8", errors="replace")
    if not text.lstrip().startswith("ENVI"):
        raise ReaderError(f"{header}: not an ENVI header (first word is not 'ENVI')")
    fields = {}
    for key, value in re.findall(r"^\s*([^=\n]+?)\s*=\s*(\{[^}]*\}|[^\n]*)", text, flags=re.MULTILINE):
        fields[key.lower()] = value.strip()
    return fields


def _open_envi(path: Path, *, complex_required: bool, chunks: int) -> da.Array:
    if not path.is_file():
        raise ReaderError(f"{path}: no such file")
    header = _envi_header(path)
    try:
        rows, cols = int(header["lines"]), int(header["samples"])
        bands = int(header.get("bands", "1"))
        code = int(header["data type"])
        offset = int(header.get("header offset", "0"))
        big_endian = header.get("byte order", "0") == "1"
    except (KeyError, ValueError) as exc:
        raise ReaderError(f"{path}: ENVI header lacks or garbles {exc}") from exc
    real_types = {4: np.float32, 5: np.float64, 2: np.int16, 12: np.uint16, 1: np.uint8}
    if complex_required and code not in ENVI_DTYPES:
        raise ReaderError(f"{path}: an SLC must be complex (ENVI data type 6 or 9), got data type {code}")
    base = ENVI_DTYPES.get(code) or real_types.get(code)
    if base is None:
        raise ReaderError(f"{path}: unsupported ENVI data type {code}")
    if bands != 1:
        raise ReaderError(f"{path}: expected one band, the header says {bands}")
    dtype = np.dtype(base).newbyteorder(">" if big_endian else "<")
    expected = offset + rows * cols * dtype.itemsize
    if path.stat().st_size < expected:
        raise ReaderError(f"{path}: file holds {path.stat().st_size} bytes, the header needs {expected}")
    memmap = np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=(rows, cols))
    target = np.complex64 if complex_required else np.float32
    array: da.Array = da.from_array(memmap, chunks=(chunks, chunks)).astype(target)
    return array


def read_slc_envi(
    folder: Path | str, *, wavelength: float = SENTINEL1_WAVELENGTH, chunks: int = DEFAULT_CHUNK
) -> xr.Dataset:
    """Read a folder of date-named ENVI complex rasters (``YYYYMMDD.slc`` + ``.hdr``) as an SLC stack.

    ``YYYYMMDD.<slc|img|dat|bin|raw>`` binaries (ENVI data type 6 or 9, either byte order) with
    ``<name>.hdr`` or ``<stem>.hdr`` headers; geometry rasters and ``baselines.txt`` as for
    :func:`read_slc_geotiffs`, whose parameters, result (in radar geometry) and errors this shares;
    a truncated binary is an error too.
    """
    return _read_dated_folder(
        Path(folder),
        source_format="envi",
        suffixes=(".slc", ".img", ".dat", ".bin", ".raw"),
        opener=lambda path, is_slc: _open_envi(path, complex_required=is_slc, chunks=chunks),
        wavelength=wavelength,
        georeference=None,
    )


def _znap_band(store: Path, name: str) -> da.Array:
    try:
        array = zarr.open_array(str(store / name), mode="r")
    except (ValueError, KeyError, zarr.errors.ArrayNotFoundError) as exc:
        raise ReaderError(f"{store / name}: not a Zarr array ({exc})") from exc
    band: da.Array = da.from_zarr(array).astype(np.float32)
    return band


def read_slc_znap(
    folder: Path | str, *, polarisation: str = "VV", wavelength: float = SENTINEL1_WAVELENGTH
) -> xr.Dataset:
    """Read SNAP "znap" Zarr exports (one ``*.znap`` folder per coregistered date) as an SLC stack.

    Parameters
    ----------
    folder
        Folder holding the ``*.znap`` stores (or one store).
    polarisation
        Polarisation of the bands to read (``VV``, ``VH``, ...).
    wavelength
        Radar wavelength, metres.

    Returns
    -------
    xarray.Dataset
        SLC stack in radar geometry, with ``latitude``/``longitude``/``height`` when a store
        exports ``latitude_<pol>``/``longitude_<pol>``/``elevation_<pol>`` and ``h2ph`` (0 for the
        date without an ``h2ph`` band, i.e. SNAP's reference) when some store exports one.

    Raises
    ------
    ReaderError
        Naming the store whose bands are missing, real-only or of another size.
    """
    folder = Path(folder)
    stores = [folder] if folder.suffix == ".znap" else sorted(folder.glob("*.znap"))
    if not stores or not all(s.is_dir() for s in stores):
        raise ReaderError(f"{folder}: no SNAP .znap store")
    band_name = re.compile(rf"^i_{re.escape(polarisation)}_(\d{{2}})([A-Z][a-z]{{2}})(\d{{4}})$")
    layers, dates, h2ph_layers = [], [], []
    geometry: dict[str, da.Array] = {}
    for store in stores:
        names = sorted(p.name for p in store.iterdir() if (p / ".zarray").is_file())
        matches = [m for m in map(band_name.match, names) if m]
        if len(matches) != 1:
            raise ReaderError(
                f"{store}: expected one 'i_{polarisation}_<ddMonYYYY>' band, found {len(matches)}"
            )
        day, month, year = matches[0].groups()
        if month not in MONTHS:
            raise ReaderError(f"{store}: unknown month '{month}' in band {matches[0].string}")
        suffix = f"{polarisation}_{day}{month}{year}"
        if f"q_{suffix}" not in names:
            raise ReaderError(f"{store}: band i_{suffix} has no q_{suffix} (an SLC needs both i and q)")
        slc = _znap_band(store, f"i_{suffix}") + 1j * _znap_band(store, f"q_{suffix}")
        layers.append((store, slc.astype(np.complex64)))
        dates.append(np.datetime64(dt.date(int(year), MONTHS[month], int(day)), "ns"))
        h2ph_layers.append(_znap_band(store, f"h2ph_{suffix}") if f"h2ph_{suffix}" in names else None)
        for name, band in (("latitude", "latitude"), ("longitude", "longitude"), ("height", "elevation")):
            if name not in geometry and f"{band}_{polarisation}" in names:
                geometry[name] = _znap_band(store, f"{band}_{polarisation}")
    stacked = _stack_layers(layers)
    h2ph = None
    if any(layer is not None for layer in h2ph_layers):
        zeros = da.zeros(stacked.shape[1:], dtype=np.float32, chunks=stacked.chunksize[1:])
        h2ph = da.stack([zeros if layer is None else layer for layer in h2ph_layers])
    return make_slc_stack(
        stacked, dates, wavelength=wavelength, source_format="znap", geometry=geometry, h2ph=h2ph
    )


ZARR_COORDS = ("y", "x", "perpendicular_baseline")


def write_slc_zarr(stack: xr.Dataset, path: Path | str) -> None:
    """Write an SLC stack to a Zarr (v2) store that :func:`read_slc_zarr` reads back, block by block.

    Each variable and coordinate is an array carrying ``_ARRAY_DIMENSIONS`` (the xarray convention),
    dates are ``days since 1970-01-01``, and the group attributes hold ``wavelength``, ``crs`` and
    ``transform``.

    Parameters
    ----------
    stack
        SLC stack dataset.
    path
        Target ``.zarr`` folder (overwritten).
    """
    group = zarr.open_group(str(path), mode="w")
    group.attrs.update({k: stack.attrs[k] for k in ("wavelength", "crs", "transform")})
    days = stack["date"].values.astype("datetime64[D]").astype(np.int64)
    group.array("date", days, dtype=np.int64)
    group["date"].attrs.update({"_ARRAY_DIMENSIONS": ["date"], "units": "days since 1970-01-01"})
    for name in ZARR_COORDS:
        if name in stack.coords:
            group.array(name, stack[name].values)
            group[name].attrs["_ARRAY_DIMENSIONS"] = list(stack[name].dims)
    for key, variable in stack.data_vars.items():
        name = str(key)
        data = da.asarray(variable.data)
        target = group.create(name, shape=data.shape, chunks=data.chunksize, dtype=data.dtype, overwrite=True)
        target.attrs["_ARRAY_DIMENSIONS"] = list(variable.dims)
        da.store(data, target, lock=False)


def read_slc_zarr(path: Path | str, *, chunks: int = DEFAULT_CHUNK) -> xr.Dataset:
    """Read a Zarr SLC stack written by :func:`write_slc_zarr`, lazily.

    Parameters
    ----------
    path
        Zarr store folder.
    chunks
        Side of the square dask chunks, pixels.

    Returns
    -------
    xarray.Dataset
        SLC stack (module docstring).

    Raises
    ------
    ReaderError
        When the store is missing or holds no complex ``slc`` (date, y, x) array.
    """
    path = Path(path)
    try:
        group = zarr.open_group(str(path), mode="r")
    except (ValueError, KeyError, OSError, zarr.errors.GroupNotFoundError) as exc:
        raise ReaderError(f"{path}: not a readable Zarr store ({exc})") from exc
    names = set(group.array_keys())
    for required in ("slc", "date"):
        if required not in names:
            raise ReaderError(f"{path}: Zarr store has no '{required}' array")
    for attr in ("wavelength", "crs", "transform"):
        if attr not in group.attrs:
            raise ReaderError(f"{path}: Zarr SLC stack has no '{attr}' attribute")
    slc = da.from_zarr(group["slc"])
    if slc.ndim != 3 or not np.issubdtype(slc.dtype, np.complexfloating):
        raise ReaderError(
            f"{path}/slc: an SLC stack must be complex (date, y, x), got {slc.dtype} {slc.shape}"
        )
    slc = slc.rechunk((1, chunks, chunks))
    dates = np.datetime64("1970-01-01", "D") + group["date"][:].astype("timedelta64[D]")

    def load(name: str) -> Any:
        return da.from_zarr(group[name]).rechunk((chunks, chunks)) if name in names else None

    geometry = {name: load(name) for name in GEOMETRY_NAMES if name in names}
    h2ph = da.from_zarr(group["h2ph"]).rechunk(slc.chunks) if "h2ph" in names else None
    return make_slc_stack(
        slc,
        dates,
        x=group["x"][:] if "x" in names else None,
        y=group["y"][:] if "y" in names else None,
        crs=str(group.attrs["crs"]),
        transform=tuple(group.attrs["transform"]),
        wavelength=float(group.attrs["wavelength"]),
        source_format="zarr",
        perpendicular_baseline=group["perpendicular_baseline"][:]
        if "perpendicular_baseline" in names
        else None,
        geometry=geometry,
        h2ph=h2ph,
    )


SLC_FORMATS: dict[str, Callable[[Path], xr.Dataset]] = {
    "geotiff": read_slc_geotiffs,
    "envi": read_slc_envi,
    "zarr": read_slc_zarr,
    "znap": read_slc_znap,
}
"""Reader of each SLC stack format, by name."""


def _detect_format(path: Path) -> str:
    if not path.exists():
        raise ReaderError(f"{path}: no such file or folder")
    if path.suffix == ".znap" or any(path.glob("*.znap")):
        return "znap"
    if (path / ".zgroup").is_file():
        return "zarr"
    if any(path.glob("[0-9]" * 8 + ".tif*")):
        return "geotiff"
    if any(path.glob("[0-9]" * 8 + ".*.hdr")) or any(path.glob("[0-9]" * 8 + ".hdr")):
        return "envi"
    raise ReaderError(
        f"{path}: not an SLC stack (no *.znap, Zarr store, YYYYMMDD.tif or ENVI YYYYMMDD.* + .hdr)"
    )


def read_slc_stack(path: Path | str, *, format: str | None = None) -> xr.Dataset:
    """Read a coregistered SLC stack, detecting its format unless ``format`` is given.

    Parameters
    ----------
    path
        Folder (or Zarr / znap store) of the stack.
    format
        One of :data:`SLC_FORMATS`; detected from the folder's content when None.

    Returns
    -------
    xarray.Dataset
        SLC stack (module docstring).

    Raises
    ------
    ReaderError
        When the format is unknown or the files are unreadable; the message names the file.
    """
    path = Path(path)
    name = format or _detect_format(path)
    if name not in SLC_FORMATS:
        raise ReaderError(f"unknown SLC format '{name}' (known: {', '.join(SLC_FORMATS)})")
    return SLC_FORMATS[name](path)
