"""Readers and writers of interferogram stacks, registered by format name.

Every reader is ``read_<format>(path, chunks=None) -> xarray.Dataset`` returning a lazy, spatially
chunked stack following :mod:`strata.insar.stack`; every writer is ``write_<format>(stack, path)
-> Path`` and writes block by block. Third-party packages add formats through the entry-point
group ``strata.insar.readers`` (a name mapped to a reader callable).

Conventions of the formats, converted on reading so that every stack has the same meaning
(``phi = phase(secondary) - phase(reference)``, ``d = -lambda / (4 pi) * phi``):

- ``licsar``: LiCSAR ``GEOC/<d1>_<d2>/<d1>_<d2>.geo.{unw,cc}.tif`` (as LiCSBAS reads them);
- ``aria``: ARIA GUNW NetCDF (pairs are stored later_earlier: the phase and the baseline are
  negated, as MintPy's ``prep_aria`` does);
- ``mintpy``: MintPy ``ifgramStack.h5`` (kept interferograms: ``dropIfgram`` True);
- ``gamma``: GAMMA GeoTIFFs as PyRate prepares them (tags ``FIRST_DATE``, ``SECOND_DATE``,
  ``WAVELENGTH_METRES``);
- ``ifg``: the pair folders written by ``strata insar ifg`` (:mod:`strata.insar.io.slc_ifgs`).

:func:`stack_formats` lists every name (built-in and entry points); the workflow's configuration
validates ``input.format`` against it, so this registry is the one list of formats.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import xarray as xr

from strata.insar.errors import ReaderError
from strata.insar.io.aria import read_aria, write_aria
from strata.insar.io.gamma import read_gamma, write_gamma
from strata.insar.io.licsar import read_licsar, write_licsar
from strata.insar.io.mintpy import read_mintpy, write_mintpy
from strata.insar.io.slc_ifgs import read_slc_ifgs

__all__ = ["ENTRY_POINT_GROUP", "READERS", "WRITERS", "open_stack", "stack_formats", "write_stack_as"]

ENTRY_POINT_GROUP = "strata.insar.readers"

Reader = Callable[..., xr.Dataset]
Writer = Callable[[xr.Dataset, Path], Path]

READERS: dict[str, Reader] = {
    "licsar": read_licsar,
    "aria": read_aria,
    "mintpy": read_mintpy,
    "gamma": read_gamma,
    "ifg": read_slc_ifgs,  # what `strata insar ifg` writes (strata.insar.io.slc_ifgs)
}
"""Built-in readers by format name."""

WRITERS: dict[str, Writer] = {
    "licsar": write_licsar,
    "aria": write_aria,
    "mintpy": write_mintpy,
    "gamma": write_gamma,
}
"""Built-in writers by format name (used to write simulated stacks in every input format)."""


def stack_formats() -> list[str]:
    """Names of every stack reader: the built-in :data:`READERS`, then those added by entry points."""
    added = sorted({e.name for e in entry_points(group=ENTRY_POINT_GROUP)} - set(READERS))
    return [*READERS, *added]


def _reader(format: str) -> Reader:
    if format in READERS:
        return READERS[format]
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.name == format:
            loaded: Reader = entry.load()
            return loaded
    raise ReaderError(f"unknown stack format '{format}' (known: {', '.join(stack_formats())})")


def open_stack(path: str | Path, format: str, **options: Any) -> xr.Dataset:
    """Open an interferogram stack lazily with the reader registered for ``format``.

    Parameters
    ----------
    path
        File or folder of the stack (see each reader).
    format
        Reader name, one of :func:`stack_formats`: ``licsar``, ``aria``, ``mintpy``, ``gamma``,
        ``ifg`` or one added by an entry point.
    **options
        Passed to the reader (e.g. ``chunks``).

    Raises
    ------
    ReaderError
        Unknown format, or a file that is missing, truncated or inconsistent (the message names it).
    """
    return _reader(format)(Path(path), **options)


def write_stack_as(stack: xr.Dataset, path: str | Path, format: str) -> Path:
    """Write ``stack`` in ``format`` under ``path``; returns the path to open it with :func:`open_stack`."""
    if format not in WRITERS:
        raise ReaderError(f"no writer for stack format '{format}' (known: {', '.join(sorted(WRITERS))})")
    return WRITERS[format](stack, Path(path))
