DROP FUNCTION IF EXISTS case_duplicate_candidates(geometry, text, text, text, text[], text, timestamptz, integer);
