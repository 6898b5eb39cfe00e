-- depends: 0100_cases
DROP VIEW IF EXISTS catalog_mapping_unmapped;
DROP TABLE IF EXISTS catalog_mapping;
DROP FUNCTION IF EXISTS cg_normalise_catalog_name(text);
