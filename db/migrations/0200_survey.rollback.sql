-- depends: 0002_code_catalogs
DROP VIEW IF EXISTS survey_candidate;
DROP VIEW IF EXISTS survey_unmapped_codes;
DELETE FROM catalog_mapping WHERE from_kind = 'component' AND from_standard = 'CJ/T 214-2007'
    AND to_standard = 'GB/T 47678.5-2026';
DROP FUNCTION IF EXISTS survey_fill_component_mapping();
DROP FUNCTION IF EXISTS survey_date(text);
DROP TABLE IF EXISTS survey_job;
DROP INDEX IF EXISTS component_history_batch_idx;
DROP TABLE IF EXISTS survey_issue;
DROP TABLE IF EXISTS survey_check;
DROP TABLE IF EXISTS survey_row;
DROP TABLE IF EXISTS survey_batch;
DROP TABLE IF EXISTS survey_batch_status;
