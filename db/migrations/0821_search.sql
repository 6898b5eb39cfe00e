-- One search box (GET /api/search): trigram indexes for fuzzy and substring matches, "C"-collated
-- indexes for code prefixes (the database collation is C.UTF-8, so the primary keys' b-trees serve
-- neither LIKE 'x%' nor the ordered first rows of a prefix), and how much each POI category weighs in the ranking (a town hall before a shop).
-- depends: 0820_labels 0611_child_policy_shortcut

CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE FUNCTION cg_array_text(a text[]) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT array_to_string(a, ' ')
$$;

-- a POI's names in one text (name, aliases, full pinyin, initials): one trigram index serves
-- substring (LIKE) and word-similarity (<%) matches on all of them. Stored, because short queries
-- scan the rows and building the text per row and query cost more than the match.
CREATE FUNCTION cg_poi_names(name text, alias text[], pinyin text, initials text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT concat_ws(' ', name, cg_array_text(alias), pinyin, initials)
$$;
ALTER TABLE poi ADD COLUMN search_names text
    GENERATED ALWAYS AS (cg_poi_names(name, alias, pinyin, pinyin_initials)) STORED;
CREATE INDEX poi_names_trgm ON poi USING gin (search_names gin_trgm_ops);
CREATE INDEX poi_address_trgm ON poi USING gin (address gin_trgm_ops);
CREATE INDEX community_name_trgm ON community USING gin (name gin_trgm_ops);
CREATE INDEX unit_grid_name_trgm ON unit_grid USING gin (name gin_trgm_ops);
CREATE INDEX unit_grid_code_prefix ON unit_grid ((code COLLATE "C"));
CREATE INDEX community_code_prefix ON community ((code COLLATE "C"));
CREATE INDEX component_id_prefix ON component ((id COLLATE "C"));
CREATE INDEX cases_number_prefix ON cases ((case_number COLLATE "C"));

-- 0 (a shop) … 1 (the town government); categories not listed weigh 0
CREATE TABLE poi_category (
    category      text PRIMARY KEY,
    search_weight real NOT NULL DEFAULT 0 CHECK (search_weight BETWEEN 0 AND 1)
);
INSERT INTO poi_category (category, search_weight) VALUES
    ('政府机构', 1.0), ('村委会', 0.8), ('医疗卫生', 0.6), ('学校', 0.5), ('农贸市场', 0.5),
    ('广场公园', 0.5), ('住宅小区', 0.4), ('公交车站', 0.3), ('住宿', 0.2), ('购物', 0.1), ('餐饮', 0.1),
    ('汽车服务', 0.1);
GRANT SELECT ON poi_category TO civicgrid_web;

ANALYZE poi;
