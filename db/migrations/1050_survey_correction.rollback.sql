DROP TABLE IF EXISTS survey_correction;
