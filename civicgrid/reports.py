"""Report documents shared by the evaluation and the operations assessment: PDF (reportlab) and
XLSX (openpyxl), both in Chinese.

The PDF embeds a subset of a CJK TrueType font (Debian's fonts-wqy-microhei, else Noto CJK), so its
text is real, selectable text (`pdftotext` reads it back) rather than shapes. A document is a list
of blocks:

    pdf_document("综合评价报告", [Heading("单元网格"), Text("…"), Table(columns, rows),
                                 BarChart("综合指标值", labels, values)], subtitle="2026年5月")

    xlsx_workbook([Sheet("单元网格", columns, rows, header=["综合评价 2026年5月"])])

`columns` is a list of (key, label) pairs; rows are dicts (by key) or sequences (by position).
Both builders return the file's bytes.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

from civicgrid.errors import SetupError

FONT_NAME = "CivicgridCJK"
# the first font found is embedded; .ttc collections use their first face (the proportional one)
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF_MEDIA_TYPE = "application/pdf"

Columns = Sequence[tuple[str, str]]


@dataclass
class Heading:
    text: str
    level: int = 1


@dataclass
class Text:
    text: str


@dataclass
class Table:
    columns: Columns
    rows: Sequence[Any]
    # per row: a background colour (hex) for the given column keys, e.g. grade colours
    cell_colours: Sequence[dict[str, str]] | None = None
    widths: Sequence[float] | None = None   # relative column widths


@dataclass
class BarChart:
    title: str
    labels: Sequence[str]
    values: Sequence[float | None]
    max_value: float | None = None


@dataclass
class LineChart:
    title: str
    labels: Sequence[str]                    # x axis (periods)
    series: dict[str, Sequence[float | None]] = field(default_factory=dict)
    max_value: float | None = None


@dataclass
class Signatures:
    """Signature and date lines at the foot of a form (考核人 / 被考核单位 …)."""
    names: Sequence[str]


@dataclass
class PageBreak:
    pass


@dataclass
class Sheet:
    title: str
    columns: Columns
    rows: Sequence[Any]
    header: Sequence[str] = ()               # lines above the table (title, period, method)
    cell_colours: Sequence[dict[str, str]] | None = None


def cell(row: Any, index: int, key: str) -> Any:
    return row.get(key) if isinstance(row, dict) else row[index]


def show(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))
    if isinstance(value, (datetime, date)):
        return value.isoformat(sep=" ", timespec="minutes") if isinstance(value, datetime) else value.isoformat()
    return str(value)


# ---------------------------------------------------------------- PDF

@lru_cache(maxsize=1)
def font_name() -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    for path in FONT_CANDIDATES:
        if Path(path).exists():
            pdfmetrics.registerFont(TTFont(FONT_NAME, path, subfontIndex=0))
            return FONT_NAME
    raise SetupError("no CJK font for PDF reports: install the Debian package fonts-wqy-microhei (scripts/setup.sh does)")


def _styles():
    from reportlab.lib.styles import ParagraphStyle

    f = font_name()
    base = ParagraphStyle("base", fontName=f, fontSize=9.5, leading=13, wordWrap="CJK")
    return {
        "title": ParagraphStyle("title", parent=base, fontSize=18, leading=24, alignment=1, spaceAfter=6),
        "subtitle": ParagraphStyle("subtitle", parent=base, fontSize=11, leading=15, alignment=1, spaceAfter=10),
        "h1": ParagraphStyle("h1", parent=base, fontSize=13, leading=18, spaceBefore=8, spaceAfter=4),
        "h2": ParagraphStyle("h2", parent=base, fontSize=11, leading=15, spaceBefore=6, spaceAfter=3),
        "text": base,
        "cell": ParagraphStyle("cell", parent=base, fontSize=8, leading=10),
    }


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _table(block: Table, width: float, st):
    from reportlab.lib import colors
    from reportlab.platypus import Paragraph
    from reportlab.platypus import Table as RLTable

    keys = [k for k, _ in block.columns]
    data = [[Paragraph(_escape(label), st["cell"]) for _, label in block.columns]]
    for row in block.rows:
        data.append([Paragraph(_escape(show(cell(row, i, k))), st["cell"]) for i, k in enumerate(keys)])
    rel = list(block.widths or [1] * len(keys))
    widths = [width * w / sum(rel) for w in rel]
    t = RLTable(data, colWidths=widths, repeatRows=1)
    style = [("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#999999")),
             ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef7")),
             ("VALIGN", (0, 0), (-1, -1), "MIDDLE")]
    for r, colours in enumerate(block.cell_colours or [], start=1):
        for key, colour in (colours or {}).items():
            if key in keys and colour:
                c = keys.index(key)
                style.append(("BACKGROUND", (c, r), (c, r), colors.HexColor(colour)))
    t.setStyle(style)
    return t


def _bar_chart(block: BarChart, width: float):
    from reportlab.graphics.charts.barcharts import VerticalBarChart
    from reportlab.graphics.shapes import Drawing, String
    from reportlab.lib import colors

    f = font_name()
    d = Drawing(width, 200)
    d.add(String(width / 2, 188, block.title, fontName=f, fontSize=10, textAnchor="middle"))
    c = VerticalBarChart()
    c.x, c.y, c.width, c.height = 36, 40, width - 50, 135
    c.data = [[v or 0 for v in block.values]]
    c.categoryAxis.categoryNames = [str(x) for x in block.labels]
    c.categoryAxis.labels.fontName = f
    c.categoryAxis.labels.fontSize = 6 if len(block.labels) > 12 else 7.5
    c.categoryAxis.labels.angle = 45 if len(block.labels) > 8 else 0
    c.categoryAxis.labels.boxAnchor = "ne" if len(block.labels) > 8 else "n"
    c.valueAxis.valueMin = 0
    c.valueAxis.valueMax = block.max_value or max([v or 0 for v in block.values] + [1])
    c.valueAxis.labels.fontName = f
    c.valueAxis.labels.fontSize = 7
    c.bars[0].fillColor = colors.HexColor("#409eff")
    d.add(c)
    return d


def _line_chart(block: LineChart, width: float):
    from reportlab.graphics.charts.legends import Legend
    from reportlab.graphics.charts.linecharts import HorizontalLineChart
    from reportlab.graphics.shapes import Drawing, String
    from reportlab.lib import colors

    palette = ["#409eff", "#67c23a", "#e6a23c", "#f56c6c", "#909399", "#8e44ad"]
    f = font_name()
    d = Drawing(width, 210)
    d.add(String(width / 2, 198, block.title, fontName=f, fontSize=10, textAnchor="middle"))
    c = HorizontalLineChart()
    c.x, c.y, c.width, c.height = 36, 45, width - 50, 135
    names = list(block.series)
    c.data = [[v if v is not None else 0 for v in block.series[n]] for n in names] or [[0]]
    c.categoryAxis.categoryNames = [str(x) for x in block.labels]
    c.categoryAxis.labels.fontName = f
    c.categoryAxis.labels.fontSize = 7
    c.valueAxis.valueMin = 0
    c.valueAxis.valueMax = block.max_value or max([v or 0 for s in block.series.values() for v in s] + [1])
    c.valueAxis.labels.fontName = f
    c.valueAxis.labels.fontSize = 7
    for i in range(len(names)):
        c.lines[i].strokeColor = colors.HexColor(palette[i % len(palette)])
        c.lines[i].strokeWidth = 1.5
    d.add(c)
    if names:
        lg = Legend()
        lg.x, lg.y = 40, 18
        lg.fontName, lg.fontSize = f, 7
        lg.alignment, lg.columnMaximum, lg.dx, lg.dy = "right", 1, 8, 8
        lg.colorNamePairs = [(colors.HexColor(palette[i % len(palette)]), n) for i, n in enumerate(names)]
        d.add(lg)
    return d


def _signatures(block: Signatures, width: float, st):
    from reportlab.platypus import Paragraph
    from reportlab.platypus import Table as RLTable

    row = [Paragraph(f"{_escape(n)}（签字）：__________　日期：____年__月__日", st["text"]) for n in block.names]
    return RLTable([row], colWidths=[width / max(1, len(row))] * len(row))


def pdf_document(title: str, blocks: Sequence[Any], *, subtitle: str | None = None, landscape: bool = False,
                 author: str = "civicgrid") -> bytes:
    """A4 PDF with the title (and subtitle) on top, then the blocks; page numbers at the foot."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.pagesizes import landscape as turn
    from reportlab.lib.units import mm
    from reportlab.platypus import PageBreak as RLPageBreak
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    st = _styles()
    size = turn(A4) if landscape else A4
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=size, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm,
                            bottomMargin=15 * mm, title=title, author=author)
    width = size[0] - 30 * mm
    story = [Paragraph(_escape(title), st["title"])]
    if subtitle:
        story.append(Paragraph(_escape(subtitle), st["subtitle"]))
    for block in blocks:
        if isinstance(block, Heading):
            story.append(Paragraph(_escape(block.text), st["h1" if block.level <= 1 else "h2"]))
        elif isinstance(block, Text):
            story.append(Paragraph(_escape(block.text), st["text"]))
        elif isinstance(block, Table):
            story.append(_table(block, width, st))
        elif isinstance(block, BarChart):
            story.append(_bar_chart(block, width))
        elif isinstance(block, LineChart):
            story.append(_line_chart(block, width))
        elif isinstance(block, Signatures):
            story += [Spacer(1, 8 * mm), _signatures(block, width, st)]
        elif isinstance(block, PageBreak):
            story.append(RLPageBreak())
        else:
            raise TypeError(f"unknown report block {type(block).__name__}")
        story.append(Spacer(1, 3 * mm))

    def foot(canvas, document):
        canvas.saveState()
        canvas.setFont(font_name(), 8)
        canvas.drawCentredString(size[0] / 2, 8 * mm, f"第 {document.page} 页")
        canvas.restoreState()

    doc.build(story, onFirstPage=foot, onLaterPages=foot)
    return buf.getvalue()


# ---------------------------------------------------------------- XLSX

def xlsx_workbook(sheets: Sequence[Sheet]) -> bytes:
    """One worksheet per Sheet: header lines, then a bold header row, then the rows (numbers stay
    numbers, so Excel sorts and sums them); frozen under the header, filters on."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    wb.remove(wb.active)
    used: set[str] = set()
    for sheet in sheets:
        name = _sheet_name(sheet.title, used)
        ws = wb.create_sheet(name)
        r = 1
        for line in sheet.header:
            ws.cell(row=r, column=1, value=line).font = Font(bold=r == 1, size=14 if r == 1 else 11)
            r += 1
        if sheet.header:
            r += 1
        head = r
        keys = [k for k, _ in sheet.columns]
        for c, (_, label) in enumerate(sheet.columns, start=1):
            x = ws.cell(row=head, column=c, value=label)
            x.font = Font(bold=True)
            x.fill = PatternFill("solid", fgColor="E8EEF7")
            x.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        for i, row in enumerate(sheet.rows):
            colours = (sheet.cell_colours or [None] * len(sheet.rows))[i] or {}
            for c, key in enumerate(keys, start=1):
                value = cell(row, c - 1, key)
                if isinstance(value, (list, dict)):
                    value = str(value)
                x = ws.cell(row=head + 1 + i, column=c, value=value)
                if colours.get(key):
                    x.fill = PatternFill("solid", fgColor=colours[key].lstrip("#").upper())
        for c, (_, label) in enumerate(sheet.columns, start=1):
            ws.column_dimensions[get_column_letter(c)].width = max(8, min(40, 2 * len(label) + 2))
        ws.freeze_panes = ws.cell(row=head + 1, column=1)
        if sheet.rows:
            ws.auto_filter.ref = f"A{head}:{get_column_letter(len(keys))}{head + len(sheet.rows)}"
    if not sheets:
        wb.create_sheet("空")
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _sheet_name(title: str, used: set[str]) -> str:
    # Excel: at most 31 characters, none of []:*?/\ , unique in the workbook
    name = "".join("_" if ch in "[]:*?/\\" else ch for ch in title)[:31] or "Sheet"
    base, n = name, 2
    while name in used:
        suffix = f"({n})"
        name = base[:31 - len(suffix)] + suffix
        n += 1
    used.add(name)
    return name
