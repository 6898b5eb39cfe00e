-- 专业部门评价: cases first dispatched in the period, by the department of their last dispatch.
, counts AS (
    SELECT department_code AS code,
           count(*) AS dispatched,
           count(*) FILTER (WHERE handled_at IS NOT NULL) AS handled,
           count(*) FILTER (WHERE handled_at IS NOT NULL AND (deadline_at IS NULL OR handled_at <= deadline_at)) AS on_time_handled,
           count(*) FILTER (WHERE handled_at IS NOT NULL AND handled_at > deadline_at) AS overdue_handled,
           count(*) FILTER (WHERE handled_at IS NULL AND deadline_at < %(end)s
                            AND coalesce(state_at_end, '') NOT IN ('cancelled', 'suspended')) AS overdue_unhandled,
           count(*) FILTER (WHERE closed_at IS NOT NULL) AS closed,
           count(*) FILTER (WHERE reworks > 0) AS reworked
    FROM facts
    WHERE dispatched_at >= %(start)s AND department_code IS NOT NULL
    GROUP BY 1
)
SELECT d.code, d.name, coalesce(c.dispatched, 0)::int AS dispatched, coalesce(c.handled, 0)::int AS handled,
       coalesce(c.on_time_handled, 0)::int AS on_time_handled, coalesce(c.overdue_handled, 0)::int AS overdue_handled,
       coalesce(c.overdue_unhandled, 0)::int AS overdue_unhandled, coalesce(c.closed, 0)::int AS closed,
       coalesce(c.reworked, 0)::int AS reworked, NULL::text AS geom
FROM department d LEFT JOIN counts c ON c.code = d.code
WHERE d.active OR c.code IS NOT NULL
ORDER BY d.code
