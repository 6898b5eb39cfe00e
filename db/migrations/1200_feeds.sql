-- Feeds the district syncs (多网融合, issue 16 item 3): every collection it reads can be fetched
-- incrementally — items changed since a time (`updated_at`, `/ogc/collections/{id}/items?updated_since=`)
-- and the features deleted since then (`/ogc/collections/{id}/changes`, from feed_tombstone).
--
-- * feed_tombstone: one row per deleted feature, written by a statement-level trigger from the
--   statement's transition table (set-based: a survey rollback deleting 10,000 components is one
--   INSERT … SELECT). A key changed by an UPDATE counts as a deletion of the old key.
-- * updated_at on every feed table: communities and the town get the column; a BEFORE UPDATE trigger
--   moves it to at least now() on each of them, so a change made outside the application (psql, a
--   script) cannot escape the feed either. now() is the transaction's start: see feed_watermark().
-- * feed_watermark(): the time a client should pass as its next `since`. A change commits after its
--   updated_at (the transaction's start), so "since the time of my last request" would miss a write
--   that was in flight then; the oldest running transaction's start is safe.
-- depends: 0610_row_security 1000_district_outbox

CREATE TABLE feed_tombstone (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source      text NOT NULL,                  -- the table the row was deleted from
    feature_id  text NOT NULL,                  -- the feature id as the OGC API spells it
    deleted_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX feed_tombstone_source_idx ON feed_tombstone (source, deleted_at);

-- TG_ARGV[0] names the key column. Transition tables are readable from EXECUTE in plpgsql; the
-- format() arguments are the trigger's own constants, never user input.
CREATE FUNCTION cg_feed_tombstone() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        EXECUTE format('INSERT INTO feed_tombstone (source, feature_id) SELECT %L, o.%I::text FROM old_rows o',
                       TG_TABLE_NAME, TG_ARGV[0]);
    ELSE  -- UPDATE: keys that no longer exist afterwards
        EXECUTE format('INSERT INTO feed_tombstone (source, feature_id) SELECT %L, o.%I::text FROM old_rows o '
                       'WHERE NOT EXISTS (SELECT 1 FROM new_rows n WHERE n.%I = o.%I)',
                       TG_TABLE_NAME, TG_ARGV[0], TG_ARGV[0], TG_ARGV[0]);
    END IF;
    RETURN NULL;
END $$;

-- never earlier than the transaction's start (what the watermark relies on); a later time the
-- application gave (the case engine's clock) is kept
CREATE FUNCTION cg_touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := greatest(NEW.updated_at, now());
    RETURN NEW;
END $$;

ALTER TABLE community ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE town ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();

DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT * FROM (VALUES ('component', 'id'), ('unit_grid', 'code'), ('responsibility_grid', 'code'),
                                   ('community', 'code'), ('town', 'code'), ('poi', 'id'), ('cases', 'id')) v(tbl, key)
    LOOP
        EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON %I REFERENCING OLD TABLE AS old_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION cg_feed_tombstone(%L)', t.tbl || '_feed_del', t.tbl, t.key);
        EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %I REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION cg_feed_tombstone(%L)', t.tbl || '_feed_rekey', t.tbl, t.key);
        EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE ON %I FOR EACH ROW EXECUTE FUNCTION cg_touch_updated_at()',
                       t.tbl || '_feed_touch', t.tbl);
        EXECUTE format('CREATE INDEX %I ON %I (updated_at)', t.tbl || '_updated_at_idx', t.tbl);
    END LOOP;
END $$;

-- the public case layer carries its change time (appended: CREATE OR REPLACE keeps the columns before it)
CREATE OR REPLACE VIEW ogc_cases AS
SELECT c.id, c.case_number, c.channel, c.category_kind, c.category_code, c.urgency, c.state,
       c.is_closed, c.address, c.unit_grid_code, c.community_code, c.department_code,
       c.reported_at, c.deadline_at, c.closed_at, c.geom, c.updated_at
FROM cases c
WHERE (SELECT cg_public_grid_m()) IS NULL
UNION ALL
SELECT c.id, c.case_number, c.channel, c.category_kind, c.category_code, c.urgency, c.state,
       c.is_closed, NULL::text AS address, c.unit_grid_code, c.community_code, c.department_code,
       c.reported_at, c.deadline_at, c.closed_at, cg_public_point(c.geom, (SELECT cg_public_grid_m()))::geometry(Point, 4490),
       c.updated_at
FROM cases c
WHERE (SELECT cg_public_grid_m()) IS NOT NULL;

-- The next `since` of a feed client: the start of the oldest transaction still running (its writes,
-- stamped with that start, are not visible yet), else now(). Sessions of other roles show no
-- xact_start without pg_read_all_stats: with DATABASE_URL, give the application's role that grant.
CREATE FUNCTION feed_watermark() RETURNS timestamptz LANGUAGE sql STABLE AS $$
    SELECT least(now(), min(xact_start)) FROM pg_stat_activity
    WHERE datname = current_database() AND backend_type = 'client backend' AND xact_start IS NOT NULL
$$;
