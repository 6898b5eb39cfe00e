"""The monthly operations assessment (运维考核) of the operations vendor: the six records of the
monthly work report, deduction events, the monthly computation with grades, warnings, breaches and
payment consequences, re-assessment, and the work report as PDF and XLSX (see README.md).

- `service.py`  proposals, computation, sign-off, re-assessment, what pages and reports read
- `api.py`      /api/assessment/… routes (rules in security/access.yml)
- `inspect.py`  the daily inspection's system part, by a timer beside the server
- `report.py`   the monthly work report (综合执法指挥中心运维服务工作报告) as PDF and XLSX
- `cli.py`      `civicgrid assessment inspect|compute|sign|report`
- `sql/`        the set-based parts: proposals from the records, the month's computation
"""
