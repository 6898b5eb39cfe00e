"""Credentials for tests and benchmarks: a user per (role, binding) with an API key, made on demand,
and `make_user`, a user with the Principal the access layer would build for him.

`Credentials(url).headers("dispatcher")` → {"Authorization": "Bearer cg_…"}; "public" → {} (anonymous).
Department handlers are bound to `department` (else the first department), grid officers to the
officer with code `officer` (else the first officer). Keys have scopes read and write.
"""
from __future__ import annotations

import re

from civicgrid.db import connect
from civicgrid.security import identity
from civicgrid.security.principal import Principal


def make_user(conn, username: str, roles, *, password: str | None = None, via: str = "session",
              department: str | None = None, officer: str | None = None) -> Principal:
    """A new user (identity.add_user, in the caller's transaction) and his Principal."""
    user = identity.add_user(conn, username, list(roles), password=password, department=department, officer=officer)
    officer_id = conn.execute("SELECT id FROM officer WHERE code = %s", [officer]).fetchone()["id"] if officer else None
    return Principal(user=user["username"], roles=frozenset(roles), user_id=user["id"], via=via,
                     department_code=department, officer_id=officer_id, officer_code=officer)


class Credentials:
    def __init__(self, url: str):
        self.url = url
        self._tokens: dict[tuple, str] = {}

    def token(self, role: str, user: str | None = None, *, department: str | None = None,
              officer: str | None = None) -> str:
        key = (role, user, department, officer)
        if key not in self._tokens:
            with connect(self.url) as conn:
                binding = {}
                if role == "department_handler":
                    binding["department"] = department or conn.execute(
                        "SELECT code FROM department ORDER BY code LIMIT 1").fetchone()["code"]
                if role == "grid_officer":
                    binding["officer"] = officer or conn.execute(
                        "SELECT code FROM officer ORDER BY code LIMIT 1").fetchone()["code"]
                if user:
                    name = re.sub(r"[^a-z0-9_.-]", "-", user.lower())[:40]
                else:
                    tail = "-".join(x for x in (binding.get("department"), binding.get("officer")) if x)
                    name = re.sub(r"[^a-z0-9_.-]", "-", f"t.{role}.{tail}".lower())[:40].rstrip("-.")
                found = conn.execute("SELECT ARRAY(SELECT role_code FROM app_user_role WHERE user_id = u.id) AS roles "
                                     "FROM app_user u WHERE username = %s", [name]).fetchone()
                if found is None:
                    identity.add_user(conn, name, [role], **binding)
                elif role not in found["roles"]:
                    identity.set_roles(conn, name, add=[role])
                self._tokens[key] = identity.create_key(conn, name, ["read", "write"], 1)["token"]
        return self._tokens[key]

    def headers(self, role: str, user: str | None = None, **binding) -> dict:
        if role == "public":
            return {}
        return {"Authorization": f"Bearer {self.token(role, user, **binding)}"}
