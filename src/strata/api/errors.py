"""Errors of the HTTP adapter and the one place where Strata's domain errors map to HTTP statuses.

Every :class:`~strata.errors.StrataError` raised while serving a request becomes a JSON body
``{"code": <class name>, "description": <message>}`` (the STAC API error shape) with the status
of the nearest class in :data:`STATUS_CODES`.  Errors raised by the libraries the API is built on
(FastAPI request validation, ``HTTPException`` from stac-fastapi's parameter converters) are
rendered in the same shape, so a client sees one error format.  Endpoints whose spec defines another
body (OGC API - Processes exceptions, WPS ExceptionReport) install their own rendering on top of
this mapping.
"""

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from stac_fastapi.types import errors as stac_errors
from starlette.exceptions import HTTPException

from strata.errors import InputError, NotFoundError, StrataError
from strata.processing.errors import AuthenticationRequiredError, JobStateError

__all__ = [
    "STATUS_CODES",
    "ApiError",
    "AuthenticationError",
    "ConflictError",
    "PermissionDeniedError",
    "RateLimitError",
    "add_exception_handlers",
    "error_response",
    "status_for",
]


class ApiError(StrataError):
    """Base class of the errors of the HTTP adapter."""


class AuthenticationError(ApiError):
    """The request carries no valid credentials where credentials are required, or bad ones."""


class PermissionDeniedError(ApiError):
    """The authenticated user may not do this (e.g. a transaction without the admin role)."""


class ConflictError(ApiError):
    """The resource exists already (transaction ``POST`` of an existing item)."""


class RateLimitError(ApiError):
    """A rate limit or a download quota is exhausted; ``retry_after`` says when to come back."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after + 0.999))


STATUS_CODES: dict[type[Exception], int] = {
    InputError: 400,
    stac_errors.InvalidQueryParameter: 400,
    AuthenticationError: 401,
    AuthenticationRequiredError: 401,
    PermissionDeniedError: 403,
    NotFoundError: 404,
    stac_errors.NotFoundError: 404,
    ConflictError: 409,
    stac_errors.ConflictError: 409,
    JobStateError: 409,
    RateLimitError: 429,
    StrataError: 500,
}


def status_for(exc: Exception) -> int:
    """HTTP status of an error: the first class of its MRO present in :data:`STATUS_CODES`."""
    for cls in type(exc).__mro__:
        if cls in STATUS_CODES:
            return STATUS_CODES[cls]
    return 500


def error_response(exc: Exception) -> JSONResponse:
    """The STAC-shaped JSON response of ``exc`` (with ``Retry-After``/``WWW-Authenticate`` as due)."""
    status = status_for(exc)
    headers: dict[str, str] = {}
    if isinstance(exc, RateLimitError):
        headers["Retry-After"] = str(exc.retry_after)
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="strata"'
    return JSONResponse(
        status_code=status, content={"code": type(exc).__name__, "description": str(exc)}, headers=headers
    )


def add_exception_handlers(app: FastAPI) -> None:
    """Install the Strata error handlers on ``app`` (replacing any installed before)."""

    async def strata_error(request: Request, exc: Exception) -> JSONResponse:
        return error_response(exc)

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        parts = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("query", "body", "path"))
            parts.append(f"{loc}: {err.get('msg')}" if loc else str(err.get("msg")))
        return JSONResponse(
            status_code=400, content={"code": "InvalidParameterValue", "description": "; ".join(parts)}
        )

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        code = "InvalidParameterValue" if exc.status_code == 400 else f"HTTP{exc.status_code}"
        return JSONResponse(
            status_code=exc.status_code,
            content={"code": code, "description": str(exc.detail)},
            headers=exc.headers,
        )

    for cls in STATUS_CODES:
        app.add_exception_handler(cls, strata_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
