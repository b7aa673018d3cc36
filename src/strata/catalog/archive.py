"""The product archive on disk: where a product's file lives, its checksums, staging of offline files.

Layout under the archive root (``<data_dir>/archive`` by default)::

    online/<collection>/<yyyy>/<mm>/<dd>/<item id><suffix>    files that can be served now
    offline/<collection>/<yyyy>/<mm>/<dd>/<item id><suffix>   "tape": must be staged first

The suffix is that of the product's main asset (``.zip`` for a zipped SAFE), ``.zip`` by default.
MD5 and SHA-256 of each online file are computed once, stored in the catalog database with the
file's size and modification time, and recomputed only when the file changes.  Staging an offline
product copies it to the online tier (through a temporary name, so a reader never sees half a
file); a staging request is durable, so a restarted server finishes the pending ones.
"""

from __future__ import annotations

import hashlib
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import NamedTuple

import sqlalchemy as sa

from strata.catalog.errors import CatalogError
from strata.catalog.model import Item
from strata.errors import NotFoundError

__all__ = ["Archive", "ArchiveError", "ArchivedFile", "StagingRequest"]

_CHUNK = 4 * 1024 * 1024

_metadata = sa.MetaData()
_files = sa.Table(
    "strata_archive_files",
    _metadata,
    sa.Column("item_id", sa.String(256), primary_key=True),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("mtime_ns", sa.BigInteger, nullable=False),
    sa.Column("md5", sa.String(32), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
)
_staging = sa.Table(
    "strata_staging_requests",
    _metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("item_id", sa.String(256), nullable=False, index=True),
    sa.Column("collection", sa.String(256), nullable=False),
    sa.Column("relative_path", sa.Text, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("requested", sa.DateTime(timezone=True), nullable=False),
    sa.Column("completed", sa.DateTime(timezone=True), nullable=True),
    sa.Column("message", sa.Text, nullable=True),
)


class ArchiveError(CatalogError):
    """The archive cannot do what was asked (a missing source file, a failed copy)."""


class ArchivedFile(NamedTuple):
    """An online product file with its checksums."""

    path: Path
    """Absolute path of the file."""
    size: int
    """Size in bytes."""
    mtime_ns: int
    """Modification time (ns), with ``size`` the identity the checksums belong to."""
    md5: str
    """MD5 hex digest of the whole file."""
    sha256: str
    """SHA-256 hex digest of the whole file."""


class StagingRequest(NamedTuple):
    """A request to bring an offline product online."""

    id: str
    item_id: str
    collection: str
    relative_path: str
    """Path of the file below each tier."""
    state: str
    """``pending``, ``done`` or ``error``."""
    requested: datetime
    completed: datetime | None
    message: str | None


def _suffix(item: Item) -> str:
    for key in ("product", "data"):
        href = str(item.assets.get(key, {}).get("href", ""))
        suffix = "".join(PurePosixPath(href).suffixes[-2:]) if href else ""
        if suffix:
            return suffix
    return ".zip"


def _digest(path: Path) -> tuple[str, str]:
    md5 = hashlib.md5(usedforsecurity=False)
    sha = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            md5.update(chunk)
            sha.update(chunk)
    return md5.hexdigest(), sha.hexdigest()


def _request(row: sa.Row[tuple[object, ...]]) -> StagingRequest:
    m = row._mapping
    requested: datetime = m["requested"]
    completed: datetime | None = m["completed"]
    return StagingRequest(
        id=str(m["id"]),
        item_id=str(m["item_id"]),
        collection=str(m["collection"]),
        relative_path=str(m["relative_path"]),
        state=str(m["state"]),
        requested=requested if requested.tzinfo else requested.replace(tzinfo=UTC),
        completed=completed if completed is None or completed.tzinfo else completed.replace(tzinfo=UTC),
        message=None if m["message"] is None else str(m["message"]),
    )


class Archive:
    """Product files under ``root``, with checksums and staging requests kept in ``engine``'s database."""

    def __init__(self, root: Path, engine: sa.Engine) -> None:
        self.root = Path(root).resolve()
        self.engine = engine
        _metadata.create_all(engine)

    @staticmethod
    def relative_path(item: Item) -> PurePosixPath:
        """Where ``item``'s file lives below a tier: ``<collection>/<yyyy>/<mm>/<dd>/<id><suffix>``."""
        day = item.start_datetime
        return PurePosixPath(item.collection, f"{day:%Y}", f"{day:%m}", f"{day:%d}", item.id + _suffix(item))

    def online_path(self, item: Item) -> Path:
        """Path of ``item``'s file in the online tier (which may not exist)."""
        return self.root / "online" / self.relative_path(item)

    def offline_path(self, item: Item) -> Path:
        """Path of ``item``'s file in the offline tier (which may not exist)."""
        return self.root / "offline" / self.relative_path(item)

    def is_online(self, item: Item) -> bool:
        """Whether ``item``'s file can be served now."""
        return self.online_path(item).is_file()

    def is_archived(self, item: Item) -> bool:
        """Whether the archive has ``item``'s file in either tier."""
        return self.is_online(item) or self.offline_path(item).is_file()

    def put(self, item: Item, source: Path, online: bool = True) -> Path:
        """Copy ``source`` into the archive as ``item``'s file (online or offline tier).

        The copy is atomic (temporary name, then rename); checksums of an online file are computed.

        Raises
        ------
        ArchiveError
            If ``source`` is not a file.
        """
        if not Path(source).is_file():
            raise ArchiveError(f"not a file: {source}")
        target = self.online_path(item) if online else self.offline_path(item)
        _copy_atomic(Path(source), target)
        if online:
            self.file(item)
        return target

    def file(self, item: Item) -> ArchivedFile:
        """The online file of ``item`` with its checksums (computed now if unknown or stale).

        Raises
        ------
        NotFoundError
            If ``item`` has no online file.
        """
        path = self.online_path(item)
        try:
            stat = path.stat()
        except FileNotFoundError:
            raise NotFoundError(f"product {item.id!r} has no file online") from None
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(_files).where(_files.c.item_id == item.id)).first()
        if row is not None:
            m = row._mapping
            if m["path"] == str(path) and m["size"] == stat.st_size and m["mtime_ns"] == stat.st_mtime_ns:
                return ArchivedFile(path, stat.st_size, stat.st_mtime_ns, str(m["md5"]), str(m["sha256"]))
        md5, sha256 = _digest(path)
        values = {
            "path": str(path),
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
            "md5": md5,
            "sha256": sha256,
        }
        with self.engine.begin() as conn:
            conn.execute(_files.delete().where(_files.c.item_id == item.id))
            conn.execute(_files.insert().values(item_id=item.id, **values))
        return ArchivedFile(path, stat.st_size, stat.st_mtime_ns, md5, sha256)

    def request_staging(self, item: Item) -> StagingRequest:
        """A staging request for offline ``item`` (the pending one if there is one already).

        Raises
        ------
        NotFoundError
            If the archive has no offline file for ``item``.
        """
        if not self.offline_path(item).is_file():
            raise NotFoundError(f"product {item.id!r} is not in the archive")
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.select(_staging).where(_staging.c.item_id == item.id, _staging.c.state == "pending")
            ).first()
            if row is not None:
                return _request(row)
            values = {
                "id": str(uuid.uuid4()),
                "item_id": item.id,
                "collection": item.collection,
                "relative_path": str(self.relative_path(item)),
                "state": "pending",
                "requested": datetime.now(UTC),
            }
            conn.execute(_staging.insert().values(**values))
        return self.staging(str(values["id"]))

    def staging(self, request_id: str) -> StagingRequest:
        """The staging request ``request_id``.

        Raises
        ------
        NotFoundError
            If there is no such request.
        """
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(_staging).where(_staging.c.id == request_id)).first()
        if row is None:
            raise NotFoundError(f"no staging request {request_id!r}")
        return _request(row)

    def pending_staging(self) -> list[StagingRequest]:
        """Every staging request not yet complete, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(_staging).where(_staging.c.state == "pending").order_by(_staging.c.requested)
            ).all()
        return [_request(row) for row in rows]

    def complete_staging(self, request_id: str) -> StagingRequest:
        """Copy the offline file of request ``request_id`` online and mark the request done (or error)."""
        request = self.staging(request_id)
        if request.state != "pending":
            return request
        source = self.root / "offline" / request.relative_path
        target = self.root / "online" / request.relative_path
        state, message = "done", None
        try:
            if not target.is_file():
                _copy_atomic(source, target)
        except OSError as exc:
            state, message = "error", f"staging failed: {exc}"
        with self.engine.begin() as conn:
            conn.execute(
                _staging.update()
                .where(_staging.c.id == request_id)
                .values(state=state, message=message, completed=datetime.now(UTC))
            )
        return self.staging(request_id)


def _copy_atomic(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
    try:
        shutil.copyfile(source, tmp)
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
