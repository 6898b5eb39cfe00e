-- The leaders' overview: open, overdue and closed cases per department.
SELECT c.department_code, d.name,
       count(*) FILTER (WHERE NOT c.is_closed) AS open,
       count(*) FILTER (WHERE NOT c.is_closed AND c.step_deadline_at < now()) AS overdue,
       count(*) FILTER (WHERE c.is_closed) AS closed
FROM cases c LEFT JOIN department d ON d.code = c.department_code
GROUP BY 1, 2
ORDER BY open DESC NULLS LAST
