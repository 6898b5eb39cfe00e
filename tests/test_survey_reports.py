"""Survey reports, export (formats, CRS, standards), the CRS round trip 4527 → 4490 within 1 cm,
the HTTP API (upload → job → report → publish) and the CLI."""
from __future__ import annotations

import json
import re
import time
import zipfile

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from pyproj import Transformer

from civicgrid.db import connect
from civicgrid.survey import service
from civicgrid.survey import testing as T
from civicgrid.survey.export import ExportParams, export_layer
from civicgrid.survey.report import build_report, write_report


@pytest.fixture
def town(empty_db):
    T.build_town(empty_db)
    return empty_db


def gdf_of(frame, epsg=4490):
    g = gpd.GeoDataFrame(frame.drop(columns=["lon", "lat"]), geometry=gpd.points_from_xy(frame.lon, frame.lat), crs=4490)
    return g.to_crs(epsg) if epsg != 4490 else g


def test_crs_round_trip_4527_in_4490_out_within_1cm(town, tmp_path):
    frame = T.synthetic_rows(40, T.catalog(town), seed=21, with_ids=True)
    src = tmp_path / "zone39.gpkg"
    gdf_of(frame, 4527).to_file(src, driver="GPKG")
    out = service.import_file(src, url=town)
    assert out.summary["source_crs"] == "EPSG:4527" and out.summary["error_rows"] == 0
    service.publish(out.batch, url=town)
    dst = tmp_path / "out.gpkg"
    r = export_layer(dst, ExportParams(format="gpkg", crs="EPSG:4490"), url=town)
    assert r["exported"] == 40
    back = pyogrio.read_dataframe(dst).set_index("GLBJBSM").loc[frame["GLBJBSM"]]
    assert back.crs.to_epsg() == 4490
    to_m = Transformer.from_crs(4490, 4548, always_xy=True)
    e0, n0 = to_m.transform(frame["lon"].to_numpy(), frame["lat"].to_numpy())
    e1, n1 = to_m.transform(back.geometry.x.to_numpy(), back.geometry.y.to_numpy())
    error_m = np.hypot(e1 - e0, n1 - n0)
    assert error_m.max() < 0.01, error_m.max()
    # and out again in 4527: eastings carry the zone number
    csv = tmp_path / "out.csv"
    export_layer(csv, ExportParams(format="csv", crs="EPSG:4527"), url=town)
    assert pd.read_csv(csv)["x_easting"].between(39_000_000, 40_000_000).all()


def test_export_formats_and_standards(town, tmp_path):
    gb = T.synthetic_rows(30, T.catalog(town), seed=22)
    p = tmp_path / "gb.csv"
    gb.to_csv(p, index=False)
    service.publish(service.import_file(p, url=town).batch, url=town)
    shp = tmp_path / "out.zip"
    r = export_layer(shp, ExportParams(format="shp", crs="EPSG:4548"), url=town)
    with zipfile.ZipFile(shp) as zf:
        assert any(n.endswith(".shp") for n in zf.namelist())
    back = pyogrio.read_dataframe(f"/vsizip/{shp}")
    assert len(back) == 30 and back.crs.to_epsg() == 4548 and back.geometry.x.between(4e5, 6e5).all()
    gj = tmp_path / "out.geojson"
    export_layer(gj, ExportParams(format="geojson"), url=town)
    assert len(json.loads(gj.read_text())["features"]) == 30
    # under CJ/T 214 codes: mapped classes get 16-digit IDs, the rest are left out and counted
    old = tmp_path / "cjt.gpkg"
    r = export_layer(old, ExportParams(format="gpkg", standard="cjt214"), url=town)
    back = pyogrio.read_dataframe(old)
    assert r["exported"] + sum(u["components"] for u in r["unmapped"]) == 30
    assert back["GLBJBSM"].str.len().eq(16).all() and back["LXDM"].str.len().eq(4).all()
    with connect(town) as conn:
        pairs = {(m["from_code"], m["to_code"]) for m in conn.execute(
            "SELECT from_code, to_code FROM catalog_mapping WHERE from_kind = 'component'")}
    live = {r["id"]: r["type_code"] for r in service_components(town)}
    for _, row in back.iterrows():
        gb_id = row["GLBJBSM"][:6] + "?" + row["GLBJBSM"][-6:]
        match = [i for i in live if i[:6] + "?" + i[-6:] == gb_id and (row["LXDM"], live[i]) in pairs]
        assert match, row["GLBJBSM"]


def service_components(url):
    with connect(url) as conn:
        return conn.execute("SELECT id, type_code FROM component").fetchall()


def test_change_and_coverage_reports(town, tmp_path):
    v1 = T.synthetic_rows(40, T.catalog(town)[:5], seed=23, with_ids=True,
                          boxes=T.grid_boxes()[:6])  # only the first 6 unit grids
    p1 = tmp_path / "v1.csv"
    v1.to_csv(p1, index=False)
    service.publish(service.import_file(p1, batch="v1", url=town).batch, url=town)
    v2 = v1.iloc[:35].copy()              # 5 not resurveyed
    v2.loc[:3, "lon"] += 0.00003          # 4 moved ≈ 2.5 m
    v2.loc[10:11, "GLBJZT"] = "破损"       # 2 attribute changes
    v2 = pd.concat([v2, T.synthetic_rows(3, T.catalog(town)[5:8], seed=24, boxes=T.grid_boxes()[:6])])
    p2 = tmp_path / "v2.csv"
    v2.to_csv(p2, index=False)
    service.import_file(p2, batch="v2", url=town)
    rep = build_report("v2", url=town)
    t = rep["changes"]["totals"]
    assert (t["new"], t["moved"], t["attribute_changed"], t["not_resurveyed"]) == (3, 4, 2, 5), t
    assert t["unchanged"] == 29
    assert {r["community_name"] for r in rep["changes"]["by_class_and_community"]} <= {"仁和社区", "沙井村"}
    cov = rep["coverage"]
    assert sum(g["components"] for g in cov["by_unit_grid"]) == 40
    assert len(cov["empty_unit_grids"]) == len(T.grid_boxes()) - 6
    assert all(c["per_km2"] > 0 for c in cov["by_class"])
    files = write_report(tmp_path / "rep", "v2", url=town)
    page = files["html"].read_text(encoding="utf-8")
    map_page = (tmp_path / "rep" / f"{files['html'].stem}-map.html").read_text(encoding="utf-8")
    for text in (page, map_page):
        # nothing loads from the internet: every src/href is local
        assert not re.findall(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", text), \
            re.findall(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//[^"' >]+""", text)
    assert 'src="leaflet/leaflet.js"' in map_page and (tmp_path / "rep" / "leaflet" / "leaflet.js").is_file()
    wb = load_workbook(files["xlsx"])
    assert {"概况", "按类别和社区", "未复测", "网格覆盖", "类别密度", "空白网格"} <= set(wb.sheetnames)
    assert json.loads(files["json"].read_text(encoding="utf-8"))["changes"]["totals"]["moved"] == 4


# ---------------------------------------------------------------- HTTP

@pytest.fixture
def client(town, tmp_path):
    from civicgrid.security.testing import Credentials
    from civicgrid.testing import app_client

    # a GIS editor (the survey's users); test_security_matrix checks who else may call these routes
    with app_client(town, tmp_path / "data", headers=Credentials(town).headers("gis_editor")) as c:
        yield c


def test_http_upload_job_report_publish(client, town, tmp_path):
    frame = T.synthetic_rows(20, T.catalog(town), seed=25)
    frame.loc[0, "ZGBMDM"] = "BAD"
    body = frame.to_csv(index=False).encode()
    r = client.post("/api/survey/uploads", files={"file": ("外业.csv", body, "text/csv")},
                    data={"standard": "gbt47678", "batch": "web1"})
    assert r.status_code == 202, r.text
    job_url = r.json()["href"]
    for _ in range(100):
        job = client.get(job_url).json()
        if job["status"] in ("done", "failed"):
            break
        time.sleep(0.1)
    assert job["status"] == "done", job
    assert job["result"]["rows"] == 20 and job["result"]["error_rows"] == 1
    issues = client.get("/api/survey/batches/web1/issues", params={"severity": "error"}).json()
    assert issues[0]["row_no"] == 1 and issues[0]["message"].startswith("ZGBMDM：")
    rep = client.get(job["report"]).json()
    assert rep["changes"]["totals"]["new"] == 19
    bad = client.post("/api/survey/batches/web1/publish", content=b'{"valid_only": "perhaps"}')
    assert bad.status_code == 400 and bad.json()["field"] == "valid_only"
    refused = client.post("/api/survey/batches/web1/publish", json={})
    assert refused.status_code == 412 and refused.json()["field"] == "valid_only"
    ok = client.post("/api/survey/batches/web1/publish", json={"valid_only": True})
    assert ok.status_code == 200 and ok.json()["inserted"] == 19
    assert client.get("/api/health").json()["components"] == 19
    exp = client.get("/api/survey/export", params={"format": "geojson", "crs": "EPSG:4548"})
    assert exp.status_code == 200 and len(exp.json()["features"]) == 19
    assert client.get("/api/survey/export", params={"format": "kml"}).json()["field"] == "format"
    assert client.get("/api/survey/export", params={"crs": "EPSG:3857"}).status_code == 400
    un = client.get("/api/survey/catalog-mapping", params={"unmapped": "true", "standard": "cjt214"}).json()
    assert {"0502", "0601", "0602"} <= {u["code"] for u in un}
    assert client.get("/api/survey/coverage").json()["by_class"]
    assert client.get("/api/survey/batches/nope").status_code == 404
    assert client.get("/api/survey/jobs/not-a-uuid").status_code == 404
    rb = client.post("/api/survey/batches/web1/rollback")
    assert rb.status_code == 200 and rb.json()["deleted"] == 19


def test_http_upload_refuses_bad_input(client):
    r = client.post("/api/survey/uploads", files={"file": ("a.txt", b"x", "text/plain")})
    assert r.status_code == 400 and r.json()["field"] == "file"
    r = client.post("/api/survey/uploads", files={"file": ("a.csv", b"lon,lat\n1,2\n", "text/csv")},
                    data={"crs": "EPSG:3857"})
    assert r.status_code == 400 and r.json()["field"] == "crs"
    r = client.post("/api/survey/uploads", files={"file": ("a.csv", b"lon,lat\n1,2\n", "text/csv")},
                    data={"mapping": "columns: [1, 2"})
    assert r.status_code == 400 and r.json()["field"] == "mapping"
    r = client.post("/api/survey/uploads", content=b"raw")
    assert r.status_code == 400


# ---------------------------------------------------------------- CLI

def test_cli_import_publish_report_export(town, tmp_path, monkeypatch):
    from civicgrid.cli import main
    from civicgrid.settings import get_settings

    monkeypatch.setenv("DATABASE_URL", town)
    get_settings.cache_clear()
    frame = T.synthetic_rows(10, T.catalog(town), seed=26)
    p = tmp_path / "c.csv"
    frame.to_csv(p, index=False)
    run = CliRunner().invoke
    bad = run(main, ["survey", "import", str(p), "--crs", "EPSG:3857", "--quiet"])
    assert bad.exit_code == 1 and "unsupported CRS" in bad.output
    ok = run(main, ["survey", "import", str(p), "--batch", "cli1", "--quiet"])
    assert ok.exit_code == 0 and "10 valid, 0 with errors" in ok.output, ok.output
    again = run(main, ["survey", "import", str(p), "--quiet"])
    assert again.exit_code == 0 and "nothing imported" in again.output
    assert run(main, ["survey", "publish", "cli1"]).exit_code == 0
    rep = run(main, ["survey", "report", "cli1", "--out", str(tmp_path / "r")])
    assert rep.exit_code == 0 and (tmp_path / "r" / "survey-report-cli1.xlsx").is_file()
    exp = run(main, ["survey", "export", str(tmp_path / "o.zip"), "--crs", "EPSG:4527"])
    assert exp.exit_code == 0 and "10 component(s)" in exp.output
    assert run(main, ["survey", "export", str(tmp_path / "o.kml")]).exit_code == 1
    assert "cli1" in run(main, ["survey", "batches"]).output
    assert run(main, ["survey", "rollback", "cli1"]).exit_code == 0
    get_settings.cache_clear()
