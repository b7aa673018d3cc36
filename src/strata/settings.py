"""Service settings: one ``pydantic-settings`` object, built once by an adapter and passed down."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Settings of a Strata installation, read from ``STRATA_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="STRATA_", extra="forbid")

    data_dir: Path = Field(
        default=Path("strata-data"),
        description="Data directory: embedded catalog database, product archive, job outputs.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the catalog database; default SQLite in the data directory. "
        "postgresql://... selects the PostGIS backend.",
    )
    dask_address: str | None = Field(
        default=None, description="Address of an existing Dask scheduler; default a LocalCluster."
    )
    dask_workers: int | None = Field(default=None, description="Workers of the local Dask cluster.")
    run_jobs: bool = Field(
        default=True,
        description="The API server drives jobs on Dask itself; false when `strata worker` processes do.",
    )
    job_max_attempts: int = Field(
        default=3, ge=1, description="Attempts of a job step whose worker died (infrastructure failures)."
    )
    job_lease_s: float = Field(
        default=30.0, gt=0, description="Lease of a runner on a job; a dead runner's jobs resume after it."
    )
    job_stop_grace_s: float = Field(
        default=2.0, ge=0, description="Seconds a stopped step may take to end before its worker restarts."
    )
    job_sync_timeout_s: float = Field(
        default=60.0, gt=0, description="Longest wait of a synchronous execute before answering with a job."
    )
    process_file_roots: list[Path] = Field(
        default_factory=list,
        description="Folders (besides the data directory) whose files process inputs may name.",
    )
    count_exact_limit: int = Field(
        default=100_000,
        description="Searches matching more products than this report an estimated count, flagged as such.",
    )

    rate_limit_per_second: float = Field(
        default=20.0, description="HTTP API: sustained requests per second allowed to one user (or address)."
    )
    rate_limit_burst: int = Field(
        default=100, description="HTTP API: requests one user may send in a burst above the sustained rate."
    )
    download_quota_bytes: int = Field(
        default=500 * 1024**3,
        description="HTTP API: bytes one user may download per UTC day unless the user has its own quota.",
    )
    anonymous_download_quota_bytes: int = Field(
        default=10 * 1024**3, description="HTTP API: bytes anonymous clients may download per UTC day."
    )
    staging_delay_s: float = Field(
        default=5.0,
        description="Seconds an offline (tape) product takes to be staged to disk; a testing knob.",
    )

    @property
    def catalog_url(self) -> str:
        """The catalog database URL, defaulting to SQLite under the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'catalog.sqlite').resolve()}"
