-- The change feed of the in-memory lineage index (see migrations/postgres for its purpose).
--
-- SQLite has one writer at a time, so a clock bumped by each write transaction orders commits;
-- a transaction stamps the edges it creates with its clock value. Rows stored before this
-- migration get 0, which the first (full) read includes.
alter table edge add column seq integer not null default 0;

create index edge_walk_seq on edge (seq) where kind in ('input', 'output', 'derives', 'affects');

create table graph_clock (
    singleton integer primary key check (singleton = 1),
    clock     integer not null
);

insert into graph_clock values (1, 0);

-- Moves on whenever walkable links are deleted, by anyone (see migrations/postgres).
create table graph_epoch (
    singleton integer primary key check (singleton = 1),
    epoch     integer not null
);

insert into graph_epoch values (1, 0);

create trigger edge_links_deleted after delete on edge
    when old.kind in ('input', 'output', 'derives', 'affects')
begin
    update graph_epoch set epoch = epoch + 1;
end;
