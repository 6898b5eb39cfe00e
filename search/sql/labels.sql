-- Every code a user sees, with its Chinese name, as one JSON document (GET /api/labels).
-- A state code named differently by two workflows takes the name of the workflow with more cases.
WITH wf_state AS (
    SELECT w.code AS workflow, s.key AS state, s.value ->> 'name' AS name,
           (SELECT count(*) FROM cases c WHERE c.workflow = w.code) AS n
    FROM workflow w, jsonb_each(w.definition -> 'states') s
    WHERE w.is_active
)
SELECT json_build_object(
    'states', (SELECT coalesce(json_object_agg(state, name), '{}') FROM (
                  SELECT DISTINCT ON (state) state, name FROM wf_state ORDER BY state, n DESC, workflow) x),
    'workflow_states', (SELECT coalesce(json_object_agg(workflow, states), '{}') FROM (
                  SELECT workflow, json_object_agg(state, name) AS states FROM wf_state GROUP BY workflow) x),
    'workflows', (SELECT coalesce(json_object_agg(code, name ORDER BY code), '{}') FROM workflow WHERE is_active),
    'channels', (SELECT json_object_agg(code, name ORDER BY code) FROM case_channel),
    'urgency', (SELECT json_object_agg(code, name ORDER BY rank) FROM case_urgency),
    'sla', (SELECT json_object_agg(code, name ORDER BY rank) FROM case_sla_level),
    'annotation_kinds', (SELECT json_object_agg(code, name ORDER BY rank) FROM annotation_kind),
    'plan_visibility', (SELECT json_object_agg(code, name ORDER BY rank) FROM plan_visibility),
    'roles', (SELECT json_object_agg(code, name ORDER BY code) FROM app_role),
    'departments', (SELECT coalesce(json_object_agg(code, coalesce(short_name, name) ORDER BY code), '{}') FROM department),
    'communities', (SELECT coalesce(json_object_agg(code, name ORDER BY code), '{}') FROM community),
    -- GB/T 47678.5 first: a CJ/T 214 code only where the new standard has no such code
    'component_classes', (SELECT json_object_agg(code, name) FROM (
                  SELECT DISTINCT ON (code) code, name FROM code_catalog WHERE kind = 'component'
                  ORDER BY code, standard <> 'GB/T 47678.5-2026') x),
    'categories', (SELECT json_object_agg(code, name) FROM (
                  SELECT DISTINCT ON (code) code, name FROM code_catalog WHERE kind IN ('matter', 'event')
                  ORDER BY code, standard <> 'GB/T 47678.5-2026', kind) x),
    'component_majors', (SELECT json_object_agg(major_code, major_name) FROM (
                  SELECT DISTINCT ON (major_code) major_code, major_name FROM code_catalog WHERE kind = 'component'
                  ORDER BY major_code, standard <> 'GB/T 47678.5-2026') x)
) AS doc
