-- depends: 0320_job_owner
ALTER TABLE process_job DROP COLUMN IF EXISTS response;
