"""Orbit and grid geometry of the Sentinel missions, for estimated footprints and the generator.

- **Sentinel-1** flies a sun-synchronous orbit of 175 orbits per 12 days (period 5924.57 s,
  inclination 98.18°).  Ascending-node times are anchored on real manifests (S1A orbit 47579 at
  2023-03-10T07:18:55.335, S1B orbit 30148 at 2021-12-23T04:33:35.556) and S1C half a cycle from
  S1A (a real S1A/S1C pair shares a track 6 days apart); over years the model stays within ~15 s
  of the real node times.  The swath is right-looking: IW from 343 to 617 km off the ground track,
  EW from 212 to 636 km.  The node longitude is calibrated on a real footprint, so an estimated
  slice footprint lands within ~50 km of the real one.
- **MGRS / Sentinel-2 tiles**: a tile ``ZZBCR`` is the 109.8 km square of UTM zone ``ZZ`` whose
  upper-left corner is the north-west corner of 100 km square ``CR`` in latitude band ``B``
  (column letters cycle with the zone modulo 3, row letters every 2,000 km, shifted by 5 in
  even zones).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import numpy as np
from pyproj import Transformer

from strata.catalog.errors import ItemError
from strata.catalog.geometry import Bbox, geometry_bbox, normalize_footprint
from strata.catalog.sentinel1 import relative_orbit

__all__ = [
    "S1_PERIOD",
    "S1_SATELLITES",
    "estimate_s1_footprint",
    "footprint_from_corners",
    "mgrs_tile_footprint",
    "s1_direction",
    "s1_orbit_at",
    "s1_swath_corners",
    "tile_footprint",
    "utm_transformers",
]

DAY = 86400.0
EARTH_RADIUS_KM = 6371.0
S1_PERIOD = 12 * DAY / 175
_S1_INCLINATION = math.radians(98.18)
S1_SATELLITES: dict[str, tuple[int, datetime, datetime, datetime | None]] = {
    "A": (47579, datetime(2023, 3, 10, 7, 18, 55, 335152, UTC), datetime(2014, 10, 3, tzinfo=UTC), None),
    "B": (
        30148,
        datetime(2021, 12, 23, 4, 33, 35, 556206, UTC),
        datetime(2016, 9, 26, tzinfo=UTC),
        datetime(2021, 12, 23, tzinfo=UTC),
    ),
    "C": (1857, datetime(2025, 4, 12, 7, 2, 27, 906581, UTC), datetime(2025, 3, 26, tzinfo=UTC), None),
}
"""Satellite -> (reference absolute orbit, its ascending-node time, first day, last day or None)."""

# ascending-node longitude of S1A orbit 47579, calibrated on the real footprint of
# S1A_IW_GRDH_1SDV_20230310T075746_20230310T075811_047579_05B6B2_8312
_S1_NODE_LONGITUDE = 160.35
_SWATH_KM = {"IW": (343.0, 617.0), "EW": (212.0, 636.0), "SM": (300.0, 380.0), "WV": (400.0, 420.0)}

_MGRS_BANDS = "CDEFGHJKLMNPQRSTUVWX"
_MGRS_COLUMNS = ("STUVWXYZ", "ABCDEFGH", "JKLMNPQR")
_MGRS_ROWS = "ABCDEFGHJKLMNPQRSTUV"
_TILE_METRES = 109800.0


def s1_orbit_at(satellite: str, when: datetime) -> tuple[int, datetime]:
    """Absolute orbit of a Sentinel-1 satellite at ``when`` and the time of its ascending node."""
    ref_orbit, ref_node, _, _ = S1_SATELLITES[satellite]
    orbit = ref_orbit + math.floor((when - ref_node).total_seconds() / S1_PERIOD)
    return orbit, ref_node + timedelta(seconds=(orbit - ref_orbit) * S1_PERIOD)


def s1_swath_corners(mode: str, rel: int, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Corners of consecutive swath slices of one track.

    Parameters
    ----------
    mode
        ``IW``, ``EW``, ``SM`` or ``WV`` (sets the near and far ground range).
    rel
        Relative orbit 1..175.
    edges
        Slice boundaries in seconds after the ascending node (``n + 1`` values for ``n`` slices).

    Returns
    -------
    tuple of numpy.ndarray
        Longitudes and latitudes in degrees, shape ``(4, n)``: near/far at the slice start, then
        far/near at its end (longitudes not wrapped).
    """
    rel_ref = relative_orbit("A", S1_SATELLITES["A"][0]) or 1
    node = math.radians(_S1_NODE_LONGITUDE - (rel - rel_ref) * 360.0 * S1_PERIOD / DAY)
    sin_i, cos_i = math.sin(_S1_INCLINATION), math.cos(_S1_INCLINATION)

    def track(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        u = 2.0 * np.pi * t / S1_PERIOD
        lat = np.arcsin(sin_i * np.sin(u))
        return lat, node + np.arctan2(cos_i * np.sin(u), np.cos(u)) - 2.0 * np.pi * t / DAY

    lat, lon = track(edges)
    lat2, lon2 = track(edges + 1.0)
    dlon = lon2 - lon
    heading = np.arctan2(
        np.sin(dlon) * np.cos(lat2), np.cos(lat) * np.sin(lat2) - np.sin(lat) * np.cos(lat2) * np.cos(dlon)
    )
    right = heading + np.pi / 2.0

    def offset(distance_km: float) -> tuple[np.ndarray, np.ndarray]:
        delta = distance_km / EARTH_RADIUS_KM
        plat = np.arcsin(np.sin(lat) * math.cos(delta) + np.cos(lat) * math.sin(delta) * np.cos(right))
        plon = lon + np.arctan2(
            np.sin(right) * math.sin(delta) * np.cos(lat), math.cos(delta) - np.sin(lat) * np.sin(plat)
        )
        return np.degrees(plon), np.degrees(plat)

    near, far = _SWATH_KM.get(mode, _SWATH_KM["IW"])
    near_lon, near_lat = offset(near)
    far_lon, far_lat = offset(far)
    lons = np.stack([near_lon[:-1], far_lon[:-1], far_lon[1:], near_lon[1:]])
    lats = np.stack([near_lat[:-1], far_lat[:-1], far_lat[1:], near_lat[1:]])
    return lons, lats


def s1_direction(seconds_after_node: float) -> str:
    """``ascending`` or ``descending`` from the time since the ascending node."""
    u = (seconds_after_node / S1_PERIOD) % 1.0
    return "ascending" if u < 0.25 or u > 0.75 else "descending"


def footprint_from_corners(corners: list[tuple[float, float]]) -> tuple[dict[str, Any], Bbox]:
    """GeoJSON footprint and bbox of a convex quadrilateral of (lon, lat) corners.

    Longitudes are wrapped to [-180, 180), the ring made counter-clockwise and closed; a footprint
    crossing the antimeridian goes through :func:`~strata.catalog.geometry.normalize_footprint`.
    """
    ring = [[(lon + 180.0) % 360.0 - 180.0, lat] for lon, lat in corners]
    lons = [p[0] for p in ring]
    if max(lons) - min(lons) > 180.0:
        ring.append(ring[0])
        geometry = normalize_footprint({"type": "Polygon", "coordinates": [ring]})
        return geometry, geometry_bbox(geometry)
    area = sum(a[0] * b[1] - b[0] * a[1] for a, b in zip(ring, ring[1:] + ring[:1], strict=True))
    if area < 0:
        ring.reverse()
    ring.append(ring[0])
    lats = [p[1] for p in ring]
    return {"type": "Polygon", "coordinates": [ring]}, (min(lons), min(lats), max(lons), max(lats))


def estimate_s1_footprint(
    satellite: str, mode: str, absolute_orbit: int, start: datetime, stop: datetime
) -> tuple[dict[str, Any], Bbox, str]:
    """Estimated footprint, bbox and orbit direction of a Sentinel-1 product from its name's fields.

    Raises
    ------
    ItemError
        For a satellite without a known orbit phase (S1D).
    """
    if satellite not in S1_SATELLITES:
        raise ItemError(f"no orbit model for Sentinel-1{satellite}")
    ref_orbit, ref_node, _, _ = S1_SATELLITES[satellite]
    node = ref_node + timedelta(seconds=(absolute_orbit - ref_orbit) * S1_PERIOD)
    t0 = (start - node).total_seconds()
    t1 = max((stop - node).total_seconds(), t0 + 1.0)
    rel = relative_orbit(satellite, absolute_orbit) or 1
    lons, lats = s1_swath_corners(mode, rel, np.array([t0, t1]))
    geometry, bbox = footprint_from_corners(list(zip(lons[:, 0].tolist(), lats[:, 0].tolist(), strict=True)))
    return geometry, bbox, s1_direction((t0 + t1) / 2.0)


@lru_cache(maxsize=128)
def utm_transformers(zone: int, south: bool) -> tuple[Transformer, Transformer]:
    """(lon/lat -> UTM, UTM -> lon/lat) transformers of a UTM zone."""
    epsg = (32700 if south else 32600) + zone
    return (
        Transformer.from_crs(4326, epsg, always_xy=True),
        Transformer.from_crs(epsg, 4326, always_xy=True),
    )


def tile_footprint(zone: int, south: bool, column: int, row: int) -> tuple[dict[str, Any], Bbox]:
    """Footprint of the 109.8 km tile whose north-west corner is that of 100 km square (column, row)."""
    _, inverse = utm_transformers(zone, south)
    x0, y1 = column * 100000.0, (row + 1) * 100000.0
    lons, lats = inverse.transform(
        [x0, x0 + _TILE_METRES, x0 + _TILE_METRES, x0], [y1 - _TILE_METRES, y1 - _TILE_METRES, y1, y1]
    )
    return footprint_from_corners(list(zip(lons, lats, strict=True)))


@lru_cache(maxsize=4096)
def mgrs_tile_footprint(tile: str) -> tuple[dict[str, Any], Bbox]:
    """Footprint and bbox of a Sentinel-2 MGRS tile (``31TCJ`` or ``T31TCJ``).

    Raises
    ------
    ItemError
        If ``tile`` is not a valid MGRS tile id.
    """
    text = tile.upper().removeprefix("T")
    if len(text) != 5 or not text[:2].isdigit():
        raise ItemError(f"not an MGRS tile id: {tile!r}")
    zone, band, col_letter, row_letter = int(text[:2]), text[2], text[3], text[4]
    letters = _MGRS_COLUMNS[zone % 3]
    if (
        not 1 <= zone <= 60
        or band not in _MGRS_BANDS
        or col_letter not in letters
        or row_letter not in _MGRS_ROWS
    ):
        raise ItemError(f"not an MGRS tile id: {tile!r}")
    column = letters.index(col_letter) + 1
    row_index = (_MGRS_ROWS.index(row_letter) - (5 if zone % 2 == 0 else 0)) % 20
    # the band's middle latitude fixes which 2,000 km repetition of the row letter is meant
    band_lat = -80.0 + 8.0 * _MGRS_BANDS.index(band) + 4.0
    south = band_lat < 0.0
    forward, _ = utm_transformers(zone, south)
    _, northing = forward.transform(zone * 6.0 - 183.0, band_lat)
    approx_row = northing / 100000.0
    row = row_index + 20 * round((approx_row - row_index) / 20.0)
    return tile_footprint(zone, south, column, row)
