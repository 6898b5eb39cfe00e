"""A tiny, hand-checkable town for the processes' tests and synthetic extra rows for the bench.

The town is a 2 km × 1 km rectangle in EPSG:4548 (x 470 000–472 000, y 4 440 000–4 441 000,
inside Shunyi), split into two communities (west, east) of 25 unit grids of 200 m each; each
community is one responsibility grid with its own officer. Coordinates given to the helpers are
EPSG:4548 metres, so expected results can be worked out by hand.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Iterable

TOWN = "110113004"
COMMUNITIES = ("110113004001", "110113004002")
X0, Y0, CELL = 470_000.0, 4_440_000.0, 200.0
STANDARD = "GB/T 47678.5-2026"

_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]


def uscc(body: str) -> str:
    """Append the GB 32100 check character to 17 characters."""
    total = sum(_USCC_ALPHABET.index(c) * w for c, w in zip(body, _USCC_WEIGHTS))
    return body + _USCC_ALPHABET[(31 - total % 31) % 31]


DEPARTMENTS = (uscc("11110113MB0000001"), uscc("11110113MB0000002"))


def _rect(x0, y0, x1, y1) -> str:
    return f"SRID=4548;POLYGON(({x0} {y0},{x1} {y0},{x1} {y1},{x0} {y1},{x0} {y0}))"


def grid_code(community_index: int, col: int, row: int) -> str:
    """Serial west→east, north→south inside a community (5 × 5 grids)."""
    return COMMUNITIES[community_index] + f"{row * 5 + col + 1:03d}"


def build_town(conn) -> dict:
    """Town, 2 communities, 50 unit grids, 2 responsibility grids, 2 officers, 2 departments."""
    # every polygon is made of the same transformed lattice squares, so shared edges coincide exactly
    squares = []
    for i in range(2):
        for row in range(5):        # row 0 is the northernmost
            for col in range(5):
                x = X0 + 1000 * i + CELL * col
                y = Y0 + 1000 - CELL * (row + 1)
                squares.append((grid_code(i, col, row), COMMUNITIES[i], _rect(x, y, x + CELL, y + CELL)))
    conn.execute("CREATE TEMP TABLE _sq (code text, community text, geom geometry) ON COMMIT DROP")
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO _sq VALUES (%s, %s, ST_Transform(ST_GeomFromEWKT(%s), 4490))", squares)
    conn.execute("INSERT INTO town (code, name, geom) SELECT %s, '测试镇', ST_Multi(ST_Union(geom)) FROM _sq", [TOWN])
    for i, code in enumerate(COMMUNITIES):
        conn.execute("INSERT INTO community (code, town_code, name, kind, geom) "
                     "SELECT %s, %s, %s, '社区', ST_Multi(ST_Union(geom)) FROM _sq WHERE community = %s",
                     [code, TOWN, f"测试社区{i + 1}", code])
    conn.execute("INSERT INTO unit_grid (code, community_code, geom, valid_from) "
                 "SELECT code, community, ST_Multi(geom), '2020-01-01' FROM _sq")
    conn.execute("DROP TABLE _sq")
    officers = []
    for i in range(2):
        oid = conn.execute("INSERT INTO officer (code, name) VALUES (%s, %s) RETURNING id", [f"T{i + 1:03d}", f"网格员{i + 1}"]).fetchone()
        officers.append(oid["id"] if isinstance(oid, dict) else oid[0])
        rg = COMMUNITIES[i] + "Z01"
        conn.execute("INSERT INTO responsibility_grid (code, community_code, name, officer_id) VALUES (%s, %s, %s, %s)",
                     [rg, COMMUNITIES[i], f"责任网格{i + 1}", officers[-1]])
        conn.execute("INSERT INTO responsibility_grid_member (unit_grid_code, responsibility_grid_code) "
                     "SELECT code, %s FROM unit_grid WHERE community_code = %s", [rg, COMMUNITIES[i]])
    for i, code in enumerate(DEPARTMENTS):
        conn.execute("INSERT INTO department (code, name) VALUES (%s, %s)", [code, f"测试部门{i + 1}"])
    return {"town": TOWN, "communities": COMMUNITIES, "officers": officers, "departments": DEPARTMENTS}


def grid_at(x: float, y: float) -> tuple[str, str]:
    """(unit grid code, community code) of a point in EPSG:4548 metres."""
    i = 0 if x < X0 + 1000 else 1
    col = int((x - X0 - 1000 * i) // CELL)
    row = int((Y0 + 1000 - y) // CELL)
    return grid_code(i, col, row), COMMUNITIES[i]


_serial = {"n": 0}


def add_case(conn, x: float, y: float, *, reported_at: datetime, channel: str = "patrol", category: str = "01001",
             kind: str = "matter", state: str = "reported", officer_id: int | None = None,
             reporter_officer_id: int | None = None, department_code: str | None = None,
             events: Iterable[tuple] = ()) -> int:
    """One case at (x, y) EPSG:4548 with its events: (action, at, to_state[, data])."""
    _serial["n"] += 1
    grid, community = grid_at(x, y)
    number = TOWN + reported_at.strftime("%Y%m%d") + f"{_serial['n']:06d}"
    row = conn.execute(
        "INSERT INTO cases (case_number, channel, standard, category_kind, category_code, state, is_closed, unit_grid_code, "
        "community_code, responsibility_grid_code, officer_id, reporter_officer_id, department_code, reported_at, geom) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, ST_Transform(ST_SetSRID(ST_MakePoint(%s, %s), 4548), 4490)) "
        "RETURNING id",
        [number, channel, STANDARD, kind, category, state, state in ("closed", "cancelled"), grid, community,
         community + "Z01", officer_id, reporter_officer_id, department_code, reported_at, x, y]).fetchone()
    case_id = row["id"] if isinstance(row, dict) else row[0]
    from psycopg.types.json import Jsonb

    prev = None
    for seq, ev in enumerate(events, start=1):
        action, at, to_state = ev[:3]
        data = ev[3] if len(ev) > 3 else {}
        conn.execute("INSERT INTO case_event (case_id, seq, action, from_state, to_state, actor, actor_role, at, data) "
                     "VALUES (%s, %s, %s, %s, %s, 'test', 'test', %s, %s)",
                     [case_id, seq, action, prev, to_state, at, Jsonb(data)])
        prev = to_state
    return case_id


def add_positions(conn, officer_id: int, fixes: Iterable[tuple[datetime, float, float]]) -> int:
    """Officer positions (time, x, y in EPSG:4548), in one COPY (so the roll-up trigger fires once)."""
    fixes = list(fixes)
    if not fixes:
        return 0
    first, last = min(f[0] for f in fixes), max(f[0] for f in fixes)
    conn.execute("SELECT ensure_position_partitions(%s, %s)", [first, last + timedelta(days=1)])
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS _fix (t timestamptz, x float8, y float8) ON COMMIT DROP")
    conn.execute("TRUNCATE _fix")
    with conn.cursor() as cur:
        with cur.copy("COPY _fix (t, x, y) FROM STDIN") as copy:
            for t, x, y in fixes:
                copy.write_row((t, x, y))
    conn.execute("INSERT INTO officer_position (officer_id, recorded_at, geom) "
                 "SELECT %s, t, ST_Transform(ST_SetSRID(ST_MakePoint(x, y), 4548), 4490) FROM _fix", [officer_id])
    return len(fixes)
