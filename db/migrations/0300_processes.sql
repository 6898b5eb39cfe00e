-- Processes (processes/): the PostgreSQL job store of the OGC API Processes job manager, and the
-- incremental roll-up of officer positions per 50 m cell (EPSG:4548) and day that makes the
-- position heatmap independent of the number of raw fixes.
-- depends: 0002_code_catalogs

-- One row per OGC API Processes job. Status, parameters and the result live here (not on a
-- worker's disk), so they survive a server restart and any worker can answer for any job.
CREATE TABLE process_job (
    identifier  text PRIMARY KEY,
    process_id  text NOT NULL,
    type        text NOT NULL DEFAULT 'process',
    status      text NOT NULL CHECK (status IN ('accepted', 'running', 'successful', 'failed', 'dismissed')),
    message     text,
    progress    smallint NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    parameters  jsonb NOT NULL DEFAULT '{}'::jsonb,
    created     timestamptz NOT NULL DEFAULT now(),
    started     timestamptz,
    finished    timestamptz,
    updated     timestamptz NOT NULL DEFAULT now(),
    mimetype    text,
    result      bytea,
    -- who runs it: host and pid of the runner process, and its database backend (to cancel a query)
    runner_host text,
    runner_pid  integer,
    backend_pid integer
);
CREATE INDEX process_job_created_idx ON process_job (created DESC);
CREATE INDEX process_job_status_idx ON process_job (status) WHERE status IN ('accepted', 'running');

-- Officer positions counted per 50 m square of EPSG:4548 (cx = floor(x / 50), cy = floor(y / 50))
-- and local day (Asia/Shanghai). Kept by statement-level triggers on officer_position, so bulk
-- loads (COPY) pay one grouped upsert per statement. Heatmaps whose cell is a multiple of 50 m
-- read whole days from here and only the partial days at the ends of a window from the raw rows.
CREATE TABLE position_cell_day (
    day date    NOT NULL,
    cx  integer NOT NULL,
    cy  integer NOT NULL,
    n   integer NOT NULL CHECK (n >= 0),
    PRIMARY KEY (day, cx, cy)
);

CREATE FUNCTION cg_position_rollup_ins() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO position_cell_day AS r (day, cx, cy, n)
    SELECT (s.recorded_at AT TIME ZONE 'Asia/Shanghai')::date, floor(ST_X(s.p) / 50)::int, floor(ST_Y(s.p) / 50)::int, count(*)
    FROM (SELECT recorded_at, ST_Transform(geom, 4548) AS p FROM new_rows) s
    GROUP BY 1, 2, 3
    ON CONFLICT (day, cx, cy) DO UPDATE SET n = r.n + EXCLUDED.n;
    RETURN NULL;
END $$;

CREATE FUNCTION cg_position_rollup_del() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE position_cell_day r SET n = r.n - d.n
    FROM (SELECT (s.recorded_at AT TIME ZONE 'Asia/Shanghai')::date AS day, floor(ST_X(s.p) / 50)::int AS cx,
                 floor(ST_Y(s.p) / 50)::int AS cy, count(*) AS n
          FROM (SELECT recorded_at, ST_Transform(geom, 4548) AS p FROM old_rows) s
          GROUP BY 1, 2, 3) d
    WHERE (r.day, r.cx, r.cy) = (d.day, d.cx, d.cy);
    DELETE FROM position_cell_day WHERE n = 0;
    RETURN NULL;
END $$;

CREATE FUNCTION cg_position_rollup_upd() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- an update is a delete of the old rows plus an insert of the new ones
    UPDATE position_cell_day r SET n = r.n - d.n
    FROM (SELECT (s.recorded_at AT TIME ZONE 'Asia/Shanghai')::date AS day, floor(ST_X(s.p) / 50)::int AS cx,
                 floor(ST_Y(s.p) / 50)::int AS cy, count(*) AS n
          FROM (SELECT recorded_at, ST_Transform(geom, 4548) AS p FROM old_rows) s
          GROUP BY 1, 2, 3) d
    WHERE (r.day, r.cx, r.cy) = (d.day, d.cx, d.cy);
    INSERT INTO position_cell_day AS r (day, cx, cy, n)
    SELECT (s.recorded_at AT TIME ZONE 'Asia/Shanghai')::date, floor(ST_X(s.p) / 50)::int, floor(ST_Y(s.p) / 50)::int, count(*)
    FROM (SELECT recorded_at, ST_Transform(geom, 4548) AS p FROM new_rows) s
    GROUP BY 1, 2, 3
    ON CONFLICT (day, cx, cy) DO UPDATE SET n = r.n + EXCLUDED.n;
    DELETE FROM position_cell_day WHERE n = 0;
    RETURN NULL;
END $$;

CREATE TRIGGER officer_position_rollup_ins AFTER INSERT ON officer_position
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cg_position_rollup_ins();
CREATE TRIGGER officer_position_rollup_del AFTER DELETE ON officer_position
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION cg_position_rollup_del();
CREATE TRIGGER officer_position_rollup_upd AFTER UPDATE ON officer_position
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cg_position_rollup_upd();

-- Rebuild the roll-up from the raw rows (after a load that bypassed triggers, or to check it).
CREATE FUNCTION refresh_position_rollup() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    written bigint;
BEGIN
    TRUNCATE position_cell_day;
    INSERT INTO position_cell_day (day, cx, cy, n)
    SELECT (s.recorded_at AT TIME ZONE 'Asia/Shanghai')::date, floor(ST_X(s.p) / 50)::int, floor(ST_Y(s.p) / 50)::int, count(*)
    FROM (SELECT recorded_at, ST_Transform(geom, 4548) AS p FROM officer_position) s
    GROUP BY 1, 2, 3;
    GET DIAGNOSTICS written = ROW_COUNT;
    RETURN written;
END $$;

-- Case events are read by action and time window for the evaluation.
CREATE INDEX IF NOT EXISTS case_event_case_action_idx ON case_event (case_id, action, at);
