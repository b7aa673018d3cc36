"""Work plans: a job is a DAG of steps with checkpointed outputs.

A :class:`Step` names a module-level function ``fn(ctx: StepContext) -> dict`` by its import path,
so a Dask worker (or a PBS node) runs it without the process registry.  :func:`run_step` is the task
a worker executes: it runs the function in a fresh temporary folder and then *atomically* renames the
folder, holding the outputs and the step record ``step.json``, to ``<job>/steps/<name>``.  A step whose
checkpoint exists is never run again: resume continues from the first unfinished step, and a task that
Dask re-runs after a worker died returns the existing record.

Every start of a step function appends one line to ``<job>/steps/<name>.runs`` (pid, attempt), the
observable trace the fault-tolerance tests count.  Steps report progress through
:meth:`StepContext.progress`, which also ends the step (:class:`StepStopped`) once the job is stopped
or dismissed: the runner writes ``<job>/STOP``.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from strata.processing.errors import PlanError, ProcessorError, StepStopped

__all__ = [
    "RECORD_FILE",
    "STOP_FILE",
    "Step",
    "StepContext",
    "StepState",
    "WorkPlan",
    "read_checkpoint",
    "read_progress",
    "run_step",
    "running_jobs",
    "write_json_atomic",
]

RECORD_FILE = "step.json"
STOP_FILE = "STOP"

# job ids whose steps execute in this process right now (queried by the runner to force a stop)
_RUNNING: dict[str, int] = {}
_RUNNING_LOCK = threading.Lock()


class StepState(StrEnum):
    """State of one step of a work plan."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    ERROR = "error"
    STOPPED = "stopped"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Step:
    """One node of a work plan.

    Attributes
    ----------
    name
        Unique name within the plan (``invert-3``); names the checkpoint folder.
    function
        Import path ``module:qualname`` of ``fn(ctx: StepContext) -> dict`` (JSON-able outputs).
    depends_on
        Names of the steps whose outputs this step reads (``ctx.upstream``).
    params
        JSON-able parameters of this step (a chunk's rows, a resolved file path...).
    """

    name: str
    function: str
    depends_on: tuple[str, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        function: Callable[[StepContext], dict[str, Any]],
        name: str | None = None,
        depends_on: Iterable[str] = (),
        **params: Any,
    ) -> Step:
        """Build a step from a module-level function (its name defaults to the function's)."""
        path = f"{function.__module__}:{function.__qualname__}"
        return cls(name or function.__name__, path, tuple(depends_on), dict(params))

    def resolve(self) -> Callable[[StepContext], dict[str, Any]]:
        """Import the step function."""
        module, _, qualname = self.function.partition(":")
        target: Any = importlib.import_module(module)
        for part in qualname.split("."):
            target = getattr(target, part)
        return target  # type: ignore[no-any-return]

    def to_dict(self) -> dict[str, Any]:
        """Plain form (stored in the job database, shipped to workers)."""
        return {
            "name": self.name,
            "function": self.function,
            "depends_on": list(self.depends_on),
            "params": self.params,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Step:
        """Inverse of :meth:`to_dict`."""
        return cls(data["name"], data["function"], tuple(data["depends_on"]), dict(data["params"]))


class WorkPlan:
    """A validated DAG of steps, in a topological order."""

    def __init__(self, steps: Iterable[Step]) -> None:
        steps = list(steps)
        names = [s.name for s in steps]
        if not steps:
            raise PlanError("a work plan needs at least one step")
        if len(set(names)) != len(names):
            raise PlanError(f"duplicate step names in {names}")
        by_name = {s.name: s for s in steps}
        for step in steps:
            unknown = set(step.depends_on) - by_name.keys()
            if unknown:
                raise PlanError(f"step {step.name!r} depends on unknown steps {sorted(unknown)}")
        ordered: list[Step] = []
        done: set[str] = set()
        while len(ordered) < len(steps):
            ready = [s for s in steps if s.name not in done and set(s.depends_on) <= done]
            if not ready:
                raise PlanError(f"cycle among steps {sorted(by_name.keys() - done)}")
            ordered.extend(ready)
            done.update(s.name for s in ready)
        self.steps: tuple[Step, ...] = tuple(ordered)

    def __getitem__(self, name: str) -> Step:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)

    def ready(self, states: Mapping[str, StepState]) -> list[Step]:
        """Pending steps whose dependencies are all done."""
        return [
            s
            for s in self.steps
            if states[s.name] == StepState.PENDING and all(states[d] == StepState.DONE for d in s.depends_on)
        ]

    @property
    def last(self) -> Step:
        """The final step (its record carries the process outputs)."""
        return self.steps[-1]


@dataclass
class StepContext:
    """What a step function receives on the worker."""

    job_id: str
    step: str
    params: dict[str, Any]
    """The step's own parameters."""
    inputs: dict[str, Any]
    """The job's validated inputs (JSON form)."""
    workdir: Path
    """Empty folder for this step's output files; it becomes the checkpoint when the step ends."""
    upstream: dict[str, dict[str, Any]]
    """Records of the dependencies: ``{"outputs": {...}, "dir": "<checkpoint folder>"}``."""
    job_dir: Path
    _log: list[str] = field(default_factory=list)

    def progress(self, fraction: float, message: str = "") -> None:
        """Report progress (0..1) of this step; raises :class:`StepStopped` once the job is stopped."""
        if (self.job_dir / STOP_FILE).exists():
            raise StepStopped(f"step {self.step} of job {self.job_id} stopped")
        write_json_atomic(
            self.job_dir / "steps" / f"{self.step}.progress",
            {"fraction": min(max(fraction, 0.0), 1.0), "message": message, "time": time.time()},
        )

    def log(self, message: str) -> None:
        """Add a line to the job's log (stored with the step record)."""
        self._log.append(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} [{self.step}] {message}")

    def upstream_path(self, step: str, output: str) -> Path:
        """Absolute path of a file output of a dependency."""
        record = self.upstream[step]
        return Path(record["dir"]) / str(record["outputs"][output])


def write_json_atomic(path: Path, content: Any) -> None:
    """Write JSON to ``path`` through a temporary file and a rename (readers never see half a file)."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    tmp.write_text(json.dumps(content), encoding="utf-8")
    tmp.replace(path)


def read_checkpoint(job_dir: Path, step: str) -> dict[str, Any] | None:
    """The record of a finished step, or ``None`` when it has no checkpoint."""
    path = job_dir / "steps" / step / RECORD_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]
    except FileNotFoundError:
        return None


def read_progress(job_dir: Path, step: str) -> float | None:
    """Last progress fraction a running step reported, or ``None``."""
    try:
        content = json.loads((job_dir / "steps" / f"{step}.progress").read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None
    return float(content["fraction"])


def running_jobs() -> list[str]:
    """Job ids with a step executing in this process (called on workers through ``Client.run``)."""
    with _RUNNING_LOCK:
        return [job for job, count in _RUNNING.items() if count > 0]


def _mark_running(job_id: str, delta: int) -> None:
    with _RUNNING_LOCK:
        _RUNNING[job_id] = _RUNNING.get(job_id, 0) + delta
        if _RUNNING[job_id] <= 0:
            del _RUNNING[job_id]


def _infrastructure(exc: BaseException) -> bool:
    """Whether an exception comes from the cluster (lost worker, closed comm), not the step's code."""
    return type(exc).__module__.startswith("distributed.") or isinstance(exc, ConnectionError)


def run_step(
    job_id: str,
    job_dir: str,
    step: dict[str, Any],
    inputs: dict[str, Any],
    upstream: dict[str, dict[str, Any]],
    attempt: int,
) -> dict[str, Any]:
    """Run one step and checkpoint it atomically (the task a Dask worker executes).

    Parameters
    ----------
    job_id, job_dir
        The job and its working folder (on a file system the workers share).
    step
        :meth:`Step.to_dict` of the step to run.
    inputs
        The job's validated inputs.
    upstream
        Records of the step's dependencies.
    attempt
        Attempt number, written to the runs trace.

    Returns
    -------
    dict
        The step record: ``outputs``, ``params``, ``dir`` (checkpoint folder), ``log``, ``pid``,
        ``host``, ``seconds``.

    Raises
    ------
    StepStopped
        The job was stopped or dismissed while the step ran.
    ProcessorError
        The step function raised; the message names the exception, ``details`` holds the traceback.
    """
    spec = Step.from_dict(step)
    root = Path(job_dir)
    steps_dir = root / "steps"
    final = steps_dir / spec.name
    existing = read_checkpoint(root, spec.name)
    if existing is not None:
        return existing
    steps_dir.mkdir(parents=True, exist_ok=True)
    with (steps_dir / f"{spec.name}.runs").open("a", encoding="utf-8") as runs:
        runs.write(f"{os.getpid()} {attempt} {time.time():.3f}\n")
    workdir = steps_dir / f".{spec.name}.tmp-{uuid.uuid4().hex}"
    workdir.mkdir()
    ctx = StepContext(job_id, spec.name, spec.params, inputs, workdir, upstream, root)
    started = time.perf_counter()
    _mark_running(job_id, 1)
    try:
        outputs = spec.resolve()(ctx)
    except StepStopped:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    except Exception as exc:
        shutil.rmtree(workdir, ignore_errors=True)
        if _infrastructure(exc):
            raise  # the cluster failed the step's own tasks (a worker died): the runner retries
        raise ProcessorError(
            f"step {spec.name} failed: {type(exc).__name__}: {exc}", traceback.format_exc()
        ) from None
    finally:
        _mark_running(job_id, -1)
    record = {
        "outputs": outputs,
        "params": spec.params,
        "dir": str(final),
        "log": ctx._log,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "seconds": time.perf_counter() - started,
    }
    write_json_atomic(workdir / RECORD_FILE, record)
    try:
        workdir.rename(final)
    except OSError:
        # another execution of the same step checkpointed first; keep its (identical) record
        shutil.rmtree(workdir, ignore_errors=True)
        winner = read_checkpoint(root, spec.name)
        if winner is None:
            raise
        return winner
    return record
