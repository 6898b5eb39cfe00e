-- A month's result from its confirmed events and records: item scores (never below 0), the
-- zeroing rules, total, grade, attendance rate, warnings and which of them are breaches, the
-- penalty and the payment consequence. Earlier months count by their current (highest) revision.
-- %(month)s: the month's first day; %(first_grade)s: the grade of its revision 1 (NULL for a first
-- computation), which a re-assessment may release.
WITH c AS (SELECT * FROM assessment_contract),
ev AS (
    SELECT e.*, r.item_code, r.points, r.zero_at, r.warning
    FROM assessment_event e JOIN assessment_rule r ON r.code = e.rule_code
    WHERE e.month = %(month)s AND e.status = 'confirmed'
),
items AS (
    SELECT i.code, i.name, i.max_points, i.position, coalesce(sum(ev.points * ev.count), 0) AS deducted,
           coalesce(sum(ev.count), 0) AS events
    FROM assessment_item i LEFT JOIN ev ON ev.item_code = i.code
    GROUP BY i.code
),
zero AS (
    SELECT coalesce(array_agg(DISTINCT rule_code ORDER BY rule_code), '{}') AS zeroed_by
    FROM ev WHERE zero_at IS NOT NULL AND count >= zero_at
),
score AS (
    SELECT CASE WHEN cardinality(zero.zeroed_by) > 0 THEN 0
                ELSE (SELECT sum(greatest(0, max_points - deducted)) FROM items) END AS total,
           zero.zeroed_by
    FROM zero
),
grade AS (
    SELECT g.* FROM assessment_grade g, score WHERE g.min_score <= score.total ORDER BY g.min_score DESC LIMIT 1
),
att AS (
    SELECT CASE WHEN count(*) > 0 THEN round(count(a.id)::numeric / count(*), 4) END AS rate,
           count(*) AS rostered, count(a.id) AS present
    FROM ops_roster ro LEFT JOIN ops_attendance a ON a.staff_id = ro.staff_id AND a.day = ro.day
    WHERE ro.day >= %(month)s AND ro.day < (%(month)s::date + interval '1 month')
),
earlier AS (
    SELECT DISTINCT ON (month) month, attendance_rate, grade
    FROM assessment_result WHERE month < %(month)s ORDER BY month, revision DESC
),
prior AS (
    SELECT count(*) FILTER (WHERE e.attendance_rate < c.attendance_min) AS low_attendance,
           count(*) FILTER (WHERE NOT g.top) AS not_top
    FROM c LEFT JOIN earlier e ON true LEFT JOIN assessment_grade g ON g.code = e.grade
),
unperformed AS (   -- each warning of an event with count n is n warnings, in the order they happened
    SELECT row_number() OVER (ORDER BY ev.occurred_at, ev.id, n) AS occurrence, ev.id AS event_id, ev.occurred_at
    FROM ev, generate_series(1, ev.count) n WHERE ev.warning
),
warnings AS (
    SELECT 'unperformed' AS kind, '未履行合同约定事项' AS name, u.occurrence, u.occurrence > c.free_warnings AS breach,
           u.event_id, 1 AS ord
    FROM unperformed u, c
    UNION ALL
    SELECT 'attendance', '到岗率低于' || round(c.attendance_min * 100) || '%%', prior.low_attendance + 1,
           prior.low_attendance + 1 >= 2, NULL, 2
    FROM att, c, prior WHERE att.rate < c.attendance_min
    UNION ALL
    SELECT 'not_excellent', '当月考核未达优秀', prior.not_top + 1, prior.not_top + 1 >= 2, NULL, 3
    FROM grade, prior WHERE NOT grade.top
),
first_grade AS (SELECT * FROM assessment_grade WHERE code = %(first_grade)s)
SELECT (SELECT jsonb_agg(jsonb_build_object('code', code, 'name', name, 'max', max_points, 'deducted', deducted,
                                            'events', events, 'score', greatest(0, max_points - deducted))
                         ORDER BY position) FROM items) AS items,
       score.total, score.zeroed_by, grade.code AS grade, att.rate AS attendance_rate,
       coalesce((SELECT jsonb_agg(jsonb_build_object('kind', kind, 'name', name, 'occurrence', occurrence,
                                                     'breach', breach, 'event_id', event_id) ORDER BY ord, occurrence)
                 FROM warnings), '[]') AS warnings,
       (SELECT count(*) FROM warnings WHERE breach)::int AS breaches,
       (SELECT count(*) FROM warnings WHERE breach) * round(c.total * c.breach_rate, 2) AS penalty,
       coalesce(fg.defers AND grade.releases, false) AS released,
       grade.defers AS deferred,
       CASE WHEN coalesce(fg.defers AND grade.releases, false) THEN '复核达到' || grade.name || '，解除暂缓，恢复支付'
            ELSE grade.consequence END AS consequence
FROM score, grade, att, c LEFT JOIN first_grade fg ON true
