-- One page of the chosen box (cases/inbox.py): the cases of its groups (keys from cases/sql/inbox.sql),
-- in the box's order; the case list's columns are read for these ids only.
SELECT c.id, {key} AS key
FROM cases c
WHERE {filter}
  AND {key} IN (SELECT unnest(%(keys)s::jsonb[]))
ORDER BY {order}
LIMIT %(limit)s OFFSET %(offset)s
