"""Helpers the tests import by name (test databases, the repository path, servers).

Kept out of conftest.py: with conftest files in tests/ and tests/web/, `from databases import …`
finds whichever conftest pytest loaded last, so tests import from here (and tests/web/browser.py).
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import psycopg

from civicgrid.testing import free_port, start_server

__all__ = ["REPO", "copy_demo", "create_database", "drop_database", "free_port", "make_reachable",
           "start_server"]

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


def copy_demo(admin_url: str) -> str:
    """A private writable copy of the session's demo town (drop it with drop_database)."""
    # a template must have no other connections while it is copied
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                     "WHERE datname = 'demo_template' AND pid <> pg_backend_pid()")
    return create_database(admin_url, template="demo_template")
