"""A year of cases (案件) and their event logs in the `standard` workflow.

Each case gets a full timeline (report → verify/file → dispatch → feedback → [rework] → check)
drawn from per-category time limits; events later than the reference "now" are cut off, so old
cases are closed and recent ones sit in the open states. The case row is the replay of its events:
state = last event's to_state; reported_at = the report; filed_at = first entry into `filed`;
dispatched_at = first dispatch; deadline_at = that dispatch's data.deadline_at; closed_at = entry
into closed/cancelled; urge/supervise/rework counts = number of such events.
"""
from __future__ import annotations

import datetime as dt
import json

import numpy as np
import shapely

from civicgrid.demo import names

TZ = dt.timezone(dt.timedelta(hours=8))
TODAY = dt.date(2026, 11, 20)
NOW = dt.datetime(2026, 11, 20, 17, 30, tzinfo=TZ)          # the demo's reference "now"
GB = "GB/T 47678.5-2026"
CHANNELS = (("patrol", 0.42), ("public", 0.12), ("hotline", 0.20), ("component", 0.10), ("video", 0.08),
            ("district", 0.08))
MATTER_MAJORS = (("06", 0.40), ("09", 0.32), ("07", 0.10), ("08", 0.12), ("10", 0.02), ("component", 0.04))
LIMIT_H = {"06": 24, "07": 48, "08": 72, "09": 8, "10": 24}   # disposal limits; components: 72 h
URGENCY = (("normal", 0.90), ("urgent", 0.08), ("critical", 0.02))
URGENCY_FACTOR = {"normal": 1.0, "urgent": 0.5, "critical": 0.25}
OPERATORS = ("受理员-刘敏", "受理员-张静", "受理员-王倩", "受理员-赵磊")
DISPATCHERS = ("派遣员-陈晨", "派遣员-孙涛")
LEADERS = ("值班长-周建国", "值班长-吴海燕")
LEADERS_TOP = ("副镇长-李建华", "执法队长-郑伟")
# step time limits of the cases part's `standard` workflow (cases/workflows/standard.yml), in calendar
# time here; the dispatched step's deadline is the one the dispatcher sets
STEP_LIMIT = {"reported": dt.timedelta(minutes=30), "verifying": dt.timedelta(hours=1),
              "filed": dt.timedelta(minutes=30), "handled": dt.timedelta(hours=1)}
CLOSED_STATES = ("closed", "cancelled")
DESK = 4          # cases of officer 1 left waiting for his 核实/核查


def _p(pairs):
    return [k for k, _ in pairs], np.array([w for _, w in pairs]) / sum(w for _, w in pairs)


def generate(rng, town, grid_tree, grid_info, components, pois, matter_codes, resolver, officers, scale,  # noqa: C901
             dept_names: dict, workflow_version: int = 1):  # the generator of one synthetic year, step by step
    """Returns (cases, events): lists of dicts ready for COPY; geometry metric."""
    n = max(30, int(round(20000 * scale)))
    m = int(n * 1.3) + 20
    # --- when: seasonality (summer peak), fewer on weekends, daytime hours by channel
    days = np.array([TODAY - dt.timedelta(days=i) for i in range(364, -1, -1)])
    doy = np.array([d.timetuple().tm_yday for d in days])
    w = (1 + 0.35 * np.cos(2 * np.pi * (doy - 200) / 365)) * np.where([d.weekday() >= 5 for d in days], 0.7, 1.0)
    day_i = rng.choice(len(days), m, p=w / w.sum())
    # today's intake, so even a small town has cases in every open state of the workflow
    n_today = max(15, int(round(n * 0.003)))
    day_i[:n_today] = len(days) - 1
    ch_keys, ch_p = _p(CHANNELS)
    channel = np.array(ch_keys, dtype=object)[rng.choice(len(ch_keys), m, p=ch_p)]
    hour = np.where(channel == "patrol", rng.uniform(8.6, 17.4, m),
                    np.clip(np.where(rng.random(m) < 0.55, rng.normal(10, 1.8, m), rng.normal(16, 2.5, m)), 6, 22.5))
    hour[:n_today] = rng.uniform(7.5, 17.2, n_today)
    # --- what and where
    comp_xy = shapely.get_coordinates(shapely.point_on_surface(np.array([c["geom"] for c in components])))
    mj_keys, mj_p = _p(MATTER_MAJORS)
    major = np.array(mj_keys, dtype=object)[rng.choice(len(mj_keys), m, p=mj_p)]
    major[channel == "component"] = "component"
    comp_idx = np.where(major == "component", rng.integers(0, len(components), m), -1)
    # categories within a major: a fixed skewed popularity
    cat = np.empty(m, dtype=object)
    for mj in ("06", "07", "08", "09", "10"):
        codes = matter_codes[mj]
        pop = 1 / np.arange(1, len(codes) + 1) ** 0.9
        perm = np.random.Generator(np.random.PCG64(int(mj))).permutation(len(codes))
        sel = major == mj
        cat[sel] = np.array(codes, dtype=object)[perm][rng.choice(len(codes), sel.sum(), p=pop / pop.sum())]
    cat[comp_idx >= 0] = np.array([components[i]["type_code"] for i in comp_idx[comp_idx >= 0]], dtype=object)
    # location: hotspots (markets, schools, squares, stops, shops), along streets, anywhere
    hot_w = {"market": 10, "school": 5, "square": 5, "bus_stop": 1.2, "shop": 0.4, "restaurant": 0.6,
             "residential": 0.5}
    hp = [(p["xy"], hot_w[p["kind"]]) for p in pois if p["kind"] in hot_w]
    hxy = np.array([h[0] for h in hp])
    hw = np.array([h[1] for h in hp])
    mode = rng.choice(3, m, p=[0.45, 0.4, 0.15])
    xy = hxy[rng.choice(len(hxy), m, p=hw / hw.sum())] + rng.normal(0, 35, (m, 2))
    roads = np.array([r["geom"] for r in town.roads if r["class"] in ("arterial", "street")], dtype=object)
    rl = shapely.length(roads)
    ri = rng.choice(len(roads), m, p=rl / rl.sum())
    along = shapely.get_coordinates(shapely.line_interpolate_point(roads[ri], rng.random(m) * rl[ri]))
    xy[mode == 1] = along[mode == 1] + rng.normal(0, 8, ((mode == 1).sum(), 2))
    minx, miny, maxx, maxy = town.boundary.bounds
    anywhere = np.column_stack([rng.uniform(minx, maxx, m), rng.uniform(miny, maxy, m)])
    xy[mode == 2] = anywhere[mode == 2]
    xy[comp_idx >= 0] = comp_xy[comp_idx[comp_idx >= 0]]
    pts = shapely.points(xy)
    pi, gi = grid_tree.query(pts, predicate="intersects")
    first = np.unique(pi, return_index=True)[1]
    grid_of = np.full(m, -1)
    grid_of[pi[first]] = gi[first]
    ok = np.nonzero(grid_of >= 0)[0][:n]
    n = len(ok)
    u_keys, u_p = _p(URGENCY)
    urgency = np.array(u_keys, dtype=object)[rng.choice(3, n, p=u_p)]
    t0 = []
    for i in ok:
        d = days[day_i[i]]
        t = dt.datetime(d.year, d.month, d.day, tzinfo=TZ) + dt.timedelta(hours=float(hour[i]))
        t0.append(min(t, NOW - dt.timedelta(minutes=20)))
    order = sorted(range(n), key=lambda k: (t0[k], k))
    road_tree = shapely.STRtree(roads)
    near_road = road_tree.query_nearest(pts[ok], all_matches=False)[1]
    road_names = [r["name"] for r in town.roads if r["class"] in ("arterial", "street")]
    cat_names = matter_codes["names"]
    surnames = names.SURNAMES

    cases, events = [], []
    per_day: dict[dt.date, int] = {}
    r = rng.random((n, 16))                                    # per-case uniform draws
    off_codes = {o["id"]: o["code"] for o in officers}
    # officer 1's desk: his latest cases wait for him (核实 or 核查), so the grid-officer demo user
    # (`civicgrid user demo` binds the first officer by code) has tasks in his inbox
    first = min(officers, key=lambda o: o["code"])["id"] if officers else None
    desk = set([k for k in order if grid_info[grid_of[ok[k]]]["officer_id"] == first][-DESK:])
    dept_short = dept_names.get
    for new_id, k in enumerate(order, start=1):
        i = ok[k]
        g = grid_info[grid_of[i]]
        ch = channel[i]
        code = cat[i]
        mj = code[:2]
        rep = t0[k]
        day = rep.date()
        per_day[day] = per_day.get(day, 0) + 1
        number = f"{names.TOWN_CODE}{day:%Y%m%d}{per_day[day]:04d}"
        dept = resolver(GB, "matter", code, g["code"])
        officer_code = off_codes.get(g["officer_id"], "RH000")
        limit = dt.timedelta(hours=LIMIT_H.get(mj, 72) * URGENCY_FACTOR[urgency[k]])
        u = r[k]
        ev = []

        def add(action, frm, to, at, actor, role, comment=None, data=None, deadline=None):
            ev.append({"action": action, "from_state": frm, "to_state": to, "at": at, "actor": actor,  # noqa: B023
                       "actor_role": role, "comment": comment, "data": data or {}, "deadline": deadline})

        op = OPERATORS[int(u[0] * len(OPERATORS))]
        lead = LEADERS[int(u[9] * 2)]
        minutes = lambda m: dt.timedelta(minutes=float(m))  # noqa: E731
        # intake (信息收集): public reports start in 待核实; the others in 待受理
        if ch == "patrol":
            add("report", None, "reported", rep, officer_code, "grid_officer", "巡查发现")
        elif ch == "component":
            add("report", None, "reported", rep, officer_code, "grid_officer", "部件巡查发现")
        elif ch == "public":
            add("report", None, "verifying", rep, "公众", "public", "公众举报")
        elif ch == "district":
            add("report", None, "reported", rep, "区平台", "district_platform", "区平台推送")
        else:
            add("report", None, "reported", rep, op, "intake_operator",
                "12345热线转来" if ch == "hotline" else "视频巡查发现")
        t = rep
        if ch in ("hotline", "district") and u[3] < 0.5:
            t = t + minutes(3 + 20 * u[1])
            add("send_verify", "reported", "verifying", t, op, "intake_operator", "派网格员核实")
        if ev[-1]["to_state"] == "verifying":          # 核实: the grid officer goes and looks
            t = t + minutes(15 + 300 * u[3] ** 2)
            found = u[4] >= 0.07
            add("verify", "verifying", "reported", t, officer_code, "grid_officer",
                "核实属实" if found else "现场未发现", {"verdict": "confirmed" if found else "not_found"})
            if not found:
                add("cancel", "reported", "cancelled", t + minutes(5 + 30 * u[1]), lead, "shift_leader", "核实不属实，作废")
        if ev[-1]["to_state"] == "reported":
            t = t + minutes(5 + 40 * u[1])
            if u[2] < 0.03:
                add("cancel", "reported", "cancelled", t, lead, "shift_leader", "重复上报，作废")
            else:
                add("file", "reported", "filed", t, lead, "shift_leader", "符合立案条件")
        if ev[-1]["to_state"] == "filed":
            disp = DISPATCHERS[int(u[6] * 2)]
            auto = ch == "component" and urgency[k] != "critical"
            t = ev[-1]["at"] + (dt.timedelta(seconds=1) if auto else minutes(10 + 230 * u[5] ** 2))
            deadline = t + limit
            add("dispatch", "filed", "dispatched", t, "system" if auto else disp, "system" if auto else "dispatcher",
                "自动派遣" if auto else None, {"department_code": dept, "deadline_at": deadline.isoformat()},
                deadline=deadline)
            if u[7] < 0.015:      # 挂账: long-term problems parked by the shift leader
                add("suspend", "dispatched", "suspended", t + dt.timedelta(days=1 + 4 * u[8]),
                    lead, "shift_leader", "需统筹解决，挂账")
            else:
                frac = np.exp(np.log(0.45) + 0.55 * np.sqrt(-2 * np.log(max(u[8], 1e-9))) * np.cos(2 * np.pi * u[9]))
                if u[10] < 0.02:
                    frac *= 10 + 30 * u[11]              # stuck cases: still open, long overdue
                done = t + limit * float(frac)
                if frac > 0.75:
                    add("urge", "dispatched", "dispatched", t + limit * 0.75, disp, "dispatcher", "即将超期，请尽快处置")
                if done > deadline + dt.timedelta(hours=1):
                    add("supervise", "dispatched", "dispatched", deadline + dt.timedelta(hours=1),
                        LEADERS_TOP[int(u[12] * 2)], "leader", "已超期，督办")
                add("feedback", "dispatched", "handled", done, dept_short(dept), "department_handler", "已处置")
                t = done + minutes(30 + 1400 * u[13] ** 2)   # on-site check
                if u[14] < 0.05:
                    add("rework", "handled", "dispatched", t, officer_code, "grid_officer", "核查未通过，返工",
                        deadline=t + limit)
                    t2 = t + limit * float(0.1 + 0.5 * u[15])
                    add("feedback", "dispatched", "handled", t2, dept_short(dept), "department_handler", "已重新处置")
                    t = t2 + minutes(30 + 300 * u[13])
                add("check_pass", "handled", "closed", t, officer_code, "grid_officer", "核查通过，结案",
                    {"verdict": "fixed"})
        ev = [e for e in ev if e["at"] <= NOW]
        ev.sort(key=lambda e: e["at"])            # urge/supervise interleave by time
        # a cut-off can leave an urge/supervise after the state moved on: drop those
        state = None
        kept = []
        for e in ev:
            if e["action"] in ("urge", "supervise") and state != "dispatched":
                continue
            kept.append(e)
            state = e["to_state"]
        ev = kept
        if k in desk:   # cut at the first step that is the officer's: 待核实 or 已反馈/待核查
            j = next((j for j, e in enumerate(ev) if e["to_state"] in ("verifying", "handled")), None)
            ev = ev if j is None else ev[:j + 1]
        for s, e in enumerate(ev, start=1):
            e["case_id"] = new_id
            e["seq"] = s
        ci = comp_idx[i]
        ev[0]["data"]["location_source"] = "component" if ci >= 0 else "coordinates"
        project(ev, dept, workflow_version, {"unit_grid_code": g["code"], "community_code": g["community_code"],
                                             "responsibility_grid_code": g["rg_code"], "officer_id": g["officer_id"]})
        events += ev
        row = replay(ev)
        geom = pts[i]
        reporter = (surnames[int(u[0] * 97) % len(surnames)] + "先生" if u[1] < 0.5 else
                    surnames[int(u[1] * 89) % len(surnames)] + "女士") if ch in ("public", "hotline") else None
        cases.append({
            "id": new_id, "case_number": number, "channel": ch, "standard": GB, "category_kind": "matter",
            "category_code": code, "component_id": components[ci]["id"] if ci >= 0 else None,
            "urgency": urgency[k], "workflow": "standard",
            "description": f"{road_names[near_road[k]]}附近{cat_names[code]}",
            "address": f"{names.TOWN_NAME}{road_names[near_road[k]]}附近",
            "reporter_officer_id": g["officer_id"] if ch == "patrol" else None,
            "reporter_name": reporter,
            "reporter_phone": f"13{int(u[2] * 1e9):09d}" if reporter else None,
            "external_id": f"{'12345' if ch == 'hotline' else 'QPT'}-{number}" if ch in ("hotline", "district") else None,
            "geom": geom, **row,
        })
    return cases, events, per_day


def project(ev: list[dict], dept: str, workflow_version: int, place: dict) -> None:
    """Write each event's `data.set`: the case columns it changes, as the cases part's engine does
    (cases/engine.py), so the case row is the fold of its events (cases/replay.py)."""
    state = None
    deadline = None
    counts = {"urge": 0, "supervise": 0, "rework": 0}
    for e in ev:
        at, to = e["at"], e["to_state"]
        ch: dict = {}
        if e["action"] == "report":
            ch.update(workflow="standard", workflow_version=workflow_version, department_code=dept, filed_at=None,
                      dispatched_at=None, deadline_at=None, closed_at=None, duplicate_of=None, postpone_pending=False,
                      urge_count=0, supervise_count=0, rework_count=0, self_handled=False, needs_location=False,
                      **place)
        if to != state:
            ch.update(state=to, is_closed=to in CLOSED_STATES, step_started_at=at)
            if to == "dispatched":
                deadline = e["deadline"] or deadline
                ch.update(step_warn_at=at + (deadline - at) * 0.8, step_deadline_at=deadline)
            elif to in STEP_LIMIT:
                ch.update(step_warn_at=at + STEP_LIMIT[to] * 0.8, step_deadline_at=at + STEP_LIMIT[to])
            else:
                ch.update(step_warn_at=None, step_deadline_at=None)
            if to in CLOSED_STATES:
                ch["closed_at"] = at
        if e["action"] == "file":
            ch["filed_at"] = at
        if e["action"] == "dispatch":
            ch.update(department_code=e["data"]["department_code"], dispatched_at=at, deadline_at=deadline)
        if e["action"] == "rework":
            ch["deadline_at"] = deadline
        if e["action"] in counts:
            counts[e["action"]] += 1
            ch[f"{e['action']}_count"] = counts[e["action"]]
        e["data"] = {**e["data"], "set": {k: v.isoformat() if isinstance(v, dt.datetime) else v for k, v in ch.items()}}
        state = to


def replay(ev: list[dict]) -> dict:
    """The case columns as the fold of the events' `data.set` (plus reported_at and version)."""
    row: dict = {}
    for e in ev:
        for k, v in e["data"]["set"].items():
            row[k] = dt.datetime.fromisoformat(v) if k.endswith("_at") and isinstance(v, str) else v
        row["state"] = e["to_state"]
        row["version"] = e["seq"]
    row["reported_at"] = ev[0]["at"]
    row["updated_at"] = ev[-1]["at"]
    return row


def event_rows(events):
    for e in events:
        yield (e["case_id"], e["seq"], e["action"], e["from_state"], e["to_state"], e["actor"], e["actor_role"],
               e["at"], e["comment"], json.dumps(e["data"], ensure_ascii=False))
