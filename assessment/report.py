"""The monthly work report (综合执法指挥中心运维服务工作报告): the score sheet laid out as the
contract's 运维考核记录表 (items, 计分点, 打分, 总计, signature and date lines) and the six records,
as PDF and XLSX through civicgrid/reports.py (the CJK font embedded, so the PDF's text is selectable;
numbers stay numbers in the XLSX). Both are made from one `gather(conn, month)`, so they carry the
same numbers.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from civicgrid import reports as R
from civicgrid.assessment import service

FORMATS = {"pdf": (R.PDF_MEDIA_TYPE, "pdf"), "xlsx": (R.XLSX_MEDIA_TYPE, "xlsx")}
TITLE = "综合执法指挥中心运维服务工作报告"
MAX_ROWS = 200   # per record table in the PDF (the XLSX has every row)


def gather(conn, month) -> dict:
    view = service.month_view(conn, month)
    return {"month": service.month_text(month), "config": service.config(conn), "result": view["result"],
            "revisions": view["revisions"],
            "events": [e for e in view["events"] if e["status"] == "confirmed"],
            "records": service.records(conn, month), "history": service.payments(conn)["months"]}


def build(data: dict, fmt: str) -> bytes:
    return _pdf(data) if fmt == "pdf" else _xlsx(data)


def _num(v) -> str:
    if v is None:
        return ""
    if isinstance(v, (float, Decimal)):
        v = Decimal(str(v)).normalize()
        return f"{v:f}"
    return str(v)


def _money(v) -> str:
    return f"{Decimal(str(v)):,.2f}"


def _t(v) -> str:
    if v is None:
        return ""
    if isinstance(v, datetime):
        return v.astimezone(service.LOCAL).strftime("%Y-%m-%d %H:%M")
    return str(v)


def _rate(v) -> str:
    return "" if v is None else f"{Decimal(str(v)) * 100:.1f}%"


def score_sheet(data: dict) -> list[list[str]]:
    """序号, 考核项目, 分值, 计分点, 扣分, 打分 — one row per item, then 总计."""
    rules: dict[str, list[str]] = {}
    for r in data["config"]["rules"]:
        if r["item_code"]:
            pts = "当月计0分" if r["zero_at"] == 1 else f"−{_num(r['points'])}分/次"
            if r["zero_at"] and r["zero_at"] > 1:
                pts += f"；一次{r['zero_at']}次及以上当月计0分"
            rules.setdefault(r["item_code"], []).append(f"{r['name']}：{pts}")
    result = data["result"]
    rows = []
    for i, item in enumerate(result["items"], 1):
        rows.append([str(i), item["name"], _num(item["max"]), "；".join(rules.get(item["code"], [])),
                     _num(item["deducted"]), _num(item["score"])])
    rows.append(["", "总计", "100", "触发当月计0分：" + "、".join(result["zeroed_by"]) if result["zeroed_by"] else "",
                 "", _num(result["total"])])
    return rows


def summary(data: dict) -> list[tuple[str, str]]:
    r = data["result"]
    grade = {g["code"]: g["name"] for g in data["config"]["grades"]}[r["grade"]]
    warnings = "；".join(f"{w['name']}（第{w['occurrence']}次，{'违约' if w['breach'] else '警告'}）" for w in r["warnings"])
    return [("考核月份", data["month"]), ("修订", f"第{r['revision']}次（{'已签字确认' if r['status'] == 'signed' else '草稿'}）"),
            ("总分", _num(r["total"])), ("等级", grade), ("到岗率", _rate(r["attendance_rate"]) or "无排班"),
            ("警告", warnings or "无"), ("违约次数", str(r["breaches"])), ("违约金（元）", _money(r["penalty"])),
            ("付款结论", r["consequence"])] + ([("复核原因", r["reason"])] if r["reason"] else [])


def record_tables(data: dict) -> list[tuple[str, list[str], list[list[str]]]]:
    rec = data["records"]
    staff = [[s["name"], s["title"], "是" if s["is_lead"] else "否", str(s["rostered"]), str(s["present"]),
              _rate(s["present"] / s["rostered"]) if s["rostered"] else ""] for s in rec["staff"]]
    spot = [[_t(s["checked_at"]), str(s["expected"]), str(s["found"]), s["note"]] for s in rec["spot_checks"]]
    lead = [["请假" if a["kind"] == "leave" else "更换", _t(a["starts_on"]), _t(a["ends_on"]),
             "是" if a["notified"] else "否", a["note"]] for a in rec["lead_absences"]]
    district = [[d["case_number"] or "", d["kind"], _t(d["created_at"]), _t(d["delivered_at"]), d["state"],
                 "按时" if d["on_time"] else "逾期"] for d in rec["district"]]
    days: dict = {}
    for i in rec["inspections"]:
        if i["section"] == "daily":
            day = days.setdefault(i["day"], {"n": 0, "bad": []})
            day["n"] += 1
            if not i["ok"]:
                day["bad"].append(i["item_name"])
    daily_items = sum(1 for c in data["config"]["check_items"] if c["section"] == "daily")
    inspection = [[_t(d), f"{v['n']}/{daily_items}", "、".join(v["bad"]) or "正常"] for d, v in sorted(days.items())]
    faults = [[_t(f["reported_at"]), _t(f["responded_at"]), _t(f["resolved_at"]), f["description"], f["cause"]]
              for f in rec["faults"] if f["category"] == "fault"]
    backups = [[_t(b["started_at"]), b["kind"], b["method"], _num(b["size_bytes"]), (b["checksum"] or "")[:16],
                "是" if b["verified"] else "否"] for b in rec["backups"]]
    security = [[_t(a["day"]), str(a["failed_logins"]), str(a["lockouts"]), str(a["bad_tokens"]), str(a["rate_limited"])]
                for a in rec["security_audit"]]
    sec_events = [[_t(f["reported_at"]), _t(f["resolved_at"]), f["description"], f["cause"]]
                  for f in rec["faults"] if f["category"] == "security"]
    sec_checks = [[_t(i["day"]), i["item_name"], "正常" if i["ok"] else "异常", i["note"]]
                  for i in rec["inspections"] if i["section"] == "security"]
    reports = [[r["kind_name"], _t(r["period_start"]), _t(r["due_at"]), _t(r["submitted_at"]),
                "按时" if r["submitted_at"] <= r["due_at"] else "逾期"] for r in rec["reports"]]
    return [
        ("（一）现场人员考勤表", ["姓名", "岗位", "负责人", "排班天数", "到岗天数", "到岗率"], staff),
        ("现场抽查", ["抽查时间", "约定人数", "在岗人数", "备注"], spot),
        ("负责人请假/更换", ["类别", "开始", "结束", "已报备登记", "备注"], lead),
        ("（二）区多网融合平台案件上报报告", ["案件编号", "类别", "产生时间", "上报/流转时间", "状态", "是否按时"], district),
        ("（三）日常巡检记录表", ["日期", "已检项目", "异常项目"], inspection),
        ("（四）故障排除记录表", ["报告时间", "响应时间", "解决时间", "故障描述", "原因"], faults),
        ("（五）数据备份记录表", ["开始时间", "类型", "方式", "大小（字节）", "校验值", "已验证恢复"], backups),
        ("（六）信息安全巡检记录表", ["日期", "登录失败", "账号锁定", "伪造/过期令牌", "频率限制拒绝"], security),
        ("安全事件", ["发现时间", "处置完成", "描述", "原因"], sec_events),
        ("安全巡检项目", ["日期", "项目", "结果", "备注"], sec_checks),
        ("周报/月报提交", ["类别", "周期开始", "截止时间", "提交时间", "是否按时"], reports),
    ]


def event_rows(data: dict) -> list[list[str]]:
    return [[_t(e["occurred_at"]), e["item_name"] or "警告", e["rule_name"], str(e["count"]),
             _num(e["points"] * e["count"]), "系统" if e["source"] == "system" else "人工", e["decided_by"] or "",
             e["reason"] or e["note"]] for e in data["events"]]


EVENT_HEAD = ["时间", "考核项目", "计分点", "次数", "扣分", "来源", "确认人", "说明"]
SHEET_HEAD = ["序号", "考核项目", "分值", "计分点", "扣分", "打分"]
SIGNERS = ["考核人", "运维单位负责人"]


def _columns(head: list[str]) -> list[tuple[str, str]]:
    return [(f"c{i}", label) for i, label in enumerate(head)]


def _typed(rows: list[list[str]]) -> list[list]:
    """Numbers as numbers (the XLSX adds up; the PDF shows them the same way), text as text."""
    return [[_number(x) for x in row] for row in rows]


def _number(v: str):
    try:
        return float(v) if v and v.replace(".", "", 1).lstrip("-").isdigit() else v
    except ValueError:
        return v


def _history(data: dict) -> R.LineChart | None:
    months = [m for m in data["history"] if m["month"] <= data["month"]][-12:]
    if len(months) < 2:
        return None
    return R.LineChart("近期月度考核得分", [m["month"] for m in months], {"总分": [float(m["total"]) for m in months]},
                       max_value=100)


def _pdf(data: dict) -> bytes:
    blocks: list = [R.Heading("一、运维考核记录表"),
                    R.Table(_columns(SHEET_HEAD), _typed(score_sheet(data)), widths=[1, 2.2, 1, 9, 1.2, 1.2]),
                    R.Table(_columns(["项目", "结果"]), [list(x) for x in summary(data)], widths=[1, 4]),
                    R.Signatures(SIGNERS),
                    R.Heading("二、扣分及警告事项")]
    events = event_rows(data)
    blocks.append(R.Table(_columns(EVENT_HEAD), _typed(events), widths=[2, 1.3, 3, 0.8, 0.8, 0.8, 1.4, 3])
                  if events else R.Text("无"))
    blocks.append(R.Heading("三、六项记录"))
    for name, head, rows in record_tables(data):
        blocks.append(R.Heading(name, level=2))
        if len(rows) > MAX_ROWS:
            blocks.append(R.Text(f"共 {len(rows)} 行，此处列出前 {MAX_ROWS} 行（全部见 XLSX）"))
        blocks.append(R.Table(_columns(head), _typed(rows[:MAX_ROWS])) if rows else R.Text("无记录"))
    chart = _history(data)
    if chart or len(data["revisions"]) > 1:
        blocks.append(R.Heading("四、考核历史"))
    if chart:
        blocks.append(chart)
    if len(data["revisions"]) > 1:
        blocks.append(R.Table(_columns(["修订", "状态", "总分", "等级", "原因", "签字人", "签字时间"]),
                              [[r["revision"], "已签字" if r["status"] == "signed" else "草稿", float(r["total"]),
                                r["grade"], r["reason"] or "", r["signed_by"] or "", _t(r["signed_at"])]
                               for r in data["revisions"]]))
    return R.pdf_document(TITLE, blocks, subtitle=f"{data['config']['contract']['name']}　考核月份：{data['month']}")


def _xlsx(data: dict) -> bytes:
    header = [TITLE, f"{data['config']['contract']['name']}　考核月份：{data['month']}"]
    sheets = [R.Sheet("运维考核记录表", _columns(SHEET_HEAD), _typed(score_sheet(data)), header=header),
              R.Sheet("考核结论及签字", _columns(["项目", "结果"]),
                      [list(x) for x in summary(data)] + [[f"{n}（签字）", "　　　　日期：　　年　　月　　日"] for n in SIGNERS],
                      header=header),
              R.Sheet("扣分事项", _columns(EVENT_HEAD), _typed(event_rows(data)), header=header)]
    for name, head, rows in record_tables(data):
        sheets.append(R.Sheet(name.replace("/", "、"), _columns(head), _typed(rows), header=[TITLE, name]))
    return R.xlsx_workbook(sheets)
