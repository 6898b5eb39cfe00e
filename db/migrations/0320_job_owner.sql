-- Processes (processes/): each job belongs to the user who asked for it (作业归属). The job manager
-- records the request's user when it creates the job and shows a job, its status and its result
-- only to that user and to admins; for anybody else the job does not exist (404 like an unknown id).
-- NULL: made off-request (CLI, tests, workers) or by an anonymous caller — visible to admins only.
-- A username rather than a key to app_user: jobs are short-lived and the processes part stays
-- independent of the security tables; usernames are never reused (users are disabled, not deleted).
-- depends: 0302_position_rollup_month

ALTER TABLE process_job ADD COLUMN owner text;

-- "my jobs, newest first" (GET /ogc/jobs for a non-admin, ties by id for stable pages) reads one
-- index range
CREATE INDEX process_job_owner_created_idx ON process_job (owner, created DESC, identifier);
