-- The columns a revert restores from a history row: every stored column of the table except the
-- generated ones and the bookkeeping (version, updated_at, updated_by are set by the revert itself).
SELECT a.attname AS name
FROM pg_attribute a
WHERE a.attrelid = %(table)s::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
  AND a.attname <> ALL (ARRAY['version', 'updated_at', 'updated_by'])
ORDER BY a.attnum
