-- depends: 0002_code_catalogs
DROP TABLE IF EXISTS audit_log;
DROP FUNCTION IF EXISTS audit_log_append_only();
DROP TABLE IF EXISTS api_key;
DROP TABLE IF EXISTS app_user_role;
DROP TABLE IF EXISTS app_user;
DROP FUNCTION IF EXISTS app_user_role_binding_trg();
DROP FUNCTION IF EXISTS app_user_binding_trg();
DROP FUNCTION IF EXISTS app_user_binding_check(integer);
DROP TABLE IF EXISTS app_role;
