"""``strata worker``: drive jobs on Dask without the HTTP API (a LocalCluster, a scheduler, PBS or SLURM).

Run the API with ``STRATA_RUN_JOBS=false`` and one or more ``strata worker`` processes against the
same catalog database: each holds leases on the jobs it drives, so a killed worker's jobs resume on
another one after ``STRATA_JOB_LEASE_S``.  ``--cluster pbs|slurm`` submits the Dask workers as batch
jobs through dask-jobqueue; ``--print-job-script`` shows the batch script without submitting.
"""

from __future__ import annotations

import signal
import threading
from typing import Annotated, Literal

import typer
from rich.console import Console

from strata.processing.executor import jobqueue_cluster
from strata.processing.runtime import Processing
from strata.settings import Settings

__all__ = ["app"]

app = typer.Typer(help="Run jobs on Dask: LocalCluster, STRATA_DASK_ADDRESS, or PBS/SLURM batch jobs.")


@app.callback(invoke_without_command=True)
def worker(
    cluster: Annotated[
        Literal["local", "pbs", "slurm"], typer.Option(help="local (or STRATA_DASK_ADDRESS), pbs or slurm.")
    ] = "local",
    jobs: Annotated[int, typer.Option(help="Batch jobs of Dask workers to submit (pbs, slurm).")] = 1,
    cores: Annotated[int, typer.Option(help="Cores per batch job.")] = 4,
    memory: Annotated[str, typer.Option(help="Memory per batch job, e.g. 16GB.")] = "16GB",
    walltime: Annotated[str, typer.Option(help="Wall time per batch job, HH:MM:SS.")] = "01:00:00",
    queue: Annotated[str | None, typer.Option(help="Batch queue (SLURM partition).")] = None,
    account: Annotated[str | None, typer.Option(help="Project account to charge.")] = None,
    print_job_script: Annotated[bool, typer.Option(help="Print the batch script and exit.")] = False,
) -> None:
    """Start a job runner on a Dask cluster and drive jobs until interrupted (Ctrl-C, SIGTERM)."""
    console = Console()
    client = None
    if cluster != "local":
        from distributed import Client

        hpc = jobqueue_cluster(
            cluster, cores=cores, memory=memory, walltime=walltime, queue_name=queue, account=account
        )
        if print_job_script:
            console.print(hpc.job_script(), markup=False, highlight=False)
            hpc.close()
            return
        hpc.scale(jobs=jobs)
        client = Client(hpc, set_as_default=False)
    processing = Processing.start(Settings(), client=client)
    assert processing.client is not None and processing.runner is not None
    console.print(
        f"runner {processing.runner.id} on scheduler {processing.client.scheduler_info()['address']}",
        highlight=False,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        processing.close()
        if client is not None:
            client.close()
