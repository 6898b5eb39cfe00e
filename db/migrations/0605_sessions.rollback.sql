DROP FUNCTION IF EXISTS rate_hit(text, integer);
DROP TABLE IF EXISTS rate_counter;
DROP TABLE IF EXISTS app_session;
