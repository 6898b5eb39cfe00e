"""Typed settings from environment variables, one place for every knob.

| variable | default | meaning |
| --- | --- | --- |
| DATABASE_URL | (unset) | an existing PostGIS; when unset the private cluster under CIVICGRID_DATA_DIR is used |
| CIVICGRID_DATA_DIR | <repo>/.data | where the private cluster, caches and uploads live |
| CIVICGRID_PG_PORT | 54320 | TCP port of the private cluster on 127.0.0.1 |
| CIVICGRID_HOST / CIVICGRID_PORT | 127.0.0.1 / 8000 | where `civicgrid serve` listens |
| CIVICGRID_PUBLIC_URL | http://HOST:PORT | the URL users reach; `https://…` also makes the session cookie Secure |
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def _flag(name: str) -> bool:
    return os.environ.get(name, "0").strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    database_url: str | None = field(default_factory=lambda: os.environ.get("DATABASE_URL") or None)
    data_dir: Path = field(default_factory=lambda: Path(os.environ.get("CIVICGRID_DATA_DIR", REPO_ROOT / ".data")).resolve())
    pg_port: int = field(default_factory=lambda: int(os.environ.get("CIVICGRID_PG_PORT", "54320")))
    db_name: str = "civicgrid"
    db_user: str = "civicgrid"
    host: str = field(default_factory=lambda: os.environ.get("CIVICGRID_HOST", "127.0.0.1"))
    port: int = field(default_factory=lambda: int(os.environ.get("CIVICGRID_PORT", "8000")))

    @property
    def public_url(self) -> str:
        """The URL users reach the server at (links; an https one also makes the session cookie Secure)."""
        return (os.environ.get("CIVICGRID_PUBLIC_URL") or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def uses_private_cluster(self) -> bool:
        return self.database_url is None

    @property
    def dsn(self) -> str:
        """The libpq connection string every part of civicgrid uses."""
        if self.database_url:
            return self.database_url
        return f"postgresql://{self.db_user}@127.0.0.1:{self.pg_port}/{self.db_name}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
