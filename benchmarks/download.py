"""Download throughput: the same product file served by nginx (sendfile) and by Strata.

Creates a file of ``--size-mb`` MiB (seeded random bytes) in a temporary directory, serves it with
nginx (Debian package ``nginx``/``nginx-light``; ``apt-get install nginx`` if missing) started on a
loopback port with a temporary config, and with ``strata serve`` (uvicorn) from a temporary
catalog, downloads it ``--runs`` times from each with curl, checks the SHA-256 of one download of
each, and prints both throughputs (best run) and the Strata/nginx ratio.

    .venv/bin/python benchmarks/download.py --size-mb 1024
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from strata.api.users import engine_for
from strata.catalog.archive import Archive
from strata.catalog.model import Collection, Item
from strata.catalog.store import open_store
from strata.settings import Settings

NGINX_CONF = """
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/nginx-error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    types {{ application/zip zip; }}
    client_body_temp_path {root}/tmp; proxy_temp_path {root}/tmp; fastcgi_temp_path {root}/tmp;
    uwsgi_temp_path {root}/tmp; scgi_temp_path {root}/tmp;
    server {{
        listen 127.0.0.1:{port};
        root {files};
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        probe = subprocess.run(
            ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", url], capture_output=True, text=True
        )
        if probe.stdout.strip() not in ("000", ""):
            return
        time.sleep(0.2)
    raise SystemExit(f"server at {url} did not start")


def throughput(url: str, runs: int, headers: list[str]) -> float:
    """Best of ``runs`` downloads, in MiB/s."""
    best = 0.0
    for _ in range(runs):
        out = subprocess.run(
            ["curl", "-s", "-f", "-o", "/dev/null", "-w", "%{speed_download}", *headers, url],
            check=True,
            capture_output=True,
            text=True,
        )
        best = max(best, float(out.stdout) / 1024**2)
    return best


def sha256_of(url: str, headers: list[str]) -> str:
    curl = subprocess.Popen(["curl", "-s", "-f", *headers, url], stdout=subprocess.PIPE)
    digest = hashlib.sha256()
    assert curl.stdout is not None
    while chunk := curl.stdout.read(4 * 1024 * 1024):
        digest.update(chunk)
    curl.wait()
    return digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        raise SystemExit("nginx is not installed: apt-get install nginx")
    with tempfile.TemporaryDirectory(prefix="strata-dl-") as tmp:
        root = Path(tmp)
        root.chmod(0o755)  # nginx workers run as an unprivileged user when started by root
        files = root / "files"
        files.mkdir()
        (root / "tmp").mkdir()
        product = files / "S1A_IW_SLC__1SDV_20240101T000000_20240101T000027_051900_064500_ABCD.zip"
        rng = np.random.default_rng(0)
        with product.open("wb") as f:
            for _ in range(args.size_mb):
                f.write(rng.bytes(1024 * 1024))
        expected = hashlib.sha256(product.read_bytes()).hexdigest()

        settings = Settings(data_dir=root / "strata", download_quota_bytes=10**15, rate_limit_per_second=1000)
        settings.data_dir.mkdir()
        store = open_store(settings.catalog_url)
        store.put_collection(Collection(id="sentinel-1", title="Sentinel-1", description="benchmark"))
        when = datetime(2024, 1, 1, tzinfo=UTC)
        item = Item(
            id=product.stem,
            collection="sentinel-1",
            geometry={"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]},
            bbox=(0, 0, 1, 1),
            start_datetime=when,
            end_datetime=when,
            size=product.stat().st_size,
        )
        store.upsert([item])
        Archive(settings.data_dir / "archive", engine_for(settings.catalog_url)).put(item, product)

        nginx_port, strata_port = free_port(), free_port()
        (root / "nginx.conf").write_text(NGINX_CONF.format(root=root, port=nginx_port, files=files))
        env = {
            **os.environ,
            "STRATA_DATA_DIR": str(settings.data_dir),
            "STRATA_DOWNLOAD_QUOTA_BYTES": "1000000000000000",
            "STRATA_ANONYMOUS_DOWNLOAD_QUOTA_BYTES": "1000000000000000",
            "STRATA_RUN_JOBS": "false",
        }
        procs = [
            subprocess.Popen([nginx, "-p", str(root), "-c", str(root / "nginx.conf"), "-g", "daemon off;"]),
            subprocess.Popen(
                [sys.executable, "-m", "strata", "serve", "--port", str(strata_port)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            ),
        ]
        try:
            nginx_url = f"http://127.0.0.1:{nginx_port}/{product.name}"
            strata_url = f"http://127.0.0.1:{strata_port}/download/{product.stem}"
            wait_for(nginx_url)
            wait_for(strata_url)
            for url in (nginx_url, strata_url):
                if sha256_of(url, []) != expected:
                    raise SystemExit(f"checksum mismatch from {url}")
            nginx_mib = throughput(nginx_url, args.runs, [])
            strata_mib = throughput(strata_url, args.runs, [])
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(timeout=10)
    print(f"file: {args.size_mb} MiB, best of {args.runs} curl downloads over loopback, SHA-256 verified")
    print(f"nginx  (sendfile): {nginx_mib:8.1f} MiB/s")
    print(f"strata (uvicorn) : {strata_mib:8.1f} MiB/s")
    print(f"ratio strata/nginx: {strata_mib / nginx_mib:.2f} (target >= 0.8)")


if __name__ == "__main__":
    main()
