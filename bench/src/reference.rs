//! The raw-SQL reference: the least a Postgres-backed lineage store must do,
//! measured on the same machine, database and data as the service.
//!
//! Ingest writes each plan's node and edge rows (see `rows.rs`) as one
//! transaction of plain multi-row upserts into scratch copies of the
//! service's tables. Queries run a recursive CTE over the service's own
//! `node`/`edge` tables. The reference neither speaks HTTP, parses, validates,
//! nor keeps raw documents, so the ratios show what the service spends on top
//! of the storage work itself.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::query_builder::Separated;
use sqlx::{Postgres, QueryBuilder, Row};

use crate::columns::Column;
use crate::paths::{Pair, PathAnswer};
use crate::query::{Answer, Direction, Start};
use crate::rows::PlanRows;
use crate::workers::{self, Timed};

const NODE: &str = "bench_ref_node";
const EDGE: &str = "bench_ref_edge";

/// A pool with every connection already open, so that connection set-up
/// (which the long-running service paid at start-up) is not timed.
pub async fn connect(url: &str, connections: usize) -> Result<PgPool> {
    let size = u32::try_from(connections.max(1)).unwrap_or(u32::MAX);
    // JIT compiles every large recursive query anew and can cost more than the query itself;
    // the reference should be as fast as hand-written SQL gets, so it is off.
    let pool = PgPoolOptions::new()
        .max_connections(size)
        .after_connect(|conn, _| {
            Box::pin(async move {
                sqlx::Executor::execute(conn, "SET jit = off").await?;
                Ok(())
            })
        })
        .connect(url)
        .await
        .context("connecting to --database-url")?;
    let mut open = Vec::with_capacity(connections);
    for _ in 0..size {
        open.push(pool.acquire().await?);
    }
    drop(open);
    Ok(pool)
}

/// Refreshes planner statistics on the service's tables, so both sides query
/// with the same, current plans instead of whatever autovacuum last left.
pub async fn analyze(pool: &PgPool) -> Result<()> {
    sqlx::query("ANALYZE node, edge")
        .execute(pool)
        .await
        .context("ANALYZE node, edge (has the service created its tables?)")?;
    Ok(())
}

/// How the scratch tables were made, recorded in the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableOrigin {
    /// `LIKE node/edge INCLUDING ALL` plus the edge foreign keys.
    CopiedFromService,
    /// The service's tables were absent; built from the documented shape.
    DocumentedShape,
}

/// Creates empty `bench_ref_node`/`bench_ref_edge`, dropping old ones first.
pub async fn create_tables(pool: &PgPool) -> Result<TableOrigin> {
    drop_tables(pool).await?;
    let service_tables: (bool,) = sqlx::query_as(
        "SELECT to_regclass('node') IS NOT NULL AND to_regclass('edge') IS NOT NULL",
    )
    .fetch_one(pool)
    .await?;
    if service_tables.0 {
        copy_service_tables(pool).await?;
        Ok(TableOrigin::CopiedFromService)
    } else {
        create_documented_tables(pool).await?;
        Ok(TableOrigin::DocumentedShape)
    }
}

pub async fn drop_tables(pool: &PgPool) -> Result<()> {
    sqlx::query(&format!("DROP TABLE IF EXISTS {EDGE}, {NODE}"))
        .execute(pool)
        .await
        .context("dropping the reference tables")?;
    Ok(())
}

/// Copies columns, defaults, constraints and indexes exactly, then gives the
/// copy its own id sequence (a copied `serial` default would draw from the
/// service's) and re-points the edge foreign keys, which `LIKE` never copies.
async fn copy_service_tables(pool: &PgPool) -> Result<()> {
    execute_all(
        pool,
        [
            format!("CREATE TABLE {NODE} (LIKE node INCLUDING ALL)"),
            format!("CREATE TABLE {EDGE} (LIKE edge INCLUDING ALL)"),
        ],
    )
    .await?;
    own_id_sequence(pool).await?;
    let foreign_keys: Vec<(String,)> = sqlx::query_as(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint \
         WHERE conrelid = 'edge'::regclass AND confrelid = 'node'::regclass AND contype = 'f'",
    )
    .fetch_all(pool)
    .await?;
    let repointed = foreign_keys.into_iter().map(|(definition,)| {
        let definition = definition
            .replacen("REFERENCES node(", &format!("REFERENCES {NODE}("), 1)
            .replacen("REFERENCES public.node(", &format!("REFERENCES {NODE}("), 1);
        format!("ALTER TABLE {EDGE} ADD {definition}")
    });
    execute_all(pool, repointed).await
}

async fn own_id_sequence(pool: &PgPool) -> Result<()> {
    let column: Option<(String, Option<String>)> = sqlx::query_as(
        "SELECT is_identity::text, column_default::text FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = $1 AND column_name = 'node_id'",
    )
    .bind(NODE)
    .fetch_optional(pool)
    .await?;
    let Some((is_identity, default)) = column else {
        bail!("node has no node_id column; the reference needs the documented shape");
    };
    if is_identity == "YES" {
        return Ok(()); // LIKE … INCLUDING IDENTITY already made a fresh sequence.
    }
    let statements = if default.is_some_and(|d| d.starts_with("nextval(")) {
        vec![
            format!("CREATE SEQUENCE {NODE}_node_id_seq OWNED BY {NODE}.node_id"),
            format!(
                "ALTER TABLE {NODE} ALTER COLUMN node_id SET DEFAULT nextval('{NODE}_node_id_seq')"
            ),
        ]
    } else {
        vec![format!(
            "ALTER TABLE {NODE} ALTER COLUMN node_id ADD GENERATED BY DEFAULT AS IDENTITY"
        )]
    };
    execute_all(pool, statements).await
}

async fn create_documented_tables(pool: &PgPool) -> Result<()> {
    let statements = [
        format!(
            "CREATE TABLE {NODE} (
                node_id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
                key text NOT NULL UNIQUE,
                kind text NOT NULL,
                name text NOT NULL,
                properties jsonb NOT NULL DEFAULT '{{}}',
                first_seen timestamptz NOT NULL,
                last_seen timestamptz NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now())"
        ),
        format!(
            "CREATE TABLE {EDGE} (
                source_id bigint NOT NULL REFERENCES {NODE} (node_id),
                target_id bigint NOT NULL REFERENCES {NODE} (node_id),
                kind text NOT NULL,
                properties jsonb NOT NULL DEFAULT '{{}}',
                first_seen timestamptz NOT NULL,
                last_seen timestamptz NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (source_id, kind, target_id))"
        ),
        format!("CREATE INDEX {EDGE}_target ON {EDGE} (target_id, kind, source_id)"),
    ];
    execute_all(pool, statements).await
}

/// Runs schema statements one after another, naming the one that failed.
async fn execute_all(pool: &PgPool, statements: impl IntoIterator<Item = String>) -> Result<()> {
    for statement in statements {
        sqlx::query(&statement)
            .execute(pool)
            .await
            .with_context(|| format!("running {statement}"))?;
    }
    Ok(())
}

/// How many rows of one kind the service stored and the reference wrote.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KindRows {
    /// `node <kind>`, or `edge <kind> <source kind> → <target kind>`, so
    /// that `derives` between attributes and between columns count apart.
    pub kind: String,
    pub service: u64,
    pub reference: u64,
}

impl KindRows {
    pub fn agrees(&self) -> bool {
        self.service == self.reference
    }
}

/// Rows per kind in a node/edge table pair, labelled as in [`KindRows`].
pub fn count_sql(node: &str, edge: &str) -> String {
    format!(
        "SELECT 'node ' || kind AS kind, count(*) AS rows FROM {node} GROUP BY kind
         UNION ALL
         SELECT 'edge ' || e.kind || ' ' || s.kind || ' → ' || t.kind, count(*)
         FROM {edge} e
         JOIN {node} s ON s.node_id = e.source_id
         JOIN {node} t ON t.node_id = e.target_id
         GROUP BY e.kind, s.kind, t.kind"
    )
}

async fn count_rows(pool: &PgPool, node: &str, edge: &str) -> Result<BTreeMap<String, u64>> {
    let counted: Vec<(String, i64)> = sqlx::query_as(&count_sql(node, edge))
        .fetch_all(pool)
        .await
        .with_context(|| format!("counting the rows of {node}/{edge} by kind"))?;
    counted
        .into_iter()
        .map(|(kind, rows)| Ok((kind, u64::try_from(rows)?)))
        .collect()
}

/// The service's `node`/`edge` rows next to the reference's, kind by kind
/// (a kind only one side has counts 0 on the other). Both sides hold the
/// same plans only when the service's database held nothing else: `run.sh`
/// makes a fresh one. Call after both ingests and before dropping the
/// reference tables.
pub async fn rows_by_kind(pool: &PgPool) -> Result<Vec<KindRows>> {
    let service = count_rows(pool, "node", "edge").await?;
    let reference = count_rows(pool, NODE, EDGE).await?;
    let kinds: std::collections::BTreeSet<&String> =
        service.keys().chain(reference.keys()).collect();
    Ok(kinds
        .into_iter()
        .map(|kind| KindRows {
            kind: kind.clone(),
            service: service.get(kind).copied().unwrap_or(0),
            reference: reference.get(kind).copied().unwrap_or(0),
        })
        .collect())
}

/// Writes every plan's rows with `concurrency` transactions in flight;
/// each job's output is the number of rows it wrote.
pub async fn ingest(
    pool: &PgPool,
    rows: Arc<Vec<PlanRows>>,
    concurrency: usize,
) -> Result<Timed<usize>> {
    let pool = pool.clone();
    workers::run(rows.len(), concurrency, move |index| {
        let pool = pool.clone();
        let rows = Arc::clone(&rows);
        async move { write_plan(&pool, &rows[index]).await }
    })
    .await
    .context("reference ingest")
}

/// Rows per statement: PostgreSQL takes at most 65,535 bound parameters, and a huge plan's
/// edges at six each would pass that.
const ROWS_PER_STATEMENT: usize = 5_000;

async fn write_plan(pool: &PgPool, rows: &PlanRows) -> Result<usize> {
    let mut tx = pool.begin().await?;
    let mut ids: BTreeMap<String, i64> = BTreeMap::new();
    for chunk in rows.nodes.chunks(ROWS_PER_STATEMENT) {
        let written: Vec<(i64, String)> = upsert_nodes(chunk, rows.seen)
            .build_query_as()
            .fetch_all(&mut *tx)
            .await?;
        ids.extend(written.into_iter().map(|(id, key)| (key, id)));
    }
    ids.extend(stored_endpoints(&mut tx, rows, &ids).await?);
    for chunk in rows.edges.chunks(ROWS_PER_STATEMENT) {
        upsert_edges(chunk, rows.seen, &ids)?
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
    tx: &mut sqlx::Transaction<'_, Postgres>,
    rows: &PlanRows,
    ids: &BTreeMap<String, i64>,
) -> Result<Vec<(String, i64)>> {
    let missing = crate::rows::missing_endpoints(rows, |key| ids.contains_key(key));
    if missing.is_empty() {
        return Ok(Vec::new());
    }
    let found: Vec<(String, i64)> = sqlx::query_as(&format!(
        "SELECT key, node_id FROM {NODE} WHERE key = ANY($1)"
    ))
    .bind(&missing)
    .fetch_all(&mut **tx)
    .await?;
    Ok(found)
}

fn upsert_nodes(nodes: &[crate::rows::NodeRow], seen: f64) -> QueryBuilder<'_, Postgres> {
    let mut query = upsert(NODE, "key, kind, name", "key", nodes, seen, |row, node| {
        row.push_bind(node.key.as_str())
            .push_bind(node.kind)
            .push_bind(node.name.as_str());
        node.properties.as_str()
    });
    query.push(" RETURNING node_id, key");
    query
}

fn upsert_edges<'r>(
    edges: &'r [crate::rows::EdgeRow],
    seen: f64,
    ids: &BTreeMap<String, i64>,
) -> Result<QueryBuilder<'r, Postgres>> {
    let id_of = |key: &str| {
        ids.get(key)
            .copied()
            .with_context(|| format!("no id came back for {key}"))
    };
    let mut resolved = Vec::with_capacity(edges.len());
    for edge in edges {
        resolved.push((id_of(&edge.source)?, id_of(&edge.target)?, edge));
    }
    let columns = "source_id, target_id, kind";
    let conflict = "source_id, kind, target_id";
    Ok(upsert(
        EDGE,
        columns,
        conflict,
        resolved,
        seen,
        |row, (source, target, edge)| {
            row.push_bind(source).push_bind(target).push_bind(edge.kind);
            edge.properties.as_str()
        },
    ))
}

/// One multi-row `INSERT … ON CONFLICT` into `table`, the way the service
/// upserts node and edge rows: `lead` binds a row's own `columns` and hands
/// back its properties; the timestamps are the same for every row, and a
/// row already there (same `conflict` key) only moves `last_seen` and
/// `updated_at`.
fn upsert<'r, T>(
    table: &str,
    columns: &str,
    conflict: &str,
    items: impl IntoIterator<Item = T>,
    seen: f64,
    mut lead: impl FnMut(&mut Separated<'_, 'r, Postgres, &'static str>, T) -> &'r str,
) -> QueryBuilder<'r, Postgres> {
    let mut query = QueryBuilder::new(format!(
        "INSERT INTO {table} ({columns}, properties, first_seen, last_seen, created_at, updated_at) "
    ));
    query.push_values(items, |mut row, item| {
        let properties = lead(&mut row, item);
        row.push_bind(properties)
            .push_unseparated("::jsonb")
            .push("to_timestamp(")
            .push_bind_unseparated(seen)
            .push_unseparated(")")
            .push("to_timestamp(")
            .push_bind_unseparated(seen)
            .push_unseparated(")")
            .push("now()")
            .push("now()");
    });
    query.push(format!(
        " ON CONFLICT ({conflict}) DO UPDATE SET \
         last_seen = GREATEST({table}.last_seen, EXCLUDED.last_seen), updated_at = EXCLUDED.updated_at"
    ));
    query
}

/// Builds the bounded traversal for one direction. `$1` is the start key and
/// `$2` the depth in job hops. The step that enters a job adds a hop and is
/// allowed only below the limit; the step that leaves a job (to its outputs
/// going downstream, its inputs going upstream) is free, so a job at the
/// limit still shows what it touches. `UNION` over (node, hops) is the
/// visited guard: a cycle can only revisit a node at a higher hop count, and
/// hop counts are bounded, so the walk always ends.
///
/// The answer's edges are the lineage edges leaving reached nodes the way
/// the walk goes, found through the edge indexes, less those from a node at
/// the limit into a job the walk did not reach. Those are exactly the edges
/// between two reached nodes, and any of them is the service's `truncated`:
/// nodes were left out because of the depth. (Joining the reached nodes to
/// each other instead is quadratic: the planner cannot foresee how many rows
/// a recursive walk returns, and picks nested loops meant for a handful.)
macro_rules! lineage_sql {
    ($next:literal, $here:literal, $enters_job:literal, $source:literal, $target:literal) => {
        concat!(
            "WITH RECURSIVE walk(node_id, hops) AS (
                SELECT node_id, 0 FROM node WHERE key = $1
              UNION
                SELECT e.", $next, ", w.hops + CASE WHEN e.kind = '", $enters_job, "' THEN 1 ELSE 0 END
                FROM walk w
                JOIN edge e ON e.", $here, " = w.node_id AND e.kind IN ('input', 'output')
                WHERE e.kind <> '", $enters_job, "' OR w.hops < $2
            ),
            sub_nodes AS (
                SELECT n.node_id, n.key, n.kind, n.name, n.properties, v.hops
                FROM (SELECT node_id, min(hops) AS hops FROM walk GROUP BY node_id) v
                JOIN node n USING (node_id)
            ),
            leaving AS (
                SELECT s.key AS here, e.", $next, " AS far_id, e.kind, e.properties,
                    e.kind <> '", $enters_job, "' OR s.hops < $2
                        OR e.", $next, " IN (SELECT node_id FROM sub_nodes) AS inside
                FROM sub_nodes s
                JOIN edge e ON e.", $here, " = s.node_id AND e.kind IN ('input', 'output')
            ),
            sub_edges AS (
                SELECT ", $source, " AS source, ", $target, " AS target, l.kind, l.properties
                FROM leaving l
                JOIN node far ON far.node_id = l.far_id
                WHERE l.inside
            )
            SELECT
                (SELECT count(*) FROM sub_nodes) AS node_count,
                (SELECT count(*) FROM sub_edges) AS edge_count,
                (SELECT max(hops) FROM sub_nodes) AS depth_reached,
                EXISTS (SELECT 1 FROM leaving WHERE NOT inside) AS truncated,
                json_build_object(
                    'nodes', (SELECT coalesce(json_agg(json_build_object(
                        'key', key, 'kind', kind, 'name', name, 'properties', properties)), '[]') FROM sub_nodes),
                    'edges', (SELECT coalesce(json_agg(json_build_object(
                        'source', source, 'target', target, 'kind', kind, 'properties', properties)), '[]') FROM sub_edges)
                )::text AS payload"
        )
    };
}

const DOWNSTREAM_SQL: &str = lineage_sql!("target_id", "source_id", "input", "l.here", "far.key");
const UPSTREAM_SQL: &str = lineage_sql!("source_id", "target_id", "output", "far.key", "l.here");

/// Runs the traversal and fetches the whole subgraph as JSON text, so the
/// reference pays for building and shipping the answer as the service does.
pub async fn lineage(pool: &PgPool, start: &Start, depth: u32) -> Result<Answer> {
    let sql = match start.direction {
        Direction::Downstream => DOWNSTREAM_SQL,
        Direction::Upstream => UPSTREAM_SQL,
    };
    let row = sqlx::query(sql)
        .bind(&start.key)
        .bind(i32::try_from(depth)?)
        .fetch_one(pool)
        .await
        .with_context(|| format!("reference lineage from {}", start.key))?;
    let nodes: i64 = row.try_get("node_count")?;
    let payload: String = row.try_get("payload")?;
    if nodes == 0 {
        bail!("reference lineage: {} is not in the node table", start.key);
    }
    Ok(Answer {
        nodes: usize::try_from(nodes)?,
        edges: usize::try_from(row.try_get::<i64, _>("edge_count")?)?,
        depth_reached: row
            .try_get::<Option<i32>, _>("depth_reached")?
            .map(i64::from),
        truncated: row.try_get("truncated")?,
        bytes: payload.len(),
    })
}

/// Column lineage upstream: `$1` is the start column's key, `$2` the depth
/// in derivations. The walk follows `derives` edges backwards (from a
/// column to those it is computed from), one hop per edge; `UNION` over
/// (node, hops) is the visited guard, as in the dataset walk. The answer is
/// the reached columns and the `derives` edges between them, found through
/// the target index, and whether a column at the limit derives from one the
/// walk did not reach (the service's `truncated`).
const COLUMN_UPSTREAM_SQL: &str = "WITH RECURSIVE walk(node_id, hops) AS (
        SELECT node_id, 0 FROM node WHERE key = $1
      UNION
        SELECT e.source_id, w.hops + 1
        FROM walk w
        JOIN edge e ON e.target_id = w.node_id AND e.kind = 'derives'
        WHERE w.hops < $2
    ),
    sub_nodes AS (
        SELECT n.node_id, n.key, n.kind, n.name, n.properties, v.hops
        FROM (SELECT node_id, min(hops) AS hops FROM walk GROUP BY node_id) v
        JOIN node n USING (node_id)
    ),
    leaving AS (
        SELECT s.key AS here, e.source_id AS far_id, e.properties,
            s.hops < $2 OR e.source_id IN (SELECT node_id FROM sub_nodes) AS inside
        FROM sub_nodes s
        JOIN edge e ON e.target_id = s.node_id AND e.kind = 'derives'
    ),
    sub_edges AS (
        SELECT far.key AS source, l.here AS target, l.properties
        FROM leaving l
        JOIN node far ON far.node_id = l.far_id
        WHERE l.inside
    )
    SELECT
        (SELECT count(*) FROM sub_nodes) AS node_count,
        (SELECT count(*) FROM sub_edges) AS edge_count,
        (SELECT max(hops) FROM sub_nodes) AS depth_reached,
        EXISTS (SELECT 1 FROM leaving WHERE NOT inside) AS truncated,
        json_build_object(
            'nodes', (SELECT coalesce(json_agg(json_build_object(
                'key', key, 'kind', kind, 'name', name, 'properties', properties)), '[]') FROM sub_nodes),
            'edges', (SELECT coalesce(json_agg(json_build_object(
                'source', source, 'target', target, 'kind', 'derives', 'properties', properties)), '[]') FROM sub_edges)
        )::text AS payload";

/// Runs the column walk upstream from `column` and fetches the columns and
/// derivations as JSON text.
pub async fn column_lineage(pool: &PgPool, column: &Column, depth: u32) -> Result<Answer> {
    let key = column.key();
    let row = sqlx::query(COLUMN_UPSTREAM_SQL)
        .bind(&key)
        .bind(i32::try_from(depth)?)
        .fetch_one(pool)
        .await
        .with_context(|| format!("reference column lineage from {key}"))?;
    let nodes: i64 = row.try_get("node_count")?;
    let edges: i64 = row.try_get("edge_count")?;
    let payload: String = row.try_get("payload")?;
    if nodes == 0 {
        bail!("reference column lineage: {key} is not in the node table");
    }
    if edges == 0 {
        bail!("reference column lineage: {key} derives from nothing");
    }
    Ok(Answer {
        nodes: usize::try_from(nodes)?,
        edges: usize::try_from(edges)?,
        depth_reached: row
            .try_get::<Option<i32>, _>("depth_reached")?
            .map(i64::from),
        truncated: row.try_get("truncated")?,
        bytes: payload.len(),
    })
}

/// Simple paths from `$1` to `$2` along `input`/`output` edges, at most
/// `$3` edges long: every path from `$1` is extended edge by edge (never
/// onto a node already on it, which is the visited guard, and never past
/// `$2`), and the first `$4` that end at `$2` are kept. Extension goes a
/// level at a time, so the shortest paths come first; `$4` is one more than
/// the paths wanted, to tell whether there were more (the service's
/// `truncated`). The answer is the paths as lists of node keys, as JSON
/// text.
const PATHS_SQL: &str = "WITH RECURSIVE goal AS (
        SELECT node_id FROM node WHERE key = $2
    ),
    paths(node_id, path) AS (
        SELECT node_id, ARRAY[node_id] FROM node WHERE key = $1
      UNION ALL
        SELECT e.target_id, p.path || e.target_id
        FROM paths p
        JOIN edge e ON e.source_id = p.node_id AND e.kind IN ('input', 'output')
        WHERE cardinality(p.path) <= $3
            AND e.target_id <> ALL (p.path)
            AND p.node_id <> (SELECT node_id FROM goal)
    ),
    found AS (
        SELECT path FROM paths WHERE node_id = (SELECT node_id FROM goal) LIMIT $4
    ),
    ranked AS (
        SELECT path, row_number() OVER () AS rank FROM found
    )
    SELECT
        (SELECT count(*) FROM found) AS path_count,
        (SELECT min(cardinality(path)) - 1 FROM found) AS shortest,
        json_build_object(
            'paths', (SELECT coalesce(json_agg(k.keys ORDER BY r.rank), '[]')
                FROM ranked r,
                LATERAL (SELECT json_agg(n.key ORDER BY o.i) AS keys
                    FROM unnest(r.path) WITH ORDINALITY AS o(id, i)
                    JOIN node n ON n.node_id = o.id) k
                WHERE r.rank < $4),
            'truncated', (SELECT count(*) FROM found) >= $4
        )::text AS payload";

/// Lists up to `max_paths` simple paths of at most `max_length` edges for
/// `pair`.
pub async fn paths(
    pool: &PgPool,
    pair: &Pair,
    max_paths: usize,
    max_length: usize,
) -> Result<PathAnswer> {
    let row = sqlx::query(PATHS_SQL)
        .bind(&pair.from)
        .bind(&pair.to)
        .bind(i32::try_from(max_length)?)
        .bind(i64::try_from(max_paths + 1)?)
        .fetch_one(pool)
        .await
        .with_context(|| format!("reference paths from {} to {}", pair.from, pair.to))?;
    let found = usize::try_from(row.try_get::<i64, _>("path_count")?)?;
    let payload: String = row.try_get("payload")?;
    let Some(shortest) = row.try_get::<Option<i32>, _>("shortest")? else {
        bail!("reference paths: none from {} to {}", pair.from, pair.to);
    };
    Ok(PathAnswer {
        paths: found.min(max_paths),
        shortest: usize::try_from(shortest)?,
        truncated: found > max_paths,
        bytes: payload.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upserts_write_every_column_once_per_row() {
        let workload = crate::generate::generate(5, 1);
        let rows = crate::rows::rows_of(&workload.plans[0]);
        let nodes = upsert_nodes(&rows.nodes, rows.seen).into_sql();
        assert!(nodes.starts_with(&format!(
            "INSERT INTO {NODE} (key, kind, name, properties, first_seen, last_seen, created_at, updated_at) VALUES ($1, $2, $3, $4::jsonb, to_timestamp($5), to_timestamp($6), now(), now()), "
        )));
        assert!(nodes.contains(&format!(
            "ON CONFLICT (key) DO UPDATE SET last_seen = GREATEST({NODE}.last_seen"
        )));
        assert!(nodes.ends_with("RETURNING node_id, key"));
        let ids = rows
            .nodes
            .iter()
            .zip(1..)
            .map(|(n, id)| (n.key.clone(), id))
            .collect();
        let edges = upsert_edges(&rows.edges, rows.seen, &ids)
            .unwrap()
            .into_sql();
        assert!(edges.contains("(source_id, target_id, kind, properties, first_seen"));
        assert!(edges.ends_with("updated_at = EXCLUDED.updated_at"));
        assert!(edges.contains("ON CONFLICT (source_id, kind, target_id)"));
        assert_eq!(edges.matches("to_timestamp(").count(), 2 * rows.edges.len());
    }

    #[test]
    fn kinds_are_counted_per_table_and_edge_ends() {
        let sql = count_sql(NODE, EDGE);
        assert!(sql.contains(&format!("FROM {NODE} GROUP BY kind")));
        assert!(sql.contains(&format!("FROM {EDGE} e")));
        assert!(sql.contains("GROUP BY e.kind, s.kind, t.kind"));
        assert!(!sql.contains("FROM node") && !sql.contains("FROM edge"));
    }

    #[test]
    fn traversals_step_the_right_way() {
        assert!(DOWNSTREAM_SQL.contains("SELECT e.target_id"));
        assert!(DOWNSTREAM_SQL.contains("e.source_id = w.node_id"));
        assert!(UPSTREAM_SQL.contains("SELECT e.source_id"));
        assert!(UPSTREAM_SQL.contains("e.target_id = w.node_id"));
        assert!(UPSTREAM_SQL.contains("WHEN e.kind = 'output' THEN 1"));
        // Edges point the way data flows whichever way the walk went.
        assert!(DOWNSTREAM_SQL.contains("SELECT l.here AS source, far.key AS target"));
        assert!(UPSTREAM_SQL.contains("SELECT far.key AS source, l.here AS target"));
        assert!(UPSTREAM_SQL.contains("e.source_id IN (SELECT node_id FROM sub_nodes) AS inside"));
    }

    #[test]
    fn column_walk_goes_back_along_derivations() {
        assert!(COLUMN_UPSTREAM_SQL.contains("SELECT e.source_id, w.hops + 1"));
        assert!(COLUMN_UPSTREAM_SQL.contains("e.target_id = w.node_id AND e.kind = 'derives'"));
        assert!(COLUMN_UPSTREAM_SQL.contains("WHERE w.hops < $2"));
        assert!(COLUMN_UPSTREAM_SQL.contains("SELECT far.key AS source, l.here AS target"));
    }

    #[test]
    fn paths_go_forward_without_revisiting() {
        assert!(PATHS_SQL.contains("e.source_id = p.node_id AND e.kind IN ('input', 'output')"));
        assert!(PATHS_SQL.contains("e.target_id <> ALL (p.path)"));
        assert!(PATHS_SQL.contains("cardinality(p.path) <= $3"));
        assert!(PATHS_SQL.contains("LIMIT $4"));
    }
}
