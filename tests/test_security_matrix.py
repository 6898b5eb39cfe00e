"""The access matrix: every route × method of the app × every role, through the real app.

The routes come from the app's own route table (pygeoapi's included), so a route added without a
rule in security/access.yml fails `test_every_route_has_a_rule`. Each cell is requested with a
placeholder that names nothing (ids that do not exist, empty bodies), so allowed cells answer
2xx/400/404/405/409/422 and change nothing, and denied cells answer 401 (anonymous) or 403.
A hand-written table of the cells that matter most checks the rules themselves.
"""
from __future__ import annotations

import re

import pytest

from civicgrid.security import policy as policy_mod
from civicgrid.security.access import match, route_table

ROLES = sorted(policy_mod.ROLE_CODES)
PLACEHOLDERS = {"id": "999999", "action": "file", "code": "NOPE", "sha": "0" * 64, "fmt": "json",
                "version": "1", "name": "no-such-batch", "tms": "WebMercatorQuad", "tileMatrixSetId": "WebMercatorQuad",
                "z": "0", "y": "0", "x": "0", "tile_matrix": "0", "tileRow": "0", "tileCol": "0",
                "feature_id": "999999", "item_id": "999999", "process_id": "heatmap", "job_id": "no-such-job",
                "path": "index.html", "month": "2000-01", "style_id": "default", "location_id": "1", "instance_id": "1",
                "username": "no-such-user", "prefix": "00000000"}
COLLECTIONS = ("unit-grids", "urban-components", "officer-positions", "cases")


@pytest.fixture(scope="module")
def matrix_app(demo_url, pg_admin_url, tmp_path_factory):
    from databases import demo_app

    with demo_app(pg_admin_url, tmp_path_factory.mktemp("matrix"), raise_server_exceptions=False) as client:
        yield client.app, client, client.creds


def _cells(app):
    for entry in route_table(app.routes):
        for method in sorted((entry.methods or {"GET"}) - {"HEAD"}):
            yield entry.template, method


def _fill(template: str, collection: str) -> str:
    def value(m):
        name = m.group(1).split(":")[0]
        return collection if name == "collection_id" else PLACEHOLDERS[name]
    return re.sub(r"\{([^}]+)\}", value, template)


def test_every_route_has_a_rule(matrix_app):
    app, _, _ = matrix_app
    policy = policy_mod.load()
    missing = [f"{m} {t}" for t, m in _cells(app) if policy.permission(t, m) is None]
    assert not missing, "routes without an access rule (add them to security/access.yml):\n" + "\n".join(missing)
    stale = set(policy.routes) - {t for t, _ in _cells(app)}
    assert not stale, f"rules for routes the app does not have: {sorted(stale)}"


def test_role_codes_match_the_database(matrix_app):
    from civicgrid.db import connect

    _, _, creds = matrix_app
    with connect(creds.url) as conn:
        codes = {r["code"] for r in conn.execute("SELECT code FROM app_role WHERE code <> 'system'")}
    assert codes == set(policy_mod.ROLE_CODES)


def test_matrix(matrix_app):
    """Every role × route × method (collection routes for four collections of different reach)."""
    app, client, creds = matrix_app
    policy = policy_mod.load()
    table = route_table(app.routes)
    wrong = []
    count = 0
    for template, method in _cells(app):
        perm = policy.permission(template, method)
        colls = COLLECTIONS if perm.special and perm.special.startswith("collection") else ("",)
        for coll in colls:
            path = _fill(template, coll)
            # the parameters as the router sees them: a greedy {collection_id:path} may swallow more
            # than a collection id, and then names no collection (the server answers 4xx itself)
            _, params = match(table, path, method)
            roles = policy.roles_for(perm, params)
            for role in ROLES:
                expect = roles is None or role in roles
                if method in ("POST", "PUT", "PATCH"):
                    r = client.request(method, path, headers={**creds.headers(role), "Content-Type": "application/json"},
                                       content=b"{}")
                else:
                    # the first KiB only: the imagery basemap (a ~5 MB file) is read whole per role otherwise;
                    # a route that is not a file ignores Range
                    r = client.request(method, path, headers={**creds.headers(role), "Range": "bytes=0-1023"})
                count += 1
                denied = r.status_code in (401, 403) and r.json().get("field") in ("Authorization", "role", "route")
                unsupported = r.status_code == 501 and template == "/ogc/asyncapi"  # pygeoapi: not configured
                if expect == denied or (r.status_code >= 500 and not unsupported) or (roles is None and r.status_code < 400):
                    wrong.append(f"{role:<18} {method:<6} {path} → {r.status_code} (expected {'allow' if expect else 'deny'})"
                                 f" {r.text[:120]}")
                if denied and role == "public":
                    assert r.status_code == 401 and r.headers.get("www-authenticate", "").startswith("Bearer")
    assert count > 1000
    assert not wrong, f"{len(wrong)} of {count} cells wrong:\n" + "\n".join(wrong[:60])


# the cells that matter most, written out by hand (the rules file could be wrong too)
MUST = [
    ("public", "GET", "/ogc/collections/officer-positions/items", False),
    ("department_handler", "GET", "/ogc/collections/officer-positions/items", False),
    ("grid_officer", "GET", "/ogc/collections/officer-latest/items", False),
    ("leader", "GET", "/ogc/collections/officer-positions/items", True),
    ("shift_leader", "GET", "/ogc/collections/officer-latest/items", True),
    ("public", "GET", "/ogc/collections/cases/items", True),
    ("public", "GET", "/ogc/collections/urban-components/items", False),
    ("district_platform", "GET", "/ogc/collections/urban-components/items", True),
    ("public", "POST", "/ogc/collections/urban-components/items", False),
    ("leader", "POST", "/ogc/collections/urban-components/items", False),
    ("dispatcher", "DELETE", "/ogc/collections/pois/items/1", False),
    ("gis_editor", "POST", "/ogc/collections/urban-components/items", True),
    ("public", "POST", "/ogc/processes/heatmap/execution", False),
    ("department_handler", "POST", "/ogc/processes/track/execution", False),
    ("leader", "POST", "/ogc/processes/track/execution", True),
    ("public", "GET", "/ogc/jobs", False),
    ("public", "GET", "/api/audit", False),
    ("leader", "GET", "/api/audit", False),
    ("admin", "GET", "/api/audit", True),
    ("public", "POST", "/api/cases", True),
    ("public", "GET", "/api/cases", False),
    ("public", "POST", "/api/workflows", False),
    ("shift_leader", "POST", "/api/workflows", False),
    ("grid_officer", "POST", "/api/survey/uploads", False),
    ("gis_editor", "POST", "/api/survey/uploads", True),
    ("leader", "GET", "/api/dashboard", True),
    ("department_handler", "GET", "/api/dashboard", False),
    ("dispatcher", "GET", "/api/supervision/workload", True),
    ("grid_officer", "GET", "/api/supervision/workload", False),
    ("admin", "GET", "/api/admin/users", True),
    ("leader", "GET", "/api/admin/users", False),
    ("shift_leader", "POST", "/api/admin/users", False),
    ("dispatcher", "POST", "/api/admin/keys", False),
    ("district_platform", "GET", "/api/admin/keys", False),
    ("gis_editor", "POST", "/api/admin/users/demo_admin/password", False),
    ("public", "POST", "/api/admin/keys/00000000/revoke", False),
]


@pytest.mark.parametrize("role,method,path,allowed", MUST)
def test_key_cells(matrix_app, role, method, path, allowed):
    _, client, creds = matrix_app
    headers = {**creds.headers(role), "Content-Type": "application/json"}
    r = client.request(method, path, headers=headers, content=b"{}" if method in ("POST", "PUT") else None)
    denied = r.status_code in (401, 403) and r.json().get("field") in ("Authorization", "role", "route")
    assert denied != allowed, (r.status_code, r.text[:200])


def test_listings_show_only_what_the_caller_may_read(matrix_app):
    _, client, creds = matrix_app
    def ids(role, path="/ogc/collections?f=json"):
        return {c["id"] for c in client.get(path, headers=creds.headers(role)).json()["collections"]}
    public, leader = ids("public"), ids("leader")
    assert "officer-positions" not in public and "urban-components" not in public and "cases" in public
    assert {"officer-positions", "officer-latest", "urban-components"} <= leader
    assert "officer-positions" not in ids("department_handler")
    html = client.get("/ogc/collections?f=html").text
    assert "/collections/unit-grids" in html and "/collections/officer-positions" not in html
    api = client.get("/ogc/openapi?f=json").json()["paths"]
    assert not [p for p in api if p.startswith("/collections/officer-") or p.startswith("/processes")]
    assert any(p.startswith("/collections/unit-grids") for p in api)
    staff_api = client.get("/ogc/openapi?f=json", headers=creds.headers("leader")).json()["paths"]
    assert any(p.startswith("/collections/officer-positions") for p in staff_api)
    procs = {p["id"] for p in client.get("/ogc/processes?f=json", headers=creds.headers("department_handler")).json()["processes"]}
    assert procs == set()  # department handlers may list processes but run none of them
    procs = {p["id"] for p in client.get("/ogc/processes?f=json", headers=creds.headers("leader")).json()["processes"]}
    assert {"track", "heatmap", "patrol-coverage"} <= procs


def test_a_published_collection_without_a_rule_stops_the_server():
    import yaml

    from civicgrid.errors import SetupError
    from civicgrid.security.access import check_coverage

    doc = yaml.safe_load(policy_mod.RULES_PATH.read_text(encoding="utf-8"))
    del doc["collections"]["officer-positions"]
    with pytest.raises(SetupError, match="officer-positions"):
        check_coverage(policy_mod.parse(doc, set(policy_mod.ROLE_CODES)))
    del doc["processes"]["track"]
    doc["collections"]["officer-positions"] = {"read": "leader", "write": "nobody"}
    with pytest.raises(SetupError, match="track"):
        check_coverage(policy_mod.parse(doc, set(policy_mod.ROLE_CODES)))
    for broken, where in (({"routes": [{"paths": ["/x"], "GET": "sheriff"}]}, "routes[0].GET"),
                          ({"routes": [{"paths": ["/x"], "FETCH": "admin"}]}, "routes[0]"),
                          ({"routes": [{"paths": ["/x"], "GET": "admin", "limits": {"body": "lots"}}]}, "limits.body"),
                          ({"collections": {"x": {"read": "admin"}}}, "collections.x")):
        with pytest.raises(SetupError, match=re.escape(where)):
            policy_mod.parse(broken, set(policy_mod.ROLE_CODES))
