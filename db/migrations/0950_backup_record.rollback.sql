DROP TABLE IF EXISTS backup_record;
