"""A revision as an XLSX workbook (one sheet per entity kind, plus 说明) or a PDF report (title,
period, method and weights, per kind: ranking table with grade colours, bar chart of scores, and
the kind's average score over the recent periods), both from the same rows, so the same numbers."""
from __future__ import annotations

from urllib.parse import quote

from civicgrid import reports
from civicgrid.db import load_sql
from civicgrid.evaluation import method as methods
from civicgrid.evaluation.compute import KIND_NAMES

PACKAGE = "civicgrid.evaluation"
GRADE_COLOURS = {"A": "#b7e4a7", "B": "#d9f0c4", "C": "#fff2b3", "D": "#ffd2a8", "E": "#f8b4b4"}
CHART_TOP = 20   # bars per chart: the best 20 of a kind (every row is in the table)


def columns(kind: str, cfg: dict) -> list[tuple[str, str]]:
    _, counted, rates = methods.KINDS[kind]
    lab = methods.labels(cfg, kind)
    return ([("rank", "排名"), ("code", "编码"), ("name", "名称")] + [(k, lab.get(k, k)) for k in counted]
            + [(k, lab.get(k, k) + "(%)") for k in rates] + [("score", "综合指标值"), ("grade", "等级"),
                                                             ("rank_change", "名次变化"), ("mom", "环比"), ("yoy", "同比")])


def flat(kind: str, r: dict) -> dict:
    _, counted, rates = methods.KINDS[kind]
    ind = r["indicators"]
    out = {"rank": r["rank"], "code": r["entity_code"], "name": r["entity_name"], "score": r["score"], "grade": r["grade"],
           "rank_change": r["rank_change"], "mom": r["mom"], "yoy": r["yoy"]}
    out.update({k: ind.get(k) for k in counted})
    out.update({k: None if ind.get(k) is None else round(100 * ind[k], 2) for k in rates})
    return out


def method_text(cfg: dict, kind: str) -> str:
    lab = methods.labels(cfg, kind)
    w = cfg[methods.section(kind)]["weights"]
    parts = [f"{lab.get(k, k)}×{round(v * 100, 2):g}%" for k, v in w.items()]
    return "综合指标值 = " + " + ".join(parts)


def build(conn, fmt: str, period: dict, rev: dict, kinds: list[str], results) -> tuple[bytes, str, str]:
    cfg = conn.execute("SELECT config FROM evaluation_method WHERE version = %s", [rev["method_version"]]).fetchone()["config"]
    title = f"综合评价报告 {period['name']}"
    when = f"{period['start_at']:%Y-%m-%d} 至 {period['end_at']:%Y-%m-%d}（不含）"
    state = "已发布" if rev["published_at"] else "未发布"
    head = [title, f"评价周期：{when}", f"修订：第 {rev['revision']} 版（{state}，{rev['reason']}）",
            f"评价方法：第 {rev['method_version']} 版；等级：" + "，".join(f"{g['grade']} ≥ {g['min']:g}" for g in cfg["grades"])]
    data = {k: [flat(k, r) for r in results(conn, period, rev, k)] for k in kinds}
    base = f"evaluation-{period['kind']}-{period['code']}-r{rev['revision']}"
    if fmt == "xlsx":
        sheets = [reports.Sheet("说明", [("item", "项目"), ("text", "内容")],
                                [{"item": "标题", "text": title}, {"item": "周期", "text": when},
                                 {"item": "修订", "text": head[2].split("：", 1)[1]}, {"item": "方法", "text": head[3].split("：", 1)[1]}]
                                + [{"item": methods.KINDS[k][0], "text": method_text(cfg, k)} for k in kinds])]
        for k in kinds:
            sheets.append(reports.Sheet(methods.KINDS[k][0], columns(k, cfg), data[k], header=[f"{methods.KINDS[k][0]} {period['name']}"],
                                        cell_colours=[{"grade": GRADE_COLOURS.get(r["grade"])} for r in data[k]]))
        return reports.xlsx_workbook(sheets), reports.XLSX_MEDIA_TYPE, quote(base + ".xlsx")
    if fmt != "pdf":
        from civicgrid.errors import NotFound
        raise NotFound(f"no export as {fmt}: xlsx or pdf", field="fmt")
    blocks: list = [reports.Text(line) for line in head[1:]]
    for k in kinds:
        rows = data[k]
        name = methods.KINDS[k][0]
        blocks += [reports.Heading(f"{name}评价（{len(rows)}）"), reports.Text(method_text(cfg, k))]
        short = [c for c in columns(k, cfg) if c[0] not in ("code", "yoy")]
        blocks.append(reports.Table(short, rows, cell_colours=[{"grade": GRADE_COLOURS.get(r["grade"])} for r in rows]))
        top = rows[:CHART_TOP]
        blocks.append(reports.BarChart(f"{name}综合指标值（前 {len(top)} 名）", [r["name"] for r in top], [r["score"] for r in top],
                                       max_value=100))
        trend = conn.execute(load_sql(PACKAGE, "trend.sql"),
                             {"kind": k, "period_kind": period["kind"], "until": period["start_at"]}).fetchall()
        if len(trend) > 1:
            blocks.append(reports.LineChart(f"{name}平均综合指标值（近 {len(trend)} 期）", [t["code"] for t in trend],
                                            {"平均": [float(t["avg_score"]) for t in trend]}, max_value=100))
    pdf = reports.pdf_document(title, blocks, subtitle=f"{KIND_NAMES[period['kind']]}评价 · 第 {rev['revision']} 版",
                               landscape=True)
    return pdf, reports.PDF_MEDIA_TYPE, quote(base + ".pdf")
