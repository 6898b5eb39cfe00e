-- The caller's inboxes (待办) as groups, not cases: the open cases of cases/sql/inbox_filter.sql
-- counted per group (the key of cases/sql/inbox_key.sql). cases/inbox.py decides per group which boxes
-- and actions it is in; the page then asks for the cases of the chosen groups by their keys.
SELECT {key} AS key, count(*) AS n
FROM cases c
WHERE {filter}
GROUP BY 1
