-- The audit log for admins, newest first, keyset-paged by id; every filter optional.
SELECT id, at, actor, actor_role, action, target, host(client_addr) AS client_addr, detail
FROM audit_log
WHERE (%(actor)s::text IS NULL OR actor = %(actor)s)
  AND (%(action)s::text IS NULL OR action LIKE %(action)s || '%%')
  AND (%(since)s::timestamptz IS NULL OR at >= %(since)s)
  AND (%(until)s::timestamptz IS NULL OR at < %(until)s)
  AND (%(before_id)s::bigint IS NULL OR id < %(before_id)s)
  -- failed: a refused login or key, or a request answered 4xx/5xx (status recorded by the access layer)
  AND (%(result)s::text IS NULL OR (%(result)s = 'failed') = (action LIKE '%%.failure'
       OR coalesce(CASE WHEN detail->>'status' ~ '^[0-9]{3}$' THEN (detail->>'status')::int END, 0) >= 400))
ORDER BY id DESC
LIMIT %(limit)s
