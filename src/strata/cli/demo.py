"""``strata demo``: the main job, a deformation study end to end on the embedded default."""

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from strata.settings import Settings

__all__ = ["app"]

app = typer.Typer(help="Run the demo deformation study and write its report.", invoke_without_command=True)


@app.callback()
def demo(
    size: Annotated[int, typer.Option(help="Rows and columns of the simulated frame.")] = 1000,
    years: Annotated[float, typer.Option(help="Years of 12-day acquisitions.")] = 2.0,
    generated: Annotated[int, typer.Option(help="Generated products added to the catalog.")] = 20_000,
    samples: Annotated[Path | None, typer.Option(help="Folder of the real samples (../shared/data).")] = None,
    real_stack: Annotated[bool, typer.Option(help="Also process the real Mexico City stack.")] = True,
    data_dir: Annotated[Path | None, typer.Option(help="Data folder (default STRATA_DATA_DIR).")] = None,
) -> None:
    """Ingest, select a stack from the catalog, run NSBAS on Dask, publish products, write the report."""
    from strata.demo import DemoConfig, run

    console = Console()
    settings = Settings() if data_dir is None else Settings(data_dir=data_dir)
    config = DemoConfig(size=size, years=years, generated=generated, samples=samples, real_stack=real_stack)
    result = run(config, settings, say=console.print)
    console.print(f"\n[bold]Report:[/] {result.report}")
    console.print(
        f"Browse the catalog and the products: [bold]STRATA_DATA_DIR={settings.data_dir} strata serve[/] "
        "then open http://127.0.0.1:8000/"
    )
