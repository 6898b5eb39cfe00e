"""`civicgrid` command line: the database, the demo town and the server.

Every failure the user can fix ends with one line on stderr and a non-zero exit.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from civicgrid.clibase import Group
from civicgrid.errors import SetupError
from civicgrid.settings import get_settings


@click.group(cls=Group)
def main():
    """civicgrid — GIS platform for a town's law-enforcement command center (综合执法指挥中心)."""


# ---------------------------------------------------------------- db

@main.group(cls=Group)
def db():
    """The database: the private cluster under .data/, or DATABASE_URL when set."""


def _cluster():
    from civicgrid.db.cluster import Cluster

    return Cluster.from_settings(get_settings())


def _target() -> str:
    from civicgrid.db import describe

    settings = get_settings()
    return describe(settings.dsn) + ("" if settings.database_url else " (private cluster)")


@db.command()
def start():
    """Start the private cluster (initialising it on first use); with DATABASE_URL, check it answers."""
    from civicgrid.db import connect

    settings = get_settings()
    if settings.uses_private_cluster:
        from civicgrid.db.backup import start_private_cluster

        started = start_private_cluster(_cluster(), settings)
        click.echo(f"PostgreSQL {'started' if started else 'already running'} on {_target()}")
    else:
        connect().close()
        click.echo(f"using DATABASE_URL {_target()}")


@db.command()
def stop():
    """Stop the private cluster."""
    if not get_settings().uses_private_cluster:
        click.echo("DATABASE_URL is set: civicgrid does not manage that server")
        return
    click.echo("PostgreSQL stopped" if _cluster().stop() else "PostgreSQL was not running")


@db.command()
def status():
    """Is the database up, and which migrations are applied? Exit 1 when it is down."""
    from civicgrid.db import applied_migrations, connect

    settings = get_settings()
    if settings.uses_private_cluster and not _cluster().running():
        raise SetupError(f"private cluster is not running (data in {_cluster().pgdata}): civicgrid db start")
    with connect() as conn:
        version = conn.execute("SELECT postgis_lib_version() AS v").fetchone()["v"] \
            if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'postgis'").fetchone() else "not installed"
        server = conn.execute("SHOW server_version").fetchone()["server_version"]
    click.echo(f"database: {_target()}, PostgreSQL {server}")
    click.echo(f"postgis: {version}")
    click.echo(f"migrations applied: {', '.join(applied_migrations()) or 'none'}")


@db.command()
def migrate():
    """Apply pending migrations."""
    from civicgrid.db import migrate as run

    applied = run()
    click.echo(f"applied {len(applied)} migration(s){': ' + ', '.join(applied) if applied else ''}")


@db.command()
@click.option("--count", type=click.IntRange(min=1), help="roll back only the last COUNT migrations")
def rollback(count):
    """Roll back migrations (all of them by default)."""
    from civicgrid.db import rollback as run

    rolled = run(count=count)
    click.echo(f"rolled back {len(rolled)} migration(s){': ' + ', '.join(rolled) if rolled else ''}")


@db.command()
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
def reset(yes):
    """Drop everything civicgrid stored and migrate again from empty."""
    from civicgrid.db import connect
    from civicgrid.db import migrate as run

    if not yes:
        click.confirm(f"Drop all civicgrid data in {_target()}?", abort=True)
    with connect(autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
        conn.execute("DROP TABLE IF EXISTS public._yoyo_migration")
    applied = run()
    click.echo(f"database reset; applied {len(applied)} migration(s)")


@db.command("backup")
@click.option("--kind", type=click.Choice(["full", "incremental", "logical"]), default=None,
              help="private cluster: full or incremental (pgBackRest; default incremental, full once a week) or "
                   "logical; with DATABASE_URL always logical (pg_dump and the roles)")
@click.option("--verify", "then_verify", is_flag=True, help="then restore it into a scratch cluster and compare")
def db_backup(kind, then_verify):
    """Back up the database and the files (photos, uploads); each backup is recorded."""
    from civicgrid.db import backup as bk

    manifest = bk.backup(kind=kind)
    click.echo(f"backup {manifest['label']} ({manifest['kind']}, {manifest['method']}): "
               f"{len(manifest['counts'])} tables, {sum(manifest['counts'].values()):,} rows, "
               f"files {', '.join(manifest['files']) or 'none'}; in {bk.backup_dir()}")
    if then_verify:
        _echo_verify(bk.verify(label=manifest["label"]))


def _echo_verify(result: dict) -> None:
    if result["ok"]:
        click.echo(f"verified {result['label']}: {result['tables']} tables, {result['rows']:,} rows and "
                   f"{len(result['checksummed'])} checksums equal, {result['files']} files ({result['seconds']} s)")
        return
    raise SetupError(f"verification of {result['label']} failed: "
                     f"{result.get('error') or json.dumps(result['differences'], ensure_ascii=False)[:400]}")


@db.command("restore")
@click.option("--label", help="the backup set (default: the newest); `civicgrid db backups` lists them")
@click.option("--to", "to", type=click.DateTime(["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S%z", "%Y-%m-%dT%H:%M:%S",
                                                  "%Y-%m-%d %H:%M:%S"]),
              help="point in time (private cluster): replay the archived WAL up to it; without a zone, Asia/Shanghai")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
def db_restore(label, to, yes):
    """Restore a backup into the configured database (a new CIVICGRID_DATA_DIR gets a fresh cluster)."""
    from zoneinfo import ZoneInfo

    from civicgrid.db import backup as bk

    if to is not None and to.tzinfo is None:
        to = to.replace(tzinfo=ZoneInfo("Asia/Shanghai"))
    if not yes:
        click.confirm(f"Replace the database {_target()} with the backup?", abort=True)
    done = bk.restore(label=label, to=to)
    click.echo(f"restored {done['label']} ({done['method']}){' to ' + to.isoformat() if to else ''} "
               f"into {_target()}; {done['files']} files")


@db.command("verify")
@click.option("--label", help="the backup set (default: the newest)")
def db_verify(label):
    """Restore a backup into a scratch cluster, compare counts and checksums, record the result."""
    from civicgrid.db import backup as bk

    _echo_verify(bk.verify(label=label))


@db.group(cls=Group)
def replica():
    """A hot standby of the private cluster (streaming replication, its own data directory and port)."""


_replica_port = click.option("--port", type=click.IntRange(1, 65535), default=None,
                             help="the standby's port (default CIVICGRID_PG_PORT + 1)")


@replica.command("start")
@_replica_port
@click.option("--synchronous", is_flag=True,
              help="the primary's commits wait for the standby (nothing acknowledged is lost on promote; "
                   "writes stall while the standby is unreachable)")
def replica_start(port, synchronous):
    """Copy the running primary (pg_basebackup -R) once, then start the standby."""
    from civicgrid.db import replica as rep

    standby = rep.start(get_settings(), port, synchronous=synchronous)
    click.echo(f"standby running on 127.0.0.1:{standby.port} (data in {standby.pgdata}): "
               f"postgresql://{standby.user}@127.0.0.1:{standby.port}/{standby.db_name}")


@replica.command("status")
@_replica_port
def replica_status(port):
    """Is the standby running, replaying, and how far behind?"""
    from civicgrid.db import replica as rep

    click.echo(json.dumps(rep.status(get_settings(), port), indent=1, default=str))


@replica.command("stop")
@_replica_port
def replica_stop(port):
    """Stop the standby."""
    from civicgrid.db import replica as rep

    click.echo("standby stopped" if rep.stop(get_settings(), port) else "standby was not running")


@replica.command("promote")
@_replica_port
def replica_promote(port):
    """Make the standby a primary (after the primary is lost); then point DATABASE_URL at it."""
    from civicgrid.db import replica as rep

    standby = rep.promote(get_settings(), port)
    click.echo(f"promoted: DATABASE_URL=postgresql://{standby.user}@127.0.0.1:{standby.port}/{standby.db_name}")


@db.command("backups")
def db_backups():
    """The backups and verifications recorded, newest first."""
    from civicgrid.db import backup as bk

    for r in bk.records(get_settings().dsn):
        size = f"{r['size_bytes'] / 1e6:.1f} MB" if r["size_bytes"] is not None else "-"
        click.echo(f"{r['started_at']:%Y-%m-%d %H:%M:%S%z}  {r['kind']:<11} {r['method']:<10} "
                   f"{'ok  ' if r['ok'] else 'FAIL'} {size:>10}  {r['label'] or ''}"
                   + (f"  (verifies #{r['verifies']})" if r["verifies"] else "")
                   + ("" if r["ok"] else f"  {r['detail'].get('error', '')[:120]}"))


@db.command(context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def psql(args):
    """Open psql on the database (extra arguments go to psql)."""
    from civicgrid.db import connect

    connect().close()
    os.execvp("psql", ["psql", get_settings().dsn, *args])


# ---------------------------------------------------------------- demo

@main.group(cls=Group)
def demo():
    """The synthetic Renhe-like demo town."""


@demo.command("load")
@click.option("--scale", type=click.FloatRange(min=0.001, max=4.0), default=1.0, show_default=True,
              help="fraction of the full-size town (components, positions, cases, POIs)")
@click.option("--seed", type=int, default=20261124, show_default=True, help="random seed; same seed, same town")
@click.option("--if-empty", is_flag=True, help="do nothing when the town is already loaded")
@click.option("--quiet", is_flag=True, help="no progress bar")
def demo_load(scale, seed, if_empty, quiet):
    """Generate and load the demo town (replaces any data already loaded)."""
    from civicgrid.demo import load

    summary = load(scale=scale, seed=seed, if_empty=if_empty, progress=not quiet)
    for table, count in summary.items():
        click.echo(f"{table:>22}: {count:,}")


# ---------------------------------------------------------------- serve

@main.command()
@click.option("--host", default=None, help="default CIVICGRID_HOST or 127.0.0.1")
@click.option("--port", type=int, default=None, help="default CIVICGRID_PORT or 8000")
@click.option("--workers", type=click.IntRange(1, 16), default=1, show_default=True)
def serve(host, port, workers):
    """Serve the web map, /api and /ogc."""
    import shutil

    import uvicorn

    from civicgrid.ops import configure_logging

    # the options stand for CIVICGRID_HOST/PORT everywhere, also in the links the app writes
    # (public_url) and in the worker processes, which read the environment again
    for name, value in (("CIVICGRID_HOST", host), ("CIVICGRID_PORT", port)):
        if value is not None:
            os.environ[name] = str(value)
    get_settings.cache_clear()
    settings = get_settings()
    port = settings.port
    if workers > 1:
        # the workers' request metrics in shared files, summed when /metrics is scraped
        folder = settings.data_dir / "run" / f"metrics-{port}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    uvicorn.run("civicgrid.app:create_app", factory=True, host=settings.host, port=port, workers=workers,
                log_config=configure_logging(settings.log_format), access_log=False,
                timeout_graceful_shutdown=settings.shutdown_grace or None)


@main.group(cls=Group)
def service():
    """Run civicgrid supervised (systemd units)."""


@service.command("install")
@click.option("--workers", type=click.IntRange(1, 16), default=2, show_default=True, help="server processes")
@click.option("--user", default=None, help="system user of the server and timer units (default: the current one)")
@click.option("--unit-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="where to write the units (default /etc/systemd/system)")
@click.option("--print", "--dry-run", "dry_run", is_flag=True, help="print the units, write nothing")
def service_install(workers, user, unit_dir, dry_run):
    """Write the systemd units (server, case timers, the private cluster) and enable them."""
    from civicgrid import service as svc

    texts = svc.units(workers=workers, user=user)
    if dry_run:
        for name, text in texts.items():
            click.echo(f"# ---- {name}\n{text}")
        return
    folder = unit_dir or svc.UNIT_DIR
    enable = unit_dir is None and svc.systemd_running()
    if unit_dir is None and not svc.systemd_running():
        raise SetupError("systemd is not running on this machine (PID 1 is another init): write the units elsewhere "
                         "with --unit-dir, or run `civicgrid serve` under your supervisor (README: Reliability)")
    for path in svc.install(folder, texts, enable):
        click.echo(f"wrote {path}")
    complaints = svc.verify_units(folder)
    if complaints:
        click.echo(f"systemd-analyze verify: {complaints}", err=True)
    click.echo("enabled and started: " + ", ".join(texts) if enable else
               f"not enabled (units in {folder}): systemctl enable --now {' '.join(texts)}")


# ---------------------------------------------------------------- the parts' own command groups

def _register_parts() -> None:
    from civicgrid.assessment.cli import assessment
    from civicgrid.cases.cli import cases
    from civicgrid.evaluation.cli import evaluation
    from civicgrid.exchange.cli import exchange
    from civicgrid.geoserver.cli import geoserver
    from civicgrid.layers.cli import feeds
    from civicgrid.officers.cli import officers
    from civicgrid.processes.cli import processes
    from civicgrid.security.cli import key, user
    from civicgrid.survey.cli import survey
    from civicgrid.web.cli import basemap

    for group in (cases, officers, survey, processes, basemap, user, key, exchange, assessment, evaluation, geoserver,
                  feeds):
        main.add_command(group)


_register_parts()

if __name__ == "__main__":
    sys.exit(main())
