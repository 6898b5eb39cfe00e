-- The intake page's duplicate suggestions for a report not sent yet: the same candidates the intake
-- would record (db/migrations/1170_case_duplicate_candidates.sql), with what the page shows of each.
SELECT c.id, c.case_number, c.state, c.is_closed, c.standard, c.category_kind, c.category_code,
       round(d.distance_m::numeric, 1)::float8 AS distance_m, d.reason,
       ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat, c.reported_at, c.address, c.description, c.component_id
FROM case_duplicate_candidates(
        CASE WHEN %(lon)s::float8 IS NOT NULL THEN ST_SetSRID(ST_MakePoint(%(lon)s::float8, %(lat)s::float8), 4490) END,
        %(standard)s, %(kind)s, %(code)s, %(related)s::text[], %(component_id)s, %(now)s::timestamptz,
        %(limit)s) d
JOIN cases c ON c.id = d.id
ORDER BY d.reason, d.distance_m NULLS FIRST, c.id DESC
