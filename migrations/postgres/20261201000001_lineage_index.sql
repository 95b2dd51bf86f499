-- The change feed of the in-memory lineage index (src/graph/index.rs): every replica reads
-- the walkable links other writers committed since it last looked.
--
-- Each edge row remembers the transaction that wrote it. A snapshot's xmin bounds the
-- transactions that may still commit, so "links of transactions from the last xmin on" never
-- misses a commit, whatever order concurrent writers commit in. Only the kinds walks follow are
-- indexed, so the other edges (most of a Spline plan) cost nothing extra to write.
alter table edge add column txid xid8 not null default pg_current_xact_id();

create index edge_walk_txid on edge (txid) where kind in ('input', 'output', 'derives', 'affects');

-- Moves on whenever walkable links are deleted: a feed only reports additions, so an index that
-- sees a new epoch reloads.
create table graph_epoch (
    singleton boolean primary key default true check (singleton),
    epoch     bigint  not null
);

insert into graph_epoch (epoch) values (0);

-- Any deletion of walkable links moves the epoch: prune, an operator's delete or truncate,
-- cascades from deleted nodes alike.
create function headwater_links_deleted() returns trigger
language plpgsql as $$
begin
    if exists (select 1 from gone where kind in ('input', 'output', 'derives', 'affects')) then
        update graph_epoch set epoch = epoch + 1;
    end if;
    return null;
end
$$;

create function headwater_edges_truncated() returns trigger
language plpgsql as $$
begin
    update graph_epoch set epoch = epoch + 1;
    return null;
end
$$;

create trigger edge_links_deleted after delete on edge
    referencing old table as gone for each statement execute function headwater_links_deleted();

create trigger edge_truncated after truncate on edge
    for each statement execute function headwater_edges_truncated();
