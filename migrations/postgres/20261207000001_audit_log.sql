-- Who wrote or deleted what, and when: one row per stored payload (written in the payload's
-- own transaction, so a payload is never stored without its row), per deleted node, per
-- prune and per replay. Kept apart from the graph and the raw archive: prune deletes raw
-- payloads, never audit rows.
create table audit_log (
    audit_id    bigint generated always as identity primary key,
    at          timestamptz not null default now(),
    -- The token's name, `anonymous` with authentication off, or the command that acted.
    actor       text        not null,
    -- `ingest`, `delete`, `prune` or `replay`.
    action      text        not null,
    -- What was acted on: a payload format, a node key, a time range.
    target      text        not null,
    request_id  text,
    detail      jsonb       not null default '{}'
);

create index audit_log_at on audit_log (at);
create index audit_log_actor_at on audit_log (actor, at);
