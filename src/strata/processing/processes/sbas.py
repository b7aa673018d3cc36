"""``sbas_timeseries``: the InSAR time-series workflow on an interferogram stack, as a job.

The stack is a folder on the server, or the products a catalog query selects (their archived
files, zips of the layout's folders or single files, are assembled into one stack folder).  Two
checkpointed steps: ``prepare`` assembles and validates the stack and writes the workflow
configuration (``insar.yaml``) with the stack's footprint; ``timeseries`` runs
:func:`strata.insar.workflow.run`, its spatial blocks as threaded Dask tasks, with the workflow's
progress reported as the step's.  The velocity (COG) and the time series (NetCDF-CF) become derived
catalog products, whose provenance names the query's products.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path
from typing import Any, Literal, Self

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from strata.errors import StrataError
from strata.insar.config import InsarConfig
from strata.insar.io import open_stack
from strata.insar.stack import lonlat_bounds
from strata.processing.errors import ProcessInputError
from strata.processing.process import Asset, PlanContext, Process, ProcessMode, Publication, Resources
from strata.processing.workplan import Step, StepContext

__all__ = ["SbasInputs", "SbasOutputs", "SbasTimeseries", "prepare_workflow", "run_workflow"]

COG = "image/tiff; application=geotiff; profile=cloud-optimized"
# workflow product name -> (job output name, media type, title)
PRODUCTS = {
    "velocity": ("velocity", COG, "LOS velocity (mm/yr)"),
    "timeseries_netcdf": ("timeseries", "application/x-netcdf", "LOS displacement time series (mm)"),
}


class SbasInputs(BaseModel):
    """Inputs of ``sbas_timeseries``."""

    model_config = ConfigDict(extra="forbid")

    stack: str | None = Field(
        default=None,
        description="Folder (or MintPy file) of the unwrapped interferogram stack on the server.",
    )
    query: dict[str, Any] | None = Field(
        default=None,
        description="Catalog query selecting the stack's products instead of `stack` (STAC search fields: "
        "collections, bbox, start, end, relative_orbit...); their archived files (zips of the layout's "
        "folders, or single files) are assembled into one stack folder.",
    )
    format: Literal["licsar", "aria", "mintpy", "gamma"] = Field(
        default="licsar", description="Layout of the stack: licsar, aria, mintpy or gamma."
    )
    chunk_size: int = Field(
        default=128, ge=8, le=4096, description="Side of the spatial blocks inverted as parallel Dask tasks."
    )
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="Further workflow options as in `strata insar config --print-empty` (network, closure, "
        "inversion, corrections, velocity).",
    )

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.stack is None) == (self.query is None):
            raise ValueError("give exactly one of stack or query")
        return self


class SbasOutputs(BaseModel):
    """Outputs of ``sbas_timeseries``."""

    velocity: str = Field(
        description="Line-of-sight velocity in mm/yr (COG, a link).",
        json_schema_extra={"contentMediaType": COG},
    )
    timeseries: str = Field(
        description="Displacement time series in mm (NetCDF-CF, a link).",
        json_schema_extra={"contentMediaType": "application/x-netcdf"},
    )
    summary: dict[str, Any] = Field(description="Figures of the run (network, inversion, velocity).")


def _config(inputs: dict[str, Any], stack: str, output: Path) -> InsarConfig:
    content = {
        **inputs["options"],
        "input": {"path": stack, "format": inputs["format"]},
        "output": str(output),
        "chunking": {"chunk_size": inputs["chunk_size"]},
    }
    return InsarConfig.from_dict(content, source="options")


def _footprint(stack: Any) -> dict[str, Any] | None:
    """WGS84 footprint and time span of a geocoded stack, or None in radar geometry."""
    crs = stack.attrs.get("crs")
    if not crs:
        return None
    west, south, east, north = lonlat_bounds(stack)
    dates = np.concatenate([stack["reference"].values, stack["secondary"].values]).astype("datetime64[s]")
    return {
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[west, south], [east, south], [east, north], [west, north], [west, south]]],
        },
        "bbox": [west, south, east, north],
        "start_datetime": f"{dates.min()}+00:00",
        "end_datetime": f"{dates.max()}+00:00",
    }


def _assemble(files: list[str], folder: Path) -> None:
    """Extract zipped products (or copy single files) into one stack folder."""
    folder.mkdir()
    root = folder.resolve()
    for name in files:
        path = Path(name)
        if not zipfile.is_zipfile(path):
            shutil.copyfile(path, folder / path.name)
            continue
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                if not (folder / member).resolve().is_relative_to(root):
                    raise ValueError(f"{path.name}: member {member!r} would leave the stack folder")
            archive.extractall(folder)


def _stack_path(ctx: StepContext) -> str:
    """The stack folder: the input path, or the one ``prepare`` assembled from catalog products."""
    if ctx.params["stack"] is not None:
        return str(ctx.params["stack"])
    if "prepare" in ctx.upstream:
        return str(ctx.upstream_path("prepare", "stack"))
    return str(ctx.workdir / "stack")


def prepare_workflow(ctx: StepContext) -> dict[str, Any]:
    """Assemble the stack if it comes from the catalog, open it, write the workflow configuration."""
    if ctx.params["stack"] is None:
        _assemble(ctx.params["files"], ctx.workdir / "stack")
    path = _stack_path(ctx)
    stack = open_stack(path, ctx.inputs["format"])
    config = _config(ctx.inputs, path, Path("insar"))
    config.to_yaml(ctx.workdir / "insar.yaml")
    return {
        "config": "insar.yaml",
        "footprint": _footprint(stack),
        "pairs": int(stack.sizes["pair"]),
        **({"stack": "stack"} if ctx.params["stack"] is None else {}),
    }


def run_workflow(ctx: StepContext) -> dict[str, Any]:
    """Run the InSAR workflow in this step's folder, its spatial blocks as threaded Dask tasks.

    The blocks run on the threads of the worker holding the step (``chunking.workers`` =
    the process's ``resources.cores``), and so do the workflow's other dask computations (inside a
    worker the default scheduler would be the cluster's client): a worker lost mid-step is then one
    infrastructure failure, and the step is retried whole.  The workflow's graph does serialise, so
    spreading the blocks over the cluster (``worker_client``) is possible once block failures are
    retried per block.
    """
    import dask

    from strata.insar.workflow import run

    config = _config(ctx.inputs, _stack_path(ctx), ctx.workdir / "insar")
    config.chunking.workers = int(ctx.params["cores"])

    def progress(step: str, fraction: float) -> None:
        ctx.progress(fraction, step)

    with dask.config.set(scheduler="threads"):  # nested computes stay in this worker
        result = run(config, progress=progress)
    products = {
        name: str(path.relative_to(ctx.workdir)) for name, path in result.paths.items() if name in PRODUCTS
    }
    prepared = ctx.upstream["prepare"]
    return {
        **products,
        "summary": result.summary,
        "footprint": prepared["outputs"]["footprint"],
        "sources": prepared["params"]["sources"],
    }


class SbasTimeseries(Process):
    """NSBAS time series of an interferogram stack (private mode: mass production)."""

    id = "sbas_timeseries"
    title = "SBAS time series"
    description = (
        "The Strata InSAR workflow (network selection, loop closure, NSBAS inversion, corrections, "
        "velocity) on an unwrapped interferogram stack in LiCSAR, ARIA, MintPy or GAMMA layout, in parallel "
        "spatial blocks. Outputs: velocity (COG) and displacement time series (NetCDF)."
    )
    mode = ProcessMode.PRIVATE
    resources = Resources(cores=2, memory_gb=4.0, walltime_s=6 * 3600)
    inputs = SbasInputs
    outputs = SbasOutputs
    keywords = ("sentinel-1", "insar", "sbas", "time series")

    def plan(self, inputs: BaseModel, context: PlanContext) -> list[Step]:
        """``prepare`` → ``timeseries``; the stack (or the query's products) and options are checked now."""
        assert isinstance(inputs, SbasInputs)
        stack: str | None = None
        files: list[str] = []
        sources: list[str] = []
        if inputs.stack is not None:
            path = context.file("stack", inputs.stack)
            try:
                open_stack(path, inputs.format)
            except StrataError as exc:
                raise ProcessInputError("stack", str(exc)) from None
            stack = str(path)
        else:
            assert inputs.query is not None
            for product in context.products("query", inputs.query):
                if "data" not in product.assets:
                    raise ProcessInputError("query", f"product {product.id} has no archived file online")
                files.append(str(product.assets["data"]))
                sources.append(product.id)
        try:
            _config(inputs.model_dump(), stack or "stack", Path("insar"))
        except StrataError as exc:
            raise ProcessInputError("options", str(exc)) from None
        return [
            Step.of(prepare_workflow, "prepare", stack=stack, files=files, sources=sources),
            Step.of(run_workflow, "timeseries", ["prepare"], stack=stack, cores=self.resources.cores),
        ]

    def publish(self, inputs: BaseModel, record: dict[str, Any]) -> Publication:
        """Velocity and time series as derived products on the stack's footprint."""
        outputs = record["outputs"]
        folder = Path(record["dir"])
        assets = {
            output: Asset(folder / outputs[name], media_type, ("data",), title)
            for name, (output, media_type, title) in PRODUCTS.items()
            if name in outputs
        }
        publication = Publication(
            values={"summary": outputs["summary"]}, assets=assets, sources=outputs["sources"]
        )
        return publication.locate(outputs["footprint"])
