"""WPS 1.0.0 key-value-pair binding at ``/wps``, on the same processes and jobs as OGC API - Processes.

``/wps?service=WPS&request=GetCapabilities``, ``…&request=DescribeProcess&identifier=COHERENCE_S1``
and ``…&request=Execute&identifier=COHERENCE_S1&datainputs=first_product=X;second_product=Y`` (what
PEPS's WPS clients sent).  Execute waits for the job and answers an ``ExecuteResponse`` with the
outputs (literal values inline, products as ``wps:Reference``); with ``storeExecuteResponse=true``
(and ``status=true``) it answers at once with a ``statusLocation`` to poll.  Identifiers match
case-insensitively; a repeated input gives a list.  Errors are ``ows:ExceptionReport`` documents.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import unquote_plus

from fastapi import APIRouter, Request, Response

from strata.api.errors import status_for
from strata.api.processes import caller_of, job_results, processing_of
from strata.errors import InputError, StrataError
from strata.processing.errors import ProcessInputError, ProcessNotFoundError
from strata.processing.jobs import Job, JobStatus
from strata.processing.process import Process

__all__ = ["WpsError", "parse_datainputs", "router"]

WPS = "http://www.opengis.net/wps/1.0.0"
OWS = "http://www.opengis.net/ows/1.1"
XLINK = "http://www.w3.org/1999/xlink"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
for _prefix, _uri in (("wps", WPS), ("ows", OWS), ("xlink", XLINK), ("xsi", XSI)):
    ET.register_namespace(_prefix, _uri)

_XS_TYPES = {"string": "string", "integer": "integer", "number": "double", "boolean": "boolean"}

router = APIRouter(tags=["WPS"])


class WpsError(InputError):
    """A WPS request error with its OWS ``exceptionCode`` and ``locator``."""

    def __init__(self, code: str, message: str, locator: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.locator = locator


def _w(tag: str) -> str:
    return f"{{{WPS}}}{tag}"


def _o(tag: str) -> str:
    return f"{{{OWS}}}{tag}"


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrib: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrib)
    if text is not None:
        element.text = text
    return element


def _xml(root: ET.Element, status: int = 200) -> Response:
    body = ET.tostring(root, encoding="unicode", xml_declaration=False)
    return Response('<?xml version="1.0" encoding="UTF-8"?>\n' + body, status, media_type="text/xml")


def _root(tag: str) -> ET.Element:
    return ET.Element(
        tag,
        {
            "service": "WPS",
            "version": "1.0.0",
            "{http://www.w3.org/XML/1998/namespace}lang": "en-US",
            f"{{{XSI}}}schemaLocation": f"{WPS} http://schemas.opengis.net/wps/1.0.0/wpsAll.xsd",
        },
    )


def _exception_report(exc: Exception) -> Response:
    if isinstance(exc, WpsError):
        code, locator, status = exc.code, exc.locator, 400
    elif isinstance(exc, ProcessInputError):
        code, locator, status = "InvalidParameterValue", exc.input, 400
    elif isinstance(exc, ProcessNotFoundError):
        code, locator, status = "InvalidParameterValue", "identifier", 400
    else:
        status = status_for(exc)
        code, locator = ("InvalidParameterValue" if status == 400 else "NoApplicableCode"), ""
    root = ET.Element(_o("ExceptionReport"), {"version": "1.0.0"})
    attrib = {"exceptionCode": code, **({"locator": locator} if locator else {})}
    _sub(_sub(root, _o("Exception"), **attrib), _o("ExceptionText"), str(exc))
    return _xml(root, status)


def parse_datainputs(raw: str) -> dict[str, Any]:
    """Parse WPS KVP ``DataInputs``: ``a=1;b=2;b=3`` → ``{"a": "1", "b": ["2", "3"]}``.

    Parts are URL-decoded after splitting (so ``%3B`` and ``%3D`` may appear inside values);
    ``@attribute=value`` suffixes (``uom``, ``mimeType``) are dropped.

    Raises
    ------
    WpsError
        When a part has no ``=``.
    """
    inputs: dict[str, Any] = {}
    for part in filter(None, raw.split(";")):
        name, sep, value = part.partition("=")
        if not sep or not name:
            raise WpsError(
                "InvalidParameterValue", f"DataInputs: {unquote_plus(part)!r} is not name=value", "datainputs"
            )
        name, value = unquote_plus(name).strip(), unquote_plus(value.split("@", 1)[0])
        if name in inputs:
            previous = inputs[name]
            inputs[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            inputs[name] = value
    return inputs


def _arrays(process: Process, inputs: dict[str, Any]) -> dict[str, Any]:
    """Wrap single values of array-typed inputs in lists."""
    props = process.inputs.model_json_schema().get("properties", {})
    return {
        k: [v] if props.get(k, {}).get("type") == "array" and not isinstance(v, list) else v
        for k, v in inputs.items()
    }


def _kvp(request: Request) -> dict[str, str]:
    """Query parameters by lower-case name, raw (DataInputs is split before decoding)."""
    params: dict[str, str] = {}
    for pair in filter(None, request.url.query.split("&")):
        key, _, value = pair.partition("=")
        key = unquote_plus(key).lower()
        params[key] = value if key == "datainputs" else unquote_plus(value)
    return params


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _operations(parent: ET.Element, base: str) -> None:
    meta = _sub(parent, _o("OperationsMetadata"))
    for name in ("GetCapabilities", "DescribeProcess", "Execute"):
        http = _sub(_sub(_sub(meta, _o("Operation"), name=name), _o("DCP")), _o("HTTP"))
        _sub(http, _o("Get"), **{f"{{{XLINK}}}href": f"{base}/wps?"})


def _capabilities(request: Request) -> Response:
    base = _base(request)
    root = _root(_w("Capabilities"))
    root.set("updateSequence", "1")
    ident = _sub(root, _o("ServiceIdentification"))
    _sub(ident, _o("Title"), "Strata WPS")
    _sub(ident, _o("Abstract"), "Sentinel processing next to the data: the processes of OGC API - Processes.")
    _sub(ident, _o("ServiceType"), "WPS")
    _sub(ident, _o("ServiceTypeVersion"), "1.0.0")
    _sub(_sub(root, _o("ServiceProvider")), _o("ProviderName"), "Strata")
    _operations(root, base)
    offerings = _sub(root, _w("ProcessOfferings"))
    for process in processing_of(request).service.registry:
        element = _sub(offerings, _w("Process"), **{_w("processVersion"): process.version})
        _sub(element, _o("Identifier"), process.id.upper())
        _sub(element, _o("Title"), process.title)
        _sub(element, _o("Abstract"), process.description)
    languages = _sub(root, _w("Languages"))
    _sub(_sub(languages, _w("Default")), _o("Language"), "en-US")
    _sub(_sub(languages, _w("Supported")), _o("Language"), "en-US")
    return _xml(root)


def _literal_type(parent: ET.Element, schema: dict[str, Any]) -> None:
    options = [s for s in schema.get("anyOf", [schema]) if s.get("type") != "null"]
    kind = options[0].get("type", "string") if options else "string"
    if kind == "array":
        kind = options[0].get("items", {}).get("type", "string")
    xs = _XS_TYPES.get(kind, "string")
    _sub(parent, _o("DataType"), xs, **{_o("reference"): f"http://www.w3.org/2001/XMLSchema#{xs}"})
    enum = options[0].get("enum") if options else None
    if enum:
        allowed = _sub(parent, _o("AllowedValues"))
        for value in enum:
            _sub(allowed, _o("Value"), str(value))
    else:
        _sub(parent, _o("AnyValue"))


def _describe(request: Request, identifiers: str) -> Response:
    registry = processing_of(request).service.registry
    wanted = (
        list(registry) if identifiers.lower() == "all" else [registry.get(i) for i in identifiers.split(",")]
    )
    root = _root(_w("ProcessDescriptions"))
    for process in wanted:
        desc = _sub(
            root,
            "ProcessDescription",
            storeSupported="true",
            statusSupported="true",
            **{_w("processVersion"): process.version},
        )
        _sub(desc, _o("Identifier"), process.id.upper())
        _sub(desc, _o("Title"), process.title)
        _sub(desc, _o("Abstract"), process.description)
        schema = process.inputs.model_json_schema()
        required = set(schema.get("required", []))
        inputs = _sub(desc, "DataInputs")
        for name, prop in schema.get("properties", {}).items():
            many = prop.get("type") == "array"
            element = _sub(
                inputs,
                "Input",
                minOccurs="1" if name in required else "0",
                maxOccurs="1000" if many else "1",
            )
            _sub(element, _o("Identifier"), name)
            _sub(element, _o("Title"), prop.get("title", name))
            _sub(element, _o("Abstract"), prop.get("description", ""))
            literal = _sub(element, "LiteralData")
            _literal_type(literal, prop)
            if "default" in prop and prop["default"] is not None and not many:
                default = prop["default"]
                _sub(
                    literal,
                    "DefaultValue",
                    str(default).lower() if isinstance(default, bool) else str(default),
                )
        outputs = _sub(desc, "ProcessOutputs")
        for name, prop in process.outputs.model_json_schema().get("properties", {}).items():
            element = _sub(outputs, "Output")
            _sub(element, _o("Identifier"), name)
            _sub(element, _o("Title"), prop.get("title", name))
            _sub(element, _o("Abstract"), prop.get("description", ""))
            if "contentMediaType" in prop:
                complex_ = _sub(element, "ComplexOutput")
                for role in ("Default", "Supported"):
                    _sub(_sub(_sub(complex_, role), "Format"), "MimeType", prop["contentMediaType"])
            else:
                _literal_type(_sub(element, "LiteralOutput"), prop)
    return _xml(root)


def _execute_response(request: Request, job: Job, process: Process, status_location: bool) -> Response:
    base = _base(request)
    root = _root(_w("ExecuteResponse"))
    root.set("serviceInstance", f"{base}/wps?service=WPS&request=GetCapabilities")
    if status_location:
        root.set("statusLocation", f"{base}/wps/jobs/{job.id}")
    element = _sub(root, _w("Process"), **{_w("processVersion"): job.process_version})
    _sub(element, _o("Identifier"), process.id.upper())
    _sub(element, _o("Title"), process.title)
    status = _sub(root, _w("Status"), creationTime=job.updated.isoformat())
    if job.status == JobStatus.SUCCESSFUL:
        _sub(status, _w("ProcessSucceeded"), f"job {job.id} successful")
    elif job.status == JobStatus.FAILED:
        report = _sub(_sub(status, _w("ProcessFailed")), _w("ExceptionReport"))
        _sub(
            _sub(report, _o("Exception"), exceptionCode="NoApplicableCode"), _o("ExceptionText"), job.message
        )
    elif job.status == JobStatus.RUNNING:
        _sub(status, _w("ProcessStarted"), job.message, percentCompleted=str(job.progress))
    elif job.status == JobStatus.DISMISSED:
        report = _sub(_sub(status, _w("ProcessFailed")), _w("ExceptionReport"))
        _sub(
            _sub(report, _o("Exception"), exceptionCode="NoApplicableCode"), _o("ExceptionText"), "dismissed"
        )
    else:
        _sub(status, _w("ProcessAccepted"), job.message)
    if job.status == JobStatus.SUCCESSFUL:
        outputs = _sub(root, _w("ProcessOutputs"))
        titles = process.outputs.model_json_schema().get("properties", {})
        for name, value in job_results(job, base).items():
            output = _sub(outputs, _w("Output"))
            _sub(output, _o("Identifier"), name)
            _sub(output, _o("Title"), titles.get(name, {}).get("title", name))
            if isinstance(value, dict) and "href" in value:
                _sub(output, _w("Reference"), href=value["href"], mimeType=value.get("type", ""))
            else:
                xs = _XS_TYPES.get(
                    {bool: "boolean", int: "integer", float: "number"}.get(type(value), "string")
                )
                _sub(_sub(output, _w("Data")), _w("LiteralData"), str(value), dataType=f"xs:{xs}")
    return _xml(root)


def _execute(request: Request, params: dict[str, str]) -> Response:
    identifier = params.get("identifier")
    if not identifier:
        raise WpsError("MissingParameterValue", "Execute needs identifier", "identifier")
    processing = processing_of(request)
    process = processing.service.registry.get(identifier)
    inputs = _arrays(process, parse_datainputs(params.get("datainputs", "")))
    job = processing.service.submit(process.id, inputs, caller_of(request).owner)
    stored = params.get("storeexecuteresponse", "false").lower() == "true"
    if not stored:
        job = processing.service.wait(job.id, processing.settings.job_sync_timeout_s)
    finished = job.status in (JobStatus.SUCCESSFUL, JobStatus.FAILED)
    return _execute_response(request, job, process, status_location=stored or not finished)


@router.get("/wps", summary="WPS 1.0.0 (KVP): GetCapabilities, DescribeProcess, Execute")
def wps(request: Request) -> Response:
    """Answer a WPS 1.0.0 KVP request with its XML document (or an ``ows:ExceptionReport``)."""
    try:
        params = _kvp(request)
        if params.get("service", "").upper() != "WPS":
            raise WpsError("InvalidParameterValue", "service must be WPS", "service")
        operation = params.get("request", "").lower()
        if operation == "getcapabilities":
            return _capabilities(request)
        if operation not in ("describeprocess", "execute"):
            raise WpsError(
                "OperationNotSupported", f"request {params.get('request')!r} is not supported", "request"
            )
        if params.get("version", "1.0.0") != "1.0.0":
            raise WpsError("VersionNegotiationFailed", "only WPS 1.0.0 is served", "version")
        if operation == "describeprocess":
            if "identifier" not in params:
                raise WpsError("MissingParameterValue", "DescribeProcess needs identifier", "identifier")
            return _describe(request, params["identifier"])
        return _execute(request, params)
    except StrataError as exc:
        return _exception_report(exc)


@router.get("/wps/jobs/{job_id}", summary="WPS status location of a stored Execute")
def wps_status(job_id: str, request: Request) -> Response:
    """The ``ExecuteResponse`` of a job submitted with ``storeExecuteResponse=true``."""
    try:
        caller = caller_of(request)
        processing = processing_of(request)
        job = processing.service.visible(job_id, caller.owner, caller.admin)
        return _execute_response(request, job, processing.service.registry.get(job.process), True)
    except StrataError as exc:
        return _exception_report(exc)
