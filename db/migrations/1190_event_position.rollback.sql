ALTER TABLE case_event DROP COLUMN IF EXISTS position_accuracy_m, DROP COLUMN IF EXISTS position;
