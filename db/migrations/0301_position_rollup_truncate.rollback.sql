-- depends: 0300_processes
DROP TRIGGER IF EXISTS officer_position_rollup_truncate ON officer_position;
DROP FUNCTION IF EXISTS cg_position_rollup_truncate();
