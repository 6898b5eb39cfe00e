"""Attacks on the access layer, each through HTTP against a private copy of the demo town: every one
must fail safely with the right 4xx and leave the data as it was."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from civicgrid.db import connect
from civicgrid.security import identity
from civicgrid.testing import app_client

PASSWORD = "correct horse battery"


@pytest.fixture
def town(demo_copy, tmp_path):
    with app_client(demo_copy, tmp_path, base_url="http://127.0.0.1") as client:
        yield client


def one(url, query, params=None):
    with connect(url) as conn:
        return conn.execute(query, params).fetchone()


def snapshot(url) -> dict:
    return one(url, "SELECT (SELECT count(*) FROM cases) AS cases, (SELECT sum(version) FROM cases) AS versions, "
                    "(SELECT count(*) FROM component) AS components, (SELECT count(*) FROM case_event) AS events")


def error(r, status: int, field: str | None = None) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["code"] and body["description"]
    if field:
        assert body.get("field") == field, body
    return body


# ---------------------------------------------------------------- tokens

def test_missing_forged_expired_revoked_and_read_only_tokens(town):
    before = snapshot(town.url)
    error(town.get("/api/cases"), 401, "Authorization")
    error(town.get("/api/cases", headers={"Authorization": "Basic YWRtaW46YWRtaW4="}), 401, "Authorization")
    good = town.creds.token("leader")
    assert town.get("/api/cases?limit=1", headers={"Authorization": f"Bearer {good}"}).status_code == 200
    prefix = good.split("_")[1]
    forged = f"cg_{prefix}_{'A' * 43}"
    error(town.get("/api/cases", headers={"Authorization": f"Bearer {forged}"}), 401, "Authorization")
    error(town.get("/api/cases", headers={"Authorization": "Bearer cg_00000000_" + "x" * 43}), 401)
    error(town.get("/api/cases", headers={"Authorization": "Bearer ' OR 1=1 --"}), 401)
    with connect(town.url) as conn:
        expired = identity.create_key(conn, "t.leader", ["read"], 1)
        conn.execute("UPDATE api_key SET created_at = now() - interval '3 days', expires_at = now() - interval '1 day' "
                     "WHERE prefix = %s", [expired["prefix"]])
        revoked = identity.create_key(conn, "t.leader", ["read"], 1)
        identity.revoke_key(conn, revoked["prefix"])
        read_only = identity.create_key(conn, "t.leader", ["read"], 1)
    for key in (expired, revoked):
        body = error(town.get("/api/cases", headers={"Authorization": f"Bearer {key['token']}"}), 401, "Authorization")
        assert "expired or revoked" in body["description"]
    case = one(town.url, "SELECT id, version FROM cases WHERE NOT is_closed ORDER BY id LIMIT 1")
    r = town.post(f"/api/cases/{case['id']}/actions/urge", json={"version": case["version"]},
                  headers={"Authorization": f"Bearer {read_only['token']}"})
    assert "scopes" in error(r, 403, "role")["description"]
    # (other tests on this town leave refused rows of their own)
    refused = one(town.url, "SELECT actor, target, detail FROM audit_log WHERE action = 'POST (refused)' "
                            "AND actor = 't.leader' ORDER BY id DESC LIMIT 1")
    assert refused["detail"]["status"] == 403 and refused["target"] == f"/api/cases/{case['id']}/actions/urge"
    # a disabled user's keys stop working at once
    with connect(town.url) as conn:
        identity.disable_user(conn, "t.leader")
    error(town.get("/api/cases", headers={"Authorization": f"Bearer {good}"}), 401)
    assert snapshot(town.url) == before
    failures = one(town.url, "SELECT count(*) AS n FROM audit_log WHERE action = 'auth.failure'")["n"]
    assert failures >= 6


# ---------------------------------------------------------------- one user's token against another's rows

def test_row_level_visibility_through_the_api(town):
    depts = one(town.url, """SELECT array_agg(department_code ORDER BY n DESC) AS d FROM (
                               SELECT department_code, count(*) AS n FROM cases WHERE department_code IS NOT NULL
                               AND NOT is_closed GROUP BY 1) x""")["d"]
    mine, other = depts[0], depts[1]
    theirs = one(town.url, "SELECT id, version, state FROM cases WHERE department_code = %s AND NOT is_closed "
                           "ORDER BY id LIMIT 1", [other])
    handler = town.creds.headers("department_handler", department=mine)
    listed = town.get("/api/cases?limit=1000", headers=handler).json()["cases"]
    assert listed and {c["department_code"] for c in listed} == {mine}
    error(town.get(f"/api/cases/{theirs['id']}", headers=handler), 404)
    error(town.get(f"/api/cases/{theirs['id']}/timeline", headers=handler), 404)
    r = town.post(f"/api/cases/{theirs['id']}/actions/feedback", json={"version": theirs["version"], "comment": "x"},
                  headers=handler)
    error(r, 404)
    assert one(town.url, "SELECT version FROM cases WHERE id = %s", [theirs["id"]])["version"] == theirs["version"]
    assert town.get(f"/api/departments/{other}/queue", headers=handler).json()["cases"] == []
    # a grid officer: the cases of his grids and his own reports, nothing else
    officer = one(town.url, "SELECT o.id, o.code, array_agg(r.code) AS grids FROM officer o "
                            "JOIN responsibility_grid r ON r.officer_id = o.id GROUP BY o.id ORDER BY o.code LIMIT 1")
    go = town.creds.headers("grid_officer", officer=officer["code"])
    seen = town.get("/api/cases?limit=1000", headers=go).json()["cases"]
    expected = one(town.url, "SELECT count(*) AS n FROM cases WHERE responsibility_grid_code = ANY(%s) "
                             "OR reporter_officer_id = %s", [officer["grids"], officer["id"]])["n"]
    assert 0 < len(seen) == min(expected, 1000)
    assert all(c["responsibility_grid_code"] in officer["grids"] or c["reporter_officer_id"] == officer["id"] for c in seen)
    # officer positions: command center yes, department handler and grid officer no
    assert town.get("/ogc/collections/officer-positions/items?limit=1", headers=town.creds.headers("leader")).status_code == 200
    error(town.get("/ogc/collections/officer-positions/items?limit=1", headers=handler), 403, "role")
    error(town.get("/ogc/collections/officer-latest/items?limit=1", headers=go), 403, "role")


def test_jobs_of_other_users_cannot_be_enumerated(town):
    a = town.creds.headers("leader", "leader-a")
    b = town.creds.headers("leader", "leader-b")
    r = town.post("/ogc/processes/heatmap/execution", headers={**a, "Prefer": "respond-async"},
                  json={"inputs": {"source": "cases", "cell_size": 200}})
    assert r.status_code == 201, r.text
    job = r.headers["location"].rstrip("/").rsplit("/", 1)[1]
    unknown = town.get("/ogc/jobs/00000000-0000-0000-0000-000000000000?f=json", headers=b)
    foreign = town.get(f"/ogc/jobs/{job}?f=json", headers=b)
    assert foreign.status_code == unknown.status_code == 404
    assert job not in json.dumps(town.get("/ogc/jobs?f=json", headers=b).json())
    assert town.get(f"/ogc/jobs/{job}/results?f=json", headers=b).status_code == 404
    assert town.delete(f"/ogc/jobs/{job}", headers=b).status_code == 404
    assert job in json.dumps(town.get("/ogc/jobs?f=json", headers=a).json())
    assert town.get(f"/ogc/jobs/{job}?f=json", headers=town.creds.headers("admin")).status_code == 200


# ---------------------------------------------------------------- injection

INJECTIONS = ["'; DROP TABLE cases; --", "1) OR (1=1", "name\" FROM app_user --", "$$; SELECT pg_sleep(5); $$",
              "x' UNION SELECT password_hash FROM app_user --"]


def test_sql_injection_through_cql2_sortby_properties_and_intake(town):
    before = snapshot(town.url)
    admin = town.creds.headers("admin")
    items = "/ogc/collections/urban-components/items"
    for evil in INJECTIONS:
        for params in ({"filter": f"name = '{evil}"}, {"filter": evil}, {"sortby": evil}, {"properties": evil},
                       {"filter": f"{evil} = 1"}, {"bbox": evil}, {"datetime": evil}, {"limit": evil}):
            r = town.get(items, params=params, headers=admin)
            assert r.status_code in (200, 400), (params, r.status_code, r.text[:200])
            if r.status_code == 200:  # a quoted literal that matched nothing, never SQL
                assert r.json()["features"] == []
        r = town.post(items, headers={**admin, "Content-Type": "application/query-cql-json"},
                      content=json.dumps({"op": "=", "args": [{"property": evil}, 1]}))
        assert r.status_code == 400
    # every intake field, as the public: stored as text or refused, never executed
    created = 0
    for i, evil in enumerate(INJECTIONS):
        r = town.post("/api/cases", json={"channel": "public", "category_code": "06010", "lon": 116.65, "lat": 40.13,
                                          "description": evil, "address": evil, "reporter_name": evil,
                                          "reporter_phone": "13800000000"}, headers={"Idempotency-Key": f"inj-{i}"})
        assert r.status_code in (201, 400), r.text
        created += r.status_code == 201
        for field in ("category_code", "channel", "urgency", "component_id", "standard", "camera_code"):
            r = town.post("/api/cases", json={"channel": "public", "category_code": "06010", "lon": 116.65,
                                              "lat": 40.13, field: evil},
                          headers=town.creds.headers("intake_operator"))  # not rate-limited
            assert r.status_code in (400, 403), (field, r.status_code, r.text)
    assert created == len(INJECTIONS)
    stored = one(town.url, "SELECT count(*) AS n FROM cases WHERE description = ANY(%s)", [INJECTIONS])["n"]
    after = snapshot(town.url)
    assert stored == created and after["cases"] == before["cases"] + created
    assert after["components"] == before["components"]


# ---------------------------------------------------------------- files and bodies

def test_path_traversal_in_attachment_names(town, tmp_path):
    staff = town.creds.headers("shift_leader")
    for name in ("../../../../etc/passwd", "..%2F..%2F..%2Fetc%2Fpasswd", "%2e%2e/%2e%2e/etc/passwd",
                 "0" * 63 + "/", "....//....//etc/passwd"):
        r = town.get(f"/api/attachments/{name}", headers=staff)
        # a name the client normalises out of /api (e.g. to /etc/passwd) reaches the web app's
        # client-route fallback: its index.html, never the file
        left_api = not r.request.url.path.startswith("/api/")
        assert r.status_code in (400, 404) or (left_api and r.status_code == 200
                                               and r.headers["content-type"].startswith("text/html")), \
            (name, r.status_code)
        assert b"root:" not in r.content
    from civicgrid.cases import testing

    r = town.post("/api/attachments", headers=town.creds.headers("grid_officer"),
                  files={"file": ("../../../../tmp/evil.png", testing.png_bytes(7), "image/png")})
    assert r.status_code == 201
    sha = r.json()["sha256"]
    assert not Path("/tmp/evil.png").exists()
    stored = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert stored and all(p.name.startswith(sha) or "attachments" not in str(p) for p in stored)


def test_oversized_bodies_are_refused_before_they_are_read(town):
    before = snapshot(town.url)
    big = b"{" + b" " * (2 << 20) + b"}"
    error(town.post("/api/auth/login", content=big, headers={"Content-Type": "application/json"}), 413, "body")

    def chunks():  # no Content-Length: the limit is counted as the body streams in
        for _ in range(40):
            yield b" " * (64 << 10)

    r = town.post("/api/auth/login", content=chunks(), headers={"Content-Type": "application/json"})
    error(r, 413, "body")
    r = town.post("/ogc/collections/pois/items", content=b"[" + b"0," * (6 << 20) + b"0]",
                  headers={**town.creds.headers("gis_editor"), "Content-Type": "application/geo+json"})
    error(r, 413, "body")
    assert snapshot(town.url) == before


# ---------------------------------------------------------------- web sessions

def _login(client, username, password=PASSWORD):
    return client.post("/api/auth/login", json={"username": username, "password": password})


def test_session_cookie_csrf_and_logout(town):
    with connect(town.url) as conn:
        identity.add_user(conn, "op.zhang", ["shift_leader"], password=PASSWORD)
    anonymous = town.get("/api/auth/me").json()
    assert {k: anonymous[k] for k in ("user", "csrf_token", "via")} == {"user": None, "csrf_token": None, "via": "anonymous"}
    before = one(town.url, "SELECT coalesce(max(id), 0) AS id FROM audit_log")["id"]
    r = _login(town, "op.zhang")
    assert r.status_code == 200, r.text
    with connect(town.url) as conn:
        actions = [row["action"] for row in conn.execute("SELECT action FROM audit_log WHERE id > %s ORDER BY id", [before])]
    assert actions == ["login.success"]   # one row per login, with the name
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
    csrf = r.json()["csrf_token"]
    me = town.get("/api/auth/me").json()
    assert me["user"]["username"] == "op.zhang" and me["csrf_token"] == csrf and me["via"] == "session"
    case = one(town.url, "SELECT id, version FROM cases WHERE state = 'dispatched' ORDER BY id LIMIT 1")
    url = f"/api/cases/{case['id']}/actions/urge"
    error(town.post(url, json={"version": case["version"], "comment": "快"}), 403, "X-CSRF-Token")
    error(town.post(url, json={"version": case["version"]}, headers={"X-CSRF-Token": "guess"}), 403, "X-CSRF-Token")
    assert one(town.url, "SELECT version FROM cases WHERE id = %s", [case["id"]])["version"] == case["version"]
    r = town.post(url, json={"version": case["version"], "comment": "请尽快处理"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200, r.text
    audit = one(town.url, "SELECT actor, action, target, detail FROM audit_log WHERE action LIKE 'POST /api/cases/%%' "
                          "ORDER BY id DESC LIMIT 1")
    assert audit["actor"] == "op.zhang" and audit["detail"]["status"] == 200 and audit["detail"]["via"] == "session"
    error(town.post("/api/auth/logout"), 403, "X-CSRF-Token")
    assert town.post("/api/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    town.cookies.clear()
    assert town.get("/api/auth/me").json()["user"] is None
    assert one(town.url, "SELECT count(*) AS n FROM app_session s JOIN app_user u ON u.id = s.user_id "
                         "WHERE u.username = 'op.zhang'")["n"] == 0


def test_lockout_after_repeated_failed_logins(town):
    with connect(town.url) as conn:
        identity.add_user(conn, "op.li", ["leader"], password=PASSWORD)
    for _ in range(identity.MAX_FAILED_LOGINS):
        error(_login(town, "op.li", "wrong password!"), 401, "password")
    body = error(_login(town, "op.li"), 401, "password")  # locked: the right password is refused too
    assert body == _login(town, "nobody.here").json()   # and says no more than for an unknown name
    assert one(town.url, "SELECT locked_until > now() AS locked FROM app_user WHERE username = 'op.li'")["locked"]
    reasons = one(town.url, "SELECT array_agg(detail->>'reason' ORDER BY id) AS r FROM audit_log "
                            "WHERE action = 'login.failure' AND actor = 'op.li'")["r"]
    assert reasons.count("wrong password") == identity.MAX_FAILED_LOGINS and reasons[-1] == "locked"
    error(town.post("/api/auth/login", json={"username": "op.li"}), 400, "password")
    error(town.post("/api/auth/login", content=b"{nope", headers={"Content-Type": "application/json"}), 400, "body")


def test_anonymous_intake_is_rate_limited_per_address(town):
    payload = {"channel": "public", "category_code": "06010", "lon": 116.65, "lat": 40.13}
    codes = [town.post("/api/cases", json=payload).status_code for _ in range(21)]
    assert codes[:20] == [201] * 20 and codes[20] == 429
    r = town.post("/api/cases", json=payload)
    assert error(r, 429, "client") and int(r.headers["retry-after"]) > 0
    # staff are not limited by the anonymous rule
    assert town.post("/api/cases", json=payload, headers=town.creds.headers("intake_operator")).status_code == 201


def test_audit_log_is_for_admins(town):
    town.post("/api/cases", json={"channel": "public", "category_code": "06010", "lon": 116.65, "lat": 40.13})
    error(town.get("/api/audit", headers=town.creds.headers("leader")), 403, "role")
    error(town.get("/api/audit"), 401)
    body = town.get("/api/audit?action=POST%20/api/cases&limit=5", headers=town.creds.headers("admin")).json()
    entry = body["entries"][0]
    assert entry["actor"] == "anonymous" and entry["target"] == "/api/cases" and entry["detail"]["status"] == 201
    error(town.get("/api/audit?since=yesterday", headers=town.creds.headers("admin")), 400, "since")
    error(town.get("/api/audit?drop=1", headers=town.creds.headers("admin")), 400, "drop")


def test_a_flood_of_bad_tokens_is_capped_in_the_audit_log(town):
    from civicgrid.security.access import FAILURE_AUDIT_PER_HOUR

    # the copied town may already hold failures other tests caused on the shared server (another address)
    count = "SELECT count(*) AS n FROM audit_log WHERE action = 'auth.failure'"
    before = one(town.url, count)["n"]
    for i in range(FAILURE_AUDIT_PER_HOUR + 10):
        r = town.get("/api/cases", headers={"Authorization": f"Bearer cg_{i:08x}_{'x' * 43}"})
        assert r.status_code == 401
    assert one(town.url, count)["n"] - before == FAILURE_AUDIT_PER_HOUR
