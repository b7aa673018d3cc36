"""STAC API 1.0 over the catalog store, built with stac-fastapi.

stac-fastapi provides the routes, request models and conformance classes of STAC API core,
collections, OGC API Features, item search (GET/POST) and the extensions (filter, sort, fields,
query, free text, aggregation, transaction, bulk transaction, token pagination).  This module
provides the clients behind them: every search is parsed into a
:class:`~strata.api.query.SearchRequest` and run by :func:`strata.api.search.run_search`, the one
search path shared with the OpenSearch façade.  Transactions need the admin role.
"""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import urlencode

import attr
from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, field_validator, model_validator
from stac_fastapi.api.app import StacApi
from stac_fastapi.api.middleware import ProxyHeaderMiddleware
from stac_fastapi.api.models import (
    ItemCollectionUri,
    create_get_request_model,
    create_post_request_model,
    create_request_model,
)
from stac_fastapi.extensions import (
    AggregationExtension,
    BulkTransactionExtension,
    FieldsExtension,
    FreeTextExtension,
    ItemCollectionFilterExtension,
    QueryExtension,
    SearchFilterExtension,
    SortExtension,
    TokenPaginationExtension,
    TransactionExtension,
)
from stac_fastapi.extensions.aggregation.client import BaseAggregationClient
from stac_fastapi.extensions.aggregation.types import Aggregation, AggregationCollection
from stac_fastapi.extensions.bulk_transactions.bulk_transactions import BaseBulkTransactionsClient, Items
from stac_fastapi.extensions.fields.fields import FieldsConformanceClasses
from stac_fastapi.extensions.filter.client import BaseFiltersClient
from stac_fastapi.extensions.query.query import QueryConformanceClasses
from stac_fastapi.extensions.sort.sort import SortConformanceClasses
from stac_fastapi.extensions.transaction.client import BaseTransactionsClient
from stac_fastapi.types.config import ApiSettings
from stac_fastapi.types.core import BaseCoreClient
from stac_fastapi.types.search import BaseSearchGetRequest, BaseSearchPostRequest, DateTimeQueryType
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

from strata import __version__
from strata.api.access import ApiState, readable_collections, visible_collection, visible_item
from strata.api.auth import require_admin
from strata.api.errors import ConflictError
from strata.api.query import (
    QUERYABLE_TYPES,
    SearchRequest,
    parse_bbox,
    parse_datetime_interval,
    parse_filter,
    parse_intersects,
    parse_sortby,
    query_to_cql2,
)
from strata.api.search import AGGREGATIONS, SearchResult, aggregate, run_search
from strata.catalog.errors import ItemError, ItemNotFoundError, QueryError
from strata.catalog.model import Collection, Item
from strata.settings import Settings

__all__ = ["install_stac", "item_links"]


def _checked_datetime(instance: object, attribute: object, value: str | None) -> None:
    parse_datetime_interval(value)


def _bbox_param(
    val: Annotated[
        str | None,
        Query(
            description="west,south,east,north (west > east crosses the antimeridian); not with intersects."
        ),
    ] = None,
) -> tuple[float, ...] | None:
    return parse_bbox(val)


@attr.s
class SearchGetRequest(BaseSearchGetRequest):
    """``GET /search`` parameters; malformed ``bbox``/``datetime`` answer 400 naming the parameter."""

    bbox: tuple[float, ...] | None = attr.ib(default=None, converter=_bbox_param)  # type: ignore[assignment]
    datetime: DateTimeQueryType = attr.ib(default=None, validator=_checked_datetime)


class SearchPostRequest(BaseSearchPostRequest):
    """``POST /search`` body; ``collections`` and ``ids`` also accept a comma-separated string."""

    @model_validator(mode="before")
    @classmethod
    def _object(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            raise ValueError("the body must be a JSON object")  # noqa: TRY004 - pydantic wants ValueError
        return value

    @field_validator("collections", "ids", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return [part for part in value.split(",") if part] if isinstance(value, str) else value


class AggregatePostRequest(SearchPostRequest):
    """``POST /aggregate`` body: a search plus the aggregations to compute."""

    aggregations: list[str] | None = Field(default=None, description="Aggregations to compute.")


class StrataAggregationExtension(AggregationExtension):
    """The aggregation extension with the checked search body."""

    POST = AggregatePostRequest


@attr.s
class ItemsGetRequest(ItemCollectionUri):
    """``GET /collections/{id}/items`` parameters, checked as for search."""

    bbox: tuple[float, ...] | None = attr.ib(default=None, converter=_bbox_param)  # type: ignore[assignment]
    datetime: DateTimeQueryType = attr.ib(default=None, validator=_checked_datetime)


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


_MULTIHASH = {"md5": "d510", "sha256": "1220", "sha2-256": "1220"}
_C_BAND_GHZ = 5.405


def stac_item(item: Item) -> dict[str, Any]:
    """``item`` as a STAC item valid against the schemas of the extensions it declares.

    The SAR extension requires ``sar:frequency_band`` and ``sar:product_type`` (Sentinel-1: C band,
    5.405 GHz); the file extension wants ``file:checksum`` as a multihash (``d510`` + MD5 hex,
    ``1220`` + SHA-256 hex).
    """
    doc = item.to_stac()
    props = doc["properties"]
    if any(key.startswith("sar:") for key in props):
        if item.instrument == "c-sar":
            props.setdefault("sar:frequency_band", "C")
            props.setdefault("sar:center_frequency", _C_BAND_GHZ)
        if item.product_type:
            props.setdefault("sar:product_type", item.product_type)
    checksum = props.get("file:checksum")
    if isinstance(checksum, str) and ":" in checksum:
        algorithm, _, digest = checksum.partition(":")
        if algorithm.lower() in _MULTIHASH:
            props["file:checksum"] = _MULTIHASH[algorithm.lower()] + digest.lower()
        else:
            del props["file:checksum"]
    return doc


def item_links(request: Request, doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` (a STAC item dictionary) with its self/parent/collection/root and download links."""
    base = _base(request)
    coll = f"{base}/collections/{doc['collection']}"
    doc["links"] = [
        *[
            link
            for link in doc.get("links", [])
            if link.get("rel") not in ("self", "parent", "collection", "root")
        ],
        {"rel": "self", "type": "application/geo+json", "href": f"{coll}/items/{doc['id']}"},
        {"rel": "parent", "type": "application/json", "href": coll},
        {"rel": "collection", "type": "application/json", "href": coll},
        {"rel": "root", "type": "application/json", "href": f"{base}/"},
        {"rel": "enclosure", "title": "Download the product", "href": f"{base}/download/{doc['id']}"},
    ]
    return doc


def _collection_doc(request: Request, collection: Collection) -> dict[str, Any]:
    base = _base(request)
    doc = collection.to_stac()
    href = f"{base}/collections/{collection.id}"
    doc["links"] = [
        {"rel": "self", "type": "application/json", "href": href},
        {"rel": "parent", "type": "application/json", "href": f"{base}/"},
        {"rel": "root", "type": "application/json", "href": f"{base}/"},
        {"rel": "items", "type": "application/geo+json", "href": f"{href}/items"},
        {
            "rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables",
            "type": "application/schema+json",
            "href": f"{href}/queryables",
        },
        {"rel": "aggregate", "type": "application/json", "href": f"{href}/aggregate"},
    ]
    return doc


_ALWAYS = ("type", "stac_version", "id", "links")
_DEFAULT_FIELDS = ("geometry", "bbox", "assets", "collection", "stac_extensions", "properties.datetime")


def _pick(doc: dict[str, Any], paths: tuple[str, ...]) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    for path in paths:
        top, _, sub = path.partition(".")
        if top not in doc:
            continue
        if sub and isinstance(doc[top], dict):
            if sub in doc[top]:
                kept.setdefault(top, {})[sub] = doc[top][sub]
        else:
            kept[top] = doc[top]
    return kept


def _apply_fields(
    doc: dict[str, Any], include: tuple[str, ...] | None, exclude: tuple[str, ...]
) -> dict[str, Any]:
    """The Fields extension on one item.

    ``include`` ``None`` (not given) keeps every field; given, it keeps only the listed fields (or the
    default set when empty) plus ``type``, ``stac_version``, ``id`` and ``links``.  ``exclude`` then
    removes fields, except those also included (or with an included child: include wins).
    """
    if include is None and not exclude:
        return doc
    if include is not None:
        doc = _pick(doc, _ALWAYS + (include or _DEFAULT_FIELDS))
    kept = set(include or ())
    for path in exclude:
        if path in kept or any(k.startswith(path + ".") for k in kept) or path in ("id", "type"):
            continue
        top, _, sub = path.partition(".")
        if sub and isinstance(doc.get(top), dict):
            doc[top].pop(sub, None)
        elif not sub:
            doc.pop(top, None)
    return doc


def _fields(value: Any) -> tuple[tuple[str, ...] | None, tuple[str, ...]]:
    """(include or ``None`` when not given, exclude) of a GET list or a POST fields object."""
    if value is None:
        return None, ()
    if isinstance(value, list):
        listed = tuple(f.lstrip("+") for f in value if f and not f.startswith("-"))
        return listed or None, tuple(f[1:] for f in value if f.startswith("-"))
    given: set[str] = getattr(value, "model_fields_set", set())
    include: tuple[str, ...] | None = tuple(sorted(value.include or ())) if "include" in given else None
    if include is None and "exclude" not in given:
        include = ()  # an empty fields object: the default fields
    return include, tuple(sorted(value.exclude or ()))


def _join_filters(*filters: dict[str, Any] | None) -> dict[str, Any] | None:
    present = [f for f in filters if f]
    if not present:
        return None
    return present[0] if len(present) == 1 else {"op": "and", "args": present}


def search_request(
    *,
    collections: list[str] | None = None,
    ids: list[str] | None = None,
    bbox: Any = None,
    intersects: Any = None,
    datetime: str | None = None,
    limit: int | None = 10,
    token: str | None = None,
    filter_expr: Any = None,
    filter_lang: str | None = None,
    sortby: Any = None,
    fields: Any = None,
    query: Any = None,
    q: Any = None,
    **_: Any,
) -> SearchRequest:
    """Parse STAC search parameters (GET or POST) into a :class:`SearchRequest`.

    Raises
    ------
    QueryError
        If a parameter is malformed; the message names it.
    """
    if bbox is not None and intersects is not None:
        raise QueryError("bbox: give bbox or intersects, not both")
    if hasattr(intersects, "model_dump"):
        intersects = intersects.model_dump(exclude_none=True)
    start, end = parse_datetime_interval(datetime)
    include, exclude = _fields(fields)
    if limit is not None and not 1 <= int(limit) <= 10_000:
        raise QueryError(f"limit: must be between 1 and 10000, got {limit}")
    terms = (q,) if isinstance(q, str) else tuple(q or ())
    return SearchRequest(
        collections=tuple(collections or ()),
        ids=tuple(ids or ()),
        bbox=parse_bbox(bbox),  # type: ignore[arg-type]
        intersects=parse_intersects(intersects),
        start=start,
        end=end,
        filter=_join_filters(parse_filter(filter_expr, filter_lang), query_to_cql2(query)),
        q=tuple(t.strip() for t in terms if t and t.strip()),
        sortby=parse_sortby(sortby),
        limit=int(limit or 10),
        token=token or None,
        fields_include=include,
        fields_exclude=exclude,
    )


def _item_collection(
    request: Request, search: SearchRequest, result: SearchResult, post_body: dict[str, Any] | None
) -> dict[str, Any]:
    features = [
        _apply_fields(item_links(request, stac_item(item)), search.fields_include, search.fields_exclude)
        for item in result.items
    ]
    links: list[dict[str, Any]] = [
        {"rel": "self", "type": "application/geo+json", "href": str(request.url)},
        {"rel": "root", "type": "application/json", "href": f"{_base(request)}/"},
    ]
    if len(search.collections) == 1 and request.url.path.endswith("/items"):
        links.append(
            {
                "rel": "collection",
                "type": "application/json",
                "href": f"{_base(request)}/collections/{search.collections[0]}",
            }
        )
    if result.next_token is not None:
        token = result.next_token
        if post_body is None:
            params = dict(request.query_params)
            params["token"] = token
            links.append(
                {
                    "rel": "next",
                    "type": "application/geo+json",
                    "method": "GET",
                    "href": f"{str(request.url).split('?')[0]}?{urlencode(params)}",
                }
            )
        else:
            links.append(
                {
                    "rel": "next",
                    "type": "application/geo+json",
                    "method": "POST",
                    "href": str(request.url),
                    "body": {**post_body, "token": token},
                    "merge": False,
                }
            )
    doc: dict[str, Any] = {
        "type": "FeatureCollection",
        "features": features,
        "links": links,
        "numberReturned": len(features),
    }
    if result.matched is not None:
        doc["numberMatched"] = result.matched
    return doc


@attr.s
class CoreClient(BaseCoreClient):
    """STAC API core, collections and features over the catalog store."""

    def all_collections(self, request: Request, **kwargs: Any) -> dict[str, Any]:  # type: ignore[override]
        """``GET /collections``: the collections the caller may read."""
        base = _base(request)
        return {
            "collections": [_collection_doc(request, c) for c in readable_collections(request)],
            "links": [
                {"rel": "self", "type": "application/json", "href": f"{base}/collections"},
                {"rel": "root", "type": "application/json", "href": f"{base}/"},
                {"rel": "parent", "type": "application/json", "href": f"{base}/"},
            ],
        }

    def get_collection(self, collection_id: str, request: Request, **kwargs: Any) -> dict[str, Any]:  # type: ignore[override]
        """``GET /collections/{id}``."""
        return _collection_doc(request, visible_collection(request, collection_id))

    def get_item(self, item_id: str, collection_id: str, request: Request, **kwargs: Any) -> dict[str, Any]:  # type: ignore[override]
        """``GET /collections/{cid}/items/{id}``."""
        visible_collection(request, collection_id)
        return item_links(request, stac_item(visible_item(request, item_id, collection_id)))

    def item_collection(self, collection_id: str, request: Request, **kwargs: Any) -> dict[str, Any]:  # type: ignore[override]
        """``GET /collections/{id}/items`` (OGC API Features, with filter/sort/fields/query)."""
        visible_collection(request, collection_id)
        search = search_request(**{**kwargs, "collections": [collection_id], "ids": None})
        return _item_collection(request, search, run_search(request, search), None)

    def get_search(self, request: Request, **kwargs: Any) -> dict[str, Any]:  # type: ignore[override]
        """``GET /search``."""
        search = search_request(**kwargs)
        return _item_collection(request, search, run_search(request, search), None)

    def post_search(self, search_request_model: Any, request: Request, **kwargs: Any) -> dict[str, Any]:  # type: ignore[override]
        """``POST /search``."""
        if "fields" in search_request_model.model_fields_set and search_request_model.fields is None:
            raise QueryError("fields: must be an object with include and/or exclude lists, not null")
        body = search_request_model.model_dump(mode="json", by_alias=True, exclude_unset=True)
        values = dict(search_request_model)
        if "fields" not in search_request_model.model_fields_set:
            values["fields"] = None  # the model's default object is not a request for the default fields
        values["filter_expr"] = values.pop("filter_expr", None)
        search = search_request(**values)
        body.pop("token", None)
        return _item_collection(request, search, run_search(request, search), body)


@attr.s
class FiltersClient(BaseFiltersClient):
    """Queryables: every searchable field of the catalog."""

    def get_queryables(self, collection_id: str | None = None, **kwargs: Any) -> dict[str, Any]:
        """``GET /queryables`` and ``GET /collections/{id}/queryables``."""
        request: Request = kwargs["request"]
        if collection_id is not None:
            visible_collection(request, collection_id)
        suffix = f"/collections/{collection_id}" if collection_id else ""
        return {
            "$schema": "https://json-schema.org/draft/2019-09/schema",
            "$id": f"{_base(request)}{suffix}/queryables",
            "type": "object",
            "title": "Strata queryables",
            "properties": QUERYABLE_TYPES,
            "additionalProperties": False,
        }


@attr.s
class AggregationClient(BaseAggregationClient):
    """Aggregation: counts by platform, product type, month, relative orbit (and more)."""

    def get_aggregations(self, collection_id: str | None = None, **kwargs: Any) -> AggregationCollection:
        """``GET /aggregations``: what can be aggregated."""
        request: Request = kwargs["request"]
        if collection_id is not None:
            visible_collection(request, collection_id)
        return AggregationCollection(
            type="AggregationCollection",
            aggregations=[Aggregation(name=name, data_type=kind) for name, kind in AGGREGATIONS.items()],
            links=[{"rel": "root", "type": "application/json", "href": f"{_base(request)}/"}],
        )

    def aggregate(self, collection_id: Any = None, **kwargs: Any) -> AggregationCollection:
        """``GET|POST /aggregate`` (and per collection): the buckets of a search."""
        request: Request = kwargs.pop("request")
        if isinstance(collection_id, BaseModel):  # POST: the body model comes first
            kwargs = dict(collection_id)
        collection_id = request.path_params.get("collection_id")
        aggregations = kwargs.pop("aggregations", None)
        if collection_id is not None:
            visible_collection(request, collection_id)
            kwargs["collections"] = [collection_id]
        names = list(aggregations or AGGREGATIONS)
        unknown = [n for n in names if n not in AGGREGATIONS]
        if unknown:
            raise QueryError(f"aggregations: unknown {', '.join(unknown)} (see /aggregations)")
        kwargs["fields"] = None
        search = search_request(**kwargs)
        return AggregationCollection(
            type="AggregationCollection",
            aggregations=aggregate(request, search, names),
            links=[{"rel": "root", "type": "application/json", "href": f"{_base(request)}/"}],
        )


def _item_from(doc: Any, collection_id: str) -> Item:
    """A catalog item from a transaction body (a model or a dict); malformed input is a QueryError."""
    if doc is None:
        raise QueryError("body: a STAC Item (or a FeatureCollection of items) is required")
    data = (
        doc.model_dump(mode="json", by_alias=True, exclude_none=True) if hasattr(doc, "model_dump") else doc
    )
    if not isinstance(data, dict):
        raise QueryError("body: each item must be a STAC Item object")
    if data.get("collection", collection_id) != collection_id:
        raise QueryError(f"collection: item says {data.get('collection')!r}, path says {collection_id!r}")
    try:
        return Item.from_stac({**data, "collection": collection_id})
    except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:
        if isinstance(exc, QueryError | ItemError):
            raise
        raise QueryError(f"body: not a valid STAC Item: {exc}") from None


@attr.s
class TransactionsClient(BaseTransactionsClient):
    """Transactions on items and collections (admins only)."""

    def create_item(self, collection_id: str, item: Any, request: Request, **kwargs: Any) -> Any:  # type: ignore[override]
        """``POST /collections/{cid}/items`` (an item or a FeatureCollection)."""
        state = ApiState.of(request)
        visible_collection(request, collection_id)
        features = getattr(item, "features", None)
        items = (
            [_item_from(f, collection_id) for f in features]
            if features is not None
            else [_item_from(item, collection_id)]
        )
        for one in items:
            try:
                state.store.get(one.id)
            except ItemNotFoundError:
                continue
            raise ConflictError(f"item {one.id!r} exists already (use PUT to replace it)")
        state.store.upsert(items)
        return None if features is not None else item_links(request, stac_item(items[0]))

    def update_item(  # type: ignore[override]
        self, collection_id: str, item_id: str, item: Any, request: Request, **kwargs: Any
    ) -> Any:
        """``PUT /collections/{cid}/items/{id}``."""
        visible_item(request, item_id, collection_id)
        new = _item_from(item, collection_id)
        if new.id != item_id:
            raise QueryError(f"id: body says {new.id!r}, path says {item_id!r}")
        ApiState.of(request).store.upsert([new])
        return item_links(request, stac_item(new))

    def patch_item(  # type: ignore[override]
        self, collection_id: str, item_id: str, patch: Any, request: Request, **kwargs: Any
    ) -> Any:
        """``PATCH`` is not offered: replace the item with ``PUT``."""
        raise QueryError("PATCH: not supported; replace the item with PUT")

    def delete_item(self, item_id: str, collection_id: str, request: Request, **kwargs: Any) -> Any:  # type: ignore[override]
        """``DELETE /collections/{cid}/items/{id}``."""
        visible_item(request, item_id, collection_id)
        ApiState.of(request).store.delete([item_id])
        return None

    def create_collection(self, collection: Any, request: Request, **kwargs: Any) -> Any:  # type: ignore[override]
        """``POST /collections``."""
        state = ApiState.of(request)
        doc = collection.model_dump(mode="json", by_alias=True, exclude_none=True)
        if any(c.id == doc["id"] for c in state.store.list_collections()):
            raise ConflictError(f"collection {doc['id']!r} exists already")
        new = _collection_from(doc)
        state.store.put_collection(new)
        return _collection_doc(request, new)

    def update_collection(self, collection_id: str, collection: Any, request: Request, **kwargs: Any) -> Any:  # type: ignore[override]
        """``PUT /collections/{id}``."""
        visible_collection(request, collection_id)
        doc = collection.model_dump(mode="json", by_alias=True, exclude_none=True)
        if doc["id"] != collection_id:
            raise QueryError(f"id: body says {doc['id']!r}, path says {collection_id!r}")
        new = _collection_from(doc)
        ApiState.of(request).store.put_collection(new)
        return _collection_doc(request, new)

    def patch_collection(self, collection_id: str, patch: Any, request: Request, **kwargs: Any) -> Any:  # type: ignore[override]
        """``PATCH`` is not offered: replace the collection with ``PUT``."""
        raise QueryError("PATCH: not supported; replace the collection with PUT")

    def delete_collection(self, collection_id: str, request: Request, **kwargs: Any) -> Any:  # type: ignore[override]
        """``DELETE /collections/{id}`` (with its items)."""
        visible_collection(request, collection_id)
        ApiState.of(request).store.delete_collection(collection_id)
        return None


def _collection_from(doc: dict[str, Any]) -> Collection:
    """A catalog collection from a transaction body; a malformed extent is a QueryError."""
    try:
        bbox = [float(v) for v in doc["extent"]["spatial"]["bbox"][0]]
        west, south, east, north = bbox[0], bbox[1], bbox[len(bbox) // 2], bbox[len(bbox) // 2 + 1]
    except (KeyError, IndexError, TypeError, ValueError):
        raise QueryError("extent: spatial.bbox must hold one bbox of 4 or 6 numbers") from None
    return Collection(
        id=doc["id"],
        title=doc.get("title") or doc["id"],
        description=doc.get("description", ""),
        license=doc.get("license", "proprietary"),
        extent_bbox=(west, south, east, north),
        keywords=tuple(doc.get("keywords") or ()),
        summaries=doc.get("summaries") or {},
    )


@attr.s
class BulkTransactionsClient(BaseBulkTransactionsClient):
    """Bulk item insertion (admins only)."""

    def bulk_item_insert(self, items: Items, chunk_size: int | None = None, **kwargs: Any) -> JSONResponse:
        """``POST /collections/{cid}/bulk_items``: insert or replace many items at once."""
        request: Request = kwargs["request"]
        collection_id: str = request.path_params["collection_id"]
        visible_collection(request, collection_id)
        parsed = [_item_from(doc, collection_id) for doc in items.items.values()]
        ApiState.of(request).store.upsert(parsed)
        return JSONResponse({"inserted_or_replaced": len(parsed)})


def _complete_openapi(app: FastAPI) -> None:
    """Fix two flaws of stac-fastapi routes in the OpenAPI document.

    Some routes read path parameters untyped (they are declared here), and some serve GET and POST
    with one operation id (the second gets a ``_<method>`` suffix, so ids stay unique).
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        seen: set[str] = set()
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                declared = {p.get("name") for p in operation.get("parameters", []) if p.get("in") == "path"}
                for name in re.findall(r"{(\w+)}", path):
                    if name not in declared:
                        operation.setdefault("parameters", []).append(
                            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                        )
                if operation.get("operationId") in seen:
                    operation["operationId"] += f"_{method}"
                seen.add(operation.get("operationId", ""))
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


SORT_V1_0 = "https://api.stacspec.org/v1.0.0/"
"""Sort v1.0.0 conformance prefix: what pystac-client looks for before sending ``sortby``."""


def install_stac(app: FastAPI, settings: Settings) -> None:
    """Register the STAC API routes on ``app``."""
    stac_settings = ApiSettings(
        stac_fastapi_title="Strata",
        stac_fastapi_description="Sentinel catalog, processing and InSAR: STAC API",
        stac_fastapi_landing_id="strata",
        stac_fastapi_version=__version__,
        enable_response_models=False,
    )
    filters = FiltersClient()
    search_extensions = [
        QueryExtension(),
        SortExtension(
            conformance_classes=[SortConformanceClasses.ITEM_SEARCH_SORT, SORT_V1_0 + "item-search#sort"]
        ),
        FieldsExtension(),
        SearchFilterExtension(client=filters),
        FreeTextExtension(),
        TokenPaginationExtension(),
    ]
    item_extensions = [
        QueryExtension(conformance_classes=[QueryConformanceClasses.ITEMS]),
        SortExtension(
            conformance_classes=[SortConformanceClasses.FEATURES_SORT, SORT_V1_0 + "ogcapi-features#sort"]
        ),
        FieldsExtension(conformance_classes=[FieldsConformanceClasses.ITEMS]),
        ItemCollectionFilterExtension(client=filters),
        TokenPaginationExtension(),
    ]
    admin = [Depends(require_admin)]
    extensions = [
        *search_extensions,
        *item_extensions,
        StrataAggregationExtension(client=AggregationClient()),
        TransactionExtension(client=TransactionsClient(), settings=stac_settings, route_dependencies=admin),
        BulkTransactionExtension(
            client=BulkTransactionsClient(), route_dependencies=admin, enable_response_models=False
        ),
    ]
    StacApi(
        settings=stac_settings,
        client=CoreClient(landing_page_id="strata"),
        extensions=extensions,
        exceptions={},
        app=app,
        search_get_request_model=create_get_request_model(search_extensions, base_model=SearchGetRequest),
        search_post_request_model=create_post_request_model(search_extensions, base_model=SearchPostRequest),
        items_get_request_model=create_request_model(  # type: ignore[arg-type]
            "ItemCollectionUri", base_model=ItemsGetRequest, extensions=item_extensions, request_type="GET"
        ),
        middlewares=[
            Middleware(
                CORSMiddleware, allow_origins=["*"], allow_methods=["*"], allow_headers=["*"], max_age=600
            ),
            Middleware(ProxyHeaderMiddleware),
        ],
    )
    _complete_openapi(app)
