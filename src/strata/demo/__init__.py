"""The main job: a FLATSIM-style deformation study, end to end, on the embedded default.

:func:`run` takes one :class:`DemoConfig` and shows the platform working together:

1. **catalog** — the real metadata samples (when ``../shared/data`` is there) and a generated
   Sentinel-1/2 archive are ingested into the embedded SQLite catalog;
2. **data** — a simulated Tehran-like subsidence field (2 years of 12-day acquisitions, a network
   gap, troposphere, ramps, DEM error, decorrelation noise, unwrapping errors, missing pixels) is
   written as a LiCSAR ``GEOC`` stack and each interferogram is registered as a catalog product; the
   real Mexico City stack (``pyrate_cropA``) is registered too when present;
3. **work plan** — the stack is selected from the catalog by area of interest, and an
   ``sbas_timeseries`` job runs on a local Dask cluster; its velocity and time series come back as
   derived catalog products;
4. **report** — one HTML page with figures computed in this run (:mod:`strata.demo.report`).

Nothing the demo starts outlives it: the Dask cluster is closed on the way out, even on error.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from strata.catalog.generate import generate_items
from strata.catalog.ingest import Rejected, read_path
from strata.catalog.model import Item
from strata.catalog.search import SearchQuery
from strata.catalog.store.base import CatalogStore, open_store
from strata.errors import StrataError
from strata.insar.io import open_stack
from strata.insar.simulate import SimulatedStack, SimulationConfig, simulate_stack, write_stack
from strata.insar.stack import lonlat_bounds
from strata.settings import Settings

__all__ = ["DemoConfig", "DemoResult", "StackCase", "run"]

INTERFEROGRAM_COLLECTION = "strata-interferograms"

# Real metadata samples of ../shared/data that the demo ingests (relative paths; absent ones are skipped).
SAMPLES = (
    "asf_search/S1A_IW_SLC_path13_stack_176.json",
    "asf_search/Fairbanks_S1_stack.yml",
    "asf_search/S1_baseline_stack.yml",
    "sentinelsat/test_footprints_s1.yaml",
    "sentinelsat/test_returned_filesize.yaml",
    "eodag/cdse_odata_S1_GRD_search_10.json",
    "eodag/cdse_odata_search_S2.json",
    "eodag/sara_resto_search_S2.json",
    "eodag/geodes_stac_search_S2.json",
    "stactools_sentinel1/S1A_IW_GRDH_20210809_stac_item.json",
    "sentinelsat/S1A_IW_GRDH_1SDV_20230310T075746_manifest.safe",
)


class DemoConfig(BaseModel):
    """What the demo runs; the defaults are the full study (about 10 minutes on 2 cores)."""

    model_config = ConfigDict(extra="forbid")

    size: int = Field(1000, ge=64, description="Rows and columns of the simulated frame (pixels).")
    years: float = Field(2.0, gt=0.2, description="Length of the simulated acquisition period in years.")
    generated: int = Field(20_000, ge=0, description="Generated Sentinel-1/2 products added to the catalog.")
    samples: Path | None = Field(
        None, description="Folder of the real samples (default: ../shared/data when it exists)."
    )
    real_stack: bool = Field(True, description="Also process the real Mexico City stack when present.")
    chunk_size: int = Field(250, ge=16, description="Side of the spatial blocks inverted as Dask tasks.")
    seed: int = Field(7, ge=0, description="Seed of the simulation and of the generated archive.")


@dataclass
class StackCase:
    """One stack the demo processed, and what came out."""

    name: str
    title: str
    stack_path: Path
    pairs: int
    job_id: str
    job_seconds: float
    output_dir: Path
    summary: dict[str, Any]
    products: list[str]
    simulation: SimulatedStack | None = None


@dataclass
class DemoResult:
    """What :func:`run` did: catalog figures, the processed cases, step times, and the report."""

    catalog: dict[str, Any]
    cases: list[StackCase]
    steps: dict[str, float]
    peak_memory_mb: dict[str, float]
    report: Path
    notes: list[str] = field(default_factory=list)


def default_samples() -> Path | None:
    """``../shared/data`` seen from the working directory or from this checkout, when it exists."""
    here = Path(__file__).resolve()
    for base in (Path.cwd(), *here.parents):
        candidate = base.parent / "shared" / "data"
        if candidate.is_dir():
            return candidate
    return None


class _Steps:
    """Wall-clock time of each named step of the demo."""

    def __init__(self, say: Callable[[str], None]) -> None:
        self.seconds: dict[str, float] = {}
        self.say = say

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        self.say(f"· {name}…")
        start = time.perf_counter()
        yield
        self.seconds[name] = time.perf_counter() - start
        self.say(f"  {name}: {self.seconds[name]:.1f} s")


def _ingest_samples(store: CatalogStore, samples: Path) -> dict[str, Any]:
    """Ingest the real metadata samples; a rejected record is counted with its reason, never fatal."""
    items: list[Item] = []
    rejected: list[str] = []
    for relative in SAMPLES:
        path = samples / relative
        if not path.exists():
            continue
        for record in read_path(path):
            if isinstance(record, Rejected):
                rejected.append(f"{record.source}: {record.reason}")
            else:
                items.append(record)
    store.upsert(items)
    return {"real_records": len(items), "real_rejected": rejected}


def _ingest_generated(store: CatalogStore, count: int, seed: int, batch: int = 5000) -> int:
    buffer: list[Item] = []
    for item in generate_items(count, seed=seed):
        buffer.append(item)
        if len(buffer) == batch:
            store.upsert(buffer)
            buffer.clear()
    if buffer:
        store.upsert(buffer)
    return count


def _tehran_config(cfg: DemoConfig) -> SimulationConfig:
    """A Tehran-like field: two subsidence bowls up to 25 cm/yr, a season, a 3-month network gap."""
    start = date(2019, 1, 1)
    end = date(2019 + int(cfg.years), 1 + int((cfg.years % 1) * 12), 1)
    gap_start = date(start.year + int(cfg.years) // 2, 6, 1) if cfg.years >= 1 else date(2019, 3, 1)
    return SimulationConfig.model_validate(
        {
            "seed": cfg.seed,
            "grid": {"rows": cfg.size, "cols": cfg.size, "west_lon": 51.0, "north_lat": 35.75},
            "acquisitions": {"start": start, "end": end, "interval_days": 12},
            "network": {"n_nearest": 3, "disconnect_after": [gap_start]},
            "deformation": {
                "bowls": [
                    {"center": [0.55, 0.35], "sigma": [0.12, 0.2], "angle_deg": 25.0, "rate_mm_yr": -250.0},
                    {"center": [0.3, 0.7], "sigma": [0.06, 0.08], "angle_deg": -10.0, "rate_mm_yr": -90.0},
                ],
                "seasonal_amplitude_mm": 4.0,
            },
            "topography": {"base_height_m": 1000.0, "relief_m": 900.0},
            "unwrapping_errors": {"interferogram_share": 0.06},
        }
    )


def _register_stack(
    store: CatalogStore, name: str, stack_path: Path, fmt: str
) -> tuple[int, tuple[float, float, float, float]]:
    """Register each interferogram of a stack as a catalog product of the interferogram collection.

    Returns the number of products and the stack's WGS 84 bounds.
    """
    stack = open_stack(stack_path, fmt)
    west, south, east, north = bounds = lonlat_bounds(stack)
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    bperp = stack["perpendicular_baseline"].values if "perpendicular_baseline" in stack.coords else None
    items = []
    for k, label in enumerate(stack["pair"].values.tolist()):
        ref = stack["reference"].values[k].astype("datetime64[s]").item().replace(tzinfo=UTC)
        sec = stack["secondary"].values[k].astype("datetime64[s]").item().replace(tzinfo=UTC)
        items.append(
            Item(
                id=f"{name}_{label}",
                collection=INTERFEROGRAM_COLLECTION,
                geometry={"type": "Polygon", "coordinates": [ring]},
                bbox=(west, south, east, north),
                start_datetime=ref,
                end_datetime=sec,
                constellation="sentinel-1",
                instrument="c-sar",
                product_type="IFG_UNW",
                processing_level="L2",
                sensor_mode="IW",
                polarisations=("VV",),
                perpendicular_baseline=None if bperp is None else float(bperp[k]),
                temporal_baseline=float((sec - ref).days),
                properties={"strata:stack": str(stack_path), "strata:stack_format": fmt, "title": label},
                assets={"stack": {"href": str(stack_path), "roles": ["data"], "title": f"{name} stack"}},
            )
        )
    store.upsert(items)
    return len(items), bounds


def _select_stack(store: CatalogStore, bbox: tuple[float, float, float, float]) -> tuple[Path, str, int]:
    """The stack covering an area of interest, chosen from the catalog's interferogram products."""
    page = store.search(SearchQuery(collections=[INTERFEROGRAM_COLLECTION], bbox=bbox, limit=10_000))
    stacks = {(it.properties["strata:stack"], it.properties["strata:stack_format"]) for it in page.items}
    if len(stacks) != 1:
        raise StrataError(f"expected one interferogram stack over {bbox}, the catalog has {len(stacks)}")
    ((path, fmt),) = stacks
    return Path(path), fmt, len(page.items)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run(cfg: DemoConfig, settings: Settings, say: Callable[[str], None] = print) -> DemoResult:
    """Run the demo study in ``settings.data_dir`` and write its report there.

    Parameters
    ----------
    cfg
        What to run (sizes, seed, samples folder).
    settings
        The installation (data folder, catalog database, Dask).
    say
        Where progress lines go.

    Returns
    -------
    DemoResult
        Figures of the run and the path of ``report/index.html``.
    """
    from strata.demo.report import write_report
    from strata.processing.runtime import Processing

    steps = _Steps(say)
    data = settings.data_dir.resolve()
    data.mkdir(parents=True, exist_ok=True)
    samples = cfg.samples or default_samples()
    store = open_store(settings.catalog_url, count_exact_limit=settings.count_exact_limit)
    catalog: dict[str, Any] = {}
    notes: list[str] = []
    cases: list[StackCase] = []
    try:
        with steps("catalog: ingest real samples"):
            if samples is not None:
                catalog.update(_ingest_samples(store, samples))
            else:
                notes.append("../shared/data is absent: no real metadata samples ingested")
        with steps(f"catalog: generate {cfg.generated:,} products"):
            catalog["generated"] = _ingest_generated(store, cfg.generated, cfg.seed)

        # (name, title, folder, WGS 84 bounds, truth of a simulated stack)
        stacks: list[tuple[str, str, Path, tuple[float, float, float, float], SimulatedStack | None]] = []
        with steps("data: simulate the Tehran-like stack"):
            sim = simulate_stack(_tehran_config(cfg))
            tehran = write_stack(sim, data / "stacks" / "tehran", "licsar")
            catalog["tehran_interferograms"], bounds = _register_stack(store, "TEHRAN_SIM", tehran, "licsar")
            stacks.append(("tehran", "Simulated Tehran-like subsidence", tehran, bounds, sim))
        mexico = samples / "pyrate_cropA" if samples is not None else None
        if cfg.real_stack and mexico is not None and mexico.is_dir():
            with steps("data: register the real Mexico City stack"):
                catalog["mexico_interferograms"], bounds = _register_stack(
                    store, "MEXICO_PYRATE", mexico, "gamma"
                )
                stacks.append(
                    ("mexico", "Mexico City (real Sentinel-1, PyRate crop A)", mexico, bounds, None)
                )
        else:
            notes.append("real Mexico City stack absent or disabled: simulated case only")
        catalog["products_total"] = store.count(SearchQuery()).value

        processing = Processing.start(
            settings.model_copy(
                update={"process_file_roots": [*settings.process_file_roots, *(s[2] for s in stacks)]}
            ),
            store=store,
        )
        try:
            for name, title, _, bounds, truth in stacks:
                aoi = _aoi(bounds)
                with steps(f"work plan: {name} — select from catalog, SBAS on Dask"):
                    chosen, chosen_fmt, n_items = _select_stack(store, aoi)
                    job = processing.service.submit(
                        "sbas_timeseries",
                        {"stack": str(chosen), "format": chosen_fmt, "chunk_size": cfg.chunk_size},
                        owner="demo",
                    )
                    start = time.perf_counter()
                    job = _wait(processing, job.id, say)
                    elapsed = time.perf_counter() - start
                if job.status != "successful":
                    raise StrataError(f"job {job.id} on the {name} stack ended {job.status}: {job.message}")
                record = _timeseries_record(processing, job.id)
                cases.append(
                    StackCase(
                        name=name,
                        title=title,
                        stack_path=chosen,
                        pairs=n_items,
                        job_id=job.id,
                        job_seconds=elapsed,
                        output_dir=Path(record["dir"]) / "insar",
                        summary=record["outputs"]["summary"],
                        products=[job.item_id] if job.item_id else [],
                        simulation=truth,
                    )
                )
            peaks = {"demo process": _peak_rss_mb()}
            if processing.client is not None:
                worker_peaks = processing.client.run(_peak_rss_mb)
                peaks.update({f"dask worker {k + 1}": v for k, v in enumerate(worker_peaks.values())})
        finally:
            processing.close()
        with steps("report"):
            report = write_report(data / "report", cases, catalog, steps.seconds, peaks, notes)
    finally:
        store.close()
    return DemoResult(catalog, cases, steps.seconds, peaks, report, notes)


def _aoi(bounds: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """A small area of interest in the middle of a stack's WGS 84 bounds."""
    cx, cy = (bounds[0] + bounds[2]) / 2.0, (bounds[1] + bounds[3]) / 2.0
    return (cx - 0.001, cy - 0.001, cx + 0.001, cy + 0.001)


def _wait(processing: Any, job_id: str, say: Callable[[str], None]) -> Any:
    """Wait for a job with a progress bar fed by its progress %."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("  SBAS job"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task("job", total=100)
        while True:
            job = processing.service.wait(job_id, timeout=1.0)
            bar.update(task, completed=job.progress or 0)
            if job.status in ("successful", "failed", "dismissed"):
                return job


def _timeseries_record(processing: Any, job_id: str) -> dict[str, Any]:
    """The checkpoint record of a job's ``timeseries`` step (its outputs and folder)."""
    from strata.processing.workplan import read_checkpoint

    record = read_checkpoint(processing.service.job_dir(job_id), "timeseries")
    if record is None:
        raise StrataError(f"job {job_id} has no timeseries checkpoint")
    return record
