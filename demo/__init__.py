"""The synthetic Renhe-like demo town (仁和镇, 顺义区): `load()` generates it and loads it.

Modules: `geography` (boundary, communities, streets, unit grids), `people` (departments,
responsibility rules, officers, responsibility grids), `pois`, `components`, `positions` (GPS
tracks), `cases` (a year of cases with event logs), `names` (the Chinese names used).

Deterministic: one numpy Generator(PCG64(seed)) per part, a fixed reference day 2026-11-20.
`scale` thins components, positions (days), cases and POIs; areas, grids, communities,
departments and officers are always the full town.
"""
from __future__ import annotations

import datetime as dt
import math
import time

import numpy as np
import shapely
from psycopg import sql

TODAY = dt.date(2026, 11, 20)
POSITION_DAYS = 30
# data tables emptied on reload (catalogs, kinds, channels, urgencies stay)
DATA_TABLES = ("case_event", "cases", "case_number_counter", "officer_position", "component_history",
               "component", "poi", "responsibility_grid_member", "responsibility_grid", "officer",
               "department_responsibility", "department", "unit_grid", "community", "town", "demo_road",
               "feature_history",   # the OGC part's change log of grids and POIs: stale after a reload
               "camera")            # seeded again from the new components and grids (视频巡查)


def _rng(seed: int, part: int) -> np.random.Generator:
    # independent streams per part: changing one part's draws leaves the others unchanged
    return np.random.Generator(np.random.PCG64([seed, part]))


def load(scale: float = 1.0, seed: int = 20261124, url: str | None = None, if_empty: bool = False,
         progress: bool = True) -> dict:
    """Generate the demo town and load it (replacing any loaded data) in one transaction;
    returns row counts per table. `if_empty`: do nothing (return {}) when unit grids exist."""
    from civicgrid.db import connect, dsn
    from civicgrid.errors import InvalidInput

    if not (0 < scale <= 4):
        raise InvalidInput("scale must be in (0, 4]", field="scale")
    url = url or dsn()
    with connect(url) as conn:
        if if_empty and conn.execute("SELECT EXISTS (SELECT 1 FROM unit_grid)").fetchone()["exists"]:
            return {}
        summary = _Loader(conn, scale, seed, progress).run()
    # Planner statistics and visibility maps now rather than whenever autovacuum comes by: the first
    # queries on a fresh town otherwise get poor plans and heap fetches for index-only counts.
    with connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
    return summary


class _Loader:
    STEPS = ("geography", "people", "pois", "components", "positions", "cases",
             "write areas", "write components", "write positions", "write cases", "counts")

    def __init__(self, conn, scale, seed, progress):
        self.conn, self.scale, self.seed = conn, scale, seed
        from tqdm import tqdm

        self.bar = tqdm(total=len(self.STEPS), disable=not progress, unit="step", desc="demo town")
        self.timings: dict[str, float] = {}
        self._t = time.perf_counter()

    def step(self, name):
        now = time.perf_counter()
        self.timings[name] = now - self._t
        self._t = now
        self.bar.update(1)
        i = self.STEPS.index(name) + 1
        self.bar.set_postfix_str(self.STEPS[i] if i < len(self.STEPS) else "done")

    def run(self) -> dict:
        from civicgrid.demo import cases, components, geography, people, pois

        conn, scale, seed = self.conn, self.scale, self.seed
        catalog = self._catalog()

        town = geography.build(_rng(seed, 1))
        grid_geoms = np.array([g["geom"] for g in town.grids], dtype=object)
        tree = shapely.STRtree(grid_geoms)
        self.step("geography")

        prng = _rng(seed, 2)
        depts = people.departments(prng)
        rules = people.responsibilities(depts, town.communities)
        resolver = people.Resolver(rules)
        rgs, members = people.responsibility_grids(prng, town)
        off_names = people.person_names(prng, len(rgs))
        officers = [{"id": i, "code": f"RH{i:03d}", "name": nm,
                     "phone": "1" + str(prng.choice([3, 5, 8])) + "".join(str(d) for d in prng.integers(0, 10, 9))}
                    for i, nm in enumerate(off_names, start=1)]
        for rg, o in zip(rgs, officers):
            rg["officer_id"] = o["id"]
        rg_of_grid = {m["unit_grid_code"]: m["responsibility_grid_code"] for m in members}
        officer_of_rg = {rg["code"]: rg["officer_id"] for rg in rgs}
        grid_info = [{"code": g["code"], "community_code": g["community_code"], "rg_code": rg_of_grid[g["code"]],
                      "officer_id": officer_of_rg[rg_of_grid[g["code"]]]} for g in town.grids]
        self.step("people")

        poi_rows = pois.generate(_rng(seed, 3), town, tree, scale)
        self.step("pois")

        comps = components.generate(_rng(seed, 4), town, tree, poi_rows, scale)
        comps = self._finish_components(comps, town, grid_info, resolver, catalog, _rng(seed, 5))
        self.step("components")

        tracks = self._positions(town, rgs, members, grid_geoms, _rng(seed, 6))
        self.step("positions")

        case_rows, event_rows, per_day = cases.generate(
            _rng(seed, 7), town, tree, grid_info, comps, poi_rows, catalog["matters"], resolver, officers, scale,
            {d["code"]: d["short_name"] for d in depts}, self._workflow_version())
        self.step("cases")

        with conn.transaction():
            conn.execute("SELECT set_config('civicgrid.actor', 'demo-loader', true)")
            conn.execute("SELECT set_config('civicgrid.purge', 'on', true)")
            # the demo's history is no news for the district platform (no outbox rows)
            conn.execute("SELECT set_config('civicgrid.outbox', 'off', true)")
            present = [r["t"] for r in conn.execute(
                "SELECT t FROM unnest(%s::text[]) t WHERE to_regclass(t) IS NOT NULL", [list(DATA_TABLES)])]
            conn.execute(sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(
                sql.SQL(", ").join(sql.Identifier(t) for t in present)))
            self._write_areas(town, depts, rules, officers, rgs, members, poi_rows)
            self.step("write areas")
            self._copy_components(comps)
            self.step("write components")
            self._copy_positions(tracks)
            self.step("write positions")
            self._copy_cases(case_rows, event_rows, per_day)
            # the video-patrol cameras: on the 监控电子眼 components, else at unit-grid centroids
            conn.execute("SELECT cases_seed_cameras(20)")
            self.step("write cases")
        counts = {}
        for t in ("town", "community", "unit_grid", "responsibility_grid", "officer", "department",
                  "department_responsibility", "demo_road", "poi", "component", "officer_position", "cases",
                  "case_event"):
            counts[t] = conn.execute(sql.SQL("SELECT count(*) AS n FROM {}").format(sql.Identifier(t))).fetchone()["n"]
        self.step("counts")
        self.bar.close()
        return counts

    # ------------------------------------------------------------ generation helpers

    def _catalog(self) -> dict:
        rows = self.conn.execute(
            "SELECT kind, major_code, code, name, geometry_kind FROM code_catalog "
            "WHERE standard = 'GB/T 47678.5-2026' ORDER BY kind, code").fetchall()
        comp = {r["code"]: r for r in rows if r["kind"] == "component"}
        matters: dict = {"names": {}}
        for r in rows:
            if r["kind"] == "matter":
                matters.setdefault(r["major_code"], []).append(r["code"])
                matters["names"][r["code"]] = r["name"]
        return {"components": comp, "matters": matters}

    def _workflow_version(self) -> int:
        """The active version of the `standard` workflow (the cases part ships version 1)."""
        if not self.conn.execute("SELECT to_regclass('workflow') IS NOT NULL AS ok").fetchone()["ok"]:
            return 1
        row = self.conn.execute("SELECT version FROM workflow WHERE code = 'standard' AND is_active").fetchone()
        return row["version"] if row else 1

    def _finish_components(self, comps, town, grid_info, resolver, catalog, rng):
        from civicgrid.demo import components, names

        comps = [c for c in comps if c["type_code"] in catalog["components"]]
        # IDs numbered per type west→east, north→south (stable: sort by type, then position)
        xy = shapely.get_coordinates(shapely.point_on_surface(np.array([c["geom"] for c in comps], dtype=object)))
        order = np.lexsort((xy[:, 0], -np.round(xy[:, 1], -1), np.array([c["type_code"] for c in comps])))
        comps = [comps[i] for i in order]
        status, initial = components.status_and_dates(rng, len(comps))
        comm_name = {c["code"]: c["name"] for c in town.communities}
        serial: dict[str, int] = {}
        for c, st, ini in zip(comps, status, initial):
            t = c["type_code"]
            serial[t] = serial.get(t, 0) + 1
            g = grid_info[c["grid"]]
            dept = resolver("GB/T 47678.5-2026", "component", t, g["code"])
            c.update({"id": f"{names.DISTRICT_CODE}{t}{serial[t]:06d}", "name": catalog["components"][t]["name"],
                      "dept_code": dept, "unit_grid_code": g["code"], "status": str(st),
                      "initial_date": ini.astype(dt.date),
                      "change_date": None if st == "完好" else ini.astype(dt.date) + dt.timedelta(days=int(rng.integers(30, 400))),
                      "community_code": g["community_code"],
                      "community_name": comm_name[g["community_code"]]})
        return comps

    def _positions(self, town, rgs, members, grid_geoms, rng):
        from civicgrid.demo import positions

        n_days = max(1, math.ceil(POSITION_DAYS * min(self.scale, 1.0)))
        days = [TODAY - dt.timedelta(days=i) for i in range(n_days - 1, -1, -1)]
        code_index = {g["code"]: i for i, g in enumerate(town.grids)}
        by_rg: dict[str, list[int]] = {}
        for m in members:
            by_rg.setdefault(m["responsibility_grid_code"], []).append(code_index[m["unit_grid_code"]])
        self.position_range = (days[0], days[-1])
        town_geom = town.boundary
        shapely.prepare(town_geom)
        parts = []
        for rg in rgs:
            idx = by_rg[rg["code"]]
            rg_geom = shapely.union_all(grid_geoms[idx])
            nodes, adj = positions.street_graph(grid_geoms[idx], rg_geom)
            tr = positions.track(rg["officer_id"], nodes, adj, days, rng, town_geom, rg_geom)
            if tr:
                parts.append(tr)
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    # ------------------------------------------------------------ writers

    def _write_areas(self, town, depts, rules, officers, rgs, members, poi_rows):
        from civicgrid.demo import geography, names

        conn = self.conn
        wkb = geography.ewkb
        conn.execute("INSERT INTO town (code, name, geom) VALUES (%s, %s, ST_Multi(%s::geometry))",
                     [names.TOWN_CODE, names.TOWN_NAME, wkb([town.boundary])[0]])
        cgeo = wkb([c["geom"] for c in town.communities])
        with conn.cursor().copy("COPY community (code, town_code, name, kind, geom) FROM STDIN") as cp:
            for c, g in zip(town.communities, cgeo):
                cp.write_row((c["code"], names.TOWN_CODE, c["name"], c["kind"], _multi(g)))
        ggeo = wkb([g["geom"] for g in town.grids])
        cname = {c["code"]: c["name"] for c in town.communities}
        with conn.cursor().copy(
                "COPY unit_grid (code, community_code, name, land_use, valid_from, geom, updated_at) FROM STDIN") as cp:
            for g, geo in zip(town.grids, ggeo):
                cp.write_row((g["code"], g["community_code"], f"{cname[g['community_code']]}{g['code'][-3:]}号网格",
                              geography.ZONE_LAND_USE[g["zone"]],
                              dt.date(2025, 1, 1), _multi(geo), "2025-01-01T00:00:00+08:00"))
        with conn.cursor().copy("COPY department (code, name, short_name, kind, phone) FROM STDIN") as cp:
            for d in depts:
                cp.write_row((d["code"], d["name"], d["short_name"], d["kind"], d["phone"]))
        with conn.cursor().copy("COPY department_responsibility (department_code, standard, kind, category_prefix, "
                                "area_prefix) FROM STDIN") as cp:
            for r in rules:
                cp.write_row((r["department_code"], r["standard"], r["kind"], r["category_prefix"], r["area_prefix"]))
        with conn.cursor().copy("COPY officer (id, code, name, phone) FROM STDIN") as cp:
            for o in officers:
                cp.write_row((o["id"], o["code"], o["name"], o["phone"]))
        conn.execute("SELECT setval(pg_get_serial_sequence('officer', 'id'), (SELECT max(id) FROM officer))")
        with conn.cursor().copy("COPY responsibility_grid (code, community_code, name, officer_id) FROM STDIN") as cp:
            for r in rgs:
                cp.write_row((r["code"], r["community_code"], r["name"], r["officer_id"]))
        with conn.cursor().copy("COPY responsibility_grid_member (unit_grid_code, responsibility_grid_code) "
                                "FROM STDIN") as cp:
            for m in members:
                cp.write_row((m["unit_grid_code"], m["responsibility_grid_code"]))
        rgeo = wkb([r["geom"] for r in town.roads])
        with conn.cursor().copy("COPY demo_road (id, name, class, geom) FROM STDIN") as cp:
            for i, (r, g) in enumerate(zip(town.roads, rgeo), start=1):
                cp.write_row((i, r["name"], r["class"], g))
        pgeo = wkb([p["geom"] for p in poi_rows])
        with conn.cursor().copy("COPY poi (id, name, alias, pinyin, pinyin_initials, category, address, "
                                "community_code, geom, updated_at) FROM STDIN") as cp:
            for i, (p, g) in enumerate(zip(poi_rows, pgeo), start=1):
                cp.write_row((i, p["name"], p["alias"], p["pinyin"], p["pinyin_initials"], p["category"],
                              p["address"], p["community_code"], g, "2026-10-01T00:00:00+08:00"))
        conn.execute("SELECT setval(pg_get_serial_sequence('poi', 'id'), greatest(1, (SELECT max(id) FROM poi)))")

    def _copy_components(self, comps):
        from civicgrid.demo import geography, names

        depts = {r["code"]: r for r in self.conn.execute("SELECT code, name, kind, short_name FROM department")}
        dname = {k: r["name"] for k, r in depts.items()}
        by_short = {r["short_name"]: r for r in depts.values()}
        # who owns (权属单位: the utilities) and who maintains (养护单位) by class
        upkeep = {"03": by_short["仁和环境工程"], "04": by_short["仁和环境工程"], "01": by_short["顺义城建物业"],
                  "02": by_short["顺义城建物业"]}
        geo = geography.ewkb([c["geom"] for c in comps])
        with self.conn.cursor().copy(
                "COPY component (id, standard, kind, type_code, name, dept_code, dept_name, owner_code, owner_name, "
                "maintainer_code, maintainer_name, unit_grid_code, status, "
                "initial_date, change_date, data_source, street_code, street_name, community_code, community_name, geom, "
                "updated_at, updated_by) FROM STDIN") as cp:
            for c, g in zip(comps, geo):
                d = depts[c["dept_code"]]
                owner = d if d["kind"] == "权属单位" else None
                keeper = d if d["kind"] == "养护单位" else (upkeep.get(c["type_code"][:2]) if owner is None else None)
                cp.write_row((c["id"], "GB/T 47678.5-2026", "component", c["type_code"], c["name"], c["dept_code"],
                              dname[c["dept_code"]], owner and owner["code"], owner and owner["name"],
                              keeper and keeper["code"], keeper and keeper["name"],
                              c["unit_grid_code"], c["status"], c["initial_date"],
                              min(c["change_date"], TODAY) if c["change_date"] else None, "实测",
                              names.TOWN_CODE, names.TOWN_NAME, c["community_code"], c["community_name"], g,
                              "2026-10-01T00:00:00+08:00", "demo-loader"))

    def _copy_positions(self, tracks):
        """Fill each month's partition as a fresh table and attach it: PostgreSQL then builds the
        indexes in bulk and checks the foreign key in one pass — several times faster than
        maintaining them row by row over ~2 million rows. The processes part's per-cell roll-up
        is rebuilt afterwards with its own function."""
        from civicgrid.demo import geography, positions

        conn = self.conn
        first, last = self.position_range
        conn.execute("SELECT ensure_position_partitions(%s::timestamptz, %s::timestamptz)",
                     [f"{first}T00:00:00+08:00", f"{last + dt.timedelta(days=1)}T00:00:00+08:00"])
        # physical order by time keeps the BRIN index on recorded_at sharp
        order = np.lexsort((tracks["officer_id"], tracks["t"]))
        tr = {k: v[order] for k, v in tracks.items()}
        lon, lat = geography._to_lonlat.transform(tr["x"], tr["y"])
        lon, lat = np.asarray(lon), np.asarray(lat)
        local = (tr["t"] // 1_000_000 + 946_684_800 + positions.TZ_OFFSET_S).astype("datetime64[s]").astype("datetime64[M]")
        for month in np.unique(local):
            m = local == month
            y, mo = int(str(month)[:4]), int(str(month)[5:7])
            start = dt.date(y, mo, 1)
            end = dt.date(y + mo // 12, mo % 12 + 1, 1)
            part = sql.Identifier(f"officer_position_{start:%Y%m}")
            bounds = (sql.Literal(f"{start} 00:00:00+08"), sql.Literal(f"{end} 00:00:00+08"))
            conn.execute(sql.SQL("ALTER TABLE officer_position DETACH PARTITION {}").format(part))
            conn.execute(sql.SQL("DROP TABLE {}").format(part))
            conn.execute(sql.SQL("CREATE TABLE {} (LIKE officer_position INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
                         .format(part))
            data = positions.copy_binary(lon[m], lat[m], tr["officer_id"][m], tr["t"][m], tr["acc"][m], tr["speed"][m])
            with conn.cursor().copy(sql.SQL("COPY {} (officer_id, recorded_at, geom, accuracy_m, speed_mps) "
                                            "FROM STDIN (FORMAT BINARY)").format(part)) as cp:
                chunk = 1 << 22
                for i in range(0, len(data), chunk):
                    cp.write(data[i:i + chunk])
            conn.execute(sql.SQL("ALTER TABLE officer_position ATTACH PARTITION {} FOR VALUES FROM ({}) TO ({})")
                         .format(part, *bounds))
        if conn.execute("SELECT to_regproc('refresh_position_rollup') IS NOT NULL AS ok").fetchone()["ok"]:
            conn.execute("SELECT refresh_position_rollup()")

    def _copy_cases(self, case_rows, event_rows, per_day):
        from civicgrid.demo import cases, geography, names

        cols = ("id", "case_number", "channel", "standard", "category_kind", "category_code", "component_id",
                "urgency", "workflow", "state", "is_closed", "description", "address", "unit_grid_code",
                "community_code", "responsibility_grid_code", "officer_id", "reporter_officer_id", "department_code",
                "reporter_name", "reporter_phone", "external_id", "reported_at", "filed_at", "dispatched_at",
                "deadline_at", "closed_at", "geom", "version", "updated_at", "urge_count", "supervise_count",
                "rework_count", "step_started_at", "step_warn_at", "step_deadline_at", "workflow_version", "self_handled",
                "postpone_pending", "duplicate_of", "needs_location")
        present = {r["column_name"] for r in self.conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'cases'")}
        cols = tuple(c for c in cols if c in present)
        geo = geography.ewkb([c["geom"] for c in case_rows])
        for c, g in zip(case_rows, geo):
            c["geom"] = g
        with self.conn.cursor().copy(sql.SQL("COPY cases ({}) FROM STDIN").format(
                sql.SQL(", ").join(sql.Identifier(c) for c in cols))) as cp:
            for c in case_rows:
                cp.write_row(tuple(c[k] for k in cols))
        self.conn.execute("SELECT setval(pg_get_serial_sequence('cases', 'id'), greatest(1, (SELECT max(id) FROM cases)))")
        with self.conn.cursor().copy("COPY case_event (case_id, seq, action, from_state, to_state, actor, actor_role, "
                                     "at, comment, data) FROM STDIN") as cp:
            for row in cases.event_rows(event_rows):
                cp.write_row(row)
        if self.conn.execute("SELECT to_regclass('case_number_counter') IS NOT NULL AS ok").fetchone()["ok"]:
            with self.conn.cursor().copy("COPY case_number_counter (town_code, day, last_serial) FROM STDIN") as cp:
                for day, n in sorted(per_day.items()):
                    cp.write_row((names.TOWN_CODE, day, n))


def _multi(hex_ewkb: str) -> str:
    """Community and grid columns are MultiPolygon: wrap a Polygon's EWKB."""
    g = shapely.from_wkb(hex_ewkb)
    if g.geom_type == "Polygon":
        g = shapely.MultiPolygon([g])
    return shapely.to_wkb(shapely.set_srid(g, 4490), hex=True, include_srid=True)
