"""A hot standby of the private cluster (`civicgrid db replica start|stop|status|promote`).

`start` copies the running primary with `pg_basebackup -R` (streaming replication, the standby's
settings written for it) into `DATA_DIR/replica` and starts it on its own port (CIVICGRID_PG_PORT
+ 1 unless given); it then follows the primary and answers read-only queries (a running server
finds it and reads from it: civicgrid.db.reads). With `synchronous` the primary's commits wait for
the standby, so a promote loses no acknowledged commit (measured in
tests/test_reliability_replica.py). `promote` makes it a primary (after the old one died: point
DATABASE_URL at it).
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


def start(settings: Settings, port: int | None = None, synchronous: bool = False) -> Cluster:
    primary = Cluster.from_settings(settings)
    if not primary.running():
        raise SetupError("the primary (private cluster) is not running: civicgrid db start")
    replica = standby(settings, port)
    if not replica.initialised():
        replica.data_dir.mkdir(parents=True, exist_ok=True)
        replica._prepare_dirs()
        if replica.pgdata.exists():
            shutil.rmtree(replica.pgdata)
        with psycopg.connect(_admin(primary), connect_timeout=5) as conn:
            durable = conn.execute("SHOW fsync").fetchone()[0] == "on"
        # the copy of a primary that does not fsync (tests) needs no fsync either
        replica._run("pg_basebackup", "-D", str(replica.pgdata), "-R", "-X", "stream", "-c", "fast",
                     *(() if durable else ("--no-sync",)),
                     "-h", "127.0.0.1", "-p", str(primary.port), "-U", primary.user)
        conf = replica.pgdata / "postgresql.conf"
        conf.write_text(conf.read_text() + f"\n# civicgrid: the standby\nport = {replica.port}\n"
                        f"unix_socket_directories = '{replica.socket_dir}'\nhot_standby = on\narchive_mode = off\n")
    replica.start()
    if synchronous:
        set_synchronous(primary, True)
    return replica


def _admin(cluster: Cluster) -> str:
    """The cluster's `postgres` database (there whatever databases it holds)."""
    return f"postgresql://{cluster.user}@127.0.0.1:{cluster.port}/postgres"


def set_synchronous(primary: Cluster, on: bool) -> None:
    """A commit on the primary waits until a standby has it (`synchronous_standby_names = '*'`,
    `synchronous_commit = on`), or no longer waits. While on, the primary's writes stall when no
    standby is connected: `stop` turns it off first."""
    with psycopg.connect(_admin(primary), autocommit=True, connect_timeout=5) as conn:
        if on:
            conn.execute("ALTER SYSTEM SET synchronous_standby_names = '*'")
            conn.execute("ALTER SYSTEM SET synchronous_commit = 'on'")
        else:
            conn.execute("ALTER SYSTEM RESET synchronous_standby_names")
            conn.execute("ALTER SYSTEM RESET synchronous_commit")
        conn.execute("SELECT pg_reload_conf()")
        deadline = time.monotonic() + 30
        while on and not conn.execute("SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'").fetchone()[0]:
            if time.monotonic() > deadline:
                raise SetupError("the standby did not become synchronous within 30 s (is it streaming?)")
            time.sleep(0.05)


def running_dsn(settings: Settings) -> str | None:
    """The private standby's URL while it runs as a standby (found by its postmaster.pid: its port
    is the fourth line), else None."""
    pgdata = standby(settings).pgdata
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
        port = int(lines[3])
    except (OSError, IndexError, ValueError):
        return None
    if not (pgdata / "standby.signal").exists():
        return None
    return standby(settings, port).dsn


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
    primary = Cluster.from_settings(settings)
    if primary.running():   # a synchronous primary would wait for the stopped standby forever
        set_synchronous(primary, False)
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
    set_synchronous(replica, False)   # copied from a synchronous primary, it would wait for a standby of its own
    # a promoted standby is a primary now: keep it from being mistaken for the old one's copy
    (Path(replica.data_dir) / "PROMOTED").write_text(time.strftime("%Y-%m-%dT%H:%M:%S%z\n"))
    return replica
