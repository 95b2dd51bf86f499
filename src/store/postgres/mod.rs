//! The PostgreSQL backend.
//!
//! Writes are set-based: a change set becomes a handful of `unnest`-driven upserts however many
//! nodes a plan has, inside one transaction. Queries are runtime-checked (`sqlx::query`) rather
//! than compile-time macros so the crate builds without a database and a second backend can
//! share the calling code.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use sqlx::postgres::{PgPoolOptions, PgRow};
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool, Postgres, Row, Transaction};

mod audit;
mod prune;
mod spline_queries;
mod url;

use super::archived_event;
use super::rows::{
    ALIASED_COLUMNS, EDGE_COLUMNS, EDGE_COUNTS, INDEXED_KINDS, LINK_COLUMNS, NODE_COLUMNS,
    NODE_COUNTS, PAYLOAD_COLUMNS, edge_from_row, kind_counts, like_pattern, link_changes_from_rows,
    link_from_row, node_from_row, node_text_from_row, payload_from_row,
};
use super::write::{
    self, StoredNode, alias_lookup_keys, alias_rows, declared_aliases, ensure_resolved, guard_keys,
    keyed_edges, merge_stored_tracked, missing_endpoints,
};
use super::{
    Adjacent, ApplyOutcome, DataSourceAt, EdgeRow, GraphCounts, LabelQuery, Namespace, NodeQuery,
    NodeRow, Page, PoolState, RawEventQuery, RawPayloadQuery, Readiness, SplineEventPage,
    SplineEventQuery, SplineRun, Store, StoredNames, StoredPayload, known_aliases, normalize,
};
use super::{AuditEntry, AuditQuery, AuditRecord, DeleteReport, PruneReport, PruneRequest};
use crate::error::{Error, Result};
use crate::graph::index::{LinkChanges, LinkFeed};
use crate::graph::{EdgeSource, Step, Topology};
use crate::model::{
    ChangeSet, EdgeKind, EdgeRecord, Guard, Link, MergePolicy, Node, NodeId, NodeKind, RawPayload,
    RawProperties,
};

/// The migrations, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Deadlocks and serialization failures are retried this many times before giving up.
const MAX_ATTEMPTS: u32 = 5;

/// A pool of connections to one PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

/// Pool settings.
#[derive(Debug, Clone, Copy)]
pub struct PoolSettings {
    /// Most connections held open.
    pub max_connections: u32,
    /// How long a request waits for a free connection before answering 503.
    pub acquire_timeout: Duration,
    /// How long one read statement may run (PostgreSQL's `statement_timeout`); writes,
    /// bounded by the request timeout instead, and migrations are exempt. `None`: no limit.
    pub query_timeout: Option<Duration>,
}

impl PgStore {
    /// Wraps an existing pool (tests hand in one per test database).
    pub fn new(pool: PgPool) -> Self {
        PgStore { pool }
    }

    /// Opens a pool lazily: the service starts, and reports 503, while the database is down.
    pub fn connect_lazy(url: &str, settings: PoolSettings) -> Result<Self> {
        let mut options = url::connect_options(url)?;
        if let Some(timeout) = settings.query_timeout {
            let ms = timeout.as_millis().to_string();
            options = options.options([("statement_timeout", ms.as_str())]);
        }
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.acquire_timeout)
            .after_connect(|conn, _| Box::pin(durable_commits(conn)))
            .connect_lazy_with(options);
        Ok(PgStore { pool })
    }

    /// Applies pending migrations.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        // A migration may rewrite a large table: no statement timeout meant for reads applies.
        let mut conn = self.pool.acquire().await?;
        sqlx::query("set statement_timeout = 0")
            .execute(&mut *conn)
            .await?;
        let outcome = MIGRATOR.run(&mut *conn).await;
        sqlx::query("reset statement_timeout")
            .execute(&mut *conn)
            .await?;
        outcome?;
        Ok(())
    }

    /// The underlying pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn try_apply(&self, raw: &RawPayload, changes: &ChangeSet) -> Result<ApplyOutcome> {
        let mut tx = begin_write(&self.pool).await?;
        let keys = alias_lookup_keys(changes);
        let declared = declared_aliases(changes);
        let (inserted, aliases) = audit::insert_raw(&mut tx, raw, &keys, &declared).await?;
        if !inserted {
            tx.commit().await.map_err(Error::from_commit)?;
            return Ok(ApplyOutcome {
                duplicate: true,
                ..ApplyOutcome::default()
            });
        }
        let outcome = write_graph(&mut tx, changes, aliases).await?;
        tx.commit().await.map_err(Error::from_commit)?;
        Ok(outcome)
    }

    async fn try_reapply(&self, changes: &ChangeSet) -> Result<ApplyOutcome> {
        let mut tx = begin_write(&self.pool).await?;
        let aliases = stored_aliases(&mut tx, changes).await?;
        let outcome = write_graph(&mut tx, changes, aliases).await?;
        tx.commit().await.map_err(Error::from_commit)?;
        Ok(outcome)
    }
}

/// Starts a write transaction, exempt from the read statement timeout (in the same round trip):
/// a write may wait for a lock a concurrent writer holds, and the request timeout bounds it.
pub async fn begin_write(pool: &PgPool) -> Result<Transaction<'static, Postgres>> {
    Ok(pool
        .begin_with("begin; set local statement_timeout = 0")
        .await?)
}

/// A 2xx promises that the write survives a crash of the database server. With
/// `synchronous_commit = off` (set on the server, the database or the role) PostgreSQL
/// acknowledges a commit before its WAL is flushed, and a crash loses it; such a session is
/// put back to the default, `on`. Every other value (`local`, `remote_write`, `remote_apply`)
/// flushes locally first, and is kept.
async fn durable_commits(conn: &mut PgConnection) -> std::result::Result<(), sqlx::Error> {
    let overridden: Option<String> = sqlx::query_scalar(
        "select set_config('synchronous_commit', 'on', false)
         where current_setting('synchronous_commit') = 'off'",
    )
    .fetch_optional(conn)
    .await?;
    if overridden.is_some() {
        tracing::warn!("synchronous_commit is off for this database; Headwater's sessions use on");
    }
    Ok(())
}

/// Writes a change set's nodes, edges and aliases, checking its guards; shared by `apply` and
/// `reapply`, so a replayed payload writes exactly what it wrote when it arrived. `stored` are
/// the stored aliases among the keys it mentions ([`stored_aliases`]).
async fn write_graph(
    tx: &mut Transaction<'_, Postgres>,
    changes: &ChangeSet,
    stored: StoredNames,
) -> Result<ApplyOutcome> {
    let known = known_aliases(stored, changes);
    let changes = normalize(changes, &known);
    let (mut ids, nodes_created, existing) = insert_nodes(tx, &changes.nodes).await?;
    check_guards(tx, &changes.guards).await?;
    resolve_endpoints(tx, &changes.edges, &mut ids).await?;
    // Rows other writers share (a popular dataset, an Airflow DAG's run) are locked as late
    // as possible: the lock, then one statement writing the merges and the edges, then commit.
    let merged = lock_and_merge(tx, existing).await?;
    ids.extend(merged.iter().map(|(id, (row, _))| (row.key.clone(), *id)));
    let edges_created = write_merged_and_edges(tx, &merged, &changes.edges, &ids).await?;
    insert_aliases(tx, &changes.aliases, &ids).await?;
    Ok(ApplyOutcome {
        duplicate: false,
        nodes_created,
        edges_created,
    })
}

/// The stored aliases among the keys a change set mentions, and which aliases it declares are
/// nodes' own keys ([`StoredNames`]).
async fn stored_aliases(
    tx: &mut Transaction<'_, Postgres>,
    changes: &ChangeSet,
) -> Result<StoredNames> {
    let keys = alias_lookup_keys(changes);
    let rows = sqlx::query(
        "select a.alias, n.key from node_alias a join node n using (node_id)
         where a.alias = any($1) and not exists (select 1 from node m where m.key = a.alias)",
    )
    .bind(&keys)
    .fetch_all(&mut **tx)
    .await?;
    let declared = declared_aliases(changes);
    let nodes: Vec<String> = sqlx::query_scalar("select key from node where key = any($1)")
        .bind(&declared)
        .fetch_all(&mut **tx)
        .await?;
    Ok(StoredNames {
        aliases: rows
            .into_iter()
            .map(|r| (r.get("alias"), r.get("key")))
            .collect(),
        nodes: nodes.into_iter().collect(),
    })
}

/// Records new aliases; an alias already taken keeps pointing where it pointed.
async fn insert_aliases(
    tx: &mut Transaction<'_, Postgres>,
    aliases: &[(String, String)],
    ids: &HashMap<String, NodeId>,
) -> Result<()> {
    let rows = alias_rows(aliases, ids);
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "insert into node_alias (alias, node_id) select * from unnest($1::text[], $2::bigint[])
         on conflict (alias) do nothing",
    )
    .bind(rows.iter().map(|r| r.0).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.1).collect::<Vec<_>>())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Runs a write transaction again while the database aborts it over lock conflicts with
/// concurrent writers, a few times with growing pauses; then answers 503. Rows are written in
/// key order so deadlocks are rare, but a serialization failure or a deadlock across a
/// foreign key check is still possible, and the next attempt usually goes through.
async fn retrying_conflicts<F, Fut>(mut attempt_once: F) -> Result<ApplyOutcome>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<ApplyOutcome>>,
{
    let mut attempt = 1;
    loop {
        match attempt_once().await {
            Err(err) if attempt < MAX_ATTEMPTS && err.is_lock_conflict() => {
                tracing::warn!(attempt, "retrying a write after a lock conflict");
                tokio::time::sleep(Duration::from_millis(20 * u64::from(attempt))).await;
                attempt += 1;
            }
            outcome => return outcome,
        }
    }
}

/// The namespace a node `n` belongs to for a reader limited by namespace, as `http::scope`
/// judges it: a dataset's or job's own (`spline` when it has none), a run's job's (`spline`
/// when it has none), a column's dataset's (none when that is unknown); `spline` for the
/// members of Spline plans.
const OWNER_NAMESPACE: &str = "
    case n.kind
        when 'dataset' then coalesce(case when jsonb_typeof(n.properties -> 'namespace') = 'string'
            then n.properties ->> 'namespace' end, 'spline')
        when 'job' then coalesce(case when jsonb_typeof(n.properties -> 'namespace') = 'string'
            then n.properties ->> 'namespace' end, 'spline')
        when 'run' then coalesce(case when jsonb_typeof(n.properties -> 'job' -> 'namespace') = 'string'
            then n.properties -> 'job' ->> 'namespace' end, 'spline')
        when 'field' then (
            select coalesce(
                (select case when jsonb_typeof(d.properties -> 'namespace') = 'string'
                     then d.properties ->> 'namespace' end
                 from node d where d.key = f.key),
                (select case when jsonb_typeof(d.properties -> 'namespace') = 'string'
                     then d.properties ->> 'namespace' end
                 from node_alias a join node d using (node_id)
                 where a.alias = f.key and not exists (select 1 from node m where m.key = f.key)))
            from (select 'dataset:' || substring(n.key from '^field:(.*)#') as key) f)
        else 'spline'
    end";

/// Stores the payload unless an identical one is stored; `false` means it was a duplicate.
/// Immutable nodes only have their sighting times widened; merged nodes take new properties.
const UPSERT_KEEP: &str = "
    insert into node (key, kind, name, properties, property_times, first_seen, last_seen)
    select * from unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::jsonb[], $6::timestamptz[], $7::timestamptz[])
    on conflict (key) do update set
        first_seen = least(node.first_seen, excluded.first_seen),
        last_seen = greatest(node.last_seen, excluded.last_seen),
        updated_at = now()
    returning node_id, key, (xmax = 0) as created";

/// Accumulating nodes are merged in Rust ([`merge_timed`]) so every backend applies one rule:
/// new keys are inserted as they are, existing rows are locked, merged and written back.
///
/// In the same round trip, the rows that existed already, read without a lock with their row
/// version (`xmin`), to merge into. The statement's snapshot predates its own inserts, so the
/// second half sees exactly the rows that were there before; a key a concurrent writer
/// inserted meanwhile is in neither half (the insert waits it out, then skips it), and is read
/// afterwards with [`PREFETCH_EXISTING`].
const INSERT_NEW: &str = "
    with inserted as (
        insert into node (key, kind, name, properties, property_times, first_seen, last_seen)
        select * from unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::jsonb[], $6::timestamptz[], $7::timestamptz[])
        on conflict (key) do nothing
        returning node_id, key
    )
    select node_id, key, true as inserted, null::text as name, null::jsonb as properties,
        null::jsonb as property_times, null::timestamptz as first_seen,
        null::timestamptz as last_seen, null::text as version
    from inserted
    union all
    select node_id, key, false, name, properties, property_times, first_seen, last_seen,
        xmin::text
    from node where key = any($1)";

/// The stored versions to merge into, read without a lock, each with its row version (`xmin`).
const PREFETCH_EXISTING: &str = "
    select node_id, key, name, properties, property_times, first_seen, last_seen,
        xmin::text as version
    from node where key = any($1)";

/// Locks the rows in key order (so writers never deadlock), returning the properties only of
/// rows whose version moved since the prefetch: those are merged again under the lock.
/// The redundant `key = any($1)` keeps the plan an index lookup whatever the statistics say:
/// joined to `unnest` alone, a table whose statistics lag its growth (a fresh database filling
/// up) is planned as a sequential scan.
/// `no key update`: the merge never changes a key, so it need not wait for writers that only
/// reference the row (an edge insert's foreign-key check takes `key share` on both ends, and a
/// popular dataset is referenced by every plan that reads it).
const LOCK_EXISTING: &str = "
    select n.node_id, n.key, n.name, n.first_seen, n.last_seen,
        case when n.xmin::text is distinct from p.version then n.properties end as properties,
        case when n.xmin::text is distinct from p.version then n.property_times end
            as property_times
    from node n join unnest($1::text[], $2::text[]) as p(key, version) on n.key = p.key
    where n.key = any($1)
    order by n.key for no key update of n";

/// A null `properties` leaves them as stored (the merge changed nothing in them).
/// Both in one round trip: the merged nodes (`$1`-`$6`), then the edges (`$7`-`$12`). A
/// sighting of an edge inside its stored window that adds nothing writes nothing.
const WRITE_MERGED_AND_EDGES: &str = "
    with merged as (
        update node n set name = u.name, properties = coalesce(u.properties, n.properties),
            property_times = u.times,
            first_seen = u.first_seen, last_seen = u.last_seen, updated_at = now()
        from unnest($1::bigint[], $2::text[], $3::jsonb[], $4::jsonb[], $5::timestamptz[], $6::timestamptz[])
            as u(node_id, name, properties, times, first_seen, last_seen)
        where n.node_id = u.node_id and n.node_id = any($1)
        returning 1
    )
    insert into edge (source_id, kind, target_id, properties, first_seen, last_seen)
    select * from unnest($7::bigint[], $8::text[], $9::bigint[], $10::jsonb[], $11::timestamptz[], $12::timestamptz[])
    on conflict (source_id, kind, target_id) do update set
        properties = case
            when excluded.properties = edge.properties or excluded.properties = '{}'
                then edge.properties
            when excluded.last_seen > edge.last_seen
                or (excluded.last_seen = edge.last_seen and excluded.properties <= edge.properties)
                then headwater_merge(edge.properties, excluded.properties)
            else headwater_merge(excluded.properties, edge.properties) end,
        first_seen = least(edge.first_seen, excluded.first_seen),
        last_seen = greatest(edge.last_seen, excluded.last_seen)
    where excluded.last_seen > edge.last_seen or excluded.first_seen < edge.first_seen
        or (excluded.properties <> edge.properties and excluded.properties <> '{}')
    returning (xmax = 0)";

/// Inserts new nodes and widens immutable ones; returns the ids (of every node of the change
/// set), how many are new, and the accumulating nodes that already exist with their stored
/// versions (to merge into).
async fn insert_nodes<'r, 'a>(
    tx: &mut Transaction<'_, Postgres>,
    rows: &'r [NodeRow<'a>],
) -> Result<(HashMap<String, NodeId>, u64, Existing<'r, 'a>)> {
    let keep: Vec<&NodeRow<'_>> = rows
        .iter()
        .filter(|r| r.policy == MergePolicy::Keep)
        .collect();
    let merge: Vec<&NodeRow<'_>> = rows
        .iter()
        .filter(|r| r.policy == MergePolicy::Merge)
        .collect();
    let (mut ids, mut created) = upsert_kept(tx, &keep).await?;
    let (inserted, existing) = insert_new(tx, &merge).await?;
    created += inserted.len() as u64;
    ids.extend(inserted);
    ids.extend(existing.stored.iter().map(|s| (s.key.clone(), s.id)));
    Ok((ids, created, existing))
}

async fn upsert_kept(
    tx: &mut Transaction<'_, Postgres>,
    batch: &[&NodeRow<'_>],
) -> Result<(HashMap<String, NodeId>, u64)> {
    if batch.is_empty() {
        return Ok((HashMap::new(), 0));
    }
    let returned = bind_rows(sqlx::query(UPSERT_KEEP), batch)
        .fetch_all(&mut **tx)
        .await?;
    let created = returned
        .iter()
        .filter(|r| r.get::<bool, _>("created"))
        .count() as u64;
    Ok((
        returned
            .into_iter()
            .map(|r| (r.get("key"), r.get("node_id")))
            .collect(),
        created,
    ))
}

/// Binds node rows as the seven column arrays both node inserts `unnest`.
fn bind_rows<'q>(query: PgQuery<'q>, batch: &[&'q NodeRow<'_>]) -> PgQuery<'q> {
    query
        .bind(batch.iter().map(|r| r.key.clone()).collect::<Vec<_>>())
        .bind(batch.iter().map(|r| r.kind.as_str()).collect::<Vec<_>>())
        .bind(batch.iter().map(|r| r.name.clone()).collect::<Vec<_>>())
        .bind(
            batch
                .iter()
                .map(|r| Json(&r.properties))
                .collect::<Vec<_>>(),
        )
        .bind(batch.iter().map(|r| Json(&r.times)).collect::<Vec<_>>())
        .bind(batch.iter().map(|r| r.first_seen).collect::<Vec<_>>())
        .bind(batch.iter().map(|r| r.last_seen).collect::<Vec<_>>())
}

type PgQuery<'q> = sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>;

/// A stored accumulating node as read before the lock: id, key, row version, and the new
/// version merged into it (and whether that changed its properties).
struct Prefetched<'a> {
    id: NodeId,
    key: String,
    version: String,
    merged: (NodeRow<'a>, bool),
}

/// The accumulating nodes of a change set that already exist.
struct Existing<'r, 'a> {
    /// Their new versions.
    rows: Vec<&'r NodeRow<'a>>,
    /// Their stored versions, merged with the new ones.
    stored: Vec<Prefetched<'a>>,
}

/// Inserts the accumulating nodes that are new (waiting out a concurrent insert of the same
/// key, which then counts as existing); returns their ids, and the rows that already exist
/// with their stored versions merged.
async fn insert_new<'r, 'a>(
    tx: &mut Transaction<'_, Postgres>,
    batch: &[&'r NodeRow<'a>],
) -> Result<(HashMap<String, NodeId>, Existing<'r, 'a>)> {
    let mut existing = Existing {
        rows: Vec::new(),
        stored: Vec::new(),
    };
    if batch.is_empty() {
        return Ok((HashMap::new(), existing));
    }
    let returned = bind_rows(sqlx::query(INSERT_NEW), batch)
        .fetch_all(&mut **tx)
        .await?;
    let incoming: HashMap<&str, &NodeRow<'_>> =
        batch.iter().map(|r| (r.key.as_str(), *r)).collect();
    let (inserted, stored): (Vec<PgRow>, Vec<PgRow>) =
        returned.into_iter().partition(|r| r.get("inserted"));
    let ids: HashMap<String, NodeId> = inserted
        .into_iter()
        .map(|r| (r.get("key"), r.get("node_id")))
        .collect();
    existing.stored = prefetched(&stored, &incoming);
    existing.rows = batch
        .iter()
        .copied()
        .filter(|r| !ids.contains_key(&r.key))
        .collect();
    let raced: Vec<&str> = existing
        .rows
        .iter()
        .map(|r| r.key.as_str())
        .filter(|k| !existing.stored.iter().any(|s| s.key == *k))
        .collect();
    if !raced.is_empty() {
        let rows = sqlx::query(PREFETCH_EXISTING)
            .bind(&raced)
            .fetch_all(&mut **tx)
            .await?;
        existing.stored.extend(prefetched(&rows, &incoming));
    }
    Ok((ids, existing))
}

fn prefetched<'a>(rows: &[PgRow], incoming: &HashMap<&str, &NodeRow<'a>>) -> Vec<Prefetched<'a>> {
    rows.iter()
        .filter_map(|row| {
            let key: String = row.get("key");
            let new = incoming.get(key.as_str())?;
            Some(Prefetched {
                id: row.get("node_id"),
                version: row.get("version"),
                merged: merged_row(row, new),
                key,
            })
        })
        .collect()
}

/// A stored node merged with a new version: its id, the merged row, and whether its
/// properties changed.
type Merged<'a> = (NodeId, (NodeRow<'a>, bool));

/// Merges the new versions into the existing accumulating nodes.
///
/// The merge was computed on versions read without a lock ([`insert_new`]); now the rows are
/// locked and only those another writer changed meanwhile (a different `xmin`) are merged
/// again. So a row many writers share is held for one statement and a few small merges, not
/// for decoding and merging every row of the change set.
async fn lock_and_merge<'a>(
    tx: &mut Transaction<'_, Postgres>,
    existing: Existing<'_, 'a>,
) -> Result<Vec<Merged<'a>>> {
    if existing.rows.is_empty() {
        return Ok(Vec::new());
    }
    let keys: Vec<&str> = existing.rows.iter().map(|r| r.key.as_str()).collect();
    let incoming: HashMap<&str, &NodeRow<'_>> =
        existing.rows.iter().map(|r| (r.key.as_str(), *r)).collect();
    let mut early: HashMap<String, (String, (NodeRow<'a>, bool))> = existing
        .stored
        .into_iter()
        .map(|p| (p.key, (p.version, p.merged)))
        .collect();
    let versions: Vec<Option<&str>> = keys
        .iter()
        .map(|k| early.get(*k).map(|(v, _)| v.as_str()))
        .collect();
    let locked = sqlx::query(LOCK_EXISTING)
        .bind(&keys)
        .bind(&versions)
        .fetch_all(&mut **tx)
        .await?;
    Ok(locked
        .iter()
        .filter_map(|row| {
            let key: &str = row.get("key");
            let new = incoming.get(key)?;
            let fresh: Option<Value> = row.get("properties");
            let merged = match (fresh, early.remove(key)) {
                (None, Some((_, merged))) => merged,
                _ => merged_row(row, new),
            };
            Some((row.get("node_id"), merged))
        })
        .collect())
}

/// Writes the merged nodes and upserts the edges, in one statement; returns how many edges
/// are new.
async fn write_merged_and_edges(
    tx: &mut Transaction<'_, Postgres>,
    merged: &[Merged<'_>],
    edges: &[EdgeRow],
    ids: &HashMap<String, NodeId>,
) -> Result<u64> {
    if merged.is_empty() && edges.is_empty() {
        return Ok(0);
    }
    let keyed = keyed_edges(edges, ids);
    let created: Vec<bool> = sqlx::query_scalar(WRITE_MERGED_AND_EDGES)
        .bind(merged.iter().map(|(id, _)| *id).collect::<Vec<_>>())
        .bind(
            merged
                .iter()
                .map(|(_, (r, _))| r.name.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            merged
                .iter()
                .map(|(_, (r, changed))| changed.then(|| Json(&r.properties)))
                .collect::<Vec<_>>(),
        )
        .bind(
            merged
                .iter()
                .map(|(_, (r, _))| Json(&r.times))
                .collect::<Vec<_>>(),
        )
        .bind(
            merged
                .iter()
                .map(|(_, (r, _))| r.first_seen)
                .collect::<Vec<_>>(),
        )
        .bind(
            merged
                .iter()
                .map(|(_, (r, _))| r.last_seen)
                .collect::<Vec<_>>(),
        )
        .bind(keyed.iter().map(|k| k.0).collect::<Vec<_>>())
        .bind(keyed.iter().map(|k| k.1).collect::<Vec<_>>())
        .bind(keyed.iter().map(|k| k.2).collect::<Vec<_>>())
        .bind(
            keyed
                .iter()
                .map(|k| Json(&k.3.properties))
                .collect::<Vec<_>>(),
        )
        .bind(keyed.iter().map(|k| k.3.first_seen).collect::<Vec<_>>())
        .bind(keyed.iter().map(|k| k.3.last_seen).collect::<Vec<_>>())
        .fetch_all(&mut **tx)
        .await?;
    Ok(created.into_iter().filter(|c| *c).count() as u64)
}

/// The stored row with a new version merged in, and whether its properties changed.
fn merged_row<'a>(stored: &PgRow, new: &NodeRow<'a>) -> (NodeRow<'a>, bool) {
    let version = StoredNode {
        name: stored.get("name"),
        properties: stored.get("properties"),
        times: stored.get("property_times"),
        first_seen: stored.get("first_seen"),
        last_seen: stored.get("last_seen"),
    };
    merge_stored_tracked(version, new)
}

/// Evaluates guards against the stored rows, share-locking them so a concurrent writer can't
/// change what was checked before this transaction commits.
async fn check_guards(tx: &mut Transaction<'_, Postgres>, guards: &[Guard]) -> Result<()> {
    if guards.is_empty() {
        return Ok(());
    }
    let keys = guard_keys(guards);
    let rows =
        sqlx::query("select key, properties from node where key = any($1) order by key for share")
            .bind(&keys)
            .fetch_all(&mut **tx)
            .await?;
    let stored: HashMap<String, Value> = rows
        .into_iter()
        .map(|r| (r.get("key"), r.get("properties")))
        .collect();
    write::check_guards(guards, &stored)
}

/// Looks up ids of edge endpoints that this change set didn't upsert (e.g. an event's plan).
async fn resolve_endpoints(
    tx: &mut Transaction<'_, Postgres>,
    edges: &[EdgeRow],
    ids: &mut HashMap<String, NodeId>,
) -> Result<()> {
    let missing = missing_endpoints(edges, ids);
    if missing.is_empty() {
        return Ok(());
    }
    let rows = sqlx::query("select node_id, key from node where key = any($1)")
        .bind(&missing)
        .fetch_all(&mut **tx)
        .await?;
    ids.extend(rows.into_iter().map(|r| (r.get("key"), r.get("node_id"))));
    ensure_resolved(&missing, ids)
}

impl PgStore {
    /// Rows of `columns` of the edges of `kinds` leaving or entering the frontier.
    async fn step_rows(
        &self,
        columns: &str,
        frontier: &[NodeId],
        kinds: &[EdgeKind],
        step: Step,
    ) -> Result<Vec<PgRow>> {
        let column = match step {
            Step::Forward => "source_id",
            Step::Backward => "target_id",
        };
        let sql = format!("select {columns} from edge where {column} = any($1) and kind = any($2)");
        let kinds: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
        Ok(sqlx::query(&sql)
            .bind(frontier)
            .bind(&kinds)
            .fetch_all(&self.pool)
            .await?)
    }
}

#[async_trait]
impl EdgeSource for PgStore {
    async fn step(
        &self,
        frontier: &[NodeId],
        kinds: &[EdgeKind],
        step: Step,
    ) -> Result<Vec<EdgeRecord>> {
        let rows = self.step_rows(EDGE_COLUMNS, frontier, kinds, step).await?;
        rows.iter().map(edge_from_row).collect()
    }
}

#[async_trait]
impl Topology for PgStore {
    async fn links(
        &self,
        frontier: &[NodeId],
        kinds: &[EdgeKind],
        step: Step,
    ) -> Result<Vec<Link>> {
        let rows = self.step_rows(LINK_COLUMNS, frontier, kinds, step).await?;
        rows.iter().map(link_from_row).collect()
    }
}

/// Every edge row of an indexed kind carries the id of the transaction that wrote it
/// (`txid`). A snapshot's `xmin` is the oldest transaction still running when it was taken:
/// everything older is committed (or gone) and visible. So one statement reads the links of
/// transactions from the previous `xmin` on, and its own `xmin` is where the next read starts.
/// Links of transactions that were running last time are read again; that is harmless.
/// Snapshot, epoch and links come from one statement, hence one snapshot.
fn feed_sql() -> String {
    format!(
        "select h.position, h.epoch, e.source_id, e.target_id, e.kind
         from (select pg_snapshot_xmin(pg_current_snapshot())::text::bigint as position,
                      (select epoch from graph_epoch) as epoch) h
         left join lateral (
             select {LINK_COLUMNS} from edge
             where txid >= $1::bigint::text::xid8 and kind in {INDEXED_KINDS}
         ) e on true"
    )
}

#[async_trait]
impl LinkFeed for PgStore {
    async fn link_changes(&self, since: Option<i64>) -> Result<LinkChanges> {
        let rows = sqlx::query(&feed_sql())
            .bind(since.unwrap_or(0))
            .fetch_all(&self.pool)
            .await?;
        link_changes_from_rows(&rows)
    }
}

#[async_trait]
impl Store for PgStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("select 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn apply(&self, raw: &RawPayload, changes: ChangeSet) -> Result<ApplyOutcome> {
        retrying_conflicts(|| self.try_apply(raw, &changes)).await
    }

    async fn has_payload(&self, format: &str, body: &[u8]) -> Result<bool> {
        let digest = Sha256::digest(body).to_vec();
        let found: bool = sqlx::query_scalar(
            "select exists (select 1 from raw_payload where format = $1 and sha256 = $2)",
        )
        .bind(format)
        .bind(digest)
        .fetch_one(&self.pool)
        .await?;
        Ok(found)
    }

    async fn node(&self, key: &str) -> Result<Option<(NodeId, Node)>> {
        let sql = format!(
            "select {NODE_COLUMNS} from node where key = $1
             union all
             select {ALIASED_COLUMNS} from node_alias a join node n using (node_id)
             where a.alias = $1 and not exists (select 1 from node m where m.key = a.alias)
             limit 1"
        );
        let row = sqlx::query(&sql)
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(node_from_row).transpose()
    }

    async fn nodes(&self, ids: &[NodeId]) -> Result<Vec<(NodeId, Node)>> {
        let sql = format!("select {NODE_COLUMNS} from node where node_id = any($1)");
        let rows = sqlx::query(&sql).bind(ids).fetch_all(&self.pool).await?;
        rows.iter().map(node_from_row).collect()
    }

    async fn node_texts(&self, ids: &[NodeId]) -> Result<Vec<(NodeId, Node<RawProperties>)>> {
        let sql = "select node_id, key, kind, name, properties::text as properties, first_seen,
                          last_seen
                   from node where node_id = any($1)";
        let rows = sqlx::query(sql).bind(ids).fetch_all(&self.pool).await?;
        rows.iter().map(node_text_from_row).collect()
    }

    async fn edges(&self, links: &[Link]) -> Result<Vec<EdgeRecord>> {
        if links.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "select {EDGE_COLUMNS} from edge
             where (source_id, kind, target_id) in
                   (select * from unnest($1::bigint[], $2::text[], $3::bigint[]))"
        );
        let rows = sqlx::query(&sql)
            .bind(links.iter().map(|l| l.source).collect::<Vec<_>>())
            .bind(links.iter().map(|l| l.kind.as_str()).collect::<Vec<_>>())
            .bind(links.iter().map(|l| l.target).collect::<Vec<_>>())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(edge_from_row).collect()
    }

    async fn list(&self, query: &NodeQuery) -> Result<Vec<Node>> {
        let sql = format!(
            "select {NODE_COLUMNS} from node n
             where ($1::text is null or kind = $1)
               and ($2::text is null or key ilike $2 or name ilike $2)
               and ($3::text is null or key > $3)
               and ($5::text[] is null or {OWNER_NAMESPACE} = any($5))
             order by key limit $4"
        );
        let rows = sqlx::query(&sql)
            .bind(query.kind.map(NodeKind::as_str))
            .bind(query.search.as_deref().map(like_pattern))
            .bind(query.after.as_deref())
            .bind(i64::from(query.limit))
            .bind(query.namespaces.as_deref())
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| node_from_row(r).map(|(_, n)| n))
            .collect()
    }

    async fn adjacent(&self, id: NodeId, limit: u32) -> Result<Adjacent> {
        let mut adjacent = Adjacent::default();
        for column in ["source_id", "target_id"] {
            let sql = format!(
                "select {EDGE_COLUMNS} from edge where {column} = $1 order by kind, source_id, target_id limit $2"
            );
            let rows = sqlx::query(&sql)
                .bind(id)
                .bind(i64::from(limit) + 1)
                .fetch_all(&self.pool)
                .await?;
            adjacent.truncated |= rows.len() > limit as usize;
            for row in rows.iter().take(limit as usize) {
                adjacent.edges.push(edge_from_row(row)?);
            }
        }
        Ok(adjacent)
    }

    async fn lineage_edges(&self) -> Result<Vec<EdgeRecord>> {
        let sql = format!("select {EDGE_COLUMNS} from edge where kind in ('input', 'output')");
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        rows.iter().map(edge_from_row).collect()
    }

    async fn dataset_ends(&self, sources: bool, page: Page) -> Result<(Vec<String>, u64)> {
        let filter = super::rows::dataset_ends_filter(sources);
        let keys: Vec<String> = sqlx::query_scalar(&format!(
            "select n.key {filter} order by n.key limit $1 offset $2"
        ))
        .bind(i64::from(page.limit))
        .bind(i64::from(page.offset))
        .fetch_all(&self.pool)
        .await?;
        let total: i64 = sqlx::query_scalar(&format!("select count(*) {filter}"))
            .fetch_one(&self.pool)
            .await?;
        Ok((keys, total as u64))
    }

    async fn namespaces(&self, page: Page) -> Result<Vec<Namespace>> {
        let rows = sqlx::query(
            "select properties ->> 'namespace' as name, min(first_seen) as first_seen, max(last_seen) as last_seen
             from node where kind in ('dataset', 'job') and properties ? 'namespace'
             group by 1 order by 1 limit $1 offset $2",
        )
        .bind(i64::from(page.limit))
        .bind(i64::from(page.offset))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| Namespace {
                name: r.get("name"),
                first_seen: r.get("first_seen"),
                last_seen: r.get("last_seen"),
            })
            .collect())
    }

    async fn in_namespace(
        &self,
        kind: NodeKind,
        namespace: &str,
        page: Page,
    ) -> Result<(Vec<(NodeId, Node)>, u64)> {
        let sql = format!(
            "select {NODE_COLUMNS}, count(*) over () as total from node
             where kind = $1 and properties ->> 'namespace' = $2
             order by name, key limit $3 offset $4"
        );
        let rows = sqlx::query(&sql)
            .bind(kind.as_str())
            .bind(namespace)
            .bind(i64::from(page.limit))
            .bind(i64::from(page.offset))
            .fetch_all(&self.pool)
            .await?;
        let total = match rows.first() {
            Some(r) => r.get::<i64, _>("total") as u64,
            None => self.count_in_namespace(kind, namespace).await?,
        };
        Ok((
            rows.iter().map(node_from_row).collect::<Result<_>>()?,
            total,
        ))
    }

    async fn runs_of(&self, job: NodeId, page: Page) -> Result<(Vec<Node>, u64)> {
        let sql = format!(
            "select {ALIASED_COLUMNS}, count(*) over () as total
             from edge e join node n on n.node_id = e.source_id
             where e.target_id = $1 and e.kind = 'run_of'
             order by n.last_seen desc, n.key limit $2 offset $3"
        );
        let rows = sqlx::query(&sql)
            .bind(job)
            .bind(i64::from(page.limit))
            .bind(i64::from(page.offset))
            .fetch_all(&self.pool)
            .await?;
        let total = match rows.first() {
            Some(r) => r.get::<i64, _>("total") as u64,
            None => self.count_runs(job).await?,
        };
        let runs = rows
            .iter()
            .map(|r| node_from_row(r).map(|(_, n)| n))
            .collect::<Result<_>>()?;
        Ok((runs, total))
    }

    async fn latest_runs(&self, jobs: &[NodeId]) -> Result<Vec<(NodeId, Node)>> {
        let sql = format!(
            "select distinct on (e.target_id) e.target_id as job_id, {ALIASED_COLUMNS}
             from edge e join node n on n.node_id = e.source_id
             where e.target_id = any($1) and e.kind = 'run_of'
             order by e.target_id, n.last_seen desc, n.key"
        );
        let rows = sqlx::query(&sql).bind(jobs).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| node_from_row(r).map(|(_, run)| (r.get("job_id"), run)))
            .collect()
    }

    async fn raw_events(&self, query: &RawEventQuery) -> Result<(Vec<Box<RawValue>>, u64)> {
        let order = if query.ascending { "asc" } else { "desc" };
        let sql = format!(
            "select body, count(*) over () as total from raw_payload
             where format = $1 and ($2::timestamptz is null or event_time >= $2)
               and ($3::timestamptz is null or event_time <= $3)
             order by event_time {order}, raw_payload_id {order} limit $4 offset $5"
        );
        let rows = sqlx::query(&sql)
            .bind(&query.format)
            .bind(query.after)
            .bind(query.before)
            .bind(i64::from(query.page.limit))
            .bind(i64::from(query.page.offset))
            .fetch_all(&self.pool)
            .await?;
        let total = match rows.first() {
            Some(r) => r.get::<i64, _>("total") as u64,
            None => count_raw_events(&self.pool, query).await?,
        };
        let events = rows
            .into_iter()
            .map(|r| archived_event(r.try_get("body")?))
            .collect::<Result<_>>()?;
        Ok((events, total))
    }

    async fn spline_events(&self, query: &SplineEventQuery) -> Result<SplineEventPage> {
        spline_queries::events(&self.pool, query).await
    }

    async fn spline_data_sources(&self, query: &SplineEventQuery) -> Result<SplineEventPage> {
        spline_queries::data_sources(&self.pool, query).await
    }

    async fn spline_plans(
        &self,
        as_at: Option<i64>,
        page: Page,
    ) -> Result<(Vec<(NodeId, Node)>, u64)> {
        spline_queries::plans(&self.pool, as_at, page).await
    }

    async fn spline_plan_members(&self, plan_ids: &[String]) -> Result<Vec<(NodeId, Node)>> {
        spline_queries::plan_members(&self.pool, plan_ids).await
    }

    async fn spline_runs(&self, runs: &[NodeId]) -> Result<Vec<SplineRun>> {
        spline_queries::runs(&self.pool, runs).await
    }

    async fn spline_writes_before(&self, reads: &[DataSourceAt]) -> Result<Vec<Vec<SplineRun>>> {
        spline_queries::writes_before(&self.pool, reads).await
    }

    async fn spline_reads_after(&self, writes: &[DataSourceAt]) -> Result<Vec<Vec<SplineRun>>> {
        spline_queries::reads_after(&self.pool, writes).await
    }

    async fn spline_label_names(&self, query: &LabelQuery) -> Result<Vec<String>> {
        spline_queries::label_names(&self.pool, query).await
    }

    async fn spline_label_values(&self, name: &str, query: &LabelQuery) -> Result<Vec<String>> {
        spline_queries::label_values(&self.pool, name, query).await
    }

    async fn raw_payloads(&self, query: &RawPayloadQuery) -> Result<Vec<StoredPayload>> {
        let sql = format!(
            "select {PAYLOAD_COLUMNS} from raw_payload where raw_payload_id > $1
               and ($2::timestamptz is null or received_at >= $2)
               and ($3::timestamptz is null or received_at < $3)
             order by raw_payload_id limit $4"
        );
        let rows = sqlx::query(&sql)
            .bind(query.after_id)
            .bind(query.since)
            .bind(query.until)
            .bind(i64::from(query.limit))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(payload_from_row).collect())
    }

    async fn reapply(&self, changes: ChangeSet) -> Result<ApplyOutcome> {
        retrying_conflicts(|| self.try_reapply(&changes)).await
    }

    async fn prune(&self, request: &PruneRequest) -> Result<PruneReport> {
        prune::prune(&self.pool, request).await
    }

    async fn readiness(&self) -> Result<Readiness> {
        let applied = applied_migrations(&self.pool).await?;
        let missing_migrations = MIGRATOR
            .iter()
            .filter(|m| m.migration_type.is_up_migration() && !applied.contains(&m.version))
            .map(|m| m.version)
            .collect();
        Ok(Readiness { missing_migrations })
    }

    async fn graph_counts(&self) -> Result<GraphCounts> {
        Ok(GraphCounts {
            nodes: count_by_kind(&self.pool, NODE_COUNTS).await?,
            edges: count_by_kind(&self.pool, EDGE_COUNTS).await?,
        })
    }

    async fn record(&self, entry: &AuditEntry) -> Result<()> {
        audit::record(&self.pool, entry).await
    }

    async fn audit_log(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>> {
        audit::audit_log(&self.pool, query).await
    }

    async fn delete_node(&self, key: &str, entry: AuditEntry) -> Result<Option<DeleteReport>> {
        audit::delete_node(&self.pool, key, entry).await
    }

    async fn property_writers(
        &self,
        keys: &[String],
    ) -> Result<HashMap<String, Map<String, Value>>> {
        let rows: Vec<(String, Json<Map<String, Value>>)> = sqlx::query_as(
            "select key, property_times -> '@by' from node
             where key = any($1) and jsonb_typeof(property_times -> '@by') = 'object'",
        )
        .bind(keys)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(k, by)| (k, by.0)).collect())
    }

    async fn secret(&self, name: &str, fresh: &[u8]) -> Result<Vec<u8>> {
        let made: Option<Vec<u8>> = sqlx::query_scalar(
            "with made as (
                 insert into server_secret (name, value) values ($1, $2)
                 on conflict (name) do nothing
                 returning value
             )
             select value from made
             union all
             select value from server_secret where name = $1
             limit 1",
        )
        .bind(name)
        .bind(fresh)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(value) = made {
            return Ok(value);
        }
        // Another process stored it while this statement ran, after the snapshot it reads.
        let value = sqlx::query_scalar("select value from server_secret where name = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await?;
        Ok(value)
    }

    fn pool_state(&self) -> PoolState {
        PoolState {
            size: self.pool.size(),
            idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
            max: self.pool.options().get_max_connections(),
        }
    }
}

/// Versions of the migrations applied successfully. A database that was never migrated has no
/// `_sqlx_migrations` table (`undefined_table`): nothing is applied, which is not an outage.
async fn applied_migrations(pool: &PgPool) -> Result<HashSet<i64>> {
    let versions = sqlx::query_scalar("select version from _sqlx_migrations where success")
        .fetch_all(pool)
        .await;
    match versions {
        Ok(versions) => Ok(versions.into_iter().collect()),
        Err(sqlx::Error::Database(err)) if err.code().as_deref() == Some("42P01") => {
            Ok(HashSet::new())
        }
        Err(err) => Err(err.into()),
    }
}

async fn count_by_kind(pool: &PgPool, sql: &'static str) -> Result<Vec<(String, u64)>> {
    Ok(kind_counts(sqlx::query_as(sql).fetch_all(pool).await?))
}

impl PgStore {
    /// The total behind an empty page (an offset past the end still reports the real count).
    async fn count_in_namespace(&self, kind: NodeKind, namespace: &str) -> Result<u64> {
        let n: i64 = sqlx::query_scalar(
            "select count(*) from node where kind = $1 and properties ->> 'namespace' = $2",
        )
        .bind(kind.as_str())
        .bind(namespace)
        .fetch_one(&self.pool)
        .await?;
        Ok(n as u64)
    }

    async fn count_runs(&self, job: NodeId) -> Result<u64> {
        let n: i64 = sqlx::query_scalar(
            "select count(*) from edge where target_id = $1 and kind = 'run_of'",
        )
        .bind(job)
        .fetch_one(&self.pool)
        .await?;
        Ok(n as u64)
    }
}

/// The total behind an empty page of raw events.
async fn count_raw_events(pool: &PgPool, query: &RawEventQuery) -> Result<u64> {
    let n: i64 = sqlx::query_scalar(
        "select count(*) from raw_payload where format = $1
           and ($2::timestamptz is null or event_time >= $2)
           and ($3::timestamptz is null or event_time <= $3)",
    )
    .bind(&query.format)
    .bind(query.after)
    .bind(query.before)
    .fetch_one(pool)
    .await?;
    Ok(n as u64)
}
