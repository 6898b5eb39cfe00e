DROP VIEW IF EXISTS evaluation_period_latest;
DROP TABLE IF EXISTS evaluation_case;
DROP TABLE IF EXISTS evaluation_result;
DROP TABLE IF EXISTS evaluation_revision;
DROP TABLE IF EXISTS evaluation_period;
DROP TABLE IF EXISTS evaluation_period_kind;
DROP TABLE IF EXISTS evaluation_method;
DROP FUNCTION IF EXISTS evaluation_immutable();
