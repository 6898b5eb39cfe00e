"""The private PostgreSQL 15 + PostGIS cluster under `.data/` (used when DATABASE_URL is unset).

PostgreSQL refuses to run as root, so when we are root the cluster belongs to Debian's
unprivileged `postgres` user and every server binary runs through `runuser`.
"""
from __future__ import annotations

import os
import pwd
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from civicgrid.errors import SetupError
from civicgrid.settings import Settings

PG_VERSION = "15"
PG_BIN = Path(f"/usr/lib/postgresql/{PG_VERSION}/bin")
POSTGIS_CONTROL = Path(f"/usr/share/postgresql/{PG_VERSION}/extension/postgis.control")

# Tuned for a 2-core, 24 GiB machine serving one town; a dev cluster, so durability is relaxed.
SERVER_CONFIG = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{socket_dir}'
max_connections = 200
shared_buffers = 1GB
effective_cache_size = 8GB
work_mem = 32MB
maintenance_work_mem = 512MB
max_wal_size = 4GB
synchronous_commit = {synchronous_commit}
fsync = {fsync}
full_page_writes = {fsync}
jit = off
timezone = 'Asia/Shanghai'
log_min_messages = warning
logging_collector = off
"""


@dataclass
class Cluster:
    data_dir: Path          # .data/ — the cluster lives in data_dir/pg, its socket in data_dir/run
    port: int
    user: str = "civicgrid"
    db_name: str = "civicgrid"
    durable: bool = True    # tests turn fsync off

    @classmethod
    def from_settings(cls, settings: Settings) -> "Cluster":
        return cls(settings.data_dir, settings.pg_port, settings.db_user, settings.db_name)

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pg"

    @property
    def socket_dir(self) -> Path:
        return self.data_dir / "run"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "postgres.log"

    @property
    def dsn(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{self.db_name}"

    # ------------------------------------------------------------ running binaries

    def _owner(self) -> str | None:
        """The system user that runs the server: ourselves, or `postgres` when we are root."""
        if os.geteuid() != 0:
            return None
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            raise SetupError("running as root needs the unprivileged 'postgres' user: apt-get install postgresql-15") from None
        return "postgres"

    def _run(self, binary: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        exe = PG_BIN / binary
        if not exe.exists():
            raise SetupError(f"PostgreSQL {PG_VERSION} is not installed ({exe} missing): apt-get install postgresql-15")
        cmd = [str(exe), *args]
        owner = self._owner()
        if owner:
            cmd = ["runuser", "-u", owner, "--", *cmd]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if check and proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip().splitlines()
            raise SetupError(f"{binary} failed: {detail[-1] if detail else 'exit ' + str(proc.returncode)}")
        return proc

    def _prepare_dirs(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        owner = self._owner()
        if owner:
            entry = pwd.getpwnam(owner)
            for path in (self.data_dir, self.socket_dir):
                os.chown(path, entry.pw_uid, entry.pw_gid)
            if self.pgdata.exists():
                os.chown(self.pgdata, entry.pw_uid, entry.pw_gid)
            # the server must be able to reach its data directory through every parent
            for parent in self.data_dir.parents:
                mode = parent.stat().st_mode
                if not mode & 0o001:
                    raise SetupError(f"{parent} is not searchable by user {owner}: chmod o+x {parent}")

    # ------------------------------------------------------------ state

    def initialised(self) -> bool:
        return (self.pgdata / "PG_VERSION").exists()

    def _pid(self) -> int | None:
        try:
            return int((self.pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
        except (FileNotFoundError, ValueError, PermissionError):
            return None

    def running(self) -> bool:
        """A postgres process owns our pid file. (pg_ctl status trusts any live process with
        that pid, which after a crash and pid reuse may be some other program.)"""
        pid = self._pid()
        if pid is None:
            return False
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
        except (FileNotFoundError, ProcessLookupError):
            return False
        return comm in ("postgres", "postmaster")

    def _port_in_use(self) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", self.port))
            except OSError:
                return True
        return False

    # ------------------------------------------------------------ commands

    def init(self) -> bool:
        """initdb once; returns True when a new cluster was created."""
        if not POSTGIS_CONTROL.exists():
            raise SetupError("PostGIS for PostgreSQL 15 is not installed: apt-get install postgresql-15-postgis-3")
        if self.initialised():
            return False
        self._prepare_dirs()
        if self.pgdata.exists() and any(self.pgdata.iterdir()):
            raise SetupError(f"{self.pgdata} exists but holds no cluster: move it away and retry")
        self._run("initdb", "-D", str(self.pgdata), "-U", self.user, "--auth=trust",
                  "--encoding=UTF8", "--locale=C.UTF-8")
        conf = self.pgdata / "postgresql.conf"
        conf.write_text(conf.read_text() + SERVER_CONFIG.format(
            port=self.port, socket_dir=self.socket_dir,
            synchronous_commit="on" if self.durable else "off",
            fsync="on" if self.durable else "off"))
        return True

    def _set_port(self) -> None:
        """Keep postgresql.conf's port in line with CIVICGRID_PG_PORT (the last setting wins)."""
        conf = self.pgdata / "postgresql.conf"
        text = conf.read_text()
        line = f"port = {self.port}"
        if not text.rstrip().endswith(line):
            conf.write_text(text + f"\n{line}\n")

    def start(self) -> bool:
        """Start the server (initialising it first if needed); returns False if it was already up."""
        self.init()
        self._prepare_dirs()
        if self.running():
            return False
        pid_file = self.pgdata / "postmaster.pid"
        if pid_file.exists():
            # pg_ctl says no server runs from this directory: the pid file is left over from a crash
            pid_file.unlink()
        if self._port_in_use():
            raise SetupError(f"port {self.port} on 127.0.0.1 is in use by another program: "
                             f"set CIVICGRID_PG_PORT to a free port")
        self._set_port()
        owner = self._owner()
        if not self.log_file.exists():
            self.log_file.touch()
        if owner:
            entry = pwd.getpwnam(owner)
            os.chown(self.log_file, entry.pw_uid, entry.pw_gid)
        for _attempt in range(20):
            proc = self._run("pg_ctl", "start", "-D", str(self.pgdata), "-l", str(self.log_file),
                             "-w", "-t", "60", check=False)
            # after a crash the old server's children may hold shared memory for a moment
            if proc.returncode == 0 or "shared memory block is still in use" not in self.log_file.read_text(errors="replace")[-2000:]:
                break
            time.sleep(0.5)
        if proc.returncode != 0:
            tail = self.log_file.read_text(errors="replace").strip().splitlines()[-1:] or ["see " + str(self.log_file)]
            raise SetupError(f"PostgreSQL did not start: {tail[0]}")
        self._ensure_database()
        return True

    def _ensure_database(self) -> None:
        admin = f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres"
        for _ in range(50):
            try:
                with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
                    if conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]:
                        return   # a standby: its databases are the primary's
                    if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [self.db_name]).fetchone():
                        conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(self.db_name)))
                    return
            except psycopg.OperationalError:
                time.sleep(0.2)
        raise SetupError(f"PostgreSQL started but does not answer on 127.0.0.1:{self.port}")

    def stop(self) -> bool:
        if not self.running():
            return False
        self._run("pg_ctl", "stop", "-D", str(self.pgdata), "-m", "fast", "-w")
        return True
