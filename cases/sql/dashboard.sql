-- The leaders' dashboard (领导驾驶舱) in one pass over the caller's cases (row security applies):
-- the day's milestones, the breakdowns of the window's cases, the daily trend and the on-time rate.
-- %(d0)s/%(d1)s bound the local day, %(w0)s starts the window, %(t0)s the trend; the milestone
-- states come from cases/dashboard.py (which states of the workflows count as 立案, 派遣 …).
WITH win AS (
    SELECT c.* FROM cases c WHERE c.reported_at >= %(w0)s AND c.reported_at < %(d1)s
), moves AS (    -- cases that entered a milestone state, per local day (each case once per day and milestone)
    SELECT DISTINCT m.milestone, e.case_id, (e.at AT TIME ZONE 'Asia/Shanghai')::date AS day
    FROM case_event e
    JOIN jsonb_each(%(milestones)s::jsonb) AS m(milestone, states) ON m.states ? e.to_state
    WHERE e.at >= %(t0)s AND e.at < %(d1)s
), days AS (
    SELECT d::date AS day FROM generate_series(%(t0)s AT TIME ZONE 'Asia/Shanghai',
                                               %(d1)s AT TIME ZONE 'Asia/Shanghai' - interval '1 day',
                                               interval '1 day') AS d
), reported AS (
    SELECT (c.reported_at AT TIME ZONE 'Asia/Shanghai')::date AS day, count(*) AS n
    FROM cases c WHERE c.reported_at >= %(t0)s AND c.reported_at < %(d1)s GROUP BY 1
)
SELECT
    (SELECT jsonb_build_object('intake', count(*)) FROM cases c
      WHERE c.reported_at >= %(d0)s AND c.reported_at < %(d1)s)
    || coalesce((SELECT jsonb_object_agg(milestone, n) FROM (
        SELECT milestone, count(*) AS n FROM moves WHERE day = (%(d0)s AT TIME ZONE 'Asia/Shanghai')::date
        GROUP BY 1) t), '{}') AS today,
    (SELECT count(*) FROM cases c WHERE NOT c.is_closed AND c.step_deadline_at < now()) AS overdue,
    (SELECT count(*) FROM cases c WHERE NOT c.is_closed) AS open,
    (SELECT coalesce(jsonb_agg(jsonb_build_object('code', channel, 'n', n) ORDER BY n DESC, channel), '[]')
       FROM (SELECT channel, count(*) AS n FROM win GROUP BY 1) t) AS by_channel,
    (SELECT coalesce(jsonb_agg(jsonb_build_object('code', category_code, 'name', name, 'n', n)
                               ORDER BY n DESC, category_code), '[]')
       FROM (SELECT w.category_code, min(k.name) AS name, count(*) AS n FROM win w
             LEFT JOIN code_catalog k ON (k.standard, k.kind, k.code) = (w.standard, w.category_kind, w.category_code)
             GROUP BY 1 ORDER BY n DESC, 1 LIMIT %(top)s) t) AS by_category,
    (SELECT coalesce(jsonb_agg(jsonb_build_object('code', community_code, 'n', n, 'open', open)
                               ORDER BY n DESC, community_code), '[]')
       FROM (SELECT community_code, count(*) AS n, count(*) FILTER (WHERE NOT is_closed) AS open
             FROM win WHERE community_code IS NOT NULL GROUP BY 1) t) AS by_community,
    (SELECT coalesce(jsonb_agg(jsonb_build_object('code', department_code, 'n', n, 'open', open)
                               ORDER BY n DESC, department_code), '[]')
       FROM (SELECT department_code, count(*) AS n, count(*) FILTER (WHERE NOT is_closed) AS open
             FROM win WHERE department_code IS NOT NULL GROUP BY 1) t) AS by_department,
    (SELECT jsonb_agg(jsonb_build_object('day', d.day, 'intake', coalesce(r.n, 0),
                                         'closed', (SELECT count(*) FROM moves m WHERE m.day = d.day
                                                    AND m.milestone = 'closed')) ORDER BY d.day)
       FROM days d LEFT JOIN reported r ON r.day = d.day) AS trend,
    (SELECT jsonb_build_object('closed', count(*), 'on_time', count(*) FILTER (WHERE closed_at <= deadline_at))
       FROM win WHERE state = ANY(%(closed_states)s) AND deadline_at IS NOT NULL) AS on_time
