"""Intake over HTTP for every channel: location, grids, officer, category mapping, department rules,
case numbers, duplicates, idempotency, photos, and the 4xx answers naming the reason."""
from __future__ import annotations

import re
import threading

from civicgrid.cases import testing

H = testing  # builders and constants


def post(cc, payload, role, user=None, **headers):
    return cc.client.post("/api/cases", json=payload, headers={**cc.headers(role, user), **headers})


def test_patrol_report_is_located_and_routed(cases_client):
    r = post(cases_client, {"channel": "patrol", "category_code": "06010", "lon": 116.605, "lat": 40.12,
                            "description": "路边暴露垃圾"}, "grid_officer", "GO-001")
    assert r.status_code == 201, r.text
    case = r.json()
    assert re.fullmatch(r"110113104\d{8}0001", case["case_number"])
    assert case["unit_grid_code"] == "110113104001001" and case["community_code"] == H.WEST
    assert case["responsibility_grid_code"] == H.WEST + "Z01"
    assert case["officer_id"] == cases_client.town["officers"][H.WEST]
    assert case["department_code"] == H.DEPT_ENFORCE
    assert case["workflow"] == "standard" and case["state"] == "reported"
    assert case["step_deadline_at"] is not None and case["duplicates"] == []
    second = post(cases_client, {"channel": "patrol", "category_code": "09009", "lon": 116.63, "lat": 40.105},
                  "grid_officer", "GO-002").json()
    assert second["case_number"][-4:] == "0002"  # gap-free daily serial
    assert second["officer_id"] == cases_client.town["officers"][H.EAST]


def test_department_rule_longest_area_prefix_wins(cases_client):
    west = post(cases_client, {"channel": "patrol", "category_code": "01037", "lon": 116.61, "lat": 40.12}, "grid_officer").json()
    east = post(cases_client, {"channel": "patrol", "category_code": "01037", "lon": 116.63, "lat": 40.12}, "grid_officer").json()
    assert west["department_code"] == H.DEPT_MUNICIPAL and east["department_code"] == H.DEPT_EAST_MUNICIPAL


def test_cjt214_codes_are_mapped(cases_client):
    r = post(cases_client, {"channel": "public", "category_code": "0102", "category_kind": "component",
                            "lon": 116.61, "lat": 40.12}, "public")
    assert r.status_code == 201, r.text
    case = r.json()
    assert case["category"] == {"standard": "GB/T 47678.5-2026", "kind": "matter", "code": "01002",
                                "name": "污水井盖异常", "major_name": case["category"]["major_name"]}
    assert case["reported_category"]["code"] == "0102" and case["reported_category"]["standard"] == "CJ/T 214-2007"
    assert case["state"] == "verifying"  # public reports are verified first
    event = post(cases_client, {"channel": "public", "category_code": "0507", "standard": "cjt214",
                                "lon": 116.61, "lat": 40.12}, "public").json()
    assert event["category"]["code"] == "06036"   # 乱堆物堆料 → 乱堆杂物
    # a bare 4-digit code is read as a CJ/T 214 event first (0102 暴露垃圾)
    bare = post(cases_client, {"channel": "public", "category_code": "0102", "lon": 116.61, "lat": 40.12}, "public").json()
    assert bare["category"]["code"] == "06010"
    r = post(cases_client, {"channel": "public", "category_code": "0509", "lon": 116.61, "lat": 40.12}, "public")
    assert r.status_code == 400 and r.json()["field"] == "category_code" and "no GB/T 47678.5 equivalent" in r.json()["description"]


def test_hotline_address_is_located_or_flagged(cases_client):
    r = post(cases_client, {"channel": "hotline", "category_code": "06028", "address": "仁和镇人民政府门口西侧",
                            "external_id": "12345-0001", "reporter_phone": "13900000000"}, "intake_operator")
    case = r.json()
    assert r.status_code == 201 and case["location"]["source"] == "poi:仁和镇人民政府"
    assert case["workflow"] == "hotline" and case["state"] == "received" and not case["needs_location"]
    by_community = post(cases_client, {"channel": "hotline", "category_code": "06028", "address": "李各庄村东头"},
                        "intake_operator").json()
    assert by_community["location"]["source"] == "community:李各庄村" and by_community["community_code"] == H.EAST
    lost = post(cases_client, {"channel": "hotline", "category_code": "06028", "address": "不知道哪里"}, "intake_operator").json()
    assert lost["needs_location"] and lost["location"] is None and lost["unit_grid_code"] is None
    # the hotline flow will not accept (受理) a case without a location
    r = cases_client.act(lost["id"], "accept", "intake_operator")
    assert r.status_code == 409 and r.json()["field"] == "guard"
    # 定位: the operator finds the place afterwards; grids, officer and department follow
    r = cases_client.act(lost["id"], "locate", "intake_operator", data={"address": "火星基地"})
    assert r.status_code == 400 and r.json()["field"] == "data.address"
    r = cases_client.act(lost["id"], "locate", "intake_operator", data={"lon": 116.70, "lat": 40.12})
    assert r.status_code == 400 and r.json()["field"] == "data.lon"
    located = cases_client.act(lost["id"], "locate", "intake_operator", data={"lon": 116.633, "lat": 40.104}).json()
    assert not located["needs_location"] and located["unit_grid_code"] == H.EAST + "002"
    assert located["officer_id"] == cases_client.town["officers"][H.EAST] and located["department_code"] == H.DEPT_ENFORCE
    assert cases_client.act(lost["id"], "accept", "intake_operator").json()["state"] == "accepted"
    from civicgrid.cases import replay
    from civicgrid.db import connect

    with connect(cases_client.url) as conn:
        assert replay.verify(conn, lost["id"]) == []
    # the public may not read cases here (Open311 is their view); the district platform sees public fields
    assert cases_client.client.get(f"/api/cases/{case['id']}").status_code == 401
    pub = cases_client.client.get(f"/api/cases/{case['id']}", headers=cases_client.headers("district_platform")).json()
    assert "reporter_phone" not in pub and "timeline" not in pub
    staff = cases_client.client.get(f"/api/cases/{case['id']}", headers=cases_client.headers("shift_leader")).json()
    assert staff["reporter_phone"] == "13900000000"


def test_component_and_video_channels(cases_client):
    r = post(cases_client, {"channel": "component", "component_id": H.COMPONENT_ID, "description": "井盖破损"}, "grid_officer")
    case = r.json()
    assert r.status_code == 201, r.text
    assert case["category"]["code"] == "01001" and case["category"]["kind"] == "matter"
    assert case["location"]["source"] == "component" and case["unit_grid_code"] == "110113104001001"
    again = post(cases_client, {"channel": "component", "component_id": H.COMPONENT_ID}, "public").json()
    assert [d["reason"] for d in again["duplicates"]] == ["same_component"]
    snap = cases_client.upload(7)
    video = post(cases_client, {"channel": "video", "camera_code": "CAM-001", "category_code": "09006",
                                "snapshot": [snap]}, "intake_operator").json()
    assert video["location"]["source"] == "camera" and video["community_code"] == H.EAST
    timeline = cases_client.client.get(f"/api/cases/{video['id']}/timeline", headers=cases_client.headers("shift_leader")).json()
    assert timeline[0]["attachments"][0]["role"] == "snapshot"


def test_duplicates_within_50m_and_72h_and_merge(cases_client):
    base = {"channel": "patrol", "category_code": "06010", "lat": 40.12}
    first = post(cases_client, {**base, "lon": 116.6050}, "grid_officer").json()
    near = post(cases_client, {**base, "lon": 116.6053}, "grid_officer").json()     # ≈ 26 m
    far = post(cases_client, {**base, "lon": 116.6070}, "grid_officer").json()      # ≈ 170 m
    other = post(cases_client, {**base, "category_code": "09009", "lon": 116.6051}, "grid_officer").json()
    assert [d["id"] for d in near["duplicates"]] == [first["id"]] and near["duplicates"][0]["reason"] == "same_category"
    assert 20 < near["duplicates"][0]["distance_m"] < 30
    assert far["duplicates"] == [] and other["duplicates"] == []
    detail = cases_client.client.get(f"/api/cases/{near['id']}", headers=cases_client.headers("intake_operator")).json()
    assert detail["duplicates"][0]["id"] == first["id"]
    r = cases_client.act(near["id"], "merge", "intake_operator", data={"duplicate_of": first["id"]})
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "merged" and r.json()["is_closed"] and r.json()["duplicate_of"] == first["id"]
    detail = cases_client.client.get(f"/api/cases/{first['id']}", headers=cases_client.headers("leader")).json()
    assert detail["merged_here"] == [near["id"]]
    # a merged case is no longer suggested
    assert [d["id"] for d in post(cases_client, {**base, "lon": 116.6052}, "grid_officer").json()["duplicates"]] == [first["id"]]


def test_idempotent_pushes(cases_client):
    push = {"channel": "district", "external_id": "SY-2026-000123", "category_code": "09005", "lon": 116.61, "lat": 40.12}
    a = post(cases_client, push, "district_platform")
    b = post(cases_client, push, "district_platform")
    assert (a.status_code, b.status_code) == (201, 200)
    assert a.json() == b.json() and b.headers["Idempotent-Replayed"] == "true"
    key = {"channel": "public", "category_code": "06010", "lon": 116.61, "lat": 40.12}
    c1 = post(cases_client, key, "public", **{"Idempotency-Key": "app-42"})
    c2 = post(cases_client, key, "public", **{"Idempotency-Key": "app-42"})
    assert c1.json()["id"] == c2.json()["id"]
    r = post(cases_client, {**key, "description": "不同"}, "public", **{"Idempotency-Key": "app-42"})
    assert r.status_code == 409 and r.json()["field"] == "Idempotency-Key"
    # concurrent twins: one case
    results = []
    twin = {**push, "external_id": "SY-2026-000999"}
    threads = [threading.Thread(target=lambda: results.append(post(cases_client, twin, "district_platform"))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({r.json()["id"] for r in results}) == 1
    assert sorted(r.status_code for r in results) == [200, 200, 200, 201]


REFUSALS = [
    ({"channel": "patrol", "category_code": "06010", "lon": 116.61, "lat": 40.12}, "public", 403, "role"),
    ({"channel": "patrol", "category_code": "06010"}, "grid_officer", 400, "lon"),
    ({"channel": "patrol", "lon": 116.61, "lat": 40.12}, "grid_officer", 400, "category_code"),
    ({"channel": "patrol", "category_code": "99999", "lon": 116.61, "lat": 40.12}, "grid_officer", 400, "category_code"),
    ({"channel": "patrol", "category_code": "06010", "lon": 116.70, "lat": 40.12}, "grid_officer", 400, "lon"),
    ({"channel": "patrol", "category_code": "06010", "lon": 116.61}, "grid_officer", 400, "lon"),
    ({"channel": "patrol", "category_code": "06010", "lon": 116.61, "lat": 40.12, "urgency": "whenever"}, "grid_officer", 400, "urgency"),
    ({"channel": "fax", "category_code": "06010", "lon": 116.61, "lat": 40.12}, "intake_operator", 400, "channel"),
    ({"channel": "component", "component_id": "11011301001999999"}, "grid_officer", 400, "component_id"),
    ({"channel": "video", "camera_code": "CAM-404", "category_code": "09006"}, "intake_operator", 400, "camera_code"),
    ({"channel": "district", "category_code": "06010", "lon": 116.61, "lat": 40.12}, "district_platform", 400, "external_id"),
    ({"channel": "public", "category_code": "06010", "lon": 116.61, "lat": 40.12, "surprise": 1}, "public", 400, "surprise"),
    ({"channel": "patrol", "category_code": "06010", "lon": 116.61, "lat": 40.12, "self_handled": True},
     "grid_officer", 400, "photos_after"),
]


def test_intake_refusals_name_the_reason(cases_client):
    for payload, role, status, field in REFUSALS:
        r = post(cases_client, payload, role)
        assert (r.status_code, r.json().get("field")) == (status, field), (payload, r.text)
        assert r.json()["description"]
    r = cases_client.client.post("/api/cases", content=b"{not json", headers=cases_client.headers("public"))
    assert r.status_code == 400 and r.json()["field"] == "body"
    # nothing half-written: no case, no number used
    with __import__("civicgrid.db", fromlist=["connect"]).connect(cases_client.url) as conn:
        assert conn.execute("SELECT count(*) AS n FROM cases").fetchone()["n"] == 0
        assert conn.execute("SELECT count(*) AS n FROM case_number_counter").fetchone()["n"] == 0


def test_role_headers_are_not_credentials(cases_client):
    """The development role headers are gone: a forged X-Civicgrid-Role makes nobody a grid officer."""
    r = post(cases_client, {"channel": "patrol", "category_code": "06010", "lon": 116.61, "lat": 40.12}, "public",
             **{"X-Civicgrid-Role": "grid_officer", "X-Civicgrid-User": "GO-001"})
    assert r.status_code == 403 and "public" in r.json()["description"] and r.json()["field"] == "role"
    assert post(cases_client, {"channel": "public", "category_code": "06010", "lon": 116.61, "lat": 40.12},
                "admin").status_code == 201


def test_photos_by_content_and_size(cases_client):
    c = cases_client.client
    files = {"photos": ("photo.jpg", testing.png_bytes(3), "image/jpeg")}  # a PNG named .jpg
    payload = '{"channel": "public", "category_code": "06010", "lon": 116.61, "lat": 40.12}'
    r = c.post("/api/cases", data={"payload": payload}, files=files, headers=cases_client.headers("public"))
    assert r.status_code == 201, r.text
    tl = c.get(f"/api/cases/{r.json()['id']}/timeline", headers=cases_client.headers("shift_leader")).json()
    url = tl[0]["attachments"][0]["url"]
    assert c.get(url).status_code == 401  # photos may show the reporter: staff only
    got = c.get(url, headers=cases_client.headers("shift_leader"))
    assert got.headers["content-type"] == "image/png" and got.content == testing.png_bytes(3)
    sha = url.rsplit("/", 1)[1]
    assert (cases_client.client.app and True) and len(sha) == 64
    r = c.post("/api/cases", data={"payload": payload}, files={"photos": ("evil.jpg", b"MZ\x90\x00 not an image", "image/jpeg")},
               headers=cases_client.headers("public"))
    assert r.status_code == 400 and r.json()["field"] == "photos"
    big = b"\xff\xd8\xff\xe0" + b"\0" * (10 * 1024 * 1024)
    r = c.post("/api/attachments", files={"file": ("big.jpg", big, "image/jpeg")}, headers=cases_client.headers("grid_officer"))
    assert r.status_code == 413 and r.json()["field"] in ("file", "body")
    webp = b"RIFF\x10\x00\x00\x00WEBPVP8 " + b"\0" * 20
    r = c.post("/api/attachments", files={"file": ("a.png", webp, "image/png")}, headers=cases_client.headers("grid_officer"))
    assert r.status_code == 201 and r.json()["media_type"] == "image/webp"


def test_duplicate_suggestions_before_sending_and_the_merge_on_the_target_timeline(cases_client):
    """The intake page asks GET /api/cases/duplicates while a report is typed: the same candidates the
    intake then records; 这是同一问题 merges the new report, shown on the existing case's timeline."""
    c = cases_client.client
    base = {"channel": "patrol", "category_code": "06010", "lat": 40.12}
    first = post(cases_client, {**base, "lon": 116.6050, "description": "第一次上报"}, "grid_officer").json()
    comp = post(cases_client, {"channel": "component", "component_id": H.COMPONENT_ID}, "grid_officer").json()

    def suggest(role="intake_operator", **params):
        return c.get("/api/cases/duplicates", params=params, headers=cases_client.headers(role))

    near = suggest(category_code="06010", lon=116.6053, lat=40.12).json()
    assert [(d["id"], d["reason"]) for d in near["items"]] == [(first["id"], "same_category")]
    assert 20 < near["items"][0]["distance_m"] < 30 and near["items"][0]["lon"] == 116.605
    assert near["items"][0]["category_name"] and near["category"]["code"] == "06010"
    assert suggest(category_code="06010", lon=116.6070, lat=40.12).json()["items"] == []       # ≈ 170 m
    by_component = suggest(component_id=H.COMPONENT_ID).json()
    assert [d["reason"] for d in by_component["items"]] == ["same_component"] and by_component["items"][0]["id"] == comp["id"]
    assert by_component["location"]["source"] == "component"
    unlocated = suggest(category_code="06010", address="不存在的地方").json()
    assert unlocated["location"] is None and unlocated["items"] == []
    # no category chosen yet: only where the intake would place it
    place_only = suggest(address="李各庄村委会东侧").json()
    assert place_only["location"]["source"] == "poi:李各庄村委会" and place_only["items"] == [] and place_only["category"] is None
    # the intake records the same candidates
    second = post(cases_client, {"channel": "public", "category_code": "06010", "lon": 116.6053, "lat": 40.12,
                                 "description": "同一处垃圾"}, "intake_operator").json()
    assert [d["id"] for d in second["duplicates"]] == [first["id"]]

    r = cases_client.act(second["id"], "merge", "intake_operator", data={"duplicate_of": first["id"]})
    assert r.status_code == 200, r.text
    timeline = c.get(f"/api/cases/{first['id']}/timeline", headers=cases_client.headers("shift_leader")).json()
    assert [e["action"] for e in timeline] == ["report", "merged_in"]
    merged = timeline[-1]
    assert merged["seq"] is None and merged["actor_role"] == "intake_operator"
    assert merged["data"] == {"merged_case": second["case_number"], "merged_case_id": second["id"], "description": "同一处垃圾"}
    # the target itself is unchanged (no version bump for other people's open forms)
    assert c.get(f"/api/cases/{first['id']}", headers=cases_client.headers("leader")).json()["version"] == 1


def test_duplicate_suggestions_and_cameras_refuse_bad_input(cases_client):
    c = cases_client.client
    op = cases_client.headers("intake_operator")
    for params, field in [({}, "category_code"), ({"category_code": "abc"}, "category_code"),
                          ({"category_code": "06010", "lon": 116.6}, "lon"),
                          ({"category_code": "06010", "lon": 500, "lat": 40.1}, "lon"),
                          ({"category_code": "99999", "lon": 116.61, "lat": 40.12}, "category_code"),
                          ({"category_code": "06010", "camera_code": "NOPE-1"}, "camera_code"),
                          ({"category_code": "06010", "lon": 116.9, "lat": 40.3}, "lon"),
                          ({"category_code": "06010", "limit": 1000}, "limit"),
                          ({"category_code": "06010", "bogus": "1"}, "bogus")]:
        r = c.get("/api/cases/duplicates", params=params, headers=op)
        assert (r.status_code, r.json().get("field")) == (400, field), (params, r.text)
    assert c.get("/api/cases/duplicates", params={"category_code": "06010"}).status_code == 401
    assert c.get("/api/cases/duplicates", params={"category_code": "06010"},
                 headers=cases_client.headers("department_handler")).status_code == 403
    cams = c.get("/api/cameras", headers=op).json()["items"]
    assert [(x["code"], x["lon"], x["lat"]) for x in cams] == [("CAM-001", 116.631, 40.121)]
    assert c.get("/api/cameras", headers=cases_client.headers("grid_officer")).status_code == 403
