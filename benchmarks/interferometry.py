"""Interferogram + coherence throughput (Mpx/s) and peak memory, chunked (dask) against whole-raster numpy.

A correlated pair of circular Gaussian SLCs (coherence 0.6) is generated block by block with
seeded dask random numbers, then Strata forms the 5 x 20 multilooked interferogram, the 5 x 20
boxcar coherence and the Goldstein-filtered interferogram, as ``strata insar ifg`` does. Each
measurement runs in its own process so that its peak RSS (``ru_maxrss``) is its own:

- ``dask`` at two sizes: peak memory stays nearly flat while the raster grows 4x (bounded by
  ``--chunk`` x threads, not by the raster);
- ``numpy`` (the same kernels on whole in-memory arrays) at the small size: the peer, whose
  memory grows with the raster.

    .venv/bin/python benchmarks/interferometry.py --rows 4096 --cols 8192
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from typing import Any

import dask.array as da
import numpy as np

from strata.insar.interferogram import coherence, goldstein_filter, interferogram

LOOKS = (5, 20)
GAMMA = 0.6


def _pair(rows: int, cols: int, chunk: int) -> tuple[da.Array, da.Array]:
    state = da.random.RandomState(42)
    shape, chunks = (rows, cols), (chunk, chunk)

    def circular() -> da.Array:
        real = state.standard_normal(shape, chunks=chunks).astype(np.float32)
        imag = state.standard_normal(shape, chunks=chunks).astype(np.float32)
        return (real + 1j * imag).astype(np.complex64) * np.float32(np.sqrt(0.5))

    first = circular()
    second = (GAMMA * first + np.sqrt(1 - GAMMA**2) * circular()).astype(np.complex64)
    return first, second


def measure(mode: str, rows: int, cols: int, chunk: int) -> dict[str, Any]:
    """Run one measurement in this process; returns its figures."""
    first, second = _pair(rows, cols, chunk)
    baseline_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if mode == "numpy":
        first, second = first.compute(), second.compute()  # whole rasters in memory, as a script would
    start = time.perf_counter()
    ifg = goldstein_filter(interferogram(first, second, LOOKS))
    coh = coherence(first, second, LOOKS, LOOKS)
    if mode == "dask":
        ifg, coh = da.compute(ifg, coh, scheduler="threads")
    elapsed = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "mode": mode,
        "rows": rows,
        "cols": cols,
        "mpx": rows * cols / 1e6,
        "seconds": elapsed,
        "mpx_per_s": rows * cols / 1e6 / elapsed,
        "peak_rss_mib": peak_mib,
        "work_mib": peak_mib - baseline_mib,
        "mean_coherence": float(np.mean(coh)),
        "output_shape": list(ifg.shape),
    }


def _child(mode: str, rows: int, cols: int, chunk: int) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", mode, "--rows", str(rows), "--cols", str(cols)]
    out = subprocess.run([*command, "--chunk", str(chunk)], capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4096, help="Azimuth lines of the small raster.")
    parser.add_argument("--cols", type=int, default=8192, help="Range samples of the small raster.")
    parser.add_argument("--chunk", type=int, default=2048, help="Side of the dask blocks.")
    parser.add_argument("--child", choices=["dask", "numpy"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.rows, args.cols, args.chunk)))
        return
    runs = [
        _child("numpy", args.rows, args.cols, args.chunk),
        _child("dask", args.rows, args.cols, args.chunk),
        _child("dask", 2 * args.rows, 2 * args.cols, args.chunk),
    ]
    print(f"interferogram + coherence + Goldstein, looks {LOOKS[0]}x{LOOKS[1]}, true coherence {GAMMA}")
    print(
        f"{'mode':6} {'raster':>13} {'Mpx':>7} {'s':>7} {'Mpx/s':>7} "
        f"{'peak RSS MiB':>13} {'over imports':>13}"
    )
    for r in runs:
        print(
            f"{r['mode']:6} {r['rows']:>6}x{r['cols']:<6} {r['mpx']:7.1f} {r['seconds']:7.2f} "
            f"{r['mpx_per_s']:7.2f} {r['peak_rss_mib']:13.0f} {r['work_mib']:13.0f}"
        )
    peer, small, large = runs
    means = ", ".join(f"{r['mean_coherence']:.3f}" for r in runs)
    print(f"mean coherence (true {GAMMA}): {means}")
    print(
        f"dask/numpy throughput ratio at {small['mpx']:.0f} Mpx: {small['mpx_per_s'] / peer['mpx_per_s']:.2f}"
    )
    print(
        f"dask/numpy peak memory ratio at {small['mpx']:.0f} Mpx: "
        f"{small['peak_rss_mib'] / peer['peak_rss_mib']:.2f}"
    )
    print(
        f"dask peak memory, {large['mpx'] / small['mpx']:.0f}x larger raster: "
        f"{large['peak_rss_mib'] / small['peak_rss_mib']:.2f}x "
        f"(over imports: {large['work_mib'] / small['work_mib']:.2f}x)"
    )


if __name__ == "__main__":
    main()
