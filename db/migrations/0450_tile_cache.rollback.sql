-- depends: 0002_code_catalogs
DO $$
DECLARE t record;
BEGIN
    FOR t IN SELECT tgname, tgrelid::regclass AS tbl FROM pg_trigger WHERE tgname LIKE 'tile_cache_%' LOOP
        EXECUTE format('DROP TRIGGER %I ON %s', t.tgname, t.tbl);
    END LOOP;
END $$;
DROP FUNCTION tile_cache_watch(regclass, text[]);
DROP FUNCTION tile_cache_invalidate();
DROP FUNCTION tile_cache_put(text, integer, integer, integer, double precision, bigint, bytea);
DROP TABLE tile_cache;
DROP TABLE tile_layer_version;
