"""Python client of Strata's processing API (OGC API - Processes plus the operator commands).

>>> from strata.client import Client                                            # doctest: +SKIP
>>> with Client("http://localhost:8000", token="strata_...") as client:         # doctest: +SKIP
...     job = client.submit("coherence_s1", {"first_product": a, "second_product": b})
...     client.wait(job)                     # progress bar on the terminal
...     paths = client.download(job, "out")  # the product files of the results
"""

from __future__ import annotations

import time
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from strata.errors import InputError, NotFoundError, StrataError
from strata.processing.errors import JobFailedError

__all__ = ["Client", "ClientError"]

FINISHED = ("successful", "failed", "dismissed")


class ClientError(StrataError):
    """The server answered an error; the message carries its status and detail."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class _BadRequest(ClientError, InputError):
    pass


class _NotFound(ClientError, NotFoundError):
    pass


class Client:
    """Talks to one Strata server.

    Parameters
    ----------
    url
        Base URL of the server (``http://host:8000``).
    token
        API key, sent as ``Authorization: Bearer``; anonymous when None.
    timeout
        Seconds per HTTP request.
    """

    def __init__(self, url: str, token: str | None = None, timeout: float = 60.0) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout)

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections."""
        self.http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = self.http.request(method, path, **kwargs)
        if response.status_code >= 400:
            try:
                body = response.json()
                detail = body.get("detail") or body.get("description") or response.text
            except ValueError:
                detail = response.text
            message = f"{method} {path}: HTTP {response.status_code}: {detail}"
            cls = {400: _BadRequest, 404: _NotFound}.get(response.status_code, ClientError)
            raise cls(message, response.status_code)
        return response

    def processes(self) -> list[dict[str, Any]]:
        """Summaries of the server's processes."""
        return list(self._call("GET", "/processes").json()["processes"])

    def describe(self, process: str) -> dict[str, Any]:
        """Description of a process (inputs and outputs with their schemas)."""
        return dict(self._call("GET", f"/processes/{process}").json())

    def submit(self, process: str, inputs: dict[str, Any]) -> str:
        """Submit a job asynchronously and return its id.

        Raises
        ------
        ClientError
            When the server refuses it (a 400 names the invalid input).
        """
        response = self._call(
            "POST",
            f"/processes/{process}/execution",
            json={"inputs": inputs},
            headers={"Prefer": "respond-async"},
        )
        return str(response.json()["jobID"])

    def status(self, job: str) -> dict[str, Any]:
        """The job's OGC status document (``status``, ``progress``, ``strata:steps``...)."""
        return dict(self._call("GET", f"/jobs/{job}").json())

    def jobs(
        self, status: list[str] | None = None, process: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """The caller's jobs, newest first."""
        params: dict[str, Any] = {"limit": limit}
        if status:
            params["status"] = status
        if process:
            params["processID"] = process
        return list(self._call("GET", "/jobs", params=params).json()["jobs"])

    def wait(
        self, job: str, timeout: float | None = None, poll: float = 0.5, progress: bool = True
    ) -> dict[str, Any]:
        """Poll until the job is finished, with a progress bar; return its final status.

        Raises
        ------
        JobFailedError
            When the job failed or was dismissed.
        TimeoutError
            When ``timeout`` seconds passed first.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn())
        with Progress(*columns, disable=not progress, transient=True) as bar:
            task = bar.add_task(f"job {job[:8]}", total=100)
            while True:
                info = self.status(job)
                bar.update(
                    task, completed=info["progress"], description=f"job {job[:8]} {info['strata:state']}"
                )
                if info["status"] in FINISHED:
                    break
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError(f"job {job} still {info['status']} after {timeout} s")
                time.sleep(poll)
        if info["status"] != "successful":
            raise JobFailedError(f"job {job} {info['status']}: {info['message']}")
        return info

    def results(self, job: str) -> dict[str, Any]:
        """Outputs of a successful job: literal values, and ``{"href", "type"}`` for files."""
        return dict(self._call("GET", f"/jobs/{job}/results").json())

    def download(self, job: str, folder: str | Path) -> dict[str, Path]:
        """Download every file output of a successful job into ``folder``; returns output → path."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths: dict[str, Path] = {}
        for name, value in self.results(job).items():
            if not (isinstance(value, dict) and "href" in value):
                continue
            with self.http.stream("GET", value["href"]) as response:
                if response.status_code >= 400:
                    raise ClientError(
                        f"download of {name}: HTTP {response.status_code}", response.status_code
                    )
                disposition = response.headers.get("content-disposition", "")
                filename = disposition.partition("filename=")[2].strip('"; ') or name
                target = folder / filename
                partial = target.with_name(target.name + ".part")
                with partial.open("wb") as out:
                    for chunk in response.iter_bytes():
                        out.write(chunk)
                partial.replace(target)
            paths[name] = target
        return paths

    def logs(self, job: str) -> list[str]:
        """The job's log lines."""
        return list(self._call("GET", f"/jobs/{job}/logs").json()["logs"])

    def cancel(self, job: str) -> dict[str, Any]:
        """Dismiss the job: its tasks stop on the cluster, its working files go."""
        return dict(self._call("DELETE", f"/jobs/{job}").json())

    def command(self, job: str, name: str) -> dict[str, Any]:
        """Operator command ``stop``, ``resume``, ``retry`` or ``resubmit``; returns the job's status."""
        return dict(self._call("POST", f"/jobs/{job}/{name}").json())
