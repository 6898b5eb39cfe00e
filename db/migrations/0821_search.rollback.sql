DROP TABLE IF EXISTS poi_category;
DROP INDEX IF EXISTS poi_names_trgm, poi_address_trgm, community_name_trgm, unit_grid_name_trgm,
    unit_grid_code_prefix, community_code_prefix, component_id_prefix, cases_number_prefix;
ALTER TABLE poi DROP COLUMN IF EXISTS search_names;
DROP FUNCTION IF EXISTS cg_poi_names(text, text[], text, text);
DROP FUNCTION IF EXISTS cg_array_text(text[]);
