"""What a process is: pydantic inputs and outputs, a mode, resource needs and a work plan.

A process subclasses :class:`Process`, declares its ``inputs``/``outputs`` models and implements
:meth:`Process.plan` (inputs → steps) and :meth:`Process.publish` (final step record → outputs and the
files that become a catalog product).  Planning runs where the job is submitted, with a
:class:`ProductResolver` to turn catalog product ids into archived files, so workers need no database.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from strata.errors import InputError
from strata.processing.errors import ProcessInputError
from strata.processing.workplan import Step

__all__ = [
    "Asset",
    "PlanContext",
    "Process",
    "ProcessMode",
    "ProductResolver",
    "Publication",
    "Resources",
    "ResolvedProduct",
]


class ProcessMode(StrEnum):
    """Who may run a process and on what."""

    PUBLIC = "public"
    """One product at a time; anonymous users may run it."""
    PRIVATE = "private"
    """Mass production on many products; authenticated users only."""


class Resources(BaseModel):
    """Resource needs of one task of the process (what a PBS/SLURM job must request)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cores: int = Field(default=1, ge=1, description="CPU cores per task.")
    memory_gb: float = Field(default=1.0, gt=0, description="Memory per task in GiB.")
    walltime_s: int = Field(default=3600, ge=1, description="Upper bound of one task's run time, seconds.")


@dataclass(frozen=True, slots=True)
class ResolvedProduct:
    """A catalog product as a process sees it: its id, files and footprint."""

    id: str
    collection: str
    assets: dict[str, Path]
    """Asset key -> local file (or folder) of the archived product."""
    geometry: dict[str, Any]
    bbox: tuple[float, float, float, float]
    start_datetime: datetime
    end_datetime: datetime


class ProductResolver(Protocol):
    """Resolves a catalog product id into its archived files (the catalog behind the API)."""

    def __call__(self, product_id: str) -> ResolvedProduct:
        """Return the product; raise :class:`~strata.errors.NotFoundError` when it does not exist."""
        ...


@dataclass(frozen=True, slots=True)
class PlanContext:
    """What planning may consult: the catalog, and the folders whose files users may name."""

    resolve: ProductResolver
    file_roots: tuple[Path, ...]
    """Inputs naming server files must lie under one of these (the data directory by default)."""
    search: Callable[[dict[str, Any]], list[ResolvedProduct]] | None = None
    """Runs a catalog query (``strata.catalog.search.SearchQuery`` fields) over every page."""

    def products(self, input_name: str, query: dict[str, Any]) -> list[ResolvedProduct]:
        """The products a catalog query given as input ``input_name`` selects (at least one).

        Raises
        ------
        ProcessInputError
            When the query is malformed, selects nothing, or no catalog is available.
        """
        if self.search is None:
            raise ProcessInputError(input_name, "this server has no catalog to query")
        try:
            found = self.search(query)
        except (InputError, LookupError) as exc:
            raise ProcessInputError(input_name, str(exc)) from None
        if not found:
            raise ProcessInputError(input_name, "the catalog query selects no product")
        return found

    def product(self, input_name: str, product_id: str) -> ResolvedProduct:
        """Resolve a product id given as input ``input_name``; an unknown id names the input."""
        try:
            return self.resolve(product_id)
        except LookupError:
            raise ProcessInputError(input_name, f"no product {product_id!r} in the catalog") from None

    def file(self, input_name: str, path: str | Path) -> Path:
        """Check that a file named by input ``input_name`` exists under an allowed root."""
        resolved = Path(path).expanduser().resolve()
        if not any(resolved.is_relative_to(root.resolve()) for root in self.file_roots):
            raise ProcessInputError(input_name, f"{path} is outside the folders this server exposes")
        if not resolved.exists():
            raise ProcessInputError(input_name, f"{path} does not exist")
        return resolved


@dataclass(frozen=True, slots=True)
class Asset:
    """A file output that becomes an asset of the derived product."""

    path: Path
    media_type: str
    roles: tuple[str, ...] = ("data",)
    title: str = ""


@dataclass(slots=True)
class Publication:
    """What a finished job produced: literal outputs, and files forming a catalog product."""

    values: dict[str, Any] = field(default_factory=dict)
    """Literal outputs (numbers, strings), returned as they are."""
    assets: dict[str, Asset] = field(default_factory=dict)
    """File outputs; each becomes an asset of one STAC item in the ``strata-derived`` collection."""
    geometry: dict[str, Any] | None = None
    bbox: tuple[float, float, float, float] | None = None
    start_datetime: datetime | None = None
    end_datetime: datetime | None = None
    sources: list[str] = field(default_factory=list)
    """Catalog products the outputs derive from, besides those named by ``product_inputs``."""

    @staticmethod
    def footprint(source: ResolvedProduct | None) -> dict[str, Any] | None:
        """JSON form of a source product's footprint and time span (for a step's params)."""
        if source is None:
            return None
        return {
            "geometry": source.geometry,
            "bbox": list(source.bbox),
            "start_datetime": source.start_datetime.isoformat(),
            "end_datetime": source.end_datetime.isoformat(),
        }

    def locate(self, footprint: dict[str, Any] | None) -> Publication:
        """Set geometry, bbox and time span from :meth:`footprint`'s form (missing keys stay None)."""
        footprint = footprint or {}
        self.geometry = footprint.get("geometry")
        self.bbox = tuple(footprint["bbox"]) if footprint.get("bbox") else None
        if footprint.get("start_datetime"):
            self.start_datetime = datetime.fromisoformat(footprint["start_datetime"])
        if footprint.get("end_datetime"):
            self.end_datetime = datetime.fromisoformat(footprint["end_datetime"])
        return self


class Process(ABC):
    """A named process of the registry."""

    id: ClassVar[str]
    version: ClassVar[str] = "1.0.0"
    title: ClassVar[str]
    description: ClassVar[str]
    mode: ClassVar[ProcessMode] = ProcessMode.PUBLIC
    resources: ClassVar[Resources] = Resources()
    inputs: ClassVar[type[BaseModel]]
    outputs: ClassVar[type[BaseModel]]
    keywords: ClassVar[tuple[str, ...]] = ()
    product_inputs: ClassVar[tuple[str, ...]] = ()
    """Inputs holding catalog product ids (the sources named in the outputs' provenance)."""

    def validate_inputs(self, raw: dict[str, Any]) -> BaseModel:
        """Validate raw inputs into the input model.

        Raises
        ------
        ProcessInputError
            Naming the first invalid or missing input.
        """
        try:
            return self.inputs.model_validate(raw)
        except ValidationError as exc:
            err = exc.errors()[0]
            name = ".".join(str(p) for p in err["loc"]) or "inputs"
            raise ProcessInputError(name, err["msg"]) from None

    @abstractmethod
    def plan(self, inputs: BaseModel, context: PlanContext) -> list[Step]:
        """The steps of a job on these inputs (the last step's record carries the outputs).

        Raises
        ------
        ProcessInputError
            When an input is valid in form but unusable (unknown product, product without raster).
        """

    @abstractmethod
    def publish(self, inputs: BaseModel, record: dict[str, Any]) -> Publication:
        """Turn the final step's record into outputs and product files."""
