//! The raw-SQL reference for a service running on its embedded SQLite file:
//! the same work as [`crate::reference`] does on PostgreSQL, in SQLite's
//! dialect, on the service's own database file.
//!
//! Ingest writes each plan's rows (see `rows.rs`) as one `BEGIN IMMEDIATE`
//! transaction of multi-row upserts into scratch copies of the service's
//! tables; queries run recursive CTEs over the service's own `node`/`edge`.
//! It follows the service's storage conventions, so both sides store the
//! same bytes: times as fixed-width UTC text (`YYYY-MM-DDTHH:MM:SS.ffffffZ`,
//! which sorts as it compares), JSON as text, WAL, one writer.
//!
//! Where the PostgreSQL reference differs only by dialect, the SQL here is a
//! line-for-line translation (no arrays: paths are text like `,1,5,9,`), so
//! the two references answer the same questions and their ratios compare.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::query_builder::Separated;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::{QueryBuilder, Row, Sqlite};

use crate::columns::Column;
use crate::paths::{Pair, PathAnswer};
use crate::query::{Answer, Direction, Start};
use crate::reference::{self, KindRows};
use crate::rows::PlanRows;
use crate::workers::{self, Timed};

const NODE: &str = "bench_ref_node";
const EDGE: &str = "bench_ref_edge";

/// As long as the service waits for the write lock, so that the reference
/// and a still-running service take turns instead of failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// SQLite's default `SQLITE_MAX_VARIABLE_NUMBER` since 3.32 (the bundled
/// library keeps it); a statement binding more fails to prepare.
const MAX_BINDS: usize = 32_766;

/// Every upserted row binds its own three columns, properties, and four
/// times (`first_seen`, `last_seen`, `created_at`, `updated_at`).
const BINDS_PER_ROW: usize = 8;

const ROWS_PER_STATEMENT: usize = MAX_BINDS / BINDS_PER_ROW;

/// Opens the service's database file with the service's own settings, as
/// one connection held for the whole run: SQLite has one writer, so more
/// connections would only queue on the lock, and opening is not timed
/// (the long-running service opened its file at start-up).
pub async fn connect(path: &Path) -> Result<SqlitePool> {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .journal_mode(SqliteJournalMode::Wal)
        .busy_timeout(BUSY_TIMEOUT)
        .foreign_keys(true);
    SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .connect_with(options)
        .await
        .with_context(|| format!("opening the service's SQLite file {}", path.display()))
}

/// Creates empty `bench_ref_node`/`bench_ref_edge`, dropping old ones
/// first, from the service's own `CREATE` statements: same columns,
/// defaults, keys, indexes and edge foreign keys (SQLite keeps foreign keys
/// in the table's definition, so they come along, pointed at the copy).
pub async fn create_tables(pool: &SqlitePool) -> Result<()> {
    drop_tables(pool).await?;
    for statement in copied_schema(pool).await? {
        sqlx::query(&statement)
            .execute(pool)
            .await
            .with_context(|| format!("running {statement}"))?;
    }
    Ok(())
}

/// Edges first: dropping a node table still referenced would check (and,
/// with `on delete cascade`, delete) every edge row first.
pub async fn drop_tables(pool: &SqlitePool) -> Result<()> {
    for table in [EDGE, NODE] {
        sqlx::query(&format!("DROP TABLE IF EXISTS {table}"))
            .execute(pool)
            .await
            .context("dropping the reference tables")?;
    }
    Ok(())
}

/// The service's `node`/`edge` tables and their explicit indexes, renamed
/// for the copy: tables first (nodes before edges, which refer to them).
/// Indexes SQLite makes for keys have no SQL and come with their table.
/// Triggers are left out, as PostgreSQL's `LIKE` leaves them: the service's
/// keep its own bookkeeping (the lineage index's epoch), which writes to the
/// scratch tables must not move.
async fn copied_schema(pool: &SqlitePool) -> Result<Vec<String>> {
    let objects: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT type, name, sql FROM sqlite_master
         WHERE tbl_name IN ('node', 'edge') AND type IN ('table', 'index') AND sql IS NOT NULL
         ORDER BY type <> 'table', tbl_name <> 'node', name",
    )
    .fetch_all(pool)
    .await
    .context("reading the service's schema")?;
    let tables = objects.iter().filter(|(kind, ..)| kind == "table").count();
    if tables != 2 {
        bail!("the service's node/edge tables are missing: has the service created its schema?");
    }
    let renames: HashMap<String, String> = objects
        .iter()
        .map(|(_, name, _)| (name.to_ascii_lowercase(), format!("bench_ref_{name}")))
        .collect();
    Ok(objects
        .iter()
        .map(|(_, _, sql)| rename_identifiers(sql, &renames))
        .collect())
}

/// Replaces every identifier of `sql` named in `renames` (lower-case keys),
/// bare or quoted, and leaves string literals alone, so that
/// `references node (node_id)` points at the copy while `node_id` and
/// `'namespace'` stay as they are.
fn rename_identifiers(sql: &str, renames: &HashMap<String, String>) -> String {
    let renamed = |word: &str| renames.get(&word.to_ascii_lowercase()).cloned();
    let mut out = String::with_capacity(sql.len() + 64);
    let mut rest = sql;
    while let Some(first) = rest.chars().next() {
        let token_len = match first {
            '\'' | '"' | '`' => quoted_len(rest, first),
            '[' => rest.find(']').map_or(rest.len(), |end| end + 1),
            c if c.is_alphanumeric() || c == '_' => rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
                .unwrap_or(rest.len()),
            c => c.len_utf8(),
        };
        let (token, tail) = rest.split_at(token_len);
        let replacement = match first {
            '\'' => None,
            '"' | '`' | '[' if token.len() >= 2 => {
                renamed(&token[1..token.len() - 1]).map(|name| format!("\"{name}\""))
            }
            _ => renamed(token),
        };
        out.push_str(replacement.as_deref().unwrap_or(token));
        rest = tail;
    }
    out
}

/// Length of the quoted token at the start of `text`, quotes included; a
/// doubled quote inside is an escaped one.
fn quoted_len(text: &str, quote: char) -> usize {
    let mut chars = text.char_indices().skip(1).peekable();
    while let Some((at, c)) = chars.next() {
        if c == quote {
            if chars.peek().is_some_and(|(_, next)| *next == quote) {
                chars.next();
            } else {
                return at + 1;
            }
        }
    }
    text.len()
}

/// Rows per kind in a node/edge table pair, with the PostgreSQL reference's
/// SQL (plain enough for both dialects), so the labels cannot drift apart.
async fn count_rows(pool: &SqlitePool, node: &str, edge: &str) -> Result<BTreeMap<String, u64>> {
    let counted: Vec<(String, i64)> = sqlx::query_as(&reference::count_sql(node, edge))
        .fetch_all(pool)
        .await
        .with_context(|| format!("counting the rows of {node}/{edge} by kind"))?;
    counted
        .into_iter()
        .map(|(kind, rows)| Ok((kind, u64::try_from(rows)?)))
        .collect()
}

/// The service's `node`/`edge` rows next to the reference's, kind by kind,
/// labelled as [`KindRows`] says (a kind only one side has counts 0 on the
/// other). As on PostgreSQL, the sides agree only if the service's file held
/// nothing but the benchmark's plans. Call after both ingests and before
/// dropping the reference tables.
pub async fn rows_by_kind(pool: &SqlitePool) -> Result<Vec<KindRows>> {
    let service = count_rows(pool, "node", "edge").await?;
    let reference = count_rows(pool, NODE, EDGE).await?;
    let kinds: BTreeSet<&String> = service.keys().chain(reference.keys()).collect();
    Ok(kinds
        .into_iter()
        .map(|kind| KindRows {
            kind: kind.clone(),
            service: service.get(kind).copied().unwrap_or(0),
            reference: reference.get(kind).copied().unwrap_or(0),
        })
        .collect())
}

/// Times as the service stores them: fixed-width UTC text.
fn time_text(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// An event time in epoch seconds (as [`PlanRows::seen`] has it), to the
/// microsecond, as PostgreSQL's `to_timestamp` keeps it.
fn seen_text(seen: f64) -> Result<String> {
    // `as` saturates; a time that far out is rejected just below.
    let micros = (seen * 1e6).round() as i64;
    let at = DateTime::from_timestamp_micros(micros)
        .with_context(|| format!("event time {seen} is out of range"))?;
    Ok(time_text(at))
}

/// Which node/edge table pair a write goes to: the scratch tables, or (in
/// tests) the service's own, to give them the same content.
#[derive(Debug, Clone, Copy)]
struct Tables {
    node: &'static str,
    edge: &'static str,
}

const SCRATCH: Tables = Tables {
    node: NODE,
    edge: EDGE,
};

/// Writes every plan's rows one transaction after another (SQLite has one
/// writer: transactions in flight at once would only wait for the lock,
/// and that wait would be timed); each job's output is the number of rows
/// it wrote, as in [`reference::ingest`].
pub async fn ingest(pool: &SqlitePool, rows: Arc<Vec<PlanRows>>) -> Result<Timed<usize>> {
    let pool = pool.clone();
    workers::run(rows.len(), 1, move |index| {
        let pool = pool.clone();
        let rows = Arc::clone(&rows);
        async move { write_plan(&pool, &rows[index], SCRATCH).await }
    })
    .await
    .context("reference ingest (SQLite)")
}

/// The two times every row of one transaction carries.
struct Stamps {
    seen: String,
    now: String,
}

/// One plan as one `BEGIN IMMEDIATE` transaction, the way the service
/// writes: holding the write lock from the start, so it never fails half-way
/// on a lock upgrade.
async fn write_plan(pool: &SqlitePool, rows: &PlanRows, tables: Tables) -> Result<usize> {
    let stamps = Stamps {
        seen: seen_text(rows.seen)?,
        now: time_text(Utc::now()),
    };
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let mut ids = HashMap::with_capacity(rows.nodes.len());
    for chunk in rows.nodes.chunks(ROWS_PER_STATEMENT) {
        let written: Vec<(i64, String)> = upsert_nodes(tables.node, chunk, &stamps)
            .build_query_as()
            .fetch_all(&mut *tx)
            .await?;
        ids.extend(written.into_iter().map(|(id, key)| (key, id)));
    }
    ids.extend(stored_endpoints(&mut tx, tables, rows, &ids).await?);
    let edges = resolve_edges(rows, &ids)?;
    for chunk in edges.chunks(ROWS_PER_STATEMENT) {
        upsert_edges(tables.edge, chunk, &stamps)
            .build()
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(rows.count())
}

/// Ids of edge endpoints the rows don't upsert themselves (a later run's job), as the service
/// looks them up.
async fn stored_endpoints(
    tx: &mut sqlx::Transaction<'_, Sqlite>,
    tables: Tables,
    rows: &PlanRows,
    ids: &HashMap<String, i64>,
) -> Result<Vec<(String, i64)>> {
    let missing = crate::rows::missing_endpoints(rows, |key| ids.contains_key(key));
    if missing.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT key, node_id FROM {} WHERE key IN (SELECT value FROM json_each(?1))",
        tables.node
    );
    let found: Vec<(String, i64)> = sqlx::query_as(&sql)
        .bind(serde_json::to_string(&missing)?)
        .fetch_all(&mut **tx)
        .await?;
    Ok(found)
}

/// An edge row with its endpoints' ids.
type ResolvedEdge<'r> = (i64, i64, &'r crate::rows::EdgeRow);

fn resolve_edges<'r>(
    rows: &'r PlanRows,
    ids: &HashMap<String, i64>,
) -> Result<Vec<ResolvedEdge<'r>>> {
    let id_of = |key: &str| {
        ids.get(key)
            .copied()
            .with_context(|| format!("no id came back for {key}"))
    };
    rows.edges
        .iter()
        .map(|edge| Ok((id_of(&edge.source)?, id_of(&edge.target)?, edge)))
        .collect()
}

fn upsert_nodes<'r>(
    table: &str,
    nodes: &'r [crate::rows::NodeRow],
    stamps: &'r Stamps,
) -> QueryBuilder<'r, Sqlite> {
    let mut query = upsert(
        table,
        "key, kind, name",
        "key",
        nodes,
        stamps,
        |row, node| {
            row.push_bind(node.key.as_str())
                .push_bind(node.kind)
                .push_bind(node.name.as_str());
            node.properties.as_str()
        },
    );
    query.push(" RETURNING node_id, key");
    query
}

fn upsert_edges<'r>(
    table: &str,
    edges: &'r [ResolvedEdge<'r>],
    stamps: &'r Stamps,
) -> QueryBuilder<'r, Sqlite> {
    let columns = "source_id, target_id, kind";
    let conflict = "source_id, kind, target_id";
    upsert(
        table,
        columns,
        conflict,
        edges,
        stamps,
        |row, (source, target, edge)| {
            row.push_bind(*source)
                .push_bind(*target)
                .push_bind(edge.kind);
            edge.properties.as_str()
        },
    )
}

/// One multi-row `INSERT … ON CONFLICT` into `table`, as in
/// [`reference`]'s `upsert`: `lead` binds a row's own `columns` and hands
/// back its properties (JSON text, stored as the service stores it, without
/// parsing); a row already there only moves `last_seen` (text order is
/// time order) and `updated_at`.
fn upsert<'r, T: 'r>(
    table: &str,
    columns: &str,
    conflict: &str,
    items: impl IntoIterator<Item = &'r T>,
    stamps: &'r Stamps,
    mut lead: impl FnMut(&mut Separated<'_, 'r, Sqlite, &'static str>, &'r T) -> &'r str,
) -> QueryBuilder<'r, Sqlite> {
    let mut query = QueryBuilder::new(format!(
        "INSERT INTO {table} ({columns}, properties, first_seen, last_seen, created_at, updated_at) "
    ));
    query.push_values(items, |mut row, item| {
        let properties = lead(&mut row, item);
        row.push_bind(properties)
            .push_bind(stamps.seen.as_str())
            .push_bind(stamps.seen.as_str())
            .push_bind(stamps.now.as_str())
            .push_bind(stamps.now.as_str());
    });
    query.push(format!(
        " ON CONFLICT ({conflict}) DO UPDATE SET \
         last_seen = max({table}.last_seen, excluded.last_seen), updated_at = excluded.updated_at"
    ));
    query
}

/// The bounded dataset walk for one direction, as `lineage_sql!` in
/// [`reference`] builds it (see there for why the edges are gathered this
/// way): `?1` is the start key, `?2` the depth in job hops; entering a job
/// costs a hop, leaving it is free; `UNION` over (node, hops) is the
/// visited guard. The CTEs read more than once are `MATERIALIZED`, so each
/// is computed once, as PostgreSQL does with every CTE read twice. Each
/// join is a `CROSS JOIN`, which in SQLite fixes the join order as written:
/// from the reached nodes out through the edge and node indexes. Without
/// it (and the service's file has no `ANALYZE` statistics) SQLite guesses
/// the reached set is large and scans all of `edge` and `node` instead,
/// which made column queries 20 times slower than the same SQL on
/// PostgreSQL. The
/// subgraph is built with SQLite's JSON functions; the stored properties
/// are parsed (`json(…)`) to embed them as objects, as PostgreSQL embeds
/// its `jsonb`.
macro_rules! lineage_sql {
    ($next:literal, $here:literal, $enters_job:literal, $source:literal, $target:literal) => {
        concat!(
            "WITH RECURSIVE walk(node_id, hops) AS (
                SELECT node_id, 0 FROM node WHERE key = ?1
              UNION
                SELECT e.", $next, ", w.hops + CASE WHEN e.kind = '", $enters_job, "' THEN 1 ELSE 0 END
                FROM walk w
                JOIN edge e ON e.", $here, " = w.node_id AND e.kind IN ('input', 'output')
                WHERE e.kind <> '", $enters_job, "' OR w.hops < ?2
            ),
            sub_nodes AS MATERIALIZED (
                SELECT n.node_id, n.key, n.kind, n.name, n.properties, v.hops
                FROM (SELECT node_id, min(hops) AS hops FROM walk GROUP BY node_id) v
                CROSS JOIN node n USING (node_id)
            ),
            leaving AS MATERIALIZED (
                SELECT s.key AS here, e.", $next, " AS far_id, e.kind, e.properties,
                    e.kind <> '", $enters_job, "' OR s.hops < ?2
                        OR e.", $next, " IN (SELECT node_id FROM sub_nodes) AS inside
                FROM sub_nodes s
                CROSS JOIN edge e ON e.", $here, " = s.node_id AND e.kind IN ('input', 'output')
            ),
            sub_edges AS MATERIALIZED (
                SELECT ", $source, " AS source, ", $target, " AS target, l.kind, l.properties
                FROM leaving l
                CROSS JOIN node far ON far.node_id = l.far_id
                WHERE l.inside
            )
            SELECT
                (SELECT count(*) FROM sub_nodes) AS node_count,
                (SELECT count(*) FROM sub_edges) AS edge_count,
                (SELECT max(hops) FROM sub_nodes) AS depth_reached,
                EXISTS (SELECT 1 FROM leaving WHERE NOT inside) AS truncated,
                json_object(
                    'nodes', (SELECT json_group_array(json_object(
                        'key', key, 'kind', kind, 'name', name, 'properties', json(properties))) FROM sub_nodes),
                    'edges', (SELECT json_group_array(json_object(
                        'source', source, 'target', target, 'kind', kind, 'properties', json(properties))) FROM sub_edges)
                ) AS payload"
        )
    };
}

const DOWNSTREAM_SQL: &str = lineage_sql!("target_id", "source_id", "input", "l.here", "far.key");
const UPSTREAM_SQL: &str = lineage_sql!("source_id", "target_id", "output", "far.key", "l.here");

/// Column lineage upstream, as [`reference`]'s `COLUMN_UPSTREAM_SQL`: `?1`
/// is the start column's key, `?2` the depth in derivations, one hop per
/// `derives` edge followed backwards.
const COLUMN_UPSTREAM_SQL: &str = "WITH RECURSIVE walk(node_id, hops) AS (
        SELECT node_id, 0 FROM node WHERE key = ?1
      UNION
        SELECT e.source_id, w.hops + 1
        FROM walk w
        JOIN edge e ON e.target_id = w.node_id AND e.kind = 'derives'
        WHERE w.hops < ?2
    ),
    sub_nodes AS MATERIALIZED (
        SELECT n.node_id, n.key, n.kind, n.name, n.properties, v.hops
        FROM (SELECT node_id, min(hops) AS hops FROM walk GROUP BY node_id) v
        CROSS JOIN node n USING (node_id)
    ),
    leaving AS MATERIALIZED (
        SELECT s.key AS here, e.source_id AS far_id, e.properties,
            s.hops < ?2 OR e.source_id IN (SELECT node_id FROM sub_nodes) AS inside
        FROM sub_nodes s
        CROSS JOIN edge e ON e.target_id = s.node_id AND e.kind = 'derives'
    ),
    sub_edges AS MATERIALIZED (
        SELECT far.key AS source, l.here AS target, l.properties
        FROM leaving l
        CROSS JOIN node far ON far.node_id = l.far_id
        WHERE l.inside
    )
    SELECT
        (SELECT count(*) FROM sub_nodes) AS node_count,
        (SELECT count(*) FROM sub_edges) AS edge_count,
        (SELECT max(hops) FROM sub_nodes) AS depth_reached,
        EXISTS (SELECT 1 FROM leaving WHERE NOT inside) AS truncated,
        json_object(
            'nodes', (SELECT json_group_array(json_object(
                'key', key, 'kind', kind, 'name', name, 'properties', json(properties))) FROM sub_nodes),
            'edges', (SELECT json_group_array(json_object(
                'source', source, 'target', target, 'kind', 'derives', 'properties', json(properties))) FROM sub_edges)
        ) AS payload";

/// An answer and the JSON text it was measured from (tests read the text).
struct Walked {
    answer: Answer,
    #[cfg_attr(not(test), allow(dead_code))]
    payload: String,
}

/// Runs one walk (`sql` binds the start key and the depth) and fetches the
/// whole subgraph as JSON text, so the reference pays for building the
/// answer as the service does.
async fn walk(pool: &SqlitePool, sql: &str, key: &str, depth: u32) -> Result<Walked> {
    let row = sqlx::query(sql)
        .bind(key)
        .bind(i64::from(depth))
        .fetch_one(pool)
        .await?;
    let payload: String = row.try_get("payload")?;
    let answer = Answer {
        nodes: usize::try_from(row.try_get::<i64, _>("node_count")?)?,
        edges: usize::try_from(row.try_get::<i64, _>("edge_count")?)?,
        depth_reached: row.try_get("depth_reached")?,
        truncated: row.try_get("truncated")?,
        bytes: payload.len(),
    };
    Ok(Walked { answer, payload })
}

async fn lineage_walk(pool: &SqlitePool, start: &Start, depth: u32) -> Result<Walked> {
    let sql = match start.direction {
        Direction::Downstream => DOWNSTREAM_SQL,
        Direction::Upstream => UPSTREAM_SQL,
    };
    let walked = walk(pool, sql, &start.key, depth)
        .await
        .with_context(|| format!("reference lineage from {}", start.key))?;
    if walked.answer.nodes == 0 {
        bail!("reference lineage: {} is not in the node table", start.key);
    }
    Ok(walked)
}

/// Dataset lineage from `start` within `depth` job hops, as
/// [`reference::lineage`] answers it.
pub async fn lineage(pool: &SqlitePool, start: &Start, depth: u32) -> Result<Answer> {
    Ok(lineage_walk(pool, start, depth).await?.answer)
}

async fn column_walk(pool: &SqlitePool, column: &Column, depth: u32) -> Result<Walked> {
    let key = column.key();
    let walked = walk(pool, COLUMN_UPSTREAM_SQL, &key, depth)
        .await
        .with_context(|| format!("reference column lineage from {key}"))?;
    if walked.answer.nodes == 0 {
        bail!("reference column lineage: {key} is not in the node table");
    }
    if walked.answer.edges == 0 {
        bail!("reference column lineage: {key} derives from nothing");
    }
    Ok(walked)
}

/// The columns `column` derives from within `depth` derivations, as
/// [`reference::column_lineage`] answers it.
pub async fn column_lineage(pool: &SqlitePool, column: &Column, depth: u32) -> Result<Answer> {
    Ok(column_walk(pool, column, depth).await?.answer)
}

/// Simple paths from `?1` to `?2` of at most `?3` edges, the first `?4` of
/// them, as [`reference`]'s `PATHS_SQL` lists them. A path is the text
/// `,id,id,…,` (SQLite has no arrays), and `instr` on it is the visited
/// guard. SQLite extends the paths breadth first (its recursion queue is
/// first in, first out), so the shortest come first; and as on PostgreSQL
/// the walk stops as soon as `?4` have reached `?2`, because `paths` is read
/// once, through the `LIMIT` (a CTE read twice would be computed whole).
/// For the answer, each kept path becomes a JSON array of ids
/// (`[id,id,…]`) and, through `json_each`, a list of node keys.
const PATHS_SQL: &str = "WITH RECURSIVE goal AS (
        SELECT node_id FROM node WHERE key = ?2
    ),
    paths(node_id, path, edges) AS (
        SELECT node_id, ',' || node_id || ',', 0 FROM node WHERE key = ?1
      UNION ALL
        SELECT e.target_id, p.path || e.target_id || ',', p.edges + 1
        FROM paths p
        JOIN edge e ON e.source_id = p.node_id AND e.kind IN ('input', 'output')
        WHERE p.edges < ?3
            AND instr(p.path, ',' || e.target_id || ',') = 0
            AND p.node_id <> (SELECT node_id FROM goal)
    ),
    found AS (
        SELECT path, edges, row_number() OVER () AS rank
        FROM (SELECT path, edges FROM paths WHERE node_id = (SELECT node_id FROM goal) LIMIT ?4)
    )
    SELECT
        count(*) AS path_count,
        min(edges) AS shortest,
        json_object(
            'paths', json_group_array(
                (SELECT json_group_array(n.key ORDER BY j.key)
                    FROM json_each('[' || substr(f.path, 2, length(f.path) - 2) || ']') j
                    JOIN node n ON n.node_id = j.value)
                ORDER BY f.rank) FILTER (WHERE f.rank < ?4),
            'truncated', json(iif(count(*) >= ?4, 'true', 'false'))
        ) AS payload
    FROM found f";

/// The answer and the JSON text it was measured from (tests read the text).
struct Listed {
    answer: PathAnswer,
    #[cfg_attr(not(test), allow(dead_code))]
    payload: String,
}

async fn list_paths(
    pool: &SqlitePool,
    pair: &Pair,
    max_paths: usize,
    max_length: usize,
) -> Result<Listed> {
    let row = sqlx::query(PATHS_SQL)
        .bind(&pair.from)
        .bind(&pair.to)
        .bind(i64::try_from(max_length)?)
        .bind(i64::try_from(max_paths + 1)?)
        .fetch_one(pool)
        .await
        .with_context(|| format!("reference paths from {} to {}", pair.from, pair.to))?;
    let found = usize::try_from(row.try_get::<i64, _>("path_count")?)?;
    let payload: String = row.try_get("payload")?;
    let Some(shortest) = row.try_get::<Option<i64>, _>("shortest")? else {
        bail!("reference paths: none from {} to {}", pair.from, pair.to);
    };
    let answer = PathAnswer {
        paths: found.min(max_paths),
        shortest: usize::try_from(shortest)?,
        truncated: found > max_paths,
        bytes: payload.len(),
    };
    Ok(Listed { answer, payload })
}

/// Lists up to `max_paths` simple paths of at most `max_length` edges for
/// `pair`, as [`reference::paths`] does.
pub async fn paths(
    pool: &SqlitePool,
    pair: &Pair,
    max_paths: usize,
    max_length: usize,
) -> Result<PathAnswer> {
    Ok(list_paths(pool, pair, max_paths, max_length).await?.answer)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use serde_json::Value;

    use super::*;

    /// The service's tables, for giving them the same rows as the scratch
    /// ones.
    const SERVICE: Tables = Tables {
        node: "node",
        edge: "edge",
    };

    /// A directory of its own for one test's database file (and its `-wal`
    /// and `-shm`), removed when the test ends.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new() -> Self {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let name = format!(
                "headwater-bench-sqlite-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            );
            let dir = std::env::temp_dir().join(name);
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }

        fn file(&self) -> PathBuf {
            self.0.join("headwater.db")
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// The service's migrations, in order: every `*.sql` in
    /// `migrations/sqlite`, read when the test runs so a new migration is
    /// picked up without touching this file.
    fn migrations() -> Vec<String> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations/sqlite");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "sql"))
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no migrations in {}", dir.display());
        files
            .iter()
            .map(|path| std::fs::read_to_string(path).unwrap())
            .collect()
    }

    /// A fresh file with the service's schema, opened as the benchmark opens
    /// the service's.
    async fn service_file(scratch: &Scratch) -> SqlitePool {
        std::fs::File::create(scratch.file()).unwrap();
        let pool = connect(&scratch.file()).await.unwrap();
        for migration in migrations() {
            sqlx::raw_sql(&migration).execute(&pool).await.unwrap();
        }
        pool
    }

    const AT: &str = "2026-01-01T00:00:00.000000Z";

    async fn add_node(pool: &SqlitePool, key: &str, kind: &str) {
        let name = key.rsplit([':', '#']).next().unwrap();
        sqlx::query(
            "INSERT INTO node (key, kind, name, properties, first_seen, last_seen, created_at, updated_at)
             VALUES (?1, ?2, ?3, json_object('name', ?3), ?4, ?4, ?4, ?4)",
        )
        .bind(key)
        .bind(kind)
        .bind(name)
        .bind(AT)
        .execute(pool)
        .await
        .unwrap();
    }

    async fn add_edge(pool: &SqlitePool, source: &str, kind: &str, target: &str) {
        sqlx::query(
            "INSERT INTO edge (source_id, kind, target_id, properties, first_seen, last_seen, created_at, updated_at)
             SELECT s.node_id, ?2, t.node_id, json_object('via', ?2), ?4, ?4, ?4, ?4
             FROM node s, node t WHERE s.key = ?1 AND t.key = ?3",
        )
        .bind(source)
        .bind(kind)
        .bind(target)
        .bind(AT)
        .execute(pool)
        .await
        .unwrap();
    }

    /// Datasets d1…d5 and jobs j1…j5:
    ///
    /// ```text
    /// d1 → j1 → d2 → j2 → d3 → j3 → d4
    ///           d2 → j4 → d3          (a second way from d2 to d3)
    ///           d5 → j2               (a second input of j2)
    ///      d2 ← j5 ← d3               (a cycle d2 → … → d3 → j5 → d2)
    /// ```
    ///
    /// 10 nodes, 11 lineage edges. Columns: d4#a ← d3#a, d3#b; d3#a ←
    /// d2#a, d5#c; d3#b ← d2#a; d2#a ← d1#a; with `has_field` from each
    /// dataset to its columns (not lineage), and a `derives` between two
    /// attributes that no column walk may reach.
    async fn small_graph(pool: &SqlitePool) {
        for d in 1..=5 {
            add_node(pool, &format!("dataset:d{d}"), "dataset").await;
        }
        for j in 1..=5 {
            add_node(pool, &format!("job:j{j}"), "job").await;
        }
        let lineage = [
            ("d1", "input", "j1"),
            ("j1", "output", "d2"),
            ("d2", "input", "j2"),
            ("d5", "input", "j2"),
            ("j2", "output", "d3"),
            ("d2", "input", "j4"),
            ("j4", "output", "d3"),
            ("d3", "input", "j3"),
            ("j3", "output", "d4"),
            ("d3", "input", "j5"),
            ("j5", "output", "d2"),
        ];
        for (source, kind, target) in lineage {
            add_edge(pool, &graph_key(source), kind, &graph_key(target)).await;
        }
        let columns = ["d1#a", "d2#a", "d3#a", "d3#b", "d4#a", "d5#c"];
        for column in columns {
            add_node(pool, &format!("field:{column}"), "field").await;
            let dataset = column.split('#').next().unwrap();
            add_edge(
                pool,
                &graph_key(dataset),
                "has_field",
                &format!("field:{column}"),
            )
            .await;
        }
        let derives = [
            ("d1#a", "d2#a"),
            ("d2#a", "d3#a"),
            ("d5#c", "d3#a"),
            ("d2#a", "d3#b"),
            ("d3#a", "d4#a"),
            ("d3#b", "d4#a"),
        ];
        for (source, target) in derives {
            let (source, target) = (format!("field:{source}"), format!("field:{target}"));
            add_edge(pool, &source, "derives", &target).await;
        }
        add_node(pool, "attr:p:1", "attribute").await;
        add_node(pool, "attr:p:2", "attribute").await;
        add_edge(pool, "attr:p:1", "derives", "attr:p:2").await;
    }

    fn graph_key(short: &str) -> String {
        match short.as_bytes()[0] {
            b'd' => format!("dataset:{short}"),
            _ => format!("job:{short}"),
        }
    }

    fn start(dataset: &str, direction: Direction) -> Start {
        Start {
            key: graph_key(dataset),
            direction,
        }
    }

    fn column(dataset: &str, name: &str) -> Column {
        Column {
            dataset: graph_key(dataset),
            name: name.to_owned(),
        }
    }

    /// (nodes, edges, depth reached, truncated)
    fn shape(answer: Answer) -> (usize, usize, Option<i64>, bool) {
        (
            answer.nodes,
            answer.edges,
            answer.depth_reached,
            answer.truncated,
        )
    }

    /// The payload lists as many nodes and edges as counted, properties as
    /// JSON objects, and edges the way data flows, between listed nodes.
    fn check_payload(walked: &Walked) {
        let payload: Value = serde_json::from_str(&walked.payload).unwrap();
        let nodes = payload["nodes"].as_array().unwrap();
        let edges = payload["edges"].as_array().unwrap();
        assert_eq!(nodes.len(), walked.answer.nodes);
        assert_eq!(edges.len(), walked.answer.edges);
        assert_eq!(walked.answer.bytes, walked.payload.len());
        let keys: BTreeSet<&str> = nodes.iter().map(|n| n["key"].as_str().unwrap()).collect();
        for node in nodes {
            assert_eq!(node["properties"]["name"], node["name"], "{node}");
        }
        for edge in edges {
            assert!(keys.contains(edge["source"].as_str().unwrap()), "{edge}");
            assert!(keys.contains(edge["target"].as_str().unwrap()), "{edge}");
            assert_eq!(edge["properties"]["via"], edge["kind"], "{edge}");
        }
    }

    #[tokio::test]
    async fn lineage_walks_within_the_depth_both_ways() {
        let scratch = Scratch::new();
        let pool = service_file(&scratch).await;
        small_graph(&pool).await;
        let cases = [
            // d1, j1, d2; d2's readers j2 and j4 lie beyond the depth.
            ("d1", Direction::Downstream, 1, (3, 2, Some(1), true)),
            // … j2, j4, d3; d3's readers j3 and j5 lie beyond.
            ("d1", Direction::Downstream, 2, (6, 6, Some(2), true)),
            // … j3, d4, j5 (and j5 → d2 back into the subgraph): all of it.
            ("d1", Direction::Downstream, 3, (9, 10, Some(3), false)),
            ("d1", Direction::Downstream, 10, (9, 10, Some(3), false)),
            // d4, j3, d3; d3's writers j2 and j4 lie beyond.
            ("d4", Direction::Upstream, 1, (3, 2, Some(1), true)),
            // … j2, j4, d2, d5; d2's writers j1 and j5 lie beyond.
            ("d4", Direction::Upstream, 2, (7, 7, Some(2), true)),
            // … j1, d1, j5 (whose input d3 is in already): the whole graph.
            ("d4", Direction::Upstream, 3, (10, 11, Some(3), false)),
            ("d4", Direction::Upstream, 10, (10, 11, Some(3), false)),
            // A dataset nothing reads: itself only.
            ("d4", Direction::Downstream, 5, (1, 0, Some(0), false)),
        ];
        for (dataset, direction, depth, expected) in cases {
            let walked = lineage_walk(&pool, &start(dataset, direction), depth)
                .await
                .unwrap();
            let case = format!("{dataset} {} depth {depth}", direction.as_str());
            assert_eq!(shape(walked.answer), expected, "{case}");
            check_payload(&walked);
            let answer = lineage(&pool, &start(dataset, direction), depth)
                .await
                .unwrap();
            assert_eq!(answer, walked.answer, "{case}");
        }
        let missing = lineage(&pool, &start("d9", Direction::Downstream), 3).await;
        assert!(format!("{:#}", missing.unwrap_err()).contains("not in the node table"));
    }

    #[tokio::test]
    async fn column_lineage_goes_back_along_derivations() {
        let scratch = Scratch::new();
        let pool = service_file(&scratch).await;
        small_graph(&pool).await;
        let cases = [
            // d4#a ← d3#a, d3#b; d3#a derives from columns not reached.
            (1, (3, 2, Some(1), true)),
            // … d2#a, d5#c; d2#a derives from d1#a, not reached.
            (2, (5, 5, Some(2), true)),
            (3, (6, 6, Some(3), false)),
            (10, (6, 6, Some(3), false)),
        ];
        for (depth, expected) in cases {
            let walked = column_walk(&pool, &column("d4", "a"), depth).await.unwrap();
            assert_eq!(shape(walked.answer), expected, "depth {depth}");
            check_payload(&walked);
            let payload: Value = serde_json::from_str(&walked.payload).unwrap();
            for node in payload["nodes"].as_array().unwrap() {
                assert_eq!(node["kind"], "field", "{node}");
            }
        }
        // d1#a derives from nothing, which the reference refuses to time.
        let root = column_lineage(&pool, &column("d1", "a"), 10).await;
        assert!(format!("{:#}", root.unwrap_err()).contains("derives from nothing"));
    }

    fn pair(from: &str, to: &str) -> Pair {
        Pair {
            from: graph_key(from),
            to: graph_key(to),
            jobs: 0,
        }
    }

    #[tokio::test]
    async fn paths_are_simple_and_shortest_first() {
        let scratch = Scratch::new();
        let pool = service_file(&scratch).await;
        small_graph(&pool).await;
        // d1 → d4: through j2 or j4, 6 edges each; the cycle through j5
        // would revisit d2, and 10 edges would fit one round of it.
        let listed = list_paths(&pool, &pair("d1", "d4"), 10, 10).await.unwrap();
        let answer = listed.answer;
        assert_eq!(
            (answer.paths, answer.shortest, answer.truncated),
            (2, 6, false)
        );
        let payload: Value = serde_json::from_str(&listed.payload).unwrap();
        let lists = payload["paths"].as_array().unwrap();
        assert_eq!(lists.len(), 2);
        assert_eq!(payload["truncated"], Value::Bool(false));
        for list in lists {
            let keys: Vec<&str> = list
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k.as_str().unwrap())
                .collect();
            assert_eq!(keys.len(), 7);
            assert_eq!(keys[0], "dataset:d1");
            assert_eq!(keys[6], "dataset:d4");
            assert!(keys[3] == "job:j2" || keys[3] == "job:j4", "{keys:?}");
        }
        // Asked for one: one listed, and more said to exist.
        let one = list_paths(&pool, &pair("d1", "d4"), 1, 10).await.unwrap();
        assert_eq!((one.answer.paths, one.answer.truncated), (1, true));
        let payload: Value = serde_json::from_str(&one.payload).unwrap();
        assert_eq!(payload["paths"].as_array().unwrap().len(), 1);
        assert_eq!(payload["truncated"], Value::Bool(true));
        // Against the direction of the data: d3 → j5 → d2 only.
        let back = paths(&pool, &pair("d3", "d2"), 10, 10).await.unwrap();
        assert_eq!((back.paths, back.shortest, back.truncated), (1, 2, false));
        // Too short a limit finds none, which the reference refuses to time.
        let none = paths(&pool, &pair("d1", "d4"), 10, 5).await;
        assert!(format!("{:#}", none.unwrap_err()).contains("none from"));
    }

    /// Plans 0–4 of a small workload: later plans read earlier outputs, so
    /// their rows overlap and some upserts conflict within one ingest.
    fn plan_rows() -> Vec<PlanRows> {
        let workload = crate::generate::generate(5, 1);
        workload.plans.iter().map(crate::rows::rows_of).collect()
    }

    async fn count(pool: &SqlitePool, sql: &str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
    }

    #[tokio::test]
    async fn ingest_writes_every_row_and_rewrites_cleanly() {
        let scratch = Scratch::new();
        let pool = service_file(&scratch).await;
        create_tables(&pool).await.unwrap();
        let rows = Arc::new(plan_rows());
        let timed = ingest(&pool, Arc::clone(&rows)).await.unwrap();
        let written: Vec<usize> = rows.iter().map(PlanRows::count).collect();
        assert_eq!(timed.outputs, written);
        assert_eq!(timed.latencies.len(), rows.len());
        let keys: BTreeSet<&str> = rows
            .iter()
            .flat_map(|r| &r.nodes)
            .map(|n| n.key.as_str())
            .collect();
        let edges: BTreeSet<(&str, &str, &str)> = rows
            .iter()
            .flat_map(|r| &r.edges)
            .map(|e| (e.source.as_str(), e.kind, e.target.as_str()))
            .collect();
        let stored = |pool| async move {
            (
                count(pool, "SELECT count(*) FROM bench_ref_node").await,
                count(pool, "SELECT count(*) FROM bench_ref_edge").await,
            )
        };
        let expected = (i64::try_from(keys.len()).unwrap(), edges.len() as i64);
        assert_eq!(stored(&pool).await, expected);
        let times: Vec<(String, String)> =
            sqlx::query_as("SELECT first_seen, created_at FROM bench_ref_node")
                .fetch_all(&pool)
                .await
                .unwrap();
        for (seen, created) in &times {
            for time in [seen, created] {
                assert_eq!(time.len(), AT.len(), "{time}");
                assert!(time.ends_with('Z') && time.as_bytes()[19] == b'.', "{time}");
                assert!(DateTime::parse_from_rfc3339(time).is_ok(), "{time}");
            }
        }
        // Every first sighting is some plan's event time.
        let seen: BTreeSet<String> = rows.iter().map(|r| seen_text(r.seen).unwrap()).collect();
        assert!(times.iter().all(|(first, _)| seen.contains(first)));

        // Writing it all again conflicts on every row and adds none.
        let again = ingest(&pool, Arc::clone(&rows)).await.unwrap();
        assert_eq!(again.outputs, written);
        assert_eq!(stored(&pool).await, expected);
        let moved_back = count(
            &pool,
            "SELECT count(*) FROM bench_ref_node WHERE last_seen < first_seen",
        )
        .await;
        assert_eq!(moved_back, 0);
        drop_tables(&pool).await.unwrap();
        let left = count(
            &pool,
            "SELECT count(*) FROM sqlite_master WHERE name LIKE 'bench_ref_%'",
        )
        .await;
        assert_eq!(left, 0);
    }

    #[tokio::test]
    async fn scratch_tables_copy_the_service_schema() {
        let scratch = Scratch::new();
        let pool = service_file(&scratch).await;
        create_tables(&pool).await.unwrap();
        // Twice: old scratch tables are dropped first.
        create_tables(&pool).await.unwrap();
        let columns = |table: &'static str| {
            let pool = pool.clone();
            async move {
                let columns: Vec<(String, String, i64, Option<String>, i64)> = sqlx::query_as(
                    "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(?1)",
                )
                .bind(table)
                .fetch_all(&pool)
                .await
                .unwrap();
                columns
            }
        };
        assert_eq!(columns(NODE).await, columns("node").await);
        assert_eq!(columns(EDGE).await, columns("edge").await);
        let foreign_keys: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT \"table\", \"from\", \"to\" FROM pragma_foreign_key_list(?1) ORDER BY \"from\"",
        )
        .bind(EDGE)
        .fetch_all(&pool)
        .await
        .unwrap();
        let to_node = |from: &str| (NODE.to_owned(), from.to_owned(), "node_id".to_owned());
        assert_eq!(
            foreign_keys,
            vec![to_node("source_id"), to_node("target_id")]
        );
        // The copy's definitions are the service's, names prefixed. (Not
        // its triggers: they keep the service's own bookkeeping, which the
        // reference must not touch, and PostgreSQL's `LIKE` skips them too.)
        let definitions = |tables: [&'static str; 2]| {
            let pool = pool.clone();
            async move {
                let rows: Vec<(String,)> = sqlx::query_as(
                    "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND tbl_name IN (?1, ?2)
                     AND type IN ('table', 'index')",
                )
                .bind(tables[0])
                .bind(tables[1])
                .fetch_all(&pool)
                .await
                .unwrap();
                let mut sql: Vec<String> = rows
                    .into_iter()
                    .map(|(sql,)| sql.replace("bench_ref_", ""))
                    .collect();
                sql.sort();
                sql
            }
        };
        let service = definitions(["node", "edge"]).await;
        assert_eq!(service.len(), 2 + 4 + 2, "{service:#?}");
        assert_eq!(definitions([NODE, EDGE]).await, service);
        // An edge to a node that is not there breaks the copied key.
        let dangling = sqlx::query(&format!(
            "INSERT INTO {EDGE} (source_id, target_id, kind, first_seen, last_seen, created_at, updated_at)
             VALUES (1, 2, 'input', ?1, ?1, ?1, ?1)"
        ))
        .bind(AT)
        .execute(&pool)
        .await;
        assert!(dangling.is_err());
    }

    #[test]
    fn renaming_leaves_other_words_and_strings_alone() {
        let renames = HashMap::from([
            ("node".to_owned(), "bench_ref_node".to_owned()),
            ("node_kind".to_owned(), "bench_ref_node_kind".to_owned()),
        ]);
        let sql = "create index NODE_KIND on \"node\" (kind, properties ->> 'node', node_id) \
                   where kind = 'it''s node'";
        assert_eq!(
            rename_identifiers(sql, &renames),
            "create index bench_ref_node_kind on \"bench_ref_node\" \
             (kind, properties ->> 'node', node_id) where kind = 'it''s node'"
        );
        let references = "source_id integer references node (node_id)";
        assert_eq!(
            rename_identifiers(references, &renames),
            "source_id integer references bench_ref_node (node_id)"
        );
    }

    #[tokio::test]
    async fn rows_by_kind_agree_when_both_sides_hold_the_same_plans() {
        let scratch = Scratch::new();
        let pool = service_file(&scratch).await;
        create_tables(&pool).await.unwrap();
        let rows = plan_rows();
        for plan in &rows {
            write_plan(&pool, plan, SERVICE).await.unwrap();
        }
        ingest(&pool, Arc::new(rows.clone())).await.unwrap();
        let counts = rows_by_kind(&pool).await.unwrap();
        assert!(counts.iter().all(KindRows::agrees), "{counts:?}");
        let of = |kind: &str| counts.iter().find(|k| k.kind == kind).map(|k| k.reference);
        assert_eq!(of("node job"), Some(5));
        assert_eq!(of("node run"), Some(5));
        let inputs: usize = rows
            .iter()
            .map(|r| r.edges.iter().filter(|e| e.kind == "input").count())
            .sum();
        assert_eq!(of("edge input dataset → job"), Some(inputs as u64));
        assert!(of("edge derives field → field").is_some_and(|n| n > 0));
        assert!(of("edge derives attribute → attribute").is_some_and(|n| n > 0));

        // Rows only one side has count 0 on the other.
        sqlx::query("DELETE FROM bench_ref_edge WHERE kind = 'run_of'")
            .execute(&pool)
            .await
            .unwrap();
        let counts = rows_by_kind(&pool).await.unwrap();
        let run_of = counts
            .iter()
            .find(|k| k.kind == "edge run_of run → job")
            .unwrap();
        assert_eq!((run_of.service, run_of.reference), (5, 0));
    }

    #[test]
    fn seen_times_keep_microseconds_in_the_service_format() {
        assert_eq!(seen_text(1.5).unwrap(), "1970-01-01T00:00:01.500000Z");
        assert_eq!(
            seen_text(1_767_225_600.123_456).unwrap(),
            "2026-01-01T00:00:00.123456Z"
        );
    }

    #[test]
    fn statements_stay_under_the_bind_limit() {
        let stamps = Stamps {
            seen: AT.to_owned(),
            now: AT.to_owned(),
        };
        let rows = &plan_rows()[0];
        let sql = upsert_nodes(NODE, &rows.nodes, &stamps).into_sql();
        assert_eq!(sql.matches('?').count(), BINDS_PER_ROW * rows.nodes.len());
        assert!(
            sql.contains(
                "ON CONFLICT (key) DO UPDATE SET last_seen = max(bench_ref_node.last_seen"
            )
        );
        assert!(sql.ends_with("RETURNING node_id, key"));
        const { assert!(ROWS_PER_STATEMENT * BINDS_PER_ROW <= MAX_BINDS) };
    }

    #[test]
    fn traversals_step_the_right_way() {
        assert!(DOWNSTREAM_SQL.contains("SELECT e.target_id"));
        assert!(DOWNSTREAM_SQL.contains("e.source_id = w.node_id"));
        assert!(UPSTREAM_SQL.contains("SELECT e.source_id"));
        assert!(UPSTREAM_SQL.contains("WHEN e.kind = 'output' THEN 1"));
        assert!(DOWNSTREAM_SQL.contains("SELECT l.here AS source, far.key AS target"));
        assert!(UPSTREAM_SQL.contains("SELECT far.key AS source, l.here AS target"));
    }
}
