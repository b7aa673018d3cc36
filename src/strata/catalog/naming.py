"""Sentinel product names: recognise S1/S2/S3 names and derive item fields from them.

:func:`name_fields` is the entry point ingest uses: it returns the :class:`~strata.catalog.model.Item`
keyword arguments a name alone determines (collection, platform, instrument, product type, level,
mode, polarisations, orbits, cycle, datatake, times, tile).  Sentinel-1 details live in
:mod:`strata.catalog.sentinel1`.

Sentinel-2 (``S2A_MSIL2A_20200808T010311_N0500_R045_T54PXA_20230413T212505``): mission, level,
sensing time, processing baseline, relative orbit (``R045``), MGRS tile (``T54PXA``), discriminator.
Sentinel-3 (``S3A_OL_1_EFR____<start>_<stop>_<created>_<dur>_<cycle>_<relorb>_<frame>_<centre>_...``):
instrument, level, product type, times, cycle and relative orbit when the instance id carries them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from strata.catalog import sentinel1
from strata.catalog.errors import ItemError

__all__ = ["COLLECTIONS", "is_product_name", "mission_of", "name_fields", "strip_extension"]

COLLECTIONS = ("sentinel-1", "sentinel-2", "sentinel-3")
"""Mission-level collections every Sentinel product is filed under."""

_S2 = re.compile(
    r"^S2(?P<sat>[A-D])_MSI(?P<level>L1C|L2A|L1B|L2H|L2F)_(?P<sensing>\d{8}T\d{6})"
    r"_N(?P<baseline>\d{4})_R(?P<orbit>\d{3})_T(?P<tile>\d{2}[A-Z]{3})_(?P<discriminator>\d{8}T\d{6})$"
)
_S3 = re.compile(
    r"^S3(?P<sat>[A-D_])_(?P<source>OL|SL|SR|DO|MW|GN|SY|TM|AX)_(?P<level>[0-2_])_(?P<dtype>[A-Z0-9_]{6})"
    r"_(?P<start>\d{8}T\d{6})_(?P<stop>\d{8}T\d{6})_(?P<created>\d{8}T\d{6})"
    r"_(?P<instance>[0-9_]{4}_[0-9_]{3}_[0-9_]{3}_[0-9_]{4}|[A-Za-z0-9_]{17})"
    r"_(?P<centre>[A-Z0-9_]{3})_(?P<cls>[A-Z_])_(?P<timeliness>NR|ST|NT|__)_(?P<baseline>[A-Za-z0-9_]{3})$"
)
_S3_INSTRUMENTS = {
    "OL": "olci",
    "SL": "slstr",
    "SR": "sral",
    "MW": "mwr",
    "DO": "doris",
    "GN": "gnss",
    "SY": "synergy",
    "TM": "tm",
    "AX": "aux",
}
_EXTENSIONS = (".SAFE", ".SEN3", ".zip", ".ZIP", ".safe", ".SAFE.zip", ".SEN3.zip")


def strip_extension(name: str) -> str:
    """The product name without folder, ``.SAFE``/``.SEN3``/``.zip`` or ASF ``-SLC``-like suffixes."""
    base = name.strip().rstrip("/").rsplit("/", 1)[-1]
    for ext in (".SAFE.zip", ".SEN3.zip", *_EXTENSIONS):
        if base.endswith(ext):
            return base[: -len(ext)]
    return base


def _timestamp(text: str, name: str) -> datetime:
    try:
        return datetime.strptime(text, "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        raise ItemError(f"bad date {text!r} in product name {name!r}") from None


def mission_of(name: str) -> str | None:
    """``sentinel-1``, ``sentinel-2`` or ``sentinel-3`` for a recognised product name, else None."""
    base = strip_extension(name)
    if sentinel1.is_s1_name(base):
        return "sentinel-1"
    if _S2.match(base):
        return "sentinel-2"
    if _S3.match(base):
        return "sentinel-3"
    return None


def is_product_name(name: str) -> bool:
    """Whether ``name`` is a Sentinel-1, -2 or -3 product name."""
    return mission_of(name) is not None


def _s2_fields(match: re.Match[str], name: str) -> dict[str, Any]:
    g = match.groupdict()
    sensing = _timestamp(g["sensing"], name)
    level = g["level"]
    baseline = g["baseline"]
    return {
        "id": name,
        "collection": "sentinel-2",
        "platform": "sentinel-2" + g["sat"].lower(),
        "constellation": "sentinel-2",
        "instrument": "msi",
        "product_type": "S2MSI" + level[1:],
        "processing_level": level,
        "relative_orbit": int(g["orbit"]),
        "start_datetime": sensing,
        "end_datetime": sensing,
        "properties": {
            "grid:code": "MGRS-" + g["tile"],
            "s2:mgrs_tile": g["tile"],
            "processing:version": f"{baseline[:2]}.{baseline[2:]}",
            "s2:product_discriminator": g["discriminator"],
        },
    }


def _s3_fields(match: re.Match[str], name: str) -> dict[str, Any]:
    g = match.groupdict()
    fields: dict[str, Any] = {
        "id": name,
        "collection": "sentinel-3",
        "platform": "sentinel-3" + g["sat"].lower() if g["sat"] != "_" else None,
        "constellation": "sentinel-3",
        "instrument": _S3_INSTRUMENTS[g["source"]],
        "product_type": f"{g['source']}_{g['level']}_{g['dtype']}",
        "processing_level": f"L{g['level']}" if g["level"].isdigit() else None,
        "start_datetime": _timestamp(g["start"], name),
        "end_datetime": _timestamp(g["stop"], name),
        "properties": {"s3:timeliness": g["timeliness"], "processing:version": g["baseline"]},
    }
    parts = g["instance"].split("_")
    if len(parts) == 4 and parts[1].isdigit() and parts[2].isdigit():
        fields["cycle"] = int(parts[1])
        fields["relative_orbit"] = int(parts[2])
    return fields


def name_fields(name: str) -> dict[str, Any]:
    """Item keyword arguments derived from a Sentinel-1/2/3 product name alone.

    Parameters
    ----------
    name
        Product name, optionally with a folder, ``.SAFE``, ``.SEN3`` or ``.zip``.

    Returns
    -------
    dict
        ``id`` (the bare name), ``collection`` and whatever else the name carries.

    Raises
    ------
    ItemError
        If ``name`` is not a Sentinel product name.
    """
    base = strip_extension(name)
    if base.startswith("S1"):
        return sentinel1.name_fields(sentinel1.parse_name(base))
    match = _S2.match(base)
    if match:
        return _s2_fields(match, base)
    match = _S3.match(base)
    if match:
        return _s3_fields(match, base)
    raise ItemError(f"not a Sentinel-1/2/3 product name: {name!r}")
