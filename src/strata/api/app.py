"""The application factory: ``create_app(settings)`` builds the whole HTTP API.

Run with ``strata serve`` or ``uvicorn --factory strata.api.app:create_app``.  The app is composed
of one router (or route installer) per concern: STAC API (:mod:`strata.api.stac`), OpenSearch
façade (:mod:`strata.api.opensearch`), downloads (:mod:`strata.api.downloads`); others add theirs
with one ``include_router`` line.  Authentication and rate limits wrap every route
(:mod:`strata.api.auth`).
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from strata import __version__
from strata.api import downloads, opensearch, processes, wps
from strata.api.access import ApiState
from strata.api.auth import AuthMiddleware, RateLimiter
from strata.api.errors import add_exception_handlers
from strata.api.stac import install_stac
from strata.api.users import UserStore, engine_for
from strata.catalog.archive import Archive
from strata.catalog.store.base import open_store
from strata.settings import Settings

__all__ = ["create_app"]


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the Strata API for ``settings`` (read from the environment when not given)."""
    settings = settings or Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = engine_for(settings.catalog_url)
    state = ApiState(
        settings=settings,
        store=open_store(settings.catalog_url, count_exact_limit=settings.count_exact_limit),
        users=UserStore(engine),
        archive=Archive(settings.data_dir / "archive", engine),
        limiter=RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst),
    )
    state.stager = downloads.Stager(state, settings.staging_delay_s)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await state.stager.resume()
        yield
        await state.stager.close()

    app = FastAPI(
        title="Strata",
        version=__version__,
        description="Sentinel catalog, processing and InSAR: STAC API, OpenSearch, downloads.",
        lifespan=lifespan,
    )
    app.state.strata = state
    install_stac(app, settings)
    app.state.settings = settings  # after install_stac: stac-fastapi stores its own settings there
    app.include_router(opensearch.router)
    app.include_router(downloads.router)
    app.include_router(processes.router)
    app.include_router(wps.router)
    app.add_middleware(AuthMiddleware, users=state.users, limiter=state.limiter)
    add_exception_handlers(app)
    return app
