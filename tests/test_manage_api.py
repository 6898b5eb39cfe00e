"""The leaders' dashboard (/api/dashboard), the supervision board (/api/supervision/workload) and the
admin API (/api/admin/…, /api/audit?result=) on a private demo town: every number the dashboard and
the board show lists exactly its cases through GET /api/cases with the filter it carries."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def town(demo_url, pg_admin_url, tmp_path_factory):
    from databases import demo_app

    with demo_app(pg_admin_url, tmp_path_factory.mktemp("manage")) as client:
        from civicgrid.db import connect

        with connect(client.url) as conn:
            last = conn.execute("SELECT max(reported_at AT TIME ZONE 'Asia/Shanghai')::date AS d FROM cases").fetchone()
        client.last_day = last["d"].isoformat()
        yield client


def total(town, role, flt) -> int:
    r = town.get("/api/cases", params={**flt, "limit": 1}, headers=town.creds.headers(role))
    assert r.status_code == 200, (flt, r.text)
    return r.json()["total"]


def test_every_dashboard_number_drills_down_to_its_cases(town):
    r = town.get("/api/dashboard", params={"date": town.last_day, "days": 30, "top": 5},
                 headers=town.creds.headers("leader"))
    assert r.status_code == 200, r.text
    d = r.json()
    assert [t["key"] for t in d["today"]] == ["intake", "filed", "dispatched", "handled", "closed"]
    assert d["today"][0]["n"] > 0 and len(d["trend"]) == 30 and d["trend"][-1]["day"] == town.last_day
    assert len(d["by_category"]) == 5 and d["by_category"][0]["name"]
    assert sum(c["n"] for c in d["by_channel"]) == sum(c["n"] for c in d["by_community"]) > 0
    checks = [*d["today"], d["overdue"], d["open"], d["by_channel"][0], d["by_channel"][-1], d["by_category"][0],
              d["by_community"][0], d["by_department"][-1]]
    for item in checks:
        assert total(town, "leader", item["filter"]) == item["n"], item
    busiest = max(d["trend"], key=lambda t: t["intake"] + t["closed"])
    assert total(town, "leader", busiest["filter"]["intake"]) == busiest["intake"]
    assert total(town, "leader", busiest["filter"]["closed"]) == busiest["closed"]
    on_time = d["on_time"]
    assert on_time["closed"] > 0 and 0 <= on_time["rate"] <= 1
    assert total(town, "leader", on_time["filter"]) == on_time["on_time"]
    assert total(town, "leader", on_time["late_filter"]) == on_time["closed"] - on_time["on_time"]
    # the default day is today; bad input is a 400 naming the parameter
    assert town.get("/api/dashboard", headers=town.creds.headers("admin")).json()["date"]
    for params, field in (({"date": "yesterday"}, "date"), ({"days": "0"}, "days"), ({"colour": "red"}, "colour")):
        r = town.get("/api/dashboard", params=params, headers=town.creds.headers("leader"))
        assert r.status_code == 400 and r.json()["field"] == field, r.text
    r = town.get("/api/cases", params={"entered_from": "2026-01-01"}, headers=town.creds.headers("leader"))
    assert r.status_code == 400 and r.json()["field"] == "entered"


def test_department_board_numbers_list_their_cases(town):
    r = town.get("/api/supervision/workload", headers=town.creds.headers("dispatcher"))
    assert r.status_code == 200, r.text
    rows = r.json()["departments"]
    assert rows and sum(d["open"] for d in rows) > 0 and sum(d["overdue"] for d in rows) > 0
    for dept in rows[:3]:
        for key in ("open", "due_today", "overdue", "closed", "on_time"):
            assert total(town, "dispatcher", dept["filter"][key]) == dept[key], (dept["code"], key)


def login(town, username, password):
    town.cookies.clear()
    r = town.post("/api/auth/login", json={"username": username, "password": password})
    town.cookies.clear()
    return r.status_code


def test_admin_manages_users_and_keys_and_reads_the_audit(town):
    admin = town.creds.headers("admin")
    listed = town.get("/api/admin/users", headers=admin).json()
    assert {"dispatcher", "department_handler"} <= {r["code"] for r in listed["roles"]} and listed["officers"]
    dept = town.get("/api/labels").json()["departments"]
    code = sorted(dept)[0]
    for body, field in (({"username": "x1", "roles": ["dispatcher"]}, "username"),
                        ({"username": "wang.wu", "roles": ["sheriff"]}, "role"),
                        ({"username": "wang.wu", "roles": ["department_handler"]}, "department"),
                        ({"username": "wang.wu", "roles": []}, "roles")):
        r = town.post("/api/admin/users", json=body, headers=admin)
        assert r.status_code == 400 and r.json()["field"] == field, (body, r.text)
    r = town.post("/api/admin/users", json={"username": "wang.wu", "display_name": "王五",
                                            "roles": ["department_handler"], "department": code}, headers=admin)
    assert r.status_code == 201, r.text
    password = r.json()["password"]
    assert len(password) >= 10
    assert town.post("/api/admin/users", json={"username": "wang.wu", "roles": ["leader"]},
                     headers=admin).status_code == 409
    assert login(town, "wang.wu", password) == 200
    r = town.patch("/api/admin/users/wang.wu", json={"roles": ["department_handler", "leader"]}, headers=admin)
    assert r.json()["roles"] == ["department_handler", "leader"]
    fresh = town.post("/api/admin/users/wang.wu/password", headers=admin).json()["password"]
    assert login(town, "wang.wu", password) == 401 and login(town, "wang.wu", fresh) == 200

    r = town.post("/api/admin/keys", json={"username": "wang.wu", "scopes": ["read"], "days": 30}, headers=admin)
    assert r.status_code == 201, r.text
    key = r.json()
    bearer = {"Authorization": f"Bearer {key['token']}"}
    assert town.get("/api/auth/me", headers=bearer).json()["user"]["username"] == "wang.wu"
    assert town.post("/api/admin/keys", json={"username": "wang.wu", "scopes": ["root"]},
                     headers=admin).json()["field"].startswith("scopes")
    listed = {k["prefix"]: k for k in town.get("/api/admin/keys", headers=admin).json()["keys"]}
    assert listed[key["prefix"]]["status"] == "active" and "token" not in listed[key["prefix"]]
    assert town.post(f"/api/admin/keys/{key['prefix']}/revoke", headers=admin).json()["changed"] is True
    assert town.get("/api/cases", headers=bearer).status_code == 401
    assert town.post("/api/admin/users/wang.wu/disable", headers=admin).json()["changed"] is True
    assert login(town, "wang.wu", fresh) == 401
    assert town.post("/api/admin/users/nobody.here/disable", headers=admin).status_code == 404
    # 启用: he logs in again; a second enable changes nothing; an unknown user is a 404
    assert town.post("/api/admin/users/wang.wu/enable", headers=admin).json()["changed"] is True
    assert login(town, "wang.wu", fresh) == 200
    assert town.post("/api/admin/users/wang.wu/enable", headers=admin).json()["changed"] is False
    assert town.post("/api/admin/users/nobody.here/enable", headers=admin).status_code == 404

    entries = town.get("/api/audit", params={"action": "user.", "limit": 20}, headers=admin).json()["entries"]
    assert {"user.add", "user.roles", "user.password", "user.disable", "user.enable"} <= {e["action"] for e in entries}
    assert not any(fresh in str(e) or password in str(e) for e in entries)
    failed = town.get("/api/audit", params={"result": "failed", "actor": "wang.wu"}, headers=admin).json()["entries"]
    assert failed and all(e["action"] == "login.failure" for e in failed)
    ok = town.get("/api/audit", params={"result": "ok", "actor": "wang.wu"}, headers=admin).json()["entries"]
    assert ok and not any(e["action"].endswith(".failure") for e in ok)
    assert town.get("/api/audit", params={"result": "maybe"}, headers=admin).json()["field"] == "result"
    assert town.get("/api/admin/users", headers=town.creds.headers("leader")).status_code == 403
