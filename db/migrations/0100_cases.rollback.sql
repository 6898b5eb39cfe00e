-- depends: 0002_code_catalogs
DROP VIEW IF EXISTS case_public;
DROP TABLE IF EXISTS case_alert, case_timer, case_duplicate, category_relation, camera,
    case_attachment, attachment, intake_idempotency, case_number_counter,
    calendar_override, work_calendar, workflow_rule, workflow;
DROP FUNCTION IF EXISTS cases_seed_cameras(integer);
DROP TRIGGER IF EXISTS case_event_append_only ON case_event;
DROP FUNCTION IF EXISTS case_event_append_only();
DROP INDEX IF EXISTS cases_open_deadline_idx, cases_component_idx, cases_officer_idx, cases_geog_idx, cases_duplicate_of_idx;
ALTER TABLE cases
    DROP COLUMN IF EXISTS workflow_version, DROP COLUMN IF EXISTS self_handled,
    DROP COLUMN IF EXISTS needs_location, DROP COLUMN IF EXISTS reported_standard,
    DROP COLUMN IF EXISTS reported_code, DROP COLUMN IF EXISTS camera_code,
    DROP COLUMN IF EXISTS duplicate_of, DROP COLUMN IF EXISTS step_started_at,
    DROP COLUMN IF EXISTS step_warn_at, DROP COLUMN IF EXISTS step_deadline_at,
    DROP COLUMN IF EXISTS postpone_pending, DROP COLUMN IF EXISTS urge_count,
    DROP COLUMN IF EXISTS supervise_count, DROP COLUMN IF EXISTS rework_count;
