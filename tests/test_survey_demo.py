"""Survey against the demo town: its live component layer, exported in EPSG:4527 and imported again
as a resurvey, passes every check and changes nothing; a moved copy is reported as moved."""
from __future__ import annotations

import pyogrio

from civicgrid.db import connect
from civicgrid.survey import service
from civicgrid.survey.export import ExportParams, export_layer
from civicgrid.survey.report import build_report


def test_demo_layer_round_trip_is_unchanged(demo_copy, tmp_path):
    with connect(demo_copy) as conn:
        total = conn.execute("SELECT count(*) AS n FROM component WHERE standard = 'GB/T 47678.5-2026'").fetchone()["n"]
    assert total > 0
    out = tmp_path / "demo.gpkg"
    r = export_layer(out, ExportParams(format="gpkg", crs="EPSG:4527"), url=demo_copy)
    assert r["exported"] >= total
    imp = service.import_file(out, url=demo_copy)
    s = imp.summary
    assert s["source_crs"] == "EPSG:4527"
    errors = service.list_issues(imp.batch, severity="error", limit=5, url=demo_copy)
    assert s["error_rows"] == 0, errors
    assert s["actions"].get("unchanged") == s["rows"], s["actions"]
    rep = build_report(imp.batch, url=demo_copy)
    assert rep["changes"]["totals"]["not_resurveyed"] == 0

    # move every component of one class by ~3 m east: reported as moved, publish updates them
    frame = pyogrio.read_dataframe(out)
    cls = frame["LXDM"].value_counts().index[0]
    moved = frame[frame["LXDM"] == cls].copy()
    moved["geometry"] = moved.geometry.translate(xoff=3.0)
    # a moved component may now lie in another grid: leave the grid to be filled in from the geometry
    moved["SZDYWGBSM"] = None
    moved["SZSQDM"] = None
    moved["SZSQMC"] = None
    p2 = tmp_path / "moved.gpkg"
    pyogrio.write_dataframe(moved, p2)
    imp2 = service.import_file(p2, url=demo_copy)
    assert imp2.summary["error_rows"] == 0, service.list_issues(imp2.batch, severity="error", limit=5, url=demo_copy)
    t = build_report(imp2.batch, url=demo_copy)["changes"]["totals"]
    assert t["moved"] == len(moved) and t["new"] == 0
    assert service.publish(imp2.batch, url=demo_copy)["updated"] == len(moved)
