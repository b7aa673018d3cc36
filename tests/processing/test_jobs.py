"""Durable jobs: the store on SQLite and PostgreSQL, leases, filters, operator commands."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field

from strata.processing.errors import (
    AuthenticationRequiredError,
    JobNotFoundError,
    JobStateError,
    ProcessInputError,
    ProcessNotFoundError,
)
from strata.processing.jobs import JobService, JobStatus, JobStore, create_engine
from strata.processing.process import PlanContext, Process, ProcessMode, Publication, ResolvedProduct
from strata.processing.registry import Registry
from strata.processing.workplan import Step, StepContext, StepState


class MassInputs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    products: list[str] = Field(description="Products.")


def count_products(ctx: StepContext) -> dict[str, Any]:
    return {"count": len(ctx.inputs["products"])}


class Mass(Process):
    """A private-mode process (authenticated users only)."""

    id = "mass"
    title = "Mass"
    description = "Counts products."
    mode = ProcessMode.PRIVATE
    inputs = MassInputs
    outputs = MassInputs

    def plan(self, inputs: BaseModel, context: PlanContext) -> list[Step]:
        return [Step.of(count_products, "count")]

    def publish(self, inputs: BaseModel, record: dict[str, Any]) -> Publication:
        return Publication(values=record["outputs"])


def no_products(product_id: str) -> ResolvedProduct:
    raise LookupError(product_id)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    if request.param == "sqlite":
        engine = create_engine(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    else:
        url = request.getfixturevalue("postgres_url")
        engine = create_engine(url)
        with engine.begin() as conn:
            for table in ("processing_logs", "processing_steps", "processing_jobs"):
                conn.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
    yield engine
    engine.dispose()


@pytest.fixture
def service(engine: sa.Engine, tmp_path: Path) -> JobService:
    registry = Registry.default()
    registry.register(Mass())
    return JobService(JobStore(engine), registry, tmp_path, PlanContext(no_products, (tmp_path,)))


def test_submit_stores_accepted_job_with_pending_steps(service: JobService) -> None:
    job = service.submit("ECHO", {"message": "hi"}, "alice")
    assert job.status == JobStatus.ACCEPTED
    assert job.process == "echo"
    assert job.inputs == {"message": "hi", "duration": 0.0}
    steps = service.store.steps(job.id)
    assert [(s.name, s.state, s.attempts) for s in steps] == [("echo", StepState.PENDING, 0)]
    assert service.store.logs(job.id)[0].endswith("job accepted")


def test_invalid_inputs_name_the_input(service: JobService) -> None:
    with pytest.raises(ProcessInputError, match="'duration'") as info:
        service.submit("echo", {"duration": "soon"}, None)
    assert info.value.input == "duration"
    with pytest.raises(ProcessInputError, match="'colour'"):
        service.submit("echo", {"colour": "red"}, None)
    with pytest.raises(ProcessInputError, match="'first_product'.*no product 'X'"):
        service.submit("coherence_s1", {"first_product": "X", "second_product": "Y"}, None)
    with pytest.raises(ProcessNotFoundError):
        service.submit("nope", {}, None)
    assert service.store.find(any_owner=True)[1] == 0


def test_private_process_needs_a_user(service: JobService) -> None:
    with pytest.raises(AuthenticationRequiredError):
        service.submit("mass", {"products": ["a"]}, None)
    assert service.submit("mass", {"products": ["a"]}, "alice").owner == "alice"


def test_list_filters_and_pages(service: JobService) -> None:
    ids = [service.submit("echo", {"message": str(i)}, "alice").id for i in range(5)]
    service.submit("echo", {}, "bob")
    service.submit("mass", {"products": ["p"]}, "alice")
    jobs, total = service.store.find(owner="alice", process=["echo"], limit=2, offset=0)
    assert total == 5 and len(jobs) == 2
    page2, _ = service.store.find(owner="alice", process=["echo"], limit=2, offset=2)
    page3, _ = service.store.find(owner="alice", process=["echo"], limit=2, offset=4)
    assert sorted(j.id for j in jobs + page2 + page3) == sorted(ids)
    assert service.store.find(owner="bob")[1] == 1
    assert service.store.find(any_owner=True)[1] == 7
    assert service.store.find(any_owner=True, status=[JobStatus.SUCCESSFUL])[1] == 0


def test_other_users_jobs_are_not_found(service: JobService) -> None:
    job = service.submit("echo", {}, "alice")
    with pytest.raises(JobNotFoundError):
        service.visible(job.id, "bob")
    with pytest.raises(JobNotFoundError):
        service.dismiss(job.id, "bob")
    assert service.visible(job.id, "root", admin=True).id == job.id
    assert service.store.get(job.id).status == JobStatus.ACCEPTED


def test_leases_are_exclusive_until_they_expire(service: JobService) -> None:
    job = service.submit("echo", {}, None)
    assert service.store.claim("runner-a", 60, 10, set()) == [job.id]
    assert service.store.claim("runner-b", 60, 10, set()) == []
    service.store.update(job.id, lease_until=0.0)  # runner-a died: its lease lapsed
    assert service.store.claim("runner-b", 60, 10, set()) == [job.id]
    assert service.store.get(job.id).runner == "runner-b"


def test_unclaimed_jobs_stop_dismiss_resume_and_retry(service: JobService, tmp_path: Path) -> None:
    job = service.submit("echo", {}, "alice")
    stopped = service.stop(job.id, "alice")
    assert stopped.status == JobStatus.STOPPED
    assert [s.state for s in service.store.steps(job.id)] == [StepState.STOPPED]
    with pytest.raises(JobStateError):
        service.retry(job.id, "alice")
    resumed = service.resume(job.id, "alice")
    assert resumed.status == JobStatus.ACCEPTED
    assert [s.state for s in service.store.steps(job.id)] == [StepState.PENDING]
    service.store.update(job.id, status=JobStatus.FAILED, failure="processor")
    service.store.update_steps(job.id, state=StepState.ERROR.value)
    retried = service.retry(job.id, "alice")
    assert (retried.status, retried.failure) == (JobStatus.ACCEPTED, None)
    service.job_dir(job.id).mkdir(parents=True)
    dismissed = service.dismiss(job.id, "alice")
    assert dismissed.status == JobStatus.DISMISSED
    assert [s.state for s in service.store.steps(job.id)] == [StepState.CANCELLED]
    assert not service.job_dir(job.id).exists()
    with pytest.raises(JobStateError):
        service.resume(job.id, "alice")


def test_resubmit_makes_a_new_job_with_the_same_inputs(service: JobService) -> None:
    job = service.submit("echo", {"message": "again"}, "alice")
    new = service.resubmit(job.id, "alice")
    assert new.id != job.id
    assert (new.inputs, new.resubmitted_from, new.owner) == (job.inputs, job.id, "alice")
