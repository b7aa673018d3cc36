"""What the API holds (store, users, archive) and who may see what.

:class:`ApiState` is built once by ``create_app`` and reached from a request with
:meth:`ApiState.of`.  Visibility is decided here and nowhere else: anonymous callers and users see
public collections, a user also sees the private collections granted to it, admins see all.
Anything else answers 404, exactly as if it did not exist.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import Request

from strata.api.auth import RateLimiter, current_user
from strata.api.users import User, UserStore
from strata.catalog.archive import Archive
from strata.catalog.errors import ItemNotFoundError, UnknownCollectionError
from strata.catalog.model import Collection, Item
from strata.settings import Settings

if TYPE_CHECKING:
    from strata.api.downloads import Stager
    from strata.catalog.store.base import CatalogStore

__all__ = ["ApiState", "readable_collections", "visible_collection", "visible_item"]


@dataclass
class ApiState:
    """Everything the routers share, built once per application."""

    settings: Settings
    store: CatalogStore
    users: UserStore
    archive: Archive
    limiter: RateLimiter
    stager: Stager = field(init=False)
    extra: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def of(request: Request) -> ApiState:
        """The state of the application serving ``request``."""
        state: ApiState = request.app.state.strata
        return state

    def mark_online(self, item_id: str) -> None:
        """Record in the catalog that ``item_id``'s file is on disk now."""
        item = self.store.get(item_id)
        if not item.online:
            self.store.upsert([item.replace(online=True)])


def readable_collections(request: Request) -> list[Collection]:
    """The collections the caller may read."""
    user: User | None = current_user(request)
    collections = ApiState.of(request).store.list_collections()
    if user is None:
        return [c for c in collections if c.public]
    return [c for c in collections if user.can_read(c.id, c.public)]


def visible_collection(request: Request, collection_id: str) -> Collection:
    """The collection ``collection_id`` if the caller may read it.

    Raises
    ------
    UnknownCollectionError
        If it does not exist or the caller may not see it.
    """
    for collection in readable_collections(request):
        if collection.id == collection_id:
            return collection
    raise UnknownCollectionError(f"no collection {collection_id!r}")


def visible_item(request: Request, item_id: str, collection_id: str | None = None) -> Item:
    """The product ``item_id`` (of ``collection_id`` when given) if the caller may read it.

    Raises
    ------
    ItemNotFoundError
        If it does not exist, is in another collection, or the caller may not see it.
    """
    try:
        item: Item = ApiState.of(request).store.get(item_id)
    except ItemNotFoundError:
        raise ItemNotFoundError(f"no product {item_id!r}") from None
    if collection_id is not None and item.collection != collection_id:
        raise ItemNotFoundError(f"no product {item_id!r} in collection {collection_id!r}")
    if item.collection not in {c.id for c in readable_collections(request)}:
        raise ItemNotFoundError(f"no product {item_id!r}")
    return item
