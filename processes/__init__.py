"""OGC API Processes of civicgrid (mounted by pygeoapi at /ogc/processes).

- `base.py`     the base class: pydantic parameters → process description, 400s for bad inputs
- `filters.py`  shared filters (time, category, channel, state, area) and their SQL
- `jobs.py`     the job manager: jobs and results in PostgreSQL (`process_job`), async runner
- `runner.py`   runs one async job in its own process
- `heatmap.py`, `cluster.py`, `hotspots.py`, `evaluation.py`, `patrol.py`  the processes
- `dbscan.py`   the exact DBSCAN behind `cluster` (scipy k-d tree + connected components)
- `cli.py`      `civicgrid processes list | run <id> '<json>' | refresh-rollup`
- `evaluation.yml`  weights, grade bands and limits of the comprehensive evaluation (data)
- `sql/`        the SQL the processes run
- `synthetic.py` a tiny hand-checkable town for tests and extra rows for the bench
"""
from __future__ import annotations

import importlib

# process id → processor class (dotted path), the one registry the config and the runner share
PROCESSES = {
    "heatmap": "civicgrid.processes.heatmap.HeatmapProcessor",
    "cluster": "civicgrid.processes.cluster.ClusterProcessor",
    "hotspots": "civicgrid.processes.hotspots.HotspotsProcessor",
    "area-evaluation": "civicgrid.processes.evaluation.AreaEvaluationProcessor",
    "patrol-coverage": "civicgrid.processes.patrol.PatrolCoverageProcessor",
    "track": "civicgrid.processes.patrol.TrackProcessor",
}


class _Registry(dict):
    def __missing__(self, key):
        module, name = PROCESSES[key].rsplit(".", 1)
        cls = getattr(importlib.import_module(module), name)
        self[key] = cls
        return cls


REGISTRY = _Registry()
