"""Assemble processing from settings: job service, Dask cluster and runner, catalog products.

The API server (``create_app``), ``strata worker`` and the CLI build one :class:`Processing` each;
``run_jobs=False`` builds only the job service (submit, list, operator requests) with no cluster.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from distributed import Client

from strata.catalog.archive import Archive
from strata.processing.executor import JobRunner, connect
from strata.processing.jobs import JobService, JobStore, create_engine
from strata.processing.process import PlanContext
from strata.processing.products import CatalogProducts, ItemStore
from strata.processing.registry import Registry
from strata.settings import Settings

__all__ = ["Processing"]


@dataclass
class Processing:
    """A running processing installation."""

    settings: Settings
    service: JobService
    products: CatalogProducts
    client: Client | None = None
    cluster: Any = None
    runner: JobRunner | None = None

    @classmethod
    def start(
        cls,
        settings: Settings,
        *,
        store: ItemStore | None = None,
        archive: Archive | None = None,
        run_jobs: bool = True,
        client: Client | None = None,
        registry: Registry | None = None,
    ) -> Processing:
        """Open the job database and, with ``run_jobs``, connect to Dask and start a job runner.

        Parameters
        ----------
        settings
            The installation's settings (database, data folder, Dask, job policy).
        store, archive
            Catalog store and archive to share (the API's); opened from settings when not given.
        run_jobs
            Start a cluster (or connect to ``settings.dask_address``) and a runner.
        client
            Dask client of an existing cluster (e.g. a dask-jobqueue cluster), instead of ``connect``.
        registry
            Processes (default: built-ins plus entry points).
        """
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(settings.catalog_url)
        if store is None:
            from strata.catalog.store.base import open_store

            store = open_store(settings.catalog_url, count_exact_limit=settings.count_exact_limit)
        archive = archive or Archive(settings.data_dir / "archive", engine)
        registry = registry or Registry.default()
        products = CatalogProducts(store, archive, registry, settings.data_dir)
        roots = (settings.data_dir, *settings.process_file_roots)
        service = JobService(
            JobStore(engine),
            registry,
            settings.data_dir,
            PlanContext(products.resolve, roots, products.search),
            max_attempts=settings.job_max_attempts,
        )
        processing = cls(settings, service, products)
        if run_jobs:
            cluster = None
            if client is None:
                client, cluster = connect(settings)
            processing.client, processing.cluster = client, cluster
            processing.runner = JobRunner(
                service,
                client,
                products.publish,
                lease_s=settings.job_lease_s,
                stop_grace_s=settings.job_stop_grace_s,
            )
            processing.runner.start()
        return processing

    def close(self) -> None:
        """Stop the runner and the cluster this object started (jobs resume at the next start)."""
        if self.runner is not None:
            self.runner.close()
        if self.cluster is not None:
            assert self.client is not None
            self.client.close()
            self.cluster.close()
        self.service.store.engine.dispose()
