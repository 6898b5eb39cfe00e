-- The caller's inboxes (待办): the open cases in a (workflow, version, state) where one of the
-- caller's roles acts (pairs from the compiled workflows), visible to the caller (row security),
-- with the marks a box may keep (overdue, supervised, postpone_pending) and the case as JSON for
-- the guards; filtered and ordered here, the guards and paging are cases/inbox.py's.
WITH pairs AS (
    SELECT * FROM unnest(%(workflows)s::text[], %(versions)s::int[], %(states)s::text[]) AS p(workflow, version, state)
)
SELECT c.id, c.workflow, coalesce(c.workflow_version, 1) AS workflow_version, c.state,
       c.step_deadline_at < now() AS overdue,
       (c.urge_count > 0 OR c.supervise_count > 0) AS supervised,
       c.postpone_pending,
       to_jsonb(c) - 'geom' - 'description' - 'reporter_name' - 'reporter_phone' AS doc
FROM cases c
JOIN pairs p ON (p.workflow, p.version, p.state) = (c.workflow, coalesce(c.workflow_version, 1), c.state)
WHERE NOT c.is_closed
  AND (%(sla)s::text IS NULL OR case_sla_color(c.is_closed, c.step_warn_at, c.step_deadline_at) = %(sla)s)
  AND (%(channel)s::text IS NULL OR c.channel = %(channel)s)
  AND (%(urgency)s::text IS NULL OR c.urgency = %(urgency)s)
  AND (%(q)s::text IS NULL OR c.case_number LIKE %(q)s || '%%' OR c.address ILIKE '%%' || %(q)s || '%%'
       OR c.description ILIKE '%%' || %(q)s || '%%')
ORDER BY {order}
