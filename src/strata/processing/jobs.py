"""Durable jobs: tables in the catalog database (SQLite or PostgreSQL) and the operations on them.

:class:`JobStore` is the persistence (SQLAlchemy Core; three tables ``processing_jobs``,
``processing_steps``, ``processing_logs``).  :class:`JobService` is what adapters call: submit (validate
inputs, plan the steps), dismiss, stop, resume, retry the failed steps, resubmit, wait.  Running jobs
belong to a :class:`~strata.processing.executor.JobRunner` holding a lease; an operation on a running
job is a *request* in the job row that the owning runner carries out (so it works across processes),
while jobs no runner holds are changed directly.

Job status follows OGC API - Processes (``accepted, running, successful, failed, dismissed``) plus
``stopped`` (an operator stop, resumable).  ``failure`` keeps a processor error (the step's own code
failed; not retried) apart from an infrastructure failure (a worker died; retried up to
``max_attempts``).
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from strata.processing.errors import (
    AuthenticationRequiredError,
    JobNotFoundError,
    JobStateError,
)
from strata.processing.process import PlanContext, ProcessMode
from strata.processing.registry import Registry
from strata.processing.workplan import STOP_FILE, Step, StepState, WorkPlan

__all__ = [
    "ACTIVE",
    "FINISHED",
    "Job",
    "JobService",
    "JobStatus",
    "JobStore",
    "StepRow",
    "create_engine",
]


class JobStatus:
    """Job statuses (OGC API - Processes ``statusCode`` values, plus ``stopped``)."""

    ACCEPTED = "accepted"
    RUNNING = "running"
    SUCCESSFUL = "successful"
    FAILED = "failed"
    DISMISSED = "dismissed"
    STOPPED = "stopped"


ACTIVE = (JobStatus.ACCEPTED, JobStatus.RUNNING)
FINISHED = (JobStatus.SUCCESSFUL, JobStatus.FAILED, JobStatus.DISMISSED)

metadata = sa.MetaData()
jobs_table = sa.Table(
    "processing_jobs",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("process", sa.String(100), nullable=False, index=True),
    sa.Column("process_version", sa.String(32), nullable=False),
    sa.Column("owner", sa.String(200), index=True),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("failure", sa.String(16)),
    sa.Column("message", sa.Text, nullable=False, default=""),
    sa.Column("inputs", sa.JSON, nullable=False),
    sa.Column("progress", sa.Integer, nullable=False, default=0),
    sa.Column("attempt", sa.Integer, nullable=False, default=1),
    sa.Column("max_attempts", sa.Integer, nullable=False),
    sa.Column("request", sa.String(16)),
    sa.Column("runner", sa.String(120)),
    sa.Column("lease_until", sa.Float),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("started", sa.DateTime(timezone=True)),
    sa.Column("finished", sa.DateTime(timezone=True)),
    sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
    sa.Column("results", sa.JSON),
    sa.Column("item_id", sa.String(200)),
    sa.Column("resubmitted_from", sa.String(36)),
)
steps_table = sa.Table(
    "processing_steps",
    metadata,
    sa.Column("job_id", sa.String(36), sa.ForeignKey("processing_jobs.id"), primary_key=True),
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("function", sa.String(300), nullable=False),
    sa.Column("depends_on", sa.JSON, nullable=False),
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("record", sa.JSON),
    sa.Column("message", sa.Text, nullable=False, default=""),
)
logs_table = sa.Table(
    "processing_logs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("job_id", sa.String(36), nullable=False, index=True),
    sa.Column("time", sa.DateTime(timezone=True), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
)


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def create_engine(url: str) -> Engine:
    """An engine on the catalog database; SQLite gets WAL and a busy timeout for concurrent writers."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return sa.create_engine(url, pool_size=10, max_overflow=20)


@dataclass(frozen=True, slots=True)
class Job:
    """One row of ``processing_jobs``."""

    id: str
    process: str
    process_version: str
    owner: str | None
    status: str
    failure: str | None
    message: str
    inputs: dict[str, Any]
    progress: int
    attempt: int
    max_attempts: int
    request: str | None
    runner: str | None
    lease_until: float | None
    created: datetime
    started: datetime | None
    finished: datetime | None
    updated: datetime
    results: dict[str, Any] | None
    item_id: str | None
    resubmitted_from: str | None

    @classmethod
    def from_row(cls, row: Any) -> Job:
        """Build from a result row."""
        data = dict(row._mapping)
        for key in ("created", "started", "finished", "updated"):
            data[key] = _aware(data[key])
        return cls(**data)


@dataclass(frozen=True, slots=True)
class StepRow:
    """One row of ``processing_steps``."""

    job_id: str
    name: str
    position: int
    function: str
    depends_on: list[str]
    params: dict[str, Any]
    state: str
    attempts: int
    record: dict[str, Any] | None
    message: str

    @property
    def step(self) -> Step:
        """The work-plan step."""
        return Step(self.name, self.function, tuple(self.depends_on), self.params)


class JobStore:
    """Job, step and log rows in the catalog database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata.create_all(engine)

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    def create(
        self,
        process: str,
        version: str,
        owner: str | None,
        inputs: dict[str, Any],
        steps: Sequence[Step],
        max_attempts: int,
        resubmitted_from: str | None = None,
    ) -> Job:
        """Insert a new accepted job and its pending steps in one transaction."""
        job_id = str(uuid.uuid4())
        now = _now()
        with self._tx() as conn:
            conn.execute(
                jobs_table.insert().values(
                    id=job_id,
                    process=process,
                    process_version=version,
                    owner=owner,
                    status=JobStatus.ACCEPTED,
                    message="accepted",
                    inputs=inputs,
                    progress=0,
                    attempt=1,
                    max_attempts=max_attempts,
                    created=now,
                    updated=now,
                    resubmitted_from=resubmitted_from,
                )
            )
            conn.execute(
                steps_table.insert(),
                [
                    {
                        "job_id": job_id,
                        "name": s.name,
                        "position": i,
                        "function": s.function,
                        "depends_on": list(s.depends_on),
                        "params": s.params,
                        "state": StepState.PENDING.value,
                        "attempts": 0,
                        "message": "",
                    }
                    for i, s in enumerate(steps)
                ],
            )
            conn.execute(logs_table.insert().values(job_id=job_id, time=now, message="job accepted"))
        return self.get(job_id)

    def get(self, job_id: str) -> Job:
        """The job with this id.

        Raises
        ------
        JobNotFoundError
            When no such job exists.
        """
        with self.engine.connect() as conn:
            row = conn.execute(jobs_table.select().where(jobs_table.c.id == job_id)).first()
        if row is None:
            raise JobNotFoundError(f"no job {job_id!r}")
        return Job.from_row(row)

    def find(
        self,
        *,
        owner: str | None = None,
        any_owner: bool = False,
        status: Sequence[str] = (),
        process: Sequence[str] = (),
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[list[Job], int]:
        """Jobs matching the filters, newest first, and the total count of matches."""
        where = []
        if not any_owner:
            where.append(jobs_table.c.owner == owner if owner is not None else jobs_table.c.owner.is_(None))
        if status:
            where.append(jobs_table.c.status.in_(list(status)))
        if process:
            where.append(jobs_table.c.process.in_(list(process)))
        query = jobs_table.select().where(*where).order_by(jobs_table.c.created.desc(), jobs_table.c.id)
        with self.engine.connect() as conn:
            rows = conn.execute(query.limit(limit).offset(offset)).all()
            total = conn.execute(sa.select(sa.func.count()).select_from(jobs_table).where(*where)).scalar()
        return [Job.from_row(r) for r in rows], int(total or 0)

    def steps(self, job_id: str) -> list[StepRow]:
        """The steps of a job in plan order."""
        query = steps_table.select().where(steps_table.c.job_id == job_id).order_by(steps_table.c.position)
        with self.engine.connect() as conn:
            return [StepRow(**dict(r._mapping)) for r in conn.execute(query)]

    def update(self, job_id: str, *, where: dict[str, Any] | None = None, **values: Any) -> bool:
        """Update a job's columns (optionally only when ``where`` columns match); True if it changed."""
        conditions = [jobs_table.c.id == job_id]
        for key, value in (where or {}).items():
            column = jobs_table.c[key]
            if isinstance(value, tuple):
                conditions.append(column.in_(list(value)))
            else:
                conditions.append(column.is_(None) if value is None else column == value)
        with self._tx() as conn:
            result = conn.execute(jobs_table.update().where(*conditions).values(updated=_now(), **values))
        return bool(result.rowcount)

    def update_steps(self, job_id: str, names: Sequence[str] | None = None, **values: Any) -> None:
        """Update steps of a job (all of them when ``names`` is None)."""
        query = steps_table.update().where(steps_table.c.job_id == job_id)
        if names is not None:
            query = query.where(steps_table.c.name.in_(list(names)))
        with self._tx() as conn:
            conn.execute(query.values(**values))

    def start_step(self, job_id: str, name: str) -> None:
        """Mark a step running and count the attempt."""
        with self._tx() as conn:
            conn.execute(
                steps_table.update()
                .where(steps_table.c.job_id == job_id, steps_table.c.name == name)
                .values(state=StepState.RUNNING.value, attempts=steps_table.c.attempts + 1)
            )

    def set_step_states(self, job_id: str, states_from: Sequence[str], state: str) -> None:
        """Move every step of a job in one of ``states_from`` to ``state``."""
        with self._tx() as conn:
            conn.execute(
                steps_table.update()
                .where(steps_table.c.job_id == job_id, steps_table.c.state.in_(list(states_from)))
                .values(state=state)
            )

    def log(self, job_id: str, *messages: str) -> None:
        """Append lines to the job's log."""
        if messages:
            now = _now()
            with self._tx() as conn:
                rows = [{"job_id": job_id, "time": now, "message": m} for m in messages]
                conn.execute(logs_table.insert(), rows)

    def logs(self, job_id: str) -> list[str]:
        """The job's log lines, oldest first."""
        query = logs_table.select().where(logs_table.c.job_id == job_id).order_by(logs_table.c.id)
        with self.engine.connect() as conn:
            return [
                f"{_aware(r.time).strftime('%Y-%m-%dT%H:%M:%S.%fZ')} {r.message}"  # type: ignore[union-attr]
                for r in conn.execute(query)
            ]

    def claim(self, runner: str, lease_s: float, limit: int, exclude: set[str]) -> list[str]:
        """Take the lease of up to ``limit`` active jobs no live runner holds; returns their ids."""
        now = time.time()
        free = sa.or_(jobs_table.c.runner.is_(None), jobs_table.c.lease_until < now)
        query = (
            sa.select(jobs_table.c.id)
            .where(jobs_table.c.status.in_(ACTIVE), free)
            .order_by(jobs_table.c.created)
            .limit(limit + len(exclude))
        )
        claimed: list[str] = []
        with self._tx() as conn:
            for (job_id,) in conn.execute(query).all():
                if job_id in exclude or len(claimed) >= limit:
                    continue
                result = conn.execute(
                    jobs_table.update()
                    .where(jobs_table.c.id == job_id, free)
                    .values(runner=runner, lease_until=now + lease_s)
                )
                if result.rowcount:
                    claimed.append(job_id)
        return claimed

    def renew(self, runner: str, lease_s: float) -> None:
        """Extend the leases of every active job this runner holds."""
        with self._tx() as conn:
            conn.execute(
                jobs_table.update()
                .where(jobs_table.c.runner == runner, jobs_table.c.status.in_(ACTIVE))
                .values(lease_until=time.time() + lease_s)
            )

    def release(self, runner: str) -> None:
        """Give up the leases of every active job this runner holds."""
        with self._tx() as conn:
            conn.execute(
                jobs_table.update()
                .where(jobs_table.c.runner == runner, jobs_table.c.status.in_(ACTIVE))
                .values(runner=None, lease_until=None)
            )

    def requests(self, runner: str) -> list[tuple[str, str]]:
        """``(job id, request)`` of the jobs this runner holds that have a pending stop or dismiss."""
        query = sa.select(jobs_table.c.id, jobs_table.c.request).where(
            jobs_table.c.runner == runner, jobs_table.c.request.is_not(None)
        )
        with self.engine.connect() as conn:
            return [(r[0], r[1]) for r in conn.execute(query)]


class JobService:
    """The job operations the API, the CLI and the runner share."""

    def __init__(
        self,
        store: JobStore,
        registry: Registry,
        data_dir: Path,
        context: PlanContext,
        max_attempts: int = 3,
    ) -> None:
        self.store = store
        self.registry = registry
        self.data_dir = data_dir
        self.context = context
        self.max_attempts = max_attempts
        self.listeners: list[Callable[[], None]] = []
        """Called after a change a runner should see at once (new job, request)."""

    def job_dir(self, job_id: str) -> Path:
        """Working folder of a job (checkpoints, stop flag)."""
        return self.data_dir / "jobs" / job_id

    def _notify(self) -> None:
        for listener in self.listeners:
            listener()

    def visible(self, job_id: str, owner: str | None, admin: bool = False) -> Job:
        """The job if ``owner`` may see it (its owner, or an administrator).

        Raises
        ------
        JobNotFoundError
            When the job does not exist or belongs to someone else (indistinguishable on purpose).
        """
        job = self.store.get(job_id)
        if not admin and job.owner != owner:
            raise JobNotFoundError(f"no job {job_id!r}")
        return job

    def submit(self, process_id: str, inputs: dict[str, Any], owner: str | None) -> Job:
        """Validate inputs, plan the steps and store an accepted job.

        Raises
        ------
        ProcessNotFoundError
            Unknown process.
        AuthenticationRequiredError
            A private-mode process submitted anonymously.
        ProcessInputError
            An invalid input (named in the message).
        """
        process = self.registry.get(process_id)
        if process.mode == ProcessMode.PRIVATE and owner is None:
            raise AuthenticationRequiredError(f"process {process.id!r} runs in private mode: log in first")
        model = process.validate_inputs(inputs)
        plan = WorkPlan(process.plan(model, self.context))
        job = self.store.create(
            process.id,
            process.version,
            owner,
            model.model_dump(mode="json"),
            plan.steps,
            self.max_attempts,
        )
        self._notify()
        return job

    def resubmit(self, job_id: str, owner: str | None, admin: bool = False) -> Job:
        """A new job with the same process and inputs (planned afresh)."""
        old = self.visible(job_id, owner, admin)
        job = self.submit(old.process, old.inputs, old.owner)
        self.store.update(job.id, resubmitted_from=old.id)
        self.store.log(old.id, f"resubmitted as job {job.id}")
        return self.store.get(job.id)

    def _request(self, job: Job, request: str) -> None:
        """Ask the runner holding ``job`` to stop or dismiss it, or do it here when none holds it."""
        self.store.update(job.id, request=request)
        unheld = {"runner": None}
        if self.store.update(job.id, where={"status": JobStatus.ACCEPTED, **unheld}, runner="(operator)"):
            self.finish_request(job.id, request)
        else:
            self._notify()

    def finish_request(self, job_id: str, request: str) -> None:
        """Record a carried-out stop or dismiss (the tasks are already stopped)."""
        if request == "dismiss":
            self.store.set_step_states(
                job_id, [StepState.PENDING, StepState.RUNNING, StepState.STOPPED], StepState.CANCELLED
            )
            self.store.update(
                job_id,
                status=JobStatus.DISMISSED,
                message="dismissed",
                request=None,
                runner=None,
                finished=_now(),
            )
            shutil.rmtree(self.job_dir(job_id), ignore_errors=True)
            self.store.log(job_id, "dismissed: tasks stopped, working files removed")
        else:
            self.store.set_step_states(job_id, [StepState.PENDING, StepState.RUNNING], StepState.STOPPED)
            self.store.update(
                job_id,
                status=JobStatus.STOPPED,
                message="stopped; resume to continue",
                request=None,
                runner=None,
            )
            self.store.log(job_id, "stopped by operator")

    def dismiss(self, job_id: str, owner: str | None, admin: bool = False, timeout: float = 30.0) -> Job:
        """Dismiss a job: stop its tasks on the cluster, then remove its working files.

        Waits up to ``timeout`` seconds for the runner to confirm, then returns the job.
        """
        job = self.visible(job_id, owner, admin)
        if job.status == JobStatus.DISMISSED:
            return job
        if job.status in ACTIVE:
            self._request(job, "dismiss")
            return self.wait(job_id, timeout, until=(JobStatus.DISMISSED,))
        self.finish_request(job_id, "dismiss")
        return self.store.get(job_id)

    def stop(self, job_id: str, owner: str | None, admin: bool = False, timeout: float = 30.0) -> Job:
        """Stop an active job, keeping its checkpoints; :meth:`resume` continues it."""
        job = self.visible(job_id, owner, admin)
        if job.status not in ACTIVE:
            raise JobStateError(f"job {job_id} is {job.status}: only accepted or running jobs stop")
        self._request(job, "stop")
        return self.wait(job_id, timeout, until=(JobStatus.STOPPED, *FINISHED))

    def resume(self, job_id: str, owner: str | None, admin: bool = False) -> Job:
        """Continue a stopped job from its first unfinished step."""
        job = self.visible(job_id, owner, admin)
        if job.status != JobStatus.STOPPED:
            raise JobStateError(f"job {job_id} is {job.status}: only stopped jobs resume")
        return self._restart(job, [StepState.STOPPED], "resumed")

    def retry(self, job_id: str, owner: str | None, admin: bool = False) -> Job:
        """Run the failed (and not yet run) steps of a failed job again."""
        job = self.visible(job_id, owner, admin)
        if job.status != JobStatus.FAILED:
            raise JobStateError(f"job {job_id} is {job.status}: only failed jobs retry")
        return self._restart(job, [StepState.ERROR, StepState.STOPPED, StepState.CANCELLED], "retrying")

    def _restart(self, job: Job, states: list[str], message: str) -> Job:
        (self.job_dir(job.id) / STOP_FILE).unlink(missing_ok=True)
        self.store.set_step_states(job.id, states, StepState.PENDING)
        self.store.update(
            job.id,
            status=JobStatus.ACCEPTED,
            failure=None,
            message=message,
            attempt=1,
            runner=None,
            request=None,
            finished=None,
        )
        self.store.log(job.id, message)
        self._notify()
        return self.store.get(job.id)

    def wait(self, job_id: str, timeout: float, until: Sequence[str] = FINISHED) -> Job:
        """Poll the job until its status is in ``until`` or ``timeout`` seconds passed; return it."""
        deadline = time.monotonic() + timeout
        delay = 0.005
        while True:
            job = self.store.get(job_id)
            if job.status in until or time.monotonic() >= deadline:
                return job
            time.sleep(delay)
            delay = min(delay * 2, 0.2)
