DROP INDEX IF EXISTS component_type_code_idx;
