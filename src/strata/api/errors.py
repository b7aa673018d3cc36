"""The one place where Strata's domain errors map to HTTP statuses.

Every :class:`~strata.errors.StrataError` raised while serving a request becomes a JSON body
``{"code": <class name>, "description": <message>}`` (the STAC API error shape) with the status
of the nearest class in :data:`STATUS_CODES`.  Endpoints whose spec defines another body (OGC API -
Processes exceptions, WPS ExceptionReport) install their own rendering on top of this mapping.
"""

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from strata.errors import InputError, NotFoundError, StrataError

__all__ = ["STATUS_CODES", "add_exception_handlers", "status_for"]

STATUS_CODES: dict[type[Exception], int] = {
    InputError: 400,
    NotFoundError: 404,
    StrataError: 500,
}


def status_for(exc: Exception) -> int:
    """HTTP status of an error: the first class of its MRO present in :data:`STATUS_CODES`."""
    for cls in type(exc).__mro__:
        if cls in STATUS_CODES:
            return STATUS_CODES[cls]
    return 500


def add_exception_handlers(app: FastAPI) -> None:
    """Install the Strata error handlers on ``app``."""

    async def strata_error(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(
            status_code=status_for(exc), content={"code": type(exc).__name__, "description": str(exc)}
        )

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        parts = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("query", "body", "path"))
            parts.append(f"{loc}: {err.get('msg')}" if loc else str(err.get("msg")))
        return JSONResponse(
            status_code=400, content={"code": "InvalidParameterValue", "description": "; ".join(parts)}
        )

    app.add_exception_handler(StrataError, strata_error)
    app.add_exception_handler(RequestValidationError, validation_error)
