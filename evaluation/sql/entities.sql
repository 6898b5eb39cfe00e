-- Every entity a period lists, with zeros too: all areas, active departments and officers, and the
-- people who acted in a command-center role during the period (受理员, 值班长, 派遣员).
SELECT 'unit_grid' AS kind, code, coalesce(name, code) AS name FROM unit_grid
UNION ALL SELECT 'community', code, name FROM community
UNION ALL SELECT 'responsibility_grid', code, name FROM responsibility_grid
UNION ALL SELECT 'department', code, name FROM department WHERE active
UNION ALL SELECT 'officer', id::text, name FROM officer WHERE active
UNION ALL
SELECT DISTINCT actor_role, actor, actor FROM case_event
WHERE at >= %(start)s AND at < %(end)s AND actor_role IN ('intake_operator', 'shift_leader', 'dispatcher')
