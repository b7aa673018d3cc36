"""``strata catalog``: ingest product metadata, search and count products, generate an archive.

The database is ``--database URL``, else ``STRATA_DATABASE_URL``, else SQLite in
``STRATA_DATA_DIR``.  Bad input (a malformed query, a file of no known format, a corrupt file)
is reported in one line with exit code 2; a file's records are all read and checked before any
is written, so nothing of a corrupt file reaches the catalog.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from strata.catalog.errors import QueryError
from strata.catalog.model import Item
from strata.catalog.search import DEFAULT_LIMIT, SearchPage, SearchQuery, parse_interval
from strata.catalog.store import CatalogStore, UpsertCounts, open_store
from strata.settings import Settings

__all__ = ["app"]

app = typer.Typer(
    name="catalog",
    help="Sentinel product catalog: ingest metadata, search, count, generate a realistic archive.",
    no_args_is_help=True,
)

BATCH = 5000
MAX_REJECTIONS_SHOWN = 20
FORMATS = ("table", "json", "geojson")

Database = Annotated[
    str | None,
    typer.Option(
        "--database",
        help="Catalog database URL (default: STRATA_DATABASE_URL, else SQLite in STRATA_DATA_DIR).",
    ),
]


def _open(database: str | None) -> CatalogStore:
    settings = Settings()
    return open_store(database or settings.catalog_url, count_exact_limit=settings.count_exact_limit)


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def _batches(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    batch: list[Item] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


@app.command()
def ingest(
    paths: Annotated[
        list[str],
        typer.Argument(
            help="Metadata files (SAFE manifest/folder/zip, STAC, ASF/CDSE/RESTO JSON...) or product names."
        ),
    ],
    metadata_format: Annotated[
        str | None, typer.Option("--format", help="Reader to use (default: recognised from the content).")
    ] = None,
    database: Database = None,
) -> None:
    """Ingest products from metadata files; re-ingesting updates, never duplicates."""
    from strata.catalog.ingest import Rejected, read_path

    console = Console(stderr=True)
    total = UpsertCounts(0, 0)
    rejected: list[Rejected] = []
    store = _open(database)
    try:
        for path in paths:
            records = list(read_path(path, metadata_format))  # read (and check) everything first
            items = [record for record in records if isinstance(record, Item)]
            rejected.extend(record for record in records if isinstance(record, Rejected))
            with _progress(console) as progress:
                task = progress.add_task(f"ingest {Path(path).name}", total=len(items))
                for batch in _batches(items, BATCH):
                    counts = store.upsert(batch)
                    total = UpsertCounts(total.inserted + counts.inserted, total.updated + counts.updated)
                    progress.advance(task, len(batch))
        if total.inserted > BATCH:
            store.optimize()
    finally:
        store.close()
    typer.echo(
        f"{len(paths)} source(s): {total.inserted} inserted, {total.updated} updated, "
        f"{len(rejected)} rejected"
    )
    for record in rejected[:MAX_REJECTIONS_SHOWN]:
        typer.echo(f"  rejected {record.source}: {record.reason}")
    if len(rejected) > MAX_REJECTIONS_SHOWN:
        typer.echo(f"  ... and {len(rejected) - MAX_REJECTIONS_SHOWN} more")


@app.command()
def generate(
    count: Annotated[int, typer.Option("--count", min=1, help="Number of products to generate.")],
    seed: Annotated[int, typer.Option("--seed", help="Seed: the same seed gives the same archive.")] = 0,
    database: Database = None,
) -> None:
    """Generate a realistic Sentinel-1/2 archive (real orbit geometry) and ingest it."""
    from strata.catalog.generate import generate_items

    console = Console(stderr=True)
    total = UpsertCounts(0, 0)
    store = _open(database)
    began = time.perf_counter()
    try:
        with _progress(console) as progress:
            task = progress.add_task("generate", total=count)
            for batch in _batches(generate_items(count, seed=seed), BATCH):
                counts = store.upsert(batch)
                total = UpsertCounts(total.inserted + counts.inserted, total.updated + counts.updated)
                progress.advance(task, len(batch))
        store.optimize()
    finally:
        store.close()
    seconds = time.perf_counter() - began
    typer.echo(
        f"generated {count} products: {total.inserted} inserted, {total.updated} updated "
        f"in {seconds:.1f} s ({count / seconds:.0f} products/s)"
    )


def _query(options: dict[str, Any]) -> SearchQuery:
    """The SearchQuery of the command-line criteria (``None`` and empty options left out)."""
    interval = options.pop("datetime")
    if interval is not None:
        if options["start"] is not None or options["end"] is not None:
            raise QueryError("datetime: give --datetime or --start/--end, not both")
        options["start"], options["end"] = parse_interval(interval)
    if options.pop("offline"):
        if options["online"]:
            raise QueryError("online: give --online or --offline, not both")
        options["online"] = False
    elif not options["online"]:
        options["online"] = None
    criteria = {name: value for name, value in options.items() if value not in (None, [], "")}
    return SearchQuery(**criteria)


def _pages(store: CatalogStore, query: SearchQuery, wanted: int | None) -> Iterator[SearchPage]:
    """Pages until ``wanted`` products (all when ``None``) have been returned."""
    returned = 0
    while True:
        size = store.max_limit if wanted is None else min(wanted - returned, store.max_limit)
        page = store.search(query.model_copy(update={"limit": max(size, 1)}))
        yield page
        returned += len(page.items)
        if page.next_token is None or (wanted is not None and returned >= wanted):
            return
        query = query.with_token(page.next_token)


def _table(items: list[Item], matched: int, estimate: bool, next_token: str | None) -> None:
    table = Table(show_lines=False, header_style="bold")
    for heading in ("id", "platform", "mode", "type", "pol", "direction", "rel. orbit", "start (UTC)"):
        table.add_column(heading, no_wrap=True)
    for item in items:
        table.add_row(
            item.id,
            item.platform or "",
            item.sensor_mode or "",
            item.product_type or "",
            "+".join(item.polarisations),
            item.orbit_direction or "",
            "" if item.relative_orbit is None else str(item.relative_orbit),
            item.start_datetime.strftime("%Y-%m-%d %H:%M:%S"),
        )
    console = Console(width=None if sys.stdout.isatty() else 200)  # whole ids when piped
    console.print(table)
    console.print(f"{len(items)} shown of {'about ' if estimate else ''}{matched} matched")
    if next_token:
        console.print(f"next page: --token {next_token}", highlight=False, soft_wrap=True)


@app.command(
    "search", help="Search products; prints a table, or a GeoJSON FeatureCollection with numberMatched."
)
@app.command("count", help="Count the products matching the criteria (the options of search).")
def query_command(
    ctx: typer.Context,
    collection: Annotated[
        list[str] | None, typer.Option("--collection", help="Collection id (repeatable).")
    ] = None,
    ids: Annotated[list[str] | None, typer.Option("--id", help="Product id (repeatable).")] = None,
    platform: Annotated[list[str] | None, typer.Option(help="sentinel-1a, S1A... (repeatable).")] = None,
    instrument: Annotated[list[str] | None, typer.Option(help="c-sar, msi... (repeatable).")] = None,
    product_type: Annotated[list[str] | None, typer.Option(help="SLC, GRD, S2MSI1C... (repeatable).")] = None,
    processing_level: Annotated[list[str] | None, typer.Option(help="L0, L1, L2... (repeatable).")] = None,
    mode: Annotated[
        list[str] | None, typer.Option("--mode", help="Sensor mode IW, EW, SM, WV (repeatable).")
    ] = None,
    polarisation: Annotated[
        list[str] | None, typer.Option(help="Polarisation the products must carry (repeatable).")
    ] = None,
    orbit_direction: Annotated[str | None, typer.Option(help="ascending or descending.")] = None,
    absolute_orbit: Annotated[str | None, typer.Option(help="Values and ranges: 13,100..200.")] = None,
    relative_orbit: Annotated[str | None, typer.Option(help="Values and ranges: 13,100..120.")] = None,
    cycle: Annotated[str | None, typer.Option(help="Orbit cycle values and ranges.")] = None,
    datatake: Annotated[str | None, typer.Option(help="Datatake id values and ranges.")] = None,
    slice_number: Annotated[
        str | None, typer.Option("--slice", help="Slice number values and ranges.")
    ] = None,
    online: Annotated[bool, typer.Option("--online", help="Only products on disk.")] = False,
    offline: Annotated[bool, typer.Option("--offline", help="Only products on tape.")] = False,
    start: Annotated[str | None, typer.Option(help="Products ending at or after this time or date.")] = None,
    end: Annotated[str | None, typer.Option(help="Products starting at or before this time or date.")] = None,
    datetime: Annotated[str | None, typer.Option(help="STAC interval: A/B, ../B, A/.. .")] = None,
    bbox: Annotated[
        str | None, typer.Option(help="west,south,east,north (west > east crosses 180°).")
    ] = None,
    intersects: Annotated[str | None, typer.Option(help="WKT or GeoJSON geometry.")] = None,
    point: Annotated[str | None, typer.Option(help="lon,lat of a circle's centre (with --radius).")] = None,
    radius: Annotated[float | None, typer.Option(help="Circle radius in km.")] = None,
    tile: Annotated[str | None, typer.Option(help="Sentinel-2 MGRS tile id, e.g. 31TCJ.")] = None,
    perpendicular_baseline: Annotated[str | None, typer.Option(help="Range in metres: -50..50.")] = None,
    temporal_baseline: Annotated[str | None, typer.Option(help="Range in days: 0..48.")] = None,
    text: Annotated[
        str | None, typer.Option("--text", "-q", help="Words the product id must contain.")
    ] = None,
    sortby: Annotated[
        str | None, typer.Option(help="Fields, '-' for descending: -start_datetime,id.")
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            min=1, help=f"Products to print (search; default {DEFAULT_LIMIT} in a table, all in JSON)."
        ),
    ] = None,
    token: Annotated[str | None, typer.Option(help="Continue from a page's token (search).")] = None,
    output_format: Annotated[str, typer.Option("--format", help="table, json or geojson.")] = "table",
    database: Database = None,
) -> None:
    """Search or count products (the command name decides)."""
    if output_format not in FORMATS:
        raise QueryError(f"format: {output_format!r} is not one of {', '.join(FORMATS)}")
    query = _query(
        {
            "collections": collection,
            "ids": ids,
            "platforms": platform,
            "instruments": instrument,
            "product_types": product_type,
            "processing_levels": processing_level,
            "sensor_modes": mode,
            "polarisations": polarisation,
            "orbit_direction": orbit_direction,
            "absolute_orbit": absolute_orbit,
            "relative_orbit": relative_orbit,
            "cycle": cycle,
            "datatake_id": datatake,
            "slice_number": slice_number,
            "online": online,
            "offline": offline,
            "start": start,
            "end": end,
            "datetime": datetime,
            "bbox": bbox,
            "intersects": intersects,
            "point": point,
            "radius": radius,
            "tile": tile,
            "perpendicular_baseline": perpendicular_baseline,
            "temporal_baseline": temporal_baseline,
            "q": text,
            "sortby": sortby,
            "token": token,
        }
    )
    store = _open(database)
    try:
        if ctx.info_name == "count":
            matched = store.count(query)
            if output_format == "table":
                typer.echo(f"{'~' if matched.is_estimate else ''}{matched.value}")
            else:
                typer.echo(
                    json.dumps(
                        {"numberMatched": matched.value, "numberMatchedIsEstimate": matched.is_estimate}
                    )
                )
            return
        wanted = limit if limit is not None else (DEFAULT_LIMIT if output_format == "table" else None)
        pages = list(_pages(store, query, wanted))
    finally:
        store.close()
    items = [item for page in pages for item in page.items]
    last = pages[-1]
    if output_format == "table":
        _table(items, last.number_matched, last.matched_is_estimate, last.next_token)
        return
    collection_doc = SearchPage(
        items, last.number_matched, last.matched_is_estimate, last.next_token, pages[0].prev_token
    ).to_geojson()
    json.dump(collection_doc, sys.stdout, indent=None if output_format == "json" else 2)
    sys.stdout.write("\n")
