"""Errors of the processing domain (processes, jobs, work plans, executor)."""

from strata.errors import InputError, NotFoundError, StrataError

__all__ = [
    "AuthenticationRequiredError",
    "JobFailedError",
    "JobNotFoundError",
    "JobStateError",
    "PlanError",
    "ProcessInputError",
    "ProcessNotFoundError",
    "ProcessingError",
    "ProcessorError",
    "ResultsNotReadyError",
    "StepStopped",
]


class ProcessingError(StrataError):
    """Base class of processing errors."""


class ProcessNotFoundError(ProcessingError, NotFoundError):
    """No process with this identifier in the registry."""


class JobNotFoundError(ProcessingError, NotFoundError):
    """No job with this id visible to the caller."""


class ResultsNotReadyError(ProcessingError, NotFoundError):
    """The job has no results (yet): it is still running or was dismissed."""


class JobFailedError(ProcessingError):
    """The job failed: it has no results; the message is the job's."""


class ProcessInputError(ProcessingError, InputError):
    """An input of a process is missing or invalid; :attr:`input` names it."""

    def __init__(self, input_name: str, message: str) -> None:
        super().__init__(f"input {input_name!r}: {message}")
        self.input = input_name


class AuthenticationRequiredError(ProcessingError, PermissionError):
    """The process runs in private (mass) mode and needs an authenticated user."""


class JobStateError(ProcessingError):
    """The operation does not apply to the job in its current state (e.g. resume a running job)."""


class PlanError(ProcessingError, ValueError):
    """A work plan is malformed: duplicate step, unknown dependency or a cycle."""


class ProcessorError(ProcessingError):
    """A step's own code failed (as opposed to the infrastructure running it); not retried."""

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.details = details

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        return (type(self), (str(self), self.details))


class StepStopped(ProcessingError):
    """A step noticed that its job was stopped or dismissed and ended early."""
