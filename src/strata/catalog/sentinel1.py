"""Sentinel-1 product names and orbit arithmetic.

Name layout (ESA, *Sentinel-1 Product Specification*, section 3.1.1)::

    MMM_BB_TTTR_LFPP_YYYYMMDDTHHMMSS_YYYYMMDDTHHMMSS_OOOOOO_DDDDDD_CCCC
    S1A_IW_SLC__1SDV_20210401T052622_20210401T052650_026269_032297_EFA4

``MMM`` mission, ``BB`` mode/beam, ``TTT`` product type, ``R`` resolution class (GRD: F/H/M),
``L`` level, ``F`` class (S standard, A annotation), ``PP`` polarisation, start, stop, absolute
orbit, mission datatake id (hex), product unique identifier (CRC-16 of the manifest, hex).

Relative orbit and cycle from the absolute orbit, checked against real records in
``../shared/data`` (tests/catalog/test_sentinel1.py):

- S1A: relative ``(abs - 73) % 175 + 1``, cycle ``(abs - 73) // 175 + 15``;
- S1B: relative ``(abs - 27) % 175 + 1``, cycle ``(abs - 27) // 175 + 7``;
- S1C: relative ``(abs - 172) % 175 + 1`` (checked on an S1A/S1C 6-day pair on one track);
  no real S1C cycle number was found, so the cycle is left unknown.

The cycle offsets come from the manifests' ``safe:cycleNumber`` (S1A orbits 37074, 39104,
39156, 47579 and S1B 26269, 28179, 30148 all agree).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, NamedTuple

from strata.catalog.errors import ItemError

__all__ = [
    "ORBITS_PER_CYCLE",
    "REPEAT_DAYS",
    "S1Name",
    "cycle_number",
    "format_name",
    "is_s1_name",
    "name_fields",
    "parse_name",
    "polarisations_from_code",
    "relative_orbit",
]

ORBITS_PER_CYCLE = 175
REPEAT_DAYS = 12

# satellite letter -> (orbit offset for the relative orbit, cycle offset or None when unknown)
_ORBIT_PHASE: dict[str, tuple[int, int | None]] = {"A": (73, 15), "B": (27, 7), "C": (172, None)}

_POLARISATIONS: dict[str, tuple[str, ...]] = {
    "SH": ("HH",),
    "SV": ("VV",),
    "DH": ("HH", "HV"),
    "DV": ("VV", "VH"),
    "HH": ("HH",),
    "HV": ("HV",),
    "VV": ("VV",),
    "VH": ("VH",),
}
_CODES = {pols: code for code, pols in _POLARISATIONS.items() if code[0] in "SD"}

_RESOLUTION = {"F": "full", "H": "high", "M": "medium"}

_NAME = re.compile(
    r"^S1(?P<sat>[A-D])_(?P<mode>IW|EW|WV|S[1-6]|EN|N[1-6]|Z[1-6EIW]|RF|GP|HK)"
    r"_(?P<type>RAW|SLC|GRD|OCN|ETA|SL1|GR1)(?P<res>[FHM_])"
    r"_(?P<level>[0-2])(?P<cls>[SACN])(?P<pol>SH|SV|DH|DV|HH|HV|VV|VH)"
    r"_(?P<start>\d{8}T\d{6})_(?P<stop>\d{8}T\d{6})"
    r"_(?P<orbit>\d{6})_(?P<datatake>[0-9A-F]{6})(?:_(?P<crc>[0-9A-F]{4}))?$"
)
_SUFFIXES = (".SAFE", ".zip", ".ZIP", ".safe", "-SLC", "-GRD_HD", "-GRD_HS", "-GRD_MD", "-GRD_MS", "-RAW")


class S1Name(NamedTuple):
    """The fields of a Sentinel-1 product name."""

    name: str
    satellite: str
    """``A``, ``B``, ``C`` or ``D``."""
    mode: str
    product_type: str
    resolution: str | None
    level: int
    product_class: str
    polarisation_code: str
    start: datetime
    stop: datetime
    absolute_orbit: int
    datatake_id: int
    crc: str | None

    @property
    def platform(self) -> str:
        """STAC platform name, e.g. ``sentinel-1a``."""
        return "sentinel-1" + self.satellite.lower()

    @property
    def polarisations(self) -> tuple[str, ...]:
        """Polarisations of the product, e.g. ``("VV", "VH")``."""
        return _POLARISATIONS[self.polarisation_code]

    @property
    def relative_orbit(self) -> int | None:
        """Relative orbit (track) 1..175, or None for a satellite whose phase is unknown."""
        return relative_orbit(self.satellite, self.absolute_orbit)

    @property
    def cycle(self) -> int | None:
        """Repeat-cycle number, or None when it cannot be derived."""
        return cycle_number(self.satellite, self.absolute_orbit)


def _strip(name: str) -> str:
    base = name.strip().rsplit("/", 1)[-1]
    for suffix in _SUFFIXES:
        if base.endswith(suffix):
            base = base[: -len(suffix)]
    return base


def _timestamp(text: str) -> datetime:
    return datetime(
        int(text[0:4]),
        int(text[4:6]),
        int(text[6:8]),
        int(text[9:11]),
        int(text[11:13]),
        int(text[13:15]),
        0,
        UTC,
    )


def is_s1_name(name: str) -> bool:
    """Whether ``name`` (optionally with ``.SAFE``/``.zip``) is a Sentinel-1 product name."""
    return _NAME.match(_strip(name)) is not None


def parse_name(name: str) -> S1Name:
    """Parse a Sentinel-1 product name (``.SAFE``, ``.zip`` and ASF ``-SLC`` suffixes are ignored).

    Raises
    ------
    ItemError
        If ``name`` is not a Sentinel-1 product name.
    """
    base = _strip(name)
    match = _NAME.match(base)
    if match is None:
        raise ItemError(f"not a Sentinel-1 product name: {name!r}")
    g = match.groupdict()
    try:
        start, stop = _timestamp(g["start"]), _timestamp(g["stop"])
    except ValueError:
        raise ItemError(f"bad date in Sentinel-1 product name: {name!r}") from None
    return S1Name(
        name=base,
        satellite=g["sat"],
        mode=g["mode"],
        product_type=g["type"],
        resolution=_RESOLUTION.get(g["res"]),
        level=int(g["level"]),
        product_class=g["cls"],
        polarisation_code=g["pol"],
        start=start,
        stop=stop,
        absolute_orbit=int(g["orbit"]),
        datatake_id=int(g["datatake"], 16),
        crc=g["crc"],
    )


def relative_orbit(satellite: str, absolute_orbit: int) -> int | None:
    """Relative orbit 1..175 of a Sentinel-1 absolute orbit; None for an unknown satellite phase.

    Parameters
    ----------
    satellite
        ``A``, ``B``, ``C`` (or the platform ``sentinel-1a``...).
    absolute_orbit
        Absolute orbit number.
    """
    phase = _ORBIT_PHASE.get(satellite[-1].upper())
    if phase is None:
        return None
    return (absolute_orbit - phase[0]) % ORBITS_PER_CYCLE + 1


def cycle_number(satellite: str, absolute_orbit: int) -> int | None:
    """Repeat-cycle number of a Sentinel-1 absolute orbit; None where it is not known."""
    phase = _ORBIT_PHASE.get(satellite[-1].upper())
    if phase is None or phase[1] is None:
        return None
    return (absolute_orbit - phase[0]) // ORBITS_PER_CYCLE + phase[1]


def polarisations_from_code(code: str) -> tuple[str, ...]:
    """Polarisations of a name's ``PP`` code: ``DV`` -> ``("VV", "VH")``, ``SH`` -> ``("HH",)``."""
    try:
        return _POLARISATIONS[code]
    except KeyError:
        raise ItemError(f"unknown Sentinel-1 polarisation code {code!r}") from None


def format_name(
    satellite: str,
    mode: str,
    product_type: str,
    resolution: str,
    level: int,
    polarisations: tuple[str, ...],
    start: datetime,
    stop: datetime,
    absolute_orbit: int,
    datatake_id: int,
    crc: int,
) -> str:
    """Compose a Sentinel-1 product name (the inverse of :func:`parse_name`).

    ``resolution`` is ``F``, ``H``, ``M`` or ``_``; ``crc`` is the 16-bit product identifier.
    """
    code = _CODES.get(polarisations)
    if code is None:
        raise ItemError(f"no Sentinel-1 polarisation code for {polarisations}")
    return (
        f"S1{satellite}_{mode}_{product_type}{resolution}_{level}S{code}_"
        f"{start:%Y%m%dT%H%M%S}_{stop:%Y%m%dT%H%M%S}_{absolute_orbit:06d}_{datatake_id:06X}_{crc:04X}"
    )


def name_fields(name: S1Name) -> dict[str, Any]:
    """Item fields a Sentinel-1 name gives (collection, platform, mode, orbits, datatake...)."""
    props: dict[str, Any] = {"s1:product_class": name.product_class}
    if name.resolution:
        props["s1:resolution"] = name.resolution
    return {
        "id": name.name,
        "collection": "sentinel-1",
        "platform": name.platform,
        "constellation": "sentinel-1",
        "instrument": "c-sar",
        "product_type": name.product_type,
        "processing_level": f"L{name.level}",
        "sensor_mode": name.mode,
        "polarisations": name.polarisations,
        "absolute_orbit": name.absolute_orbit,
        "relative_orbit": name.relative_orbit,
        "cycle": name.cycle,
        "datatake_id": name.datatake_id,
        "start_datetime": name.start,
        "end_datetime": name.stop,
        "properties": props,
    }
