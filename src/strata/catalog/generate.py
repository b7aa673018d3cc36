"""A realistic synthetic Sentinel archive for benchmarks, demos and property tests.

The records follow the real orbit geometry rather than random boxes:

- **Sentinel-1**: a sun-synchronous orbit of 175 orbits per 12 days (period 5924.6 s,
  inclination 98.18°).  Ascending-node times come from real manifests (S1A orbit 47579,
  S1B orbit 30148; S1C is placed half a cycle from S1A, checked on a real S1A/S1C pair), so absolute
  orbit, relative orbit (the ESA formula of :mod:`strata.catalog.sentinel1`), cycle, time and
  track all agree, one satellite repeats every 12 days and two together every 6.  Footprints are
  slices (~25 s, ~170 km) of a right-looking swath (IW 343-617 km off-track, EW 212-636 km),
  ascending or descending by the position in the orbit, worldwide up to ~86° latitude, split at the
  antimeridian where they cross it.  Datatake ids follow a per-satellite linear fit of real ids
  against the orbit; the CRC is a hash of the name.  S1A flies from 2014-10, S1B 2016-09..2021-12,
  S1C from 2025-03.
- **Sentinel-2**: L1C/L2A products on MGRS tiles (109.8 km squares of the UTM grid, named by zone,
  latitude band and 100 km square letters), only tiles of the ESA tiling grid
  (:func:`strata.catalog.mgrs.load_grid`), relative orbits 1..143 chosen among the tracks whose
  290 km swath covers the tile, 10-day repeat per satellite (5 with two).

Generation is deterministic for a seed and runs at tens of thousands of items per second: the
footprint of a (mode, track, slice) or an MGRS tile is computed once and shared by every
acquisition repeating it (treat generated geometries as read-only).
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import math
import random
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from strata.catalog.geometry import Bbox
from strata.catalog.mgrs import load_grid, parse_tile_id
from strata.catalog.model import Item
from strata.catalog.orbits import (
    S1_PERIOD,
    S1_SATELLITES,
    footprint_from_corners,
    s1_direction,
    s1_swath_corners,
    tile_footprint,
    utm_transformers,
)
from strata.catalog.sentinel1 import cycle_number, relative_orbit

__all__ = ["generate_items"]

_DAY = 86400.0

# --- Sentinel-1 acquisitions (orbit geometry in strata.catalog.orbits) --------------------------
_S1_DATATAKES = {"A": (8.067, -9360.0), "B": (7.853, -834.0), "C": (11.64, -7249.0)}
_SLICE_SECONDS = 25.0
# (mode, product type, resolution, extra seconds before/after the 25 s slice, weight)
_S1_PRODUCTS = [
    ("IW", "SLC", "_", 2.0, 0.36),
    ("IW", "GRD", "H", 0.0, 0.44),
    ("IW", "RAW", "_", 4.0, 0.04),
    ("IW", "OCN", "_", 0.0, 0.03),
    ("EW", "GRD", "M", 0.0, 0.10),
    ("EW", "SLC", "_", 2.0, 0.02),
    ("EW", "RAW", "_", 4.0, 0.01),
]
_LEVELS = {"RAW": 0, "SLC": 1, "GRD": 1, "OCN": 2}
# (mode, product) -> (dual-pol size range in GB); single polarisation is about half
_S1_SIZES_GB = {
    ("IW", "SLC"): (6.6, 8.1),
    ("IW", "GRD"): (1.45, 1.75),
    ("IW", "RAW"): (1.4, 1.7),
    ("IW", "OCN"): (0.008, 0.014),
    ("EW", "GRD"): (0.28, 0.36),
    ("EW", "SLC"): (3.8, 4.6),
    ("EW", "RAW"): (0.9, 1.2),
}

# --- Sentinel-2 orbit model -------------------------------------------------------------------
_S2_PERIOD = 10 * _DAY / 143
_S2_INCLINATION = math.radians(98.62)
_S2_REFERENCE = (26783, 45, datetime(2020, 8, 8, 1, 3, 11, tzinfo=UTC), 13.8)  # S2A orbit, rel, time, lat
_S2_FIRST_DAY = {"A": datetime(2015, 6, 27, tzinfo=UTC), "B": datetime(2017, 3, 7, tzinfo=UTC)}
_S2_NODE_LONGITUDE = 167.2  # descending-node longitude of relative orbit 1 (calibrated on R045 over 54PXA)
_S2_HALF_SWATH_KM = 145.0


@functools.cache
def _grid_squares() -> dict[tuple[int, bool, int, int], str]:
    """ESA tile ids by (zone, south, column, row) of their 100 km square (columns 1..8, rows as northing)."""
    squares = {}
    for tile, row in load_grid().items():
        zone, south, easting = parse_tile_id(tile)
        squares[(zone, south, easting // 100_000, row)] = tile
    return squares


class _S1Slices:
    """Footprints of Sentinel-1 slices, cached by (mode, relative orbit, slice index).

    The corners of every slice of one (mode, track) are computed at once with numpy.
    """

    def __init__(self) -> None:
        self.corners: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]] = {}
        self.cache: dict[tuple[str, int, int], tuple[dict[str, Any], Bbox, float, str]] = {}

    def get(self, mode: str, rel: int, index: int) -> tuple[dict[str, Any], Bbox, float, str]:
        key = (mode, rel, index)
        hit = self.cache.get(key)
        if hit is None:
            hit = self.cache[key] = self._slice(mode, rel, index)
        return hit

    def _slice(self, mode: str, rel: int, index: int) -> tuple[dict[str, Any], Bbox, float, str]:
        arrays = self.corners.get((mode, rel))
        if arrays is None:
            edges = np.arange(math.ceil(S1_PERIOD / _SLICE_SECONDS) + 2) * _SLICE_SECONDS
            arrays = self.corners[(mode, rel)] = s1_swath_corners(mode, rel, edges)
        lons, lats = arrays
        geometry, bbox = footprint_from_corners(
            list(zip(lons[:, index].tolist(), lats[:, index].tolist(), strict=True))
        )
        direction = s1_direction((index + 0.5) * _SLICE_SECONDS)
        return geometry, bbox, (bbox[1] + bbox[3]) / 2.0, direction


class _S2Tiles:
    """A pool of MGRS tiles with footprints and the Sentinel-2 tracks that cover each."""

    def __init__(self, rng: np.random.Generator, count: int) -> None:
        lat = np.degrees(
            np.arcsin(rng.uniform(math.sin(math.radians(-56.0)), math.sin(math.radians(83.0)), count))
        )
        lon = rng.uniform(-180.0, 180.0, count)
        zone = np.clip(((lon + 180.0) // 6).astype(int) + 1, 1, 60)
        self.tiles: list[tuple[str, dict[str, Any], Bbox, list[int], float]] = []
        squares = _grid_squares()
        seen: set[str] = set()
        for z in np.unique(zone):
            for south in (False, True):
                mask = (zone == z) & ((lat < 0) == south)
                if not mask.any():
                    continue
                forward, _ = utm_transformers(int(z), south)
                east, north = forward.transform(lon[mask], lat[mask])
                for e, n in zip(east, north, strict=True):
                    column, row = int(e // 100000), int(n // 100000)
                    # the ESA grid names the square (its latitude band is not always the point's)
                    # and leaves out zone-edge squares: those points draw no tile
                    tile = squares.get((int(z), south, column, row))
                    if tile is None or tile in seen:
                        continue
                    seen.add(tile)
                    geometry, bbox = tile_footprint(int(z), south, column, row)
                    centre_lat = (bbox[1] + bbox[3]) / 2.0
                    centre_lon = (bbox[0] + bbox[2]) / 2.0 + (180.0 if bbox[0] > bbox[2] else 0.0)
                    tracks = _s2_tracks(centre_lat, centre_lon)
                    if tracks:
                        self.tiles.append((tile, geometry, bbox, tracks, centre_lat))


def _wrap_lon(lon_deg: float) -> float:
    return (lon_deg + 180.0) % 360.0 - 180.0


def _s2_track_offset(lat_deg: float) -> tuple[float, float]:
    """Seconds after the descending node and longitude offset (deg) of the S2 track at ``lat_deg``."""
    sin_u = math.sin(math.radians(lat_deg)) / math.sin(_S2_INCLINATION)
    u = math.pi - math.asin(max(-1.0, min(1.0, sin_u)))  # descending branch
    t = u / (2.0 * math.pi) * _S2_PERIOD
    lon = math.atan2(math.cos(_S2_INCLINATION) * math.sin(u), math.cos(u)) - 2.0 * math.pi * t / _DAY
    t_dn = _S2_PERIOD / 2.0
    lon_dn = math.pi - 2.0 * math.pi * t_dn / _DAY
    return t - t_dn, math.degrees(lon - lon_dn)


def _s2_tracks(lat: float, lon: float) -> list[int]:
    """Relative orbits (1..143) whose descending swath covers the point."""
    _, offset = _s2_track_offset(lat)
    km_per_degree = 111.32 * max(math.cos(math.radians(lat)), 0.05)
    tracks = []
    for rel in range(1, 144):
        node = _S2_NODE_LONGITUDE - (rel - 1) * 360.0 * _S2_PERIOD / _DAY
        distance = abs(_wrap_lon(lon - (node + offset))) * km_per_degree
        if distance < _S2_HALF_SWATH_KM:
            tracks.append(rel)
    return tracks


def _s2_reference_node() -> datetime:
    """Descending-node time of S2A reference orbit 26783 (from its real sensing time)."""
    orbit, _, sensing, lat = _S2_REFERENCE
    del orbit
    seconds, _ = _s2_track_offset(lat)
    return sensing - timedelta(seconds=seconds)


def _timestamp(dt: datetime) -> str:
    return f"{dt.year:04d}{dt.month:02d}{dt.day:02d}T{dt.hour:02d}{dt.minute:02d}{dt.second:02d}"


def generate_items(
    count: int,
    seed: int = 0,
    start: datetime = datetime(2016, 10, 1, tzinfo=UTC),
    end: datetime = datetime(2025, 10, 1, tzinfo=UTC),
    sentinel2_fraction: float = 0.3,
) -> Iterator[Item]:
    """Generate ``count`` realistic Sentinel-1/Sentinel-2 catalog items, in time order (±5 days).

    Parameters
    ----------
    count
        Number of items.
    seed
        Seed of the generator: the same arguments give the same items.
    start, end
        Time span of the acquisitions (aware datetimes).
    sentinel2_fraction
        Share of Sentinel-2 products (the rest is Sentinel-1).

    Yields
    ------
    Item
        Items of collections ``sentinel-1`` and ``sentinel-2``; ids are real-looking product names
        (unique within one call).
    """
    rng = random.Random(seed)
    slices = _S1Slices()
    tiles = _S2Tiles(np.random.default_rng(seed), max(200, min(20000, count // 40)))
    s2_node = _s2_reference_node()
    s2_epoch_b = _S2_FIRST_DAY["B"]
    span = (end - start).total_seconds() / max(count, 1)
    origin = start.timestamp()
    products = [p[:4] for p in _S1_PRODUCTS]
    cumulative = list(itertools.accumulate(p[4] for p in _S1_PRODUCTS))
    satellites = [
        (sat, ref_orbit, node.timestamp(), first.timestamp(), last.timestamp() if last else math.inf)
        for sat, (ref_orbit, node, first, last) in S1_SATELLITES.items()
    ]
    seen: set[str] = set()
    for i in range(count):
        when = origin + (i + rng.random()) * span
        if rng.random() < sentinel2_fraction and tiles.tiles:
            item = _s2_item(rng, tiles, s2_node, s2_epoch_b, datetime.fromtimestamp(when, UTC))
        else:
            mode, ptype, res, margin = rng.choices(products, cum_weights=cumulative)[0]
            active = [s for s in satellites if s[3] <= when <= s[4]] or satellites[:1]
            item = _s1_item(rng, slices, when, rng.choice(active), (mode, ptype, res, margin))
        if item.id in seen:  # same slice acquired twice in one draw: make the name unique
            item.id = item.id[:-4] + f"{(int(item.id[-4:], 16) + i) & 0xFFFF:04X}"
        seen.add(item.id)
        yield item


_ARCHIVE = "https://archive.strata.invalid"  # reserved TLD: generated products have no real location
_ONLINE_SINCE = datetime(2024, 10, 1, tzinfo=UTC).timestamp()


def _archive_fields(rng: random.Random, location: str, size: int, when: float) -> dict[str, Any]:
    """Size, checksum, on-line status (recent on disk, older mostly on tape, as at PEPS) and asset."""
    return {
        "size": size,
        "checksum": "md5:" + hashlib.md5(location.encode()).hexdigest(),  # noqa: S324 - synthetic checksum
        "online": when > _ONLINE_SINCE or rng.random() < 0.3,
        "assets": {
            "product": {
                "href": f"{_ARCHIVE}/{location}.SAFE.zip",
                "type": "application/zip",
                "roles": ["data"],
                "file:size": size,
            }
        },
    }


def _s1_item(
    rng: random.Random,
    slices: _S1Slices,
    when: float,
    satellite: tuple[str, int, float, float, float],
    product: tuple[str, str, str, float],
) -> Item:
    sat, ref_orbit, ref_node, _, _ = satellite
    mode, ptype, res, margin = product
    orbit = ref_orbit + math.floor((when - ref_node) / S1_PERIOD)
    node_time = ref_node + (orbit - ref_orbit) * S1_PERIOD
    index = int((when - node_time) // _SLICE_SECONDS)
    rel = relative_orbit(sat, orbit) or 1
    geometry, bbox, centre_lat, direction = slices.get(mode, rel, index)
    if mode == "EW" and abs(centre_lat) < 55.0:
        mode, ptype, res, margin = "IW", ptype, "H" if ptype == "GRD" else res, margin
        geometry, bbox, centre_lat, direction = slices.get(mode, rel, index)
    if mode == "EW" or abs(centre_lat) > 60.0:
        pols = ("HH", "HV") if rng.random() < 0.8 else ("HH",)
    else:
        pols = ("VV", "VH") if rng.random() < 0.88 else ("VV",)
    begin_time = round(node_time + index * _SLICE_SECONDS - margin, 3)
    begin = datetime.fromtimestamp(begin_time, UTC)
    finish = datetime.fromtimestamp(begin_time + _SLICE_SECONDS + 2.0 * margin, UTC)
    start_text = _timestamp(begin)
    day = f"{start_text[:4]}/{start_text[4:6]}/{start_text[6:8]}"
    slope, intercept = _S1_DATATAKES[sat]
    segments = int(slope)
    phase = index * _SLICE_SECONDS / S1_PERIOD
    segment = min(int(phase * segments), segments - 1)
    datatake = int(slope * orbit + intercept) + segment
    slice_number = index - int(segment * S1_PERIOD / segments / _SLICE_SECONDS) + 1
    code = ("D" if len(pols) == 2 else "S") + pols[0][0]
    level = _LEVELS[ptype]
    stem = (
        f"S1{sat}_{mode}_{ptype}{res}_{level}S{code}_{start_text}_{_timestamp(finish)}"
        f"_{orbit:06d}_{datatake:06X}"
    )
    name = f"{stem}_{zlib.crc32(stem.encode()) & 0xFFFF:04X}"
    low, high = _S1_SIZES_GB[(mode, ptype)]
    size = int(rng.uniform(low, high) * (1.0 if len(pols) == 2 else 0.52) * 1e9)
    properties: dict[str, Any] = {"s1:product_class": "S"}
    if res != "_":
        properties["s1:resolution"] = {"F": "full", "H": "high", "M": "medium"}[res]
    return Item(
        id=name,
        collection="sentinel-1",
        geometry=geometry,
        bbox=bbox,
        start_datetime=begin,
        end_datetime=finish,
        platform="sentinel-1" + sat.lower(),
        constellation="sentinel-1",
        instrument="c-sar",
        product_type=ptype,
        processing_level=f"L{level}",
        sensor_mode=mode,
        polarisations=pols,
        orbit_direction=direction,
        absolute_orbit=orbit,
        relative_orbit=rel,
        cycle=cycle_number(sat, orbit),
        datatake_id=datatake,
        slice_number=slice_number,
        properties=properties,
        **_archive_fields(rng, f"sentinel-1/{day}/{name}", size, begin_time),
    )


def _s2_item(
    rng: random.Random, tiles: _S2Tiles, s2_node: datetime, epoch_b: datetime, when: datetime
) -> Item:
    tile, geometry, bbox, tracks, centre_lat = rng.choice(tiles.tiles)
    rel = rng.choice(tracks)
    ref_orbit, ref_rel, _, _ = _S2_REFERENCE
    # the S2A orbit on track ``rel`` nearest to ``when``; S2B flies 5 days (half a cycle) later
    sat = "B" if when >= _S2_FIRST_DAY["B"] and rng.random() < 0.5 else "A"
    shift = 5 * _DAY if sat == "B" else 0.0
    elapsed = (when - s2_node).total_seconds() - shift
    orbit = ref_orbit + math.floor(elapsed / _S2_PERIOD)
    delta = (orbit - ref_orbit + ref_rel - rel) % 143
    orbit += -delta if delta <= 71 else 143 - delta  # the pass on that track nearest to ``when``
    seconds, _ = _s2_track_offset(centre_lat)
    sensing = s2_node + timedelta(seconds=(orbit - ref_orbit) * _S2_PERIOD + shift + seconds)
    sensing = sensing.replace(microsecond=24000)
    absolute = orbit if sat == "A" else math.floor((sensing - epoch_b).total_seconds() / _S2_PERIOD) + 1
    level = "L2A" if rng.random() < 0.5 else "L1C"
    baseline = "N0500" if sensing.year < 2022 else "N0510"
    processed = sensing + timedelta(hours=rng.uniform(1.0, 6.0))
    name = f"S2{sat}_MSI{level}_{_timestamp(sensing)}_{baseline}_R{rel:03d}_T{tile}_{_timestamp(processed)}"
    size = int(rng.uniform(0.5, 0.85 if level == "L1C" else 1.15) * 1e9)
    return Item(
        id=name,
        collection="sentinel-2",
        geometry=geometry,
        bbox=bbox,
        start_datetime=sensing,
        end_datetime=sensing,
        platform="sentinel-2" + sat.lower(),
        constellation="sentinel-2",
        instrument="msi",
        product_type="S2MSI" + level[1:],
        processing_level=level,
        orbit_direction="descending",
        absolute_orbit=absolute,
        relative_orbit=rel,
        **_archive_fields(rng, f"sentinel-2/{sensing:%Y/%m/%d}/{name}", size, sensing.timestamp()),
        properties={
            "grid:code": "MGRS-" + tile,
            "s2:mgrs_tile": tile,
            "eo:cloud_cover": round(rng.uniform(0.0, 100.0), 2),
            "processing:version": f"{baseline[1:3]}.{baseline[3:]}",
        },
    )
