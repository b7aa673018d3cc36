"""``strata serve``: run the HTTP API with uvicorn."""

from typing import Annotated

import typer

__all__ = ["app"]

app = typer.Typer(help="Serve the HTTP API (STAC, OpenSearch, downloads, processes).")


@app.callback(invoke_without_command=True)
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Serve the API built from the STRATA_* settings (``uvicorn --factory strata.api.app:create_app``)."""
    import uvicorn

    uvicorn.run("strata.api.app:create_app", factory=True, host=host, port=port, workers=workers)
