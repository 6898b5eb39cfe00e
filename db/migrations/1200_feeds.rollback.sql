DROP FUNCTION IF EXISTS feed_watermark();
-- a view loses a column only by being made again (its grant with it)
DROP VIEW ogc_cases;
CREATE VIEW ogc_cases AS
SELECT c.id, c.case_number, c.channel, c.category_kind, c.category_code, c.urgency, c.state,
       c.is_closed, c.address, c.unit_grid_code, c.community_code, c.department_code,
       c.reported_at, c.deadline_at, c.closed_at, c.geom
FROM cases c
WHERE (SELECT cg_public_grid_m()) IS NULL
UNION ALL
SELECT c.id, c.case_number, c.channel, c.category_kind, c.category_code, c.urgency, c.state,
       c.is_closed, NULL::text AS address, c.unit_grid_code, c.community_code, c.department_code,
       c.reported_at, c.deadline_at, c.closed_at, cg_public_point(c.geom, (SELECT cg_public_grid_m()))::geometry(Point, 4490)
FROM cases c
WHERE (SELECT cg_public_grid_m()) IS NOT NULL;
GRANT SELECT ON ogc_cases TO civicgrid_web;
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['component', 'unit_grid', 'responsibility_grid', 'community', 'town', 'poi', 'cases'] LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS %I ON %I', t || '_feed_del', t);
        EXECUTE format('DROP TRIGGER IF EXISTS %I ON %I', t || '_feed_rekey', t);
        EXECUTE format('DROP TRIGGER IF EXISTS %I ON %I', t || '_feed_touch', t);
        EXECUTE format('DROP INDEX IF EXISTS %I', t || '_updated_at_idx');
    END LOOP;
END $$;
ALTER TABLE town DROP COLUMN IF EXISTS updated_at;
ALTER TABLE community DROP COLUMN IF EXISTS updated_at;
DROP FUNCTION IF EXISTS cg_touch_updated_at();
DROP FUNCTION IF EXISTS cg_feed_tombstone();
DROP TABLE IF EXISTS feed_tombstone;
