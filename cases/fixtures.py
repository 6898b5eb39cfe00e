"""pytest fixture for the cases tests: `cases_client` — the whole app (civicgrid.app.create_app) on a
fresh migrated database holding the tiny town of `testing.py`, role headers trusted, attachments in a
temporary directory. Import it into a test module: `from civicgrid.cases.fixtures import cases_client`."""
from __future__ import annotations

import os
from dataclasses import dataclass

import pytest

from civicgrid.cases import testing


@dataclass
class CasesClient:
    client: object
    url: str
    town: dict

    @staticmethod
    def headers(role: str, user: str | None = None) -> dict:
        return {"X-Civicgrid-Role": role, **({"X-Civicgrid-User": user} if user else {})}

    def upload(self, seed: int = 0) -> str:
        r = self.client.post("/api/attachments", files={"file": ("x.bin", testing.png_bytes(seed), "application/octet-stream")},
                             headers=self.headers("grid_officer", "GO-001"))
        assert r.status_code == 201, r.text
        return r.json()["sha256"]

    def self_handled_payload(self) -> dict:
        return {"channel": "patrol", "category_code": "06010", "lon": 116.607, "lat": 40.127, "self_handled": True,
                "photos_before": [self.upload(1)], "photos_after": [self.upload(2)]}

    def act(self, case_id: int, action: str, role: str, user: str | None = None, **body):
        if "version" not in body:
            body["version"] = self.client.get(f"/api/cases/{case_id}", headers=self.headers("shift_leader")).json()["version"]
        return self.client.post(f"/api/cases/{case_id}/actions/{action}", json=body, headers=self.headers(role, user))


@pytest.fixture
def cases_client(empty_db, tmp_path):
    from starlette.testclient import TestClient

    from civicgrid.app import create_app
    from civicgrid.db import connect
    from civicgrid.settings import get_settings

    names = ("DATABASE_URL", "CIVICGRID_DEV_ROLE_HEADER", "CIVICGRID_DATA_DIR")
    saved = {n: os.environ.get(n) for n in names}
    os.environ.update({"DATABASE_URL": empty_db, "CIVICGRID_DEV_ROLE_HEADER": "1", "CIVICGRID_DATA_DIR": str(tmp_path)})
    get_settings.cache_clear()
    try:
        with connect(empty_db) as conn:
            town = testing.build_town(conn)
        with TestClient(create_app()) as client:
            yield CasesClient(client, empty_db, town)
    finally:
        for n, v in saved.items():
            if v is None:
                os.environ.pop(n, None)
            else:
                os.environ[n] = v
        get_settings.cache_clear()
