"""Benchmark of the NSBAS inversion: Strata against MintPy 1.6.4 on the same simulated stack.

The realistic case: 100 dates, 4-nearest network (~390 interferograms), coherence-derived weights
and ~10 % missing values, the case in which MintPy solves pixel by pixel. MintPy runs in its own
virtual environment (``benchmarks/.work/mintpy-venv``, created with ``pip install mintpy==1.6.4``
when missing) in a subprocess; it is a peer in this benchmark only, never a Strata dependency.

Usage::

    .venv/bin/python benchmarks/inversion.py             # Strata vs MintPy, pixels/s, ratio, RMSEs
    .venv/bin/python benchmarks/inversion.py --large     # 3000x3000 x 375-ifg stack on disk, peak RSS

This file is also the MintPy worker (``--mintpy-worker IN OUT``), run by MintPy's interpreter; in
that mode it imports only numpy and mintpy.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
MINTPY_VENV = WORK / "mintpy-venv"
MINTPY_VERSION = "1.6.4"


# ------------------------------------------------------------------------------------------------
# MintPy side (runs inside MintPy's venv)
# ------------------------------------------------------------------------------------------------
def mintpy_worker(in_path: Path, out_path: Path) -> None:
    """Invert the pixels of ``in_path`` the way MintPy's ifgram_inversion does with weights and NaNs.

    ``ifgram_inversion.run_ifgram_inversion_patch`` with ``weightFunc=var`` converts coherence to
    weights with ``coherence2weight`` and then calls ``estimate_timeseries`` pixel by pixel; this
    reproduces that loop on in-memory arrays (no HDF5 I/O is timed).
    """
    from mintpy.ifgram_inversion import estimate_timeseries
    from mintpy.objects import ifgramStack
    from mintpy.simulation import decorrelation as decor

    data = np.load(in_path)
    phase = data["phase"].astype(np.float32)  # (n_ifg, n_pix), radians, NaN missing
    coherence = data["coherence"].astype(np.float32)
    date12 = [str(s) for s in data["date12"]]
    looks = int(data["looks"])
    a_matrix, b_matrix = ifgramStack.get_design_matrix4timeseries(date12)
    dates = sorted({d for pair in date12 for d in pair.split("_")})
    tbase = (
        np.array(
            [
                (
                    np.datetime64(f"{d[:4]}-{d[4:6]}-{d[6:]}")
                    - np.datetime64(f"{dates[0][:4]}-{dates[0][4:6]}-{dates[0][6:]}")
                ).astype(int)
                for d in dates
            ]
        )
        / 365.25
    )
    tbase_diff = np.diff(tbase).reshape(-1, 1).astype(np.float32)

    start = time.perf_counter()
    weight_sqrt = np.sqrt(
        decor.coherence2weight(coherence.copy(), "var", L=looks, epsilon=5e-2, print_msg=False)
    )
    n_pix = phase.shape[1]
    ts = np.zeros((len(dates), n_pix), np.float32)
    quality = np.zeros(n_pix, np.float32)
    for idx in range(n_pix):
        tsi, quali, _ = estimate_timeseries(
            A=a_matrix,
            B=b_matrix,
            y=phase[:, idx],
            tbase_diff=tbase_diff,
            weight_sqrt=weight_sqrt[:, idx],
            min_norm_velocity=True,
            min_redundancy=1.0,
            inv_quality_name="temporalCoherence",
            print_msg=False,
        )
        ts[:, idx] = tsi.ravel()
        quality[idx] = quali
    seconds = time.perf_counter() - start
    np.savez(out_path, timeseries=ts, temporal_coherence=quality, seconds=seconds)


# ------------------------------------------------------------------------------------------------
# Strata side
# ------------------------------------------------------------------------------------------------
def ensure_mintpy() -> Path:
    """Python of MintPy's own venv, created with ``pip install mintpy==1.6.4`` when missing."""
    python = MINTPY_VENV / "bin" / "python"
    check = [str(python), "-c", f"import mintpy, sys; sys.exit(mintpy.__version__ != '{MINTPY_VERSION}')"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    print(f"installing mintpy=={MINTPY_VERSION} into {MINTPY_VENV} (once) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(MINTPY_VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", f"mintpy=={MINTPY_VERSION}"], check=True)
    return python


def realistic_stack(
    rows: int, cols: int, n_dates: int, n_nearest: int, missing: float, seed: int = 0
) -> object:
    """The simulated benchmark stack: 12-day dates, n-nearest network, random missing values."""
    import datetime as dt

    from strata.insar.simulate import (
        AcquisitionConfig,
        GridConfig,
        MissingDataConfig,
        NetworkConfig,
        SimulationConfig,
        simulate_stack,
    )

    start = dt.date(2019, 1, 1)
    return simulate_stack(
        SimulationConfig(
            seed=seed,
            grid=GridConfig(rows=rows, cols=cols, chunk_size=min(512, max(rows, cols))),
            acquisitions=AcquisitionConfig(start=start, end=start + dt.timedelta(days=12 * (n_dates - 1))),
            network=NetworkConfig(n_nearest=n_nearest),
            missing=MissingDataConfig(random_share=missing),
        )
    )


def velocity_rmse(velocity: np.ndarray, truth: np.ndarray) -> float:
    """RMSE after removing the median difference (both estimates share the same reference choice)."""
    error = (velocity - truth)[np.isfinite(velocity)]
    error = error - np.median(error)
    return float(np.sqrt(np.mean(error**2)))


def compare(args: argparse.Namespace) -> None:
    """Strata's NSBAS against MintPy's weighted per-pixel inversion on the same stack."""
    from strata.insar._blocks import grid_windows, map_blocks
    from strata.insar.inversion import coherence_to_weight, invert_nsbas
    from strata.insar.network import pair_indices
    from strata.insar.stack import phase_to_mm
    from strata.insar.velocity import fit_velocity

    python = ensure_mintpy()
    sim = realistic_stack(args.size, args.size, args.dates, args.nearest, args.missing)
    stack = sim.stack.compute()
    index = pair_indices(stack["reference"].values, stack["secondary"].values)
    phase = stack["unwrapped_phase"].values
    coherence = stack["coherence"].values
    row, col = sim.reference_pixel
    window = phase[:, max(row - 2, 0) : row + 3, max(col - 2, 0) : col + 3].reshape(phase.shape[0], -1)
    phase = phase - np.nanmedian(window, axis=1)[:, None, None]
    missing = float(np.isnan(phase).mean())
    n_pair, rows, cols = phase.shape
    truth = sim.velocity.values - sim.velocity.values[row, col]
    print(
        f"stack: {index.dates.size} dates, {n_pair} interferograms, {rows}x{cols} pixels, "
        f"{100 * missing:.1f} % missing values, weights from coherence"
    )

    # As the workflow runs it: blocks of pixels as Dask tasks on every core, one kernel thread each.
    cores = os.cpu_count() or 1
    windows = grid_windows((rows, cols), args.block)
    series = np.empty((index.dates.size, rows, cols), dtype=np.float32)
    imposed = np.empty((index.dates.size, rows, cols), dtype=bool)

    def block(window: tuple[slice, slice]) -> None:
        part = (slice(None), *window)
        weight = coherence_to_weight(coherence[part])
        result = invert_nsbas(phase[part], index.pairs, index.dates, weight=weight, threads=1)
        series[part] = phase_to_mm(result.timeseries, stack.attrs["wavelength"])
        imposed[part] = result.model_share > 0.5

    timings = []
    for _ in range(args.repeat + 1):  # the first run compiles and warms up; then the median of the others
        start = time.perf_counter()
        map_blocks(block, windows, workers=cores, scheduler=None, report=lambda _: None)
        timings.append(time.perf_counter() - start)
    strata_seconds = float(np.median(timings[1:]))
    strata_rate = rows * cols / strata_seconds
    strata_velocity = fit_velocity(
        series, index.dates, timeseries_std=np.where(imposed, np.inf, 1.0)
    ).velocity

    rng = np.random.default_rng(1)
    sample = np.sort(rng.choice(rows * cols, size=min(args.mintpy_pixels, rows * cols), replace=False))
    labels = stack["pair"].values.astype(str)
    WORK.mkdir(parents=True, exist_ok=True)
    np.savez(
        WORK / "mintpy_in.npz",
        phase=phase.reshape(n_pair, -1)[:, sample],
        coherence=coherence.reshape(n_pair, -1)[:, sample],
        date12=labels,
        looks=20,
    )
    subprocess.run(
        [str(python), __file__, "--mintpy-worker", str(WORK / "mintpy_in.npz"), str(WORK / "mintpy_out.npz")],
        check=True,
    )
    out = np.load(WORK / "mintpy_out.npz")
    mintpy_rate = sample.size / float(out["seconds"])
    mintpy_series = phase_to_mm(out["timeseries"], stack.attrs["wavelength"])
    mintpy_velocity = fit_velocity(mintpy_series, index.dates).velocity

    flat_truth = truth.reshape(-1)[sample]
    print(
        f"Strata NSBAS ({cores} cores, blocks) : {strata_rate:12,.0f} pixels/s "
        f"({rows * cols} pixels in {strata_seconds:.2f} s)"
    )
    print(
        f"MintPy {MINTPY_VERSION} weighted, per pixel : {mintpy_rate:12,.0f} pixels/s "
        f"({sample.size} pixels in {float(out['seconds']):.2f} s)"
    )
    print(f"ratio Strata / MintPy          : {strata_rate / mintpy_rate:12,.1f} x")
    print(
        f"velocity RMSE vs truth, same {sample.size} pixels: Strata "
        f"{velocity_rmse(strata_velocity.reshape(-1)[sample], flat_truth):.3f} mm/yr, MintPy "
        f"{velocity_rmse(mintpy_velocity, flat_truth):.3f} mm/yr"
    )
    print(f"velocity RMSE vs truth, all pixels (Strata): {velocity_rmse(strata_velocity, truth):.3f} mm/yr")


# ------------------------------------------------------------------------------------------------
# Large stack on disk: bounded memory
# ------------------------------------------------------------------------------------------------
LARGE_SIDE = 3000
LARGE_DATES = 96  # 4-nearest network: 4 x 96 - 10 = 374 interferograms


def large(args: argparse.Namespace) -> None:
    """Write a 3000 x 3000 x ~375-interferogram stack (MintPy layout) and run the workflow on it."""
    import resource

    from strata.insar.io import write_stack_as

    folder = WORK / "large"
    stack_file = folder / "inputs" / "ifgramStack.h5"
    if not stack_file.exists():
        sim = realistic_stack(LARGE_SIDE, LARGE_SIDE, LARGE_DATES, 4, args.missing)
        print(
            f"writing {sim.stack.sizes['pair']} interferograms of {LARGE_SIDE}x{LARGE_SIDE} to {stack_file}",
            flush=True,
        )
        start = time.perf_counter()
        write_stack_as(sim.stack, folder, "mintpy")
        print(
            f"written in {time.perf_counter() - start:.0f} s, {stack_file.stat().st_size / 1e9:.1f} GB",
            flush=True,
        )
    command = [sys.executable, __file__, "--large-run", str(folder)] + (["--closure"] if args.closure else [])
    start = time.perf_counter()
    subprocess.run(command, check=True)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2
    print(f"workflow wall time {time.perf_counter() - start:.0f} s, peak RSS {peak:.2f} GB (limit 4 GB)")


def large_run(folder: Path, closure: bool) -> None:
    """The workflow on the large stack (run in a child process so that its peak RSS is its own)."""
    from strata.insar.config import InsarConfig
    from strata.insar.workflow import run

    config = InsarConfig.from_dict(
        {
            "input": {"path": str(folder), "format": "mintpy"},
            "output": str(folder / "out"),
            "closure": {"enabled": closure},
            "chunking": {"chunk_size": 256},
        }
    )
    marks = iter(np.linspace(0.05, 1.0, 20))
    mark = next(marks)

    def report(step: str, done: float) -> None:
        nonlocal mark
        while done >= mark:
            print(f"  {100 * mark:3.0f} % ({step})", flush=True)
            mark = next(marks, 2.0)

    result = run(config, progress=report)
    summary = result.summary
    print(
        json.dumps(
            {
                "steps_seconds": summary["steps_seconds"],
                "inversion": {
                    k: summary["inversion"][k] for k in ("pixels", "pixels_per_second", "block_seconds")
                },
            },
            indent=1,
        )
    )


# ------------------------------------------------------------------------------------------------
# Real stack: Mexico City, Strata and MintPy on the same interferograms
# ------------------------------------------------------------------------------------------------
MEXICO = HERE.parent.parent / "shared" / "data" / "pyrate_cropA"
MEXICO_REFERENCE = (-99.176, 19.373)  # western hills, firm ground


def mexico(_: argparse.Namespace) -> None:
    """The PyRate/GAMMA Mexico City stack through Strata's workflow and MintPy's inversion + velocity."""
    import shutil

    import h5py

    from strata.insar.config import InsarConfig
    from strata.insar.io import open_stack, write_stack_as
    from strata.insar.workflow import run

    python = ensure_mintpy()
    folder = WORK / "mexico"
    shutil.rmtree(folder, ignore_errors=True)
    config = InsarConfig.from_dict(
        {
            "input": {"path": str(MEXICO), "format": "gamma"},
            "output": str(folder / "strata"),
            "closure": {"enabled": False},
            "corrections": {"reference_lonlat": MEXICO_REFERENCE},
        }
    )
    start = time.perf_counter()
    result = run(config)
    strata_seconds = time.perf_counter() - start
    row, col = result.summary["reference"]["row"], result.summary["reference"]["col"]
    stack_file = write_stack_as(open_stack(MEXICO, "gamma"), folder / "mintpy", "mintpy")
    with h5py.File(stack_file, "r+") as f:
        f.attrs.update(REF_Y=str(row), REF_X=str(col), NCORRLOOKS="20")
    bin_dir = python.parent
    start = time.perf_counter()
    for command in (
        [str(bin_dir / "ifgram_inversion.py"), str(stack_file), "-w", "var"],
        [str(bin_dir / "timeseries2velocity.py"), "timeseries.h5", "-o", "velocity.h5"],
    ):
        subprocess.run([str(python), *command], cwd=stack_file.parent, check=True, capture_output=True)
    mintpy_seconds = time.perf_counter() - start
    with h5py.File(stack_file.parent / "velocity.h5") as f:
        mintpy_velocity = f["velocity"][...] * 1000.0
    with h5py.File(stack_file.parent / "temporalCoherence.h5") as f:
        mintpy_coherence = f["temporalCoherence"][...]
    import rasterio

    with rasterio.open(result.paths["velocity"]) as src:
        strata_velocity = src.read(1)
    both = np.isfinite(strata_velocity) & (mintpy_coherence >= 0.7)
    difference = strata_velocity[both] - mintpy_velocity[both]
    print(f"Mexico City (PyRate cropA, 13 dates, 30 interferograms), reference row {row} col {col}")
    for name, values, seconds in (
        ("Strata", strata_velocity[both], strata_seconds),
        ("MintPy", mintpy_velocity[both], mintpy_seconds),
    ):
        p1, p5, p50, p95 = np.percentile(values, [1, 5, 50, 95])
        print(
            f"{name:7s} velocity mm/yr: p1 {p1:7.1f}  p5 {p5:7.1f}  median {p50:7.1f}  p95 {p95:6.1f}"
            f"   ({seconds:.1f} s end to end)"
        )
    print(
        f"Strata - MintPy over {both.sum()} pixels coherent in both: median {np.median(difference):.1f}, "
        f"RMS {np.sqrt(np.mean(difference**2)):.1f} mm/yr, correlation "
        f"{np.corrcoef(strata_velocity[both], mintpy_velocity[both])[0, 1]:.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=200, help="grid side of the comparison stack")
    parser.add_argument("--dates", type=int, default=100)
    parser.add_argument("--nearest", type=int, default=4, help="n-nearest network (4: ~390 interferograms)")
    parser.add_argument("--missing", type=float, default=0.1, help="share of missing values")
    parser.add_argument("--mintpy-pixels", type=int, default=2000, help="pixels MintPy inverts (it is slow)")
    parser.add_argument("--block", type=int, default=100, help="side of Strata's pixel blocks")
    parser.add_argument("--repeat", type=int, default=3, help="timed Strata runs (median reported)")
    parser.add_argument("--large", action="store_true", help="3000x3000 x ~375-ifg stack on disk, peak RSS")
    parser.add_argument("--closure", action="store_true", help="--large: also correct unwrapping errors")
    parser.add_argument("--mexico", action="store_true", help="real Mexico City stack: Strata vs MintPy maps")
    parser.add_argument("--mintpy-worker", nargs=2, type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--large-run", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mintpy_worker:
        mintpy_worker(*args.mintpy_worker)
    elif args.large_run:
        large_run(args.large_run, args.closure)
    elif args.large:
        large(args)
    elif args.mexico:
        mexico(args)
    else:
        compare(args)


if __name__ == "__main__":
    main()
