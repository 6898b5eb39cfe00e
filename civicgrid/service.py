"""`civicgrid service install`: systemd units for a supervised deployment.

- `civicgrid-db.service`     the private cluster's postgres (Type=notify: Debian's server tells
                             systemd when it accepts connections), only when DATABASE_URL is unset;
- `civicgrid.service`        `civicgrid serve --workers N` (which also runs the case timers, the
                             job queue's runners and the daily backup), after the database;
- `civicgrid-timers.service` `civicgrid cases worker`: the case timers in their own process, so
                             they go on while the server restarts (both may run: each timer fires once).

All restart on failure. SIGTERM makes uvicorn stop accepting, let requests in flight finish for
CIVICGRID_SHUTDOWN_GRACE seconds, then exit; TimeoutStopSec leaves room for that.
"""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from civicgrid.settings import PREFIX, REPO_ROOT, Settings, get_settings

UNIT_DIR = Path("/etc/systemd/system")


def _environment(settings: Settings) -> str:
    """The CIVICGRID_* and DATABASE_URL variables of this shell, so the units run what was tried here
    (secrets are better kept in /etc/default/civicgrid, which the units also read)."""
    names = sorted(n for n in os.environ if n.startswith(PREFIX) or n == "DATABASE_URL")
    return "".join(f"Environment={shlex.quote(f'{n}={os.environ[n]}')}\n" for n in names)


def units(settings: Settings | None = None, workers: int = 2, user: str | None = None) -> dict[str, str]:
    """The unit files by name."""
    from civicgrid.db.cluster import PG_BIN, Cluster

    settings = settings or get_settings()
    exe = Path(sys.executable).with_name("civicgrid")
    user = user or ("root" if os.geteuid() == 0 else os.environ.get("USER", "civicgrid"))
    env = _environment(settings) + "EnvironmentFile=-/etc/default/civicgrid\n"
    grace = settings.shutdown_grace
    out: dict[str, str] = {}
    after = "network-online.target"
    if settings.uses_private_cluster:
        cluster = Cluster.from_settings(settings)
        db_user = "postgres" if os.geteuid() == 0 else user
        out["civicgrid-db.service"] = f"""[Unit]
Description=civicgrid private PostgreSQL cluster ({cluster.pgdata})
After=network.target

[Service]
Type=notify
User={db_user}
ExecStart={PG_BIN / 'postgres'} -D {cluster.pgdata}
ExecReload=/bin/kill -HUP $MAINPID
# SIGINT: PostgreSQL's fast shutdown (open transactions roll back, the server stops cleanly)
KillMode=mixed
KillSignal=SIGINT
TimeoutStopSec=120
Restart=on-failure
RestartSec=2s
OOMScoreAdjust=-900

[Install]
WantedBy=multi-user.target
"""
        after += " civicgrid-db.service"
    requires = "Requires=civicgrid-db.service\n" if settings.uses_private_cluster else ""
    common = f"""User={user}
WorkingDirectory={REPO_ROOT}
{env}Restart=on-failure
RestartSec=2s
"""
    out["civicgrid.service"] = f"""[Unit]
Description=civicgrid server (web map, /api, /ogc) on {settings.host}:{settings.port}
After={after}
Wants=network-online.target
{requires}
[Service]
Type=exec
{common}ExecStart={exe} serve --workers {workers}
# SIGTERM: stop accepting, let requests in flight finish (CIVICGRID_SHUTDOWN_GRACE = {grace:g} s)
KillSignal=SIGTERM
TimeoutStopSec={int(grace) + 10}

[Install]
WantedBy=multi-user.target
"""
    out["civicgrid-timers.service"] = f"""[Unit]
Description=civicgrid case timers (warnings, overdue notices)
After={after}
{requires}
[Service]
Type=exec
{common}ExecStart={exe} cases worker
KillSignal=SIGTERM
TimeoutStopSec=15

[Install]
WantedBy=multi-user.target
"""
    return out


def systemd_running() -> bool:
    return Path("/run/systemd/system").is_dir()


def verify_units(folder: Path) -> str | None:
    """`systemd-analyze verify` of written units (None when the tool is missing); its complaints, or ''."""
    tool = shutil.which("systemd-analyze")
    if not tool:
        return None
    proc = subprocess.run([tool, "verify", *map(str, sorted(folder.glob("*.service")))],
                          capture_output=True, text=True)
    return (proc.stderr + proc.stdout).strip() if proc.returncode != 0 else ""


def install(folder: Path, unit_texts: dict[str, str], enable: bool) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in unit_texts.items():
        (folder / name).write_text(text)
    done = [str(folder / n) for n in unit_texts]
    if enable:
        subprocess.run(["systemctl", "daemon-reload"], check=True)
        subprocess.run(["systemctl", "enable", "--now", *unit_texts], check=True)
    return done
