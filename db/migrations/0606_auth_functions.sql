-- Security: authenticating a request in one round trip. The access layer asks on every
-- request that carries an API key or a session cookie; one statement (look up, check, touch) keeps
-- that to a fraction of a millisecond. plpgsql, because it keeps its plans for the session (a SQL
-- function with a data-modifying CTE is planned again on every call).
-- depends: 0605_sessions

-- The user behind an API key, given its prefix and the sha256 of its secret: nothing for an
-- unknown, forged, expired or revoked key or a disabled user. last_used_at is written at most once
-- a minute (a key polling a feed must not turn every read into a write); `audit_due` says that the
-- key has not been used for ten minutes, so its use is worth an audit row. Comparing the sha256 of
-- the secret by plain equality leaks nothing useful through timing: the attacker cannot steer the
-- hash of his guess towards the stored one.
CREATE FUNCTION auth_key(p_prefix text, p_hash text)
RETURNS TABLE (user_id integer, username text, roles text[], scopes text[], department_code text,
               officer_id integer, officer_code text, audit_due boolean)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH k AS (
        SELECT k.id, k.scopes, k.last_used_at, u.id AS user_id, u.username, u.department_code, u.officer_id
        FROM api_key k JOIN app_user u ON u.id = k.user_id
        WHERE k.prefix = p_prefix AND k.key_hash = p_hash
          AND k.revoked_at IS NULL AND k.expires_at > now() AND NOT u.disabled
    ), touched AS (
        UPDATE api_key a SET last_used_at = now() FROM k
        WHERE a.id = k.id AND (k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute')
    )
    SELECT k.user_id, k.username,
           ARRAY(SELECT r.role_code FROM app_user_role r WHERE r.user_id = k.user_id ORDER BY 1),
           k.scopes, k.department_code, k.officer_id,
           (SELECT o.code FROM officer o WHERE o.id = k.officer_id),
           k.last_used_at IS NULL OR k.last_used_at < now() - interval '10 minutes'
    FROM k;
END $$;

-- The user of a live web session (cookie token's sha256): nothing when unknown, past its end, idle
-- longer than p_idle, or of a disabled user. last_seen_at is written at most once a minute.
CREATE FUNCTION auth_session(p_hash text, p_idle interval)
RETURNS TABLE (user_id integer, username text, roles text[], department_code text, officer_id integer,
               officer_code text, csrf_token text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH s AS (
        SELECT s.token_hash, s.csrf_token, s.last_seen_at, u.id AS user_id, u.username, u.department_code, u.officer_id
        FROM app_session s JOIN app_user u ON u.id = s.user_id
        WHERE s.token_hash = p_hash AND s.expires_at > now() AND s.last_seen_at > now() - p_idle AND NOT u.disabled
    ), touched AS (
        UPDATE app_session a SET last_seen_at = now() FROM s
        WHERE a.token_hash = s.token_hash AND s.last_seen_at < now() - interval '1 minute'
    )
    SELECT s.user_id, s.username,
           ARRAY(SELECT r.role_code FROM app_user_role r WHERE r.user_id = s.user_id ORDER BY 1),
           s.department_code, s.officer_id, (SELECT o.code FROM officer o WHERE o.id = s.officer_id), s.csrf_token
    FROM s;
END $$;
