DROP TABLE IF EXISTS case_sla_level;
