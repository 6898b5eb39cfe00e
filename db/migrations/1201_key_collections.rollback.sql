DROP FUNCTION auth_key(text, text);
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
ALTER TABLE api_key DROP COLUMN IF EXISTS collections;
