-- depends: 0611_child_policy_shortcut
-- The time-limit colour of a case's current step (时限灯), one rule for every listing:
-- none when closed or without a deadline, red from the deadline, yellow from the warning mark
-- (80 % of the step's working time; the deadline itself when no mark was set), green before.
-- A plain SQL expression, STABLE (it reads now()): the planner inlines it.
CREATE FUNCTION case_sla_color(is_closed boolean, warn_at timestamptz, deadline_at timestamptz)
RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN is_closed OR deadline_at IS NULL THEN NULL
                WHEN now() >= deadline_at THEN 'red'
                WHEN now() >= coalesce(warn_at, deadline_at) THEN 'yellow'
                ELSE 'green' END
$$;
