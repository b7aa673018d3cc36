"""The catalog side of processing: input product ids → files, and outputs → derived products.

:class:`CatalogProducts` resolves a product id into its archived file (what a process reads) and
publishes a finished job's files: each file output becomes one STAC item of the
``strata-derived`` collection, with provenance (process, version, inputs, job, source products),
archived atomically, so ``/download/{item id}`` serves it.  Outputs without a footprint (a preview of
an ungeoreferenced raster) are kept under ``<data_dir>/results/<job id>/`` and served by
``/jobs/{id}/results/{output}``.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from pydantic import ValidationError

from strata import __version__
from strata.catalog.archive import Archive
from strata.catalog.model import Collection, Item
from strata.catalog.search import SearchPage, SearchQuery
from strata.errors import InputError
from strata.processing.jobs import Job
from strata.processing.process import Asset, Publication, ResolvedProduct
from strata.processing.registry import Registry

__all__ = ["DERIVED_COLLECTION", "MAX_QUERY_PRODUCTS", "CatalogProducts", "ItemStore", "result_file"]

DERIVED_COLLECTION = "strata-derived"
MAX_QUERY_PRODUCTS = 10_000
"""Most products one process input may select by catalog query."""


class ItemStore(Protocol):
    """The part of the catalog store processing uses."""

    def get(self, item_id: str) -> Item:
        """The item; raises a ``NotFoundError`` (a ``LookupError``) when absent."""
        ...

    def upsert(self, items: list[Item]) -> Any:
        """Insert or replace items."""
        ...

    def get_collection(self, collection_id: str) -> Collection:
        """The collection; raises a ``NotFoundError`` when absent."""
        ...

    def put_collection(self, collection: Collection) -> Any:
        """Insert or replace a collection."""
        ...

    def search(self, query: SearchQuery) -> SearchPage:
        """One page of the products matching ``query``."""
        ...


def _local_path(href: str) -> Path | None:
    path = Path(href.removeprefix("file://"))
    return path if path.is_absolute() and path.exists() else None


def result_file(data_dir: Path, job_id: str, output: str) -> Path | None:
    """The kept file of an output that is not a catalog product, or None."""
    folder = data_dir / "results" / job_id
    return next(iter(sorted(folder.glob(f"{output}.*"))), None) if folder.is_dir() else None


class CatalogProducts:
    """Resolver and publisher of processing over one catalog store and archive."""

    def __init__(self, store: ItemStore, archive: Archive, registry: Registry, data_dir: Path) -> None:
        self.store = store
        self.archive = archive
        self.registry = registry
        self.data_dir = data_dir

    def resolve(self, product_id: str) -> ResolvedProduct:
        """The product with its files: the archived file (``data``) and assets with local hrefs."""
        item = self.store.get(product_id)
        assets: dict[str, Path] = {}
        if self.archive.is_online(item):
            assets["data"] = self.archive.online_path(item)
        for key, asset in item.assets.items():
            path = _local_path(str(asset.get("href", "")))
            if path is not None and key not in assets:
                assets[key] = path
        return ResolvedProduct(
            item.id, item.collection, assets, item.geometry, item.bbox, item.start_datetime, item.end_datetime
        )

    def search(self, query: dict[str, Any]) -> list[ResolvedProduct]:
        """Every product a catalog query selects (all pages, at most :data:`MAX_QUERY_PRODUCTS`).

        Raises
        ------
        InputError
            When the query is malformed or selects more than :data:`MAX_QUERY_PRODUCTS` products.
        """
        try:
            page = self.store.search(SearchQuery.model_validate({**query, "limit": 1000}))
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise InputError(problems) from None
        if page.number_matched > MAX_QUERY_PRODUCTS:
            raise InputError(
                f"the query selects {page.number_matched} products, more than {MAX_QUERY_PRODUCTS}"
            )
        items = list(page.items)
        while page.next_token is not None:
            page = self.store.search(
                SearchQuery.model_validate({**query, "limit": 1000, "token": page.next_token})
            )
            items.extend(page.items)
        return [self.resolve(item.id) for item in items]

    def _ensure_collection(self) -> None:
        try:
            self.store.get_collection(DERIVED_COLLECTION)
        except LookupError:
            self.store.put_collection(
                Collection(
                    id=DERIVED_COLLECTION,
                    title="Strata derived products",
                    description="Products made by Strata processes, with their provenance.",
                    license="CC-BY-4.0",
                    keywords=("derived", "processing"),
                )
            )

    def publish(self, job: Job, publication: Publication) -> tuple[str | None, dict[str, Any]]:
        """Archive and catalog the job's file outputs; return the first item id and the OGC results."""
        results: dict[str, Any] = dict(publication.values)
        first: str | None = None
        for name, asset in publication.assets.items():
            if publication.geometry is None or publication.bbox is None:
                kept = self.data_dir / "results" / job.id / f"{name}{asset.path.suffix}"
                kept.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(asset.path, kept)
                results[name] = {"href": f"/jobs/{job.id}/results/{name}", "type": asset.media_type}
                continue
            item = self._item(job, publication, name, asset)
            if first is None:
                self._ensure_collection()
            target = self.archive.put(item, asset.path)
            archived = self.archive.file(item)
            item.assets["data"]["href"] = str(target)
            item = item.replace(size=archived.size, checksum=f"sha256:{archived.sha256}")
            self.store.upsert([item])
            first = first or item.id
            results[name] = {"href": f"/download/{item.id}", "type": asset.media_type, "id": item.id}
        return first, results

    def _item(self, job: Job, publication: Publication, name: str, asset: Asset) -> Item:
        process = self.registry.get(job.process)
        now = datetime.now(UTC)
        sources: list[str] = []
        for key in process.product_inputs:
            value = job.inputs.get(key)
            sources.extend(value if isinstance(value, list) else [value] if value else [])
        sources.extend(s for s in publication.sources if s not in sources)
        assert publication.geometry is not None and publication.bbox is not None
        return Item(
            id=f"{job.process}-{job.id}-{name}",
            collection=DERIVED_COLLECTION,
            geometry=publication.geometry,
            bbox=publication.bbox,
            start_datetime=publication.start_datetime or now,
            end_datetime=publication.end_datetime or publication.start_datetime or now,
            product_type=f"{job.process}:{name}",
            assets={
                "data": {
                    "href": asset.path.name,
                    "type": asset.media_type,
                    "roles": list(asset.roles),
                    "title": asset.title or name,
                }
            },
            properties={
                "created": now.isoformat(),
                "processing:lineage": f"{process.title} {job.process_version} (Strata job {job.id})",
                "processing:software": {"strata": __version__},
                "strata:process": job.process,
                "strata:process_version": job.process_version,
                "strata:inputs": job.inputs,
                "strata:job": job.id,
                "strata:owner": job.owner,
            },
            links=[
                {"rel": "derived_from", "href": f"/collections/{self.store.get(s).collection}/items/{s}"}
                for s in sources
            ],
        )
