"""What /api/auth/me says the page may offer (map tools and actions), per demo role — the role-matrix
style: a hand-written table of tools per role, and for each role and tool the need behind it is
checked against the real app (a listed tool's route answers, an unlisted one is refused)."""
from __future__ import annotations

import pytest

from civicgrid.security import policy as policy_mod

ALL = ["measure", "plot", "search", "identify", "query", "case_query", "heatmap", "clusters", "hotspots",
       "thematic", "officers", "playback", "geofence", "export", "edit"]
COMMAND = ALL[:-1]                  # 编辑 is the GIS editors' (and admins')
STAFF = ["measure", "plot", "search", "identify", "query", "case_query", "export"]
TOOLS = {
    "public": ["measure", "search", "identify", "query", "export"],
    "admin": ALL, "intake_operator": COMMAND, "shift_leader": COMMAND, "dispatcher": COMMAND, "leader": COMMAND,
    "department_handler": STAFF, "grid_officer": STAFF,
    "gis_editor": STAFF[:6] + ["thematic", "export", "edit"], "evaluator": STAFF[:6] + ["thematic", "export"],
    "district_platform": ["measure", "search", "identify", "query", "case_query", "export"],
    "ops_staff": ["measure", "search", "identify", "query", "export"],
}


@pytest.fixture(scope="module")
def town(demo_url, pg_admin_url, tmp_path_factory):
    from databases import demo_app

    with demo_app(pg_admin_url, tmp_path_factory.mktemp("tools")) as client:
        yield client


def test_every_contract_tool_has_a_rule():
    assert list(policy_mod.load().tools) == ALL


@pytest.mark.parametrize("role", sorted(TOOLS))
def test_tools_per_role(town, role):
    me = town.get("/api/auth/me", headers=town.creds.headers(role)).json()
    assert me["tools"] == TOOLS[role]


def _probe(town, role: str, need: policy_mod.Need) -> bool | None:
    """Ask the app itself whether the need is met; None when the need names no route to ask."""
    headers = {**town.creds.headers(role), "Content-Type": "application/json"}
    if need.route:
        method, template = need.route
        path = template.replace("{id:int}", "999999").replace("{code}", "NOPE").replace("{action}", "file")
        r = town.request(method, path, headers=headers, content=b"{}" if method == "POST" else None)
    elif need.process:
        r = town.post(f"/ogc/processes/{need.process}/execution", headers=headers, content=b"{}")
    elif need.collection and need.collection[1] == "write":   # a write to no feature: 404 when allowed
        r = town.request("PATCH", f"/ogc/collections/{need.collection[0]}/items/0", content=b"{}",
                         headers={**headers, "If-Match": '"1"'})
    elif need.collection:
        r = town.get(f"/ogc/collections/{need.collection[0]}/items?limit=1", headers=headers)
    else:
        return None
    return not (r.status_code in (401, 403) and r.json().get("field") in ("Authorization", "role", "route"))


@pytest.mark.parametrize("role", sorted(TOOLS))
def test_a_listed_tool_is_usable_and_an_unlisted_one_refused(town, role):
    policy = policy_mod.load()
    listed = set(town.get("/api/auth/me", headers=town.creds.headers(role)).json()["tools"])
    for tool, need in policy.tools.items():
        allowed = _probe(town, role, need)
        if allowed is not None:
            assert allowed == (tool in listed), (role, tool, need)
        elif need.roles is not None:
            assert (role in need.roles) == (tool in listed), (role, tool)


def test_actions(town):
    def actions(role):
        return set(town.get("/api/auth/me", headers=town.creds.headers(role)).json()["actions"])

    assert actions("public") == {"cases.intake", "cases.intake.public", "cases.intake.component"}
    dispatcher = actions("dispatcher")
    assert {"cases.read", "cases.dispatch", "cases.timeline"} <= dispatcher
    assert not {"cases.accept", "features.write.pois", "audit.read"} & dispatcher
    gis = actions("gis_editor")
    assert {"features.write.pois", "features.write.urban-components", "features.write.unit-grids",
            "survey.upload"} <= gis
    assert "features.write.cases" not in gis          # not editable, whatever the rules say
    assert {"cases.accept", "cases.reply", "cases.intake.hotline"} <= actions("intake_operator")
    assert {"cases.feedback", "cases.return"} <= actions("department_handler")
    assert "audit.read" in actions("admin")
    # an action listed is an action the app allows
    r = town.get("/api/cases/overview", headers=town.creds.headers("leader"))
    assert "cases.overview" in actions("leader") and r.status_code == 200
    r = town.get("/api/cases/overview", headers=town.creds.headers("grid_officer"))
    assert "cases.overview" not in actions("grid_officer") and r.status_code == 403


def test_rules_naming_unknown_things_stop_the_start():
    import yaml

    from civicgrid.errors import SetupError

    doc = yaml.safe_load(policy_mod.RULES_PATH.read_text(encoding="utf-8"))
    for broken, where in (({"x": {"route": "GET /api/nowhere"}}, "tools.x.route"),
                          ({"x": {"process": "nope"}}, "tools.x.process"),
                          ({"x": {"collection": "pois delete"}}, "tools.x.collection"),
                          ({"x": "sheriff"}, "tools.x")):
        with pytest.raises(SetupError, match=where.replace(".", r"\.")):
            policy_mod.parse({**doc, "tools": broken}, set(policy_mod.ROLE_CODES))
