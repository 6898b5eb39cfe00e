"""A tiny synthetic town for the OGC part's tests (every published table gets a few rows).

`load_sample(url)` fills an empty migrated database in one transaction, set-based SQL only:
one town 0.1° × 0.06° near Shunyi, 2 communities, 12 unit grids, 2 responsibility grids,
`components` point components (GB/T 47678.5 class 01001), 3 officers with `positions` track points
each, 40 cases and 30 POIs. Deterministic (setseed), so counts and ids are stable.
"""
from __future__ import annotations

import psycopg

from civicgrid.db import connect

TOWN = "110113003"
X0, Y0, X1, Y1 = 116.60, 40.10, 116.70, 40.16

SQL = """
SELECT setseed(0.42);
INSERT INTO town VALUES (%(town)s, '仁和镇', ST_Multi(ST_MakeEnvelope(%(x0)s, %(y0)s, %(x1)s, %(y1)s, 4490)));
INSERT INTO community (code, town_code, name, kind, geom)
SELECT %(town)s || lpad(i::text, 3, '0'), %(town)s, (ARRAY['仁和社区', '河南村'])[i], (ARRAY['社区', '村'])[i],
       ST_Multi(ST_MakeEnvelope(%(x0)s + (i - 1) * 0.05, %(y0)s, %(x0)s + i * 0.05, %(y1)s, 4490))
FROM generate_series(1, 2) i;
-- 2 × 3 unit grids per community, numbered west→east, north→south
INSERT INTO unit_grid (code, community_code, name, land_use, geom)
SELECT c.code || lpad((r * 2 + k + 1)::text, 3, '0'), c.code, c.name || '网格' || (r * 2 + k + 1),
       (ARRAY['居住', '商业', '工业'])[r + 1],
       ST_Multi(ST_MakeEnvelope(ST_XMin(c.geom) + k * 0.025, %(y1)s - (r + 1) * 0.02,
                                ST_XMin(c.geom) + (k + 1) * 0.025, %(y1)s - r * 0.02, 4490))
FROM community c, generate_series(0, 2) r, generate_series(0, 1) k;
INSERT INTO officer (code, name, phone) VALUES ('WG-001', '张伟', '13800000001'), ('WG-002', '李娜', '13800000002'),
    ('WG-003', '王强', NULL);
INSERT INTO responsibility_grid (code, community_code, name, officer_id)
SELECT c.code || 'Z01', c.code, c.name || '第一责任网格', o.id
FROM community c JOIN officer o ON o.code = 'WG-00' || right(c.code, 1);
INSERT INTO responsibility_grid_member
SELECT g.code, g.community_code || 'Z01' FROM unit_grid g;
INSERT INTO department (code, name, short_name)
SELECT '91110113MA0000000' || ch, '顺义区城市管理委员会', '城管委'
FROM unnest(string_to_array('0123456789ABCDEFGHJKLMNPQRTUWXY', NULL)) ch
WHERE uscc_is_valid('91110113MA0000000' || ch) LIMIT 1;
INSERT INTO component (id, type_code, name, dept_code, dept_name, unit_grid_code, status, initial_date,
                       data_source, community_code, community_name, street_code, street_name, geom)
SELECT '110113' || '01001' || lpad(i::text, 6, '0'), '01001', '上水井盖' || i, d.code, d.name, g.code,
       (ARRAY['完好', '破损', '丢失', '完好'])[1 + i %% 4], date '2024-01-01' + (i %% 300),
       '实测', g.community_code, c.name, %(town)s, '仁和镇',
       ST_SetSRID(ST_MakePoint(ST_XMin(g.geom) + 0.002 + random() * 0.021,
                               ST_YMin(g.geom) + 0.002 + random() * 0.016), 4490)
FROM generate_series(1, %(components)s) i
JOIN LATERAL (SELECT * FROM unit_grid ORDER BY code OFFSET (i %% 12) LIMIT 1) g ON true
JOIN community c ON c.code = g.community_code
CROSS JOIN (SELECT code, name FROM department LIMIT 1) d;
INSERT INTO officer_position (officer_id, recorded_at, geom, accuracy_m, speed_mps)
SELECT o.id, timestamptz '2026-11-02 08:00:00+08' + s * interval '30 seconds',
       ST_SetSRID(ST_MakePoint(%(x0)s + 0.005 + o.id * 0.02 + 0.01 * sin(s / 50.0),
                               %(y0)s + 0.01 + 0.04 * (s::float / %(positions)s)), 4490),
       5 + (s %% 7), 1.2
FROM officer o, generate_series(0, %(positions)s - 1) s;
INSERT INTO cases (case_number, channel, category_kind, category_code, urgency, state, is_closed,
                   description, address, unit_grid_code, community_code, reporter_name, reporter_phone,
                   reported_at, geom)
SELECT %(town)s || '20261102' || lpad(i::text, 4, '0'), (ARRAY['patrol', 'public', 'hotline'])[1 + i %% 3],
       'matter', '01001', (ARRAY['normal', 'urgent'])[1 + i %% 2], (ARRAY['立案', '派遣', '结案'])[1 + i %% 3],
       i %% 3 = 2, '井盖缺失', '仁和镇某路' || i || '号', g.code, g.community_code, '举报人' || i, '1390000' || lpad(i::text, 4, '0'),
       timestamptz '2026-11-02 09:00:00+08' + i * interval '1 hour', ST_PointOnSurface(g.geom)
FROM generate_series(1, 40) i
JOIN LATERAL (SELECT * FROM unit_grid ORDER BY code OFFSET (i %% 12) LIMIT 1) g ON true;
INSERT INTO poi (name, alias, pinyin, pinyin_initials, category, address, community_code, geom)
SELECT (ARRAY['仁和镇人民政府', '仁和中学', '河南村村委会'])[1 + i %% 3] || i, '{}',
       'poi ' || i, 'p' || i, (ARRAY['政府机关', '学校', '村委会'])[1 + i %% 3], '仁和镇' || i || '号',
       c.code, ST_SetSRID(ST_MakePoint(%(x0)s + 0.003 * i, %(y0)s + 0.03), 4490)
FROM generate_series(1, 30) i
JOIN community c ON c.code = %(town)s || CASE WHEN %(x0)s + 0.003 * i < 116.65 THEN '001' ELSE '002' END;
ANALYZE;
"""


def load_sample(url: str, components: int = 240, positions: int = 400) -> dict[str, int]:
    with connect(url) as conn:
        with conn.transaction():
            conn.execute("SELECT set_config('civicgrid.actor', 'sample-loader', true)")
            with psycopg.ClientCursor(conn) as cur:  # several statements, client-side binding
                cur.execute(SQL, {"town": TOWN, "x0": X0, "y0": Y0, "x1": X1, "y1": Y1,
                                  "components": components, "positions": positions})
        counts = conn.execute("""SELECT (SELECT count(*) FROM component) AS components,
            (SELECT count(*) FROM unit_grid) AS unit_grids, (SELECT count(*) FROM officer_position) AS positions,
            (SELECT count(*) FROM cases) AS cases, (SELECT count(*) FROM poi) AS pois""").fetchone()
    return dict(counts)
