"""OGC API - Processes Part 1 over Strata's durable jobs, plus the operator commands on jobs.

``/processes``, ``/processes/{id}``, ``/processes/{id}/execution`` (synchronous, or asynchronous
with ``Prefer: respond-async`` → 201 and ``Location``), ``/jobs`` (filters ``status``,
``processID``, ``owner``; paged with ``limit``/``offset``), ``/jobs/{id}`` (status with progress),
``/jobs/{id}/results``, ``DELETE /jobs/{id}`` (dismiss: the tasks stop on the cluster, then the
working files go).  Operator commands: ``POST /jobs/{id}/stop|resume|retry|resubmit`` and
``GET /jobs/{id}/logs``.

Jobs belong to the user who submitted them (anonymous jobs to nobody): another user gets 404 for
them, exactly as for a job that does not exist; administrators see every job.  Errors are OGC
exception documents (``type``, ``title``, ``status``, ``detail``) with the status of
:data:`strata.api.errors.STATUS_CODES`.  The router's lifespan starts processing (the job runner
on a Dask LocalCluster, or on ``STRATA_DASK_ADDRESS``) with the server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Body, FastAPI, Header, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.routing import APIRoute

from strata.api.auth import current_user
from strata.api.errors import status_for
from strata.api.users import User
from strata.errors import StrataError
from strata.processing.errors import (
    JobFailedError,
    JobNotFoundError,
    ProcessInputError,
    ProcessNotFoundError,
    ResultsNotReadyError,
)
from strata.processing.jobs import Job, JobService, JobStatus
from strata.processing.process import Process
from strata.processing.products import result_file
from strata.processing.runtime import Processing

__all__ = [
    "Caller",
    "OgcRoute",
    "caller_of",
    "job_results",
    "process_description",
    "processing_of",
    "router",
]

_OGC_EXCEPTIONS = "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/"
_EXCEPTION_TYPES: dict[type[Exception], str] = {
    ProcessNotFoundError: "no-such-process",
    JobNotFoundError: "no-such-job",
    ResultsNotReadyError: "result-not-ready",
}


def _ogc_exception(exc: Exception) -> JSONResponse:
    if isinstance(exc, RequestValidationError):
        status, title = 400, "InvalidParameterValue"
        detail = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()) if p not in ('query', 'body', 'path'))}: {e['msg']}"
            for e in exc.errors()
        )
    else:
        status, title, detail = status_for(exc), type(exc).__name__, str(exc)
    kind = next((v for k, v in _EXCEPTION_TYPES.items() if isinstance(exc, k)), None)
    body: dict[str, Any] = {
        "type": _OGC_EXCEPTIONS + kind if kind else f"urn:strata:error:{title}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if isinstance(exc, ProcessInputError):
        body["input"] = exc.input
    headers = {"WWW-Authenticate": 'Bearer realm="strata"'} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


class OgcRoute(APIRoute):
    """A route rendering Strata errors and request validation errors as OGC exception documents."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap the handler: errors become OGC exception JSON."""
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except (StrataError, RequestValidationError) as exc:
                return _ogc_exception(exc)

        return route


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = app.state.settings
    state = app.state.strata
    processing = await to_thread.run_sync(
        lambda: Processing.start(
            settings, store=state.store, archive=state.archive, run_jobs=settings.run_jobs
        )
    )
    app.state.processing = processing
    try:
        yield
    finally:
        await to_thread.run_sync(processing.close)


router = APIRouter(tags=["Processes"], route_class=OgcRoute, lifespan=_lifespan)


class Caller:
    """Who is asking: the owner name of their jobs (None when anonymous) and whether an admin."""

    def __init__(self, user: User | None) -> None:
        self.owner = user.name if user is not None else None
        self.admin = bool(user is not None and user.is_admin)


def caller_of(request: Request) -> Caller:
    """The caller of ``request``."""
    return Caller(current_user(request))


def processing_of(request: Request) -> Processing:
    """The processing installation of the application serving ``request``."""
    processing: Processing = request.app.state.processing
    return processing


def _service(request: Request) -> JobService:
    return processing_of(request).service


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def process_description(process: Process, base: str, full: bool = True) -> dict[str, Any]:
    """OGC process summary (``full=False``) or description with input and output schemas."""
    body: dict[str, Any] = {
        "id": process.id,
        "title": process.title,
        "description": process.description,
        "version": process.version,
        "keywords": list(process.keywords),
        "jobControlOptions": ["sync-execute", "async-execute", "dismiss"],
        "outputTransmission": ["value", "reference"],
        "strata:mode": process.mode.value,
        "strata:resources": process.resources.model_dump(),
        "links": [
            {"href": f"{base}/processes/{process.id}", "rel": "self", "type": "application/json"},
            {
                "href": f"{base}/processes/{process.id}/execution",
                "rel": "http://www.opengis.net/def/rel/ogc/1.0/execute",
                "type": "application/json",
            },
        ],
    }
    if full:
        body["inputs"] = _descriptions(process.inputs.model_json_schema(), inputs=True)
        body["outputs"] = _descriptions(process.outputs.model_json_schema(), inputs=False)
    return body


def _descriptions(schema: dict[str, Any], inputs: bool) -> dict[str, Any]:
    required = set(schema.get("required", []))
    described = {}
    for name, prop in schema.get("properties", {}).items():
        entry: dict[str, Any] = {
            "title": prop.get("title", name),
            "description": prop.get("description", ""),
            "schema": {k: v for k, v in prop.items() if k not in ("title", "description")},
        }
        if inputs:
            entry["minOccurs"] = 1 if name in required else 0
            entry["maxOccurs"] = "unbounded" if prop.get("type") == "array" else 1
        described[name] = entry
    return described


def status_info(job: Job, base: str, steps: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """OGC ``statusInfo`` of a job (``stopped`` jobs show as ``accepted``; ``strata:state`` tells)."""
    links = [{"href": f"{base}/jobs/{job.id}", "rel": "self", "type": "application/json"}]
    if job.status == JobStatus.SUCCESSFUL:
        links.append(
            {
                "href": f"{base}/jobs/{job.id}/results",
                "rel": "http://www.opengis.net/def/rel/ogc/1.0/results",
                "type": "application/json",
            }
        )
    info: dict[str, Any] = {
        "jobID": job.id,
        "processID": job.process,
        "type": "process",
        "status": JobStatus.ACCEPTED if job.status == JobStatus.STOPPED else job.status,
        "message": job.message,
        "created": job.created.isoformat(),
        "started": job.started.isoformat() if job.started else None,
        "finished": job.finished.isoformat() if job.finished else None,
        "updated": job.updated.isoformat(),
        "progress": job.progress,
        "links": links,
        "strata:state": job.status,
        "strata:failure": job.failure,
        "strata:attempt": job.attempt,
        "strata:owner": job.owner,
        "strata:product": job.item_id,
    }
    if steps is not None:
        info["strata:steps"] = steps
    return info


def job_results(job: Job, base: str) -> dict[str, Any]:
    """The results of a successful job, links made absolute.

    Raises
    ------
    JobFailedError
        When the job failed (an OGC exception with status 500).
    ResultsNotReadyError
        When the job is still running or was dismissed.
    """
    if job.status == JobStatus.FAILED:
        raise JobFailedError(f"job {job.id} failed ({job.failure}): {job.message}")
    if job.status != JobStatus.SUCCESSFUL or job.results is None:
        raise ResultsNotReadyError(f"job {job.id} is {job.status}")
    return {
        name: {**value, "href": base + value["href"]}
        if isinstance(value, dict) and "href" in value
        else value
        for name, value in job.results.items()
    }


def _unwrap(inputs: dict[str, Any]) -> dict[str, Any]:
    """OGC qualified values ``{"value": v}`` → ``v``."""
    return {
        k: v["value"] if isinstance(v, dict) and set(v) <= {"value", "mediaType"} and "value" in v else v
        for k, v in inputs.items()
    }


def _job_info(request: Request, job: Job, with_steps: bool = False) -> dict[str, Any]:
    steps = None
    if with_steps:
        steps = [
            {"name": s.name, "state": s.state, "attempts": s.attempts, "message": s.message}
            for s in _service(request).store.steps(job.id)
        ]
    return status_info(job, _base(request), steps)


@router.get("/processes", summary="List the processes")
def list_processes(request: Request, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
    """Summaries of the registered processes."""
    base = _base(request)
    processes = list(_service(request).registry)[:limit]
    return {
        "processes": [process_description(p, base, full=False) for p in processes],
        "links": [{"href": f"{base}/processes", "rel": "self", "type": "application/json"}],
    }


@router.get("/processes/{process_id}", summary="Describe a process")
def describe_process(process_id: str, request: Request) -> dict[str, Any]:
    """Description of one process with its input and output schemas."""
    return process_description(_service(request).registry.get(process_id), _base(request))


@router.post("/processes/{process_id}/execution", summary="Execute a process", status_code=200)
def execute(
    process_id: str,
    request: Request,
    body: Annotated[dict[str, Any], Body()],
    prefer: Annotated[str | None, Header()] = None,
) -> Response:
    """Submit a job; wait for it unless ``Prefer: respond-async`` (or the wait times out)."""
    caller = caller_of(request)
    service = _service(request)
    raw = body.get("inputs", {})
    if not isinstance(raw, dict):
        raise ProcessInputError("inputs", "must be an object of input values")
    job = service.submit(process_id, _unwrap(raw), caller.owner)
    base = _base(request)
    location = {"Location": f"{base}/jobs/{job.id}"}
    if prefer is None or "respond-async" not in prefer.lower():
        job = service.wait(job.id, processing_of(request).settings.job_sync_timeout_s)
        if job.status in (JobStatus.SUCCESSFUL, JobStatus.FAILED):
            return JSONResponse(job_results(job, base), headers=location)
    return JSONResponse(
        status_info(job, base), status_code=201, headers={**location, "Preference-Applied": "respond-async"}
    )


@router.get("/jobs", summary="List jobs")
def list_jobs(
    request: Request,
    status: Annotated[list[str] | None, Query()] = None,
    process_id: Annotated[list[str] | None, Query(alias="processID")] = None,
    owner: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """The caller's jobs (an admin's: everyone's, or ``owner``'s), newest first."""
    caller = caller_of(request)
    if caller.admin:
        any_owner, who = owner is None, owner
    else:
        any_owner, who = False, caller.owner
        if owner is not None and owner != caller.owner:
            return {"jobs": [], "numberMatched": 0, "links": []}
    jobs, total = _service(request).store.find(
        owner=who,
        any_owner=any_owner,
        status=status or (),
        process=process_id or (),
        limit=limit,
        offset=offset,
    )
    base = _base(request)
    query = request.url.include_query_params
    links = [{"href": str(request.url), "rel": "self", "type": "application/json"}]
    if offset + limit < total:
        links.append({"href": str(query(offset=offset + limit)), "rel": "next", "type": "application/json"})
    if offset > 0:
        links.append(
            {"href": str(query(offset=max(0, offset - limit))), "rel": "prev", "type": "application/json"}
        )
    return {"jobs": [status_info(j, base) for j in jobs], "numberMatched": total, "links": links}


def _visible(request: Request, job_id: str) -> Job:
    caller = caller_of(request)
    return _service(request).visible(job_id, caller.owner, caller.admin)


@router.get("/jobs/{job_id}", summary="Status of a job")
def job_status(job_id: str, request: Request) -> dict[str, Any]:
    """The job's status, progress and steps."""
    return _job_info(request, _visible(request, job_id), with_steps=True)


@router.get("/jobs/{job_id}/results", summary="Results of a job")
def results(job_id: str, request: Request) -> dict[str, Any]:
    """Literal outputs, and links to the derived products' downloads."""
    return job_results(_visible(request, job_id), _base(request))


@router.get("/jobs/{job_id}/results/{output}", summary="A file output that is not a catalog product")
def result_download(job_id: str, output: str, request: Request) -> FileResponse:
    """Stream an output kept with the job (one without a footprint to catalog)."""
    job = _visible(request, job_id)
    path = result_file(processing_of(request).settings.data_dir, job.id, output)
    if path is None:
        raise ResultsNotReadyError(f"job {job_id} has no file output {output!r}")
    return FileResponse(path, filename=path.name)


@router.get("/jobs/{job_id}/logs", summary="Log of a job")
def job_logs(job_id: str, request: Request) -> dict[str, Any]:
    """The job's log lines, oldest first."""
    job = _visible(request, job_id)
    return {"jobID": job.id, "logs": _service(request).store.logs(job.id)}


@router.delete("/jobs/{job_id}", summary="Dismiss a job")
def dismiss(job_id: str, request: Request) -> dict[str, Any]:
    """Stop the job's tasks on the cluster, then remove its working files."""
    caller = caller_of(request)
    return _job_info(request, _service(request).dismiss(job_id, caller.owner, caller.admin))


@router.post("/jobs/{job_id}/{command}", summary="Operator command: stop, resume, retry, resubmit")
def command(job_id: str, command: str, request: Request) -> JSONResponse:
    """Stop (keeping checkpoints), resume from the first unfinished step, retry failed steps, resubmit."""
    caller = caller_of(request)
    service = _service(request)
    actions = {"stop": service.stop, "resume": service.resume, "retry": service.retry}
    if command == "resubmit":
        job = service.resubmit(job_id, caller.owner, caller.admin)
        base = _base(request)
        return JSONResponse(
            status_info(job, base), status_code=201, headers={"Location": f"{base}/jobs/{job.id}"}
        )
    if command not in actions:
        raise JobNotFoundError(f"no command {command!r} on jobs (stop, resume, retry, resubmit)")
    return JSONResponse(_job_info(request, actions[command](job_id, caller.owner, caller.admin)))
