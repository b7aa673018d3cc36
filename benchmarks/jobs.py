"""Scheduling overhead of Strata's durable jobs: N trivial jobs through the HTTP API.

Starts the API server (uvicorn subprocess, SQLite catalog database, Dask LocalCluster of 2 worker
processes), submits N ``echo`` jobs (``Prefer: respond-async``) from a few client threads, waits for
all of them, then reads the job database for:

- scheduling overhead per job at saturation: the interval between successive job completions
  (p50/p95; its mean is 1 / throughput), i.e. what the platform spends per job (HTTP submission,
  database, lease, Dask round trip, checkpoint, publication), the echo step itself taking ~0 s;
- time in the runner per job: started → finished minus the step's own run time (includes waiting
  for a free Dask worker, since the runner submits up to 1,000 jobs at once);
- latency per job: created → finished, including the queue (p50/p95);
- capacity: jobs finished per hour over the whole run, against MUSCATE's goal of 2,000 products
  a day (the ratio must exceed 100).

Run: ``.venv/bin/python benchmarks/jobs.py [--jobs 10000] [--clients 4]``.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import sqlalchemy as sa

from strata.processing.jobs import jobs_table, steps_table
from strata.settings import Settings

MUSCATE_PER_DAY = 2_000


def _serve(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    env = {
        **os.environ,
        "STRATA_DATA_DIR": str(data_dir),
        "STRATA_DASK_WORKERS": "2",
        "STRATA_RATE_LIMIT_PER_SECOND": "1000000",
        "STRATA_RATE_LIMIT_BURST": "1000000",
    }
    command = [sys.executable, "-m", "uvicorn", "--factory", "strata.api.app:create_app", "--port", str(port)]
    server = subprocess.Popen([*command, "--log-level", "warning"], env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{url}/processes").status_code == 200:
                return server, url
        except httpx.TransportError:
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("the server did not start") from None
        time.sleep(0.2)


def _submit(url: str, count: int) -> None:
    with httpx.Client(base_url=url, timeout=60, headers={"Prefer": "respond-async"}) as client:
        for i in range(count):
            response = client.post("/processes/echo/execution", json={"inputs": {"message": str(i)}})
            response.raise_for_status()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        data_dir = Path(tmp)
        server, url = _serve(data_dir)
        try:
            start = time.perf_counter()
            share = [args.jobs // args.clients + (i < args.jobs % args.clients) for i in range(args.clients)]
            with ThreadPoolExecutor(args.clients) as pool:
                list(pool.map(lambda n: _submit(url, n), share))
            submitted = time.perf_counter() - start
            with httpx.Client(base_url=url, timeout=60) as client:
                while True:
                    done = client.get("/jobs", params={"status": ["successful", "failed"], "limit": 1}).json()
                    if done["numberMatched"] >= args.jobs:
                        break
                    time.sleep(0.5)
            wall = time.perf_counter() - start
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
        engine = sa.create_engine(Settings(data_dir=data_dir).catalog_url)
        query = sa.select(
            jobs_table.c.status,
            jobs_table.c.created,
            jobs_table.c.started,
            jobs_table.c.finished,
            steps_table.c.record,
        ).join(steps_table, steps_table.c.job_id == jobs_table.c.id)
        with engine.connect() as conn:
            rows = conn.execute(query).all()
        engine.dispose()
        failed = sum(r.status != "successful" for r in rows)
        completions = np.diff(np.sort(np.array([r.finished.timestamp() for r in rows])))
        held = np.array([(r.finished - r.started).total_seconds() - r.record["seconds"] for r in rows])
        latency = np.array([(r.finished - r.created).total_seconds() for r in rows])
        first = min(r.created for r in rows)
        last = max(r.finished for r in rows)
        per_hour = len(rows) / (last - first).total_seconds() * 3600
        per_day = per_hour * 24
        print(
            f"jobs: {len(rows)} ({failed} failed), submitted in {submitted:.1f} s, "
            f"all finished in {wall:.1f} s"
        )
        print(
            "scheduling overhead per job (interval between completions): "
            f"p50 {np.percentile(completions, 50) * 1000:.1f} ms, "
            f"p95 {np.percentile(completions, 95) * 1000:.1f} ms, mean {completions.mean() * 1000:.1f} ms"
        )
        print(
            f"time in the runner per job (minus step time): p50 {np.percentile(held, 50):.2f} s, "
            f"p95 {np.percentile(held, 95):.2f} s"
        )
        print(
            f"latency per job (created -> finished, with queue): p50 {np.percentile(latency, 50):.2f} s, "
            f"p95 {np.percentile(latency, 95):.2f} s"
        )
        print(f"capacity: {per_hour:,.0f} jobs/hour = {per_day:,.0f} jobs/day")
        print(
            f"MUSCATE goal: {MUSCATE_PER_DAY:,} products/day -> ratio {per_day / MUSCATE_PER_DAY:,.0f}x "
            f"(required >= 100x: {'yes' if per_day >= 100 * MUSCATE_PER_DAY else 'NO'})"
        )


if __name__ == "__main__":
    main()
