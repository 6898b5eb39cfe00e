DROP TRIGGER IF EXISTS component_feed_kind ON component;
DROP FUNCTION IF EXISTS cg_feed_component_kind();
DROP FUNCTION IF EXISTS feed_prune(interval);
DROP INDEX IF EXISTS feed_tombstone_deleted_at_idx;
DROP TABLE IF EXISTS feed_horizon;
DELETE FROM feed_tombstone WHERE source LIKE 'ogc_component_%';
