-- The lineage graph: one table of nodes, one of edges, whatever the wire format.
--
-- Keys are the public, readable identities (`dataset:<uri>`, `job:<planId>`...). Edges refer to
-- nodes by a compact bigint id instead, because traversal joins edges to edges hop after hop and
-- a bigint compares and indexes far cheaper than a URI.

create table node (
    node_id     bigint generated always as identity primary key,
    key         text        not null unique,
    kind        text        not null,
    name        text        not null,
    -- Everything producers said about the node. Shared nodes (datasets) merge top-level keys;
    -- immutable ones (Spline plans, events) keep their first version.
    properties  jsonb       not null default '{}',
    -- Producer time (event time where the payload has one, receipt time otherwise), kept apart
    -- from our own bookkeeping so that "as of" questions can be answered later.
    first_seen  timestamptz not null,
    last_seen   timestamptz not null,
    created_at  timestamptz not null default now(),
    updated_at  timestamptz not null default now()
);

-- Listing by kind pages through keys in order.
create index node_kind_key on node (kind, key);

create table edge (
    source_id   bigint      not null references node (node_id) on delete cascade,
    target_id   bigint      not null references node (node_id) on delete cascade,
    kind        text        not null,
    properties  jsonb       not null default '{}',
    first_seen  timestamptz not null,
    last_seen   timestamptz not null,
    created_at  timestamptz not null default now(),
    updated_at  timestamptz not null default now(),
    -- One edge per (source, kind, target): re-posting lineage never duplicates it. The key also
    -- serves downstream steps ("edges of these kinds leaving these nodes").
    primary key (source_id, kind, target_id)
);

-- Upstream steps walk edges backwards.
create index edge_target on edge (target_id, kind, source_id);

-- Every request body exactly as received (after gunzip), so the graph can be rebuilt from it
-- after a parser fix. The hash makes a retried request a no-op.
create table raw_payload (
    raw_payload_id  bigint generated always as identity primary key,
    format          text        not null,
    version         text        not null,
    content_type    text        not null,
    sha256          bytea       not null,
    body            bytea       not null,
    wire_bytes      bigint      not null,
    received_at     timestamptz not null default now(),
    unique (format, sha256)
);

create index raw_payload_received_at on raw_payload (received_at);
