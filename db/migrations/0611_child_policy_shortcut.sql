-- Row-level security: the rows of a case (events, photos, timers, duplicate suggestions, alerts)
-- short-cut to "visible" for the roles that see every case. An EXISTS alone lets the planner turn
-- the policy into a semi-join over all visible cases, which it did under write load once the
-- statistics grew (transitions fell to a third in bench/cases); behind an OR with the one-time
-- role test the EXISTS only runs, as a primary-key probe, for the other roles.
-- depends: 0610_row_security

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['case_event', 'case_attachment', 'case_timer', 'case_duplicate', 'case_alert'] LOOP
        EXECUTE format('DROP POLICY %I ON %I', t || '_select', t);
        EXECUTE format('CREATE POLICY %I ON %I FOR SELECT TO civicgrid_web USING ('
                       '(SELECT cg_sees_all_cases()) OR EXISTS (SELECT 1 FROM cases c WHERE c.id = %I.case_id))',
                       t || '_select', t, t);
    END LOOP;
END $$;
