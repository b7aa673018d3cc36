"""The one search path of every façade: a :class:`~strata.api.query.SearchRequest` run on the store.

The CQL2 filter is split into its top-level conjuncts.  Those the store's
:class:`~strata.catalog.search.SearchQuery` expresses exactly (equality and ``in`` on enumerated
fields, comparisons and ``between`` on integer and baseline fields, ``a_contains`` on
polarisations, ``s_intersects`` with a geometry, ``storage:online``) become store criteria and run
on the store's indexes.  The rest (``or``, ``not``, ``like``, comparisons on timestamps, ...) is
evaluated by the ``cql2`` library on each candidate the store returns, so no filter is ever ignored;
such searches scan the store's pages and report no ``numberMatched``.

Paging tokens wrap the store's keyset token plus how many products of that store page were
already used, so a residual-filtered search resumes exactly where it stopped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import cql2
from fastapi import Request
from stac_fastapi.extensions.aggregation.types import Aggregation

from strata.api.access import ApiState, readable_collections
from strata.api.query import SearchRequest, decode_token, encode_token
from strata.catalog.errors import QueryError
from strata.catalog.model import SEARCHABLE_FIELDS, Item
from strata.catalog.search import SearchQuery

__all__ = ["AGGREGATIONS", "SearchResult", "aggregate", "run_search", "store_query"]

_SCAN = 500
"""Store page size while evaluating a residual filter."""

# STAC property -> SearchQuery list field (equality / in)
_LIST_FIELDS = {
    "id": "ids",
    "collection": "collections",
    "platform": "platforms",
    "constellation": "constellations",
    "instruments": "instruments",
    "product_type": "product_types",
    "processing:level": "processing_levels",
    "sar:instrument_mode": "sensor_modes",
}
_INT_FIELDS = {
    SEARCHABLE_FIELDS[name]: name
    for name in ("absolute_orbit", "relative_orbit", "cycle", "datatake_id", "slice_number")
}
_FLOAT_FIELDS = {SEARCHABLE_FIELDS[name]: name for name in ("perpendicular_baseline", "temporal_baseline")}
_SORT_FIELDS = {"datetime": "start_datetime", "id": "id", "collection": "collection"}

AGGREGATIONS: dict[str, str] = {
    "total_count": "integer",
    "collection_frequency": "frequency_distribution",
    "platform_frequency": "frequency_distribution",
    "product_type_frequency": "frequency_distribution",
    "sensor_mode_frequency": "frequency_distribution",
    "orbit_direction_frequency": "frequency_distribution",
    "relative_orbit_frequency": "frequency_distribution",
    "processing_level_frequency": "frequency_distribution",
    "datetime_frequency": "frequency_distribution",
    "year_frequency": "frequency_distribution",
}
_AGGREGATION_FIELDS = {
    "collection_frequency": "collection",
    "platform_frequency": "platform",
    "product_type_frequency": "product_type",
    "sensor_mode_frequency": "sensor_mode",
    "orbit_direction_frequency": "orbit_direction",
    "relative_orbit_frequency": "relative_orbit",
    "processing_level_frequency": "processing_level",
    "datetime_frequency": "month",
    "year_frequency": "year",
}


@dataclass(frozen=True)
class SearchResult:
    """One page of a search."""

    items: list[Item]
    matched: int | None
    """Products matching the whole search; ``None`` when unknown (residual filter)."""
    matched_is_estimate: bool
    next_token: str | None


def _literal_list(value: Any) -> list[Any] | None:
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return [value]
    if isinstance(value, list) and all(
        isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in value
    ):
        return value
    return None


class _Translation:
    """Store criteria gathered from CQL2 conjuncts, and the conjuncts left to evaluate."""

    def __init__(self) -> None:
        self.empty = False
        """Whether the conjuncts contradict each other (an empty range): nothing matches."""
        self.criteria: dict[str, Any] = {}
        self.ranges: dict[str, list[float | None]] = {}
        self.residual: list[dict[str, Any]] = []

    def add(self, node: dict[str, Any]) -> None:
        if not self._take(node):
            self.residual.append(node)

    def _take(self, node: dict[str, Any]) -> bool:  # noqa: C901 - one branch per operator
        op, args = node.get("op"), node.get("args") or []
        if op == "and":
            for arg in args:
                self.add(arg)
            return True
        if len(args) < 2 or not isinstance(args[0], dict) or set(args[0]) != {"property"}:
            return False
        prop, value = str(args[0]["property"]).removeprefix("properties."), args[1]
        if op in ("=", "in") and prop in _LIST_FIELDS:
            values = _literal_list(value)
            name = _LIST_FIELDS[prop]
            if values is None or name in self.criteria or (op == "=" and len(values) != 1):
                return False
            self.criteria[name] = [str(v) for v in values]
            return True
        if op == "=" and prop == "sat:orbit_state" and value in ("ascending", "descending"):
            if "orbit_direction" in self.criteria:
                return False
            self.criteria["orbit_direction"] = value
            return True
        if op == "=" and prop == "storage:online" and isinstance(value, bool):
            self.criteria["online"] = value
            return True
        if op == "a_contains" and prop == "sar:polarizations" and _literal_list(value):
            if "polarisations" in self.criteria:
                return False
            self.criteria["polarisations"] = [str(v).upper() for v in _literal_list(value) or []]
            return True
        if op == "s_intersects" and prop == "geometry" and isinstance(value, dict) and "type" in value:
            if "intersects" in self.criteria:
                return False
            self.criteria["intersects"] = value
            return True
        if prop in _INT_FIELDS or prop in _FLOAT_FIELDS:
            return self._range(op, prop, args[1:])
        return False

    def _range(self, op: Any, prop: str, values: list[Any]) -> bool:
        integer = prop in _INT_FIELDS
        numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if len(numbers) != len(values) or (integer and not all(float(v).is_integer() for v in numbers)):
            return False
        low: float | None = None
        high: float | None = None
        step = 1 if integer else 0
        if op == "=" and len(numbers) == 1:
            low = high = numbers[0]
        elif op == "between" and len(numbers) == 2:
            low, high = numbers
        elif op in (">=", ">") and len(numbers) == 1 and (integer or op == ">="):
            low = numbers[0] + (step if op == ">" else 0)
        elif op in ("<=", "<") and len(numbers) == 1 and (integer or op == "<="):
            high = numbers[0] - (step if op == "<" else 0)
        else:
            return False
        bounds = self.ranges.setdefault(prop, [None, None])
        if low is not None:
            bounds[0] = low if bounds[0] is None else max(bounds[0], low)
        if high is not None:
            bounds[1] = high if bounds[1] is None else min(bounds[1], high)
        return True

    def store_criteria(self) -> dict[str, Any]:
        criteria = dict(self.criteria)
        for prop, (low, high) in self.ranges.items():
            if low is not None and high is not None and low > high:
                self.empty = True
                continue
            if prop in _INT_FIELDS:
                criteria[_INT_FIELDS[prop]] = [
                    (None if low is None else int(low), None if high is None else int(high))
                ]
            else:
                criteria[_FLOAT_FIELDS[prop]] = (low, high)
        return criteria


def store_query(search: SearchRequest, collections: list[str], limit: int) -> tuple[SearchQuery | None, Any]:
    """The store query of ``search`` restricted to ``collections``, and the residual CQL2 (or ``None``).

    The query is ``None`` when nothing can match (no readable collection, contradictory ranges).

    Raises
    ------
    QueryError
        If a criterion is malformed (the message names the parameter).
    """
    translation = _Translation()
    if search.filter is not None:
        translation.add(search.filter)
    criteria = translation.store_criteria()
    asked = criteria.pop("collections", None)
    if asked is not None:
        collections = [c for c in collections if c in asked]
    spatial = {"bbox": search.bbox, "intersects": search.intersects}
    if criteria.get("intersects") is not None and (search.bbox or search.intersects):
        translation.residual.append(
            {"op": "s_intersects", "args": [{"property": "geometry"}, criteria.pop("intersects")]}
        )
    if search.ids:
        if "ids" in criteria:  # ids AND a filter on id: both must hold
            translation.residual.append({"op": "in", "args": [{"property": "id"}, criteria.pop("ids")]})
        criteria["ids"] = list(search.ids)
    if not collections or translation.empty:
        return None, None
    sortby = [
        {"field": _SORT_FIELDS.get(name, name), "direction": "asc" if ascending else "desc"}
        for name, ascending in search.sortby
    ]
    query = SearchQuery(
        collections=collections,
        start=search.start,
        end=search.end,
        q=" ".join(search.q) or None,
        limit=limit,
        **({"sortby": sortby} if sortby else {}),
        **{k: v for k, v in spatial.items() if v is not None},
        **criteria,
    )
    residual = None
    if translation.residual:
        node = (
            translation.residual[0]
            if len(translation.residual) == 1
            else {"op": "and", "args": translation.residual}
        )
        residual = cql2.parse_json(json.dumps(node))
    return query, residual


def _matches(expression: Any, item: Item) -> bool:
    """Whether ``item`` satisfies a CQL2 expression; a comparison with a missing property is false."""
    try:
        return bool(expression.matches(item.to_stac()))
    except Exception:  # noqa: BLE001 - cql2 raises a bare Exception when a property is absent
        return False


def _collections(request: Request, search: SearchRequest) -> list[str]:
    readable = [c.id for c in readable_collections(request)]
    if search.collections:
        return [c for c in search.collections if c in readable]
    return readable


def run_search(request: Request, search: SearchRequest) -> SearchResult:
    """Run ``search`` for the caller of ``request`` (only collections it may read)."""
    store = ApiState.of(request).store
    store_token, skip = decode_token(search.token) if search.token else (None, 0)
    query, residual = store_query(search, _collections(request, search), search.limit)
    if query is None:
        return SearchResult([], 0, False, None)
    if residual is None and search.offset == 0 and skip == 0:
        page = store.search(query.with_token(store_token))
        token = encode_token(page.next_token, 0) if page.next_token else None
        return SearchResult(page.items, page.number_matched, page.matched_is_estimate, token)
    # scan store pages of a fixed size, evaluating the residual filter, skipping `offset` matches
    scan = query.model_copy(update={"limit": _SCAN})
    to_skip = search.offset
    items: list[Item] = []
    matched: int | None = None
    while True:
        page = store.search(scan.with_token(store_token))
        if residual is None and matched is None:
            matched = page.number_matched
        for position, item in enumerate(page.items[skip:], start=skip):
            if residual is not None and not _matches(residual, item):
                continue
            if to_skip:
                to_skip -= 1
                continue
            items.append(item)
            if len(items) == search.limit:
                more = position + 1 < len(page.items) or page.next_token is not None
                token = (
                    encode_token(store_token, position + 1)
                    if position + 1 < len(page.items)
                    else (encode_token(page.next_token, 0) if page.next_token else None)
                )
                return SearchResult(items, matched, False, token if more else None)
        if page.next_token is None:
            return SearchResult(items, matched, False, None)
        store_token, skip = page.next_token, 0


def aggregate(request: Request, search: SearchRequest, names: list[str]) -> list[Aggregation]:
    """The aggregations ``names`` of the products matching ``search``.

    Raises
    ------
    QueryError
        If the search has a filter the store cannot count by (aggregations need store criteria).
    """
    store = ApiState.of(request).store
    query, residual = store_query(search, _collections(request, search), 1)
    if query is None:
        return [_aggregation(n, 0 if n == "total_count" else {}) for n in names]
    if residual is not None:
        raise QueryError(
            "filter: aggregation supports filters on indexed fields only (=, in, ranges, "
            "a_contains, s_intersects)"
        )
    fields = [_AGGREGATION_FIELDS[n] for n in names if n != "total_count"]
    counted = store.aggregate(query, fields) if fields else {}
    return [
        _aggregation(
            name, store.count(query).value if name == "total_count" else counted[_AGGREGATION_FIELDS[name]]
        )
        for name in names
    ]


def _aggregation(name: str, result: int | list[Any] | dict[str, Any]) -> Aggregation:
    """An aggregation (a count, or buckets whose ``frequency`` is the count, as the extension says)."""
    doc: dict[str, Any] = {"name": name, "data_type": AGGREGATIONS[name]}
    if isinstance(result, int):
        doc["value"] = result
    else:
        doc["buckets"] = [
            {"key": str(b.value), "data_type": "string", "frequency": b.matched} for b in list(result or [])
        ]
    aggregation: Aggregation = doc  # type: ignore[assignment]
    return aggregation
