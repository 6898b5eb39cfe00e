-- The history of one feature, newest first (component_history for components, feature_history for
-- unit grids, responsibility grids and POIs; both written by triggers): who (user name and display
-- name), when, the operation, the version it made, the survey batch if any, the properties before
-- and after, the names of the fields that changed (geom included) and both geometries as GeoJSON.
-- %(history_id)s narrows it to one change (NULL: all, up to %(limit)s).
WITH h AS (
    SELECT history_id, operation, version, changed_at, changed_by, batch, old_row, new_row
    FROM component_history
    WHERE %(table)s = 'component' AND component_id = %(id)s
      AND (%(history_id)s::bigint IS NULL OR history_id = %(history_id)s)
    UNION ALL
    SELECT history_id, operation, version, changed_at, changed_by, NULL, old_row, new_row
    FROM feature_history
    WHERE table_name = %(table)s AND feature_id = %(id)s
      AND (%(history_id)s::bigint IS NULL OR history_id = %(history_id)s)
)
SELECT h.history_id, h.operation, h.version, h.changed_at, h.changed_by,
       coalesce(nullif(u.display_name, ''), h.changed_by) AS changed_by_name, h.batch,
       h.old_row - ARRAY['geom', 'id_length'] AS before, h.new_row - ARRAY['geom', 'id_length'] AS after,
       h.old_row -> 'geom' AS before_geometry, h.new_row -> 'geom' AS after_geometry,
       h.old_row, h.new_row,
       ARRAY(SELECT k FROM jsonb_object_keys(coalesce(h.old_row, '{}') || coalesce(h.new_row, '{}')) k
             WHERE k <> ALL (ARRAY['version', 'updated_at', 'updated_by', 'id_length', 'area_m2'])
               AND (h.old_row -> k) IS DISTINCT FROM (h.new_row -> k)
             ORDER BY k) AS changed
FROM h LEFT JOIN app_user u ON u.username = h.changed_by
ORDER BY h.history_id DESC
LIMIT %(limit)s
