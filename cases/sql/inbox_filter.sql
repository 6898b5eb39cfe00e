-- The cases of the caller's inboxes (待办), as the WHERE of cases/sql/inbox.sql and of the page
-- (cases/sql/case_list.sql): open, in a (workflow, version, state) where one of the caller's roles
-- acts (pairs from the compiled workflows), filtered. Row security decides what the caller sees.
NOT c.is_closed
AND (c.workflow, coalesce(c.workflow_version, 1), c.state) IN
    (SELECT * FROM unnest(%(workflows)s::text[], %(versions)s::int[], %(states)s::text[]))
AND (%(sla)s::text IS NULL OR case_sla_color(c.is_closed, c.step_warn_at, c.step_deadline_at) = %(sla)s)
AND (%(channel)s::text IS NULL OR c.channel = %(channel)s)
AND (%(urgency)s::text IS NULL OR c.urgency = %(urgency)s)
AND (%(q)s::text IS NULL OR c.case_number LIKE %(q)s || '%%' OR c.address ILIKE '%%' || %(q)s || '%%'
     OR c.description ILIKE '%%' || %(q)s || '%%')
