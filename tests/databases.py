"""Helpers the tests import by name (test databases, the repository path, servers).

Kept out of conftest.py: with conftest files in tests/ and tests/web/, `from databases import …`
finds whichever conftest pytest loaded last, so tests import from here (and tests/web/browser.py).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import psycopg

from civicgrid.testing import app_client, free_port, start_server

__all__ = ["REPO", "ClusterTemplates", "copy_demo", "copy_template", "create_database", "demo_app", "drop_database",
           "free_port", "make_reachable", "migrated_database", "serving", "start_server"]

REPO = Path(__file__).resolve().parents[1]


def make_reachable(path: Path) -> None:
    """The server runs as `postgres` when we are root: let it reach a directory of ours."""
    os.chmod(path, 0o755)
    for parent in path.parents:
        if parent.stat().st_mode & 0o001 == 0:
            os.chmod(parent, parent.stat().st_mode | 0o011)


def create_database(admin_url: str, template: str | None = None) -> str:
    name = f"t_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if template:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        else:
            conn.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + "/" + name


def drop_database(admin_url: str, url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def copy_template(admin_url: str, template: str) -> str:
    """A new database copied from `template` (a file copy: a fraction of a second)."""
    # a template must have no other connections while it is copied; the session's live server
    # reconnects at once (its health probe), so terminate and copy again until the copy wins
    for attempt in range(20):
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE datname = %s AND pid <> pg_backend_pid()", [template])
        try:
            return create_database(admin_url, template=template)
        except psycopg.errors.ObjectInUse:
            if attempt == 19:
                raise
            time.sleep(0.05)


def copy_demo(admin_url: str) -> str:
    """A private writable copy of the session's demo town (drop it with drop_database)."""
    return copy_template(admin_url, "demo_template")


MIGRATED = "migrated_template"
_migrated: set[str] = set()


def migrated_database(admin_url: str) -> str:
    """A new database with every migration applied and the shipped data installed, as `migrate` leaves
    an empty one: a copy of a template migrated once per session (migrating from empty takes seconds,
    the copy a fraction of one). Drop it with drop_database."""
    from civicgrid.db import migrate

    if admin_url not in _migrated:
        # made again by every session: a reused cluster (CIVICGRID_TEST_DATA_DIR) may hold an older one
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{MIGRATED}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{MIGRATED}"')
        migrate(admin_url.rsplit("/", 1)[0] + "/" + MIGRATED)
        _migrated.add(admin_url)
    return copy_template(admin_url, MIGRATED)


@contextmanager
def demo_app(admin_url: str, files_dir, **client_kwargs):
    """The app in process (civicgrid.testing.app_client) on a private copy of the demo town, dropped after."""
    url = copy_demo(admin_url)
    try:
        with app_client(url, files_dir, **client_kwargs) as client:
            yield client
    finally:
        drop_database(admin_url, url)


@contextmanager
def serving(url: str):
    """`civicgrid serve` in a subprocess against `url`: yields its base URL, stopped after."""
    proc, base = start_server(url)
    try:
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


class ClusterTemplates:
    """Private clusters for the tests that need a whole cluster of their own (backups, restores,
    outages, standbys): `initdb` once per session (and `migrate` once), then each test gets a copy of
    the stopped data directory (`cp -a`, a fraction of initdb's time) on its own port and folder.
    The session fixture `cluster_templates` (conftest.py) holds one."""

    def __init__(self):
        self.base = Path(tempfile.mkdtemp(prefix="civicgrid-test-templates-"))
        make_reachable(self.base)
        self._made: dict[bool, Path] = {}

    def _template(self, migrated: bool) -> Path:
        from civicgrid.db import migrate
        from civicgrid.db.cluster import Cluster

        if migrated not in self._made:
            folder = self.base / ("migrated" if migrated else "empty")
            if migrated:
                cluster = self.copy(folder)
                cluster.start()
                migrate(cluster.dsn)
            else:
                cluster = Cluster(data_dir=folder, port=free_port(), durable=False)
                cluster.start()   # initdb, and the database `civicgrid`
            cluster.stop()
            self._made[migrated] = cluster.pgdata
        return self._made[migrated]

    def copy(self, data_dir: Path, *, migrated: bool = False, port: int | None = None):
        """A stopped cluster in `data_dir` (its data in data_dir/pg), a copy of the template; start it."""
        from civicgrid.db.cluster import Cluster

        template = self._template(migrated)
        data_dir.mkdir(parents=True, exist_ok=True)
        make_reachable(data_dir)
        cluster = Cluster(data_dir=data_dir, port=port or free_port(), durable=False)
        subprocess.run(["cp", "-a", str(template), str(cluster.pgdata)], check=True)
        conf = cluster.pgdata / "postgresql.conf"
        conf.write_text(conf.read_text() + f"\nunix_socket_directories = '{cluster.socket_dir}'\n")
        return cluster

    def close(self) -> None:
        shutil.rmtree(self.base, ignore_errors=True)
