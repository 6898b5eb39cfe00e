"""The shared report builders: the PDF's text is selectable Chinese (pdftotext reads it back) and
the XLSX keeps numbers as numbers."""
import io
import shutil
import subprocess

import pytest
from openpyxl import load_workbook

from civicgrid.reports import BarChart, Heading, LineChart, Sheet, Signatures, Table, Text, pdf_document, xlsx_workbook

COLUMNS = [("rank", "排名"), ("name", "名称"), ("score", "综合指标值"), ("grade", "等级")]
ROWS = [{"rank": 1, "name": "仁和社区", "score": 92.5, "grade": "A"}, {"rank": 2, "name": "东风村", "score": 71.25, "grade": "C"}]


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils (pdftotext) not installed: scripts/setup.sh test")
def test_pdf_text_is_selectable_chinese():
    pdf = pdf_document("综合评价报告", [
        Heading("社区排名"), Text("方法版本 3：按期结案率×40%"),
        Table(COLUMNS, ROWS, cell_colours=[{"grade": "#67c23a"}, {"grade": "#e6a23c"}]),
        BarChart("综合指标值", [r["name"] for r in ROWS], [r["score"] for r in ROWS], max_value=100),
        LineChart("历史", ["1月", "2月"], {"仁和社区": [90, 92.5]}, max_value=100),
        Signatures(["考核人", "被考核单位"]),
    ], subtitle="2026年5月")
    assert pdf.startswith(b"%PDF")
    text = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    for s in ("综合评价报告", "2026年5月", "社区排名", "仁和社区", "东风村", "92.5", "71.25", "考核人"):
        assert s in text, s
    assert "第1页" in text.replace(" ", "")
    assert b"/FontFile2" in pdf   # the CJK face travels inside the file (a subset)


def test_xlsx_cells():
    data = xlsx_workbook([Sheet("社区/排名", COLUMNS, ROWS, header=["综合评价", "2026年5月"]),
                          Sheet("社区/排名", COLUMNS, [[1, "仁和社区", 92.5, "A"]])])
    wb = load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["社区_排名", "社区_排名(2)"]
    ws = wb["社区_排名"]
    assert ws["A1"].value == "综合评价" and ws["A2"].value == "2026年5月"
    assert [c.value for c in ws[4]] == ["排名", "名称", "综合指标值", "等级"]
    assert [c.value for c in ws[6]] == [2, "东风村", 71.25, "C"]
    assert wb["社区_排名(2)"]["C2"].value == 92.5
