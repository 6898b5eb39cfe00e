DROP TABLE IF EXISTS district_inbound;
DROP TRIGGER IF EXISTS case_event_district_outbox ON case_event;
DROP FUNCTION IF EXISTS district_outbox_enqueue();
DROP TABLE IF EXISTS district_outbox;
