-- Fire the due timers (at most %(batch)s), each exactly once even with several workers (SKIP LOCKED):
-- an alert for a timer that still counts, `void` for one whose case left the step that set it.
WITH due AS (
    SELECT t.id, t.case_id, t.kind, t.due_at FROM case_timer t
    WHERE t.done_at IS NULL AND t.due_at <= now()
    ORDER BY t.due_at LIMIT %(batch)s
    FOR UPDATE SKIP LOCKED
),
judged AS (
    -- a timer still counts only while the case is open and still in the step that set it
    SELECT d.*, c.state,
           (NOT c.is_closed AND d.due_at = CASE d.kind WHEN 'warn' THEN c.step_warn_at ELSE c.step_deadline_at END) AS live,
           c.step_deadline_at
    FROM due d JOIN cases c ON c.id = d.case_id
),
alerts AS (
    INSERT INTO case_alert (case_id, kind, state, deadline_at)
    SELECT case_id, kind, state, step_deadline_at FROM judged WHERE live
    RETURNING case_id
)
UPDATE case_timer t SET done_at = now(), attempts = t.attempts + 1,
    outcome = CASE WHEN j.live THEN 'fired' ELSE 'void' END
FROM judged j WHERE t.id = j.id
RETURNING t.id, t.case_id, t.kind, j.live
