-- Ingestion checks that a machine's sequence numbers follow its clock; without
-- this index, that check scans the machine's whole usage history.
CREATE INDEX usage_events_equipment_seq ON usage_events (equipment_id, seq, at);
