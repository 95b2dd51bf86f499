-- When the archived event happened (producer time), for listing raw events by time window as
-- Marquez's /api/v1/events/lineage does. Null for payloads without one time (Spline batches).
alter table raw_payload add column event_time timestamptz;

create index raw_payload_format_event_time on raw_payload (format, event_time);
