"""Cases on the demo town (a private copy): intake lands in the town's real grids and department
rules, cases the generator wrote can be acted on, deadlines are back-filled, the public view works."""
from __future__ import annotations

import pytest

from civicgrid.db import connect
from civicgrid.testing import app_client


@pytest.fixture
def demo_client(demo_copy, tmp_path):
    with app_client(demo_copy, tmp_path) as client:
        yield client


def test_intake_and_flow_on_the_demo_town(demo_client, demo_copy):
    with connect(demo_copy) as conn:
        spot = conn.execute("""SELECT g.code, g.community_code, ST_X(p) AS lon, ST_Y(p) AS lat, r.officer_id
                               FROM unit_grid g CROSS JOIN LATERAL ST_PointOnSurface(g.geom) p
                               JOIN responsibility_grid_member m ON m.unit_grid_code = g.code
                               JOIN responsibility_grid r ON r.code = m.responsibility_grid_code
                               ORDER BY g.code LIMIT 1 OFFSET 100""").fetchone()
        # the demo load seeds the video-patrol cameras
        assert 0 < conn.execute("SELECT count(*) AS n FROM camera").fetchone()["n"] <= 20
        camera = conn.execute("SELECT code FROM camera ORDER BY code LIMIT 1").fetchone()["code"]
        component = conn.execute("SELECT id FROM component WHERE standard = 'GB/T 47678.5-2026' ORDER BY id LIMIT 1").fetchone()["id"]
        open_case = conn.execute("SELECT id, version FROM cases WHERE state = 'dispatched' ORDER BY id LIMIT 1").fetchone()
    r = demo_client.post("/api/cases", json={"channel": "patrol", "category_code": "01037", "lon": spot["lon"], "lat": spot["lat"]},
                         headers=demo_client.creds.headers("grid_officer"))
    assert r.status_code == 201, r.text
    case = r.json()
    assert case["unit_grid_code"] == spot["code"] and case["community_code"] == spot["community_code"]
    assert case["officer_id"] == spot["officer_id"] and case["department_code"] is not None
    assert case["case_number"].startswith("110113104")
    for payload, role in (({"channel": "video", "camera_code": camera, "category_code": "09006"}, "intake_operator"),
                          ({"channel": "component", "component_id": component}, "grid_officer"),
                          ({"channel": "hotline", "category_code": "06028", "address": "仁和镇某处"}, "intake_operator")):
        r = demo_client.post("/api/cases", json=payload, headers=demo_client.creds.headers(role))
        assert r.status_code == 201, r.text
    # a case written by the demo generator (workflow_version NULL → version 1) takes actions
    if open_case:
        r = demo_client.post(f"/api/cases/{open_case['id']}/actions/urge", json={"version": open_case["version"]},
                             headers=demo_client.creds.headers("leader"))
        assert r.status_code == 200 and r.json()["urge_count"] >= 1
    with connect(demo_copy) as conn:
        from civicgrid.cases.deadlines import backfill

        assert backfill(conn) >= 0
        conn.commit()
        assert conn.execute("SELECT count(*) AS n FROM case_public").fetchone()["n"] >= 1000
        assert conn.execute("SELECT count(*) AS n FROM case_public WHERE NOT is_closed AND sla_color IS NULL "
                            "AND workflow = 'standard' AND state <> 'suspended'").fetchone()["n"] == 0
    view = demo_client.get("/api/cases/overview", headers=demo_client.creds.headers("leader")).json()
    assert sum(s["n"] for s in view["by_state"]) >= 1004 and view["today"]["intake"] >= 4
