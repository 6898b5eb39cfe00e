"""/api's OpenAPI document (civicgrid/openapi.py) describes the routes and models the handlers use,
and a bounded schemathesis run over it, with an admin key, gets no 5xx from a real server (on a
private copy of the demo town: the run writes)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from civicgrid.security.testing import Credentials
from civicgrid.testing import start_server

SCHEMATHESIS_TIMEOUT_S = 150


@pytest.fixture(scope="module")
def fuzz_server(demo_url, pg_admin_url):
    from databases import copy_demo, drop_database

    url = copy_demo(pg_admin_url)
    proc, base = start_server(url)
    yield url, base
    proc.terminate()
    proc.wait(10)
    drop_database(pg_admin_url, url)


def test_openapi_lists_the_routes_with_their_models(fuzz_server):
    _, base = fuzz_server
    doc = httpx.get(base + "/api/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    post = doc["paths"]["/cases"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/IntakeIn")
    intake = doc["components"]["schemas"]["IntakeIn"]
    assert "channel" in intake["required"] and intake["additionalProperties"] is False
    assert doc["paths"]["/cases/{id}"]["get"]["parameters"][0]["schema"] == {"type": "integer"}
    assert {"/health/live", "/health/ready", "/auth/login", "/survey/export"} <= set(doc["paths"])


def test_schemathesis_finds_no_server_error(fuzz_server, tmp_path):
    url, base = fuzz_server
    token = Credentials(url).token("admin")
    cli = Path(sys.executable).with_name("schemathesis")
    run = subprocess.run([str(cli), "run", f"{base}/api/openapi.json", "--checks", "not_a_server_error",
                          "--max-examples", "5", "--seed", "1", "--request-timeout", "20", "--no-color",
                          # two requests at a time: the same ~3,160 cases (its coverage phase is most of them)
                          # in about half the time, the server's thread pool and the database overlapping
                          "--workers", "2",
                          "--header", f"Authorization: Bearer {token}"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=SCHEMATHESIS_TIMEOUT_S)
    tail = (run.stdout + run.stderr)[-4000:]
    assert run.returncode == 0, tail
    assert " passed" in tail and "failed" not in tail.split("Test cases:")[-1], tail


# ---------------------------------------------------------------- hostile requests
# Every operation of /api/openapi.json in the parts added last — evaluation, assessment, exchange
# and the district inbound, survey (corrections included), workflows and their rules, dashboard and
# supervision, inbox, admin, alerts — with what an attacker sends: NUL bytes, invalid UTF-8, huge
# and negative numbers and wrong types in the path and in every query parameter the handlers read,
# bodies that are invalid UTF-8, carry NUL, are nested 10,000 deep, are over the body limit, are
# not objects or have wrong types, YAML bombs and deep YAML for the workflow editor, and every
# output format of the export routes. Each must answer < 500 within seconds; a 4xx is our JSON
# error shape, and a 400 names the field.

AREAS = ("/evaluation", "/assessment", "/exchange", "/survey", "/workflow", "/dashboard", "/supervision", "/inbox",
         "/admin", "/alerts", "/audit")
SKIP = ("/alerts/stream",)   # stays open by design (Server-Sent Events)
QUERY_NAMES = ("limit", "offset", "page", "before", "after", "format", "kind", "revision", "code", "indicator",
               "period_kind", "state", "status", "case", "date", "from", "to", "days", "q", "month", "batch", "check",
               "severity", "category", "officer", "top", "order", "version", "activate", "result", "actor", "action",
               "since", "acknowledged", "class", "standard", "department", "start", "end", "level", "replace")
HOSTILE = {"nul": "a%00b", "utf8": "%FF%FE", "huge": "9" * 40, "negative": "-1", "wrong": "x%27%22", "inf": "1e999"}
FORMATS = ("xlsx", "pdf", "csv", "html", "json")


def _bodies() -> dict[str, tuple[bytes, str]]:
    laughs = "a: &a ['x','x','x','x','x','x','x','x','x']\n" + "".join(
        f"{c}: &{c} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n" for p, c in zip("abcdefgh", "bcdefghi"))
    json_ = "application/json"
    return {
        "utf8": (b'{"name": "\xff\xfe"}', json_),
        "nul": ('{"name": "a\\u0000b", "code": "a\\u0000b", "comment": "\\u0000"}'.encode(), json_),
        "deep": (b"[" * 10_000 + b"]" * 10_000, json_),
        "huge": (b'{"x": "' + b"a" * (2 << 20) + b'"}', json_),
        "list": (b"[null, null]", json_),
        "types": (b'{"limit": "x", "id": [], "period_kind": {}, "month": 10000000000000000000000, "start": true}', json_),
        "yaml-bomb": (laughs.encode(), "application/yaml"),
        "yaml-deep": (b"- " * 20_000 + b"x", "application/yaml"),
    }


def _fill(path: str, op: dict, value: str | None) -> str:
    """The path with every parameter set: `value` (hostile) or a plausible one (1, a month, …)."""
    import re

    def one(m):
        name = m.group(1)
        if value is not None:
            return value
        schema = next((p["schema"] for p in op.get("parameters", []) if p["name"] == name), {})
        if schema.get("type") == "integer":
            return "1"
        return {"month": "2026-03", "fmt": "xlsx"}.get(name, "zz-none")
    return re.sub(r"{([a-zA-Z_]+)}", one, path)


def _requests(doc):
    bodies = _bodies()
    for path, ops in sorted(doc["paths"].items()):
        if not path.startswith(AREAS) or path in SKIP:
            continue
        for method, op in ops.items():
            method = method.upper()
            if method == "GET":
                plain = _fill(path, op, None)
                for kind, value in HOSTILE.items():
                    yield kind, method, plain + "?" + "&".join(f"{n}={value}" for n in QUERY_NAMES), None
                if "{fmt}" in path or "report" in path or "export" in path:
                    for fmt in FORMATS:   # each output format, everything else hostile
                        query = "&".join(f"{n}={HOSTILE['nul']}" for n in QUERY_NAMES if n != "format")
                        yield f"format={fmt}", method, f"{_fill(path.replace('{fmt}', fmt), op, None)}?format={fmt}&{query}", None
            else:
                for kind, body in bodies.items():
                    yield f"body {kind}", method, _fill(path, op, None), body
            if "{" in path:
                for kind in ("nul", "huge"):
                    yield f"path {kind}", method, _fill(path, op, HOSTILE[kind]), None


def test_hostile_requests_get_4xx_never_5xx(fuzz_server):
    """About 700 requests, ~20 s; see the block comment above for what they send."""
    import time

    url, base = fuzz_server
    credentials = Credentials(url)
    # an admin everywhere but where only others may go: the district platform's inbound messages,
    # a dispatcher's inbox
    admin = credentials.headers("admin")
    others = {"/exchange/inbound": credentials.headers("district_platform"), "/inbox": credentials.headers("dispatcher")}
    doc = httpx.get(base + "/api/openapi.json").json()
    failures, count = [], 0
    with httpx.Client(base_url=base + "/api", timeout=30) as client:
        for kind, method, target, body in _requests(doc):
            content, ctype = body if body else (None, None)
            label = f"{method} {target[:100]} [{kind}]"
            who = next((h for prefix, h in others.items() if target.startswith(prefix)), admin)
            headers = {**who,
                       **({"Content-Type": ctype} if ctype else {})}
            t0 = time.monotonic()
            try:
                r = client.request(method, target, content=content, headers=headers)
            except httpx.HTTPError as exc:
                failures.append(f"{label}: {exc!r}")
                continue
            took = time.monotonic() - t0
            count += 1
            if r.status_code >= 500:
                failures.append(f"{label} → {r.status_code} {r.text[:200]}")
            elif r.status_code >= 400:
                try:
                    err = r.json()
                except ValueError:
                    err = {}
                if not (err.get("code") and err.get("description")) or (r.status_code == 400 and not err.get("field")):
                    failures.append(f"{label} → {r.status_code} without our error shape naming the field: {r.text[:150]}")
            if took > 5:
                failures.append(f"{label} took {took:.1f} s")
    assert count > 400, count
    assert not failures, "\n".join(failures[:40]) + f"\n({len(failures)} of {count})"


# ---------------------------------------------------------------- /ogc
OGC_SCHEMATHESIS_TIMEOUT_S = 180


def test_ogc_openapi_is_self_contained(fuzz_server):
    """No `$ref` of /ogc/openapi leaves the document (the OGC schemas are copied, layers/schemas)."""
    from civicgrid.layers.ogcschemas import remote_refs

    url, base = fuzz_server
    doc = httpx.get(base + "/ogc/openapi?f=json", headers=Credentials(url).headers("admin")).json()
    assert doc["paths"]["/processes"] and doc["paths"]["/collections/pois/items"]
    assert remote_refs(doc) == []
    schemas = doc["components"]["schemas"]
    assert {"featureCollectionGeoJSON", "landingPage", "exception", "processesStatusInfo"} <= set(schemas)


def test_schemathesis_over_ogc_finds_no_server_error_and_no_schema_violation(fuzz_server, tmp_path):
    """A bounded run over every /ogc operation with an admin key: 0 responses 5xx, 0 responses that
    violate the document's schemas."""
    url, base = fuzz_server
    token = Credentials(url).token("admin")
    cli = Path(sys.executable).with_name("schemathesis")
    run = subprocess.run([str(cli), "run", f"{base}/ogc/openapi?f=json", "--url", f"{base}/ogc",
                          "--checks", "not_a_server_error,response_schema_conformance",
                          "--phases", "examples,fuzzing", "--max-examples", "2", "--seed", "1",
                          "--request-timeout", "20", "--no-color", "--workers", "2",
                          "--header", f"Authorization: Bearer {token}"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=OGC_SCHEMATHESIS_TIMEOUT_S)
    tail = (run.stdout + run.stderr)[-6000:]
    assert run.returncode == 0, tail
    assert " passed" in tail and "failed" not in tail.split("Test cases:")[-1], tail
