-- depends: 0002_code_catalogs
DROP INDEX IF EXISTS case_event_case_action_idx;
DROP FUNCTION IF EXISTS refresh_position_rollup();
DROP TRIGGER IF EXISTS officer_position_rollup_ins ON officer_position;
DROP TRIGGER IF EXISTS officer_position_rollup_del ON officer_position;
DROP TRIGGER IF EXISTS officer_position_rollup_upd ON officer_position;
DROP FUNCTION IF EXISTS cg_position_rollup_ins();
DROP FUNCTION IF EXISTS cg_position_rollup_del();
DROP FUNCTION IF EXISTS cg_position_rollup_upd();
DROP TABLE IF EXISTS position_cell_day;
DROP TABLE IF EXISTS process_job;
