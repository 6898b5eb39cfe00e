DROP FUNCTION IF EXISTS case_sla_color(boolean, timestamptz, timestamptz);
