-- Secrets the service keeps for itself, shared by every replica on this database: the key
-- page cursors are sealed with, so a cursor one replica handed out opens on another. Each is
-- made by the first process that needs it; rows are never updated (deleting one invalidates
-- what was sealed with it, and the next process makes a new one).
create table server_secret (
    name        text        primary key,
    value       bytea       not null,
    created_at  timestamptz not null default now()
);
