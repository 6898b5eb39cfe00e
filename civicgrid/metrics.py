"""Prometheus metrics (prometheus_client), served at `/metrics` by civicgrid.ops.

Two kinds:
- counters and histograms a request updates (`REQUESTS`, `LATENCY`, `ERRORS` by route template).
  With `serve --workers N` every worker writes them to PROMETHEUS_MULTIPROC_DIR (set by `serve`)
  and a scrape sums the workers;
- gauges read when scraped: a part registers `on_scrape(fn)`, where `async fn(state)` returns
  `[Sample(name, help, value, labels)]` — pool use, the job queue and the case timers here; the
  district exchange adds its outbox lag the same way.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Awaitable, Callable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

log = logging.getLogger("civicgrid.metrics")

REQUESTS = Counter("civicgrid_http_requests_total", "HTTP requests answered", ["method", "route", "status"])
ERRORS = Counter("civicgrid_http_errors_total", "HTTP answers with status 5xx", ["method", "route"])
LATENCY = Histogram("civicgrid_http_request_seconds", "time to the last byte of the answer", ["method", "route"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))


@dataclass
class Sample:
    name: str
    help: str
    value: float
    labels: dict[str, str] = field(default_factory=dict)


Scrape = Callable[[object], Awaitable[list[Sample]]]
_scrapes: list[Scrape] = []


def on_scrape(fn: Scrape) -> Scrape:
    """Register a gauge source (a decorator is fine); it runs on every scrape, in the app's loop."""
    if fn not in _scrapes:
        _scrapes.append(fn)
    return fn


class _Gauges:
    def __init__(self, samples: list[Sample]):
        self.samples = samples

    def collect(self):
        families: dict[str, GaugeMetricFamily] = {}
        for s in self.samples:
            fam = families.get(s.name)
            if fam is None:
                fam = families[s.name] = GaugeMetricFamily(s.name, s.help, labels=sorted(s.labels))
            fam.add_metric([s.labels[k] for k in sorted(s.labels)], s.value)
        return list(families.values())


async def render(state) -> bytes:
    """The exposition text: the request metrics (summed over the workers) and the scraped gauges."""
    samples: list[Sample] = []
    for fn in _scrapes:
        try:
            samples.extend(await fn(state))
        except Exception as exc:   # a gauge that cannot be read (database down) is left out, not a 500
            log.warning("metrics: %s failed: %s", getattr(fn, "__name__", fn), type(exc).__name__)
            samples.append(Sample("civicgrid_scrape_error", "a gauge source failed on this scrape", 1,
                                  {"source": getattr(fn, "__name__", "?")}))
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        for metric in (REQUESTS, ERRORS, LATENCY):
            registry.register(metric)
    registry.register(_Gauges(samples))
    return generate_latest(registry)
