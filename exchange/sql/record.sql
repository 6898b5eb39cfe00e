-- The outcome of one batch, set-based: delivered rows, retries with their next attempt, dead letters.
UPDATE district_outbox o
SET state = r.state, attempts = o.attempts + r.tried, delivered_at = r.delivered_at,
    next_attempt_at = r.next_attempt_at, last_error = coalesce(r.error, o.last_error),
    response = coalesce(r.response, o.response)
FROM jsonb_to_recordset(%(results)s::jsonb) AS r(id bigint, state text, tried integer, delivered_at timestamptz,
                                                 next_attempt_at timestamptz, error text, response jsonb)
WHERE o.id = r.id
