"""The registry of named processes: built-ins plus the ``strata.processes`` entry point group.

A third-party package adds a process by declaring, in its ``pyproject.toml``::

    [project.entry-points."strata.processes"]
    my_process = "my_package.module:MyProcess"

where ``MyProcess`` subclasses :class:`strata.processing.process.Process`.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from importlib.metadata import entry_points

from strata.processing.errors import ProcessNotFoundError
from strata.processing.process import Process

__all__ = ["BUILTIN_PROCESSES", "ENTRY_POINT_GROUP", "Registry"]

ENTRY_POINT_GROUP = "strata.processes"

# process id -> "module:class" of the processes shipped with Strata
BUILTIN_PROCESSES: dict[str, str] = {
    "echo": "strata.processing.processes.echo:Echo",
    "quicklook": "strata.processing.processes.quicklook:Quicklook",
    "coherence_s1": "strata.processing.processes.coherence_s1:CoherenceS1",
    "sbas_timeseries": "strata.processing.processes.sbas:SbasTimeseries",
}


def _load(path: str) -> type[Process]:
    module, _, name = path.partition(":")
    cls = getattr(importlib.import_module(module), name)
    if not (isinstance(cls, type) and issubclass(cls, Process)):
        raise TypeError(f"{path} is not a strata Process subclass")
    return cls


class Registry:
    """Processes by id; identifiers are matched case-insensitively (WPS clients upper-case them)."""

    def __init__(self, processes: list[Process] | None = None) -> None:
        self._processes: dict[str, Process] = {}
        for process in processes or []:
            self.register(process)

    @classmethod
    def default(cls) -> Registry:
        """The built-in processes and every process installed under :data:`ENTRY_POINT_GROUP`."""
        registry = cls([_load(path)() for path in BUILTIN_PROCESSES.values()])
        for entry in entry_points(group=ENTRY_POINT_GROUP):
            if entry.name.lower() not in registry._processes:
                registry.register(_load(entry.value)())
        return registry

    def register(self, process: Process) -> None:
        """Add a process (replacing one with the same id)."""
        self._processes[process.id.lower()] = process

    def get(self, process_id: str) -> Process:
        """The process with this id.

        Raises
        ------
        ProcessNotFoundError
            When no such process is registered.
        """
        try:
            return self._processes[process_id.lower()]
        except KeyError:
            raise ProcessNotFoundError(f"no process {process_id!r}") from None

    def __iter__(self) -> Iterator[Process]:
        return iter(sorted(self._processes.values(), key=lambda p: p.id))

    def __len__(self) -> int:
        return len(self._processes)
