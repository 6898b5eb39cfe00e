-- OGC API publication (layers/): public views for collections that are not plain tables, and
-- history for grids and POIs edited through OGC API Features Part 4 (components have theirs).
-- depends: 0002_code_catalogs

-- Last known position per officer (网格员最新位置). A lateral lookup per officer uses the
-- (officer_id, recorded_at) primary key of every partition instead of sorting all positions.
CREATE VIEW ogc_officer_latest AS
SELECT o.id AS officer_id, o.code AS officer_code, o.name AS officer_name, o.active,
       p.recorded_at, p.accuracy_m, p.speed_mps, p.geom
FROM officer o
CROSS JOIN LATERAL (
    SELECT pos.recorded_at, pos.accuracy_m, pos.speed_mps, pos.geom
    FROM officer_position pos
    WHERE pos.officer_id = o.id
    ORDER BY pos.recorded_at DESC
    LIMIT 1
) p;

-- Cases as the public may see them: never the reporter's identity (reporter_name, reporter_phone,
-- reporter_officer_id) nor free text that may carry it (description) or external ids.
CREATE VIEW ogc_cases AS
SELECT c.id, c.case_number, c.channel, c.category_kind, c.category_code, c.urgency, c.state,
       c.is_closed, c.address, c.unit_grid_code, c.community_code, c.department_code,
       c.reported_at, c.deadline_at, c.closed_at, c.geom
FROM cases c;

-- History of unit grids, responsibility grids and POIs: one row per changed row and statement.
CREATE TABLE feature_history (
    history_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    table_name   text NOT NULL,
    feature_id   text NOT NULL,
    operation    text NOT NULL CHECK (operation IN ('insert', 'update', 'delete')),
    version      integer NOT NULL,
    changed_at   timestamptz NOT NULL DEFAULT now(),
    changed_by   text NOT NULL DEFAULT cg_actor(),
    old_row      jsonb,
    new_row      jsonb
);
CREATE INDEX feature_history_feature_idx ON feature_history (table_name, feature_id, history_id);

-- TG_ARGV[0] names the key column of the table.
CREATE FUNCTION cg_feature_history() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO feature_history (table_name, feature_id, operation, version, new_row)
        SELECT TG_TABLE_NAME, to_jsonb(n) ->> TG_ARGV[0], 'insert', (to_jsonb(n) ->> 'version')::int, to_jsonb(n)
        FROM new_rows n;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO feature_history (table_name, feature_id, operation, version, old_row, new_row)
        SELECT TG_TABLE_NAME, n.k, 'update', (n.j ->> 'version')::int, o.j, n.j
        FROM (SELECT to_jsonb(x) ->> TG_ARGV[0] AS k, to_jsonb(x) AS j FROM new_rows x) n
        JOIN (SELECT to_jsonb(x) ->> TG_ARGV[0] AS k, to_jsonb(x) AS j FROM old_rows x) o USING (k);
    ELSE
        INSERT INTO feature_history (table_name, feature_id, operation, version, old_row)
        SELECT TG_TABLE_NAME, to_jsonb(o) ->> TG_ARGV[0], 'delete', (to_jsonb(o) ->> 'version')::int, to_jsonb(o)
        FROM old_rows o;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER unit_grid_history_ins AFTER INSERT ON unit_grid
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cg_feature_history('code');
CREATE TRIGGER unit_grid_history_upd AFTER UPDATE ON unit_grid
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cg_feature_history('code');
CREATE TRIGGER unit_grid_history_del AFTER DELETE ON unit_grid
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION cg_feature_history('code');
CREATE TRIGGER responsibility_grid_history_ins AFTER INSERT ON responsibility_grid
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cg_feature_history('code');
CREATE TRIGGER responsibility_grid_history_upd AFTER UPDATE ON responsibility_grid
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cg_feature_history('code');
CREATE TRIGGER responsibility_grid_history_del AFTER DELETE ON responsibility_grid
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION cg_feature_history('code');
CREATE TRIGGER poi_history_ins AFTER INSERT ON poi
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cg_feature_history('id');
CREATE TRIGGER poi_history_upd AFTER UPDATE ON poi
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cg_feature_history('id');
CREATE TRIGGER poi_history_del AFTER DELETE ON poi
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION cg_feature_history('id');
