-- 督办中心's department board: per department its open cases, those whose current step falls due
-- before the end of the local day, the overdue ones, and how many of the cases closed since
-- %(w0)s were closed within their time limit. Row security applies (the caller's cases).
WITH closed AS (
    SELECT DISTINCT e.case_id FROM case_event e
    WHERE e.to_state = ANY(%(closed_states)s) AND e.at >= %(w0)s
)
SELECT c.department_code AS code,
       count(*) FILTER (WHERE NOT c.is_closed) AS open,
       count(*) FILTER (WHERE NOT c.is_closed AND c.step_deadline_at >= now() AND c.step_deadline_at < %(d1)s) AS due_today,
       count(*) FILTER (WHERE NOT c.is_closed AND c.step_deadline_at < now()) AS overdue,
       count(*) FILTER (WHERE x.case_id IS NOT NULL AND c.is_closed AND c.deadline_at IS NOT NULL) AS closed,
       count(*) FILTER (WHERE x.case_id IS NOT NULL AND c.is_closed AND c.closed_at <= c.deadline_at) AS on_time,
       coalesce(sum(c.urge_count) FILTER (WHERE NOT c.is_closed), 0) AS urged,
       coalesce(sum(c.supervise_count) FILTER (WHERE NOT c.is_closed), 0) AS supervised
FROM cases c
LEFT JOIN closed x ON x.case_id = c.id
WHERE c.department_code IS NOT NULL AND (NOT c.is_closed OR x.case_id IS NOT NULL)
GROUP BY 1
ORDER BY overdue DESC, open DESC, 1
