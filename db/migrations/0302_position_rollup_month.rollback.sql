-- depends: 0301_position_rollup_truncate
CREATE OR REPLACE FUNCTION cg_position_rollup_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE position_cell_day;
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION cg_position_rollup_ins() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO position_cell_day AS r (day, cx, cy, n)
    SELECT (s.recorded_at AT TIME ZONE 'Asia/Shanghai')::date, floor(ST_X(s.p) / 50)::int, floor(ST_Y(s.p) / 50)::int, count(*)
    FROM (SELECT recorded_at, ST_Transform(geom, 4548) AS p FROM new_rows) s
    GROUP BY 1, 2, 3
    ON CONFLICT (day, cx, cy) DO UPDATE SET n = r.n + EXCLUDED.n;
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION cg_position_rollup_del() RETURNS trigger LANGUAGE plpgsql AS $$
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
CREATE OR REPLACE FUNCTION cg_position_rollup_upd() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
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
CREATE OR REPLACE FUNCTION refresh_position_rollup() RETURNS bigint LANGUAGE plpgsql AS $$
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
DROP TABLE IF EXISTS position_cell_month;
