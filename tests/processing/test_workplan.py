"""Work plans: DAG validation, atomic checkpoints, runs trace, stop flag, processor errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from strata.processing.errors import PlanError, ProcessorError, StepStopped
from strata.processing.workplan import (
    STOP_FILE,
    Step,
    StepContext,
    StepState,
    WorkPlan,
    read_checkpoint,
    run_step,
)


def write_numbers(ctx: StepContext) -> dict[str, Any]:
    count = int(ctx.params["count"])
    (ctx.workdir / "numbers.txt").write_text("\n".join(str(i) for i in range(count)))
    ctx.progress(1.0)
    return {"numbers": "numbers.txt", "count": count}


def add_upstream(ctx: StepContext) -> dict[str, Any]:
    lines = ctx.upstream_path("first", "numbers").read_text().splitlines()
    return {"total": sum(int(v) for v in lines)}


def divide_by_zero(ctx: StepContext) -> dict[str, Any]:
    return {"value": 1 / int(ctx.params["zero"])}


def test_plan_orders_steps_topologically() -> None:
    plan = WorkPlan(
        [
            Step.of(add_upstream, "sum", depends_on=["first"]),
            Step.of(write_numbers, "first", count=3),
        ]
    )
    assert [s.name for s in plan.steps] == ["first", "sum"]
    states = {"first": StepState.PENDING, "sum": StepState.PENDING}
    assert [s.name for s in plan.ready(states)] == ["first"]
    states["first"] = StepState.DONE
    assert [s.name for s in plan.ready(states)] == ["sum"]
    assert plan.last.name == "sum"


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ([], "at least one"),
        ([Step.of(write_numbers, "a"), Step.of(write_numbers, "a")], "duplicate"),
        ([Step.of(add_upstream, "b", depends_on=["missing"])], "unknown"),
        (
            [Step.of(add_upstream, "a", depends_on=["b"]), Step.of(add_upstream, "b", depends_on=["a"])],
            "cycle",
        ),
    ],
)
def test_malformed_plans_are_refused(steps: list[Step], message: str) -> None:
    with pytest.raises(PlanError, match=message):
        WorkPlan(steps)


def test_step_round_trips_and_resolves() -> None:
    step = Step.of(write_numbers, "first", count=4)
    again = Step.from_dict(json.loads(json.dumps(step.to_dict())))
    assert again == step
    assert again.resolve() is write_numbers


def test_checkpointed_step_never_runs_twice(tmp_path: Path) -> None:
    step = Step.of(write_numbers, "first", count=5).to_dict()
    record = run_step("job", str(tmp_path), step, {}, {}, 1)
    assert Path(record["dir"], "numbers.txt").read_text().splitlines()[-1] == "4"
    assert read_checkpoint(tmp_path, "first") == record
    again = run_step("job", str(tmp_path), step, {}, {}, 2)
    assert again == record
    runs = (tmp_path / "steps" / "first.runs").read_text().splitlines()
    assert len(runs) == 1
    # no temporary folder is left behind
    assert sorted(p.name for p in (tmp_path / "steps").iterdir() if p.is_dir()) == ["first"]


def test_downstream_step_reads_upstream_outputs(tmp_path: Path) -> None:
    first = run_step("job", str(tmp_path), Step.of(write_numbers, "first", count=5).to_dict(), {}, {}, 1)
    step = Step.of(add_upstream, "sum", depends_on=["first"]).to_dict()
    record = run_step("job", str(tmp_path), step, {}, {"first": first}, 1)
    assert record["outputs"] == {"total": 10}


def test_failing_step_raises_processor_error_without_checkpoint(tmp_path: Path) -> None:
    step = Step.of(divide_by_zero, "broken", zero=0).to_dict()
    with pytest.raises(ProcessorError, match="ZeroDivisionError") as info:
        run_step("job", str(tmp_path), step, {}, {}, 1)
    assert "Traceback" in info.value.details
    assert read_checkpoint(tmp_path, "broken") is None
    assert not [p for p in (tmp_path / "steps").iterdir() if p.is_dir()]


def test_stop_flag_ends_a_step_at_its_next_progress_report(tmp_path: Path) -> None:
    (tmp_path / STOP_FILE).touch()
    with pytest.raises(StepStopped):
        run_step("job", str(tmp_path), Step.of(write_numbers, "first", count=2).to_dict(), {}, {}, 1)
    assert read_checkpoint(tmp_path, "first") is None
