"""``strata process``: list processes, run jobs and operate them on a Strata server.

The server is ``--url`` (``STRATA_URL``, default ``http://127.0.0.1:8000``) and the API key
``--token`` (``STRATA_TOKEN``).  Inputs are ``-i name=value`` (repeat a name for a list; values
that parse as JSON are taken as JSON) or a JSON file with ``--inputs``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from strata.client import Client
from strata.errors import InputError

__all__ = ["app", "parse_inputs"]

app = typer.Typer(help="Run processes and operate jobs on a Strata server.", no_args_is_help=True)
console = Console()

Url = Annotated[str, typer.Option("--url", envvar="STRATA_URL", help="Base URL of the server.")]
Token = Annotated[str | None, typer.Option("--token", envvar="STRATA_TOKEN", help="API key.")]
JobId = Annotated[str, typer.Argument(help="Job id.")]
DEFAULT_URL = "http://127.0.0.1:8000"


def parse_inputs(pairs: list[str], inputs_file: Path | None) -> dict[str, Any]:
    """Inputs from ``name=value`` pairs (a repeated name gives a list) and an optional JSON file.

    Raises
    ------
    InputError
        A pair without ``=``, or a file that is not a JSON object.
    """
    inputs: dict[str, Any] = {}
    if inputs_file is not None:
        try:
            loaded = json.loads(inputs_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"--inputs {inputs_file}: {exc}") from None
        if not isinstance(loaded, dict):
            raise InputError(f"--inputs {inputs_file}: must hold a JSON object of inputs")
        inputs.update(loaded)
    named: set[str] = set()
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name:
            raise InputError(f"-i {pair!r}: expected name=value")
        try:
            value: Any = json.loads(text)
        except ValueError:
            value = text
        if name in named:
            previous = inputs[name]
            inputs[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            inputs[name] = value
            named.add(name)
    return inputs


def _show(info: dict[str, Any]) -> None:
    console.print(
        f"job {info['jobID']}  {info['processID']}  [bold]{info['strata:state']}[/]  {info['progress']}%  "
        f"{info['message']}",
        highlight=False,
    )
    for step in info.get("strata:steps", []):
        console.print(
            f"  {step['name']:<24} {step['state']:<10} attempts {step['attempts']}  {step['message']}"
        )


def _print_results(client: Client, job: str, download: Path | None) -> None:
    for name, value in client.results(job).items():
        text = value["href"] if isinstance(value, dict) and "href" in value else json.dumps(value)
        console.print(f"{name}: {text}", highlight=False, soft_wrap=True)
    if download is not None:
        for name, path in client.download(job, download).items():
            console.print(f"{name} -> {path}", highlight=False)


@app.command("list")
def list_processes(url: Url = DEFAULT_URL, token: Token = None) -> None:
    """List the server's processes."""
    with Client(url, token) as client:
        processes = client.processes()
    table = Table("id", "mode", "version", "title")
    for process in processes:
        table.add_row(process["id"], process["strata:mode"], process["version"], process["title"])
    console.print(table)


@app.command()
def run(
    process: Annotated[str, typer.Argument(help="Process id.")],
    inputs: Annotated[list[str] | None, typer.Option("-i", "--input", help="Input as name=value.")] = None,
    inputs_file: Annotated[Path | None, typer.Option("--inputs", help="JSON file of inputs.")] = None,
    wait: Annotated[bool, typer.Option(help="Wait for the job, with a progress bar.")] = True,
    download: Annotated[Path | None, typer.Option(help="Download the file outputs into this folder.")] = None,
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """Submit a job; by default wait for it and print its results."""
    with Client(url, token) as client:
        job = client.submit(process, parse_inputs(inputs or [], inputs_file))
        console.print(f"job {job} submitted", highlight=False)
        if not wait:
            return
        client.wait(job)
        _print_results(client, job, download)


@app.command()
def status(job: JobId, url: Url = DEFAULT_URL, token: Token = None) -> None:
    """Status, progress and steps of a job."""
    with Client(url, token) as client:
        _show(client.status(job))


@app.command()
def jobs(
    state: Annotated[list[str] | None, typer.Option("--status", help="Filter by status.")] = None,
    process: Annotated[str | None, typer.Option(help="Filter by process.")] = None,
    limit: Annotated[int, typer.Option(help="Most jobs to list.")] = 50,
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """List your jobs, newest first."""
    with Client(url, token) as client:
        found = client.jobs(state, process, limit)
    table = Table("job", "process", "status", "progress", "created")
    for info in found:
        table.add_row(
            info["jobID"], info["processID"], info["strata:state"], f"{info['progress']}%", info["created"]
        )
    console.print(table)


@app.command()
def results(
    job: JobId,
    download: Annotated[Path | None, typer.Option(help="Download the file outputs into this folder.")] = None,
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """Results of a successful job (and optionally download its files)."""
    with Client(url, token) as client:
        _print_results(client, job, download)


@app.command()
def logs(job: JobId, url: Url = DEFAULT_URL, token: Token = None) -> None:
    """The job's log."""
    with Client(url, token) as client:
        for line in client.logs(job):
            console.print(line, highlight=False, markup=False, soft_wrap=True)


@app.command()
def cancel(job: JobId, url: Url = DEFAULT_URL, token: Token = None) -> None:
    """Dismiss a job: its tasks stop on the cluster, its working files are removed."""
    with Client(url, token) as client:
        _show(client.cancel(job))


def _command(name: str, summary: str) -> None:
    def command(job: JobId, url: Url = DEFAULT_URL, token: Token = None) -> None:
        with Client(url, token) as client:
            _show(client.command(job, name))

    command.__doc__ = summary
    app.command(name)(command)


_command("stop", "Stop a job, keeping its checkpoints (resume continues it).")
_command("resume", "Resume a stopped job from its first unfinished step.")
_command("retry", "Run the failed steps of a failed job again.")
_command("resubmit", "Submit a new job with the same process and inputs.")
