"""GET /api/search: one box for POI names, aliases, full pinyin and initials, addresses, component
IDs, case numbers, unit-grid codes and community names (地名地址、部件、案件、网格检索).

One SQL statement ranks exact > prefix > substring or trigram-similar (pg_trgm), a POI's category
weighing in (poi_category): sql/search_codes.sql when q is a code (all digits), else
sql/search_text.sql — each plans in a few milliseconds, where one statement over every source
planned ten times longer than it ran. What comes back is what the caller may read: components
only for readers of urban-components, cases only for callers of GET /api/cases and then through
their row security (the statement runs after security_enter), so a department handler finds his
department's cases and the public none.
"""
from __future__ import annotations

import re

from civicgrid.db import load_sql
from civicgrid.errors import InvalidInput
from civicgrid.security import policy as policy_mod
from civicgrid.security import rows
from civicgrid.security.principal import Principal

TYPES = ("poi", "component", "case", "unit_grid", "community", "address")
MAX_Q = 100
MAX_LIMIT = 50
FUZZY_MIN = 3       # shorter queries match by prefix and substring only (a trigram of two characters says little)
_LIKE = re.compile(r"([\\%_])")
_SPACE = re.compile(r"\s+")


def _like(text: str) -> str:
    return _LIKE.sub(r"\\\1", text)


def parse(q: str | None, types: str | None) -> tuple[str, tuple[str, ...]]:
    if q is None or not q.strip():
        raise InvalidInput("q (what to search for) is required", field="q")
    if "\x00" in q:
        raise InvalidInput("q must not contain NUL characters", field="q")
    q = _SPACE.sub(" ", q.strip())
    if len(q) > MAX_Q:
        raise InvalidInput(f"q is longer than {MAX_Q} characters", field="q")
    if types is None or not types.strip():
        return q, TYPES
    wanted = tuple(dict.fromkeys(t.strip() for t in types.split(",") if t.strip()))
    unknown = [t for t in wanted if t not in TYPES]
    if unknown or not wanted:
        raise InvalidInput(f"types: unknown type(s) {', '.join(unknown) or '(none)'}; use {', '.join(TYPES)}", field="types")
    return q, wanted


def params(q: str, types: tuple[str, ...], limit: int, principal: Principal, policy: policy_mod.Policy) -> dict:
    qp = q.lower().replace(" ", "")
    return {"q": q, "qp": qp, "pre": _like(q) + "%", "prep": _like(qp) + "%",
            "sub": "%" + _like(q) + "%", "subp": "%" + _like(qp) + "%",
            "q_end": q[:-1] + chr(ord(q[-1]) + 1),     # codes with prefix q: [q, q_end)
            "digits": bool(re.fullmatch(r"[0-9]{4,}", q)), "fuzzy": len(q) >= FUZZY_MIN, "types": list(types), "limit": limit,
            "components": policy.can_read_collection(principal, "urban-components"),
            "cases": policy.can_use_route(principal, "GET", "/api/cases")}


def search(conn, q: str, types: tuple[str, ...], limit: int, principal: Principal) -> list[dict]:
    """Run inside the caller's row security; → the items of the answer, best first."""
    args = params(q, types, limit, principal, policy_mod.load())
    with conn.transaction():
        # the planner prices a trigram match like an equality and scans the small tables, where
        # matching every row costs tens of milliseconds; the indexes answer in one or two
        conn.execute("SET LOCAL enable_seqscan = off")
        # one wrong character in six still finds the name (pg_trgm's default, 0.6, would not)
        conn.execute("SET LOCAL pg_trgm.word_similarity_threshold = 0.4")
        if args["cases"] and args["digits"]:
            rows.enter(conn, principal)
        name = "search_codes.sql" if args["digits"] else "search_text.sql"
        return conn.execute(load_sql("civicgrid.search", name), args).fetchall()
