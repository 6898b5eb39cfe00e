-- The inbox group of a case (cases/sql/inbox.sql): its (workflow, version, state), the marks a box
-- may keep (overdue 超期, supervised 催办/督办过, postpone_pending 延期待批) and {doc}, the values of the
-- case fields the workflows' guards read — every case of a group is in the same boxes with the same actions.
jsonb_build_array(c.workflow, coalesce(c.workflow_version, 1), c.state,
    coalesce(c.step_deadline_at < now(), false), coalesce(c.urge_count > 0 OR c.supervise_count > 0, false),
    coalesce(c.postpone_pending, false), {doc})
