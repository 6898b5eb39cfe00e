"""`civicgrid geoserver publish|unpublish|status` against the fake GeoServer REST API (geoserver/testing.py).

No database is needed: what is published comes from layers/collections.py, security/access.yml and
the map's palette; GeoServer would read the tables itself through the datastore.
"""
from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import xml.etree.ElementTree as ET
from urllib.parse import quote
from xml.sax.saxutils import escape

import pytest
from click.testing import CliRunner

from civicgrid.cli import main
from civicgrid.geoserver.publish import NATIVE, public_collections
from civicgrid.geoserver.sld import palette, same_sld, style_for
from civicgrid.geoserver.testing import FakeGeoServer
from civicgrid.layers.collections import COLLECTIONS
from civicgrid.settings import REPO_ROOT, get_settings

ADMIN_PW = "gs-Adm1n&<pw>"                 # characters XML and URLs must escape
DB_PW = "Db&pa<ss>word"
WS = "civicgrid"
TABLES = {c.table for c in COLLECTIONS.values()} | set(NATIVE.values())


@pytest.fixture
def fake():
    with FakeGeoServer(password=ADMIN_PW, tables=TABLES) as gs:
        yield gs


@pytest.fixture
def run(fake, monkeypatch):
    """Run `civicgrid geoserver …` in-process against the fake; returns (exit code, stdout + stderr)."""
    monkeypatch.setenv("CIVICGRID_GEOSERVER_URL", fake.url)
    monkeypatch.setenv("CIVICGRID_GEOSERVER_PASSWORD", ADMIN_PW)
    monkeypatch.setenv("CIVICGRID_GEOSERVER_DB_URL", f"postgresql://gs_reader:{quote(DB_PW)}@db.renhe.local:5433/civicgrid")

    def invoke(*args):
        get_settings.cache_clear()
        result = CliRunner().invoke(main, ["geoserver", *args])
        get_settings.cache_clear()
        out = result.output
        assert ADMIN_PW not in out and DB_PW not in out, "a password was printed"
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        return result.exit_code, out
    yield invoke
    get_settings.cache_clear()


def test_publish_creates_everything_then_a_second_run_changes_nothing(fake, run):
    code, out = run("publish")
    assert code == 0, out
    layers = public_collections()
    assert set(layers) == {"unit-grids", "responsibility-grids", "communities", "town-boundary", "cases", "pois"}
    assert "urban-components" not in layers and "officer-positions" not in layers   # not for the public

    # workspace and datastore: connection from CIVICGRID_GEOSERVER_DB_URL, the password sent only there
    assert set(fake.workspaces) == {WS}
    store = fake.workspaces[WS]["stores"]["civicgrid"]
    assert {k: store["params"][k] for k in ("host", "port", "database", "user", "dbtype", "schema")} == {
        "host": "db.renhe.local", "port": "5433", "database": "civicgrid", "user": "gs_reader", "dbtype": "postgis",
        "schema": "public"}
    assert store["params"]["passwd"] == DB_PW
    carrying = [r for r in fake.log if DB_PW in r["body"] or escape(DB_PW) in r["body"]]
    assert [(r["method"], r["path"]) for r in carrying] == [("POST", f"/geoserver/rest/workspaces/{WS}/datastores")]
    assert all(DB_PW not in r["path"] and DB_PW not in str(r["query"]) for r in fake.log)

    # feature types: Chinese titles, descriptions, keywords, CRS; cases through the public view
    fts = store["featuretypes"]
    assert set(fts) == set(layers)
    for cid in layers:
        c = COLLECTIONS[cid]
        ft = fts[cid]
        assert (ft["title"], ft["abstract"], ft["srs"], ft["projectionPolicy"]) == (
            c.title_zh, c.description_zh, "EPSG:4490", "FORCE_DECLARED")
        assert ft["keywords"] == list(c.keywords)
        assert ft["nativeName"] == NATIVE.get(cid, c.table)
    assert fts["cases"]["nativeName"] == "case_public"

    # styles: the SLD generated from the palette is each layer's default style
    for cid in layers:
        style = fake.workspaces[WS]["styles"][cid]
        assert same_sld(style["sld"], style_for(cid, cid, COLLECTIONS[cid].title_zh))
        assert fake.layers[f"{WS}:{cid}"]["style"] == f"{WS}:{cid}"
    cases_sld = fake.workspaces[WS]["styles"]["cases"]["sld"]
    for cls in palette()["cases"]["classes"]:
        assert cls["fill"] in cases_sld and cls["label"] in cases_sld
    assert "<ElseFilter/>" in cases_sld and palette()["cases"]["fill"] in cases_sld
    assert palette()["communities"]["stroke"] in fake.workspaces[WS]["styles"]["communities"]["sld"]

    # the layer group: every layer, areas below lines below points
    group = fake.layergroups[f"{WS}_map"]
    assert group["title"] == "城市管理公开图层" and group["mode"] == "SINGLE"
    order = [p.split(":")[1] for p in group["published"]]
    assert set(order) == set(layers) and order.index("unit-grids") < order.index("communities") < order.index("pois")

    writes = len(fake.writes())
    code, out = run("publish")
    assert code == 0 and "nothing to change" in out, out
    assert len(fake.writes()) == writes, "the second publish sent writes"


def test_dry_run_sends_no_writes_and_a_drifted_server_gets_exactly_the_fix(fake, run):
    code, out = run("publish", "--dry-run")
    assert code == 0 and "dry run, nothing sent" in out
    assert "create    workspace   civicgrid" in out and "create    featuretype unit-grids" in out
    assert fake.log and not fake.writes()

    assert run("publish")[0] == 0
    fake.workspaces[WS]["stores"]["civicgrid"]["featuretypes"]["pois"]["title"] = "POI"    # someone edited it
    fake.layers[f"{WS}:town-boundary"]["style"] = "generic"
    before = len(fake.writes())
    code, out = run("publish", "--dry-run")
    assert "update    featuretype pois  (title differ)" in out and "update    layer       civicgrid:town-boundary" in out
    assert len(fake.writes()) == before

    code, out = run("publish")
    assert code == 0 and "done: 2 update" in out, out
    fixes = {(r["method"], r["path"]) for r in fake.writes()[before:]}
    assert fixes == {("PUT", f"/geoserver/rest/workspaces/{WS}/datastores/civicgrid/featuretypes/pois"),
                     ("PUT", f"/geoserver/rest/layers/{WS}:town-boundary")}
    assert fake.workspaces[WS]["stores"]["civicgrid"]["featuretypes"]["pois"]["title"] == "兴趣点"


def test_status_reports_and_unpublish_removes(fake, run):
    code, out = run("status")
    assert code == 0 and "GeoServer 2.24.2" in out and "missing  workspace" in out
    run("publish")
    fake.workspaces[WS]["styles"]["unit-grids"]["sld"] = style_for("pois", "unit-grids", "x")
    writes = len(fake.writes())
    code, out = run("status")
    assert code == 0 and "differs  style       civicgrid:unit-grids  (SLD differs)" in out and "1 to change" in out
    assert "ok       layergroup  civicgrid_map" in out
    assert len(fake.writes()) == writes, "status changed something"

    code, out = run("unpublish", "--dry-run")
    assert code == 0 and "delete    workspace   civicgrid" in out and len(fake.writes()) == writes
    code, out = run("unpublish")
    assert code == 0 and not fake.workspaces and not fake.layergroups and not fake.layers
    assert [r["query"] for r in fake.writes() if r["path"].endswith(f"/workspaces/{WS}")] == [{"recurse": "true"}]
    code, out = run("unpublish")
    assert code == 0 and "nothing to remove" in out


@pytest.mark.parametrize("case, reason", [
    ("401", "refused the credentials of user 'admin' (401)"),
    ("500", "answered 500 while reading workspace civicgrid: java.lang.NullPointerException"),
    ("write500", "answered 500 while creating workspace civicgrid: java.lang.RuntimeException"),
])
def test_failures_end_in_one_line(fake, run, monkeypatch, case, reason):
    if case == "401":
        monkeypatch.setenv("CIVICGRID_GEOSERVER_PASSWORD", "wrong-" + ADMIN_PW)
    elif case == "500":
        fake.fail_status = 500
    else:
        fake.fail_writes = 500
    code, out = run("publish")
    assert code == 1
    lines = out.strip().splitlines()
    assert lines[-1].startswith("civicgrid: GeoServer at ") and reason in lines[-1], out
    assert "Traceback" not in out and "wrong-" not in out


def test_unreachable_geoserver_is_one_line_from_the_real_command():
    with socket.socket() as s:        # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "CIVICGRID_GEOSERVER_URL": f"http://127.0.0.1:{port}/geoserver",
           "CIVICGRID_GEOSERVER_PASSWORD": ADMIN_PW, "CIVICGRID_GEOSERVER_DB_URL": f"postgresql://u:{DB_PW}@h/db"}
    proc = subprocess.run([sys.executable, "-m", "civicgrid.cli", "geoserver", "status"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"civicgrid: GeoServer at http://127.0.0.1:{port}/geoserver is unreachable (connection failed) "
        "while reading the version"]
    assert ADMIN_PW not in proc.stdout + proc.stderr and DB_PW not in proc.stdout + proc.stderr


def test_the_sld_is_valid_xml_from_the_one_palette():
    for cid in public_collections() + ["urban-components"]:
        root = ET.fromstring(style_for(cid, cid, COLLECTIONS[cid].title_zh).encode())
        assert root.tag == "{http://www.opengis.net/sld}StyledLayerDescriptor"
    comp = style_for("urban-components", "urban-components", "城市管理部件")
    assert "<ogc:Literal>01*</ogc:Literal>" in comp and "type_code" in comp and "#d62728" in comp
    # the map's layer modules take these colours from palette.json, not from literals of their own
    sources = "".join(p.read_text() for p in (REPO_ROOT / "web/src/map/layers").glob("*.js"))
    for key, entry in palette().items():
        for cls in entry.get("classes", []):
            assert cls["fill"] not in sources, f"{key}: {cls['fill']} is written in a layer module"
    assert sources.count("palette.json") >= 7


def test_basic_auth_is_what_the_fake_checks(fake, run):
    run("status")
    assert fake.log[0]["authorization"] == "Basic " + base64.b64encode(f"admin:{ADMIN_PW}".encode()).decode()


def test_the_admin_api_previews_publishes_and_reports(fake, demo_url, tmp_path, monkeypatch):
    from civicgrid.testing import app_client

    monkeypatch.delenv("CIVICGRID_GEOSERVER_URL", raising=False)
    with app_client(demo_url, tmp_path) as client:
        admin = client.creds.headers("admin")
        assert client.get("/api/geoserver/status", headers=admin).json()["configured"] is False
        r = client.post("/api/geoserver/publish", json={}, headers=admin)
        assert r.status_code == 409 and r.json()["field"] == "CIVICGRID_GEOSERVER_URL"
        assert client.post("/api/geoserver/publish", json={}, headers=client.creds.headers("leader")).status_code == 403

        monkeypatch.setenv("CIVICGRID_GEOSERVER_URL", fake.url)
        monkeypatch.setenv("CIVICGRID_GEOSERVER_PASSWORD", ADMIN_PW)
        get_settings.cache_clear()
        r = client.post("/api/geoserver/publish", json={"dry_run": True}, headers=admin)
        assert r.status_code == 200 and r.json()["applied"] is False and r.json()["pending"] == 21
        assert not fake.writes()
        assert client.post("/api/geoserver/publish", json={"dry_run": "maybe"}, headers=admin).json()["field"] == "dry_run"
        r = client.post("/api/geoserver/publish", json={}, headers=admin)
        assert r.json()["applied"] is True and {s["action"] for s in r.json()["steps"]} == {"create"}
        s = client.get("/api/geoserver/status", headers=admin).json()
        assert s["version"] == "2.24.2" and s["pending"] == 0 and len(s["steps"]) == 21

        fake.fail_status = 500
        r = client.get("/api/geoserver/status", headers=admin)
        assert r.status_code == 502 and "answered 500" in r.json()["description"] and ADMIN_PW not in r.text
    get_settings.cache_clear()


def test_the_read_only_role_reads_exactly_what_is_published(demo_url):
    """Migration 1220's civicgrid_geoserver: SELECT on the native tables publish sends, nothing more."""
    import psycopg

    from civicgrid.geoserver.publish import target
    from civicgrid.settings import Settings

    natives = {s.native for s in target(Settings(geoserver_db_url=demo_url)).layers}
    with psycopg.connect(demo_url) as conn:
        granted = {r[0] for r in conn.execute("SELECT table_name FROM information_schema.role_table_grants "
                                              "WHERE grantee = 'civicgrid_geoserver' AND privilege_type = 'SELECT'")}
        assert granted == natives | {"public_redaction"}
        assert not conn.execute("SELECT 1 FROM information_schema.role_table_grants WHERE grantee = "
                                "'civicgrid_geoserver' AND privilege_type <> 'SELECT'").fetchall()
        owner = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in sorted(natives)}
        conn.execute("SET ROLE civicgrid_geoserver")
        assert {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in sorted(natives)} == owner
        assert owner["unit_grid"] > 0 and owner["case_public"] > 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT reporter_phone FROM cases LIMIT 1")
