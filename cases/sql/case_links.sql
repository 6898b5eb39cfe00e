-- one case's links (the extra columns of case_list.sql for the case page): its duplicate
-- suggestions and the cases merged into it
, (SELECT coalesce(jsonb_agg(jsonb_build_object('id', d.candidate_id, 'case_number', o.case_number,
          'state', o.state, 'is_closed', o.is_closed, 'distance_m', d.distance_m, 'reason', d.reason)
          ORDER BY d.reason, d.distance_m), '[]')
   FROM case_duplicate d JOIN cases o ON o.id = d.candidate_id WHERE d.case_id = c.id) AS duplicates,
  ARRAY(SELECT m.id FROM cases m WHERE m.duplicate_of = c.id ORDER BY m.id) AS merged_here
, (SELECT coalesce(jsonb_agg(jsonb_build_object('sha256', a.sha256, 'url', '/api/attachments/' || a.sha256,
          'seq', a.seq, 'action', e.action, 'at', e.at,
          -- before: what was reported (intake photos, the video snapshot); after: what was done
          'kind', CASE WHEN a.role = 'after' OR a.seq > 1 THEN 'after' ELSE 'before' END)
          ORDER BY a.seq, a.role, a.sha256), '[]')
   FROM case_attachment a JOIN case_event e ON (e.case_id, e.seq) = (a.case_id, a.seq)
   WHERE a.case_id = c.id) AS photos
