-- Duty shifts (班次) and geofence alerts (电子围栏告警): an officer outside his responsibility grids
-- for longer than a set time during a shift raises one alert per excursion.
--
-- geofence_scan(minutes, tolerance_m, now, horizon) reads the fixes that arrived since the last
-- scan of each officer (geofence_state.scanned_to), cuts them into runs inside / outside the
-- officer's fence (the union of his responsibility grids, widened by tolerance_m against GPS
-- jitter) per shift instance, and carries the open excursion of each officer over from scan to
-- scan. An excursion is one geofence_alert row from its first outside fix; it is *raised* once it
-- has lasted `minutes` (last outside fix − first) and ends at the first fix back inside
-- ('returned') or at the end of its shift ('shift_end'). Excursions that end before they are
-- raised are dropped. At most one open excursion per officer (unique index), so scans are
-- idempotent and may run from several workers (one at a time, advisory lock).
-- Changes of raised alerts are announced on the channel `geofence_alert` (JSON: id, event,
-- officer_id); inserted positions on `officer_position`, so a worker can scan at once.
-- depends: 0700_case_sla_color

-- ---------------------------------------------------------------- shifts (班次)

-- The town's duty shifts, the same for every officer. Times are local (Asia/Shanghai, like the
-- position partitions); `ends` at or before `starts` runs past midnight.
CREATE TABLE duty_shift (
    code      text PRIMARY KEY CHECK (code ~ '^[a-z0-9_-]{1,30}$'),
    name      text NOT NULL,
    starts    time NOT NULL,
    ends      time NOT NULL,
    weekdays  smallint[] NOT NULL DEFAULT '{1,2,3,4,5,6,7}'
        CHECK (weekdays <@ '{1,2,3,4,5,6,7}'::smallint[] AND cardinality(weekdays) > 0),   -- ISO: 1 = Monday
    active    boolean NOT NULL DEFAULT true
);
-- the demo town's two shifts (demo/positions.py SHIFTS)
INSERT INTO duty_shift (code, name, starts, ends) VALUES
    ('am', '上午班', '08:00', '12:00'),
    ('pm', '下午班', '13:30', '18:00');

-- The shift instance covering `p_at` (none: off duty).
CREATE FUNCTION duty_shift_at(p_at timestamptz)
RETURNS TABLE (code text, name text, starts_at timestamptz, ends_at timestamptz)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT s.code, s.name, i.starts_at, i.ends_at
    FROM duty_shift s
    CROSS JOIN (VALUES ((p_at AT TIME ZONE 'Asia/Shanghai')::date), ((p_at AT TIME ZONE 'Asia/Shanghai')::date - 1)) d(day)
    CROSS JOIN LATERAL (
        SELECT (d.day + s.starts) AT TIME ZONE 'Asia/Shanghai' AS starts_at,
               (d.day + s.ends + CASE WHEN s.ends <= s.starts THEN interval '1 day' ELSE interval '0' END)
                   AT TIME ZONE 'Asia/Shanghai' AS ends_at) i
    WHERE s.active
      AND extract(isodow FROM d.day)::smallint = ANY (s.weekdays)
      AND p_at >= i.starts_at AND p_at < i.ends_at
    ORDER BY i.starts_at
    LIMIT 1
$$;

-- ---------------------------------------------------------------- alerts

CREATE TABLE geofence_end_reason (code text PRIMARY KEY, name text NOT NULL);
INSERT INTO geofence_end_reason VALUES ('returned', '已返回网格'), ('shift_end', '班次结束');

CREATE TABLE geofence_alert (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    officer_id      integer NOT NULL REFERENCES officer ON DELETE CASCADE,
    -- the officer's responsibility grid nearest to where he left it
    responsibility_grid_code text REFERENCES responsibility_grid ON DELETE SET NULL,
    shift_code      text REFERENCES duty_shift ON DELETE SET NULL,
    shift_start     timestamptz NOT NULL,
    shift_end       timestamptz NOT NULL,
    started_at      timestamptz NOT NULL,          -- first fix outside
    last_seen_at    timestamptz NOT NULL,          -- last fix outside so far
    raised_at       timestamptz,                   -- started_at + the set minutes; NULL: not (yet) an alert
    ended_at        timestamptz,                   -- first fix back inside, or the shift's end
    end_reason      text REFERENCES geofence_end_reason,
    max_distance_m  double precision NOT NULL,     -- farthest from the fence (EPSG:4548 metres)
    fixes           integer NOT NULL,
    geom            geometry(Point, 4490) NOT NULL,  -- the last fix outside
    acknowledged_by text,
    acknowledged_at timestamptz,
    ack_comment     text CHECK (length(ack_comment) <= 500),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((ended_at IS NULL) = (end_reason IS NULL)),
    CHECK (last_seen_at >= started_at)
);
CREATE UNIQUE INDEX geofence_alert_one_open ON geofence_alert (officer_id) WHERE ended_at IS NULL;
CREATE INDEX geofence_alert_started_idx ON geofence_alert (started_at DESC) WHERE raised_at IS NOT NULL;
CREATE INDEX geofence_alert_officer_idx ON geofence_alert (officer_id, started_at DESC);
CREATE INDEX geofence_alert_updated_idx ON geofence_alert (updated_at);

CREATE TABLE geofence_state (
    officer_id integer PRIMARY KEY REFERENCES officer ON DELETE CASCADE,
    scanned_to timestamptz NOT NULL      -- the newest fix of this officer a scan has read
);

CREATE FUNCTION geofence_alert_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ev text;
BEGIN
    IF NEW.raised_at IS NULL THEN
        RETURN NULL;
    ELSIF TG_OP = 'INSERT' OR OLD.raised_at IS NULL THEN
        ev := 'raised';
    ELSIF NEW.ended_at IS NOT NULL AND OLD.ended_at IS NULL THEN
        ev := 'ended';
    ELSIF NEW.acknowledged_at IS DISTINCT FROM OLD.acknowledged_at THEN
        ev := 'acknowledged';
    ELSE
        ev := 'updated';
    END IF;
    PERFORM pg_notify('geofence_alert', json_build_object('id', NEW.id, 'event', ev, 'officer_id', NEW.officer_id)::text);
    RETURN NULL;
END $$;
CREATE TRIGGER geofence_alert_notify AFTER INSERT OR UPDATE ON geofence_alert
    FOR EACH ROW EXECUTE FUNCTION geofence_alert_changed();

CREATE FUNCTION geofence_alert_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END $$;
CREATE TRIGGER geofence_alert_touch BEFORE UPDATE ON geofence_alert
    FOR EACH ROW EXECUTE FUNCTION geofence_alert_touch();

-- New fixes wake the scanning worker (one notification per statement, however many rows).
CREATE FUNCTION officer_position_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('officer_position', '');
    RETURN NULL;
END $$;
CREATE TRIGGER officer_position_notify AFTER INSERT ON officer_position
    FOR EACH STATEMENT EXECUTE FUNCTION officer_position_inserted();

-- ---------------------------------------------------------------- the scan

-- p_wait: wait for a running scan to finish instead of skipping (tests, the command line).
CREATE FUNCTION geofence_scan(p_minutes double precision, p_tolerance_m double precision,
                              p_now timestamptz DEFAULT now(), p_horizon interval DEFAULT interval '12 hours',
                              p_wait boolean DEFAULT false)
RETURNS TABLE (fixes integer, raised integer, ended integer)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    thr interval := make_interval(secs => p_minutes * 60);
    max_id bigint;
    n_fixes integer;
BEGIN
    IF p_wait THEN
        PERFORM pg_advisory_xact_lock(hashtext('geofence_scan'));
    ELSIF NOT pg_try_advisory_xact_lock(hashtext('geofence_scan')) THEN
        RETURN QUERY SELECT 0, 0, 0;     -- another worker is scanning right now
        RETURN;
    END IF;
    SELECT coalesce(max(a.id), 0) INTO max_id FROM geofence_alert a;
    CREATE TEMP TABLE gf_before ON COMMIT DROP AS
        SELECT a.id, a.raised_at IS NOT NULL AS was_raised FROM geofence_alert a WHERE a.ended_at IS NULL;

    -- new fixes of officers with a fence, with their distance to it and their shift instance
    CREATE TEMP TABLE gf_fix ON COMMIT DROP AS
    WITH fenced AS (
        SELECT DISTINCT rg.officer_id FROM responsibility_grid rg WHERE rg.officer_id IS NOT NULL AND rg.geom IS NOT NULL
    ), fresh AS MATERIALIZED (
        -- per officer, one probe of the primary key; at most a day of fixes per scan (the rest
        -- follows in the next one), which keeps every scan short
        SELECT p.officer_id, p.recorded_at, p.geom
        FROM fenced o
        LEFT JOIN geofence_state s ON s.officer_id = o.officer_id
        CROSS JOIN LATERAL (
            SELECT q.officer_id, q.recorded_at, q.geom FROM officer_position q
            WHERE q.officer_id = o.officer_id AND q.recorded_at <= p_now
              AND q.recorded_at > greatest(s.scanned_to, p_now - p_horizon)
            ORDER BY q.recorded_at
            LIMIT 2880) p
    ), fence AS MATERIALIZED (     -- only for the officers with new fixes: most scans find few
        SELECT rg.officer_id, ST_Transform(ST_Union(rg.geom), 4548) AS g
        FROM responsibility_grid rg WHERE rg.officer_id IN (SELECT DISTINCT officer_id FROM fresh) AND rg.geom IS NOT NULL
        GROUP BY rg.officer_id
    )
    SELECT p.officer_id, p.recorded_at, p.geom, sh.code AS shift_code, sh.starts_at AS shift_start,
           sh.ends_at AS shift_end, ST_Distance(f.g, ST_Transform(p.geom, 4548)) AS dist
    FROM fresh p
    JOIN fence f ON f.officer_id = p.officer_id
    LEFT JOIN LATERAL duty_shift_at(p.recorded_at) sh ON true;
    GET DIAGNOSTICS n_fixes = ROW_COUNT;

    -- runs of consecutive in-shift fixes on one side of the fence within one shift instance
    CREATE TEMP TABLE gf_run ON COMMIT DROP AS
    WITH f AS (
        SELECT x.*, x.dist > p_tolerance_m AS outside FROM gf_fix x WHERE x.shift_start IS NOT NULL
    ), marked AS (
        SELECT f.*, CASE WHEN lag(f.outside) OVER w IS DISTINCT FROM f.outside
                          OR lag(f.shift_start) OVER w IS DISTINCT FROM f.shift_start THEN 1 ELSE 0 END AS brk
        FROM f WINDOW w AS (PARTITION BY f.officer_id ORDER BY f.recorded_at)
    ), numbered AS (
        SELECT m.*, sum(m.brk) OVER (PARTITION BY m.officer_id ORDER BY m.recorded_at) AS run_no FROM marked m
    ), runs AS (
        SELECT n.officer_id, n.run_no, bool_and(n.outside) AS outside, min(n.shift_code) AS shift_code,
               min(n.shift_start) AS shift_start, min(n.shift_end) AS shift_end,
               min(n.recorded_at) AS first_at, max(n.recorded_at) AS last_at, max(n.dist) AS max_m, count(*)::int AS n,
               (array_agg(n.geom ORDER BY n.recorded_at DESC))[1] AS last_geom,
               (array_agg(n.geom ORDER BY n.recorded_at))[1] AS first_geom
        FROM numbered n GROUP BY n.officer_id, n.run_no
    ), linked AS (
        SELECT r.*, lead(r.first_at) OVER w AS next_at, lead(r.shift_start) OVER w AS next_shift
        FROM runs r WINDOW w AS (PARTITION BY r.officer_id ORDER BY r.run_no)
    )
    SELECT l.*,
           CASE WHEN l.next_at IS NOT NULL AND l.next_shift = l.shift_start THEN l.next_at
                WHEN l.next_at IS NOT NULL OR p_now >= l.shift_end THEN l.shift_end END AS ends_at,
           CASE WHEN l.next_at IS NOT NULL AND l.next_shift = l.shift_start THEN 'returned'
                WHEN l.next_at IS NOT NULL OR p_now >= l.shift_end THEN 'shift_end' END AS end_reason,
           a.id AS merge_id
    FROM linked l
    LEFT JOIN geofence_alert a ON a.ended_at IS NULL AND a.officer_id = l.officer_id AND l.run_no = 1
                              AND l.outside AND a.shift_start = l.shift_start;

    -- open excursions that do not go on: back inside in the same shift, or the shift is over
    UPDATE geofence_alert a SET ended_at = e.ends_at, end_reason = e.reason
    FROM (
        SELECT o.id,
               CASE WHEN r.shift_start = o.shift_start THEN r.first_at ELSE o.shift_end END AS ends_at,
               CASE WHEN r.shift_start = o.shift_start THEN 'returned' ELSE 'shift_end' END AS reason
        FROM geofence_alert o JOIN gf_run r ON r.officer_id = o.officer_id AND r.run_no = 1 AND r.merge_id IS NULL
        WHERE o.ended_at IS NULL
        UNION ALL
        SELECT o.id, o.shift_end, 'shift_end'
        FROM geofence_alert o
        WHERE o.ended_at IS NULL AND p_now >= o.shift_end
          AND NOT EXISTS (SELECT 1 FROM gf_run r WHERE r.officer_id = o.officer_id)
    ) e
    WHERE a.id = e.id;

    -- open excursions that go on
    UPDATE geofence_alert a
    SET last_seen_at = r.last_at, max_distance_m = greatest(a.max_distance_m, r.max_m), fixes = a.fixes + r.n,
        geom = r.last_geom, ended_at = r.ends_at, end_reason = r.end_reason,
        raised_at = coalesce(a.raised_at, CASE WHEN r.last_at - a.started_at >= thr THEN a.started_at + thr END)
    FROM gf_run r
    WHERE r.merge_id = a.id;

    -- new excursions: still open, or long enough to have been raised
    INSERT INTO geofence_alert (officer_id, responsibility_grid_code, shift_code, shift_start, shift_end, started_at,
                                last_seen_at, raised_at, ended_at, end_reason, max_distance_m, fixes, geom)
    SELECT r.officer_id,
           (SELECT rg.code FROM responsibility_grid rg WHERE rg.officer_id = r.officer_id AND rg.geom IS NOT NULL
            ORDER BY rg.geom <-> r.first_geom LIMIT 1),
           r.shift_code, r.shift_start, r.shift_end, r.first_at, r.last_at,
           CASE WHEN r.last_at - r.first_at >= thr THEN r.first_at + thr END,
           r.ends_at, r.end_reason, r.max_m, r.n, r.last_geom
    FROM gf_run r
    WHERE r.outside AND r.merge_id IS NULL AND (r.ends_at IS NULL OR r.last_at - r.first_at >= thr)
    ORDER BY r.officer_id, r.run_no;

    -- excursions that ended before they lasted long enough were never alerts
    DELETE FROM geofence_alert a WHERE a.raised_at IS NULL AND a.ended_at IS NOT NULL;

    INSERT INTO geofence_state AS s (officer_id, scanned_to)
    SELECT x.officer_id, max(x.recorded_at) FROM gf_fix x GROUP BY x.officer_id
    ON CONFLICT (officer_id) DO UPDATE SET scanned_to = greatest(s.scanned_to, EXCLUDED.scanned_to);

    RETURN QUERY
    SELECT n_fixes,
           count(*) FILTER (WHERE a.id > max_id OR NOT b.was_raised)::int,
           count(*) FILTER (WHERE a.ended_at IS NOT NULL)::int
    FROM geofence_alert a LEFT JOIN gf_before b ON b.id = a.id
    WHERE a.raised_at IS NOT NULL AND (a.id > max_id OR b.id IS NOT NULL);
END $$;

-- ---------------------------------------------------------------- row security

-- As for positions: the command center and leaders; a grid officer his own alerts. The web only
-- acknowledges (the scan runs as the owner).
ALTER TABLE geofence_alert ENABLE ROW LEVEL SECURITY;
CREATE POLICY geofence_alert_select ON geofence_alert FOR SELECT TO civicgrid_web USING (
    (SELECT cg_sees_all_positions())
    OR ((SELECT cg_has_role('grid_officer')) AND officer_id = (SELECT cg_officer_id()))
);
CREATE POLICY geofence_alert_ack ON geofence_alert FOR UPDATE TO civicgrid_web
    USING ((SELECT cg_sees_all_positions())) WITH CHECK ((SELECT cg_sees_all_positions()));
REVOKE ALL ON geofence_alert, geofence_state FROM civicgrid_web;
GRANT SELECT ON geofence_alert TO civicgrid_web;
GRANT UPDATE (acknowledged_by, acknowledged_at, ack_comment) ON geofence_alert TO civicgrid_web;
REVOKE INSERT, UPDATE, DELETE ON duty_shift, geofence_end_reason FROM civicgrid_web;
