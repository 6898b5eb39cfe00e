-- A TRUNCATE of officer_position (the demo loader reloads with TRUNCATE … CASCADE) fires no
-- row or DELETE trigger: empty the roll-up too, so it never counts fixes that are gone.
-- depends: 0300_processes

CREATE FUNCTION cg_position_rollup_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE position_cell_day;
    RETURN NULL;
END $$;

CREATE TRIGGER officer_position_rollup_truncate AFTER TRUNCATE ON officer_position
    FOR EACH STATEMENT EXECUTE FUNCTION cg_position_rollup_truncate();
