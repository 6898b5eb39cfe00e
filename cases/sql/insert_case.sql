-- One intake in one statement: the day's case number (the counter row stays locked until commit,
-- so numbers are gap-free), the case, its `report` event, photos, step timers, and the duplicate
-- suggestions (db/migrations/1170_case_duplicate_candidates.sql; the new row is not visible to this
-- statement, so it never suggests itself).
WITH
num AS (
    INSERT INTO case_number_counter AS c (town_code, day, last_serial) VALUES (%(town_code)s, %(day)s, 1)
    ON CONFLICT (town_code, day) DO UPDATE SET last_serial = c.last_serial + 1
    RETURNING c.town_code || to_char(c.day, 'YYYYMMDD') || lpad(c.last_serial::text, 4, '0') AS case_number
),
ins AS (
    INSERT INTO cases (case_number, channel, standard, category_kind, category_code, component_id, urgency,
        workflow, workflow_version, state, is_closed, description, address, unit_grid_code, community_code,
        responsibility_grid_code, officer_id, reporter_officer_id, department_code, reporter_name, reporter_phone,
        external_id, reported_at, geom, version, updated_at, self_handled, needs_location,
        reported_standard, reported_code, camera_code, step_started_at, step_warn_at, step_deadline_at, closed_at)
    SELECT num.case_number, %(channel)s, %(standard)s, %(kind)s, %(code)s, %(component_id)s, %(urgency)s,
        %(workflow)s, %(workflow_version)s, %(state)s, %(is_closed)s, %(description)s, %(address)s,
        %(unit_grid_code)s, %(community_code)s, %(responsibility_grid_code)s, %(officer_id)s,
        %(reporter_officer_id)s, %(department_code)s, %(reporter_name)s, %(reporter_phone)s, %(external_id)s,
        %(now)s, CASE WHEN %(lon)s::float8 IS NOT NULL THEN ST_SetSRID(ST_MakePoint(%(lon)s::float8, %(lat)s::float8), 4490) END,
        1, %(now)s, %(self_handled)s, %(needs_location)s, %(reported_standard)s, %(reported_code)s,
        %(camera_code)s, %(step_started_at)s, %(step_warn_at)s, %(step_deadline_at)s, %(closed_at)s
    FROM num
    RETURNING id, case_number, geom, standard, category_kind, category_code, component_id
),
ev AS (
    INSERT INTO case_event (case_id, seq, action, from_state, to_state, actor, actor_role, at, comment, data)
    SELECT id, 1, 'report', NULL, %(state)s, %(actor)s, %(role)s, %(now)s, %(comment)s, %(event_data)s FROM ins
),
att AS (
    INSERT INTO case_attachment (case_id, seq, sha256, role)
    SELECT ins.id, 1, a.sha256, a.role FROM ins, jsonb_to_recordset(%(attachments)s::jsonb) AS a(sha256 text, role text)
),
tm AS (
    INSERT INTO case_timer (case_id, step_seq, kind, due_at)
    SELECT ins.id, 1, k.kind, k.due FROM ins,
        (VALUES ('warn', %(step_warn_at)s::timestamptz), ('overdue', %(step_deadline_at)s::timestamptz)) AS k(kind, due)
    WHERE k.due IS NOT NULL
),
dups AS (
    INSERT INTO case_duplicate (case_id, candidate_id, distance_m, reason)
    SELECT ins.id, d.id, d.distance_m, d.reason FROM ins, LATERAL case_duplicate_candidates(
        ins.geom, ins.standard, ins.category_kind, ins.category_code, %(related)s::text[], ins.component_id,
        %(now)s::timestamptz) d
    RETURNING candidate_id, distance_m, reason
)
SELECT ins.id, ins.case_number,
    (SELECT coalesce(jsonb_agg(jsonb_build_object(
        'id', c.id, 'case_number', c.case_number, 'state', c.state, 'is_closed', c.is_closed,
        'category_code', c.category_code, 'distance_m', round(d.distance_m::numeric, 1), 'reason', d.reason)
        ORDER BY d.reason, d.distance_m), '[]'::jsonb)
     FROM dups d JOIN cases c ON c.id = d.candidate_id) AS duplicates
FROM ins
