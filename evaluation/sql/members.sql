-- The cases behind every count of a period, for every entity kind at once: rows of
-- (kind, code, indicator, case_ids). Appended to processes/sql/evaluation_facts.sql (the per-case
-- facts as of the period's end), so the areas', departments' and officers' counts are the
-- area-evaluation process's. A count is cardinality(case_ids); per-event indicators (核实, 核查)
-- list a case once per event.
, ev AS (
    SELECT e.case_id, e.seq, e.action, e.actor, e.actor_role, e.at, e.to_state, e.data,
           e.to_state IS DISTINCT FROM e.from_state AS moves,
           (e.data -> 'set' ->> 'step_deadline_at')::timestamptz AS sets_deadline,
           count(*) FILTER (WHERE e.to_state IS DISTINCT FROM e.from_state) OVER w AS step_no,
           min(e.at) FILTER (WHERE e.action = 'verify') OVER later AS next_verify_at,
           min(e.at) FILTER (WHERE e.action IN ('check_pass', 'rework')) OVER later AS next_check_at,
           min(e.seq) FILTER (WHERE e.action = ANY(%(misdispatch_actions)s)) OVER later AS next_return_seq,
           min(e.seq) FILTER (WHERE e.action = ANY(%(dispatch_actions)s)) OVER later AS next_dispatch_seq
    FROM period_cases p
    -- by (case_id, seq): a case's events, not every event before the end
    CROSS JOIN LATERAL (SELECT * FROM case_event x WHERE x.case_id = p.case_id AND x.at < %(end)s) e
    WINDOW w AS (PARTITION BY e.case_id ORDER BY e.seq),
           later AS (PARTITION BY e.case_id ORDER BY e.seq ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING)
), timed AS (
    -- events of the period; on time = within the limit of the step the event ends (a moving event
    -- ends the previous step, any other event happens inside the current one)
    SELECT a.*, (s.sets_deadline IS NULL OR a.at <= s.sets_deadline) AS on_time
    FROM ev a
    LEFT JOIN ev s ON s.case_id = a.case_id AND s.moves AND s.step_no = a.step_no - a.moves::int
    WHERE a.at >= %(start)s
), filer AS (
    SELECT DISTINCT ON (case_id) case_id, actor FROM ev
    WHERE action = ANY(%(file_actions)s) AND actor_role = 'shift_leader'
    ORDER BY case_id, seq
), members AS (
    -- 区域: unit grids, communities, responsibility grids
    SELECT k.kind, k.code, i.indicator, f.id AS case_id
    FROM facts f
    CROSS JOIN LATERAL (VALUES ('unit_grid', f.unit_grid_code), ('community', f.community_code),
                               ('responsibility_grid', f.responsibility_grid_code)) k (kind, code)
    CROSS JOIN LATERAL (VALUES
        ('filed', true),
        ('closed', f.closed_at IS NOT NULL),
        ('on_time_closed', f.closed_at IS NOT NULL AND (f.deadline_at IS NULL OR coalesce(f.handled_at, f.closed_at) <= f.deadline_at)),
        ('reworked', f.reworks > 0),
        ('public_reports', f.is_public)) i (indicator, hit)
    WHERE f.filed_in AND k.code IS NOT NULL AND i.hit
    UNION ALL
    -- 专业部门: cases first dispatched in the period, by the department of the last dispatch
    SELECT 'department', f.department_code, i.indicator, f.id
    FROM facts f
    CROSS JOIN LATERAL (VALUES
        ('dispatched', true),
        ('handled', f.handled_at IS NOT NULL),
        ('on_time_handled', f.handled_at IS NOT NULL AND (f.deadline_at IS NULL OR f.handled_at <= f.deadline_at)),
        ('overdue_handled', f.handled_at IS NOT NULL AND f.handled_at > f.deadline_at),
        ('overdue_unhandled', f.handled_at IS NULL AND f.deadline_at < %(end)s
                              AND coalesce(f.state_at_end, '') NOT IN ('cancelled', 'suspended')),
        ('closed', f.closed_at IS NOT NULL),
        ('reworked', f.reworks > 0)) i (indicator, hit)
    WHERE f.dispatched_at >= %(start)s AND f.department_code IS NOT NULL AND i.hit
    UNION ALL
    -- 监督员: patrol reports, missed public reports in his grid
    SELECT 'officer', f.reporter_officer_id::text, i.indicator, f.id
    FROM facts f
    CROSS JOIN LATERAL (VALUES ('reports', true), ('valid_reports', f.filed_at IS NOT NULL)) i (indicator, hit)
    WHERE f.channel = 'patrol' AND f.reporter_officer_id IS NOT NULL AND f.reported_at >= %(start)s AND i.hit
    UNION ALL
    SELECT 'officer', f.officer_id::text, i.indicator, f.id
    FROM facts f
    CROSS JOIN LATERAL (VALUES ('grid_filed', true), ('missed', f.is_public)) i (indicator, hit)
    WHERE f.filed_in AND f.officer_id IS NOT NULL AND i.hit
    UNION ALL
    -- 监督员: each entry into `verifying` (核实) and each `feedback` (核查 due) in the period
    SELECT 'officer', c.officer_id::text, i.indicator, t.case_id
    FROM timed t JOIN cases c ON c.id = t.case_id
    CROSS JOIN LATERAL (VALUES
        ('to_verify', t.to_state = 'verifying' AND t.moves),
        ('verified_on_time', t.to_state = 'verifying' AND t.moves
                             AND t.next_verify_at <= coalesce((t.data ->> 'deadline_at')::timestamptz, t.at + %(verify_limit)s)),
        ('to_check', t.action = 'feedback'),
        ('checked_on_time', t.action = 'feedback'
                            AND t.next_check_at <= coalesce((t.data ->> 'check_deadline_at')::timestamptz, t.at + %(check_limit)s))
        ) i (indicator, hit)
    WHERE c.officer_id IS NOT NULL AND (t.to_state = 'verifying' OR t.action = 'feedback') AND i.hit
    UNION ALL
    -- 受理员
    SELECT DISTINCT 'intake_operator', t.actor, 'accepted', t.case_id
    FROM timed t WHERE t.actor_role = 'intake_operator' AND t.action = ANY(%(accept_actions)s)
    UNION ALL
    SELECT 'intake_operator', t.actor, i.indicator, t.case_id
    FROM timed t
    CROSS JOIN LATERAL (VALUES
        ('verify_sent', t.action = ANY(%(verify_dispatch_actions)s)),
        ('verify_sent_on_time', t.action = ANY(%(verify_dispatch_actions)s) AND t.on_time),
        ('check_sent', t.action = ANY(%(check_dispatch_actions)s)),
        ('check_sent_on_time', t.action = ANY(%(check_dispatch_actions)s) AND t.on_time)) i (indicator, hit)
    WHERE t.actor_role = 'intake_operator' AND i.hit
    UNION ALL
    -- 值班长: filings in the period (on time, later voided), closings of the cases he filed
    SELECT 'shift_leader', t.actor, i.indicator, t.case_id
    FROM timed t JOIN facts f ON f.id = t.case_id
    CROSS JOIN LATERAL (VALUES ('filed', true), ('filed_on_time', t.on_time),
                               ('cancelled', f.state_at_end = ANY(%(cancelled_states)s))) i (indicator, hit)
    WHERE t.actor_role = 'shift_leader' AND t.action = ANY(%(file_actions)s) AND i.hit
    UNION ALL
    SELECT 'shift_leader', fl.actor, i.indicator, t.case_id
    FROM timed t JOIN filer fl USING (case_id)
    CROSS JOIN LATERAL (VALUES ('closed', true), ('closed_on_time', t.on_time)) i (indicator, hit)
    WHERE t.to_state = 'closed' AND t.moves AND i.hit
    UNION ALL
    -- 派遣员: dispatches in the period, on time, sent back (退回) before the next dispatch
    SELECT 'dispatcher', t.actor, i.indicator, t.case_id
    FROM timed t
    CROSS JOIN LATERAL (VALUES ('dispatched', true), ('dispatched_on_time', t.on_time),
                               ('misdispatched', t.next_return_seq IS NOT NULL
                                                 AND (t.next_dispatch_seq IS NULL OR t.next_return_seq < t.next_dispatch_seq))) i (indicator, hit)
    WHERE t.actor_role = 'dispatcher' AND t.action = ANY(%(dispatch_actions)s) AND i.hit
)
SELECT kind, code, indicator, array_agg(case_id ORDER BY case_id) AS case_ids
FROM members
GROUP BY kind, code, indicator
