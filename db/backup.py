"""Backups (数据备份): `civicgrid db backup|restore|verify|backups`.

Two methods, one layout under CIVICGRID_BACKUP_DIR (default `.data/backups`):

- the private cluster: pgBackRest (full and incremental backups of the whole cluster, WAL archived
  continuously, so a restore can stop at any moment since the oldest full backup); its repository
  is `pgbackrest/` and its configuration `pgbackrest.conf` beside it;
- DATABASE_URL: a logical backup: `pg_dump -Fc` of the database plus the cluster's roles
  (`pg_dumpall --roles-only`), because the row-security policies and grants name `civicgrid_web`
  and a dump restored without it loses them.

Every backup set also gets `sets/<label>/files.tar` (photos and uploaded survey files under the data
folder; photos are content-addressed and never rewritten, so the newest tar holds every older file)
and `sets/<label>/manifest.json`: what it is, sha256 of each artefact, and the row count of every
table plus a checksum of the key tables as of the backup's own consistent moment. `verify` restores
a set into a scratch cluster (another data directory and port), compares those numbers and records
the result; every backup and verification is a `backup_record` row (the operations assessment
reads them).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pwd
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import partial
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from civicgrid.db.cluster import PG_BIN
from civicgrid.errors import SetupError
from civicgrid.settings import Settings, get_settings

STANZA = "civicgrid"
# Tables whose content is compared row by row (a checksum), not only counted: who may log in, the
# cases and their history and photos.
KEY_TABLES = ("app_user", "app_user_role", "api_key", "cases", "case_event", "case_attachment", "attachment")
# Written after the backup it describes, so never part of the comparison.
SKIP_TABLES = ("backup_record", "yoyo_lock")
FILE_DIRS = ("attachments", "uploads")
LOGICAL_DUMP, LOGICAL_ROLES, FILES_TAR, MANIFEST = "db.dump", "roles.sql", "files.tar", "manifest.json"


def now() -> datetime:
    return datetime.now(timezone.utc)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def backup_dir(settings: Settings | None = None) -> Path:
    settings = settings or get_settings()
    return settings.backup_dir or settings.data_dir / "backups"


# ---------------------------------------------------------------- what a database holds

def table_numbers(conn: psycopg.Connection) -> tuple[dict[str, int], dict[str, str]]:
    """Row counts of every permanent table of `public` and sha256 checksums of the key tables, in
    the connection's current snapshot (call inside a REPEATABLE READ transaction for one moment)."""
    tables = [r[0] for r in conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relpersistence = 'p' "
        "AND NOT c.relispartition AND c.relname <> ALL (%s) ORDER BY 1", [list(SKIP_TABLES)])]
    counts = {}
    for name in tables:
        counts[name] = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(name))).fetchone()[0]
    # text forms of timestamps follow the session's time zone: fix it so two clusters agree
    conn.execute("SET LOCAL timezone = 'UTC'")
    checksums = {}
    for name in KEY_TABLES:
        if name in counts:
            checksums[name] = conn.execute(sql.SQL(
                "SELECT encode(sha256(convert_to(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text COLLATE \"C\"), ''), "
                "'UTF8')), 'hex') FROM {} t").format(sql.Identifier(name))).fetchone()[0]
    return counts, checksums


def compare(manifest: dict, counts: dict, checksums: dict) -> dict:
    """What differs between a backup's numbers and a restored database's: {} when nothing does."""
    diff = {}
    for name in sorted(set(manifest["counts"]) | set(counts)):
        if manifest["counts"].get(name) != counts.get(name):
            diff[name] = {"backup": manifest["counts"].get(name), "restored": counts.get(name)}
    for name, value in manifest["checksums"].items():
        if checksums.get(name) != value:
            diff.setdefault(name, {})["checksum"] = "differs"
    return diff


# ---------------------------------------------------------------- records

def record(url: str, row: dict) -> int | None:
    """One backup_record row in the live database; None when it cannot be written (a backup is
    worth keeping even when its record is not)."""
    columns = ["kind", "method", "label", "started_at", "finished_at", "ok", "size_bytes", "checksum", "verifies", "detail"]
    values = [row.get(c) for c in columns]
    values[-1] = json.dumps(row.get("detail") or {}, default=str)
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
            return conn.execute(sql.SQL("INSERT INTO backup_record ({}) VALUES ({}) RETURNING id").format(
                sql.SQL(", ").join(map(sql.Identifier, columns)), sql.SQL(", ").join(sql.Placeholder() * len(columns))),
                values).fetchone()[0]
    except psycopg.Error:
        return None


def records(url: str, limit: int = 50) -> list[dict]:
    with psycopg.connect(url, row_factory=dict_row, connect_timeout=5) as conn:
        return conn.execute("SELECT id, kind, method, label, started_at, finished_at, ok, size_bytes, checksum, "
                            "verifies, detail FROM backup_record ORDER BY started_at DESC, id DESC LIMIT %s",
                            [limit]).fetchall()


def record_id(url: str, label: str) -> int | None:
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            row = conn.execute("SELECT id FROM backup_record WHERE label = %s AND kind <> 'verify' "
                               "ORDER BY id DESC LIMIT 1", [label]).fetchone()
        return row[0] if row else None
    except psycopg.Error:
        return None


# ---------------------------------------------------------------- sets on disk

def sets(root: Path) -> list[dict]:
    """The manifests of every complete backup set, oldest first."""
    found = []
    for path in sorted((root / "sets").glob(f"*/{MANIFEST}")):
        with contextlib.suppress(ValueError, OSError):
            found.append(json.loads(path.read_text()))
    return sorted(found, key=lambda m: m["finished_at"])


def find_set(root: Path, label: str | None = None, before: datetime | None = None) -> dict:
    found = sets(root)
    if label:
        found = [m for m in found if m["label"] == label]
    if before:
        found = [m for m in found if datetime.fromisoformat(m["finished_at"]) <= before]
    if not found:
        what = f"backup {label!r}" if label else "a backup" + (f" finished before {before.isoformat()}" if before else "")
        raise SetupError(f"no {what} in {root} (CIVICGRID_BACKUP_DIR): civicgrid db backups lists them")
    return found[-1]


def _pack_files(data_dir: Path, target: Path) -> list[str]:
    included = []
    with tarfile.open(target, "w") as tar:
        for name in FILE_DIRS:
            folder = data_dir / name
            if folder.is_dir():
                tar.add(folder, arcname=name)
                included.append(name)
    return included


def unpack_files(manifest: dict, root: Path, data_dir: Path) -> int:
    """Put a set's photos and uploads back under `data_dir` (existing files are kept: same names,
    same bytes); returns the number of files."""
    tar_path = root / "sets" / manifest["label"] / FILES_TAR
    if sha256_file(tar_path) != manifest["artefacts"][FILES_TAR]["sha256"]:
        raise SetupError(f"{tar_path} does not match its checksum: the backup's files are damaged")
    data_dir.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tar_path) as tar:
        members = [m for m in tar.getmembers() if m.name.split("/", 1)[0] in FILE_DIRS]
        tar.extractall(data_dir, members=members, filter="data")
    return sum(1 for m in members if m.isfile())


def _finish_set(root: Path, manifest: dict, folder: Path) -> dict:
    manifest["artefacts"] = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.name != MANIFEST:
            manifest["artefacts"][path.name] = {"sha256": sha256_file(path), "size": path.stat().st_size}
    manifest["finished_at"] = now().isoformat()
    (folder / (MANIFEST + ".tmp")).write_text(json.dumps(manifest, indent=1, sort_keys=True))
    (folder / (MANIFEST + ".tmp")).rename(folder / MANIFEST)   # a set without its manifest is unfinished
    return manifest


def set_checksum(manifest: dict) -> str:
    """One sha256 for the record: over the artefacts' own checksums (and pgBackRest's label)."""
    text = "\n".join(f"{name} {a['sha256']}" for name, a in sorted(manifest["artefacts"].items()))
    return hashlib.sha256((manifest["label"] + "\n" + text).encode()).hexdigest()


def set_size(manifest: dict) -> int:
    return sum(a["size"] for a in manifest["artefacts"].values()) + int(manifest.get("pgbackrest_size") or 0)


def _label(kind: str) -> str:
    return now().strftime("%Y%m%dT%H%M%SZ") + "-" + kind


def prune(root: Path, keep: int) -> list[str]:
    """Keep the newest `keep` logical sets; pgBackRest expires its own (repo1-retention-full)."""
    logical = [m for m in sets(root) if m["method"] == "pg_dump"]
    gone = []
    for manifest in logical[:-keep] if keep else []:
        shutil.rmtree(root / "sets" / manifest["label"], ignore_errors=True)
        gone.append(manifest["label"])
    return gone


# ---------------------------------------------------------------- logical (DATABASE_URL)

def _pg_env(url: str) -> dict:
    return {**os.environ, "PGCONNECT_TIMEOUT": "10"}


def logical_backup(url: str, data_dir: Path, root: Path) -> dict:
    """pg_dump of one snapshot, the roles, the files; the counts of that same snapshot."""
    started = now()
    label = _label("logical")
    folder = root / "sets" / label
    folder.mkdir(parents=True)
    try:
        with psycopg.connect(url, autocommit=False, connect_timeout=10) as conn:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
            counts, checksums = table_numbers(conn)
            # the dump sees exactly the rows just counted (the exporting transaction stays open)
            _run([str(PG_BIN / "pg_dump"), "-Fc", "-Z", "6", "--snapshot", snapshot, "-f", str(folder / LOGICAL_DUMP), "-d", url], url)
            roles = _run([str(PG_BIN / "pg_dumpall"), "--roles-only", "-d", url], url, check=False)
            if roles.returncode != 0:
                # not a superuser: pg_authid is unreadable; keep the roles this database's grants need
                roles_sql = _roles_from_catalog(conn)
            else:
                roles_sql = roles.stdout
        (folder / LOGICAL_ROLES).write_text(roles_sql)
        included = _pack_files(data_dir, folder / FILES_TAR)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return _finish_set(root, {"label": label, "kind": "logical", "method": "pg_dump", "started_at": started.isoformat(),
                              "counts": counts, "checksums": checksums, "files": included}, folder)


def _roles_from_catalog(conn) -> str:
    lines = []
    for r in conn.execute("SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname = 'civicgrid_web' "
                          "OR oid IN (SELECT member FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
                          "WHERE g.rolname = 'civicgrid_web')"):
        lines.append(f"CREATE ROLE {sql.Identifier(r[0]).as_string(conn)};")
        lines.append(f"ALTER ROLE {sql.Identifier(r[0]).as_string(conn)} WITH {'LOGIN' if r[1] else 'NOLOGIN'};")
    return "\n".join(lines) + "\n"


def _run(cmd: list[str], url: str | None = None, check: bool = True, user: str | None = None) -> subprocess.CompletedProcess:
    if user:
        cmd = ["runuser", "-u", user, "--", *cmd]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_pg_env(url) if url else None)
    if check and proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        # pg_dump's messages may carry the URL; keep the last line, without a password
        last = re.sub(r"://[^@/\s]*@", "://", detail[-1]) if detail else f"exit {proc.returncode}"
        raise SetupError(f"{Path(cmd[4] if user else cmd[0]).name} failed: {last}")
    return proc


ROLE_CREATE = re.compile(r'^CREATE ROLE ("?[^";\s]+"?);$')
ROLE_ALTER = re.compile(r'^ALTER ROLE ("?[^";\s]+"?) ')


def restore_roles(conn: psycopg.Connection, text: str) -> list[str]:
    """Create the roles of a backup that the cluster lacks (with their attributes and memberships);
    roles that exist are left as they are (the restoring cluster's superuser, a shared civicgrid_web)."""
    created: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if m := ROLE_CREATE.match(line):
            name = m.group(1).strip('"')
            if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name]).fetchone():
                conn.execute(line)
                created.append(name)
        elif (m := ROLE_ALTER.match(line)) and m.group(1).strip('"') in created:
            # SUPERUSER and the like need a superuser: without one the role keeps its defaults
            with contextlib.suppress(psycopg.Error), conn.transaction():
                conn.execute(line)
        elif line.startswith("GRANT "):
            with contextlib.suppress(psycopg.Error), conn.transaction():
                conn.execute(re.sub(r" GRANTED BY \S+;$", ";", line))
    return created


DUMP_SEARCH_PATH = "SELECT pg_catalog.set_config('search_path', '', false);"


def _replay_dump(dump: Path, url: str) -> None:
    """pg_restore's script into psql, in one transaction, with `public` on the search path: the
    dump qualifies its own names, but our SQL functions call each other unqualified (written for
    the default path) and generated columns and index expressions run them during the restore."""
    restore = subprocess.Popen([str(PG_BIN / "pg_restore"), "--no-owner", "-f", "-", str(dump)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    psql = subprocess.Popen([str(PG_BIN / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction",
                             "-d", url], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**_pg_env(url), "PGOPTIONS": "-c client_min_messages=warning"})
    head = restore.stdout.read(1 << 16)
    if DUMP_SEARCH_PATH.encode() not in head:
        restore.kill()
        psql.kill()
        raise SetupError(f"{dump} is not a pg_dump archive civicgrid can restore (no search_path line)")
    try:
        psql.stdin.write(head.replace(DUMP_SEARCH_PATH.encode(),
                                      b"SELECT pg_catalog.set_config('search_path', 'public', false);", 1))
        shutil.copyfileobj(restore.stdout, psql.stdin, 1 << 20)
        psql.stdin.close()
    except BrokenPipeError:
        pass   # psql stopped at an error: its message follows
    errors = psql.stderr.read().decode(errors="replace").strip().splitlines()
    restore.wait()
    if psql.wait() != 0 or restore.returncode != 0:
        detail = errors or restore.stderr.read().decode(errors="replace").strip().splitlines()
        raise SetupError(f"restore failed: {detail[0] if detail else 'exit ' + str(psql.returncode)}")


def database_is_empty(url: str) -> bool:
    with psycopg.connect(url, connect_timeout=10) as conn:
        return not conn.execute("SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                                "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v') "
                                "AND c.relname <> 'spatial_ref_sys' LIMIT 1").fetchone()


def logical_restore(manifest: dict, root: Path, url: str) -> None:
    """Roles first (the policies and grants name them), then the dump; the restoring login owns the
    tables (so, like the original owner, it bypasses row security) and may switch to civicgrid_web."""
    folder = root / "sets" / manifest["label"]
    for name in (LOGICAL_DUMP, LOGICAL_ROLES):
        if sha256_file(folder / name) != manifest["artefacts"][name]["sha256"]:
            raise SetupError(f"{folder / name} does not match its checksum: the backup is damaged")
    if not database_is_empty(url):
        raise SetupError("the target database is not empty: restore into a new database (or `civicgrid db reset`"
                         " first, which drops everything)")
    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        restore_roles(conn, (folder / LOGICAL_ROLES).read_text())
    _replay_dump(folder / LOGICAL_DUMP, url)
    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        if not conn.execute("SELECT pg_has_role(current_user, 'civicgrid_web', 'MEMBER')").fetchone()[0]:
            conn.execute(sql.SQL("GRANT civicgrid_web TO {}").format(sql.Identifier(
                conn.execute("SELECT current_user").fetchone()[0])))
        conn.execute("ANALYZE")


# ---------------------------------------------------------------- pgBackRest (the private cluster)

@dataclass
class BackRest:
    """pgBackRest for one private cluster: its configuration, the archive settings in the cluster,
    the commands (run as the cluster's owner)."""
    cluster: object             # civicgrid.db.cluster.Cluster
    root: Path                  # CIVICGRID_BACKUP_DIR

    @property
    def conf(self) -> Path:
        return self.root / "pgbackrest.conf"

    @property
    def owner(self) -> str | None:
        return self.cluster._owner()

    def write_conf(self, pgdata: Path | None = None, port: int | None = None) -> None:
        repo = self.root / "pgbackrest"
        for folder in (self.root, repo, self.root / "log", self.root / "lock"):
            folder.mkdir(parents=True, exist_ok=True)
            self._chown(folder)
        self.conf.write_text(f"""[global]
repo1-path={repo}
repo1-retention-full=4
log-path={self.root / 'log'}
lock-path={self.root / 'lock'}
log-level-console=warn
log-level-file=info
compress-type=lz4
start-fast=y
archive-async=n

[{STANZA}]
pg1-path={pgdata or self.cluster.pgdata}
pg1-port={port or self.cluster.port}
pg1-socket-path={self.cluster.socket_dir}
pg1-user={self.cluster.user}
""")
        self._chown(self.conf)

    def _chown(self, path: Path) -> None:
        if self.owner:
            entry = pwd.getpwnam(self.owner)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        if not shutil.which("pgbackrest"):
            raise SetupError("pgBackRest is not installed: apt-get install pgbackrest")
        return _run(["pgbackrest", f"--config={self.conf}", f"--stanza={STANZA}", *args], check=check, user=self.owner)

    def archive_settings(self) -> str:
        return (f"\n# civicgrid: WAL archived by pgBackRest ({self.conf})\n"
                f"archive_mode = on\n"
                f"archive_command = 'pgbackrest --config={self.conf} --stanza={STANZA} archive-push %p'\n"
                f"wal_level = replica\n")

    def ensure_archiving(self) -> bool:
        """archive_mode needs a restart: done once, the first time a backup is asked for; returns
        True when the cluster was restarted."""
        self.write_conf()
        conf = self.cluster.pgdata / "postgresql.conf"
        text = conf.read_text()
        settings = self.archive_settings()
        if settings in text:   # not only at the end: `db start` appends the port after it
            return False
        conf.write_text(text + settings)
        if self.cluster.running():
            self.cluster.stop()
            self.cluster.start()
            return True
        return False

    def info(self) -> list[dict]:
        proc = self.run("info", "--output=json", check=False)
        try:
            data = json.loads(proc.stdout or "[]")
        except ValueError:
            return []
        return data[0].get("backup", []) if data else []


def start_private_cluster(cluster, settings: Settings) -> bool:
    """Start the private cluster with WAL archiving already on when daily backups are enabled:
    archive_mode changes only with a restart, and the first daily backup must not restart a cluster
    that is serving users. Returns False when it was already running."""
    cluster.init()
    archive = settings.backup_interval_hours > 0 and shutil.which("pgbackrest") is not None
    br = BackRest(cluster, backup_dir(settings))
    if archive and not cluster.running():
        br.ensure_archiving()
    started = cluster.start()
    if archive and not br.info():
        # until the stanza exists every archive-push fails and WAL piles up
        br.run("stanza-create", check=False)   # a second create of the same stanza is a no-op error
    return started


def physical_backup(cluster, root: Path, kind: str) -> dict:
    """A pgBackRest full or incremental backup, then a restore point at one consistent moment with
    the counts: every table is share-locked (writers wait; reads go on) while the point is written
    and counted, so a restore to that point must show exactly those numbers."""
    br = BackRest(cluster, root)
    br.ensure_archiving()
    if not br.info():
        br.run("stanza-create", check=False)   # a second create of the same stanza is a no-op error
        br.run("check")
    started = now()
    br.run(f"--type={'full' if kind == 'full' else 'incr'}", "backup")
    label = br.info()[-1]["label"]
    folder = root / "sets" / label
    folder.mkdir(parents=True, exist_ok=True)
    # read committed on purpose: each count sees the locked tables as of the restore point
    with psycopg.connect(cluster.dsn, autocommit=False, connect_timeout=10) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT format('%%I', c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relpersistence = 'p' "
            "AND NOT c.relispartition AND c.relname <> ALL (%s)", [list(SKIP_TABLES)])]
        if tables:
            conn.execute(f"LOCK TABLE {', '.join(tables)} IN SHARE MODE")
        conn.execute("SELECT pg_create_restore_point(%s)", [label])
        counts, checksums = table_numbers(conn)
        conn.commit()
        # the point must reach the archive before a restore can stop there
        conn.autocommit = True
        conn.execute("SELECT pg_switch_wal()")
    included = _pack_files(cluster.data_dir, folder / FILES_TAR)
    size = next((b.get("info", {}).get("repository", {}).get("delta") for b in br.info() if b["label"] == label), None)
    return _finish_set(root, {"label": label, "kind": kind, "method": "pgbackrest", "started_at": started.isoformat(),
                              "counts": counts, "checksums": checksums, "files": included,
                              "restore_point": label, "pgbackrest_size": size}, folder)


def physical_restore(cluster, root: Path, manifest: dict | None, target_time: datetime | None,
                     scratch: bool = False) -> None:
    """pgBackRest restore into `cluster` (stopped first; its data directory may not exist yet): to the
    set's restore point, or to `target_time` (the backup before it is chosen, WAL replayed up to it)."""
    br = BackRest(cluster, root)
    if not br.conf.exists():
        raise SetupError(f"no pgBackRest configuration in {root} (CIVICGRID_BACKUP_DIR)")
    if cluster.running():
        cluster.stop()
    cluster.pgdata.mkdir(parents=True, exist_ok=True)
    cluster._prepare_dirs()
    os.chmod(cluster.pgdata, 0o700)
    args = [f"--pg1-path={cluster.pgdata}", "--delta", "--target-action=promote"]
    if target_time is not None:
        args += ["--type=time", "--target=" + target_time.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f+00")]
    else:
        args += [f"--set={manifest['label']}", "--type=name", f"--target={manifest['restore_point']}"]
    if scratch:
        args.append("--archive-mode=off")
    br.run("restore", *args)
    conf = cluster.pgdata / "postgresql.conf"
    extra = (f"\n# civicgrid: restored here\nport = {cluster.port}\nunix_socket_directories = '{cluster.socket_dir}'\n")
    if scratch:
        extra += "shared_buffers = 128MB\narchive_mode = off\n"
    else:
        # from now on this cluster is the one archived and backed up
        br.write_conf()
        extra += br.archive_settings()
    conf.write_text(conf.read_text() + extra)
    cluster.start()
    deadline = time.monotonic() + 600
    with psycopg.connect(cluster.dsn, autocommit=True, connect_timeout=10) as conn:
        while conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]:
            if time.monotonic() > deadline:
                raise SetupError("the restored cluster is still replaying WAL after 10 minutes")
            time.sleep(0.2)


# ---------------------------------------------------------------- the commands

FULL_EVERY_S = 7 * 86400


def _physical_kind(br: BackRest) -> str:
    """Incremental, except a full one each week (and the first): a restore then replays at most a
    week of incrementals."""
    if not br.conf.exists():
        return "full"
    fulls = [b["timestamp"]["start"] for b in br.info() if b.get("type") == "full"]
    return "incremental" if fulls and time.time() - max(fulls) < FULL_EVERY_S else "full"


def backup(settings: Settings | None = None, kind: str | None = None) -> dict:
    """Make one backup set and record it; returns its manifest (with `record_id`)."""
    settings = settings or get_settings()
    root = backup_dir(settings)
    root.mkdir(parents=True, exist_ok=True)
    started = now()
    if settings.uses_private_cluster:
        from civicgrid.db.cluster import Cluster

        cluster = Cluster.from_settings(settings)
        kind = kind or _physical_kind(BackRest(cluster, root))
        make = (partial(logical_backup, settings.dsn, settings.data_dir, root) if kind == "logical"
                else partial(physical_backup, cluster, root, kind))
    else:
        if kind not in (None, "logical"):
            raise SetupError(f"a {kind} backup needs the private cluster (pgBackRest); with DATABASE_URL "
                             f"backups are logical (pg_dump)")
        kind = "logical"
        make = partial(logical_backup, settings.dsn, settings.data_dir, root)
    method = "pg_dump" if kind == "logical" else "pgbackrest"
    try:
        manifest = make()
    except Exception as exc:
        record(settings.dsn, {"kind": kind, "method": method, "started_at": started, "finished_at": now(), "ok": False,
                              "detail": {"error": str(exc)[:500]}})
        raise
    manifest["record_id"] = record(settings.dsn, {
        "kind": kind, "method": method, "label": manifest["label"], "started_at": started, "finished_at": now(),
        "ok": True, "size_bytes": set_size(manifest), "checksum": set_checksum(manifest),
        "detail": {"files": manifest["files"], "tables": len(manifest["counts"]),
                   "rows": sum(manifest["counts"].values()), "artefacts": manifest["artefacts"]}})
    prune(root, settings.backup_keep)
    return manifest


def restore(settings: Settings | None = None, label: str | None = None, to: datetime | None = None) -> dict:
    """Restore a set (the newest by default, or the one before `to`) into the configured database:
    the private cluster (created if missing — another data directory is a fresh cluster) or DATABASE_URL."""
    settings = settings or get_settings()
    root = backup_dir(settings)
    # photos are only ever added: with a point in time the newest set's files cover it too
    manifest = find_set(root, label)
    if to is not None and not settings.uses_private_cluster:
        raise SetupError("a restore to a point in time needs the private cluster's pgBackRest archive")
    if to is not None or manifest["method"] == "pgbackrest":
        if not settings.uses_private_cluster:
            raise SetupError(f"backup {manifest['label']} is a pgBackRest backup of a private cluster: "
                             f"unset DATABASE_URL to restore it")
        from civicgrid.db.cluster import Cluster

        physical_restore(Cluster.from_settings(settings), root, None if to else manifest, to)
    else:
        if settings.uses_private_cluster:
            from civicgrid.db.cluster import Cluster

            Cluster.from_settings(settings).start()
        logical_restore(manifest, root, settings.dsn)
    files = unpack_files(manifest, root, settings.data_dir)
    return {"label": manifest["label"], "method": manifest["method"], "files": files, "to": to}


def verify(settings: Settings | None = None, label: str | None = None) -> dict:
    """Restore a set into a scratch cluster, compare its numbers with the set's, record the result."""
    from civicgrid.db.cluster import Cluster
    from civicgrid.testing import free_port

    settings = settings or get_settings()
    root = backup_dir(settings)
    manifest = find_set(root, label)
    started = now()
    scratch_dir = Path(tempfile.mkdtemp(prefix="verify-", dir=root))
    os.chmod(scratch_dir, 0o755)
    # a physical restore brings its own databases; a logical one gets a new, empty database
    scratch = Cluster(data_dir=scratch_dir, port=free_port(), user=settings.db_user, durable=False,
                      db_name=settings.db_name if manifest["method"] == "pgbackrest" else "civicgrid_verify")
    result: dict = {"label": manifest["label"], "method": manifest["method"]}
    try:
        if manifest["method"] == "pgbackrest":
            physical_restore(scratch, root, manifest, None, scratch=True)
        else:
            scratch.start()
            logical_restore(manifest, root, scratch.dsn)
        with psycopg.connect(scratch.dsn, autocommit=False, connect_timeout=10) as conn:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            counts, checksums = table_numbers(conn)
        with tempfile.TemporaryDirectory(dir=root) as files_dir:
            result["files"] = unpack_files(manifest, root, Path(files_dir))
        result["differences"] = compare(manifest, counts, checksums)
        result["tables"], result["rows"] = len(counts), sum(counts.values())
        result["checksummed"] = sorted(checksums)
        result["ok"] = not result["differences"]
    except Exception as exc:
        result.update(ok=False, error=str(exc)[:500])
    finally:
        with contextlib.suppress(Exception):
            scratch.stop()
        shutil.rmtree(scratch_dir, ignore_errors=True)
    result["seconds"] = round((now() - started).total_seconds(), 1)
    result["record_id"] = record(settings.dsn, {
        "kind": "verify", "method": manifest["method"], "label": manifest["label"], "started_at": started,
        "finished_at": now(), "ok": result["ok"], "checksum": set_checksum(manifest),
        "verifies": record_id(settings.dsn, manifest["label"]), "detail": result})
    return result


# ---------------------------------------------------------------- the daily timer

BACKUP_LOCK = 0x6b61636b7570   # pg_try_advisory_lock key: one backup at a time across workers and hosts


def backup_if_due(settings: Settings | None = None) -> tuple[dict, dict] | None:
    """Back up and verify when the last good backup is older than CIVICGRID_BACKUP_INTERVAL_HOURS;
    several servers may call this at once: one does the work, the others return None."""
    settings = settings or get_settings()
    if settings.backup_interval_hours <= 0:
        return None
    with psycopg.connect(settings.dsn, autocommit=True, connect_timeout=5) as conn:
        if not conn.execute("SELECT pg_try_advisory_lock(%s)", [BACKUP_LOCK]).fetchone()[0]:
            return None
        try:
            due = conn.execute("SELECT coalesce(max(finished_at) < now() - make_interval(secs => %s), true) "
                               "FROM backup_record WHERE ok AND kind <> 'verify'",
                               [settings.backup_interval_hours * 3600]).fetchone()[0]
            if not due:
                return None
            manifest = backup(settings)
            return manifest, verify(settings, manifest["label"])
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", [BACKUP_LOCK])
