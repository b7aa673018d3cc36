"""Downloads: one product with Range/ETag/checksums, a selection as metalink or zip, staging.

``GET /download/{product_id}`` streams the archived file: exact ``Content-Length``, byte ranges
(``Range``/``If-Range``, so an interrupted download resumes), a strong ``ETag`` (the SHA-256),
``If-None-Match``, and the checksums of the whole file in ``Repr-Digest`` (RFC 9530, sha-256 and
md5) and ``X-Checksum-SHA256``/``X-Checksum-MD5``.  A product whose file is offline answers
``202 Accepted`` with a staging request (``Location: /staging/{id}``) that completes in the
background; polling it says when the download is ready.

Each download counts its bytes (the range asked for) against the caller's daily quota; an
exhausted quota answers 429 with ``Retry-After`` (seconds to UTC midnight).
"""

from __future__ import annotations

import asyncio
import io
import re
import zipfile
from base64 import b64encode
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any
from xml.etree import ElementTree

from anyio import to_thread
from fastapi import APIRouter, Body, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse

from strata.api.access import ApiState, visible_item
from strata.api.auth import account_of, current_user
from strata.catalog.archive import Archive, ArchivedFile, StagingRequest
from strata.catalog.model import Item, format_datetime
from strata.errors import InputError, NotFoundError

__all__ = ["MAX_SELECTION", "ProductFileResponse", "Stager", "router"]

MAX_SELECTION = 1000
_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$")
_METALINK_NS = "urn:ietf:params:xml:ns:metalink"

router = APIRouter(tags=["Downloads"])


class ProductFileResponse(FileResponse):
    """Starlette's file response (Range, If-Range, HEAD) reading 1 MiB per chunk."""

    chunk_size = 1024 * 1024


class Stager:
    """Completes staging requests in the background, ``delay`` seconds after they were made."""

    def __init__(self, state: ApiState, delay: float) -> None:
        self.state = state
        self.delay = delay
        self._tasks: set[asyncio.Task[None]] = set()

    def schedule(self, request: StagingRequest) -> None:
        """Run ``request`` to completion in the background (from the event loop)."""
        task = asyncio.get_running_loop().create_task(self._complete(request))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _complete(self, request: StagingRequest) -> None:
        elapsed = (datetime.now(UTC) - request.requested).total_seconds()
        await asyncio.sleep(max(0.0, self.delay - elapsed))
        done = await to_thread.run_sync(self.state.archive.complete_staging, request.id)
        if done.state == "done":
            await to_thread.run_sync(self.state.mark_online, done.item_id)

    async def resume(self) -> None:
        """Schedule every pending request (after a restart)."""
        for request in await to_thread.run_sync(self.state.archive.pending_staging):
            self.schedule(request)

    async def close(self) -> None:
        """Cancel the background work (it resumes at the next start)."""
        for task in list(self._tasks):
            task.cancel()


def _digest_headers(archived: ArchivedFile) -> dict[str, str]:
    sha = b64encode(bytes.fromhex(archived.sha256)).decode()
    md5 = b64encode(bytes.fromhex(archived.md5)).decode()
    return {
        "ETag": f'"{archived.sha256}"',
        "Repr-Digest": f"sha-256=:{sha}:, md5=:{md5}:",
        "X-Checksum-SHA256": archived.sha256,
        "X-Checksum-MD5": archived.md5,
    }


def _requested_bytes(range_header: str | None, size: int) -> int:
    """Bytes a ``Range`` header asks for (the whole file when absent or not a single range)."""
    match = _RANGE.match(range_header or "")
    if not match or not any(match.groups()):
        return size
    first, last = match.groups()
    if not first:
        return min(int(last), size)
    end = min(int(last), size - 1) if last else size - 1
    return max(0, end - int(first) + 1)


def _staging_body(request: Request, staging: StagingRequest) -> dict[str, Any]:
    return {
        "id": staging.id,
        "product_id": staging.item_id,
        "status": staging.state,
        "requested": format_datetime(staging.requested),
        "completed": format_datetime(staging.completed) if staging.completed else None,
        "message": staging.message,
        "links": [
            {
                "rel": "monitor",
                "type": "application/json",
                "href": str(request.url_for("staging", request_id=staging.id)),
            },
            {"rel": "enclosure", "href": str(request.url_for("download", product_id=staging.item_id))},
        ],
    }


async def _accept_staging(request: Request, item: Item) -> JSONResponse:
    state = ApiState.of(request)
    staging = await to_thread.run_sync(state.archive.request_staging, item)
    if staging.state == "pending":
        state.stager.schedule(staging)
    body = _staging_body(request, staging)
    return JSONResponse(
        status_code=202, content=body, headers={"Location": body["links"][0]["href"], "Retry-After": "5"}
    )


def _quota(request: Request) -> int:
    state = ApiState.of(request)
    user = current_user(request)
    if user is None:
        return state.settings.anonymous_download_quota_bytes
    return user.download_quota_bytes or state.settings.download_quota_bytes


@router.head("/download/{product_id}", operation_id="download_head", include_in_schema=False)
@router.get(
    "/download/{product_id}",
    name="download",
    summary="Download a product (resumable)",
    responses={
        200: {"content": {"application/octet-stream": {}}, "description": "The product file."},
        202: {"description": "The product is offline; a staging request was made."},
        206: {"description": "The requested byte range."},
        304: {"description": "The client's copy (If-None-Match) is current."},
        404: {"description": "No such product, or no file for it."},
        416: {"description": "The range cannot be satisfied."},
        429: {"description": "Rate limit or download quota exhausted (see Retry-After)."},
    },
)
async def download(product_id: str, request: Request) -> Response:
    """Stream the archived file of ``product_id``."""
    state = ApiState.of(request)
    item = await to_thread.run_sync(visible_item, request, product_id)
    archive: Archive = state.archive
    if not archive.is_online(item):
        if archive.offline_path(item).is_file():
            return await _accept_staging(request, item)
        raise NotFoundError(f"product {product_id!r} has no file in the archive")
    archived = await to_thread.run_sync(archive.file, item)
    headers = _digest_headers(archived)
    if request.headers.get("if-none-match", "").strip() in (headers["ETag"], "*"):
        return Response(status_code=304, headers=headers)
    if request.method == "GET":
        size = _requested_bytes(request.headers.get("range"), archived.size)
        await to_thread.run_sync(state.users.charge_download, account_of(request), size, _quota(request))
    return ProductFileResponse(
        archived.path,
        headers=headers,
        media_type="application/zip" if archived.path.suffix == ".zip" else "application/octet-stream",
        filename=archived.path.name,
    )


@router.get(
    "/staging/{request_id}",
    name="staging",
    summary="Status of a staging request",
    responses={404: {"description": "No such staging request."}},
)
async def staging(request_id: str, request: Request) -> dict[str, Any]:
    """Poll a staging request: ``pending``, then ``done`` (download now) or ``error``."""
    state = ApiState.of(request)
    staging = await to_thread.run_sync(state.archive.staging, request_id)
    await to_thread.run_sync(visible_item, request, staging.item_id)
    return _staging_body(request, staging)


# --- a selection: metalink and zip -------------------------------------------------------------------


def _selection(request: Request, ids: list[str]) -> list[tuple[Item, ArchivedFile | None]]:
    if not ids:
        raise InputError("ids: give at least one product id")
    if len(ids) > MAX_SELECTION:
        raise InputError(f"ids: at most {MAX_SELECTION} products per selection, got {len(ids)}")
    archive = ApiState.of(request).archive
    chosen: list[tuple[Item, ArchivedFile | None]] = []
    for product_id in dict.fromkeys(ids):
        item = visible_item(request, product_id)
        if archive.is_online(item):
            chosen.append((item, archive.file(item)))
        elif archive.offline_path(item).is_file():
            chosen.append((item, None))
        else:
            raise NotFoundError(f"ids: product {product_id!r} has no file in the archive")
    return chosen


def _ids(ids: str | None, body: dict[str, Any] | None) -> list[str]:
    if body is not None:
        value = body.get("ids")
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InputError('ids: the body must be {"ids": [<product id>, ...]}')
        return value
    return [part for part in (ids or "").split(",") if part]


async def _offline_answer(
    request: Request, chosen: list[tuple[Item, ArchivedFile | None]]
) -> JSONResponse | None:
    offline = [item for item, archived in chosen if archived is None]
    if not offline:
        return None
    state = ApiState.of(request)
    requests = []
    for item in offline:
        staging = await to_thread.run_sync(state.archive.request_staging, item)
        if staging.state == "pending":
            state.stager.schedule(staging)
        requests.append(_staging_body(request, staging))
    return JSONResponse(status_code=202, content={"staging": requests}, headers={"Retry-After": "5"})


IdsQuery = Annotated[str | None, Query(description="Comma-separated product ids.")]
IdsBody = Annotated[dict[str, Any] | None, Body(description='{"ids": [<product id>, ...]}')]


@router.get("/downloads/selection.meta4", operation_id="selection_metalink_get", include_in_schema=False)
@router.post(
    "/downloads/selection.meta4",
    summary="Metalink 4 of a selection of products",
    responses={
        200: {"content": {"application/metalink4+xml": {}}},
        202: {"description": "Some are offline."},
    },
)
async def selection_metalink(request: Request, ids: IdsQuery = None, body: IdsBody = None) -> Response:
    """A Metalink 4 (RFC 5854) document listing each product's URL, size, MD5 and SHA-256."""
    chosen = await to_thread.run_sync(_selection, request, _ids(ids, body))
    if answer := await _offline_answer(request, chosen):
        return answer
    root = ElementTree.Element("metalink", xmlns=_METALINK_NS)
    ElementTree.SubElement(root, "published").text = format_datetime(datetime.now(UTC))
    for item, archived in chosen:
        assert archived is not None
        node = ElementTree.SubElement(root, "file", name=archived.path.name)
        ElementTree.SubElement(node, "identity").text = item.id
        ElementTree.SubElement(node, "size").text = str(archived.size)
        ElementTree.SubElement(node, "hash", type="md5").text = archived.md5
        ElementTree.SubElement(node, "hash", type="sha-256").text = archived.sha256
        ElementTree.SubElement(node, "url").text = str(request.url_for("download", product_id=item.id))
    body_xml = ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)
    return Response(
        body_xml,
        media_type="application/metalink4+xml",
        headers={"Content-Disposition": 'attachment; filename="selection.meta4"'},
    )


class _Spool(io.RawIOBase):
    """A write-only, non-seekable sink whose bytes are drained by the streaming generator."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self._chunks.append(chunk)
        self._position += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self._position

    def drain(self) -> Iterator[bytes]:
        if self._chunks:
            yield b"".join(self._chunks)
            self._chunks.clear()


def _zip_stream(files: list[ArchivedFile]) -> Iterator[bytes]:
    """The zip of ``files`` (stored, Zip64) plus a ``SHA256SUMS`` member, as it is written."""
    spool = _Spool()
    stamp = datetime.now(UTC).timetuple()[:6]
    with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for archived in files:
            info = zipfile.ZipInfo(archived.path.name, date_time=stamp)
            with archived.path.open("rb") as source, zf.open(info, "w", force_zip64=True) as target:
                while chunk := source.read(ProductFileResponse.chunk_size):
                    target.write(chunk)
                    yield from spool.drain()
        sums = "".join(f"{archived.sha256}  {archived.path.name}\n" for archived in files)
        zf.writestr(zipfile.ZipInfo("SHA256SUMS", date_time=stamp), sums)
    yield from spool.drain()


@router.get("/downloads/selection.zip", operation_id="selection_zip_get", include_in_schema=False)
@router.post(
    "/downloads/selection.zip",
    summary="A selection of products as one streamed zip",
    responses={200: {"content": {"application/zip": {}}}, 202: {"description": "Some are offline."}},
)
async def selection_zip(request: Request, ids: IdsQuery = None, body: IdsBody = None) -> Response:
    """Stream the selected products' files as one zip (stored, Zip64) with a ``SHA256SUMS`` member."""
    chosen = await to_thread.run_sync(_selection, request, _ids(ids, body))
    if answer := await _offline_answer(request, chosen):
        return answer
    files = [archived for _, archived in chosen if archived is not None]
    total = sum(archived.size for archived in files)
    state = ApiState.of(request)
    await to_thread.run_sync(state.users.charge_download, account_of(request), total, _quota(request))
    return StreamingResponse(
        _zip_stream(files),
        media_type="application/zip",
        headers={"Content-Disposition": 'attachment; filename="selection.zip"'},
    )
