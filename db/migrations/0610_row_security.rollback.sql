-- depends: 0600_security 0100_cases 0400_ogc_views 0450_tile_cache

-- the public views as 0100_cases and 0400_ogc_views made them
CREATE OR REPLACE VIEW case_public AS
SELECT c.id, c.case_number, c.channel, c.standard, c.category_kind, c.category_code, k.name AS category_name,
       c.urgency, c.workflow, c.state, c.is_closed, c.community_code, c.unit_grid_code, c.department_code,
       c.reported_at, c.closed_at, c.step_deadline_at,
       CASE WHEN c.is_closed OR c.step_deadline_at IS NULL THEN NULL
            WHEN now() >= c.step_deadline_at THEN 'red'
            WHEN now() >= c.step_warn_at THEN 'yellow'
            ELSE 'green' END AS sla_color,
       c.geom
FROM cases c
LEFT JOIN code_catalog k ON (k.standard, k.kind, k.code) = (c.standard, c.category_kind, c.category_code)
WHERE c.duplicate_of IS NULL;

CREATE OR REPLACE VIEW ogc_cases AS
SELECT c.id, c.case_number, c.channel, c.category_kind, c.category_code, c.urgency, c.state,
       c.is_closed, c.address, c.unit_grid_code, c.community_code, c.department_code,
       c.reported_at, c.deadline_at, c.closed_at, c.geom
FROM cases c;

ALTER VIEW ogc_officer_latest RESET (security_invoker);

DROP TRIGGER IF EXISTS public_redaction_changed ON public_redaction;
DROP FUNCTION IF EXISTS public_redaction_changed();
DROP FUNCTION IF EXISTS cg_public_point(geometry, integer);
DROP FUNCTION IF EXISTS cg_public_grid_m();
DROP FUNCTION IF EXISTS cg_reader_is_staff();
DROP TABLE IF EXISTS public_redaction;

DROP POLICY IF EXISTS officer_position_select ON officer_position;
ALTER TABLE officer_position DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS case_alert_select ON case_alert;
ALTER TABLE case_alert DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS case_duplicate_select ON case_duplicate;
DROP POLICY IF EXISTS case_duplicate_insert ON case_duplicate;
ALTER TABLE case_duplicate DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS case_timer_select ON case_timer;
DROP POLICY IF EXISTS case_timer_insert ON case_timer;
ALTER TABLE case_timer DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS case_attachment_select ON case_attachment;
DROP POLICY IF EXISTS case_attachment_insert ON case_attachment;
ALTER TABLE case_attachment DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS case_event_select ON case_event;
DROP POLICY IF EXISTS case_event_insert ON case_event;
ALTER TABLE case_event DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS cases_select ON cases;
DROP POLICY IF EXISTS cases_update ON cases;
DROP POLICY IF EXISTS cases_insert ON cases;
ALTER TABLE cases DISABLE ROW LEVEL SECURITY;

DROP FUNCTION IF EXISTS security_enter(integer);
DROP INDEX IF EXISTS case_event_set_department_idx;
DROP FUNCTION IF EXISTS cg_department_case_ids();
DROP FUNCTION IF EXISTS cg_sees_all_positions();
DROP FUNCTION IF EXISTS cg_sees_all_cases();
DROP FUNCTION IF EXISTS cg_all_case_roles();
DROP FUNCTION IF EXISTS cg_position_reader_roles();
DROP FUNCTION IF EXISTS cg_officer_id();
DROP FUNCTION IF EXISTS cg_department();
DROP FUNCTION IF EXISTS cg_has_role(text);
DROP FUNCTION IF EXISTS cg_roles();

-- Grants and default privileges of this database go; the role itself only when no other database
-- of the cluster still has objects or grants for it (roles are cluster-wide).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'civicgrid_web') THEN
        DROP OWNED BY civicgrid_web;
        BEGIN
            DROP ROLE civicgrid_web;
        EXCEPTION WHEN dependent_objects_still_exist OR undefined_object THEN
            NULL;
        END;
    END IF;
END $$;
