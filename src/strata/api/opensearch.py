"""OpenSearch façade for PEPS/RESTO clients: ``/resto/api/collections/{collection}/search.{json|atom}``.

Collections are named as PEPS named them (``S1``, ``S2``, ``S3``) or by their STAC id.  RESTO
parameter names are translated into the same :class:`~strata.api.query.SearchRequest` the STAC API
uses, so a PEPS query and the equivalent STAC search return the same products:

=======================  ==========================================================
RESTO / OpenSearch EO    catalog (STAC) field
=======================  ==========================================================
box / lat,lon,radius     footprint (bbox / circle of ``radius`` metres)
startDate/completionDate acquisition interval
productType              ``product_type``
sensorMode               ``sar:instrument_mode``
polarisation             ``sar:polarizations`` (``VV VH``, ``VV+VH`` or ``VV,VH``: all present)
orbitDirection           ``sat:orbit_state``
orbitNumber              ``sat:absolute_orbit`` (``n`` or ``[a,b]``)
relativeOrbitNumber      ``sat:relative_orbit`` (``n`` or ``[a,b]``)
cycle                    ``sat:orbit_cycle``
platform                 ``platform`` (``S1A`` or ``sentinel-1a``)
q                        free text
maxRecords, page, index  page size (1-500, default 50), 1-based page or start index
=======================  ==========================================================

Results are sorted by start date, newest first (RESTO's order).  ``describe.xml`` is the
OpenSearch description document.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, time
from typing import Annotated, Any
from urllib.parse import urlencode
from xml.etree import ElementTree

from anyio import to_thread
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from strata.api.access import ApiState, visible_collection
from strata.api.query import SearchRequest, parse_bbox
from strata.api.search import SearchResult, run_search
from strata.catalog.errors import QueryError
from strata.catalog.model import Item, format_datetime

__all__ = ["PEPS_COLLECTIONS", "opensearch_request", "router"]

PEPS_COLLECTIONS = {"S1": "sentinel-1", "S2": "sentinel-2", "S2ST": "sentinel-2", "S3": "sentinel-3"}
MAX_RECORDS = 500
_EARTH_RADIUS_M = 6_371_008.8
_INTERVAL = re.compile(r"^\s*[\[\]]\s*(-?\d+)\s*,\s*(-?\d+)\s*[\[\]]\s*$")
_ATOM = "http://www.w3.org/2005/Atom"
_OS = "http://a9.com/-/spec/opensearch/1.1/"

router = APIRouter(prefix="/resto/api/collections", tags=["OpenSearch (PEPS/RESTO)"])


def _date(value: str | None, name: str, end_of_day: bool = False) -> datetime | None:
    if not value:
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            day = datetime.strptime(text, "%Y-%m-%d").date()
            return datetime.combine(day, time.max if end_of_day else time.min, tzinfo=UTC)
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1] in "Zz" else text)
    except ValueError:
        raise QueryError(f"{name}: not a date (YYYY-MM-DD) or ISO 8601 date-time: {value!r}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _integer_filter(value: str | None, name: str, prop: str) -> dict[str, Any] | None:
    if value is None or value == "":
        return None
    match = _INTERVAL.match(value)
    if match:
        low, high = int(match.group(1)), int(match.group(2))
        return {"op": "between", "args": [{"property": prop}, low, high]}
    try:
        number = int(value)
    except ValueError:
        raise QueryError(f"{name}: expected an integer or an interval [a,b], got {value!r}") from None
    return {"op": "=", "args": [{"property": prop}, number]}


def _circle(lat: float, lon: float, radius: float) -> dict[str, Any]:
    """A 36-vertex polygon approximating a circle of ``radius`` metres on the sphere."""
    ring = []
    d = radius / _EARTH_RADIUS_M
    phi1, lam1 = math.radians(lat), math.radians(lon)
    for k in range(36, -1, -1):
        bearing = math.radians(k * 10.0)
        phi2 = math.asin(math.sin(phi1) * math.cos(d) + math.cos(phi1) * math.sin(d) * math.cos(bearing))
        lam2 = lam1 + math.atan2(
            math.sin(bearing) * math.sin(d) * math.cos(phi1), math.cos(d) - math.sin(phi1) * math.sin(phi2)
        )
        lon2 = (math.degrees(lam2) + 540.0) % 360.0 - 180.0
        ring.append([round(lon2, 7), round(max(-90.0, min(90.0, math.degrees(phi2))), 7)])
    ring[-1] = ring[0]
    return {"type": "Polygon", "coordinates": [ring]}


def _platform(value: str) -> str:
    text = value.strip().lower()
    match = re.fullmatch(r"s([123])([a-d])", text)
    return f"sentinel-{match.group(1)}{match.group(2)}" if match else text


def opensearch_request(collection_id: str, params: dict[str, str]) -> SearchRequest:
    """Translate RESTO/PEPS query parameters into a :class:`SearchRequest`.

    Raises
    ------
    QueryError
        If a parameter is malformed; the message names it.
    """
    args: list[dict[str, Any]] = []

    def equals(name: str, prop: str, transform: Any = str) -> None:
        if params.get(name):
            args.append({"op": "=", "args": [{"property": prop}, transform(params[name])]})

    equals("productType", "product_type")
    equals("sensorMode", "sar:instrument_mode", str.upper)
    equals("orbitDirection", "sat:orbit_state", str.lower)
    equals("platform", "platform", _platform)
    equals("processingLevel", "processing:level")
    if params.get("polarisation"):
        channels = [p for p in re.split(r"[\s+,&]+", params["polarisation"].upper()) if p]
        if not all(re.fullmatch(r"[HV]{2}", p) for p in channels):
            raise QueryError(f"polarisation: expected channels like 'VV VH', got {params['polarisation']!r}")
        args.append({"op": "a_contains", "args": [{"property": "sar:polarizations"}, channels]})
    for name, prop in (
        ("orbitNumber", "sat:absolute_orbit"),
        ("relativeOrbitNumber", "sat:relative_orbit"),
        ("cycle", "sat:orbit_cycle"),
    ):
        if condition := _integer_filter(params.get(name), name, prop):
            args.append(condition)
    bbox = parse_bbox(params.get("box"), name="box")
    intersects = None
    if params.get("lat") or params.get("lon"):
        try:
            lat, lon = float(params["lat"]), float(params["lon"])
            radius = float(params.get("radius") or 10_000.0)
        except (KeyError, ValueError):
            raise QueryError("lat: lat and lon must both be numbers (radius in metres)") from None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180 and 0 < radius <= 5_000_000):
            raise QueryError("lat: lat in [-90, 90], lon in [-180, 180], radius in (0, 5e6] metres")
        if bbox is not None:
            raise QueryError("box: give box or lat/lon, not both")
        intersects = _circle(lat, lon, radius)
    try:
        limit = int(params.get("maxRecords") or 50)
        page = int(params.get("page") or 1)
        index = int(params["index"]) if params.get("index") else None
    except ValueError:
        raise QueryError("maxRecords: maxRecords, page and index must be integers") from None
    if not 1 <= limit <= MAX_RECORDS:
        raise QueryError(f"maxRecords: must be between 1 and {MAX_RECORDS}, got {limit}")
    if page < 1 or (index is not None and index < 1):
        raise QueryError("page: page and index start at 1")
    start = _date(params.get("startDate"), "startDate")
    end = _date(params.get("completionDate"), "completionDate", end_of_day=True)
    if start and end and start > end:
        raise QueryError("startDate: after completionDate")
    filt = None if not args else args[0] if len(args) == 1 else {"op": "and", "args": args}
    return SearchRequest(
        collections=(collection_id,),
        bbox=bbox,  # type: ignore[arg-type]
        intersects=intersects,
        start=start,
        end=end,
        filter=filt,
        q=tuple(params["q"].split()) if params.get("q") else (),
        sortby=(("datetime", False),),
        limit=limit,
        offset=(index - 1) if index is not None else (page - 1) * limit,
    )


def _feature(request: Request, item: Item, online: bool) -> dict[str, Any]:
    base = str(request.base_url).rstrip("/")
    properties: dict[str, Any] = {
        "collection": item.collection,
        "productIdentifier": item.id,
        "title": item.id,
        "startDate": format_datetime(item.start_datetime),
        "completionDate": format_datetime(item.end_datetime),
        "productType": item.product_type,
        "processingLevel": item.processing_level,
        "platform": item.platform.upper().replace("SENTINEL-", "S") if item.platform else None,
        "instrument": item.instrument.upper() if item.instrument else None,
        "sensorMode": item.sensor_mode,
        "polarisation": " ".join(item.polarisations) or None,
        "orbitDirection": item.orbit_direction,
        "orbitNumber": item.absolute_orbit,
        "relativeOrbitNumber": item.relative_orbit,
        "cycle": item.cycle,
        "resourceSize": item.size,
        "storage": {"mode": "disk" if online else "tape"},
        "services": {
            "download": {
                "url": f"{base}/download/{item.id}",
                "mimeType": "application/zip",
                "size": item.size,
                "checksum": item.checksum,
            }
        },
    }
    return {"type": "Feature", "id": item.id, "geometry": item.geometry, "properties": properties}


def _page_links(request: Request, search: SearchRequest, result: SearchResult) -> list[dict[str, str]]:
    params = dict(request.query_params)
    page = search.offset // search.limit + 1
    links = [{"rel": "self", "type": "application/json", "href": str(request.url)}]
    if result.next_token is not None:
        links.append(
            {
                "rel": "next",
                "type": "application/json",
                "href": f"{request.url.path}?{urlencode({**params, 'page': page + 1})}",
            }
        )
    if page > 1:
        links.append(
            {
                "rel": "previous",
                "type": "application/json",
                "href": f"{request.url.path}?{urlencode({**params, 'page': page - 1})}",
            }
        )
    for link in links[1:]:
        link["href"] = str(request.base_url).rstrip("/") + link["href"]
    return links


def _atom(
    request: Request,
    collection_id: str,
    search: SearchRequest,
    result: SearchResult,
    features: list[dict[str, Any]],
) -> bytes:
    ElementTree.register_namespace("", _ATOM)
    ElementTree.register_namespace("os", _OS)
    ElementTree.register_namespace("georss", "http://www.georss.org/georss")
    feed = ElementTree.Element(f"{{{_ATOM}}}feed")
    ElementTree.SubElement(feed, f"{{{_ATOM}}}id").text = str(request.url)
    ElementTree.SubElement(feed, f"{{{_ATOM}}}title").text = f"Strata search of {collection_id}"
    ElementTree.SubElement(feed, f"{{{_ATOM}}}updated").text = format_datetime(datetime.now(UTC))
    if result.matched is not None:
        ElementTree.SubElement(feed, f"{{{_OS}}}totalResults").text = str(result.matched)
    ElementTree.SubElement(feed, f"{{{_OS}}}startIndex").text = str(search.offset + 1)
    ElementTree.SubElement(feed, f"{{{_OS}}}itemsPerPage").text = str(search.limit)
    for link in _page_links(request, search, result):
        ElementTree.SubElement(feed, f"{{{_ATOM}}}link", rel=link["rel"], href=link["href"])
    for feature in features:
        props = feature["properties"]
        entry = ElementTree.SubElement(feed, f"{{{_ATOM}}}entry")
        ElementTree.SubElement(entry, f"{{{_ATOM}}}id").text = feature["id"]
        ElementTree.SubElement(entry, f"{{{_ATOM}}}title").text = props["title"]
        ElementTree.SubElement(entry, f"{{{_ATOM}}}updated").text = props["startDate"]
        summary = ", ".join(
            f"{k}={props[k]}"
            for k in ("productType", "sensorMode", "orbitDirection", "relativeOrbitNumber")
            if props.get(k) is not None
        )
        ElementTree.SubElement(entry, f"{{{_ATOM}}}summary").text = summary
        ElementTree.SubElement(
            entry,
            f"{{{_ATOM}}}link",
            rel="enclosure",
            type="application/zip",
            href=props["services"]["download"]["url"],
        )
        bbox = feature["geometry"] and _bbox_text(feature["geometry"])
        if bbox:
            ElementTree.SubElement(entry, "{http://www.georss.org/georss}box").text = bbox
    document: bytes = ElementTree.tostring(feed, encoding="utf-8", xml_declaration=True)
    return document


def _bbox_text(geometry: dict[str, Any]) -> str:
    from strata.catalog.geometry import geometry_bbox

    west, south, east, north = geometry_bbox(geometry)
    return f"{south} {west} {north} {east}"


def _search(
    request: Request, collection: str
) -> tuple[str, SearchRequest, SearchResult, list[dict[str, Any]]]:
    collection_id = visible_collection(request, PEPS_COLLECTIONS.get(collection, collection)).id
    search = opensearch_request(collection_id, dict(request.query_params))
    result = run_search(request, search)
    archive = ApiState.of(request).archive
    features = [_feature(request, item, archive.is_online(item) or item.online) for item in result.items]
    return collection_id, search, result, features


_PARAMS = Annotated[str | None, Query()]


@router.get("/{collection}/search.json", summary="OpenSearch (RESTO/PEPS) search, GeoJSON")
async def search_json(
    collection: str,
    request: Request,
    box: _PARAMS = None,
    lat: _PARAMS = None,
    lon: _PARAMS = None,
    radius: _PARAMS = None,
    startDate: _PARAMS = None,  # noqa: N803
    completionDate: _PARAMS = None,  # noqa: N803
    productType: _PARAMS = None,  # noqa: N803
    sensorMode: _PARAMS = None,  # noqa: N803
    polarisation: _PARAMS = None,
    orbitDirection: _PARAMS = None,  # noqa: N803
    orbitNumber: _PARAMS = None,  # noqa: N803
    relativeOrbitNumber: _PARAMS = None,  # noqa: N803
    cycle: _PARAMS = None,
    platform: _PARAMS = None,
    q: _PARAMS = None,
    maxRecords: _PARAMS = None,  # noqa: N803
    page: _PARAMS = None,
    index: _PARAMS = None,
) -> JSONResponse:
    """Search ``collection`` with RESTO parameters; a RESTO GeoJSON FeatureCollection."""
    collection_id, search, result, features = await to_thread.run_sync(_search, request, collection)
    body = {
        "type": "FeatureCollection",
        "properties": {
            "id": collection_id,
            "totalResults": result.matched,
            "exactCount": result.matched is not None,
            "startIndex": search.offset + 1,
            "itemsPerPage": search.limit,
            "itemsReturned": len(features),
            "links": _page_links(request, search, result),
        },
        "features": features,
    }
    return JSONResponse(body, media_type="application/geo+json")


@router.get("/{collection}/search.atom", summary="OpenSearch (RESTO/PEPS) search, Atom")
async def search_atom(collection: str, request: Request) -> Response:
    """Search ``collection`` with RESTO parameters (see ``search.json``); an Atom feed."""
    collection_id, search, result, features = await to_thread.run_sync(_search, request, collection)
    return Response(
        _atom(request, collection_id, search, result, features), media_type="application/atom+xml"
    )


_TEMPLATE = (
    "box={geo:box?}&lat={geo:lat?}&lon={geo:lon?}&radius={geo:radius?}&startDate={time:start?}"
    "&completionDate={time:end?}&productType={eo:productType?}&sensorMode={eo:sensorMode?}"
    "&polarisation={eo:polarisationChannels?}&orbitDirection={eo:orbitDirection?}"
    "&orbitNumber={eo:orbitNumber?}&relativeOrbitNumber={eo:track?}&cycle={eo:cycleNumber?}"
    "&platform={eo:platform?}&q={searchTerms?}&maxRecords={count?}&page={startPage?}&index={startIndex?}"
)


@router.get("/{collection}/describe.xml", summary="OpenSearch description document")
async def describe(collection: str, request: Request) -> Response:
    """The OpenSearch description document of ``collection``."""
    coll = await to_thread.run_sync(visible_collection, request, PEPS_COLLECTIONS.get(collection, collection))
    base = str(request.base_url).rstrip("/")
    ns = "http://a9.com/-/spec/opensearch/1.1/"
    ElementTree.register_namespace("", ns)
    root = ElementTree.Element(f"{{{ns}}}OpenSearchDescription")
    root.set("xmlns:geo", "http://a9.com/-/opensearch/extensions/geo/1.0/")
    root.set("xmlns:time", "http://a9.com/-/opensearch/extensions/time/1.0/")
    root.set("xmlns:eo", "http://a9.com/-/opensearch/extensions/eo/1.0/")
    ElementTree.SubElement(root, f"{{{ns}}}ShortName").text = f"Strata {collection}"
    ElementTree.SubElement(root, f"{{{ns}}}Description").text = coll.description or coll.title
    for suffix, media in (("json", "application/geo+json"), ("atom", "application/atom+xml")):
        ElementTree.SubElement(
            root,
            f"{{{ns}}}Url",
            type=media,
            rel="results",
            template=f"{base}/resto/api/collections/{collection}/search.{suffix}?{_TEMPLATE}",
        )
    ElementTree.SubElement(
        root,
        f"{{{ns}}}Url",
        type="application/opensearchdescription+xml",
        rel="self",
        template=str(request.url),
    )
    return Response(
        ElementTree.tostring(root, encoding="utf-8", xml_declaration=True),
        media_type="application/opensearchdescription+xml",
    )
