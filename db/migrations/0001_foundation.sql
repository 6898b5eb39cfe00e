-- civicgrid foundation schema: areas, grids, departments, code catalogs, components,
-- officers and their positions, POIs, and a minimal case shape that the case issue extends.
--
-- Storage CRS is CGCS2000 lon/lat (EPSG:4490); metric work uses EPSG:4548.
-- Rules that need other rows (inside the town, grid overlaps, geometry kind per class)
-- are statement-level triggers over transition tables, so bulk loads stay set-based.
-- depends:

CREATE EXTENSION IF NOT EXISTS postgis;
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- ---------------------------------------------------------------- helpers

-- Raise a check_violation whose message names the table, the row and the reason.
CREATE FUNCTION cg_refuse(tbl text, row_id text, reason text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%: % %', tbl, row_id, reason
        USING ERRCODE = 'check_violation', TABLE = tbl, DETAIL = reason;
END $$;

-- 统一社会信用代码 (GB 32100-2015): 18 characters from a 31-symbol alphabet, last one a check character.
CREATE FUNCTION uscc_is_valid(code text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    WITH alphabet AS (SELECT '0123456789ABCDEFGHJKLMNPQRTUWXY'::text AS a),
    weights AS (SELECT ARRAY[1,3,9,27,19,26,16,17,20,29,25,13,8,24,10,30,28] AS w)
    SELECT code ~ '^[0-9A-HJ-NPQRTUWXY]{18}$' AND (
        SELECT substr(a, ((31 - sum((strpos(a, substr(code, i, 1)) - 1) * w[i]) % 31) % 31)::int + 1, 1)
        FROM alphabet, weights, generate_series(1, 17) AS i
        GROUP BY a
    ) = substr(code, 18, 1)
$$;

-- Who is acting, for history rows: set per transaction with SET LOCAL civicgrid.actor = '...'.
CREATE FUNCTION cg_actor() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('civicgrid.actor', true), ''), session_user::text)
$$;

-- ---------------------------------------------------------------- code catalogs

CREATE TABLE code_standard (
    standard            text PRIMARY KEY,              -- 'GB/T 47678.5-2026'
    short_name          text NOT NULL UNIQUE,          -- 'gbt47678'
    type_code_length    smallint NOT NULL,             -- 5 (2 major + 3 minor) or 4
    component_id_length smallint NOT NULL,             -- 17 or 16
    UNIQUE (standard, component_id_length)
);
INSERT INTO code_standard VALUES
    ('GB/T 47678.5-2026', 'gbt47678', 5, 17),
    ('CJ/T 214-2007', 'cjt214', 4, 16);

CREATE TABLE code_catalog_kind (
    kind text PRIMARY KEY,
    name text NOT NULL
);
INSERT INTO code_catalog_kind VALUES
    ('component', '管理部件'), ('matter', '管理事项'), ('event', '管理事件');

CREATE TABLE code_catalog (
    standard      text NOT NULL REFERENCES code_standard,
    kind          text NOT NULL REFERENCES code_catalog_kind,
    major_code    text NOT NULL CHECK (major_code ~ '^[0-9]{2}$'),
    major_name    text NOT NULL,
    code          text NOT NULL CHECK (code ~ '^[0-9]+$' AND left(code, 2) = major_code),
    name          text NOT NULL,
    -- the geometry a surveyed component of this class has: point, line or polygon
    geometry_kind text NOT NULL DEFAULT 'point' CHECK (geometry_kind IN ('point', 'line', 'polygon')),
    PRIMARY KEY (standard, kind, code)
);

CREATE TABLE standard_attribute (
    kind         text NOT NULL REFERENCES code_catalog_kind,
    position     smallint NOT NULL,
    field_name   text NOT NULL,
    abbreviation text NOT NULL,
    data_type    text NOT NULL,
    length       smallint NOT NULL,
    obligation   text NOT NULL CHECK (obligation IN ('M', 'C', 'O')),
    notes        text,
    PRIMARY KEY (kind, abbreviation)
);

-- ---------------------------------------------------------------- areas

CREATE TABLE town (
    code text PRIMARY KEY CHECK (code ~ '^[0-9]{9}$'),   -- 6-digit district + 3-digit town
    name text NOT NULL,
    geom geometry(MultiPolygon, 4490) NOT NULL CHECK (ST_IsValid(geom))
);

CREATE TABLE community_kind (kind text PRIMARY KEY);
INSERT INTO community_kind VALUES ('社区'), ('村');

-- 社区/村
CREATE TABLE community (
    code      text PRIMARY KEY CHECK (code ~ '^[0-9]{12}$'),
    town_code text NOT NULL REFERENCES town,
    name      text NOT NULL,
    kind      text NOT NULL REFERENCES community_kind,
    geom      geometry(MultiPolygon, 4490) NOT NULL CHECK (ST_IsValid(geom)),
    CONSTRAINT community_code_in_town CHECK (left(code, 9) = town_code)
);
CREATE INDEX community_geom_idx ON community USING gist (geom);

-- 单元网格 (15 digits: 6 district + 3 town + 3 community + 3 serial, west→east, north→south)
CREATE TABLE unit_grid (
    code           text PRIMARY KEY CHECK (code ~ '^[0-9]{15}$'),
    community_code text NOT NULL REFERENCES community,
    name           text,
    land_use       text,                                  -- 用地类别
    valid_from     date NOT NULL DEFAULT current_date,    -- 初始日期
    valid_to       date CHECK (valid_to IS NULL OR valid_to >= valid_from), -- 终止日期
    note           text,
    geom           geometry(MultiPolygon, 4490) NOT NULL CHECK (ST_IsValid(geom)),
    area_m2        double precision GENERATED ALWAYS AS (ST_Area(ST_Transform(geom, 4548))) STORED,
    version        integer NOT NULL DEFAULT 1,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT unit_grid_code_in_community CHECK (left(code, 12) = community_code)
);
CREATE INDEX unit_grid_geom_idx ON unit_grid USING gist (geom);
CREATE INDEX unit_grid_community_idx ON unit_grid (community_code);

-- ---------------------------------------------------------------- people and departments

-- 网格员 / 监督员
CREATE TABLE officer (
    id        integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    code      text NOT NULL UNIQUE CHECK (code ~ '^[A-Z0-9-]{2,20}$'),
    name      text NOT NULL,
    phone     text CHECK (phone IS NULL OR phone ~ '^[0-9+-]{5,20}$'),
    active    boolean NOT NULL DEFAULT true
);

-- 责任网格: several unit grids assigned to one officer
CREATE TABLE responsibility_grid (
    code           text PRIMARY KEY CHECK (code ~ '^[0-9]{12}Z[0-9]{2}$'),
    community_code text NOT NULL REFERENCES community,
    name           text NOT NULL,
    officer_id     integer REFERENCES officer ON DELETE SET NULL,
    -- kept equal to the union of its unit grids by trigger
    geom           geometry(MultiPolygon, 4490),
    version        integer NOT NULL DEFAULT 1,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT responsibility_grid_code_in_community CHECK (left(code, 12) = community_code)
);
CREATE INDEX responsibility_grid_geom_idx ON responsibility_grid USING gist (geom);
CREATE INDEX responsibility_grid_officer_idx ON responsibility_grid (officer_id);

CREATE TABLE responsibility_grid_member (
    unit_grid_code           text PRIMARY KEY REFERENCES unit_grid ON DELETE CASCADE,
    responsibility_grid_code text NOT NULL REFERENCES responsibility_grid ON DELETE CASCADE
);
CREATE INDEX responsibility_grid_member_rg_idx ON responsibility_grid_member (responsibility_grid_code);

CREATE TABLE department_kind (kind text PRIMARY KEY);
INSERT INTO department_kind VALUES ('专业部门'), ('属地单位'), ('权属单位'), ('养护单位');

-- 专业部门 and other bodies, keyed by 统一社会信用代码
CREATE TABLE department (
    code       text PRIMARY KEY CONSTRAINT department_code_is_uscc CHECK (uscc_is_valid(code)),
    name       text NOT NULL UNIQUE,
    short_name text,
    kind       text NOT NULL DEFAULT '专业部门' REFERENCES department_kind,
    phone      text,
    active     boolean NOT NULL DEFAULT true
);

-- Which department handles which categories in which area (category × area → department).
-- category_prefix: a 2-digit major code or a full type code of the standard; area_prefix: the
-- town (9), a community (12) or a unit grid (15) code. The longest match on both wins.
CREATE TABLE department_responsibility (
    id              integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    department_code text NOT NULL REFERENCES department ON DELETE CASCADE,
    standard        text NOT NULL REFERENCES code_standard,
    kind            text NOT NULL REFERENCES code_catalog_kind,
    category_prefix text NOT NULL CHECK (category_prefix ~ '^[0-9]{2,5}$'),
    area_prefix     text NOT NULL CHECK (area_prefix ~ '^[0-9]{9}([0-9]{3}){0,2}$'),
    UNIQUE (standard, kind, category_prefix, area_prefix)
);

-- ---------------------------------------------------------------- urban components (管理部件)

CREATE TABLE component_status (status text PRIMARY KEY, is_active boolean NOT NULL);
INSERT INTO component_status VALUES
    ('完好', true), ('破损', true), ('丢失', true), ('占用', true), ('废弃', false), ('移除', false);

CREATE TABLE data_source (source text PRIMARY KEY);
INSERT INTO data_source VALUES ('实测'), ('地形图'), ('基础地理数据'), ('调绘'), ('其他');

-- The 18 standard attributes of GB/T 47678.5-2026 (abbreviations in comments), under either standard.
CREATE TABLE component (
    id               text PRIMARY KEY CHECK (id ~ '^[0-9]{16,17}$'),          -- GLBJBSM
    standard         text NOT NULL DEFAULT 'GB/T 47678.5-2026',
    kind             text NOT NULL DEFAULT 'component' CHECK (kind = 'component'),
    type_code        text NOT NULL,
    name             text NOT NULL CHECK (length(name) <= 30),                 -- GLBJMC
    dept_code        text NOT NULL REFERENCES department,                       -- ZGBMDM
    dept_name        text NOT NULL CHECK (length(dept_name) <= 100),            -- ZGBMMC
    owner_code       text CHECK (owner_code IS NULL OR uscc_is_valid(owner_code)),           -- QSDWDM
    owner_name       text CHECK (length(owner_name) <= 100),                    -- QSDWMC
    maintainer_code  text CHECK (maintainer_code IS NULL OR uscc_is_valid(maintainer_code)), -- YHDWDM
    maintainer_name  text CHECK (length(maintainer_name) <= 100),               -- YHDWMC
    unit_grid_code   text NOT NULL REFERENCES unit_grid,                        -- SZDYWGBSM
    status           text NOT NULL DEFAULT '完好' REFERENCES component_status,  -- GLBJZT
    initial_date     date NOT NULL,                                             -- CSRQ
    change_date      date CHECK (change_date IS NULL OR change_date >= initial_date), -- BGRQ
    data_source      text REFERENCES data_source,                               -- SJLY
    note             text CHECK (length(note) <= 1000),                         -- BZ
    street_code      text CHECK (street_code ~ '^[0-9]{9}$'),                   -- SZJDDM
    street_name      text,                                                      -- SZJDMC
    community_code   text REFERENCES community,                                 -- SZSQDM
    community_name   text,                                                      -- SZSQMC
    extra            jsonb NOT NULL DEFAULT '{}'::jsonb,   -- local extension attributes per type
    geom             geometry(Geometry, 4490) NOT NULL
        CHECK (ST_IsValid(geom) AND NOT ST_IsEmpty(geom)
               AND GeometryType(geom) IN ('POINT', 'LINESTRING', 'POLYGON', 'MULTIPOINT', 'MULTILINESTRING', 'MULTIPOLYGON')),
    version          integer NOT NULL DEFAULT 1,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    updated_by       text NOT NULL DEFAULT cg_actor(),
    id_length        smallint GENERATED ALWAYS AS (length(id)) STORED,
    CONSTRAINT component_class_in_catalog FOREIGN KEY (standard, kind, type_code)
        REFERENCES code_catalog (standard, kind, code),
    CONSTRAINT component_id_length_matches_standard FOREIGN KEY (standard, id_length)
        REFERENCES code_standard (standard, component_id_length),
    CONSTRAINT component_id_contains_class CHECK (substr(id, 7, length(type_code)) = type_code),
    CONSTRAINT component_grid_in_community CHECK (community_code IS NULL OR left(unit_grid_code, 12) = community_code)
);
CREATE INDEX component_geom_idx ON component USING gist (geom);
CREATE INDEX component_type_idx ON component (standard, type_code);
CREATE INDEX component_grid_idx ON component (unit_grid_code);

-- Full history: one row per insert/update/delete with the whole row before and after.
CREATE TABLE component_history (
    history_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    component_id text NOT NULL,
    operation    text NOT NULL CHECK (operation IN ('insert', 'update', 'delete')),
    version      integer NOT NULL,
    changed_at   timestamptz NOT NULL DEFAULT now(),
    changed_by   text NOT NULL DEFAULT cg_actor(),
    batch        text DEFAULT nullif(current_setting('civicgrid.batch', true), ''),
    old_row      jsonb,
    new_row      jsonb
);
CREATE INDEX component_history_component_idx ON component_history (component_id, history_id);

-- ---------------------------------------------------------------- officer positions

CREATE TABLE officer_position (
    officer_id  integer NOT NULL REFERENCES officer,
    recorded_at timestamptz NOT NULL,
    geom        geometry(Point, 4490) NOT NULL,
    accuracy_m  real CHECK (accuracy_m IS NULL OR accuracy_m >= 0),
    speed_mps   real CHECK (speed_mps IS NULL OR speed_mps >= 0),
    PRIMARY KEY (officer_id, recorded_at)
) PARTITION BY RANGE (recorded_at);
CREATE INDEX officer_position_time_brin ON officer_position USING brin (recorded_at);
CREATE INDEX officer_position_geom_idx ON officer_position USING gist (geom);
-- Rows outside every monthly partition land here instead of being refused.
CREATE TABLE officer_position_default PARTITION OF officer_position DEFAULT;

-- Create the monthly partitions covering [from_ts, to_ts).
CREATE FUNCTION ensure_position_partitions(from_ts timestamptz, to_ts timestamptz) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    m date := date_trunc('month', from_ts AT TIME ZONE 'Asia/Shanghai')::date;
    created integer := 0;
    part text;
BEGIN
    WHILE m < to_ts AT TIME ZONE 'Asia/Shanghai' LOOP
        part := format('officer_position_%s', to_char(m, 'YYYYMM'));
        IF to_regclass(part) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE %I PARTITION OF officer_position FOR VALUES FROM (%L) TO (%L)',
                part, (m::timestamp AT TIME ZONE 'Asia/Shanghai'),
                ((m + interval '1 month')::timestamp AT TIME ZONE 'Asia/Shanghai'));
            created := created + 1;
        END IF;
        m := (m + interval '1 month')::date;
    END LOOP;
    RETURN created;
END $$;

-- ---------------------------------------------------------------- POIs

CREATE TABLE poi (
    id              bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    name            text NOT NULL,
    alias           text[] NOT NULL DEFAULT '{}',
    pinyin          text,            -- full pinyin without tones, e.g. 'renhezhen renmin zhengfu'
    pinyin_initials text,            -- e.g. 'rhzrmzf'
    category        text NOT NULL,
    address         text,
    community_code  text REFERENCES community,
    geom            geometry(Point, 4490) NOT NULL,
    version         integer NOT NULL DEFAULT 1,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX poi_geom_idx ON poi USING gist (geom);
CREATE INDEX poi_name_trgm ON poi USING gin (name gin_trgm_ops);
CREATE INDEX poi_pinyin_trgm ON poi USING gin (pinyin gin_trgm_ops);

-- ---------------------------------------------------------------- cases (minimal; the case issue extends)

CREATE TABLE case_channel (code text PRIMARY KEY, name text NOT NULL);
INSERT INTO case_channel VALUES
    ('patrol', '网格员巡查上报'), ('public', '公众举报'), ('hotline', '12345热线'),
    ('component', '部件问题'), ('video', '视频巡查'), ('district', '区平台推送');

CREATE TABLE case_urgency (code text PRIMARY KEY, name text NOT NULL, rank smallint NOT NULL UNIQUE);
INSERT INTO case_urgency VALUES ('normal', '一般', 1), ('urgent', '紧急', 2), ('critical', '特急', 3);

CREATE TABLE cases (
    id              bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    case_number     text NOT NULL UNIQUE CHECK (case_number ~ '^[0-9]{9}[0-9]{8}[0-9]{4,}$'), -- town + YYYYMMDD + serial
    channel         text NOT NULL REFERENCES case_channel,
    standard        text NOT NULL DEFAULT 'GB/T 47678.5-2026',
    category_kind   text NOT NULL,
    category_code   text NOT NULL,
    component_id    text REFERENCES component ON DELETE SET NULL,
    urgency         text NOT NULL DEFAULT 'normal' REFERENCES case_urgency,
    workflow        text NOT NULL DEFAULT 'standard',
    state           text NOT NULL,            -- a state of the case's workflow (data, not an enum)
    is_closed       boolean NOT NULL DEFAULT false,
    description     text CHECK (length(description) <= 4000),
    address         text,
    unit_grid_code  text REFERENCES unit_grid,
    community_code  text REFERENCES community,
    responsibility_grid_code text REFERENCES responsibility_grid ON DELETE SET NULL,
    officer_id      integer REFERENCES officer ON DELETE SET NULL,    -- the grid's officer
    reporter_officer_id integer REFERENCES officer ON DELETE SET NULL, -- who reported, for patrol reports
    department_code text REFERENCES department,
    reporter_name   text,                     -- private: never in public views
    reporter_phone  text,                     -- private
    external_id     text,
    reported_at     timestamptz NOT NULL DEFAULT now(),
    filed_at        timestamptz,
    dispatched_at   timestamptz,
    deadline_at     timestamptz,
    closed_at       timestamptz,
    geom            geometry(Point, 4490),
    version         integer NOT NULL DEFAULT 1,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT case_category_in_catalog FOREIGN KEY (standard, category_kind, category_code)
        REFERENCES code_catalog (standard, kind, code),
    CONSTRAINT case_external_id_unique UNIQUE (channel, external_id)
);
CREATE INDEX cases_geom_idx ON cases USING gist (geom);
CREATE INDEX cases_reported_idx ON cases (reported_at);
CREATE INDEX cases_state_idx ON cases (state) WHERE NOT is_closed;
CREATE INDEX cases_department_idx ON cases (department_code);
CREATE INDEX cases_grid_idx ON cases (unit_grid_code);

-- Append-only event log of a case (from_state → to_state by an actor in a role).
CREATE TABLE case_event (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id    bigint NOT NULL REFERENCES cases ON DELETE CASCADE,
    seq        integer NOT NULL,
    action     text NOT NULL,
    from_state text,
    to_state   text,
    actor      text NOT NULL,
    actor_role text NOT NULL,
    at         timestamptz NOT NULL DEFAULT now(),
    comment    text,
    data       jsonb NOT NULL DEFAULT '{}'::jsonb,
    UNIQUE (case_id, seq)
);
CREATE INDEX case_event_at_idx ON case_event (at);

-- ---------------------------------------------------------------- rules that need other rows

-- Every geometry of the new rows lies inside the town (a 1 m tolerance absorbs clipping noise).
CREATE FUNCTION cg_check_inside_town() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    EXECUTE format($q$
        SELECT n.%1$I::text AS row_id
        FROM new_rows n
        WHERE n.geom IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM town t
            WHERE ST_CoveredBy(n.geom, t.geom)
               OR ST_Area(ST_Transform(ST_Difference(n.geom, t.geom), 4548)) + ST_Length(ST_Transform(ST_Difference(n.geom, t.geom), 4548)) < 1
                  AND ST_DWithin(n.geom::geography, t.geom::geography, 1))
        LIMIT 1 $q$, TG_ARGV[0]) INTO bad;
    IF bad.row_id IS NOT NULL THEN
        PERFORM cg_refuse(TG_TABLE_NAME, bad.row_id, 'geometry lies outside the town boundary');
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER community_inside_town_ins AFTER INSERT ON community
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cg_check_inside_town('code');
CREATE TRIGGER community_inside_town_upd AFTER UPDATE ON community
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cg_check_inside_town('code');
CREATE TRIGGER unit_grid_inside_town_ins AFTER INSERT ON unit_grid
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cg_check_inside_town('code');
CREATE TRIGGER unit_grid_inside_town_upd AFTER UPDATE ON unit_grid
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cg_check_inside_town('code');
CREATE TRIGGER component_inside_town_ins AFTER INSERT ON component
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cg_check_inside_town('id');
CREATE TRIGGER component_inside_town_upd AFTER UPDATE ON component
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cg_check_inside_town('id');
CREATE TRIGGER poi_inside_town_ins AFTER INSERT ON poi
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cg_check_inside_town('id');
CREATE TRIGGER poi_inside_town_upd AFTER UPDATE ON poi
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cg_check_inside_town('id');
CREATE TRIGGER cases_inside_town_ins AFTER INSERT ON cases
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cg_check_inside_town('id');
CREATE TRIGGER cases_inside_town_upd AFTER UPDATE ON cases
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cg_check_inside_town('id');

-- Unit grids never overlap each other (touching is fine) and lie in their community.
CREATE FUNCTION cg_check_unit_grids() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT n.code, g.code AS other INTO bad
    FROM new_rows n JOIN unit_grid g ON g.code <> n.code AND g.geom && n.geom
        AND ST_Area(ST_Transform(ST_Intersection(g.geom, n.geom), 4548)) > 1
    LIMIT 1;
    IF bad.code IS NOT NULL THEN
        PERFORM cg_refuse('unit_grid', bad.code, format('overlaps unit grid %s', bad.other));
    END IF;
    SELECT n.code, n.community_code AS other INTO bad
    FROM new_rows n JOIN community c ON c.code = n.community_code
    WHERE ST_Area(ST_Transform(ST_Difference(n.geom, c.geom), 4548)) > 1
    LIMIT 1;
    IF bad.code IS NOT NULL THEN
        PERFORM cg_refuse('unit_grid', bad.code, format('extends outside its community %s', bad.other));
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER unit_grid_topology_ins AFTER INSERT ON unit_grid
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cg_check_unit_grids();
CREATE TRIGGER unit_grid_topology_upd AFTER UPDATE ON unit_grid
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cg_check_unit_grids();

-- A component's geometry has the kind its class asks for, and lies in its stated unit grid.
CREATE FUNCTION cg_check_components() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT n.id, c.geometry_kind, GeometryType(n.geom) AS actual INTO bad
    FROM new_rows n JOIN code_catalog c
      ON (c.standard, c.kind, c.code) = (n.standard, n.kind, n.type_code)
    WHERE CASE c.geometry_kind
            WHEN 'point' THEN GeometryType(n.geom) NOT IN ('POINT', 'MULTIPOINT')
            WHEN 'line' THEN GeometryType(n.geom) NOT IN ('LINESTRING', 'MULTILINESTRING')
            ELSE GeometryType(n.geom) NOT IN ('POLYGON', 'MULTIPOLYGON') END
    LIMIT 1;
    IF bad.id IS NOT NULL THEN
        PERFORM cg_refuse('component', bad.id,
            format('class needs a %s geometry, got %s', bad.geometry_kind, lower(bad.actual)));
    END IF;
    SELECT n.id, n.unit_grid_code AS grid INTO bad
    FROM new_rows n JOIN unit_grid g ON g.code = n.unit_grid_code
    WHERE NOT ST_Intersects(g.geom, ST_PointOnSurface(n.geom))
      AND NOT ST_DWithin(g.geom::geography, ST_PointOnSurface(n.geom)::geography, 1)
    LIMIT 1;
    IF bad.id IS NOT NULL THEN
        PERFORM cg_refuse('component', bad.id, format('does not lie in its unit grid %s', bad.grid));
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER component_rules_ins AFTER INSERT ON component
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cg_check_components();
CREATE TRIGGER component_rules_upd AFTER UPDATE ON component
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cg_check_components();

-- History rows, written set-based per statement.
CREATE FUNCTION cg_component_history_ins() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO component_history (component_id, operation, version, new_row)
    SELECT n.id, 'insert', n.version, to_jsonb(n) - 'id_length' FROM new_rows n;
    RETURN NULL;
END $$;
CREATE FUNCTION cg_component_history_upd() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO component_history (component_id, operation, version, old_row, new_row)
    SELECT n.id, 'update', n.version, to_jsonb(o) - 'id_length', to_jsonb(n) - 'id_length'
    FROM new_rows n JOIN old_rows o ON o.id = n.id;
    RETURN NULL;
END $$;
CREATE FUNCTION cg_component_history_del() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO component_history (component_id, operation, version, old_row)
    SELECT o.id, 'delete', o.version, to_jsonb(o) - 'id_length' FROM old_rows o;
    RETURN NULL;
END $$;
CREATE TRIGGER component_history_ins AFTER INSERT ON component
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cg_component_history_ins();
CREATE TRIGGER component_history_upd AFTER UPDATE ON component
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cg_component_history_upd();
CREATE TRIGGER component_history_del AFTER DELETE ON component
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION cg_component_history_del();

-- A responsibility grid's geometry is the union of its member unit grids.
CREATE FUNCTION refresh_responsibility_geom(codes text[]) RETURNS void
LANGUAGE sql AS $$
    UPDATE responsibility_grid r
    SET geom = (SELECT ST_Multi(ST_Union(g.geom))
                FROM responsibility_grid_member m JOIN unit_grid g ON g.code = m.unit_grid_code
                WHERE m.responsibility_grid_code = r.code),
        updated_at = now()
    WHERE r.code = ANY (codes)
$$;
CREATE FUNCTION cg_member_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM refresh_responsibility_geom(ARRAY(SELECT DISTINCT responsibility_grid_code FROM new_rows));
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        PERFORM refresh_responsibility_geom(ARRAY(SELECT DISTINCT responsibility_grid_code FROM old_rows));
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER responsibility_member_ins AFTER INSERT ON responsibility_grid_member
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cg_member_changed();
CREATE TRIGGER responsibility_member_upd AFTER UPDATE ON responsibility_grid_member
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cg_member_changed();
CREATE TRIGGER responsibility_member_del AFTER DELETE ON responsibility_grid_member
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION cg_member_changed();
