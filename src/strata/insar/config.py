"""Configuration of the InSAR time-series workflow: one pydantic model, YAML round-trip.

Every field carries a description; :meth:`YamlModel.to_yaml` writes those descriptions as comments
above each key (as dolphin's ``YamlModel`` does), so ``strata insar config --print-empty`` is a
documented template that :meth:`YamlModel.from_yaml` reads back unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from strata.errors import InputError
from strata.insar.errors import InsarError

__all__ = [
    "ChunkingOptions",
    "ClosureOptions",
    "ConfigError",
    "CorrectionOptions",
    "InputOptions",
    "InsarConfig",
    "InversionOptions",
    "NetworkOptions",
    "VelocityOptions",
    "YamlModel",
]


class ConfigError(InsarError, InputError):
    """A configuration file or value is invalid; the message names the file or field."""


class YamlModel(BaseModel):
    """A pydantic model that reads and writes YAML, with field descriptions as comments."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    @classmethod
    def from_yaml(cls, path: Path | str) -> Self:
        """Read a model from a YAML file.

        Parameters
        ----------
        path
            YAML file, as written by :meth:`to_yaml` (comments are ignored).

        Returns
        -------
        Self
            The validated model.

        Raises
        ------
        ConfigError
            When the file is missing, is not YAML, or does not validate; the message names the file.
        """
        path = Path(path)
        try:
            content = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read config file ({exc.strerror})") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
        if content is None:
            content = {}
        if not isinstance(content, dict):
            raise ConfigError(f"{path}: the config must be a mapping of options")
        return cls.from_dict(content, source=str(path))

    @classmethod
    def from_dict(cls, content: dict[str, Any], *, source: str = "config") -> Self:
        """Validate a nested mapping into the model, reporting errors as one :class:`ConfigError`."""
        try:
            return cls.model_validate(content)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}"
                + (
                    f" (got {err['input']!r})"
                    if err["type"] != "missing" and not isinstance(err["input"], dict)
                    else ""
                )
                for err in exc.errors()
            )
            raise ConfigError(f"{source}: {problems}") from exc

    def to_yaml(self, path: Path | str | None = None) -> str:
        """Write the model as YAML with every field's description as a comment above it.

        Parameters
        ----------
        path
            File to write; when ``None`` only the text is returned.

        Returns
        -------
        str
            The YAML text.
        """
        text = "\n".join(_yaml_lines(self, indent=0)) + "\n"
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text


def _yaml_lines(model: BaseModel, indent: int) -> list[str]:
    """YAML lines of ``model``: a comment with each field's description, then the key and value."""
    pad = " " * indent
    lines: list[str] = []
    for name, field in type(model).model_fields.items():
        if field.description:
            lines.extend(f"{pad}# {line}" for line in field.description.splitlines())
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            lines.append(f"{pad}{name}:")
            lines.extend(_yaml_lines(value, indent + 2))
        else:
            dumped = yaml.safe_dump(
                {name: _plain(value)}, default_flow_style=True, sort_keys=False, width=10_000
            ).strip()
            # safe_dump wraps a flow mapping in braces: "{key: value}".
            lines.append(f"{pad}{dumped[1:-1]}")
    return lines


def _plain(value: Any) -> Any:
    """Value as plain YAML types (paths as strings, tuples as lists)."""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


class InputOptions(YamlModel):
    """Where the interferogram stack is and in which layout."""

    path: Path = Field(
        default=Path(),
        description="Folder (or file, for MintPy ifgramStack.h5) holding the interferogram stack.",
    )
    format: str = Field(
        default="licsar",
        description="Layout of the stack, a reader of strata.insar.io: licsar (GEOC folders), aria (GUNW "
        "NetCDF), mintpy (ifgramStack.h5), gamma (GAMMA/PyRate GeoTIFFs), ifg (the pair folders of "
        "'strata insar ifg'), or one a package adds under the strata.insar.readers entry point.",
    )

    @field_validator("format")
    @classmethod
    def _registered(cls, value: str) -> str:
        # The reader registry is the one list of formats (imported here: it loads every reader).
        from strata.insar.io import stack_formats

        known = stack_formats()
        if value not in known:
            raise ValueError(f"unknown stack format '{value}' (known: {', '.join(known)})")
        return value


class NetworkOptions(YamlModel):
    """Which interferograms of the stack enter the inversion."""

    max_temporal_baseline: float | None = Field(
        default=None, description="Drop interferograms spanning more days than this (null: keep all)."
    )
    max_perpendicular_baseline: float | None = Field(
        default=None,
        description="Drop interferograms whose |perpendicular baseline| exceeds this, in metres "
        "(null: keep all).",
    )
    min_coherence: float = Field(
        default=0.0, ge=0.0, le=1.0, description="Drop interferograms whose mean coherence is below this."
    )
    min_coverage: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="Drop interferograms whose share of valid (non-NaN) pixels is below this.",
    )
    pixel_min_coherence: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="Per pixel, treat interferogram values whose coherence is below this as missing.",
    )


class ClosureOptions(YamlModel):
    """Loop-closure check and correction of unwrapping errors."""

    enabled: bool = Field(
        default=True,
        description="Correct 2-pi unwrapping errors by integer-ambiguity estimation from triplet closures.",
    )


class InversionOptions(YamlModel):
    """NSBAS small-baseline inversion of the network into a displacement time series."""

    constraint_weight: float = Field(
        default=1e-4,
        ge=0.0,
        description="Weight of the NSBAS temporal constraint to the functional model (small: the model "
        "only decides where the network leaves epochs undetermined; 0 disables it).",
    )
    functional_model: Literal["linear", "seasonal"] = Field(
        default="linear",
        description="Functional model of the NSBAS constraint: linear, or linear plus annual sinusoid.",
    )
    robust: bool = Field(
        default=False, description="Robust (L1-like, iteratively reweighted) inversion instead of L2."
    )
    weighting: Literal["coherence", "variance", "none"] = Field(
        default="variance",
        description="Per-pixel interferogram weights: coherence, inverse phase variance from coherence "
        "(as MintPy's 'var'), or none (uniform).",
    )
    min_temporal_coherence: float = Field(
        default=0.7,
        ge=0.0,
        le=1.0,
        description="Pixels whose temporal coherence is below this are masked in the outputs.",
    )


class CorrectionOptions(YamlModel):
    """Corrections applied to the time series."""

    reference_lonlat: tuple[float, float] | None = Field(
        default=None,
        description="Reference point as [longitude, latitude] (WGS84 degrees); null with "
        "reference_rowcol null: automatic (a coherent and stable pixel).",
    )
    reference_rowcol: tuple[int, int] | None = Field(
        default=None,
        description="Reference point as [row, column] of the grid; exclusive with reference_lonlat.",
    )
    deramp: Literal["none", "linear", "quadratic"] = Field(
        default="none", description="Remove a planar (linear) or quadratic ramp from every epoch."
    )
    dem_error: bool = Field(
        default=False,
        description="Estimate and remove the DEM error (needs perpendicular baselines in the stack).",
    )
    troposphere: bool = Field(
        default=False,
        description="Remove the empirical phase-elevation (stratified) troposphere (needs heights).",
    )

    @model_validator(mode="after")
    def _one_reference(self) -> Self:
        if self.reference_lonlat is not None and self.reference_rowcol is not None:
            raise ValueError("give reference_lonlat or reference_rowcol, not both")
        return self


class VelocityOptions(YamlModel):
    """Velocity estimated from the time series."""

    model: Literal["linear", "seasonal"] = Field(
        default="linear",
        description="Time function fitted per pixel: linear, or linear plus annual sinusoid.",
    )
    bootstrap: int = Field(
        default=0,
        ge=0,
        description="Bootstrap resamples of the velocity uncertainty (0: propagated uncertainty only).",
    )


class ChunkingOptions(YamlModel):
    """How the grid is cut for processing and how many workers process it."""

    chunk_size: int = Field(
        default=128, ge=8, description="Side of the square spatial blocks processed at once, in pixels."
    )
    workers: int | None = Field(
        default=None, ge=1, description="Parallel threads processing blocks (null: all cores)."
    )


class InsarConfig(YamlModel):
    """Configuration of one run of the InSAR time-series workflow (``strata insar run``)."""

    input: InputOptions = Field(default_factory=InputOptions, description="The input stack.")
    output: Path = Field(default=Path("insar-output"), description="Folder receiving every output.")
    network: NetworkOptions = Field(default_factory=NetworkOptions, description="Interferogram selection.")
    closure: ClosureOptions = Field(default_factory=ClosureOptions, description="Loop-closure correction.")
    inversion: InversionOptions = Field(default_factory=InversionOptions, description="NSBAS inversion.")
    corrections: CorrectionOptions = Field(
        default_factory=CorrectionOptions, description="Reference point and time-series corrections."
    )
    velocity: VelocityOptions = Field(default_factory=VelocityOptions, description="Velocity estimation.")
    chunking: ChunkingOptions = Field(default_factory=ChunkingOptions, description="Blocks and workers.")
    points: list[tuple[float, float]] = Field(
        default_factory=list,
        description="Points [longitude, latitude] (WGS84 degrees) whose time series are plotted; "
        "empty: the reference point and the fastest-moving pixel.",
    )
