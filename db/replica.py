"""A hot standby of the private cluster (`civicgrid db replica start|stop|status|promote`).

`start` copies the running primary with `pg_basebackup -R` (streaming replication, the standby's
settings written for it) into `DATA_DIR/replica` and starts it on its own port (CIVICGRID_PG_PORT
+ 1 unless given); it then follows the primary and answers read-only queries. `promote` makes it a
primary (after the old one died: point DATABASE_URL at it).
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path

import psycopg

from civicgrid.db.cluster import Cluster
from civicgrid.errors import SetupError
from civicgrid.settings import Settings


def standby(settings: Settings, port: int | None = None) -> Cluster:
    return Cluster(data_dir=settings.data_dir / "replica", port=port or settings.pg_port + 1,
                   user=settings.db_user, db_name=settings.db_name)


def start(settings: Settings, port: int | None = None) -> Cluster:
    primary = Cluster.from_settings(settings)
    if not primary.running():
        raise SetupError("the primary (private cluster) is not running: civicgrid db start")
    replica = standby(settings, port)
    if not replica.initialised():
        replica.data_dir.mkdir(parents=True, exist_ok=True)
        replica._prepare_dirs()
        if replica.pgdata.exists():
            shutil.rmtree(replica.pgdata)
        replica._run("pg_basebackup", "-D", str(replica.pgdata), "-R", "-X", "stream", "-c", "fast",
                     "-h", "127.0.0.1", "-p", str(primary.port), "-U", primary.user)
        conf = replica.pgdata / "postgresql.conf"
        conf.write_text(conf.read_text() + f"\n# civicgrid: the standby\nport = {replica.port}\n"
                        f"unix_socket_directories = '{replica.socket_dir}'\nhot_standby = on\narchive_mode = off\n")
    replica.start()
    return replica


def status(settings: Settings, port: int | None = None) -> dict:
    replica = standby(settings, port)
    out: dict = {"data": str(replica.pgdata), "port": replica.port, "running": replica.running()}
    if out["running"]:
        with psycopg.connect(replica.dsn, connect_timeout=5) as conn:
            standby_, lag = conn.execute(
                "SELECT pg_is_in_recovery(), extract(epoch FROM now() - pg_last_xact_replay_timestamp())").fetchone()
        out.update(standby=standby_, replay_age_s=None if lag is None else round(float(lag), 3))
    primary = Cluster.from_settings(settings)
    if primary.running():
        with psycopg.connect(primary.dsn, connect_timeout=5) as conn:
            out["senders"] = [dict(zip(("client", "state", "sync_state", "replay_lag_s"), r)) for r in conn.execute(
                "SELECT client_addr::text, state, sync_state, extract(epoch FROM replay_lag)::float "
                "FROM pg_stat_replication")]
    return out


def stop(settings: Settings, port: int | None = None) -> bool:
    return standby(settings, port).stop()


def promote(settings: Settings, port: int | None = None, wait_s: float = 60) -> Cluster:
    replica = standby(settings, port)
    if not replica.running():
        raise SetupError(f"no standby running in {replica.pgdata}: civicgrid db replica start")
    replica._run("pg_ctl", "promote", "-D", str(replica.pgdata), "-w")
    deadline = time.monotonic() + wait_s
    with psycopg.connect(replica.dsn, autocommit=True, connect_timeout=5) as conn:
        while conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]:
            if time.monotonic() > deadline:
                raise SetupError("the standby did not leave recovery")
            time.sleep(0.1)
    # a promoted standby is a primary now: keep it from being mistaken for the old one's copy
    (Path(replica.data_dir) / "PROMOTED").write_text(time.strftime("%Y-%m-%dT%H:%M:%S%z\n"))
    return replica
