"""Interferogram + coherence throughput (Mpx/s) and peak memory, chunked (dask) against whole-raster numpy.

A correlated pair of circular Gaussian SLCs (coherence 0.6) is written as complex64 GeoTIFFs
(strip by strip), then Strata reads it and forms the 5 x 20 multilooked interferogram, the 5 x 20
boxcar coherence and the Goldstein-filtered interferogram, as ``strata insar ifg`` does. Timings
include reading the SLCs (from the page cache). Each measurement runs in its own process so that
its peak RSS (``ru_maxrss``) is its own:

- ``dask`` (:func:`read_slc_geotiffs`, ``--chunk`` blocks) at two sizes, the second 4x the area:
  memory follows a row of blocks (the overlaps of the boxcar need the neighbouring blocks), so it
  grows with the raster width and ``--chunk``, not with the area;
- ``numpy`` (the same kernels on whole in-memory arrays) at the small size: the peer, whose
  memory grows with the raster.

    .venv/bin/python benchmarks/interferometry.py --rows 2048 --cols 8192 --chunk 2048
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import rasterio
from rasterio.transform import Affine
from rasterio.windows import Window

from strata.insar.interferogram import coherence, goldstein_filter, interferogram
from strata.insar.io.slc import read_slc_geotiffs

LOOKS = (5, 20)
GAMMA = 0.6


NAMES = ("20230101.tif", "20230113.tif")


def write_pair(folder: Path, rows: int, cols: int, strip: int = 512) -> None:
    """Write a pair of complex64 GeoTIFFs (tiled, uncompressed, coherence GAMMA), strip by strip."""
    rng = np.random.default_rng(42)
    scale = np.float32(np.sqrt(0.5))
    profile = {"driver": "GTiff", "height": rows, "width": cols, "count": 1, "dtype": "complex64"}
    profile.update(crs="EPSG:32631", transform=Affine(2.3, 0.0, 600000.0, 0.0, -14.0, 5800000.0))
    profile.update(tiled=True, blockxsize=512, blockysize=512)
    with (
        rasterio.open(folder / NAMES[0], "w", **profile) as dst_first,
        rasterio.open(folder / NAMES[1], "w", **profile) as dst_second,
    ):
        for start in range(0, rows, strip):
            shape = (min(strip, rows - start), cols)
            noise = rng.standard_normal((4, *shape), dtype=np.float32) * scale
            first = (noise[0] + 1j * noise[1]).astype(np.complex64)
            second = (GAMMA * first + np.sqrt(1 - GAMMA**2) * (noise[2] + 1j * noise[3])).astype(np.complex64)
            window = Window(0, start, cols, shape[0])
            dst_first.write(first, 1, window=window)
            dst_second.write(second, 1, window=window)


def measure(mode: str, folder: Path, rows: int, cols: int, chunk: int) -> dict[str, Any]:
    """Run one measurement in this process; returns its figures."""
    baseline_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    if mode == "numpy":  # whole rasters in memory, as a script would hold them
        first, second = (rasterio.open(folder / name).read(1) for name in NAMES)
    else:  # Strata's lazy GeoTIFF SLC reader, windows of `chunk` pixels
        slc = read_slc_geotiffs(folder, chunks=chunk)["slc"].data
        first, second = slc[0], slc[1]
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


def _child(mode: str, folder: Path, rows: int, cols: int, chunk: int) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", mode, "--folder", str(folder), "--rows", str(rows)]
    command += ["--cols", str(cols), "--chunk", str(chunk)]
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4096, help="Azimuth lines of the small raster.")
    parser.add_argument("--cols", type=int, default=8192, help="Range samples of the small raster.")
    parser.add_argument("--chunk", type=int, default=2048, help="Side of the dask blocks.")
    parser.add_argument("--child", choices=["dask", "numpy"], help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.folder, args.rows, args.cols, args.chunk)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        small, large = Path(tmp) / "small", Path(tmp) / "large"
        small.mkdir()
        large.mkdir()
        write_pair(small, args.rows, args.cols)
        runs = [
            _child("numpy", small, args.rows, args.cols, args.chunk),
            _child("dask", small, args.rows, args.cols, args.chunk),
        ]
        write_pair(large, 2 * args.rows, 2 * args.cols)
        runs.append(_child("dask", large, 2 * args.rows, 2 * args.cols, args.chunk))
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
