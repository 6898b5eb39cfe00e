"""The GIS staff's survey workspace on the server: check messages name the component ID (GLBJBSM)
beside the row number (API, CLI, reports), corrections of staged rows recorded and re-checked, the
rows / coverage / change maps as GeoJSON, and the report as XLSX and one-file HTML over HTTP."""
from __future__ import annotations

import io
import re
import time

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from civicgrid.survey import service
from civicgrid.survey import testing as T


@pytest.fixture(scope="module")
def town(pg_admin_url):
    from databases import drop_database, migrated_database

    url = migrated_database(pg_admin_url)
    T.build_town(url)
    yield url
    drop_database(pg_admin_url, url)


@pytest.fixture(scope="module")
def client(town, tmp_path_factory):
    from civicgrid.security.testing import Credentials
    from civicgrid.testing import app_client

    with app_client(town, tmp_path_factory.mktemp("data"), headers=Credentials(town).headers("gis_editor")) as c:
        yield c


def _upload(client, frame, batch: str) -> dict:
    r = client.post("/api/survey/uploads", files={"file": (f"{batch}.csv", frame.to_csv(index=False).encode(), "text/csv")},
                    data={"batch": batch})
    assert r.status_code == 202, r.text
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job = client.get(r.json()["href"]).json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job} did not finish")


def test_messages_name_the_component_id(town, tmp_path, monkeypatch):
    from civicgrid.cli import main
    from civicgrid.settings import get_settings

    frame = T.synthetic_rows(6, T.catalog(town), seed=31, with_ids=True)
    frame.loc[2, "ZGBMDM"] = "BAD"
    bad_id = frame.loc[2, "GLBJBSM"]
    path = tmp_path / "ids.csv"
    frame.to_csv(path, index=False)
    out = service.import_file(path, batch="ids1", url=town)
    issue = next(i for i in service.list_issues(out.batch, severity="error", url=town))
    assert (issue["row_no"], issue["component_id"]) == (3, bad_id)
    monkeypatch.setenv("DATABASE_URL", town)
    get_settings.cache_clear()
    try:
        printed = CliRunner().invoke(main, ["survey", "issues", "ids1"])
        assert printed.exit_code == 0 and re.search(rf"row +3 GLBJBSM {bad_id} +error +dept_code_invalid", printed.output), \
            printed.output
        report = CliRunner().invoke(main, ["survey", "report", "ids1", "--out", str(tmp_path / "r"), "--format", "xlsx"])
        assert report.exit_code == 0, report.output
    finally:
        get_settings.cache_clear()
    sheet = load_workbook(tmp_path / "r" / "survey-report-ids1.xlsx")["问题清单"]
    head = [c.value for c in sheet[1]]
    assert head[:2] == ["行号", "标识码（GLBJBSM）"] and [c.value for c in sheet[2]][:2] == [3, bad_id]


def test_correct_recheck_publish_and_maps(client, town):
    frame = T.synthetic_rows(12, T.catalog(town)[:4], seed=32, boxes=T.grid_boxes()[:4])
    frame.loc[0, "ZGBMDM"] = "BAD"                       # a department code to fix
    frame.loc[1, "lon"] = 116.5                          # outside the town: to move
    frame.loc[2, "GLBJZT"] = "半好"                       # status not in its code table
    job = _upload(client, frame, "ws1")
    assert job["status"] == "done" and job["result"]["error_rows"] == 3, job
    base = "/api/survey/batches/ws1"

    problems = client.get(f"{base}/rows", params={"problems": "true"}).json()
    assert [f["id"] for f in problems["features"]] == [1, 2, 3]
    first = problems["features"][0]["properties"]
    assert first["state"] == "error" and first["checks"] == ["dept_code_invalid"] and first["component_id"]
    assert first["messages"][0].startswith("ZGBMDM：")
    only = client.get(f"{base}/rows", params={"check": "outside_town"}).json()["features"]
    assert [f["id"] for f in only] == [2]
    every = client.get(f"{base}/rows").json()["features"]
    assert {f["properties"]["state"] for f in every} == {"error", "insert"} and len(every) == 12

    # corrections: refused on the field, then recorded and re-checked without a new upload
    r = client.patch(f"{base}/rows/1", json={"attrs": {"NOPE": "x"}})
    assert r.status_code == 400 and r.json()["field"] == "attrs.NOPE"
    fixed = client.patch(f"{base}/rows/1", json={"attrs": {"ZGBMDM": T.OTHER_DEPT}, "note": "主管部门代码笔误"})
    assert fixed.status_code == 200, fixed.text
    assert fixed.json()["row"]["properties"]["state"] == "insert" and fixed.json()["batch"]["error_rows"] == 2
    same = client.patch(f"{base}/rows/1", json={"attrs": {"ZGBMDM": T.OTHER_DEPT}})
    assert same.status_code == 400 and same.json()["field"] == "attrs"
    r = client.patch(f"{base}/rows/2", json={"geometry": {"type": "Point", "coordinates": [200, 40]}})
    assert r.status_code == 400 and r.json()["field"] == "geometry"
    w, s, e, n = T.grid_boxes()[0][2]
    moved = client.patch(f"{base}/rows/2", json={"geometry": {"type": "Point", "coordinates": [(w + e) / 2, (s + n) / 2]},
                                                 "attrs": {"SZDYWGBSM": T.grid_boxes()[0][1]}})
    assert moved.status_code == 200, moved.text
    assert [i["check"] for i in moved.json()["row"]["properties"]["issues"]] == ["id_assigned"]
    assert moved.json()["row"]["geometry"]["coordinates"] == [(w + e) / 2, (s + n) / 2]
    assert client.get(f"{base}/rows/2").json()["properties"]["corrections"] == 1
    log = client.get(f"{base}/corrections").json()
    assert [c["row_no"] for c in log] == [1, 2] and log[0]["changes"]["ZGBMDM"] == {"before": "BAD", "after": T.OTHER_DEPT}
    assert log[0]["corrected_by"].endswith("gis_editor") and log[0]["note"] == "主管部门代码笔误"
    assert log[1]["changes"]["geometry"]["after"]["type"] == "Point"
    assert client.post(f"{base}/check").json()["error_rows"] == 1
    assert client.get(f"{base}/rows/99").status_code == 404

    # the report as files
    xlsx = client.get(f"{base}/report.xlsx")
    assert xlsx.status_code == 200 and "survey-report-ws1.xlsx" in xlsx.headers["content-disposition"]
    assert "问题清单" in load_workbook(io.BytesIO(xlsx.content)).sheetnames
    page = client.get(f"{base}/report.html").text
    assert "srcdoc=" in page and "部件普查报告" in page and "Leaflet" in page
    assert not re.findall(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page)

    published = client.post(f"{base}/publish", json={"valid_only": True}).json()
    assert published["inserted"] == 11
    assert client.patch(f"{base}/rows/3", json={"attrs": {"GLBJZT": "完好"}}).status_code == 409

    grids = client.get("/api/survey/coverage/grids").json()["features"]
    assert len(grids) == len(T.grid_boxes()) and sum(g["properties"]["components"] for g in grids) == 11
    assert sum(1 for g in grids if not g["properties"]["surveyed"]) == len(T.grid_boxes()) - 4
    one_class = T.catalog(town)[0][0]
    by_class = client.get("/api/survey/coverage/grids", params={"class": one_class}).json()["features"]
    assert sum(g["properties"]["components"] for g in by_class) == sum(
        g["properties"]["by_class"].get(one_class, 0) for g in grids)
    assert client.get("/api/survey/coverage/grids", params={"class": "x1"}).json()["field"] == "class"

    changes = client.get("/api/survey/changes").json()
    assert changes["batch"] == "ws1" and len(changes["features"]) == 11
    assert {f["properties"]["change"] for f in changes["features"]} == {"new"}
    assert client.get("/api/survey/changes", params={"since": "2999-01-01"}).json()["features"] == []
    assert client.get("/api/survey/changes", params={"since": "soon"}).json()["field"] == "since"
