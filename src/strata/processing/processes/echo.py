"""``echo``: returns its message after an optional delay (deployment check, scheduling benchmark)."""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from strata.processing.process import PlanContext, Process, Publication
from strata.processing.workplan import Step, StepContext

__all__ = ["Echo", "EchoInputs", "EchoOutputs", "echo_step"]


class EchoInputs(BaseModel):
    """Inputs of ``echo``."""

    model_config = ConfigDict(extra="forbid")

    message: str = Field(default="hello", max_length=10_000, description="Text returned as the output.")
    duration: float = Field(
        default=0.0, ge=0.0, le=3600.0, description="Seconds the step runs (reporting progress) before."
    )


class EchoOutputs(BaseModel):
    """Outputs of ``echo``."""

    message: str = Field(description="The input message.")


def echo_step(ctx: StepContext) -> dict[str, Any]:
    """Wait ``duration`` seconds in 0.1 s ticks, reporting progress, then return the message."""
    duration = float(ctx.inputs["duration"])
    start = time.monotonic()
    while (elapsed := time.monotonic() - start) < duration:
        ctx.progress(elapsed / duration, "waiting")
        time.sleep(min(0.1, duration - elapsed))
    return {"message": ctx.inputs["message"]}


class Echo(Process):
    """Returns its input message; a one-step job that measures the platform's own overhead."""

    id = "echo"
    title = "Echo"
    description = "Returns the input message after an optional delay; checks a deployment end to end."
    inputs = EchoInputs
    outputs = EchoOutputs
    keywords = ("diagnostic",)

    def plan(self, inputs: BaseModel, context: PlanContext) -> list[Step]:
        """One step."""
        return [Step.of(echo_step, "echo")]

    def publish(self, inputs: BaseModel, record: dict[str, Any]) -> Publication:
        """The message as a literal output; no product."""
        return Publication(values={"message": record["outputs"]["message"]})
