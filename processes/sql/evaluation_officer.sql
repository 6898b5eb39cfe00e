-- 监督员评价. Reports: patrol cases by reporter_officer_id reported in the period. Missed: filed
-- public reports in the officer's grid (cases.officer_id). Verify and check tasks are counted per
-- event: each entry into `verifying` (核实) and each `feedback` (核查) in the period, done on time
-- when the next `verify` / (`check_pass` | `rework`) comes within the event's data.deadline_at,
-- else within the configured limit.
, reports AS (
    SELECT c.reporter_officer_id AS officer_id, count(*) AS reports,
           count(*) FILTER (WHERE EXISTS (SELECT 1 FROM case_event e WHERE e.case_id = c.id AND e.action = 'file' AND e.at < %(end)s)) AS valid_reports
    FROM cases c
    WHERE c.channel = 'patrol' AND c.reporter_officer_id IS NOT NULL AND c.reported_at >= %(start)s AND c.reported_at < %(end)s
    GROUP BY 1
), grid AS (
    SELECT officer_id, count(*) FILTER (WHERE filed_in) AS grid_filed, count(*) FILTER (WHERE filed_in AND is_public) AS missed
    FROM facts WHERE officer_id IS NOT NULL GROUP BY 1
), verify AS (
    SELECT c.officer_id, count(*) AS to_verify,
           count(*) FILTER (WHERE v.done_at <= coalesce((e.data ->> 'deadline_at')::timestamptz, e.at + %(verify_limit)s)) AS verified_on_time
    FROM case_event e JOIN cases c ON c.id = e.case_id
    CROSS JOIN LATERAL (SELECT min(x.at) AS done_at FROM case_event x
                        WHERE x.case_id = e.case_id AND x.action = 'verify' AND x.seq > e.seq AND x.at < %(end)s) v
    WHERE e.to_state = 'verifying' AND e.at >= %(start)s AND e.at < %(end)s AND c.officer_id IS NOT NULL
    GROUP BY 1
), checks AS (
    SELECT c.officer_id, count(*) AS to_check,
           count(*) FILTER (WHERE k.done_at <= coalesce((e.data ->> 'check_deadline_at')::timestamptz, e.at + %(check_limit)s)) AS checked_on_time
    FROM case_event e JOIN cases c ON c.id = e.case_id
    CROSS JOIN LATERAL (SELECT min(x.at) AS done_at FROM case_event x
                        WHERE x.case_id = e.case_id AND x.action IN ('check_pass', 'rework') AND x.seq > e.seq AND x.at < %(end)s) k
    WHERE e.action = 'feedback' AND e.at >= %(start)s AND e.at < %(end)s AND c.officer_id IS NOT NULL
    GROUP BY 1
)
SELECT o.id::text AS code, o.name, coalesce(r.reports, 0)::int AS reports, coalesce(r.valid_reports, 0)::int AS valid_reports,
       coalesce(g.grid_filed, 0)::int AS grid_filed, coalesce(g.missed, 0)::int AS missed,
       coalesce(v.to_verify, 0)::int AS to_verify, coalesce(v.verified_on_time, 0)::int AS verified_on_time,
       coalesce(k.to_check, 0)::int AS to_check, coalesce(k.checked_on_time, 0)::int AS checked_on_time,
       (SELECT ST_AsGeoJSON(ST_Multi(ST_Union(rg.geom)), 7, 0) FROM responsibility_grid rg WHERE rg.officer_id = o.id) AS geom
FROM officer o
LEFT JOIN reports r ON r.officer_id = o.id
LEFT JOIN grid g ON g.officer_id = o.id
LEFT JOIN verify v ON v.officer_id = o.id
LEFT JOIN checks k ON k.officer_id = o.id
WHERE o.active OR r.officer_id IS NOT NULL OR g.officer_id IS NOT NULL
ORDER BY o.id
