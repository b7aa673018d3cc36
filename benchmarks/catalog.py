"""Catalog ingest rate and search latency on a generated archive, SQLite and (when reachable) PostGIS.

Generates ``--count`` realistic Sentinel-1/2 products (``strata.catalog.generate``, seeded) and
upserts them in batches of 5,000 into each store, timing the upserts only (the generation rate is
printed separately).  Then runs a fixed mix of 20 realistic searches (area + time + orbit + mode
combinations, a tile, a circle, an antimeridian box, a deep page, one broad search whose count
is estimated), built around 40 products picked at fixed positions of the archive so that every
search has results, ``--repeat`` times each after one warm-up run, and prints the ingest rate
and the p50/p95 of search latency (one search = one page of 50 products plus its count).

    .venv/bin/python benchmarks/catalog.py --count 1000000
    .venv/bin/python benchmarks/catalog.py --count 20000 --postgis ''   # quick, SQLite only

PostGIS: ``--postgis URL`` (default: database ``strata_bench`` on the local server, created when
missing); the store's tables are dropped first.  Targets (issue 2): ingest >= 5,000 products/s
and search p95 <= 100 ms on SQLite on a 2-core machine.  Reference: pgstac's own benchmark reports
~30-35 ms median for geometry (tile) searches on a laptop (pgstac docs/src/benchmark.json).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from strata.catalog.generate import generate_items
from strata.catalog.model import Item
from strata.catalog.search import SearchQuery
from strata.catalog.store import CatalogStore, open_store

BATCH = 5000
PGSTAC_TILE_MEDIAN_MS = 32.5  # pgstac docs/src/benchmark.json, zoom >= 6 tile searches, median ~30-35 ms


def _postgis_url(url: str) -> str | None:
    """The URL if PostgreSQL answers there (creating the database and PostGIS), else None."""
    base, _, name = url.rpartition("/")
    try:
        admin = create_engine(f"{base}/postgres".replace("postgresql://", "postgresql+psycopg://", 1))
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.begin() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
            conn.execute(text("DROP TABLE IF EXISTS items, collections CASCADE"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable": report and skip
        print(f"PostGIS at {url} not used: {str(exc).splitlines()[0]}")
        return None
    return url


def _around(item: Item, half: float) -> tuple[float, float, float, float]:
    west, south, east, north = item.bbox
    lon = (west + east) / 2 if west <= east else ((west + east + 360) / 2 + 180) % 360 - 180
    lat = max(-80.0, min(80.0, (south + north) / 2))
    return (max(-180.0, lon - half), lat - half, min(180.0, lon + half), lat + half)


def build_queries(anchors: list[Item]) -> list[SearchQuery]:
    """The fixed mix of 20 searches, each around one anchor product of the archive."""
    s1 = [a for a in anchors if a.collection == "sentinel-1"]
    s2 = [a for a in anchors if a.collection == "sentinel-2"] or s1

    def year(a: Item) -> dict[str, Any]:
        return {
            "start": a.start_datetime - timedelta(days=180),
            "end": a.start_datetime + timedelta(days=180),
        }

    def months(a: Item, n: int) -> dict[str, Any]:
        return {
            "start": a.start_datetime - timedelta(days=15 * n),
            "end": a.start_datetime + timedelta(days=15 * n),
        }

    queries = [
        SearchQuery(bbox=_around(s1[0], 1.0), **year(s1[0])),
        SearchQuery(bbox=_around(s1[1], 2.0), relative_orbit=s1[1].relative_orbit, **year(s1[1])),
        SearchQuery(
            bbox=_around(s1[2], 1.5), sensor_modes=s1[2].sensor_mode, product_types="SLC", **months(s1[2], 6)
        ),
        SearchQuery(
            bbox=_around(s1[3], 1.0),
            relative_orbit=s1[3].relative_orbit,
            sensor_modes=s1[3].sensor_mode,
            orbit_direction=s1[3].orbit_direction,
            **months(s1[3], 24),
        ),
        SearchQuery(
            point=_around(s1[4], 0)[:2], radius=50, product_types=s1[4].product_type, **months(s1[4], 12)
        ),
        SearchQuery(bbox=_around(s1[5], 3.0), polarisations="VV", **months(s1[5], 3)),
        SearchQuery(relative_orbit=s1[6].relative_orbit, product_types="SLC", **months(s1[6], 2)),
        SearchQuery(bbox=_around(s1[7], 0.5), **months(s1[7], 48)),
        SearchQuery(
            bbox=_around(s1[8], 2.0), sensor_modes="IW", orbit_direction="ascending", **months(s1[8], 12)
        ),
        SearchQuery(
            bbox=_around(s1[9], 1.0), absolute_orbit=f"{(s1[9].absolute_orbit or 0) - 500}..", **year(s1[9])
        ),
        SearchQuery(tile=s2[0].properties.get("s2:mgrs_tile", "31TCJ"), **months(s2[0], 12)),
        SearchQuery(bbox=_around(s2[1], 1.0), product_types="S2MSI2A", **months(s2[1], 6)),
        SearchQuery(bbox=_around(s2[2], 2.0), relative_orbit=s2[2].relative_orbit, **year(s2[2])),
        SearchQuery(bbox=(178.0, -20.0, -178.0, -10.0), **months(s1[10], 24)),  # across the antimeridian
        SearchQuery(bbox=_around(s1[11], 1.0), sortby="-size", **year(s1[11])),
        SearchQuery(bbox=_around(s1[12], 2.0), online=True, **months(s1[12], 12)),
        SearchQuery(datatake_id=s1[13].datatake_id),
        SearchQuery(ids=[a.id for a in anchors[:10]]),
        SearchQuery(product_types="GRD", sensor_modes="IW", **months(s1[14], 1)),  # broad: thousands
        SearchQuery(product_types="SLC"),  # every SLC, newest first: the count is estimated at 1M
    ]
    assert len(queries) == 20
    return queries


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def measure_searches(store: CatalogStore, queries: list[SearchQuery], repeat: int) -> dict[str, Any]:
    latencies: list[float] = []
    worst: list[tuple[float, int, int]] = []
    matched: list[int] = []
    for number, query in enumerate(queries, 1):
        page = store.search(query)  # warm-up
        matched.append(page.number_matched)
        runs = []
        for _ in range(repeat):
            began = time.perf_counter()
            store.search(query)
            runs.append((time.perf_counter() - began) * 1e3)
        latencies.extend(runs)
        worst.append((max(runs), number, page.number_matched))
    # a deep page: follow the cursor 20 pages into the broadest search, then time the next page
    query = queries[19]
    depth = 1
    for _ in range(20):
        page = store.search(query)
        if page.next_token is None:
            break
        query = query.with_token(page.next_token)
        depth += 1
    began = time.perf_counter()
    store.search(query)
    deep = (time.perf_counter() - began) * 1e3
    return {
        "p50": percentile(latencies, 0.50),
        "p95": percentile(latencies, 0.95),
        "mean": statistics.fmean(latencies),
        "worst": sorted(worst, reverse=True)[:3],
        "matched": matched,
        "deep_page": (depth, deep),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=1_000_000, help="products to generate")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each search")
    parser.add_argument(
        "--workdir", type=Path, default=None, help="folder of the SQLite file (default: temp)"
    )
    parser.add_argument(
        "--postgis",
        default=os.environ.get(
            "STRATA_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/strata_bench"
        ),
        help="PostGIS database URL ('' to skip)",
    )
    args = parser.parse_args()

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="strata-bench-"))
    sqlite_path = workdir / "catalog.sqlite"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{sqlite_path}{suffix}").unlink(missing_ok=True)
    stores: dict[str, CatalogStore] = {"SQLite": open_store(f"sqlite:///{sqlite_path}")}
    postgis = _postgis_url(args.postgis) if args.postgis else None
    if postgis:
        stores["PostGIS"] = open_store(postgis)
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

    anchor_positions = {round((i + 0.5) * args.count / 40) for i in range(40)}
    anchors: list[Item] = []
    upsert_seconds = dict.fromkeys(stores, 0.0)
    generate_seconds = 0.0
    items = generate_items(args.count, seed=args.seed)
    done = 0
    while done < args.count:
        began = time.perf_counter()
        batch = [item for _, item in zip(range(BATCH), items, strict=False)]
        generate_seconds += time.perf_counter() - began
        anchors.extend(item for i, item in enumerate(batch, done) if i in anchor_positions)
        for name, store in stores.items():
            began = time.perf_counter()
            store.upsert(batch)
            upsert_seconds[name] += time.perf_counter() - began
        done += len(batch)
        if done % 100_000 < BATCH:
            rates = ", ".join(f"{n} {done / s:,.0f}/s" for n, s in upsert_seconds.items())
            print(f"  {done:,} products ingested ({rates})", flush=True)
    for name, store in stores.items():
        began = time.perf_counter()
        store.optimize()
        upsert_seconds[name] += time.perf_counter() - began
    print(f"load average after ingest: {os.getloadavg()[0]:.1f}")

    queries = build_queries(anchors)
    rate = args.count / generate_seconds
    print(f"\n{args.count:,} generated products (generation alone: {rate:,.0f} products/s)")
    for name, store in stores.items():
        figures = measure_searches(store, queries, args.repeat)
        print(f"\n{name}")
        rate = args.count / upsert_seconds[name]
        print(f"  ingest: {rate:,.0f} products/s (batches of {BATCH}, incl. ANALYZE)")
        print(
            f"  search latency over 20 queries x {args.repeat}: p50 {figures['p50']:.1f} ms, "
            f"p95 {figures['p95']:.1f} ms, mean {figures['mean']:.1f} ms"
        )
        depth, deep = figures["deep_page"]
        print(f"  page {depth} of the broadest search, reached by cursor: {deep:.1f} ms")
        print("  slowest: " + ", ".join(f"q{n} {ms:.0f} ms ({m:,} matched)" for ms, n, m in figures["worst"]))
        print(f"  matches per query: {figures['matched']}")
        print(
            f"  vs pgstac's tile-search median ~{PGSTAC_TILE_MEDIAN_MS:.0f} ms: "
            f"ratio p50/{PGSTAC_TILE_MEDIAN_MS:.0f} = {figures['p50'] / PGSTAC_TILE_MEDIAN_MS:.2f}"
        )
        store.close()
    size = sqlite_path.stat().st_size / 1e9
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}; SQLite file {size:.2f} GB")


if __name__ == "__main__":
    main()
