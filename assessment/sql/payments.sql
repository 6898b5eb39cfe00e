-- Every assessed month by its current revision, with what it means for the payments.
SELECT DISTINCT ON (r.month) to_char(r.month, 'YYYY-MM') AS month, r.revision, r.status, r.total, r.grade,
       g.name AS grade_name, r.attendance_rate, r.breaches, r.penalty, r.deferred, r.released, r.consequence,
       r.signed_by, r.signed_at, r.computed_at,
       (SELECT count(*) FROM assessment_result x WHERE x.month = r.month) AS revisions
FROM assessment_result r JOIN assessment_grade g ON g.code = r.grade
ORDER BY r.month, r.revision DESC
