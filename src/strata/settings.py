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
    count_exact_limit: int = Field(
        default=100_000,
        description="Searches matching more products than this report an estimated count, flagged as such.",
    )

    @property
    def catalog_url(self) -> str:
        """The catalog database URL, defaulting to SQLite under the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'catalog.sqlite').resolve()}"
