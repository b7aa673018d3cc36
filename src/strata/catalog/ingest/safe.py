"""Sentinel-1 SAFE products: ``manifest.safe``, a ``.SAFE`` folder, or a ``.zip`` of one.

From the manifest: platform, mode, product type and class, polarisations, absolute and relative
orbit, cycle, pass, datatake id, slice number and total, timeliness, IPF version, times and
footprint.  From the annotation XML (``annotation/s1?-*.xml``, read when present): the pass and,
when the manifest is missing (OPERA's lightened zips), the footprint as the hull of the
geolocation grids of all swaths.

The product name comes from the ``.SAFE`` folder or the zip; a lone manifest whose file name is
not the product name gets its name rebuilt from the manifest, with the product unique identifier
computed as ESA does (CRC-16/CCITT-FALSE of the manifest bytes).
"""

from __future__ import annotations

import binascii
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

from shapely import MultiPoint
from shapely.geometry import mapping

from strata.catalog.errors import IngestError, ItemError
from strata.catalog.geometry import parse_gml_coordinates
from strata.catalog.ingest import Document, Reader, Rejected, parse_xml
from strata.catalog.ingest.build import build_item, fields_from_name, merge
from strata.catalog.model import Item
from strata.catalog.sentinel1 import format_name, is_s1_name

__all__ = ["READER", "read_safe"]

_XFDU = "{urn:ccsds:schema:xfdu:1}XFDU"
_SAFE = "{http://www.esa.int/safe/sentinel-1.0}"
_GML = "{http://www.opengis.net/gml}"


def _text(root: Element, path: str) -> str | None:
    node = root.find(path)
    return node.text.strip() if node is not None and node.text else None


def _manifest_fields(root: Element) -> tuple[dict[str, Any], dict[str, Any] | None]:
    if root.tag != _XFDU:
        raise ItemError(f"not a SAFE manifest (root <{root.tag}>)")
    family = _text(root, f".//{_SAFE}platform/{_SAFE}familyName") or ""
    number = _text(root, f".//{_SAFE}platform/{_SAFE}number") or ""
    if family.upper() != "SENTINEL-1":
        raise ItemError(f"SAFE manifest of {family or 'an unknown mission'}, only Sentinel-1 is read")
    info = root.find(".//{*}standAloneProductInformation")
    if info is None:
        raise ItemError("SAFE manifest without standAloneProductInformation")
    pols = tuple(p.text.strip() for p in info.findall("{*}transmitterReceiverPolarisation") if p.text)
    software = root.find(f".//{_SAFE}software")
    props: dict[str, Any] = {
        "s1:product_class": _text(info, "{*}productClass"),
        "s1:product_timeliness": _text(info, "{*}productTimelinessCategory"),
        "s1:total_slices": _text(info, "{*}totalSlices"),
        "s1:instrument_configuration_ID": _text(info, "{*}instrumentConfigurationID"),
        "sat:platform_international_designator": _text(root, f".//{_SAFE}nssdcIdentifier"),
        "sat:anx_datetime": _text(root, ".//{*}orbitProperties/{*}ascendingNodeTime"),
    }
    if software is not None and software.get("name"):
        props["processing:software"] = {software.get("name"): software.get("version")}
    fields: dict[str, Any] = {
        "collection": "sentinel-1",
        "platform": "sentinel-1" + number.lower(),
        "constellation": "sentinel-1",
        "instrument": "c-sar",
        "product_type": _text(info, "{*}productType"),
        "sensor_mode": _text(root, ".//{*}instrumentMode/{*}mode"),
        "polarisations": pols or None,
        "orbit_direction": _text(root, ".//{*}orbitProperties/{*}pass"),
        "absolute_orbit": _text(root, f".//{_SAFE}orbitNumber[@type='start']"),
        "relative_orbit": _text(root, f".//{_SAFE}relativeOrbitNumber[@type='start']"),
        "cycle": _text(root, f".//{_SAFE}cycleNumber"),
        "datatake_id": _text(info, "{*}missionDataTakeID"),
        "slice_number": _text(info, "{*}sliceNumber"),
        "start_datetime": _text(root, f".//{_SAFE}acquisitionPeriod/{_SAFE}startTime"),
        "end_datetime": _text(root, f".//{_SAFE}acquisitionPeriod/{_SAFE}stopTime"),
        "properties": {k: v for k, v in props.items() if v is not None},
    }
    coordinates = _text(root, f".//{_SAFE}footPrint/{_GML}coordinates")
    return fields, parse_gml_coordinates(coordinates) if coordinates else None


def _rebuilt_name(fields: dict[str, Any], manifest: bytes, level: str) -> str:
    """The product name from manifest fields; the CRC is the manifest's CRC-16/CCITT-FALSE."""
    from strata.catalog.model import parse_datetime

    mode = str(fields["sensor_mode"])
    ptype = str(fields["product_type"])
    resolution = ("M" if mode in ("EW", "WV") else "H") if ptype == "GRD" else "_"
    return format_name(
        satellite=str(fields["platform"])[-1].upper(),
        mode=mode,
        product_type=ptype,
        resolution=resolution,
        level=int(level),
        polarisations=tuple(fields["polarisations"]),
        start=parse_datetime(fields["start_datetime"]),
        stop=parse_datetime(fields["end_datetime"]),
        absolute_orbit=int(fields["absolute_orbit"]),
        datatake_id=int(fields["datatake_id"]),
        crc=binascii.crc_hqx(manifest, 0xFFFF),
    )


def _annotation_fields(roots: list[Element]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Pass, times and the hull of the geolocation grids of product annotation files."""
    points: list[tuple[float, float]] = []
    starts, stops = [], []
    direction = None
    for root in roots:
        direction = direction or _text(root, "generalAnnotation/productInformation/pass")
        starts.append(_text(root, "adsHeader/startTime"))
        stops.append(_text(root, "adsHeader/stopTime"))
        for point in root.iterfind("geolocationGrid/geolocationGridPointList/geolocationGridPoint"):
            lat, lon = _text(point, "latitude"), _text(point, "longitude")
            if lat is not None and lon is not None:
                points.append((float(lon), float(lat)))
    fields: dict[str, Any] = {"orbit_direction": direction}
    if starts and all(starts) and all(stops):
        fields["start_datetime"] = min(s for s in starts if s)
        fields["end_datetime"] = max(s for s in stops if s)
    footprint = None
    if len(points) >= 3:
        lons = [p[0] for p in points]
        if max(lons) - min(lons) > 180.0:  # hull across the antimeridian: work in 0..360
            points = [((lon + 360.0) % 360.0, lat) for lon, lat in points]
        hull = MultiPoint(points).convex_hull
        footprint = mapping(hull) if hull.geom_type == "Polygon" else None
    return fields, footprint


def _is_annotation(member: str) -> bool:
    parts = member.replace("\\", "/").split("/")
    return (
        len(parts) >= 2
        and parts[-2] == "annotation"
        and parts[-1].startswith("s1")
        and parts[-1].endswith(".xml")
    )


def _open_product(path: Path) -> tuple[str | None, bytes | None, list[bytes]]:
    """(product name or None, manifest bytes or None, product annotation XMLs) of a folder or zip."""
    if path.is_dir():
        manifest = path / "manifest.safe"
        annotations = sorted((path / "annotation").glob("s1*.xml")) if (path / "annotation").is_dir() else []
        name = path.name if is_s1_name(path.name) else None
        return (
            name,
            manifest.read_bytes() if manifest.is_file() else None,
            [a.read_bytes() for a in annotations],
        )
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.namelist()
            manifests = [m for m in members if m.rsplit("/", 1)[-1] == "manifest.safe"]
            manifest_bytes = archive.read(manifests[0]) if manifests else None
            annotation_bytes = [archive.read(m) for m in sorted(members) if _is_annotation(m)]
    except (zipfile.BadZipFile, OSError) as exc:
        raise IngestError(f"{path}: not a readable zip ({exc})") from None
    tops = {m.split("/", 1)[0] for m in members if "/" in m}
    name = path.name if is_s1_name(path.name) else next((t for t in tops if is_s1_name(t)), None)
    return name, manifest_bytes, annotation_bytes


def read_safe(where: str, name: str | None, manifest: bytes | None, annotations: list[bytes]) -> Item:
    """Build the item of one SAFE product from its manifest and/or annotation files.

    Raises
    ------
    IngestError
        If the product has neither a manifest nor annotation files, or they are not XML.
    ItemError
        If the metadata lacks required fields.
    """
    if manifest is None and not annotations:
        raise IngestError(f"{where}: not a SAFE product (no manifest.safe, no annotation XML)")
    roots = [parse_xml(raw, where)[0] for raw in annotations]
    annotation_fields, annotation_footprint = _annotation_fields(roots) if roots else ({}, None)
    fields: dict[str, Any] = {}
    footprint = None
    if manifest is not None:
        root, manifest = parse_xml(manifest, where)
        fields, footprint = _manifest_fields(root)
        if name is None:
            level = root.get("version", "").split("level-")[-1][:1] or "1"
            name = _rebuilt_name(fields, manifest, level if level.isdigit() else "1")
    if name is None:
        raise ItemError(f"{where}: no manifest and no product name to derive metadata from")
    merged = merge(merge(fields_from_name(name), annotation_fields), fields)
    return build_item(merged, footprint or annotation_footprint)


def _sniff(document: Document) -> bool:
    if document.kind == "safe":
        return True
    if document.kind != "xml":
        return False
    root = document.data[0]
    return bool(root.tag == _XFDU or (root.tag == "product" and root.find("adsHeader") is not None))


def _read(document: Document) -> Iterator[Item | Rejected]:
    path = document.path
    if document.kind == "safe":
        name, manifest, annotations = _open_product(path)
    else:
        root, raw = document.data
        folder = path.parent.name
        name = folder if is_s1_name(folder) else None
        manifest, annotations = (raw, []) if root.tag == _XFDU else (None, [raw])
        if manifest is not None and name is None:
            annotation_dir = path.parent / "annotation"
            if annotation_dir.is_dir():
                annotations = [a.read_bytes() for a in sorted(annotation_dir.glob("s1*.xml"))]
    try:
        yield read_safe(str(path), name, manifest, annotations)
    except ItemError as exc:
        yield Rejected(str(path), str(exc))


READER = Reader(
    name="safe",
    description="Sentinel-1 SAFE manifest, .SAFE folder or zip",
    sniff=_sniff,
    read=_read,
)
