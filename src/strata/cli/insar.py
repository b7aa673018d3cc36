"""``strata insar``: time series and velocity from interferogram stacks, config template, simulated stacks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from strata.insar.config import ConfigError, InputOptions, InsarConfig

__all__ = ["app"]

app = typer.Typer(
    name="insar",
    help="Multi-temporal InSAR: NSBAS time series and velocity from interferogram stacks.",
    no_args_is_help=True,
)


def _parse_pair(text: str, option: str) -> tuple[float, float]:
    """Parse ``"A,B"`` into two floats, or raise a :class:`ConfigError` naming the option."""
    parts = text.split(",")
    try:
        first, second = (float(p) for p in parts)
    except ValueError:
        raise ConfigError(f"{option} expects two numbers separated by a comma, got '{text}'") from None
    return first, second


def build_config(
    config_file: Path | None,
    *,
    input_path: Path | None = None,
    input_format: str | None = None,
    output: Path | None = None,
    reference: str | None = None,
    chunk_size: int | None = None,
    workers: int | None = None,
) -> InsarConfig:
    """The run configuration: the config file (or defaults), then the flags given on the command line.

    Parameters
    ----------
    config_file
        YAML file written by ``strata insar config --print-empty`` (optional).
    input_path, input_format, output, reference, chunk_size, workers
        Command-line overrides; ``None`` keeps the config file's value. ``reference`` is ``"LON,LAT"``.

    Returns
    -------
    InsarConfig
        The validated configuration.
    """
    content: dict[str, Any] = (
        InsarConfig.from_yaml(config_file).model_dump() if config_file is not None else {}
    )
    overrides: list[tuple[tuple[str, ...], Any]] = [
        (("input", "path"), input_path),
        (("input", "format"), input_format),
        (("output",), output),
        (("chunking", "chunk_size"), chunk_size),
        (("chunking", "workers"), workers),
    ]
    if reference is not None:
        overrides.append((("corrections", "reference_lonlat"), _parse_pair(reference, "--reference")))
        overrides.append((("corrections", "reference_rowcol"), None))
    for keys, value in overrides:
        if value is None and keys[-1] != "reference_rowcol":
            continue
        node = content
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = value
    return InsarConfig.from_dict(content, source=str(config_file) if config_file else "command line")


@app.command("run")
def run_command(
    input_path: Annotated[
        Path | None, typer.Option("--input", help="Folder or file of the interferogram stack.")
    ] = None,
    input_format: Annotated[
        str | None,
        typer.Option("--format", help=InputOptions.model_fields["format"].description),
    ] = None,
    output: Annotated[Path | None, typer.Option("--output", help="Folder receiving the outputs.")] = None,
    config_file: Annotated[
        Path | None, typer.Option("--config", help="YAML config (see 'strata insar config').")
    ] = None,
    reference: Annotated[
        str | None, typer.Option("--reference", help="Reference point LON,LAT (default: automatic).")
    ] = None,
    chunk_size: Annotated[int | None, typer.Option("--chunk-size", help="Block side in pixels.")] = None,
    workers: Annotated[int | None, typer.Option("--workers", help="Parallel threads (default: all).")] = None,
) -> None:
    """Invert a stack into displacement time series and velocity (flags override the config file)."""
    from strata.insar.workflow import run

    if input_path is None and config_file is None:
        raise ConfigError("give --input (and --format), or a --config file naming the input")
    config = build_config(
        config_file,
        input_path=input_path,
        input_format=input_format,
        output=output,
        reference=reference,
        chunk_size=chunk_size,
        workers=workers,
    )
    console = Console(stderr=True)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("opening stack", total=1.0)

        def report(step: str, fraction: float) -> None:
            progress.update(task, description=step, completed=fraction)

        result = run(config, progress=report)
    console.print(f"outputs in [bold]{result.output_dir}[/]")
    for name, path in sorted(result.paths.items()):
        typer.echo(f"{name}\t{path}")


@app.command("config")
def config_command(
    print_empty: Annotated[
        bool, typer.Option("--print-empty", help="Print a documented config with every default.")
    ] = False,
    output: Annotated[Path | None, typer.Option("--output", help="Write the template to this file.")] = None,
) -> None:
    """Write a documented configuration template (every option with its description)."""
    if not print_empty and output is None:
        raise ConfigError("give --print-empty to print the template, or --output FILE to write it")
    text = InsarConfig().to_yaml(output)
    if print_empty:
        typer.echo(text, nl=False)


@app.command("simulate")
def simulate_command(
    output: Annotated[Path, typer.Option("--output", help="Folder receiving the simulated stack.")],
    output_format: Annotated[
        str,
        typer.Option("--format", help="Stack layout: licsar, aria, mintpy or gamma."),
    ] = "licsar",
    rows: Annotated[int, typer.Option("--rows", min=8, help="Grid rows.")] = 200,
    cols: Annotated[int, typer.Option("--cols", min=8, help="Grid columns.")] = 200,
    years: Annotated[float, typer.Option("--years", min=0.2, help="Time span of the acquisitions.")] = 2.0,
    unwrapping_errors: Annotated[
        float,
        typer.Option(
            "--unwrapping-errors", min=0.0, max=1.0, help="Share of interferograms with a 2-pi jump."
        ),
    ] = 0.05,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of every random draw.")] = 0,
) -> None:
    """Write a simulated stack with known truth (subsidence bowl, troposphere, noise) to try the chain.

    The true LOS velocity (mm/yr, not referenced) is written next to it as ``truth_velocity.tif``.
    """
    import datetime as dt

    from strata.insar.io import write_stack_as
    from strata.insar.io.products import ProductGrid, write_cog
    from strata.insar.simulate import (
        AcquisitionConfig,
        GridConfig,
        SimulationConfig,
        UnwrappingErrorConfig,
        simulate_stack,
    )

    start = dt.date(2019, 1, 1)
    config = SimulationConfig(
        seed=seed,
        grid=GridConfig(rows=rows, cols=cols),
        acquisitions=AcquisitionConfig(start=start, end=start + dt.timedelta(days=round(365.25 * years))),
        unwrapping_errors=UnwrappingErrorConfig(interferogram_share=unwrapping_errors),
    )
    simulated = simulate_stack(config)
    path = write_stack_as(simulated.stack, output, output_format)
    write_cog(
        Path(output) / "truth_velocity.tif",
        simulated.velocity.values,
        ProductGrid.from_stack(simulated.stack),
        units="mm/yr",
        description="true LOS velocity of the simulation (not referenced)",
    )
    typer.echo(f"{simulated.stack.sizes['pair']} interferograms, {simulated.dates.size} dates: {path}")
    typer.echo(f"try: strata insar run --input {path} --format {output_format} --output OUTPUT")


@app.command("ifg")
def ifg_command(
    input_path: Annotated[
        Path | None, typer.Option("--input", help="Folder (or Zarr/.znap store) of coregistered SLCs.")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", help="Folder receiving the pair folders.")
    ] = None,
    looks: Annotated[
        str | None, typer.Option("--looks", help="Multilook factors RGxAZ, range x azimuth (default 20x5).")
    ] = None,
    config_file: Annotated[
        Path | None, typer.Option("--config", help="YAML config (IfgConfig of strata.insar.ifg_workflow).")
    ] = None,
) -> None:
    """Form, filter and unwrap interferograms from a coregistered SLC stack (flags override --config)."""
    from strata.insar.ifg_workflow import IfgConfig, parse_looks, run

    if input_path is None and config_file is None:
        raise ConfigError("give --input (and --output), or a --config file naming the input")
    content: dict[str, Any] = IfgConfig.from_yaml(config_file).model_dump() if config_file else {}
    if input_path is not None:
        content["input"] = input_path
    if output is not None:
        content["output"] = output
    if looks is not None:
        content["looks_range"], content["looks_azimuth"] = parse_looks(looks)
    config = IfgConfig.from_dict(content, source=str(config_file) if config_file else "command line")
    console = Console(stderr=True)
    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), TimeElapsedColumn(), console=console
    ) as progress:
        task = progress.add_task("reading SLC stack", total=1.0)
        result = run(
            config, progress=lambda step, done: progress.update(task, description=step, completed=done)
        )
    console.print(f"{len(result.pairs)} interferograms in [bold]{result.output_dir}[/]")
    for label in result.pairs:
        typer.echo(f"{label}\tmean coherence {result.mean_coherence[label]:.3f}")
