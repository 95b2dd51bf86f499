-- The embedded backend's schema: the same tables, columns and keys as the PostgreSQL one
-- (see migrations/postgres), so that queries and the graph they describe read the same.
--
-- SQLite has no timestamptz or jsonb. Times are TEXT in one fixed-width UTC form,
-- `YYYY-MM-DDTHH:MM:SS.ffffffZ`, which sorts as it compares; JSON is TEXT, read with SQLite's
-- JSON functions.

create table node (
    node_id         integer primary key,
    key             text not null unique,
    kind            text not null,
    name            text not null,
    properties      text not null default '{}',
    property_times  text not null default '{}',
    first_seen      text not null,
    last_seen       text not null,
    created_at      text not null,
    updated_at      text not null
);

create index node_kind_key on node (kind, key);
create index node_namespace on node (kind, properties ->> 'namespace', name);

create table edge (
    source_id   integer not null references node (node_id) on delete cascade,
    target_id   integer not null references node (node_id) on delete cascade,
    kind        text not null,
    properties  text not null default '{}',
    first_seen  text not null,
    last_seen   text not null,
    created_at  text not null,
    updated_at  text not null,
    primary key (source_id, kind, target_id)
) without rowid;

create index edge_target on edge (target_id, kind, source_id);

-- AUTOINCREMENT: ids are never reused after a prune, so replay and export, which page by id,
-- keep the order of receipt.
create table raw_payload (
    raw_payload_id  integer primary key autoincrement,
    format          text not null,
    version         text not null,
    content_type    text not null,
    sha256          blob not null,
    body            blob not null,
    wire_bytes      integer not null,
    received_at     text not null,
    event_time      text,
    unique (format, sha256)
);

create index raw_payload_received_at on raw_payload (received_at);
create index raw_payload_format_event_time on raw_payload (format, event_time);

create table node_alias (
    alias       text primary key,
    node_id     integer not null references node (node_id) on delete cascade,
    created_at  text not null
);

create index node_alias_node on node_alias (node_id);

-- The Spline consumer API's listings (see migrations/postgres/*_spline_consumer.sql).
create index node_spline_event_timestamp on node (cast(properties ->> 'timestamp' as integer))
    where kind = 'run' and properties ->> 'eventKey' is not null;
create index node_spline_plan_member on node (properties ->> 'planId', kind)
    where kind in ('operation', 'attribute');
