"""The ``strata`` command line: one Typer sub-application per domain, errors as one readable line."""

import importlib
import sys

import typer
from rich.console import Console

from strata import __version__
from strata.errors import StrataError

__all__ = ["build_app", "main"]

# name -> module exposing ``app: typer.Typer``; imported lazily so ``strata --help`` stays fast.
SUBCOMMANDS: dict[str, str] = {
    "catalog": "strata.cli.catalog",
    "insar": "strata.cli.insar",
    "process": "strata.cli.process",
    "serve": "strata.cli.serve",
    "users": "strata.cli.users",
    "worker": "strata.cli.worker",
    "demo": "strata.cli.demo",
}


def build_app() -> typer.Typer:
    """Assemble the root application from the domain sub-applications."""
    app = typer.Typer(
        name="strata",
        help="Strata: Sentinel catalog, processing services and multi-temporal InSAR.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
    )

    @app.command()
    def version() -> None:
        """Print Strata's version."""
        typer.echo(__version__)

    for name, module in SUBCOMMANDS.items():
        app.add_typer(importlib.import_module(module).app, name=name)
    return app


def main() -> None:
    """Entry point: run the CLI, turning a :class:`StrataError` into one line on stderr and exit 2.

    Usage errors (unknown option, missing argument) are reported by Typer itself, also with exit 2.
    """
    try:
        build_app()()
    except StrataError as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
