"""Officers in the field over HTTP against `civicgrid serve` on a copy of the demo town: geofence
alerts (电子围栏告警) from simulated positions, their acknowledgement and stream, the live list.

Positions are written straight into officer_position (what the field app's upload does); the
server's worker scans on each insert. Where a test asserts that something did *not* happen it first
runs one scan itself, waiting for any running one (geofence_scan(..., p_wait => true)), so the
outcome does not depend on the worker's timing. The live tests put the town on one shift around
the time they run (the demo's 08:00–12:00 and 13:30–18:00 would make them depend on the hour);
the shift rules themselves are tested with fixed times.
"""
from __future__ import annotations

import json
import subprocess
import time
from datetime import datetime, timedelta

import httpx
import pytest
from databases import copy_demo, drop_database

from civicgrid.db import connect
from civicgrid.security.testing import Credentials
from civicgrid.testing import start_server

MINUTES = 10        # CIVICGRID_GEOFENCE_MINUTES (the default)
TOLERANCE = 20      # CIVICGRID_GEOFENCE_TOLERANCE_M


@pytest.fixture(scope="module")
def town(demo_url, pg_admin_url):
    url = copy_demo(pg_admin_url)
    with connect(url) as conn:
        conn.execute("UPDATE duty_shift SET active = false")
        # from three hours before to three hours after now (past midnight, an overnight shift)
        conn.execute("INSERT INTO duty_shift (code, name, starts, ends) SELECT 'test', '测试班次', "
                     "(now() AT TIME ZONE 'Asia/Shanghai' - interval '3 hours')::time, "
                     "(now() AT TIME ZONE 'Asia/Shanghai' + interval '3 hours')::time")
        officers = [r["officer_id"] for r in conn.execute(
            "SELECT officer_id FROM responsibility_grid WHERE officer_id IS NOT NULL ORDER BY officer_id LIMIT 6")]
    proc, base = start_server(url)
    yield {"url": url, "base": base, "officers": officers, "creds": Credentials(url)}
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    drop_database(pg_admin_url, url)


def spots(url: str, officer: int) -> tuple[tuple[float, float], tuple[float, float]]:
    """A point inside the officer's grids and one 150 m east of their extent (lon, lat)."""
    with connect(url) as conn:
        r = conn.execute("""
            WITH g AS (SELECT ST_Union(geom) AS g FROM responsibility_grid WHERE officer_id = %s)
            SELECT ST_X(i) AS ix, ST_Y(i) AS iy, ST_X(o) AS ox, ST_Y(o) AS oy
            FROM g, LATERAL (SELECT ST_PointOnSurface(g.g) AS i,
                                    ST_Transform(ST_SetSRID(ST_MakePoint(ST_XMax(ST_Transform(g.g, 4548)) + 150,
                                                                         ST_Y(ST_Centroid(ST_Transform(g.g, 4548)))), 4548),
                                                 4490) AS o) p""", [officer]).fetchone()
    return (r["ix"], r["iy"]), (r["ox"], r["oy"])


def db_now(url: str) -> datetime:
    with connect(url) as conn:
        return conn.execute("SELECT now() AS t").fetchone()["t"]


def walk(url: str, officer: int, where: tuple[float, float], start: datetime, minutes: float) -> datetime:
    """Fixes every 30 s at `where` from `start` for `minutes` (inclusive); returns the last time."""
    times = [start + timedelta(seconds=30 * k) for k in range(int(minutes * 2) + 1)]
    with connect(url) as conn:
        conn.execute("INSERT INTO officer_position (officer_id, recorded_at, geom, accuracy_m) "
                     "SELECT %s, t, ST_SetSRID(ST_MakePoint(%s, %s), 4490), 5 FROM unnest(%s::timestamptz[]) t",
                     [officer, where[0], where[1], times])
    return times[-1]


def scan(url: str, now: datetime | None = None, horizon: str = "12 hours") -> dict:
    with connect(url, autocommit=True) as conn:
        return conn.execute("SELECT * FROM geofence_scan(%s, %s, coalesce(%s, now()), %s::interval, true)",
                            [MINUTES, TOLERANCE, now, horizon]).fetchone()


def alerts(town, role: str = "shift_leader", **params) -> list[dict]:
    r = httpx.get(town["base"] + "/api/alerts", params=params, headers=town["creds"].headers(role), timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def iso(t: datetime) -> str:
    return t.isoformat()


def test_alert_after_the_set_minutes_outside_one_per_excursion_closed_on_return(town):
    url, officer = town["url"], town["officers"][0]
    inside, outside = spots(url, officer)
    t0 = db_now(url) - timedelta(minutes=40)
    # 8 minutes outside: not yet an alert
    last = walk(url, officer, outside, t0, 8)
    scan(url)
    assert alerts(town, officer=officer) == []
    # 12 minutes outside: raised, open, 10 minutes after the first fix outside
    last = walk(url, officer, outside, last + timedelta(seconds=30), 4)
    scan(url)
    [a] = alerts(town, officer=officer)
    assert (a["status"], a["status_name"], a["ended_at"], a["acknowledged"]) == ("open", "越界中", None, False)
    assert datetime.fromisoformat(a["started_at"]) == t0
    assert datetime.fromisoformat(a["raised_at"]) == t0 + timedelta(minutes=MINUTES)
    assert a["minutes"] == 12.5 and a["fixes"] == 26 and 140 < a["max_distance_m"] < 400
    assert a["officer_name"] and a["responsibility_grid_code"] and a["responsibility_grid_name"]
    assert a["shift_name"] == "测试班次"
    scan(url)
    assert [x["id"] for x in alerts(town, officer=officer)] == [a["id"]]      # scans are idempotent
    # back inside: closed at the first fix inside
    back = last + timedelta(seconds=30)
    last = walk(url, officer, inside, back, 2.5)
    scan(url)
    [a] = alerts(town, officer=officer)
    assert (a["status"], a["end_reason"], a["end_reason_name"]) == ("closed", "returned", "已返回网格")
    assert datetime.fromisoformat(a["ended_at"]) == back
    # a second excursion of 11.5 minutes is a second alert; a short one (3 minutes) none
    second = last + timedelta(seconds=30)
    last = walk(url, officer, outside, second, 11.5)
    last = walk(url, officer, inside, last + timedelta(seconds=30), 1)
    last = walk(url, officer, outside, last + timedelta(seconds=30), 3)
    walk(url, officer, inside, last + timedelta(seconds=30), 0.5)
    scan(url)
    found = alerts(town, officer=officer)
    assert [(x["status"], datetime.fromisoformat(x["started_at"])) for x in found] == [("closed", second), ("closed", t0)]
    assert alerts(town, officer=officer, status="open") == []
    assert len(alerts(town, officer=officer, **{"from": iso(second), "to": iso(second + timedelta(minutes=1))})) == 1


def test_no_alert_inside_the_grid_or_within_the_tolerance(town):
    url, officer = town["url"], town["officers"][1]
    inside, _ = spots(url, officer)
    walk(url, officer, inside, db_now(url) - timedelta(minutes=30), 25)
    scan(url)
    assert alerts(town, officer=officer) == []


def test_the_worker_scans_new_positions_and_streams_the_alert(town):
    """No scan by the test: the insert wakes the server's worker, the alert reaches an open stream."""
    url, officer = town["url"], town["officers"][2]
    _, outside = spots(url, officer)
    headers = {**town["creds"].headers("leader"), "Accept": "text/event-stream"}
    events: list[tuple[str, dict]] = []
    with httpx.stream("GET", town["base"] + "/api/alerts/stream", headers=headers, timeout=30) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        lines = r.iter_lines()
        kind = None
        for line in lines:
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: ") and kind == "ready":
                break
        walk(url, officer, outside, db_now(url) - timedelta(minutes=15), 14)
        deadline = time.time() + 20
        for line in lines:
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                events.append((kind, json.loads(line[6:])))
                if events[-1][1].get("alert", {}).get("officer_id") == officer or time.time() > deadline:
                    break
    kind, data = events[-1]
    assert kind == "alert" and data["event"] == "raised" and data["alert"]["officer_id"] == officer
    assert data["alert"]["status"] == "open" and data["alert"]["officer_name"]
    # the poll form of the same URL (no event-stream accepted): changes since a time
    since = (db_now(url) - timedelta(minutes=1)).isoformat()
    r = httpx.get(town["base"] + "/api/alerts/stream", params={"since": since}, headers=town["creds"].headers("leader"))
    assert officer in {a["officer_id"] for a in r.json()["items"]}


def test_acknowledge(town):
    url, officer = town["url"], town["officers"][3]
    _, outside = spots(url, officer)
    walk(url, officer, outside, db_now(url) - timedelta(minutes=14), 13)
    scan(url)
    [a] = alerts(town, officer=officer)
    creds = town["creds"]
    path = f"{town['base']}/api/alerts/{a['id']}/ack"
    r = httpx.post(path, json={"comment": "已电话联系，正在返回"}, headers=creds.headers("dispatcher"))
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["acknowledged"] and got["acknowledged_name"] == "已确认" and got["ack_comment"] == "已电话联系，正在返回"
    assert got["acknowledged_by"].startswith("t.dispatcher")
    again = httpx.post(path, json={}, headers=creds.headers("leader"))
    assert again.status_code == 409 and again.json()["field"] == "id"
    assert httpx.post(f"{town['base']}/api/alerts/99999999/ack", json={}, headers=creds.headers("leader")).status_code == 404
    bad = httpx.post(path, json={"comment": 5}, headers=creds.headers("leader"))
    assert bad.status_code == 400 and bad.json()["field"] == "comment"
    assert [x["id"] for x in alerts(town, acknowledged="true", officer=officer)] == [a["id"]]
    assert alerts(town, acknowledged="false", officer=officer) == []


@pytest.mark.parametrize("role", ["public", "grid_officer", "department_handler", "evaluator", "gis_editor",
                                  "district_platform"])
def test_roles_outside_position_readers_are_refused(town, role):
    creds, base = town["creds"], town["base"]
    for path in ("/api/alerts", "/api/officers", "/api/alerts/stream"):
        r = httpx.get(base + path, headers=creds.headers(role))
        assert r.status_code == (401 if role == "public" else 403), (path, r.text)
    r = httpx.post(base + "/api/alerts/1/ack", json={}, headers=creds.headers(role))
    assert r.status_code in (401, 403)


def test_bad_filters_name_the_field(town):
    for params, field in (({"status": "gone"}, "status"), ({"from": "yesterday"}, "from"),
                          ({"from": "2026-11-20T08:00:00"}, "from"), ({"limit": "0"}, "limit"),
                          ({"from": "2026-11-20T10:00:00+08:00", "to": "2026-11-20T09:00:00+08:00"}, "to")):
        r = httpx.get(town["base"] + "/api/alerts", params=params, headers=town["creds"].headers("leader"))
        assert r.status_code == 400 and r.json()["field"] == field, (params, r.text)


def test_live_officers_list(town):
    url, officer = town["url"], town["officers"][4]
    inside, _ = spots(url, officer)
    walk(url, officer, inside, db_now(url) - timedelta(minutes=1), 1)
    r = httpx.get(town["base"] + "/api/officers", headers=town["creds"].headers("leader"))
    assert r.status_code == 200
    doc = r.json()
    me = next(o for o in doc["items"] if o["id"] == officer)
    assert (me["status"], me["status_name"]) == ("on_duty", "在岗") and me["fix_age_s"] < 120
    assert me["grids"] and me["grids"][0]["code"] and me["lon"] and me["lat"]
    # the demo's fixes are days old: the others are offline during the shift
    assert doc["counts"]["offline"] > 0 and doc["shift"]["name"] == "测试班次"
    assert doc["items"][0]["status"] == "on_duty"          # on duty first
    # search by a part of the name
    part = me["name"][1:]
    found = httpx.get(town["base"] + "/api/officers", params={"q": part}, headers=town["creds"].headers("leader")).json()
    assert me["id"] in [o["id"] for o in found["items"]] and all(part in o["name"] for o in found["items"])
    assert httpx.get(town["base"] + "/api/officers", params={"q": "%"},
                     headers=town["creds"].headers("leader")).json()["items"] == []


def test_shifts_bound_the_excursions(demo_copy):
    """Off shift nothing counts; an excursion still open when its shift is over ends with it."""
    url = demo_copy
    with connect(url) as conn:
        a, b = [r["officer_id"] for r in conn.execute(
            "SELECT officer_id FROM responsibility_grid WHERE officer_id IS NOT NULL ORDER BY officer_id LIMIT 2")]
        conn.execute("INSERT INTO geofence_state SELECT id, '2026-11-21T00:00:00+08:00' FROM officer")
    _, out_a = spots(url, a)
    _, out_b = spots(url, b)
    # the demo's shifts: 08:00–12:00, 13:30–18:00; a's 25 minutes outside at lunch are off duty
    walk(url, a, out_a, datetime.fromisoformat("2026-11-21T12:10:00+08:00"), 25)
    # b's excursion from 11:40 runs into the end of the morning shift
    walk(url, b, out_b, datetime.fromisoformat("2026-11-21T11:40:00+08:00"), 25)
    r = scan(url, datetime.fromisoformat("2026-11-21T12:50:00+08:00"), "1 day")
    assert r["raised"] == 1 and r["ended"] == 1
    with connect(url) as conn:
        rows = conn.execute("SELECT officer_id, shift_code, started_at, ended_at, end_reason, last_seen_at "
                            "FROM geofence_alert WHERE raised_at IS NOT NULL").fetchall()
    assert [(x["officer_id"], x["shift_code"], x["end_reason"]) for x in rows] == [(b, "am", "shift_end")]
    assert rows[0]["ended_at"] == datetime.fromisoformat("2026-11-21T12:00:00+08:00")
    assert rows[0]["last_seen_at"] == datetime.fromisoformat("2026-11-21T11:59:30+08:00")


def test_scan_from_the_command_line(demo_copy):
    import os
    import sys

    env = {**os.environ, "DATABASE_URL": demo_copy, "CIVICGRID_GEOFENCE_MINUTES": "3"}
    done = subprocess.run([sys.executable, "-m", "civicgrid.cli", "officers", "scan", "--hours", str(24 * 60)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    fixes, raised = (int(w) for w in done.stdout.split()[0:6:3])
    with connect(demo_copy) as conn:
        count = conn.execute("SELECT count(*) AS n FROM geofence_alert WHERE raised_at IS NOT NULL").fetchone()["n"]
    assert fixes > 10000 and raised == count
