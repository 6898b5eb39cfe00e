"""pytest fixture for the cases tests: `cases_client` — the whole app (civicgrid.app.create_app) on a
fresh migrated database holding the tiny town of `testing.py`, callers authenticated with API keys
of users made per role (civicgrid.security.testing), attachments in a temporary directory.
Registered for every test module by `pytest_plugins` in tests/conftest.py."""
from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from civicgrid.cases import testing
from civicgrid.db import connect
from civicgrid.security.testing import Credentials


@dataclass
class CasesClient:
    client: object
    url: str
    town: dict
    credentials: Credentials = None

    def headers(self, role: str, user: str | None = None, **binding) -> dict:
        """A user of `role` (named after `user`); grid officers default to GO-001 or the officer code
        given as `user`; department handlers to `department=` or the first department."""
        if role == "grid_officer" and user and re.fullmatch(r"GO-\d{3}", user):
            binding.setdefault("officer", user)
        return self.credentials.headers(role, user, **binding)

    def upload(self, seed: int = 0) -> str:
        r = self.client.post("/api/attachments", files={"file": ("x.bin", testing.png_bytes(seed), "application/octet-stream")},
                             headers=self.headers("grid_officer", "GO-001"))
        assert r.status_code == 201, r.text
        return r.json()["sha256"]

    def make_case(self, **extra) -> dict:
        """A patrol report (GO-001, a 06010 matter near the town hall) through the intake; `extra`
        overrides the payload. Returns the intake's answer."""
        payload = {"channel": "patrol", "category_code": "06010", "lon": 116.605, "lat": 40.12, **extra}
        r = self.client.post("/api/cases", json=payload, headers=self.headers("grid_officer", "GO-001"))
        assert r.status_code == 201, r.text
        return r.json()

    def self_handled_payload(self) -> dict:
        return {"channel": "patrol", "category_code": "06010", "lon": 116.607, "lat": 40.127, "self_handled": True,
                "photos_before": [self.upload(1)], "photos_after": [self.upload(2)]}

    def act(self, case_id: int, action: str, role: str, user: str | None = None, **body):
        if "version" not in body:
            body["version"] = self.client.get(f"/api/cases/{case_id}", headers=self.headers("shift_leader")).json()["version"]
        binding = {}
        if role == "department_handler":  # the handler of the department the case is with (row-level rules)
            with connect(self.url) as conn:
                binding["department"] = conn.execute("SELECT department_code FROM cases WHERE id = %s",
                                                     [case_id]).fetchone()["department_code"]
        return self.client.post(f"/api/cases/{case_id}/actions/{action}", json=body,
                                headers=self.headers(role, user, **binding))


@pytest.fixture
def cases_client(empty_db, tmp_path):
    from civicgrid.testing import app_client

    with connect(empty_db) as conn:
        town = testing.build_town(conn)
    with app_client(empty_db, tmp_path) as client:
        yield CasesClient(client, empty_db, town, client.creds)
