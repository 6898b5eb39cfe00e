"""Cases (案件): intake from every channel, workflows as versioned data, working-calendar time limits.

What lives here
- `intake.py`      one intake for every channel (patrol, public, hotline, component, video, district):
                   location, grids, category mapping, department rules, case number, duplicates.
- `workflow.py`    workflow definitions (YAML/JSON in `workflows/`): JSON Schema + graph checks,
                   versions in the `workflow` table, selection rules (channel × category).
- `engine.py`      transitions: roles, required fields, guards, time limits, optimistic concurrency,
                   one transaction per transition, events appended (`case_event`) and replayable (`replay.py`).
- `expr.py`        the guard language: a whitelisted subset of Python expressions, interpreted (never eval).
- `calendar.py`    the working calendar (working hours, chinese-calendar holidays and make-up workdays)
                   and the step times (yellow and red marks) intake and transitions both use.
- `cache.py`       what the app state keeps for this part: compiled workflows, the code catalog, the calendar.
- `attachments.py` photos stored content-addressed (sha256) with their type checked by content.
- `suggest.py`     what the intake page asks before a report is sent: duplicate suggestions, cameras.
- `views.py`       department queues, officer tasks, timelines, the leaders' overview, the overdue list.
- `worker.py`      the timer worker (table-driven, FOR UPDATE SKIP LOCKED), `civicgrid cases worker`.
- `api.py`         HTTP routes under /api (and the timer worker's `lifespan`); `open311.py` GeoReport v2;
                   `cli.py` the `civicgrid cases` commands.
- `sql/`           the part's statements of more than a few lines (one per file, `civicgrid.db.load_sql`);
                   short ones stay beside the code that runs them.
"""
