"""Sentinel-2 MGRS tiles: tile id → footprint, from a bundled extract of the ESA tiling grid.

A Sentinel-2 tile is a 109.8 km square of a UTM zone whose upper-left corner lies 20 m above a
100 km MGRS square.  The zone, the hemisphere and the easting follow from the tile id (``31TCJ``:
zone 31, band T, column C → easting 300 km); the northing of the 100 km square cannot be derived
reliably near the polar band edges, so it is bundled for each of the 56,686 ESA tiles in
``data/mgrs_tiles.json.gz`` (built by ``scripts/build_mgrs_grid.py``, which also checks every
rebuilt polygon against the ESA polygon).  The bundle is also the list of valid tile ids.
"""

from __future__ import annotations

import functools
import gzip
import json
import re
from importlib import resources
from typing import Any

import numpy as np
from pyproj import Transformer
from shapely import Polygon

from strata.catalog.errors import QueryError
from strata.catalog.geometry import normalize_footprint, polygon_from_lonlat

__all__ = [
    "TILE_SIZE",
    "TILE_TOP_OFFSET",
    "load_grid",
    "parse_tile_id",
    "tile_geometry",
    "tile_polygon",
    "utm_epsg",
]

TILE_SIZE = 109_800
"""Side of a Sentinel-2 tile in metres."""
TILE_TOP_OFFSET = 20
"""Metres between the top of the 100 km MGRS square and the top of the tile."""

_COLUMNS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_TILE_ID = re.compile(r"^T?(\d{2})([C-HJ-NP-X])([A-HJ-NP-Z])([A-HJ-NP-V])$")


def parse_tile_id(tile_id: str) -> tuple[int, bool, int]:
    """Split a tile id into its UTM zone, hemisphere and easting.

    Parameters
    ----------
    tile_id
        Sentinel-2 tile id such as ``31TCJ`` (a leading ``T`` is accepted, as in product names).

    Returns
    -------
    tuple
        ``(zone, south, easting)``: the UTM zone (1-60), whether the tile is in the southern
        hemisphere, and the easting in metres of the tile's west edge.

    Raises
    ------
    QueryError
        If ``tile_id`` is not shaped like a tile id.
    """
    match = _TILE_ID.match(tile_id.strip().upper())
    if match is None or not 1 <= int(match.group(1)) <= 60:
        raise QueryError(f"tile: not a Sentinel-2 tile id: {tile_id!r}")
    zone = int(match.group(1))
    column_set = (zone - 1) % 3
    column = _COLUMNS.index(match.group(3)) - 8 * column_set
    if not 0 <= column < 8:
        raise QueryError(f"tile: column {match.group(3)!r} does not exist in UTM zone {zone}: {tile_id!r}")
    return zone, match.group(2) < "N", (column + 1) * 100_000


def utm_epsg(zone: int, south: bool) -> int:
    """EPSG code of a WGS 84 / UTM zone (326xx north, 327xx south)."""
    return (32700 if south else 32600) + zone


@functools.cache
def load_grid() -> dict[str, int]:
    """The bundled grid: tile id → northing of its 100 km MGRS square, in units of 100 km."""
    data = resources.files("strata.catalog").joinpath("data/mgrs_tiles.json.gz").read_bytes()
    tiles: dict[str, int] = json.loads(gzip.decompress(data))["tiles"]
    return tiles


def tile_polygon(tile_id: str) -> Polygon:
    """Footprint of a tile in longitude/latitude, with its four corners as the ESA grid has them.

    Longitudes are continuous: a tile crossing the antimeridian has some beyond ±180°
    (:func:`tile_geometry` splits it).

    Raises
    ------
    QueryError
        If the tile id is malformed or not a tile of the Sentinel-2 grid.
    """
    zone, south, west = parse_tile_id(tile_id)
    key = tile_id.strip().upper()
    row = load_grid().get(key[1:] if len(key) == 6 else key)
    if row is None:
        raise QueryError(f"tile: no Sentinel-2 tile {tile_id!r} in the ESA tiling grid")
    top = (row + 1) * 100_000 + TILE_TOP_OFFSET
    xs = np.array([west, west + TILE_SIZE, west + TILE_SIZE, west], dtype=float)
    ys = np.array([top, top, top - TILE_SIZE, top - TILE_SIZE], dtype=float)
    to_lonlat = Transformer.from_crs(utm_epsg(zone, south), 4326, always_xy=True)
    lon, lat = to_lonlat.transform(xs, ys)
    central = zone * 6 - 183
    lon = central + (np.asarray(lon) - central + 180.0) % 360.0 - 180.0
    return Polygon(zip(lon.tolist(), np.asarray(lat).tolist(), strict=True))


def tile_geometry(tile_id: str) -> dict[str, Any]:
    """Footprint of a tile as GeoJSON within ±180°, split in two when it crosses the antimeridian.

    Raises
    ------
    QueryError
        If the tile id is malformed or not a tile of the Sentinel-2 grid.
    """
    ring = list(tile_polygon(tile_id).exterior.coords)
    return normalize_footprint(polygon_from_lonlat(ring), QueryError)
