"""Survey reports against the live layer: what a batch changes (new, moved > 0.5 m, attributes changed,
not resurveyed — by class and community) and coverage (components per unit grid and per km² by class,
unit grids with nothing surveyed). As a dict (JSON for the API), an XLSX workbook and an HTML page
with a folium map whose Leaflet JS/CSS are copied next to it (nothing loads from the internet).
"""
from __future__ import annotations

import html
import json
import re
import shutil
from decimal import Decimal
from pathlib import Path

from civicgrid.db import connect
from civicgrid.survey.service import batch_summary, sql_steps

VENDOR = Path(__file__).with_name("vendor") / "leaflet"
MAP_ROW_LIMIT = 5000  # rows drawn on the report map; the workbook lists every count

ACTION_COLORS = {"insert": "#1a9850", "update": "#f46d43", "unchanged": "#4575b4", None: "#d73027"}
ACTION_NAMES = {"insert": "新增", "update": "变更（移动或属性）", "unchanged": "未变", None: "有错误"}

HEADERS = {
    "class_code": "类别代码", "class_name": "类别名称", "community_code": "社区（村）代码",
    "community_name": "社区（村）", "new": "新增", "moved": "移动>0.5米", "attribute_changed": "属性变更",
    "unchanged": "未变", "error_rows": "错误行", "rows": "行数", "not_resurveyed": "未复测",
    "unit_grid_code": "单元网格", "area_km2": "面积(km²)", "components": "部件数", "per_km2": "每km²部件数",
    "standard": "标准", "grids_with_class": "有该类部件的网格数", "grids": "网格总数",
    "row_no": "行号", "id": "标识码",
    "component_id": "标识码（GLBJBSM）", "action": "处理", "moved_m": "移动(米)", "changed_fields": "变更属性",
    "has_error": "有错误", "lon": "经度", "lat": "纬度", "check": "检查项", "severity": "级别",
    "field": "属性", "message": "说明",
}


def _plain(value):
    if isinstance(value, Decimal):
        return float(value)
    return value


def _rows(conn, name: str, params: dict) -> list[dict]:
    statement = dict(sql_steps("report"))[name]
    return [{k: _plain(v) for k, v in r.items()} for r in conn.execute(statement, params)]


def build_report(batch: str | None = None, *, url: str | None = None, map_rows: int = MAP_ROW_LIMIT) -> dict:
    """The whole report as plain data (what /api/survey/... returns as JSON)."""
    with connect(url) as conn:
        out: dict = {"coverage": {
            "by_unit_grid": _rows(conn, "coverage_grids", {}),
            "by_class": _rows(conn, "coverage_classes", {}),
            "empty_unit_grids": _rows(conn, "empty_grids", {}),
        }}
        if batch:
            params = {"batch": batch, "limit": map_rows}
            summary = batch_summary(conn, batch)
            changes = _rows(conn, "changes", params)
            not_resurveyed = _rows(conn, "not_resurveyed", params)
            totals = {k: sum(r[k] for r in changes) for k in ("new", "moved", "attribute_changed", "unchanged",
                                                             "error_rows", "rows")}
            totals["not_resurveyed"] = sum(r["not_resurveyed"] for r in not_resurveyed)
            out["batch"] = summary
            out["changes"] = {"totals": totals, "by_class_and_community": changes,
                              "not_resurveyed": not_resurveyed}
            out["rows"] = _rows(conn, "changed_rows", params)
            out["issues"] = [dict(r) for r in conn.execute(
                "SELECT i.row_no, coalesce(s.final_id, s.attrs ->> 'GLBJBSM') AS component_id, i.check_code AS check, "
                "k.severity, i.field, i.message FROM survey_issue i JOIN survey_check k ON k.code = i.check_code "
                "JOIN survey_row s ON (s.batch, s.row_no) = (i.batch, i.row_no) "
                "WHERE i.batch = %s AND k.severity <> 'info' "
                "ORDER BY i.row_no, i.check_code LIMIT 20000", [batch])]
    return out


# ---------------------------------------------------------------- XLSX

def write_xlsx(report: dict, path: Path) -> Path:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = "概况"
    if "batch" in report:
        b = report["batch"]
        for key, label in [("batch", "批次"), ("file_name", "文件"), ("standard", "标准"), ("source_crs", "坐标系"),
                           ("crs_note", "坐标说明"), ("status", "状态"), ("rows", "行数"), ("error_rows", "错误行"),
                           ("warning_rows", "警告行"), ("published_rows", "已发布行")]:
            ws.append([label, b.get(key)])
        for key, value in report["changes"]["totals"].items():
            ws.append([HEADERS.get(key, key), value])
    else:
        ws.append(["覆盖情况", "（未指定批次）"])

    def sheet(title: str, rows: list[dict], skip=("geometry",)):
        sh = wb.create_sheet(title)
        if not rows:
            sh.append(["（无）"])
            return
        keys = [k for k in rows[0] if k not in skip]
        sh.append([HEADERS.get(k, k) for k in keys])
        for cell in sh[1]:
            cell.font = Font(bold=True)
        for r in rows:
            sh.append([r[k] for k in keys])
        sh.freeze_panes = "A2"

    if "changes" in report:
        sheet("按类别和社区", report["changes"]["by_class_and_community"])
        sheet("未复测", report["changes"]["not_resurveyed"])
        sheet("问题清单", report["issues"])
    sheet("网格覆盖", report["coverage"]["by_unit_grid"])
    sheet("类别密度", report["coverage"]["by_class"])
    sheet("空白网格", report["coverage"]["empty_unit_grids"])
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


# ---------------------------------------------------------------- HTML + folium

def _vendor_leaflet(out_dir: Path) -> None:
    target = out_dir / "leaflet"
    if not target.exists():
        shutil.copytree(VENDOR, target)


def grid_outlines(url: str | None = None) -> dict:
    """Unit grid outlines (simplified to ~1 m) for the report map: the only basemap that needs no internet."""
    with connect(url) as conn:
        features = [{"type": "Feature", "geometry": r["g"], "properties": {"code": r["code"]}} for r in conn.execute(
            "SELECT code, ST_AsGeoJSON(ST_SimplifyPreserveTopology(geom, 0.00001), 6)::jsonb AS g FROM unit_grid")]
    return {"type": "FeatureCollection", "features": features}


def write_map(report: dict, path: Path, outlines: dict | None = None) -> Path:
    import folium

    rows = report.get("rows", [])
    empty = report["coverage"]["empty_unit_grids"]
    points = [(r["lat"], r["lon"]) for r in rows if r["lat"] is not None]
    fmap = folium.Map(location=points[0] if points else [40.115, 116.62], zoom_start=14, tiles=None,
                      prefer_canvas=True)
    # Leaflet only, from the copy beside the page: no CDN (the machines reach no internet)
    fmap.default_js = [("leaflet", "leaflet/leaflet.js")]
    fmap.default_css = [("leaflet_css", "leaflet/leaflet.css")]
    if outlines and outlines["features"]:
        folium.GeoJson(outlines, name="单元网格",
                       style_function=lambda f: {"color": "#999", "weight": 0.6, "fill": False},
                       tooltip=folium.GeoJsonTooltip(fields=["code"], aliases=["单元网格"])).add_to(fmap)
    if empty:
        folium.GeoJson({"type": "FeatureCollection", "features": [
            {"type": "Feature", "geometry": g["geometry"], "properties": {"code": g["unit_grid_code"]}}
            for g in empty]}, name="空白网格",
            style_function=lambda f: {"color": "#777", "weight": 1, "fillColor": "#bbb", "fillOpacity": 0.4},
            tooltip=folium.GeoJsonTooltip(fields=["code"], aliases=["空白网格"])).add_to(fmap)
    groups = {}
    for r in rows:
        if r["lat"] is None:
            continue
        action = None if r["has_error"] else r["action"]
        group = groups.get(action)
        if group is None:
            group = groups[action] = folium.FeatureGroup(name=ACTION_NAMES[action]).add_to(fmap)
        tip = f"{r['id'] or '行' + str(r['row_no'])} {r['class_name'] or ''} {ACTION_NAMES[action]}"
        if r["moved_m"]:
            tip += f" 移动 {r['moved_m']} 米"
        if r["changed_fields"]:
            tip += f" 变更 {r['changed_fields']}"
        folium.CircleMarker([r["lat"], r["lon"]], radius=3, color=ACTION_COLORS[action], fill=True,
                            fill_opacity=0.8, weight=1, tooltip=html.escape(tip)).add_to(group)
    if points:
        fmap.fit_bounds([[min(p[0] for p in points), min(p[1] for p in points)],
                         [max(p[0] for p in points), max(p[1] for p in points)]])
    folium.LayerControl(collapsed=False).add_to(fmap)
    _vendor_leaflet(path.parent)
    fmap.save(str(path))
    return path


def _table(rows: list[dict], limit: int = 500) -> str:
    if not rows:
        return "<p>（无）</p>"
    keys = [k for k in rows[0] if k != "geometry"]
    head = "".join(f"<th>{html.escape(HEADERS.get(k, k))}</th>" for k in keys)
    body = "".join("<tr>" + "".join(f"<td>{html.escape('' if r[k] is None else str(r[k]))}</td>" for k in keys)
                   + "</tr>" for r in rows[:limit])
    more = f"<p>仅显示前 {limit} 行，共 {len(rows)} 行，完整内容见 XLSX。</p>" if len(rows) > limit else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}"


def write_html(report: dict, path: Path, outlines: dict | None = None) -> Path:
    map_path = write_map(report, path.with_name(path.stem + "-map.html"), outlines)
    parts = ["<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'><title>部件普查报告</title>",
             "<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;margin:.5em 0}"
             "td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px}th{background:#eee}"
             "iframe{width:100%;height:560px;border:1px solid #ccc}</style></head><body>",
             "<h1>部件普查报告</h1>"]
    if "batch" in report:
        b = report["batch"]
        t = report["changes"]["totals"]
        parts.append(f"<p>批次 <b>{html.escape(b['batch'])}</b>（{html.escape(b['file_name'])}，{b['standard']}，"
                     f"{b['source_crs']}）状态：{b['status']}；共 {b['rows']} 行，错误 {b['error_rows']} 行。</p>")
        if b.get("crs_note"):
            parts.append(f"<p>坐标说明：{html.escape(b['crs_note'])}</p>")
        parts.append(f"<p>新增 {t['new']}，移动超过 0.5 米 {t['moved']}，属性变更 {t['attribute_changed']}，"
                     f"未变 {t['unchanged']}，本次覆盖网格内未复测 {t['not_resurveyed']}。</p>")
    parts.append(f"<h2>地图</h2><iframe src='{html.escape(map_path.name)}'></iframe>")
    if "batch" in report:
        parts += ["<h2>按类别和社区的变化</h2>", _table(report["changes"]["by_class_and_community"]),
                  "<h2>未复测部件</h2>", _table(report["changes"]["not_resurveyed"]),
                  "<h2>检查问题</h2>", _table(report["issues"])]
    parts += ["<h2>类别密度（每平方公里）</h2>", _table(report["coverage"]["by_class"]),
              "<h2>单元网格覆盖</h2>", _table(report["coverage"]["by_unit_grid"]),
              "<h2>空白网格（无任何部件）</h2>", _table(report["coverage"]["empty_unit_grids"]),
              "</body></html>"]
    path.write_text("".join(parts), encoding="utf-8")
    return path


def write_report(out_dir: str | Path, batch: str | None = None, *, formats=("html", "xlsx", "json"),
                 url: str | None = None) -> dict[str, Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = build_report(batch, url=url)
    stem = f"survey-report-{batch}" if batch else "survey-coverage"
    written = {}
    if "json" in formats:
        p = out_dir / f"{stem}.json"
        p.write_text(json.dumps(report, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
        written["json"] = p
    if "xlsx" in formats:
        written["xlsx"] = write_xlsx(report, out_dir / f"{stem}.xlsx")
    if "html" in formats:
        written["html"] = write_html(report, out_dir / f"{stem}.html", grid_outlines(url))
    return written


def standalone_html(batch: str | None = None, *, url: str | None = None) -> str:
    """The HTML report as one file (for download from the web page): the map page with Leaflet inlined
    goes into the report's iframe as `srcdoc`, so nothing beside it is needed and nothing loads from
    the internet."""
    import tempfile

    report = build_report(batch, url=url)
    with tempfile.TemporaryDirectory(prefix="civicgrid-report-") as tmp:
        page = write_html(report, Path(tmp) / "report.html", grid_outlines(url))
        map_page = page.with_name(page.stem + "-map.html").read_text(encoding="utf-8")
        text = page.read_text(encoding="utf-8")
    js = (VENDOR / "leaflet.js").read_text(encoding="utf-8").replace("</script", "<\\/script")
    css = (VENDOR / "leaflet.css").read_text(encoding="utf-8")
    map_page = re.sub(r"""<script[^>]*src=["']?leaflet/leaflet\.js["']?[^>]*>\s*</script>""",
                      lambda m: f"<script>{js}</script>", map_page)
    map_page = re.sub(r"""<link[^>]*href=["']?leaflet/leaflet\.css["']?[^>]*/?>""",
                      lambda m: f"<style>{css}</style>", map_page)
    return re.sub(r"<iframe src='[^']*'>", lambda m: f"<iframe srcdoc=\"{html.escape(map_page, quote=True)}\">", text)
