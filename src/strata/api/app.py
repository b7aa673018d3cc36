"""The application factory: ``create_app(settings)`` builds the whole HTTP API.

Run with ``strata serve`` or ``uvicorn --factory strata.api.app:create_app``.
"""

from fastapi import FastAPI

from strata import __version__
from strata.api.errors import add_exception_handlers
from strata.settings import Settings

__all__ = ["create_app"]


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the Strata API for ``settings`` (read from the environment when not given)."""
    settings = settings or Settings()
    app = FastAPI(title="Strata", version=__version__, description="Sentinel catalog, processing and InSAR.")
    app.state.settings = settings
    add_exception_handlers(app)
    return app
