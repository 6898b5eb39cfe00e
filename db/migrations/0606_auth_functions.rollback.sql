DROP FUNCTION IF EXISTS auth_session(text, interval);
DROP FUNCTION IF EXISTS auth_key(text, text);
