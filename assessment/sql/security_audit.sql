-- The information-security inspection record's part from the audit log, per local day of the
-- month %(month)s: failed logins, lock-outs (the failure that locked an account), forged, expired or
-- revoked tokens, and refusals for too many requests (signed-in callers; anonymous ones are not logged).
SELECT (a.at AT TIME ZONE 'Asia/Shanghai')::date AS day,
       count(*) FILTER (WHERE a.action = 'login.failure') AS failed_logins,
       count(*) FILTER (WHERE a.action = 'login.failure' AND a.detail ? 'locked_until'
                          AND a.detail ->> 'reason' = 'wrong password') AS lockouts,
       count(*) FILTER (WHERE a.action = 'auth.failure') AS bad_tokens,
       count(*) FILTER (WHERE a.detail ->> 'status' = '429') AS rate_limited
FROM audit_log a
WHERE a.at >= (%(month)s::timestamp AT TIME ZONE 'Asia/Shanghai')
  AND a.at < ((%(month)s::date + interval '1 month')::timestamp AT TIME ZONE 'Asia/Shanghai')
  AND (a.action IN ('login.failure', 'auth.failure') OR a.detail ->> 'status' = '429')
GROUP BY 1 ORDER BY 1
