-- Feeds (issue 16, what 1200 left out): tombstones are kept for a retention period only, and the
-- typed component collections get a tombstone when a component leaves them by changing geometry kind.
--
-- * feed_prune(keep): deletes the tombstones older than now() - keep (one set-based DELETE) and
--   moves feed_horizon to that cut. A client whose `since` is older than the horizon may have missed
--   deletions: /changes answers it 410 Gone (a full re-sync), never a silently short list.
-- * cg_feed_component_kind(): a statement trigger on component UPDATE, from the transition tables
--   like cg_feed_tombstone: a component whose geometry dimension changed (point → line, …) leaves
--   the view of its old kind (ogc_component_points/-lines/-polygons, migration 1231); that view's
--   feed gets a tombstone under the view's own name (layers/feeds.py reads both sources).
-- depends: 1200_feeds 1231_component_typed_views

CREATE TABLE feed_horizon (
    only_row       boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    pruned_before  timestamptz NOT NULL        -- tombstones deleted before this may be gone
);

CREATE INDEX feed_tombstone_deleted_at_idx ON feed_tombstone (deleted_at);

-- what was removed, per source (no row: nothing was); the horizon never moves back
CREATE FUNCTION feed_prune(keep interval) RETURNS TABLE (source text, removed bigint)
LANGUAGE sql AS $$
    WITH cut AS (SELECT now() - greatest(keep, interval '0') AS at),
    gone AS (DELETE FROM feed_tombstone t USING cut WHERE t.deleted_at < cut.at RETURNING t.source),
    mark AS (INSERT INTO feed_horizon (pruned_before) SELECT at FROM cut
             ON CONFLICT (only_row) DO UPDATE SET pruned_before = greatest(feed_horizon.pruned_before,
                                                                          EXCLUDED.pruned_before))
    SELECT g.source, count(*) FROM gone g GROUP BY g.source ORDER BY g.source
$$;

CREATE FUNCTION cg_feed_component_kind() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO feed_tombstone (source, feature_id)
    SELECT CASE ST_Dimension(o.geom) WHEN 0 THEN 'ogc_component_points' WHEN 1 THEN 'ogc_component_lines'
                                     ELSE 'ogc_component_polygons' END, o.id::text
    FROM old_rows o JOIN new_rows n ON n.id = o.id
    WHERE ST_Dimension(o.geom) BETWEEN 0 AND 2
      AND ST_Dimension(o.geom) IS DISTINCT FROM ST_Dimension(n.geom);
    RETURN NULL;
END $$;

CREATE TRIGGER component_feed_kind AFTER UPDATE ON component
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cg_feed_component_kind();
