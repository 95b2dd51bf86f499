-- Accumulating nodes (datasets, OpenLineage runs and jobs) merge what each event says. Events
-- for one run arrive in any order, so the merge is ordered by producer time: where two versions
-- set the same key, the later one wins; object-valued properties such as `facets` merge one
-- level further, so facets from different events accumulate.
create function headwater_merge(older jsonb, newer jsonb) returns jsonb
language sql immutable parallel safe
as $$
    select coalesce(jsonb_object_agg(k, case
            when jsonb_typeof(older -> k) = 'object' and jsonb_typeof(newer -> k) = 'object'
                then (older -> k) || (newer -> k)
            else coalesce(newer -> k, older -> k)
        end), '{}'::jsonb)
    from (select jsonb_object_keys(older) as k union select jsonb_object_keys(newer)) as keys
$$;

-- Other names of a node, e.g. the Hive table name (OpenLineage symlinks facet) of a warehouse
-- path. A reference through an alias reaches the node it names.
create table node_alias (
    alias       text        primary key,
    node_id     bigint      not null references node (node_id) on delete cascade,
    created_at  timestamptz not null default now()
);

create index node_alias_node on node_alias (node_id);

-- Marquez-style listings go by namespace.
create index node_namespace on node (kind, (properties ->> 'namespace'), name);
