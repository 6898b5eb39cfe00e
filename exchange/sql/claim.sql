-- A batch of due outbox rows, in order per case, for one worker. A case is taken when its oldest
-- undelivered row (its head) is due and not dead, and only by the worker holding its advisory lock
-- (two workers never deliver one case at once, so the order per case holds). FOR UPDATE re-reads
-- each row as committed meanwhile: a row another worker delivered after this statement's snapshot
-- is dropped instead of sent twice.
WITH heads AS (
    SELECT DISTINCT ON (case_id) case_id, id, state, next_attempt_at
    FROM district_outbox
    WHERE state <> 'delivered'
    ORDER BY case_id, id
),
ready AS (
    SELECT case_id FROM heads
    WHERE state IN ('pending', 'delivering') AND next_attempt_at <= now()
    ORDER BY next_attempt_at, id
    LIMIT %(batch)s
)
SELECT o.id, o.case_id, o.event_seq, o.kind, o.idempotency_key, o.payload, o.attempts
FROM district_outbox o JOIN ready USING (case_id)
WHERE o.state IN ('pending', 'delivering')
  AND pg_try_advisory_xact_lock(%(lock_class)s, o.case_id::integer)
ORDER BY o.case_id, o.id
LIMIT %(batch)s
FOR UPDATE OF o SKIP LOCKED
