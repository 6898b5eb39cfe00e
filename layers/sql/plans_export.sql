-- One plan as a GeoJSON FeatureCollection (CRS84 lon/lat), its shapes in drawing order.
SELECT json_build_object(
    'type', 'FeatureCollection',
    'name', p.name,
    'properties', json_build_object('plan_id', p.id, 'name', p.name, 'visibility', p.visibility, 'role', p.role,
                                    'updated_at', p.updated_at),
    'features', coalesce((
        SELECT json_agg(json_build_object(
                   'type', 'Feature', 'id', a.id, 'geometry', ST_AsGeoJSON(a.geom, 7)::json,
                   'properties', json_build_object('plan_id', a.plan_id, 'kind', a.kind, 'label', a.label,
                                                   'style', a.style, 'radius_m', a.radius_m))
                   ORDER BY a.id)
        FROM annotation a WHERE a.plan_id = p.id), '[]'::json)
)::text AS doc
FROM annotation_plan p
WHERE p.id = %(id)s
