-- When each property of an accumulating node was last set, in producer time (microseconds):
-- `{"state": 1729097615509000, "facets/parent": ...}`. Merging compares per key, so an event
-- that doesn't mention a key can't make an older value of it win over a newer one.
alter table node add column property_times jsonb not null default '{}';
