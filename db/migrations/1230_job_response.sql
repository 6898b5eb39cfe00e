-- Processes (processes/jobs.py): how a job's results are answered, per OGC API - Processes 1.0:
-- 'raw' (the output's value with its own media type) or 'document' (the results document
-- {"<output id>": {"mediaType": …, "value": …}}). Asked for in the execute request (`response`,
-- default raw) and kept with the job so GET /jobs/{id}/results answers the way the request asked.
-- depends: 0320_job_owner

ALTER TABLE process_job ADD COLUMN response text NOT NULL DEFAULT 'raw'
    CONSTRAINT process_job_response_check CHECK (response IN ('raw', 'document'));
