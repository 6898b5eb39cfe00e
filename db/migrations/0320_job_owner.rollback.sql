-- depends: 0302_position_rollup_month
DROP INDEX IF EXISTS process_job_owner_created_idx;
ALTER TABLE process_job DROP COLUMN IF EXISTS owner;
