-- A second level for the officer-position roll-up: counts per 50 m cell and local month, so a
-- heatmap over months reads whole months here, whole days from position_cell_day and only the
-- partial days at the ends of the window from the raw rows. Both levels are kept by the same
-- statement-level triggers.
-- depends: 0301_position_rollup_truncate

CREATE TABLE position_cell_month (
    month date    NOT NULL CHECK (extract(day FROM month) = 1),
    cx    integer NOT NULL,
    cy    integer NOT NULL,
    n     integer NOT NULL CHECK (n >= 0),
    PRIMARY KEY (month, cx, cy)
);

-- The fixes of a transition table as counts per local day and 50 m cell.
-- (Data-modifying CTEs below fold them into both levels in one statement, without temp tables,
-- so a live feed of small inserts does not churn the catalog.)

CREATE OR REPLACE FUNCTION cg_position_rollup_ins() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH delta AS (
        SELECT (s.recorded_at AT TIME ZONE 'Asia/Shanghai')::date AS day, floor(ST_X(s.p) / 50)::int AS cx,
               floor(ST_Y(s.p) / 50)::int AS cy, count(*)::int AS n
        FROM (SELECT recorded_at, ST_Transform(geom, 4548) AS p FROM new_rows) s
        GROUP BY 1, 2, 3
    ), days AS (
        INSERT INTO position_cell_day AS r (day, cx, cy, n)
        SELECT day, cx, cy, n FROM delta
        ON CONFLICT (day, cx, cy) DO UPDATE SET n = r.n + EXCLUDED.n
        RETURNING 1
    )
    INSERT INTO position_cell_month AS r (month, cx, cy, n)
    SELECT date_trunc('month', day)::date, cx, cy, sum(n) FROM delta GROUP BY 1, 2, 3
    ON CONFLICT (month, cx, cy) DO UPDATE SET n = r.n + EXCLUDED.n;
    RETURN NULL;
END $$;

-- Transition tables are visible only in the trigger function itself, hence the repetition.
CREATE OR REPLACE FUNCTION cg_position_rollup_del() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH delta AS (
        SELECT (s.recorded_at AT TIME ZONE 'Asia/Shanghai')::date AS day, floor(ST_X(s.p) / 50)::int AS cx,
               floor(ST_Y(s.p) / 50)::int AS cy, count(*)::int AS n
        FROM (SELECT recorded_at, ST_Transform(geom, 4548) AS p FROM old_rows) s
        GROUP BY 1, 2, 3
    ), days AS (
        UPDATE position_cell_day r SET n = r.n - d.n FROM delta d
        WHERE (r.day, r.cx, r.cy) = (d.day, d.cx, d.cy)
        RETURNING 1
    )
    UPDATE position_cell_month r SET n = r.n - d.n
    FROM (SELECT date_trunc('month', day)::date AS month, cx, cy, sum(n) AS n FROM delta GROUP BY 1, 2, 3) d
    WHERE (r.month, r.cx, r.cy) = (d.month, d.cx, d.cy);
    DELETE FROM position_cell_day
    WHERE n = 0 AND day IN (SELECT DISTINCT (recorded_at AT TIME ZONE 'Asia/Shanghai')::date FROM old_rows);
    DELETE FROM position_cell_month
    WHERE n = 0 AND month IN (SELECT DISTINCT date_trunc('month', recorded_at AT TIME ZONE 'Asia/Shanghai')::date FROM old_rows);
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION cg_position_rollup_upd() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- an update is the removal of the old rows plus the insertion of the new ones
    WITH delta AS (
        SELECT (s.recorded_at AT TIME ZONE 'Asia/Shanghai')::date AS day, floor(ST_X(s.p) / 50)::int AS cx,
               floor(ST_Y(s.p) / 50)::int AS cy, count(*)::int AS n
        FROM (SELECT recorded_at, ST_Transform(geom, 4548) AS p FROM old_rows) s
        GROUP BY 1, 2, 3
    ), days AS (
        UPDATE position_cell_day r SET n = r.n - d.n FROM delta d
        WHERE (r.day, r.cx, r.cy) = (d.day, d.cx, d.cy)
        RETURNING 1
    )
    UPDATE position_cell_month r SET n = r.n - d.n
    FROM (SELECT date_trunc('month', day)::date AS month, cx, cy, sum(n) AS n FROM delta GROUP BY 1, 2, 3) d
    WHERE (r.month, r.cx, r.cy) = (d.month, d.cx, d.cy);
    DELETE FROM position_cell_day
    WHERE n = 0 AND day IN (SELECT DISTINCT (recorded_at AT TIME ZONE 'Asia/Shanghai')::date FROM old_rows);
    DELETE FROM position_cell_month
    WHERE n = 0 AND month IN (SELECT DISTINCT date_trunc('month', recorded_at AT TIME ZONE 'Asia/Shanghai')::date FROM old_rows);
    WITH delta AS (
        SELECT (s.recorded_at AT TIME ZONE 'Asia/Shanghai')::date AS day, floor(ST_X(s.p) / 50)::int AS cx,
               floor(ST_Y(s.p) / 50)::int AS cy, count(*)::int AS n
        FROM (SELECT recorded_at, ST_Transform(geom, 4548) AS p FROM new_rows) s
        GROUP BY 1, 2, 3
    ), days AS (
        INSERT INTO position_cell_day AS r (day, cx, cy, n)
        SELECT day, cx, cy, n FROM delta
        ON CONFLICT (day, cx, cy) DO UPDATE SET n = r.n + EXCLUDED.n
        RETURNING 1
    )
    INSERT INTO position_cell_month AS r (month, cx, cy, n)
    SELECT date_trunc('month', day)::date, cx, cy, sum(n) FROM delta GROUP BY 1, 2, 3
    ON CONFLICT (month, cx, cy) DO UPDATE SET n = r.n + EXCLUDED.n;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION cg_position_rollup_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE position_cell_day, position_cell_month;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION refresh_position_rollup() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    written bigint;
BEGIN
    TRUNCATE position_cell_day, position_cell_month;
    INSERT INTO position_cell_day (day, cx, cy, n)
    SELECT (s.recorded_at AT TIME ZONE 'Asia/Shanghai')::date, floor(ST_X(s.p) / 50)::int, floor(ST_Y(s.p) / 50)::int, count(*)
    FROM (SELECT recorded_at, ST_Transform(geom, 4548) AS p FROM officer_position) s
    GROUP BY 1, 2, 3;
    GET DIAGNOSTICS written = ROW_COUNT;
    INSERT INTO position_cell_month (month, cx, cy, n)
    SELECT date_trunc('month', day)::date, cx, cy, sum(n) FROM position_cell_day GROUP BY 1, 2, 3;
    RETURN written;
END $$;

INSERT INTO position_cell_month (month, cx, cy, n)
SELECT date_trunc('month', day)::date, cx, cy, sum(n) FROM position_cell_day GROUP BY 1, 2, 3;
