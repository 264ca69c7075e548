-- docker-compose.yml: run once by the postgres image when its volume is empty.
-- The superuser (temporal/temporal) belongs to Temporal's auto-setup, which creates the
-- databases temporal and temporal_visibility itself; the platform gets its own role.
CREATE ROLE orch LOGIN PASSWORD 'orch';
CREATE DATABASE orch OWNER orch;
