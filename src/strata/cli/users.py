"""``strata users``: API users and their keys (stored in the catalog database)."""

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from strata.api.users import ROLES, UserStore, engine_for
from strata.settings import Settings

__all__ = ["app"]

app = typer.Typer(help="Manage API users and keys.", no_args_is_help=True)


def _store() -> UserStore:
    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return UserStore(engine_for(settings.catalog_url))


@app.command()
def add(
    name: Annotated[str, typer.Argument(help="User name.")],
    role: Annotated[str, typer.Option(help=f"Role: {', '.join(ROLES)}.")] = "user",
    collection: Annotated[
        list[str] | None, typer.Option(help="A private collection the user may read (repeatable).")
    ] = None,
    rate_limit: Annotated[float | None, typer.Option(help="Own requests per second.")] = None,
    download_quota_gb: Annotated[float | None, typer.Option(help="Own daily download quota (GB).")] = None,
) -> None:
    """Create a user and print its API key (shown only this once)."""
    quota = None if download_quota_gb is None else int(download_quota_gb * 1024**3)
    user, key = _store().add(name, role, tuple(collection or ()), rate_limit, quota)
    Console(stderr=True).print(
        f"created {user.role} [bold]{user.name}[/]; API key (keep it, it is not stored):"
    )
    typer.echo(key)


@app.command("list")
def list_users() -> None:
    """List users."""
    table = Table("name", "role", "collections", "rate limit", "quota (GB)", "created", "status")
    for user in _store().list():
        table.add_row(
            user.name,
            user.role,
            ",".join(sorted(user.collections)),
            "" if user.rate_limit_per_second is None else f"{user.rate_limit_per_second:g}/s",
            "" if user.download_quota_bytes is None else f"{user.download_quota_bytes / 1024**3:g}",
            user.created.strftime("%Y-%m-%d %H:%M") if user.created else "",
            "revoked" if user.revoked else "active",
        )
    Console().print(table)


@app.command()
def revoke(name: Annotated[str, typer.Argument(help="User name.")]) -> None:
    """Revoke a user's API key."""
    _store().revoke(name)
    typer.echo(f"revoked {name}")
