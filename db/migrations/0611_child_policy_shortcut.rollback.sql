DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['case_event', 'case_attachment', 'case_timer', 'case_duplicate', 'case_alert'] LOOP
        EXECUTE format('DROP POLICY %I ON %I', t || '_select', t);
        EXECUTE format('CREATE POLICY %I ON %I FOR SELECT TO civicgrid_web USING ('
                       'EXISTS (SELECT 1 FROM cases c WHERE c.id = %I.case_id))', t || '_select', t, t);
    END LOOP;
END $$;
