"""Executor on Dask distributed: the cluster, and the runner that drives work plans on it.

:func:`connect` gives a Dask client: on ``settings.dask_address`` when set, else on a LocalCluster of
worker *processes* (a killed worker is restarted by its nanny).  :func:`jobqueue_cluster` builds the
PBS or SLURM cluster of dask-jobqueue for HPC (``strata worker --cluster pbs``).

:class:`JobRunner` takes leases on active jobs in the database and submits each ready step as one
Dask task (:func:`~strata.processing.workplan.run_step`); fan-out steps (SBAS spatial chunks) are
independent steps, so they run in parallel on the cluster.  A task lost with its worker is an
*infrastructure* failure: the step is submitted again, up to the job's ``max_attempts``.  A step that
raises is a *processor* error: the job fails at once.  Stop and dismiss write the job's ``STOP`` file
(steps end at their next progress report), cancel the tasks, and restart any worker still running one
after ``stop_grace_s``: the tasks really stop.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import dask
from distributed import Client, Future, LocalCluster

from strata.processing.errors import ProcessorError, StepStopped
from strata.processing.jobs import Job, JobService, JobStatus
from strata.processing.process import Publication
from strata.processing.workplan import (
    STOP_FILE,
    StepState,
    WorkPlan,
    read_checkpoint,
    read_progress,
    run_step,
    running_jobs,
)
from strata.settings import Settings

__all__ = ["JobRunner", "Publisher", "connect", "jobqueue_cluster"]

log = logging.getLogger(__name__)

Publisher = Callable[[Job, Publication], tuple[str | None, dict[str, Any]]]
"""Makes a finished job's publication a catalog product: returns (item id, OGC results)."""


def connect(settings: Settings) -> tuple[Client, LocalCluster | None]:
    """A Dask client on ``settings.dask_address``, or on a new LocalCluster of worker processes.

    The LocalCluster's scheduler does not retry tasks of dead workers itself
    (``allowed-failures: 0``): the job runner does, counting attempts in the job database.
    """
    if settings.dask_address:
        return Client(settings.dask_address, set_as_default=False), None
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = LocalCluster(
            n_workers=settings.dask_workers or min(4, os.cpu_count() or 1),
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},  # health routes on a free port
            silence_logs=logging.ERROR,
        )
    return Client(cluster, set_as_default=False), cluster


def jobqueue_cluster(
    kind: Literal["pbs", "slurm"],
    *,
    cores: int,
    memory: str,
    walltime: str,
    queue_name: str | None = None,
    account: str | None = None,
    job_extra_directives: list[str] | None = None,
) -> Any:
    """A dask-jobqueue cluster submitting Dask workers as PBS or SLURM batch jobs.

    Parameters
    ----------
    kind
        ``pbs`` (PBS Pro / Torque) or ``slurm``.
    cores, memory, walltime
        Resources of one batch job (``memory`` like ``"16GB"``, ``walltime`` like ``"01:00:00"``).
    queue_name, account
        Batch queue (partition) and project account.
    job_extra_directives
        Extra ``#PBS``/``#SBATCH`` lines.

    Returns
    -------
    dask_jobqueue.JobQueueCluster
        Scale it with ``cluster.scale(jobs=n)``; ``cluster.job_script()`` shows the batch script.
    """
    from dask_jobqueue.pbs import PBSCluster
    from dask_jobqueue.slurm import SLURMCluster

    cls = PBSCluster if kind == "pbs" else SLURMCluster
    return cls(
        cores=cores,
        memory=memory,
        walltime=walltime,
        queue=queue_name,
        account=account,
        job_extra_directives=job_extra_directives or [],
        processes=1,
        scheduler_options={"dashboard_address": "127.0.0.1:0"},
    )


@dataclass
class _ActiveJob:
    job: Job
    plan: WorkPlan
    states: dict[str, StepState]
    records: dict[str, dict[str, Any]]
    futures: dict[str, Future[Any]] = field(default_factory=dict)
    attempt: int = 1
    progress: int = 0


class JobRunner:
    """Drives the work plans of the jobs it holds a lease on, on a Dask cluster.

    Parameters
    ----------
    service
        The job service (database, registry, data folder).
    client
        Dask client of the cluster running the steps.
    publisher
        Makes the outputs of a finished job a catalog product.
    lease_s
        Lease on a job; another runner takes over a job whose lease expired (this one died).
    stop_grace_s
        Seconds a stopping step may take to notice; then its worker is restarted.
    poll_s
        Interval of the database checks for new jobs and requests from other processes.
    max_jobs
        Jobs this runner drives at once.
    """

    def __init__(
        self,
        service: JobService,
        client: Client,
        publisher: Publisher,
        *,
        lease_s: float = 30.0,
        stop_grace_s: float = 2.0,
        poll_s: float = 0.5,
        max_jobs: int = 1000,
    ) -> None:
        self.service = service
        self.store = service.store
        self.client = client
        self.publisher = publisher
        self.lease_s = lease_s
        self.stop_grace_s = stop_grace_s
        self.poll_s = poll_s
        self.max_jobs = max_jobs
        self.id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._active: dict[str, _ActiveJob] = {}
        self._done: queue.SimpleQueue[tuple[str, str, Future[Any]]] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._check_db = threading.Event()
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        service.listeners.append(self.wake)

    def wake(self) -> None:
        """Look at the database now (a job was submitted or a request made)."""
        self._check_db.set()
        self._wake.set()

    def start(self) -> None:
        """Run the loop in a daemon thread."""
        self._thread = threading.Thread(target=self._loop, name=f"strata-runner-{self.id}", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop driving jobs and release their leases: the next runner resumes them at once."""
        self._closing.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
        self.store.release(self.id)
        if self.wake in self.service.listeners:
            self.service.listeners.remove(self.wake)

    # -- loop ---------------------------------------------------------------------------------

    def _loop(self) -> None:
        last_db = last_renew = 0.0
        while not self._closing.is_set():
            self._wake.wait(self.poll_s)
            self._wake.clear()
            try:
                while not self._done.empty():
                    self._on_done(*self._done.get())
                now = time.monotonic()
                if self._check_db.is_set() or now - last_db >= self.poll_s:
                    self._check_db.clear()
                    last_db = now
                    for job_id, request in self.store.requests(self.id):
                        self._carry_out(job_id, request)
                    if len(self._active) < self.max_jobs:
                        held = set(self._active)
                        room = self.max_jobs - len(held)
                        for job_id in self.store.claim(self.id, self.lease_s, room, held):
                            self._activate(job_id)
                if now - last_renew >= min(1.0, self.lease_s / 3):
                    last_renew = now
                    self.store.renew(self.id, self.lease_s)
                    self._report_progress()
            except Exception:
                # the database or the cluster hiccuped: keep the loop alive, retry next turn
                log.exception("job runner %s: loop error", self.id)
                time.sleep(self.poll_s)

    def _activate(self, job_id: str) -> None:
        job = self.store.get(job_id)
        if job.request:
            self._carry_out(job_id, job.request)
            return
        rows = self.store.steps(job_id)
        plan = WorkPlan(r.step for r in rows)
        job_dir = self.service.job_dir(job_id)
        states: dict[str, StepState] = {}
        records: dict[str, dict[str, Any]] = {}
        recovered = []
        for row in rows:
            state = StepState(row.state)
            record = row.record
            if state in (StepState.PENDING, StepState.RUNNING):
                # a worker may have checkpointed the step after the previous runner died
                record = read_checkpoint(job_dir, row.name)
                state = StepState.DONE if record is not None else StepState.PENDING
                if record is not None:
                    recovered.append(row.name)
                    self.store.update_steps(job_id, [row.name], state=state.value, record=record)
            states[row.name] = state
            if state == StepState.DONE and record is not None:
                records[row.name] = record
        self.store.set_step_states(job_id, [StepState.RUNNING], StepState.PENDING)
        first = job.started is None
        self.store.update(
            job_id, status=JobStatus.RUNNING, message="running", started=job.started or _utcnow()
        )
        self.store.log(
            job_id,
            f"runner {self.id} {'started' if first else 'resumed'} the job"
            + (f"; checkpoints found for {', '.join(recovered)}" if recovered else ""),
        )
        job_dir.mkdir(parents=True, exist_ok=True)
        active = _ActiveJob(self.store.get(job_id), plan, states, records, attempt=job.attempt)
        self._active[job_id] = active
        self._advance(active)

    def _advance(self, active: _ActiveJob) -> None:
        """Submit the ready steps; complete the job when every step is done."""
        job_id = active.job.id
        if all(s == StepState.DONE for s in active.states.values()):
            self._complete(active)
            return
        job_dir = str(self.service.job_dir(job_id))
        for step in active.plan.ready(active.states):
            upstream = {d: active.records[d] for d in step.depends_on}
            future = self.client.submit(
                run_step,
                job_id,
                job_dir,
                step.to_dict(),
                active.job.inputs,
                upstream,
                active.attempt,
                key=f"strata-{step.name}-{job_id}-{uuid.uuid4().hex[:6]}",
                pure=False,
            )
            active.states[step.name] = StepState.RUNNING
            active.futures[step.name] = future
            self.store.start_step(job_id, step.name)
            name = step.name
            future.add_done_callback(lambda f, j=job_id, n=name: self._queue_done(j, n, f))

    def _queue_done(self, job_id: str, name: str, future: Future[Any]) -> None:
        self._done.put((job_id, name, future))
        self._wake.set()

    def _on_done(self, job_id: str, name: str, future: Future[Any]) -> None:
        active = self._active.get(job_id)
        if active is None or active.futures.get(name) is not future:
            return  # a cancelled or superseded task
        del active.futures[name]
        if future.status == "cancelled":
            return
        exc = future.exception() if future.status == "error" else None
        if exc is None:
            record = future.result()
            active.states[name] = StepState.DONE
            active.records[name] = record
            self.store.update_steps(job_id, [name], state=StepState.DONE.value, record=record, message="")
            self.store.log(job_id, *record.get("log", []), f"step {name} done in {record['seconds']:.2f} s")
            self._set_progress(active)
            self._advance(active)
        elif isinstance(exc, StepStopped):
            return  # the stop request that caused it is being carried out
        elif isinstance(exc, ProcessorError):
            self.store.update_steps(job_id, [name], state=StepState.ERROR.value, message=str(exc))
            self.store.log(job_id, str(exc), exc.details)
            self._fail(active, "processor", str(exc))
        else:
            self._infrastructure_failure(active, name, exc)

    def _infrastructure_failure(self, active: _ActiveJob, name: str, exc: BaseException) -> None:
        job_id = active.job.id
        reason = f"{type(exc).__name__}: {exc}"
        if active.attempt >= active.job.max_attempts:
            self.store.update_steps(job_id, [name], state=StepState.ERROR.value, message=reason)
            self._fail(active, "infrastructure", f"step {name}: {reason} (after {active.attempt} attempts)")
            return
        active.attempt += 1
        self.store.update(job_id, attempt=active.attempt)
        self.store.log(
            job_id,
            f"infrastructure failure in step {name} ({reason}); "
            f"attempt {active.attempt}/{active.job.max_attempts}",
        )
        active.states[name] = StepState.PENDING
        self._advance(active)

    def _fail(self, active: _ActiveJob, failure: str, message: str) -> None:
        job_id = active.job.id
        others = list(active.futures.values())
        if others:
            self.client.cancel(others, force=True)
        self.store.set_step_states(job_id, [StepState.RUNNING], StepState.STOPPED)
        self.store.update(
            job_id, status=JobStatus.FAILED, failure=failure, message=message, runner=None, finished=_utcnow()
        )
        self.store.log(job_id, f"job failed ({failure}): {message}")
        del self._active[job_id]

    def _complete(self, active: _ActiveJob) -> None:
        job_id = active.job.id
        process = self.service.registry.get(active.job.process)
        record = active.records[active.plan.last.name]
        try:
            publication = process.publish(process.inputs.model_validate(active.job.inputs), record)
            item_id, results = self.publisher(active.job, publication)
        except Exception as exc:
            log.exception("job %s: publication failed", job_id)
            reason = f"publishing the outputs failed: {type(exc).__name__}: {exc}"
            self._fail(active, "infrastructure", reason)
            return
        self.store.update(
            job_id,
            status=JobStatus.SUCCESSFUL,
            message="successful",
            progress=100,
            results=results,
            item_id=item_id,
            runner=None,
            finished=_utcnow(),
        )
        self.store.log(job_id, "job successful" + (f"; product {item_id}" if item_id else ""))
        del self._active[job_id]

    # -- stop and dismiss ---------------------------------------------------------------------

    def _carry_out(self, job_id: str, request: str) -> None:
        """Stop the job's tasks on the cluster, then record the stop or dismiss."""
        active = self._active.pop(job_id, None)
        job_dir = self.service.job_dir(job_id)
        job_dir.mkdir(parents=True, exist_ok=True)
        (job_dir / STOP_FILE).touch()
        if active is not None and active.futures:
            futures = list(active.futures.values())
            keys = {f.key for f in futures}
            workers = [w for w, ks in self.client.processing().items() if keys & set(ks)]
            self.client.cancel(futures, force=True)
            self._stop_on_workers(job_id, workers)
        self.service.finish_request(job_id, request)
        if request != "dismiss":
            (job_dir / STOP_FILE).unlink(missing_ok=True)

    def _stop_on_workers(self, job_id: str, workers: list[str]) -> None:
        """Wait for steps of ``job_id`` to end on ``workers``; restart the workers still running one."""
        deadline = time.monotonic() + self.stop_grace_s
        while workers:
            running = self.client.run(running_jobs, workers=workers)
            workers = [w for w, jobs in running.items() if job_id in jobs]
            if not workers:
                return
            if time.monotonic() >= deadline:
                self.store.log(job_id, f"restarting workers {workers}: a step ignored the stop request")
                self.client.restart_workers(workers, timeout=120, raise_for_error=False)
                return
            time.sleep(0.05)

    # -- progress -----------------------------------------------------------------------------

    def _set_progress(self, active: _ActiveJob) -> None:
        job_dir = self.service.job_dir(active.job.id)
        total = 0.0
        for name, state in active.states.items():
            if state == StepState.DONE:
                total += 1
            elif state == StepState.RUNNING:
                total += read_progress(job_dir, name) or 0.0
        percent = min(int(100 * total / len(active.states)), 99)
        if percent != active.progress:
            active.progress = percent
            self.store.update(active.job.id, progress=percent)

    def _report_progress(self) -> None:
        for active in list(self._active.values()):
            if active.futures:
                self._set_progress(active)


def _utcnow() -> datetime:
    return datetime.now(UTC)
