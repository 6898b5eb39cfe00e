-- One page of a collection's deletions (feed_tombstone, migration 1200) for GET
-- /ogc/collections/{id}/changes: tombstones of `sources` (a table, and a typed view's own) deleted at or after `since`, after the
-- tombstone `after` (the page cursor), oldest first; one more row than asked tells whether a next page
-- exists. The watermark is the `since` of the client's next sync (feed_watermark()).
SELECT t.id AS seq, t.feature_id, t.deleted_at,
       feed_watermark() AS watermark
FROM feed_tombstone t
WHERE t.source = ANY(%(sources)s)
  AND (%(since)s::timestamptz IS NULL OR t.deleted_at >= %(since)s)
  AND t.id > %(after)s
ORDER BY t.id
LIMIT %(limit)s + 1
