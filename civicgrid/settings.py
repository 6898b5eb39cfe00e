"""Typed settings: every environment variable civicgrid reads, in one object.

`get_settings()` reads them once per process (tests that change the environment call
`get_settings.cache_clear()`). A bad value stops the command with one line naming the variable,
e.g. `CIVICGRID_PG_PORT: Input should be a valid integer (got 'abc')`. The README's configuration
table is `settings_table()`; a test keeps the two equal.
"""
from __future__ import annotations

import getpass
from functools import lru_cache
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from civicgrid.errors import SetupError

REPO_ROOT = Path(__file__).resolve().parents[1]
PREFIX = "CIVICGRID_"


class Settings(BaseSettings):
    """Field descriptions are the README's "meaning" column; `json_schema_extra["shown"]` is the
    default as the table shows it (where the real default depends on the machine)."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, frozen=True, extra="ignore", populate_by_name=True)

    database_url: str | None = Field(
        None, validation_alias=AliasChoices("DATABASE_URL"),
        description="an existing PostGIS as a URL (`postgresql://user:password@host:5432/db`); "
                    "when unset, the private cluster is used",
        json_schema_extra={"shown": "unset"})
    database_read_url: str | None = Field(
        None, validation_alias=AliasChoices("CIVICGRID_DATABASE_READ_URL", "DATABASE_READ_URL"),
        description="a hot standby of the database as a URL: the read-only routes (OGC items and tiles, search, "
                    "labels) read from it, everything else from the primary (see Reliability); when unset, the "
                    "private standby of `civicgrid db replica start` is used while it runs",
        json_schema_extra={"shown": "unset"})
    read_max_lag: float = Field(10.0, ge=0, le=3600,
                                description="seconds a standby may be behind the primary and still serve reads "
                                            "(further behind, reads go to the primary)")
    data_dir: Path = Field(REPO_ROOT / ".data", description="private cluster, caches, uploads",
                           json_schema_extra={"shown": "`./.data`"})
    pg_port: int = Field(54320, ge=1, le=65535,
                         description="the private cluster's port on 127.0.0.1 (it also listens on a unix socket "
                                     "in `.data/run`)")
    host: str = Field("127.0.0.1", min_length=1, description="where `civicgrid serve` listens (address)")
    port: int = Field(8000, ge=1, le=65535, description="where `civicgrid serve` listens (port)")
    public_url_setting: str | None = Field(
        None, validation_alias=AliasChoices(PREFIX + "PUBLIC_URL"),
        description="the public base URL used in OGC API links; `https://…` also marks the session cookie Secure",
        json_schema_extra={"shown": "`http://HOST:PORT`"})
    timer_interval: float = Field(15.0, ge=0.5, le=3600,
                                  description="seconds between runs of the case-timer worker inside `serve` "
                                              "(the geofence scan too, which also runs on each new position)")
    geofence_minutes: float = Field(10.0, ge=0.5, le=480,
                                    description="an officer outside his responsibility grids during a shift for longer "
                                                "than this many minutes raises a geofence alert (电子围栏)")
    geofence_tolerance_m: float = Field(20.0, ge=0, le=500,
                                        description="metres outside the grid still counted as inside (GPS jitter)")
    officer_offline_minutes: float = Field(5.0, ge=0.5, le=1440,
                                           description="an officer whose last position is older than this many minutes "
                                                       "is shown offline (离线)")
    pygeoapi_config: Path = Field(REPO_ROOT / "pygeoapi-config.yml",
                                  description="the pygeoapi configuration published at `/ogc`",
                                  json_schema_extra={"shown": "`./pygeoapi-config.yml`"})
    process_time_limit: float = Field(30.0, ge=1, le=3600,
                                      description="seconds a synchronous process run may take; its query is "
                                                  "cancelled after that (503), async jobs have their own")
    job_concurrency: int = Field(2, ge=1, le=64, description="asynchronous process jobs running at once "
                                                           "(the others wait in the queue, in PostgreSQL)")
    job_queue_per_user: int = Field(5, ge=1, le=1000,
                                    description="jobs one user may have waiting or running; more is a 429")
    job_time_limit: float = Field(600.0, ge=1, le=86400,
                                  description="seconds one asynchronous job may run before it is stopped (failed)")
    job_memory_limit_mb: int = Field(2048, ge=64, le=1 << 20,
                                     description="address space of one job runner in MiB; above it the job fails")
    log_format: Literal["json", "text"] = Field("json", description="`serve`'s log lines on stderr: one JSON object "
                                                                 "each (with the request id) or plain text")
    shutdown_grace: float = Field(20.0, ge=0, le=600, description="seconds `serve` lets requests in flight finish "
                                                                "after SIGTERM before it closes them")
    backup_dir: Path | None = Field(None, description="where `civicgrid db backup` keeps backup sets (pgBackRest's "
                                                      "repository, dumps, the files' tars); point it at another disk",
                                    json_schema_extra={"shown": "`DATA_DIR/backups`"})
    backup_interval_hours: float = Field(24.0, ge=0, le=24 * 31,
                                         description="`serve` makes a backup (and verifies it) when the last good one "
                                                     "is older than this; 0 turns the daily backup off")
    backup_keep: int = Field(7, ge=1, le=1000, description="logical backup sets kept (pgBackRest keeps 4 full "
                                                           "backups and the incrementals and WAL they need)")
    actor: str | None = Field(None, max_length=80,
                              description="who survey CLI changes are recorded as (history rows)",
                              json_schema_extra={"shown": "the login name, else `cli`"})

    # district exchange (多网融合): the outbox's delivery target (civicgrid/exchange)
    district_url: str | None = Field(None, description="where case events go to the district platform (an https URL; "
                                     "for `open311` the endpoint's base); unset: they wait in the outbox",
                                     json_schema_extra={"shown": "unset"})
    district_adapter: Literal["json", "open311"] = Field(
        "json", description="the district's interface: `json` (signed JSON over HTTPS, fields from the mapping file) "
                            "or `open311` (GeoReport v2)")
    district_mapping: Path | None = Field(None, description="the field mapping file (YAML) of the adapter",
                                          json_schema_extra={"shown": "`exchange/mappings/default.yml` (`open311.yml`)"})
    district_secret: SecretStr | None = Field(None, description="HMAC-SHA256 key signing each JSON delivery "
                                              "(`X-Civicgrid-Signature`)", json_schema_extra={"shown": "unset"})
    district_api_key: SecretStr | None = Field(None, description="the district's key for us: `Authorization: Bearer` "
                                               "(json) or `api_key` (open311)", json_schema_extra={"shown": "unset"})
    district_jurisdiction: str | None = Field(None, max_length=80, description="Open311 `jurisdiction_id` sent "
                                              "to the district", json_schema_extra={"shown": "unset"})
    district_timeout: float = Field(10.0, ge=0.1, le=300, description="seconds one delivery may take "
                                                                      "before it counts as failed")
    district_max_attempts: int = Field(12, ge=1, le=1000, description="deliveries tried before an event "
                                                                      "becomes a dead letter (死信)")
    district_backoff: float = Field(2.0, ge=0.01, le=3600, description="seconds of the first retry's "
                                                                      "backoff (doubled per failure, with jitter)")
    district_backoff_max: float = Field(3600.0, ge=0.01, le=86400, description="the longest wait between "
                                                                               "two attempts (seconds)")
    district_on_time_minutes: float = Field(30.0, ge=1, le=10080, description="an event delivered within this "
                                            "many minutes of the change counts as reported on time (上报及时率)")

    feed_tombstone_days: float = Field(90.0, ge=1, le=3650,
                                       description="days a deletion stays listed by `/ogc/collections/{id}/changes`; "
                                                   "older tombstones are pruned (by `serve` hourly, `civicgrid feeds "
                                                   "prune`) and a `since` before the horizon is a 410 (full re-sync)")

    # the district's GeoServer (`civicgrid geoserver publish`, geoserver/)
    geoserver_url: str | None = Field(None, description="the GeoServer `civicgrid geoserver publish` puts the public layers on "
                                      "(`http://host:8080/geoserver`)",
                                      json_schema_extra={"shown": "unset"})
    geoserver_user: str = Field("admin", min_length=1, max_length=200,
                                description="the GeoServer administrator civicgrid publishes as (REST API)")
    geoserver_password: SecretStr | None = Field(None, description="that administrator's password (never printed "
                                                 "or logged)", json_schema_extra={"shown": "unset"})
    geoserver_workspace: str = Field("civicgrid", pattern=r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$",
                                     description="the GeoServer workspace (and namespace) of our layers; the layer "
                                                 "group is `WORKSPACE_map`")
    geoserver_store: str = Field("civicgrid", pattern=r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$",
                                 description="the name of the PostGIS datastore in that workspace")
    geoserver_db_url: SecretStr | None = Field(
        None, description="PostGIS as GeoServer reaches it (`postgresql://user:password@host:5432/db`; a login in the "
                          "read-only role `civicgrid_geoserver`); its password is sent to GeoServer, never printed",
        json_schema_extra={"shown": "`DATABASE_URL` / the private cluster"})
    geoserver_timeout: float = Field(15.0, ge=0.5, le=600, description="seconds one GeoServer REST request may "
                                                                      "take before publishing stops")

    # the private cluster's database and role (not configurable: DATABASE_URL names any other)
    db_name: ClassVar[str] = "civicgrid"
    db_user: ClassVar[str] = "civicgrid"

    @field_validator("database_url", "database_read_url", "public_url_setting", "actor", "district_url",
                     "district_mapping", "district_secret", "district_api_key", "district_jurisdiction",
                     "geoserver_url", "geoserver_password", "geoserver_db_url", mode="before")
    @classmethod
    def _empty_is_unset(cls, value):
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("public_url_setting", "district_url", "geoserver_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("backup_dir", mode="before")
    @classmethod
    def _empty_dir_is_unset(cls, value):
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("data_dir", "pygeoapi_config", "backup_dir")
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        return value.resolve() if value is not None else None

    @property
    def public_url(self) -> str:
        """The URL users reach the server at (links; an https one also makes the session cookie Secure)."""
        return (self.public_url_setting or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def uses_private_cluster(self) -> bool:
        return self.database_url is None

    @property
    def dsn(self) -> str:
        """The libpq connection string every part of civicgrid uses."""
        if self.database_url:
            return self.database_url
        return f"postgresql://{self.db_user}@127.0.0.1:{self.pg_port}/{self.db_name}"

    @property
    def actor_name(self) -> str:
        return self.actor or getpass.getuser() or "cli"


def env_name(field_name: str) -> str:
    """The environment variable behind a settings field."""
    alias = Settings.model_fields[field_name].validation_alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return PREFIX + field_name.upper()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        err = exc.errors()[0]
        name = str(err["loc"][0]) if err["loc"] else ""
        variable = env_name(name) if name in Settings.model_fields else name
        raise SetupError(f"{variable}: {err['msg'].removeprefix('Value error, ')} (got {err.get('input')!r})") from None


def settings_table() -> str:
    """The README's configuration table (markdown), one row per environment variable."""
    rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for name, info in Settings.model_fields.items():
        extra = info.json_schema_extra or {}
        default = f"{info.default:g}" if isinstance(info.default, float) else info.default
        shown = extra.get("shown", f"`{default}`")
        rows.append(f"| `{env_name(name)}` | {shown} | {info.description} |")
    return "\n".join(rows)
