//! The embedded backend: one SQLite database file, no server to run.
//!
//! It is the default when no PostgreSQL URL is configured, so a laptop can try Headwater with
//! one command. The graph, merge rules, guards, aliases and traversal are the shared Rust code
//! the PostgreSQL backend uses ([`super::write`], [`super::rows`], [`crate::graph`]); only the
//! SQL differs where the dialects do (no arrays, `unnest` or jsonb: lists travel as JSON text
//! and are read with `json_each`).
//!
//! SQLite allows one writer at a time. Writes go through a pool of one connection and start
//! with `BEGIN IMMEDIATE`, so a transaction holds the write lock from its first statement and
//! never fails half-way on a lock upgrade; reads use their own pool and, in WAL mode, never
//! wait for the writer. Another process on the same file (e.g. `headwater import` while the
//! service runs) waits up to the busy timeout for the lock.

mod audit;
mod prune;
mod search;
mod spline_queries;
mod write;

use search::Search;

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use sha2::Digest;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow};
use sqlx::{Row, SqlitePool};

use super::archived_event;
use super::postgres::PoolSettings;
use super::rows::{
    ALIASED_COLUMNS, EDGE_COLUMNS, EDGE_COUNTS, INDEXED_KINDS, LINK_COLUMNS, NODE_COLUMNS,
    NODE_COUNTS, PAYLOAD_COLUMNS, edge_from_row, kind_counts, link_changes_from_rows,
    link_from_row, node_from_row, node_text_from_row, payload_from_row,
};
use super::{
    Adjacent, ApplyOutcome, DataSourceAt, GraphCounts, LabelQuery, Namespace, NodeQuery, Page,
    PoolState, PruneReport, PruneRequest, RawEventQuery, RawPayloadQuery, Readiness,
    SplineEventPage, SplineEventQuery, SplineRun, Store, StoredPayload,
};
use super::{AuditEntry, AuditQuery, AuditRecord, DeleteReport};
use crate::error::{Error, Result};
use crate::graph::index::{LinkChanges, LinkFeed};
use crate::graph::{EdgeSource, Step, Topology};
use crate::model::{
    ChangeSet, EdgeKind, EdgeRecord, Link, Node, NodeId, NodeKind, RawPayload, RawProperties,
};

/// The embedded backend's migrations.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// How long a writer waits for another process to release the database file.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Times as SQLite stores them: fixed-width UTC text, so text order is time order.
pub fn ts(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Optional times, as [`ts`].
pub fn ts_opt(at: Option<DateTime<Utc>>) -> Option<String> {
    at.map(ts)
}

/// A list bound as one JSON array parameter, read in SQL with `json_each`.
pub fn json_list<T: Serialize>(items: &[T]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".to_owned())
}

/// One SQLite database file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at a `sqlite://` URL, lazily like
    /// [`super::postgres::PgStore::connect_lazy`].
    pub fn connect_lazy(url: &str, settings: PoolSettings) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| Error::Internal(anyhow::anyhow!("invalid SQLite URL: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(settings.acquire_timeout)
            .connect_lazy_with(options.clone());
        let reader = SqlitePoolOptions::new()
            .max_connections(settings.max_connections.max(1))
            .acquire_timeout(settings.acquire_timeout)
            .connect_lazy_with(options.read_only(true));
        Ok(SqliteStore { writer, reader })
    }

    /// Applies pending migrations.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        MIGRATOR.run(&self.writer).await?;
        Ok(())
    }

    /// The pool of the one writing connection (tests and commands run SQL through it).
    pub fn pool(&self) -> &SqlitePool {
        &self.writer
    }

    /// Closes both pools, so the file can be removed or copied whole.
    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }

    async fn count(&self, sql: &str, binds: &[&str]) -> Result<u64> {
        let mut query = sqlx::query_scalar::<_, i64>(sql);
        for b in binds {
            query = query.bind(*b);
        }
        Ok(query.fetch_one(&self.reader).await?.max(0) as u64)
    }
}

/// Versions of the migrations applied successfully (none in a fresh file).
async fn applied_migrations(pool: &SqlitePool) -> Result<HashSet<i64>> {
    let table: Option<String> = sqlx::query_scalar(
        "select name from sqlite_master where type = 'table' and name = '_sqlx_migrations'",
    )
    .fetch_optional(pool)
    .await?;
    if table.is_none() {
        return Ok(HashSet::new());
    }
    let versions: Vec<i64> =
        sqlx::query_scalar("select version from _sqlx_migrations where success")
            .fetch_all(pool)
            .await?;
    Ok(versions.into_iter().collect())
}

impl SqliteStore {
    /// Rows of `columns` of the edges of `kinds` leaving or entering the frontier.
    async fn step_rows(
        &self,
        columns: &str,
        frontier: &[NodeId],
        kinds: &[EdgeKind],
        step: Step,
    ) -> Result<Vec<SqliteRow>> {
        let column = match step {
            Step::Forward => "source_id",
            Step::Backward => "target_id",
        };
        let sql = format!(
            "select {columns} from edge
             where {column} in (select value from json_each($1))
               and kind in (select value from json_each($2))"
        );
        let kinds: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
        Ok(sqlx::query(&sql)
            .bind(json_list(frontier))
            .bind(json_list(&kinds))
            .fetch_all(&self.reader)
            .await?)
    }
}

#[async_trait]
impl EdgeSource for SqliteStore {
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
impl Topology for SqliteStore {
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

/// SQLite has one writer at a time, so a counter bumped by every write transaction
/// (`graph_clock`) orders commits: a reader sees a transaction's edges, stamped with its clock
/// value (`seq`), exactly when it sees its clock value. One statement reads the clock, the
/// epoch and the newer links from one snapshot.
fn feed_sql() -> String {
    format!(
        "select c.clock as position, g.epoch, e.source_id, e.target_id, e.kind
         from graph_clock c cross join graph_epoch g
         left join edge e on e.seq > $1 and e.kind in {INDEXED_KINDS}"
    )
}

#[async_trait]
impl LinkFeed for SqliteStore {
    async fn link_changes(&self, since: Option<i64>) -> Result<LinkChanges> {
        let rows = sqlx::query(&feed_sql())
            .bind(since.unwrap_or(-1))
            .fetch_all(&self.reader)
            .await?;
        link_changes_from_rows(&rows)
    }
}

/// The namespace a node `n` belongs to for a reader limited by namespace; see the PostgreSQL
/// backend's `OWNER_NAMESPACE`. A column's dataset key is its own key up to its last `#`
/// (`rtrim` drops every character but `#` from the end).
const OWNER_NAMESPACE: &str = "
    case n.kind
        when 'dataset' then coalesce(case when json_type(n.properties, '$.namespace') = 'text'
            then n.properties ->> '$.namespace' end, 'spline')
        when 'job' then coalesce(case when json_type(n.properties, '$.namespace') = 'text'
            then n.properties ->> '$.namespace' end, 'spline')
        when 'run' then coalesce(case when json_type(n.properties, '$.job.namespace') = 'text'
            then n.properties ->> '$.job.namespace' end, 'spline')
        when 'field' then (
            select coalesce(
                (select case when json_type(d.properties, '$.namespace') = 'text'
                     then d.properties ->> '$.namespace' end
                 from node d where d.key = f.key),
                (select case when json_type(d.properties, '$.namespace') = 'text'
                     then d.properties ->> '$.namespace' end
                 from node_alias a join node d using (node_id)
                 where a.alias = f.key and not exists (select 1 from node m where m.key = f.key)))
            from (select 'dataset:' || substr(p.prefix, 7, length(p.prefix) - 7) as key
                  from (select rtrim(n.key, replace(n.key, '#', '')) as prefix) p) f)
        else 'spline'
    end";

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("select 1").execute(&self.reader).await?;
        Ok(())
    }

    async fn apply(&self, raw: &RawPayload, changes: ChangeSet) -> Result<ApplyOutcome> {
        write::apply(&self.writer, Some(raw), &changes).await
    }

    async fn has_payload(&self, format: &str, body: &[u8]) -> Result<bool> {
        let digest = sha2::Sha256::digest(body).to_vec();
        let found: bool = sqlx::query_scalar(
            "select exists (select 1 from raw_payload where format = $1 and sha256 = $2)",
        )
        .bind(format)
        .bind(digest)
        .fetch_one(&self.reader)
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
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(node_from_row).transpose()
    }

    async fn nodes(&self, ids: &[NodeId]) -> Result<Vec<(NodeId, Node)>> {
        let sql = format!(
            "select {NODE_COLUMNS} from node where node_id in (select value from json_each($1))"
        );
        let rows = sqlx::query(&sql)
            .bind(json_list(ids))
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(node_from_row).collect()
    }

    async fn node_texts(&self, ids: &[NodeId]) -> Result<Vec<(NodeId, Node<RawProperties>)>> {
        let sql = format!(
            "select {NODE_COLUMNS} from node where node_id in (select value from json_each($1))"
        );
        let rows = sqlx::query(&sql)
            .bind(json_list(ids))
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(node_text_from_row).collect()
    }

    async fn edges(&self, links: &[Link]) -> Result<Vec<EdgeRecord>> {
        if links.is_empty() {
            return Ok(Vec::new());
        }
        let triples: Vec<(NodeId, &str, NodeId)> = links
            .iter()
            .map(|l| (l.source, l.kind.as_str(), l.target))
            .collect();
        // One primary-key lookup per link (see `stored_edges` in write.rs).
        let sql = "select e.source_id, e.target_id, e.kind, e.properties, e.first_seen,
                          e.last_seen
                   from json_each($1) j cross join edge e
                   on e.source_id = j.value ->> 0 and e.kind = j.value ->> 1
                      and e.target_id = j.value ->> 2";
        let rows = sqlx::query(sql)
            .bind(json_list(&triples))
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(edge_from_row).collect()
    }

    async fn list(&self, query: &NodeQuery) -> Result<Vec<Node>> {
        let search = Search::new(query.search.as_deref().unwrap_or_default());
        let sql = format!(
            "select {NODE_COLUMNS} from node n
             where ($1 is null or kind = $1)
               and ($2 is null or {key} or {name})
               and ($3 is null or key > $3)
               and ($5 is null or {OWNER_NAMESPACE} in (select value from json_each($5)))
             order by key limit $4",
            key = search.matches("n.key", "$2"),
            name = search.matches("n.name", "$2"),
        );
        let rows = sqlx::query(&sql)
            .bind(query.kind.map(NodeKind::as_str))
            .bind(query.search.as_ref().map(|_| search.pattern()))
            .bind(query.after.as_deref())
            .bind(i64::from(query.limit))
            .bind(query.namespaces.as_deref().map(json_list))
            .fetch_all(&self.reader)
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
                .fetch_all(&self.reader)
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
        let rows = sqlx::query(&sql).fetch_all(&self.reader).await?;
        rows.iter().map(edge_from_row).collect()
    }

    async fn dataset_ends(&self, sources: bool, page: Page) -> Result<(Vec<String>, u64)> {
        let filter = super::rows::dataset_ends_filter(sources);
        let keys: Vec<String> = sqlx::query_scalar(&format!(
            "select n.key {filter} order by n.key limit $1 offset $2"
        ))
        .bind(i64::from(page.limit))
        .bind(i64::from(page.offset))
        .fetch_all(&self.reader)
        .await?;
        let total = self
            .count(&format!("select count(*) {filter}"), &[])
            .await?;
        Ok((keys, total))
    }

    async fn namespaces(&self, page: Page) -> Result<Vec<Namespace>> {
        let rows = sqlx::query(
            "select properties ->> 'namespace' as name, min(first_seen) as first_seen,
                    max(last_seen) as last_seen
             from node where kind in ('dataset', 'job') and properties ->> 'namespace' is not null
             group by 1 order by 1 limit $1 offset $2",
        )
        .bind(i64::from(page.limit))
        .bind(i64::from(page.offset))
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(namespace_from_row).collect()
    }

    async fn in_namespace(
        &self,
        kind: NodeKind,
        namespace: &str,
        page: Page,
    ) -> Result<(Vec<(NodeId, Node)>, u64)> {
        let sql = format!(
            "select {NODE_COLUMNS} from node
             where kind = $1 and properties ->> 'namespace' = $2
             order by name, key limit $3 offset $4"
        );
        let rows = sqlx::query(&sql)
            .bind(kind.as_str())
            .bind(namespace)
            .bind(i64::from(page.limit))
            .bind(i64::from(page.offset))
            .fetch_all(&self.reader)
            .await?;
        let total = self
            .count(
                "select count(*) from node where kind = $1 and properties ->> 'namespace' = $2",
                &[kind.as_str(), namespace],
            )
            .await?;
        Ok((
            rows.iter().map(node_from_row).collect::<Result<_>>()?,
            total,
        ))
    }

    async fn runs_of(&self, job: NodeId, page: Page) -> Result<(Vec<Node>, u64)> {
        let sql = format!(
            "select {ALIASED_COLUMNS}
             from edge e join node n on n.node_id = e.source_id
             where e.target_id = $1 and e.kind = 'run_of'
             order by n.last_seen desc, n.key limit $2 offset $3"
        );
        let rows = sqlx::query(&sql)
            .bind(job)
            .bind(i64::from(page.limit))
            .bind(i64::from(page.offset))
            .fetch_all(&self.reader)
            .await?;
        let total: i64 = sqlx::query_scalar(
            "select count(*) from edge where target_id = $1 and kind = 'run_of'",
        )
        .bind(job)
        .fetch_one(&self.reader)
        .await?;
        let runs = rows
            .iter()
            .map(|r| node_from_row(r).map(|(_, n)| n))
            .collect::<Result<_>>()?;
        Ok((runs, total.max(0) as u64))
    }

    async fn latest_runs(&self, jobs: &[NodeId]) -> Result<Vec<(NodeId, Node)>> {
        let sql = format!(
            "select job_id, {NODE_COLUMNS} from (
                 select e.target_id as job_id, {ALIASED_COLUMNS},
                        row_number() over (partition by e.target_id
                                           order by n.last_seen desc, n.key) as rank
                 from edge e join node n on n.node_id = e.source_id
                 where e.target_id in (select value from json_each($1)) and e.kind = 'run_of')
             where rank = 1 order by job_id"
        );
        let rows = sqlx::query(&sql)
            .bind(json_list(jobs))
            .fetch_all(&self.reader)
            .await?;
        rows.iter()
            .map(|r| node_from_row(r).map(|(_, run)| (r.get("job_id"), run)))
            .collect()
    }

    async fn raw_events(&self, query: &RawEventQuery) -> Result<(Vec<Box<RawValue>>, u64)> {
        let order = if query.ascending { "asc" } else { "desc" };
        let window = "from raw_payload where format = $1
               and ($2 is null or event_time >= $2) and ($3 is null or event_time <= $3)";
        let sql = format!(
            "select body {window}
             order by event_time {order}, raw_payload_id {order} limit $4 offset $5"
        );
        let rows = sqlx::query(&sql)
            .bind(&query.format)
            .bind(ts_opt(query.after))
            .bind(ts_opt(query.before))
            .bind(i64::from(query.page.limit))
            .bind(i64::from(query.page.offset))
            .fetch_all(&self.reader)
            .await?;
        let total: i64 = sqlx::query_scalar(&format!("select count(*) {window}"))
            .bind(&query.format)
            .bind(ts_opt(query.after))
            .bind(ts_opt(query.before))
            .fetch_one(&self.reader)
            .await?;
        let events = rows
            .into_iter()
            .map(|r| archived_event(r.try_get("body")?))
            .collect::<Result<_>>()?;
        Ok((events, total.max(0) as u64))
    }

    async fn spline_events(&self, query: &SplineEventQuery) -> Result<SplineEventPage> {
        spline_queries::events(&self.reader, query).await
    }

    async fn spline_data_sources(&self, query: &SplineEventQuery) -> Result<SplineEventPage> {
        spline_queries::data_sources(&self.reader, query).await
    }

    async fn spline_plans(
        &self,
        as_at: Option<i64>,
        page: Page,
    ) -> Result<(Vec<(NodeId, Node)>, u64)> {
        spline_queries::plans(&self.reader, as_at, page).await
    }

    async fn spline_plan_members(&self, plan_ids: &[String]) -> Result<Vec<(NodeId, Node)>> {
        spline_queries::plan_members(&self.reader, plan_ids).await
    }

    async fn spline_runs(&self, runs: &[NodeId]) -> Result<Vec<SplineRun>> {
        spline_queries::runs(&self.reader, runs).await
    }

    async fn spline_writes_before(&self, reads: &[DataSourceAt]) -> Result<Vec<Vec<SplineRun>>> {
        spline_queries::writes_before(&self.reader, reads).await
    }

    async fn spline_reads_after(&self, writes: &[DataSourceAt]) -> Result<Vec<Vec<SplineRun>>> {
        spline_queries::reads_after(&self.reader, writes).await
    }

    async fn spline_label_names(&self, query: &LabelQuery) -> Result<Vec<String>> {
        spline_queries::label_names(&self.reader, query).await
    }

    async fn spline_label_values(&self, name: &str, query: &LabelQuery) -> Result<Vec<String>> {
        spline_queries::label_values(&self.reader, name, query).await
    }

    async fn raw_payloads(&self, query: &RawPayloadQuery) -> Result<Vec<StoredPayload>> {
        let sql = format!(
            "select {PAYLOAD_COLUMNS} from raw_payload where raw_payload_id > $1
               and ($2 is null or received_at >= $2) and ($3 is null or received_at < $3)
             order by raw_payload_id limit $4"
        );
        let rows = sqlx::query(&sql)
            .bind(query.after_id)
            .bind(ts_opt(query.since))
            .bind(ts_opt(query.until))
            .bind(i64::from(query.limit))
            .fetch_all(&self.reader)
            .await?;
        Ok(rows.iter().map(payload_from_row).collect())
    }

    async fn reapply(&self, changes: ChangeSet) -> Result<ApplyOutcome> {
        write::apply(&self.writer, None, &changes).await
    }

    async fn prune(&self, request: &PruneRequest) -> Result<PruneReport> {
        prune::prune(&self.writer, request).await
    }

    async fn readiness(&self) -> Result<Readiness> {
        let applied = applied_migrations(&self.reader).await?;
        let missing_migrations = MIGRATOR
            .iter()
            .filter(|m| m.migration_type.is_up_migration() && !applied.contains(&m.version))
            .map(|m| m.version)
            .collect();
        Ok(Readiness { missing_migrations })
    }

    async fn graph_counts(&self) -> Result<GraphCounts> {
        let nodes = sqlx::query_as(NODE_COUNTS).fetch_all(&self.reader).await?;
        let edges = sqlx::query_as(EDGE_COUNTS).fetch_all(&self.reader).await?;
        Ok(GraphCounts {
            nodes: kind_counts(nodes),
            edges: kind_counts(edges),
        })
    }

    async fn record(&self, entry: &AuditEntry) -> Result<()> {
        audit::record(&self.writer, entry).await
    }

    async fn audit_log(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>> {
        audit::audit_log(&self.reader, query).await
    }

    async fn delete_node(&self, key: &str, entry: AuditEntry) -> Result<Option<DeleteReport>> {
        audit::delete_node(&self.writer, key, entry).await
    }

    async fn property_writers(
        &self,
        keys: &[String],
    ) -> Result<HashMap<String, Map<String, Value>>> {
        let rows: Vec<(String, sqlx::types::Json<Map<String, Value>>)> = sqlx::query_as(
            "select key, property_times -> '$.\"@by\"' from node
             where key in (select value from json_each($1))
               and json_type(property_times, '$.\"@by\"') = 'object'",
        )
        .bind(json_list(keys))
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.into_iter().map(|(k, by)| (k, by.0)).collect())
    }

    async fn secret(&self, name: &str, fresh: &[u8]) -> Result<Vec<u8>> {
        sqlx::query(
            "insert into server_secret (name, value, created_at) values ($1, $2, $3)
             on conflict (name) do nothing",
        )
        .bind(name)
        .bind(fresh)
        .bind(ts(Utc::now()))
        .execute(&self.writer)
        .await?;
        let value: Vec<u8> = sqlx::query_scalar("select value from server_secret where name = $1")
            .bind(name)
            .fetch_one(&self.writer)
            .await?;
        Ok(value)
    }

    fn pool_state(&self) -> PoolState {
        let (w, r) = (&self.writer, &self.reader);
        PoolState {
            size: w.size() + r.size(),
            idle: u32::try_from(w.num_idle() + r.num_idle()).unwrap_or(u32::MAX),
            max: w.options().get_max_connections() + r.options().get_max_connections(),
        }
    }
}

fn namespace_from_row(row: &SqliteRow) -> Result<Namespace> {
    Ok(Namespace {
        name: row.try_get("name")?,
        first_seen: row.try_get("first_seen")?,
        last_seen: row.try_get("last_seen")?,
    })
}
