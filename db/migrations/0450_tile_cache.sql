-- Vector tile cache (layers/tiles.py) and its invalidation.
--
-- A cached tile remembers its envelope (EPSG:3857, widened by a margin that covers the MVT
-- buffer and low-zoom point aggregation); a statement-level trigger on each source table deletes
-- the cached tiles of the layers it feeds whose envelope meets the extent of the changed rows.
-- Each layer also has a version that every change bumps: a tile rendered from a snapshot older
-- than a concurrent write is not stored (see tile_cache_put), so no stale tile outlives a commit.
-- depends: 0002_code_catalogs

CREATE TABLE tile_layer_version (
    layer      text PRIMARY KEY,
    version    bigint NOT NULL DEFAULT 0,
    changed_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tile_cache (
    layer      text NOT NULL,
    z          smallint NOT NULL CHECK (z BETWEEN 0 AND 24),
    x          integer NOT NULL CHECK (x >= 0),
    y          integer NOT NULL CHECK (y >= 0),
    bounds     geometry(Polygon, 3857) NOT NULL,
    data       bytea NOT NULL,             -- empty when the tile has no feature
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (layer, z, x, y)
);
CREATE INDEX tile_cache_bounds_idx ON tile_cache USING gist (bounds);

-- Store a rendered tile unless the layer changed since `seen_version` was read. FOR SHARE waits
-- for a writer that holds the version row (it bumps it before its commit), then sees its bump.
CREATE FUNCTION tile_cache_put(p_layer text, p_z integer, p_x integer, p_y integer,
                               p_margin double precision, seen_version bigint, p_data bytea)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    current_version bigint;
BEGIN
    SELECT version INTO current_version FROM tile_layer_version WHERE layer = p_layer FOR SHARE;
    IF coalesce(current_version, 0) <> seen_version THEN
        RETURN false;
    END IF;
    INSERT INTO tile_cache (layer, z, x, y, bounds, data)
    VALUES (p_layer, p_z, p_x, p_y, ST_TileEnvelope(p_z, p_x, p_y, margin => p_margin), p_data)
    ON CONFLICT (layer, z, x, y) DO UPDATE SET bounds = EXCLUDED.bounds, data = EXCLUDED.data,
        created_at = now();
    RETURN true;
END $$;

-- Statement-level invalidation. TG_ARGV: the layers fed by this table. The changed rows come in
-- the transition tables new_rows / old_rows (whichever the trigger declares).
CREATE FUNCTION tile_cache_invalidate() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    layers text[] := TG_ARGV;
    changed geometry;
    part geometry;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM tile_cache WHERE layer = ANY (layers);
    ELSE
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            EXECUTE 'SELECT ST_Extent(geom)::geometry FROM new_rows' INTO part;
            changed := part;
        END IF;
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            EXECUTE 'SELECT ST_Extent(geom)::geometry FROM old_rows' INTO part;
            changed := CASE WHEN changed IS NULL THEN part
                            WHEN part IS NULL THEN changed
                            ELSE ST_Envelope(ST_Collect(changed, part)) END;
        END IF;
        IF changed IS NULL THEN
            RETURN NULL;   -- no row changed
        END IF;
        -- a degenerate (point) extent still meets the tiles around it; Web Mercator stops at ±85.05°
        changed := ST_Transform(ST_SetSRID(ST_Envelope(ST_Collect(
            ST_MakePoint(greatest(ST_XMin(changed), -180), greatest(ST_YMin(changed), -85.0511)),
            ST_MakePoint(least(ST_XMax(changed), 180), least(ST_YMax(changed), 85.0511)))), 4326), 3857);
        DELETE FROM tile_cache WHERE layer = ANY (layers) AND bounds && changed;
    END IF;
    INSERT INTO tile_layer_version AS v (layer, version, changed_at)
    SELECT l, 1, now() FROM unnest(layers) AS l
    ON CONFLICT (layer) DO UPDATE SET version = v.version + 1, changed_at = now();
    RETURN NULL;
END $$;

-- Attach the invalidation triggers to a table that feeds `layers` (idempotent). Used here for the
-- foundation tables and at run time for optional sources such as the demo roads.
CREATE FUNCTION tile_cache_watch(tbl regclass, layers text[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    args text := array_to_string(ARRAY(SELECT quote_literal(l) FROM unnest(layers) AS l), ', ');
    name text := 'tile_cache_' || replace(replace(tbl::text, '.', '_'), '"', '');
BEGIN
    IF EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = tbl AND tgname = name || '_ins') THEN
        RETURN;
    END IF;
    EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %s REFERENCING NEW TABLE AS new_rows '
                   'FOR EACH STATEMENT EXECUTE FUNCTION tile_cache_invalidate(%s)', name || '_ins', tbl, args);
    EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %s REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows '
                   'FOR EACH STATEMENT EXECUTE FUNCTION tile_cache_invalidate(%s)', name || '_upd', tbl, args);
    EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON %s REFERENCING OLD TABLE AS old_rows '
                   'FOR EACH STATEMENT EXECUTE FUNCTION tile_cache_invalidate(%s)', name || '_del', tbl, args);
    EXECUTE format('CREATE TRIGGER %I AFTER TRUNCATE ON %s '
                   'FOR EACH STATEMENT EXECUTE FUNCTION tile_cache_invalidate(%s)', name || '_trunc', tbl, args);
END $$;

-- PERFORM inside DO: a bare SELECT would print its empty result during `civicgrid db migrate`.
-- demo_road (migration 0500) is watched at run time by layers/tiles.py when the basemap is first served.
DO $$
BEGIN
    PERFORM tile_cache_watch('component', ARRAY['urban-components']);
    PERFORM tile_cache_watch('cases', ARRAY['cases']);
    PERFORM tile_cache_watch('unit_grid', ARRAY['unit-grids', 'basemap']);
    PERFORM tile_cache_watch('poi', ARRAY['pois']);
    PERFORM tile_cache_watch('community', ARRAY['basemap']);
    PERFORM tile_cache_watch('town', ARRAY['basemap']);
END $$;
