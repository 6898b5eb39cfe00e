"""Cases (案件): intake from every channel, workflows as versioned data, working-calendar time limits.

What lives here
- `intake.py`      one intake for every channel (patrol, public, hotline, component, video, district):
                   location, grids, category mapping, department rules, case number, duplicates.
- `workflow.py`    workflow definitions (YAML/JSON in `workflows/`): JSON Schema + graph checks,
                   versions in the `workflow` table, selection rules (channel × category).
- `engine.py`      transitions: roles, required fields, guards, time limits, optimistic concurrency,
                   one transaction per transition, events appended (`case_event`) and replayable (`replay.py`).
- `expr.py`        the guard language: a whitelisted subset of Python expressions, interpreted (never eval).
- `calendar.py`    the working calendar (working hours, chinese-calendar holidays and make-up workdays).
- `attachments.py` photos stored content-addressed (sha256) with their type checked by content.
- `views.py`       department queues, officer tasks, timelines, the leaders' overview, the overdue list.
- `worker.py`      the timer worker (table-driven, FOR UPDATE SKIP LOCKED), `civicgrid cases worker`.
- `api.py`         HTTP routes under /api; `cli.py` the `civicgrid cases` commands.
- `sql/`           the SQL the part runs, one statement per file.
"""
