-- What the system sees in its own records for the month %(month)s (first day, local), as findings
-- in the temporary table `finding` (assessment/proposals.py merges them into assessment_event).
-- Only days before %(today)s and deadlines before %(now)s count: an unfinished day is no evidence.
WITH c AS (SELECT * FROM assessment_contract),
m AS (SELECT %(month)s::date AS month, (%(month)s::date + interval '1 month')::date AS next_month,
             (%(month)s::timestamp AT TIME ZONE 'Asia/Shanghai') AS starts,
             ((%(month)s::date + interval '1 month')::timestamp AT TIME ZONE 'Asia/Shanghai') AS ends),
days AS (
    SELECT d::date AS day FROM m, generate_series(m.month, least(m.next_month, %(today)s::date) - 1, interval '1 day') d
),
daily AS (SELECT code FROM ops_check_item WHERE active AND section = 'daily'),
inspected AS (   -- per day: how many of the active daily items have a record
    SELECT days.day, count(i.id) AS present, (SELECT count(*) FROM daily) AS expected,
           array_agg(d.code ORDER BY d.code) FILTER (WHERE i.id IS NULL) AS missing
    FROM days CROSS JOIN daily d LEFT JOIN ops_inspection i ON i.day = days.day AND i.item_code = d.code
    GROUP BY days.day
),
weeks AS (       -- weekly reports: the weeks whose Sunday is in the month
    SELECT w::date AS period_start FROM m,
           generate_series(date_trunc('week', m.month::timestamp), (m.next_month - 7)::timestamp, interval '1 week') w
    WHERE (w::date + 6) >= m.month
),
due AS (
    SELECT k.code AS kind, p.period_start,
           ((p.period_start + k.period)::timestamp + k.due_after) AT TIME ZONE 'Asia/Shanghai' AS due_at
    FROM assessment_report_kind k
    JOIN (SELECT 'weekly' AS kind, period_start FROM weeks UNION ALL SELECT 'monthly', month FROM m) p ON p.kind = k.code
)
INSERT INTO finding (rule_code, count, occurred_at, proposal_key, evidence)
SELECT 'inspection_day', 1, (day + 1)::timestamp AT TIME ZONE 'Asia/Shanghai', 'inspection_day:' || day,
       jsonb_build_object('record', 'inspection', 'day', day)
FROM inspected WHERE present = 0
UNION ALL
SELECT 'inspection_item', expected - present, (day + 1)::timestamp AT TIME ZONE 'Asia/Shanghai', 'inspection_item:' || day,
       jsonb_build_object('record', 'inspection', 'day', day, 'missing', to_jsonb(missing))
FROM inspected WHERE present > 0 AND present < expected
UNION ALL
SELECT 'staff_short', 1, s.checked_at, 'staff_short:' || s.id,
       jsonb_build_object('record', 'spot_check', 'id', s.id, 'expected', s.expected, 'found', s.found)
FROM ops_spot_check s, m WHERE s.checked_at >= m.starts AND s.checked_at < m.ends AND s.found < s.expected
UNION ALL
SELECT CASE a.kind WHEN 'leave' THEN 'lead_leave' ELSE 'lead_replaced' END, 1,
       a.starts_on::timestamp AT TIME ZONE 'Asia/Shanghai', 'lead_absence:' || a.id,
       jsonb_build_object('record', 'lead_absence', 'id', a.id, 'kind', a.kind, 'starts_on', a.starts_on)
FROM ops_lead_absence a, m WHERE a.starts_on >= m.month AND a.starts_on < m.next_month AND NOT a.notified
UNION ALL
SELECT CASE f.category WHEN 'fault' THEN 'fault_late' ELSE 'security_late' END, 1, f.reported_at, 'fault:' || f.id,
       jsonb_build_object('record', f.category, 'id', f.id, 'reported_at', f.reported_at,
                          'responded_at', f.responded_at, 'resolved_at', f.resolved_at)
FROM ops_fault f, m, c
WHERE f.reported_at >= m.starts AND f.reported_at < m.ends
  AND CASE f.category
      WHEN 'fault' THEN coalesce(f.responded_at, %(now)s) - f.reported_at > c.fault_response_limit
                     OR coalesce(f.resolved_at, %(now)s) - f.reported_at > c.fault_resolve_limit
      ELSE coalesce(f.resolved_at, %(now)s) - f.reported_at > c.security_handle_limit END
UNION ALL
SELECT 'report_late', 1, due.due_at, 'report_late:' || due.kind || ':' || due.period_start,
       jsonb_build_object('record', 'report', 'kind', due.kind, 'period_start', due.period_start, 'due_at', due.due_at,
                          'submitted_at', r.submitted_at)
FROM due LEFT JOIN ops_report r ON r.kind = due.kind AND r.period_start = due.period_start
WHERE due.due_at < %(now)s AND (r.id IS NULL OR r.submitted_at > due.due_at)
