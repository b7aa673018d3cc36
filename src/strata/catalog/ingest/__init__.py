"""Ingest: turn product metadata files into catalog :class:`~strata.catalog.model.Item` objects.

:func:`read_path` opens a file (or a SAFE folder), recognises its format by content and yields
one :class:`~strata.catalog.model.Item` per good record and one :class:`Rejected` per bad record.
A file that is no known format at all (unparsable XML/JSON, a JSON document of another kind)
raises :class:`~strata.catalog.errors.IngestError` naming the file, before anything is yielded.

Formats (reader names, usable as ``format=``):

========  ==================================================================================
``safe``  Sentinel-1 SAFE: ``manifest.safe``, a ``.SAFE`` folder or a ``.zip`` of one (annotation
          XML used for the footprint and pass when the manifest is missing)
``stac``  STAC Item, ItemCollection / search response (GEODES...), Collection, or NDJSON of items
``asf``   ASF search results (GeoJSON or asf_search ``.yml`` records, ``jsonlite``)
``odata`` Copernicus Data Space (CDSE) OData ``Products`` responses
``resto`` RESTO / PEPS ``search.json`` FeatureCollections
``dhus``  ESA SciHub DHuS OpenSearch JSON and OData, also inside sentinelsat VCR cassettes (YAML)
``name``  a text file of Sentinel product names, one per line (metadata derived from the names)
========  ==================================================================================

Third-party readers register through the ``strata.catalog.readers`` entry-point group; the
entry point loads a :class:`Reader`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, NamedTuple
from xml.etree.ElementTree import Element, ParseError

import yaml
from defusedxml import ElementTree

from strata.catalog.errors import IngestError
from strata.catalog.model import Item

__all__ = ["Document", "Reader", "Rejected", "open_document", "parse_xml", "read_path", "readers"]

ENTRY_POINT_GROUP = "strata.catalog.readers"


class Rejected(NamedTuple):
    """A record that could not be ingested: where it is and why (it is skipped, never half-written)."""

    source: str
    """``<file>#<record index>``, with the product id when it is known."""
    reason: str


@dataclass(slots=True)
class Document:
    """A parsed input: what :meth:`Reader.sniff` and :meth:`Reader.read` receive."""

    path: Path
    kind: str
    """``xml`` (``data`` an Element), ``json``/``yaml`` (the parsed value), ``ndjson`` (a list of
    parsed lines), ``text`` (a list of non-empty lines), ``safe`` (a folder or zip path)."""
    data: Any


@dataclass(frozen=True, slots=True)
class Reader:
    """A metadata format: how to recognise a parsed document and turn it into items."""

    name: str
    description: str
    sniff: Callable[[Document], bool]
    """Whether the document is in this format (cheap: looks at the top-level structure only)."""
    read: Callable[[Document], Iterator[Item | Rejected]]
    """Yield an item per good record and a :class:`Rejected` per bad one."""


_REGISTRY: dict[str, Reader] = {}


def readers() -> dict[str, Reader]:
    """The registered readers by name, built-in first (detection tries them in this order)."""
    if not _REGISTRY:
        from strata.catalog.ingest import asf, dhus, name, odata, resto, safe, stac

        for module in (safe, asf, odata, dhus, resto, stac, name):
            _REGISTRY[module.READER.name] = module.READER
        for entry in entry_points(group=ENTRY_POINT_GROUP):
            reader = entry.load()
            if not isinstance(reader, Reader):
                raise IngestError(f"entry point {entry.name!r} of {ENTRY_POINT_GROUP} is not a Reader")
            _REGISTRY.setdefault(reader.name, reader)
    return _REGISTRY


def parse_xml(raw: bytes, where: str) -> tuple[Element, bytes]:
    """Parse XML safely (defusedxml); returns the root and the bytes of the document.

    Bytes after a complete root element (seen in real fixtures) are dropped; anything else that is
    not well-formed, a truncated file in particular, raises.

    Raises
    ------
    IngestError
        If the XML is malformed or truncated.
    """
    try:
        return ElementTree.fromstring(raw), raw
    except ParseError as exc:
        if "junk after document element" in str(exc):
            line, column = exc.position
            lines = raw.split(b"\n")
            document = b"\n".join(lines[: line - 1]) + b"\n" + lines[line - 1][:column]
            try:
                return ElementTree.fromstring(document), document
            except ParseError:
                pass
        raise IngestError(f"{where}: malformed or truncated XML ({exc})") from None


def _parse_json_or_yaml(path: Path, text: str) -> Document:
    stripped = text.lstrip()
    if stripped[:1] in "{[":
        try:
            return Document(path, "json", json.loads(text))
        except json.JSONDecodeError as exc:
            lines = [line for line in text.splitlines() if line.strip()]
            if len(lines) > 1 and all(line.lstrip().startswith("{") for line in lines):
                try:
                    return Document(path, "ndjson", [json.loads(line) for line in lines])
                except json.JSONDecodeError:
                    pass
            try:  # YAML flow style (asf_search fixtures: JSON with trailing commas)
                return Document(path, "yaml", yaml.load(text, Loader=yaml.CSafeLoader))
            except yaml.YAMLError:
                pass
            raise IngestError(f"{path}: malformed or truncated JSON ({exc})") from None
    try:
        data = yaml.load(text, Loader=yaml.CSafeLoader)
    except yaml.YAMLError:
        data = None
    if isinstance(data, (dict, list)):
        return Document(path, "yaml", data)
    return Document(path, "text", [line.strip() for line in text.splitlines() if line.strip()])


def open_document(path: Path) -> Document:
    """Read and parse a file (or recognise a SAFE folder/zip) into a :class:`Document`.

    Raises
    ------
    IngestError
        If the file cannot be read or is malformed XML/JSON.
    """
    if path.is_dir() or path.suffix.lower() == ".zip":
        return Document(path, "safe", path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise IngestError(f"{path}: cannot read ({exc.strerror or exc})") from None
    head = raw[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<"):
        return Document(path, "xml", parse_xml(raw, str(path)))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise IngestError(f"{path}: not a text metadata file (binary content)") from None
    return _parse_json_or_yaml(path, text)


def read_path(path: Path | str, format: str | None = None) -> Iterator[Item | Rejected]:  # noqa: A002
    """Read a metadata file (or SAFE folder/zip) into items.

    Parameters
    ----------
    path
        File or folder to read.
    format
        Reader name (see :func:`readers`); by default the format is recognised from the content.

    Yields
    ------
    Item or Rejected
        An item per good record, a :class:`Rejected` (source, reason) per bad record.

    Raises
    ------
    IngestError
        If the file does not exist, cannot be parsed, or is no known format (one line naming it).
    """
    path = Path(path)
    if not path.exists():
        from strata.catalog.ingest.name import item_from_name
        from strata.catalog.naming import is_product_name

        if is_product_name(str(path)):  # a bare product name given in place of a file
            return iter([item_from_name(str(path))])
        raise IngestError(f"{path}: no such file or folder")
    registry = readers()
    if format is not None and format not in registry:
        raise IngestError(f"unknown metadata format {format!r} (known: {', '.join(registry)})")
    document = open_document(path)
    if format is not None:
        reader = registry[format]
    else:
        found = next((r for r in registry.values() if r.sniff(document)), None)
        if found is None:
            raise IngestError(f"{path}: not a known metadata format ({_describe(document)})")
        reader = found
    return reader.read(document)


def _describe(document: Document) -> str:
    if document.kind == "xml":
        return f"XML root <{document.data[0].tag}>"
    if document.kind in ("json", "yaml"):
        data = document.data
        if isinstance(data, dict):
            keys = ", ".join(list(data)[:5])
            return f"{document.kind.upper()} object with keys {keys}"
        return f"{document.kind.upper()} {type(data).__name__}"
    if document.kind == "text":
        first = document.data[0] if document.data else ""
        return f"text starting {first[:40]!r}, not product names"
    return document.kind
