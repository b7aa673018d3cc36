"""Run ``stac-api-validator`` with the STAC and GeoJSON schemas served from local copies.

Run with the interpreter of the validator's own environment (``.venv-tools/bin/python``), with
the validator's arguments.  HTTP(S) requests for ``schemas.stacspec.org``, ``stac-extensions.github.io``
and ``geojson.org`` are answered from ``tests/api/stac_schemas`` and pystac's bundled GeoJSON schemas;
any other remote URL fails, so nothing is downloaded.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pystac.validation.jsonschemas as bundled
import requests
from requests.adapters import HTTPAdapter
from requests.models import Response

SCHEMAS = Path(__file__).resolve().parent / "stac_schemas"
GEOJSON = Path(bundled.__file__).resolve().parent / "geojson"
_send = HTTPAdapter.send


def _local(url: str) -> Path | None:
    parts = urlsplit(url)
    if parts.hostname == "geojson.org":
        return GEOJSON / Path(parts.path).name
    if parts.hostname in ("schemas.stacspec.org", "stac-extensions.github.io"):
        return SCHEMAS / parts.hostname / parts.path.lstrip("/")
    return None


def _send_local(
    self: HTTPAdapter, request: requests.PreparedRequest, *args: object, **kwargs: object
) -> Response:
    path = _local(str(request.url))
    if path is None:
        return _send(self, request, *args, **kwargs)  # type: ignore[arg-type]
    response = Response()
    response.url = str(request.url)
    response.request = request
    if path.is_file():
        response.status_code = 200
        response.headers["Content-Type"] = "application/json"
        response.raw = io.BytesIO(path.read_bytes())
    else:
        response.status_code = 404
        response.raw = io.BytesIO(b"{}")
    return response


HTTPAdapter.send = _send_local  # type: ignore[method-assign]

if __name__ == "__main__":
    from stac_api_validator.__main__ import main

    sys.argv[0] = "stac-api-validator"
    main()
