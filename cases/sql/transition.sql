-- One transition in one statement: the event (next seq, with where the actor stood if sent), its photos, the new step's timers and the
-- case row. The SET list is composed by cases/engine.py (column names from the engine and the
-- schema-checked effects, never from the request).
WITH ev AS (
    INSERT INTO case_event (case_id, seq, action, from_state, to_state, actor, actor_role, at, comment, data,
                            position, position_accuracy_m)
    SELECT %(id)s, coalesce(max(seq), 0) + 1, %(action)s, %(from_state)s, %(to_state)s, %(actor)s, %(role)s,
           %(now)s, %(comment)s, %(data)s,
           ST_SetSRID(ST_MakePoint(%(pos_lon)s::float8, %(pos_lat)s::float8), 4490), %(pos_accuracy)s::real
    FROM case_event WHERE case_id = %(id)s
    RETURNING seq
),
att AS (
    INSERT INTO case_attachment (case_id, seq, sha256, role)
    SELECT %(id)s, ev.seq, p, 'photo' FROM ev, unnest(%(photos)s::text[]) AS p
),
tm AS (
    INSERT INTO case_timer (case_id, step_seq, kind, due_at)
    SELECT %(id)s, ev.seq, k.kind, k.due FROM ev,
        (VALUES ('warn', %(warn)s::timestamptz), ('overdue', %(deadline)s::timestamptz)) AS k(kind, due)
    WHERE k.due IS NOT NULL
)
UPDATE cases SET {} FROM ev WHERE cases.id = %(id)s RETURNING cases.*
