-- Cases as the views show them (a department's queue, an officer's tasks, the overdue list, one
-- case): the row, its category's name, lon/lat and the time-limit colour. cases/views.py composes
-- the extra columns, the WHERE and the ORDER BY; the rows are the caller's (row-level security).
SELECT c.id, c.case_number, c.channel, c.standard, c.category_kind, c.category_code, k.name AS category_name,
    c.urgency, c.workflow, c.workflow_version, c.state, c.is_closed, c.community_code, c.unit_grid_code,
    c.responsibility_grid_code, c.officer_id, c.department_code, c.reported_at, c.filed_at, c.dispatched_at,
    c.deadline_at, c.closed_at, c.step_started_at, c.step_warn_at, c.step_deadline_at, c.needs_location,
    c.urge_count, c.supervise_count, c.rework_count, c.postpone_pending, c.duplicate_of, c.version,
    c.address, c.description, c.component_id, c.camera_code, c.external_id, c.reporter_officer_id,
    c.reporter_name, c.reporter_phone, c.reported_standard, c.reported_code, c.self_handled,
    ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat,
    case_sla_color(c.is_closed, c.step_warn_at, c.step_deadline_at) AS sla_color{extra}
FROM cases c
LEFT JOIN code_catalog k ON (k.standard, k.kind, k.code) = (c.standard, c.category_kind, c.category_code)
WHERE {where}
ORDER BY {order}
LIMIT %(limit)s
