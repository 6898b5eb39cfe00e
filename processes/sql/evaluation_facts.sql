-- Per-case facts as of the end of the period [%(start)s, %(end)s): events at or after the end
-- do not exist yet. Only cases with an event inside the period are read.
--   filed_at      first `file` event            (立案)
--   state_at_end  to_state of the last event   (挂账 = suspended, 作废 = cancelled)
--   dispatched_at first `dispatch`; deadline_at / dept from the LAST dispatch (data.deadline_at,
--                 data.department_code), falling back to cases.deadline_at / department_code
--   handled_at    last `feedback`               (处置反馈)
--   closed_at     first event into `closed`     (结案)
--   reworks       number of `rework` events     (返工)
WITH period_cases AS (
    SELECT DISTINCT case_id FROM case_event WHERE at >= %(start)s AND at < %(end)s
), agg AS (
    SELECT e.case_id,
           min(e.at) FILTER (WHERE e.action = 'file') AS filed_at,
           (array_agg(e.to_state ORDER BY e.seq DESC) FILTER (WHERE e.to_state IS NOT NULL))[1] AS state_at_end,
           min(e.at) FILTER (WHERE e.action = 'dispatch') AS dispatched_at,
           (array_agg(e.data ->> 'deadline_at' ORDER BY e.seq DESC) FILTER (WHERE e.action = 'dispatch' AND e.data ? 'deadline_at'))[1] AS ev_deadline,
           (array_agg(e.data ->> 'department_code' ORDER BY e.seq DESC) FILTER (WHERE e.action = 'dispatch' AND e.data ? 'department_code'))[1] AS ev_dept,
           max(e.at) FILTER (WHERE e.action = 'feedback') AS handled_at,
           min(e.at) FILTER (WHERE e.to_state = 'closed') AS closed_at,
           count(*) FILTER (WHERE e.action = 'rework') AS reworks
    FROM period_cases p
    -- by (case_id, seq): the period's cases' events, not every event before the end
    CROSS JOIN LATERAL (SELECT * FROM case_event x WHERE x.case_id = p.case_id AND x.at < %(end)s) e
    GROUP BY e.case_id
), facts AS (
    SELECT c.id, c.channel, c.unit_grid_code, c.community_code, c.responsibility_grid_code, c.officer_id,
           c.reporter_officer_id, c.reported_at,
           coalesce(a.ev_dept, c.department_code) AS department_code,
           a.filed_at, a.state_at_end, a.dispatched_at, a.handled_at, a.closed_at, a.reworks,
           coalesce(a.ev_deadline::timestamptz, c.deadline_at) AS deadline_at,
           (a.filed_at >= %(start)s AND a.state_at_end NOT IN ('suspended', 'cancelled')) AS filed_in,
           c.channel = ANY(%(public_channels)s) AS is_public
    FROM agg a JOIN cases c ON c.id = a.case_id
)
