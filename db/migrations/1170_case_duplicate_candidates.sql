-- Duplicate suggestions (疑似重复) as one function, so the intake's insert (cases/sql/insert_case.sql)
-- and the intake page's suggestions while a report is typed (GET /api/cases/duplicates) can never
-- disagree: the same component, or the same or a related category of the same catalog within 50 m,
-- reported in the 72 hours before p_now, not itself merged; nearest first, at most p_limit.
-- SECURITY INVOKER: called under a caller's row rules it answers only the cases he may see.
-- depends: 0100_cases
CREATE FUNCTION case_duplicate_candidates(p_geom geometry, p_standard text, p_kind text, p_code text,
                                          p_related text[], p_component_id text, p_now timestamptz,
                                          p_limit integer DEFAULT 10)
RETURNS TABLE (id bigint, distance_m float8, reason text) LANGUAGE sql STABLE AS $$
    SELECT c.id, ST_Distance(c.geom::geography, p_geom::geography) AS distance_m,
           CASE WHEN p_component_id IS NOT NULL AND c.component_id = p_component_id THEN 'same_component'
                WHEN c.category_code = p_code THEN 'same_category'
                ELSE 'related_category' END AS reason
    FROM cases c
    WHERE c.reported_at >= p_now - interval '72 hours'
      AND c.duplicate_of IS NULL
      AND ((p_component_id IS NOT NULL AND c.component_id = p_component_id)
           OR (p_geom IS NOT NULL AND c.geom IS NOT NULL
               AND ST_DWithin(c.geom::geography, p_geom::geography, 50)
               AND c.standard = p_standard AND c.category_kind = p_kind
               AND (c.category_code = p_code OR c.category_code = ANY(p_related))))
    ORDER BY 3, 2 NULLS LAST, c.id DESC
    LIMIT p_limit
$$;
