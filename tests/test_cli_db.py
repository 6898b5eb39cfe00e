"""`civicgrid db …` through the real command line: the private cluster's life cycle and its failures."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from databases import REPO, free_port, make_reachable

CLI = [sys.executable, "-m", "civicgrid.cli"]


def civicgrid(*args: str, env: dict, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def private_env():
    """Not under pytest's tmp_path: another pytest session of the same user makes /tmp/pytest-of-<user>
    private again, which locks the `postgres` user out of this cluster mid-test."""
    base = Path(tempfile.mkdtemp(prefix="civicgrid-test-cli-"))
    make_reachable(base)
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(CIVICGRID_DATA_DIR=str(base / "data"), CIVICGRID_PG_PORT=str(free_port()))
    yield env
    civicgrid("db", "stop", env=env)
    shutil.rmtree(base, ignore_errors=True)


def test_private_cluster_life_cycle(private_env):
    started = civicgrid("db", "start", env=private_env)
    assert started.returncode == 0, started.stderr
    assert "PostgreSQL started" in started.stdout
    assert civicgrid("db", "start", env=private_env).stdout.startswith("PostgreSQL already running")

    migrated = civicgrid("db", "migrate", env=private_env)
    assert migrated.returncode == 0 and "0001_foundation" in migrated.stdout

    status = civicgrid("db", "status", env=private_env)
    assert status.returncode == 0
    assert "postgis: 3." in status.stdout and "0002_code_catalogs" in status.stdout

    psql = civicgrid("db", "psql", "-tAc", "SELECT count(*) FROM code_catalog", env=private_env)
    assert psql.stdout.strip() == "517"

    reset = civicgrid("db", "reset", "--yes", env=private_env)
    assert reset.returncode == 0 and "database reset" in reset.stdout

    # the cluster runs as the unprivileged postgres user when we are root
    pid = int((Path(private_env["CIVICGRID_DATA_DIR"]) / "pg" / "postmaster.pid").read_text().split()[0])
    owner = os.stat(f"/proc/{pid}").st_uid
    assert owner != 0 if os.geteuid() == 0 else owner == os.geteuid()

    assert civicgrid("db", "stop", env=private_env).stdout.strip() == "PostgreSQL stopped"
    down = civicgrid("db", "status", env=private_env)
    assert down.returncode == 1 and "not running" in down.stderr


def test_stale_pid_file_after_crash_is_recovered(private_env):
    assert civicgrid("db", "start", env=private_env).returncode == 0
    pid_file = Path(private_env["CIVICGRID_DATA_DIR"]) / "pg" / "postmaster.pid"
    pid = int(pid_file.read_text().split()[0])
    os.kill(pid, signal.SIGKILL)
    for _ in range(100):
        if not Path(f"/proc/{pid}").exists():
            break
        time.sleep(0.05)
    assert pid_file.exists()  # a crash leaves it behind
    # and the pid may since belong to another program
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        lines = pid_file.read_text().split("\n")
        lines[0] = str(sleeper.pid)
        pid_file.write_text("\n".join(lines))
        again = civicgrid("db", "start", env=private_env)
        assert again.returncode == 0, again.stderr
        assert "PostgreSQL started" in again.stdout
        assert civicgrid("db", "status", env=private_env).returncode == 0
    finally:
        sleeper.kill()


def test_port_in_use_gives_one_clear_line(private_env):
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", int(private_env["CIVICGRID_PG_PORT"])))
        blocker.listen()
        result = civicgrid("db", "start", env=private_env)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert f"port {private_env['CIVICGRID_PG_PORT']} on 127.0.0.1 is in use" in result.stderr


def test_unreachable_database_url_gives_one_clear_line():
    env = {**os.environ, "DATABASE_URL": f"postgresql://nobody@127.0.0.1:{free_port()}/nowhere"}
    for command in (["db", "status"], ["db", "migrate"], ["db", "start"]):
        result = civicgrid(*command, env=env)
        assert result.returncode == 1, command
        assert result.stderr.strip().count("\n") == 0, result.stderr
        assert "cannot reach the database at 127.0.0.1:" in result.stderr


def test_existing_postgis_through_database_url(pg, pg_admin_url):
    from databases import create_database, drop_database

    url = create_database(pg_admin_url)
    try:
        env = {**os.environ, "DATABASE_URL": url}
        assert civicgrid("db", "migrate", env=env).returncode == 0
        status = civicgrid("db", "status", env=env)
        assert status.returncode == 0 and "(private cluster)" not in status.stdout
        assert civicgrid("db", "stop", env=env).stdout.startswith("DATABASE_URL is set")
    finally:
        drop_database(pg_admin_url, url)
