//! Reference B: Marquez's table-level lineage SQL, run on a Marquez-shaped copy of the same graph.
//!
//! The issue asks how Headwater's depth-10 lineage latency compares with Marquez's
//! `GET /api/v1/lineage?nodeId=…&depth=…`. Running Marquez itself would also time a JVM, HTTP
//! and its own ingest; instead this module recreates, in a scratch schema of the service's
//! database, the tables and views that request reads (as our reference notes derive them from
//! Marquez's migrations: `openlineage-and-marquez.md` §2), fills them set-based from the
//! service's own `node`/`edge` rows, and runs the statements Marquez runs for the request. Both
//! sides then answer from the same graph, on the same machine and database, so what differs is
//! the query design: Marquez re-aggregates every current edge and joins on array overlap, hop
//! after hop, with revisits (§2.6 "why it is slow").
//!
//! **Verbatim.** The `getLineage` recursive CTE ([`GET_LINEAGE`]) is the text quoted in the notes,
//! character for character: `jobs_view`, the `OR` join, `DISTINCT ON`, `UNION` with the depth in
//! the row. That SQL is a fact about Marquez that we reproduce on purpose; no Marquez Java code is
//! copied. `getDatasetData` and `getJobFromInputOrOutput` are Marquez's statements too, adapted
//! as listed below.
//!
//! **Adapted**, each for a reason:
//! - Placeholders: `<jobIds>` (jdbi's `@BindList`) becomes one bind per id, as jdbi expands it,
//!   and `:depth` becomes `$1`. `getDatasetData`'s `IN (<dsUuids>)` becomes `= ANY($1)`: Postgres
//!   plans an `IN` list as `= ANY(ARRAY[…])` anyway, and a deep answer can name more datasets than
//!   a statement can have binds (65,535). Its join condition, elided in the notes, is Marquez's
//!   (namespace and name of the view row).
//! - `getJobFromInputOrOutput` gets `j.uuid` as a last sort key, so that a dataset only read,
//!   by jobs first seen at the same instant, starts from the same job on every run.
//! - Left out, as no rows exist for them here: runs (`latestRun`, one query per job in Marquez),
//!   parent jobs, facets, the existence check, and building the JSON answer. The figures are
//!   thus a floor for Marquez's request, not its full cost.
//! - Schema: only the tables the request reads, plus `sources` for the datasets' foreign key;
//!   names are unbounded `varchar`; no `jobs_fqn`, no `INSTEAD OF` trigger on `jobs_view` (we
//!   write the tables directly), no job contexts (dropped upstream). Every job and dataset has
//!   one current version, no symlinked or parent jobs, one primary symlink per dataset. The
//!   indexes are Marquez's, and so is their absence: none on `job_versions_io_mapping
//!   .dataset_uuid` alone, none on `is_current_job_version`.
//!
//! Runaway queries are expected (the CTE's work grows with depth × frontier × all jobs), so
//! [`lineage`] runs under `SET LOCAL statement_timeout` and reports [`Outcome::TimedOut`] rather
//! than an error. Server settings are left as they are, since the service's queries run under
//! them too. Note that under Postgres's default `jit = on` the CTE's cost estimate, far above
//! `jit_above_cost`, gets it JIT-compiled: on a 2-core machine that adds over a second to every
//! request, even at depth 0.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::types::Oid;
use sqlx::postgres::{
    PgArgumentBuffer, PgConnection, PgHasArrayType, PgPool, PgRow, PgTypeInfo, PgValueFormat,
    PgValueRef, Postgres,
};
use sqlx::{Row, ValueRef};

/// What [`load`] wrote, and how long loading and analysing took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loaded {
    pub namespaces: u64,
    pub jobs: u64,
    pub datasets: u64,
    /// `job_versions_io_mapping` rows: one per `input`/`output` edge.
    pub io_mappings: u64,
    pub elapsed: Duration,
}

/// One lineage request's result. A timeout is an outcome, not an error: Marquez's query is
/// known to blow up on large graphs, and the caller reports "≥ timeout".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// `jobs` rows from `getLineage`, `datasets` rows from `getDatasetData`, and the bytes of
    /// column data Postgres sent for both.
    Answered {
        jobs: usize,
        datasets: usize,
        bytes: usize,
    },
    TimedOut,
}

/// Marks the schemas [`load`] makes; [`load`] and [`drop`] refuse to drop any other.
const MARKER: &str = "headwater-bench: Marquez lineage reference (bench/src/marquez.rs)";

/// SQLSTATE `query_canceled`, what `statement_timeout` raises.
const QUERY_CANCELED: &str = "57014";

/// Marquez's `LineageDao.getLineage`, verbatim as quoted in our notes (§2.6). Placeholders are
/// jdbi's; [`lineage_sql`] binds them.
const GET_LINEAGE: &str = r#"WITH RECURSIVE
  job_io AS (
     SELECT
            io.job_uuid AS job_uuid,
            io.job_symlink_target_uuid AS job_symlink_target_uuid,
            ARRAY_AGG(DISTINCT io.dataset_uuid) FILTER (WHERE io.io_type='INPUT') AS inputs,
            ARRAY_AGG(DISTINCT io.dataset_uuid) FILTER (WHERE io.io_type='OUTPUT') AS outputs
     FROM job_versions_io_mapping io
     WHERE io.is_current_job_version = TRUE
     GROUP BY io.job_symlink_target_uuid, io.job_uuid
  ),
  lineage(job_uuid, job_symlink_target_uuid, inputs, outputs) AS (
     SELECT job_uuid,
            job_symlink_target_uuid,
            COALESCE(inputs, Array[]::uuid[]) AS inputs,
            COALESCE(outputs, Array[]::uuid[]) AS outputs,
            0 AS depth
     FROM job_io
     WHERE job_uuid IN (<jobIds>) OR job_symlink_target_uuid IN (<jobIds>)
     UNION
     SELECT io.job_uuid, io.job_symlink_target_uuid, io.inputs, io.outputs, l.depth + 1
     FROM job_io io, lineage l
     WHERE (io.job_uuid != l.job_uuid) AND
         array_cat(io.inputs, io.outputs) && array_cat(l.inputs, l.outputs)
       AND depth < :depth),
  lineage_outside_job_io(job_uuid) AS (
     SELECT
       param_jobs.param_job_uuid as job_uuid,
       j.symlink_target_uuid,
       Array[]::uuid[] AS inputs,
       Array[]::uuid[] AS outputs,
       0 AS depth
     FROM (SELECT unnest(ARRAY[<jobIds>]::UUID[]) AS param_job_uuid) param_jobs
     LEFT JOIN lineage l on param_jobs.param_job_uuid = l.job_uuid
     INNER JOIN jobs j ON j.uuid = param_jobs.param_job_uuid
     WHERE l.job_uuid IS NULL
  )
SELECT DISTINCT ON (j.uuid) j.*, inputs AS input_uuids, outputs AS output_uuids
FROM (SELECT * FROM lineage UNION SELECT * FROM lineage_outside_job_io) l2
INNER JOIN jobs_view j ON (j.uuid=l2.job_uuid OR j.uuid=l2.job_symlink_target_uuid)
"#;

/// Marquez's `LineageDao.getDatasetData`, with the join condition the notes elide; `<dsUuids>`
/// is bound as one array (see the module docs).
const GET_DATASET_DATA: &str = "SELECT ds.*, dv.fields, dv.lifecycle_state
FROM datasets_view ds
LEFT JOIN dataset_versions dv ON dv.uuid = ds.current_version_uuid
LEFT JOIN dataset_symlinks dsym ON dsym.namespace_uuid = ds.namespace_uuid and dsym.name = ds.name
WHERE dsym.is_primary = true
AND ds.uuid IN (<dsUuids>)";

/// Marquez's `LineageDao.getJobFromInputOrOutput`: the start job of a dataset is its writer if
/// it has one (`'OUTPUT' > 'INPUT'`), else its newest reader. `j.uuid` is our tiebreak.
const GET_JOB_FROM_INPUT_OR_OUTPUT: &str = "SELECT j.uuid FROM jobs j
INNER JOIN job_versions jv ON jv.job_uuid = j.uuid
INNER JOIN job_versions_io_mapping io ON io.job_version_uuid = jv.uuid
INNER JOIN datasets_view ds ON ds.uuid = io.dataset_uuid
WHERE ds.name = $1 AND ds.namespace_name = $2
ORDER BY io_type DESC, jv.created_at DESC, j.uuid
LIMIT 1";

/// Marquez's tables, views and indexes for the lineage request (see the module docs for what is
/// left out). Unqualified: [`load`] puts the schema first on the `search_path`.
const SCHEMA_SQL: &str = "
CREATE TABLE namespaces (
    uuid uuid PRIMARY KEY,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    name varchar NOT NULL UNIQUE,
    description text,
    current_owner_name varchar,
    is_hidden boolean DEFAULT false
);
CREATE TABLE sources (
    uuid uuid PRIMARY KEY,
    type varchar NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    name varchar NOT NULL UNIQUE,
    connection_url varchar,
    description text
);
CREATE TABLE datasets (
    uuid uuid PRIMARY KEY,
    type varchar NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    namespace_uuid uuid NOT NULL,
    source_uuid uuid,
    name varchar NOT NULL,
    physical_name varchar NOT NULL,
    description text,
    current_version_uuid uuid,
    last_modified_at timestamptz,
    namespace_name varchar,
    source_name varchar,
    is_deleted boolean DEFAULT false,
    is_hidden boolean DEFAULT false,
    UNIQUE (namespace_uuid, name)
);
CREATE UNIQUE INDEX dataset_name_index ON datasets (name, namespace_name);
CREATE TABLE dataset_symlinks (
    dataset_uuid uuid NOT NULL,
    name varchar NOT NULL,
    namespace_uuid uuid NOT NULL,
    type varchar,
    is_primary boolean DEFAULT false,
    created_at timestamp NOT NULL,
    updated_at timestamp NOT NULL,
    UNIQUE (namespace_uuid, name)
);
CREATE INDEX dataset_symlinks_dataset_uuid ON dataset_symlinks (dataset_uuid);
CREATE TYPE dataset_name AS (namespace varchar(255), name varchar(255));
CREATE VIEW datasets_view AS
SELECT d.uuid, d.type, d.created_at, d.updated_at,
    CASE WHEN d.namespace_name = namespaces.name AND d.name = symlinks.name
        THEN d.namespace_uuid ELSE namespaces.uuid END AS namespace_uuid,
    d.source_uuid,
    CASE WHEN d.namespace_name = namespaces.name AND d.name = symlinks.name
        THEN d.name ELSE symlinks.name END AS name,
    array(SELECT ROW(namespaces.name::varchar(255), symlinks.name::varchar(255))::dataset_name)
        AS dataset_symlinks,
    d.physical_name, d.description, d.current_version_uuid, d.last_modified_at,
    CASE WHEN d.namespace_name = namespaces.name AND d.name = symlinks.name
        THEN d.namespace_name ELSE namespaces.name END AS namespace_name,
    d.source_name, d.is_deleted
FROM datasets d
JOIN dataset_symlinks symlinks ON d.uuid = symlinks.dataset_uuid
JOIN namespaces ON symlinks.namespace_uuid = namespaces.uuid
WHERE d.is_hidden IS FALSE;
CREATE TABLE dataset_versions (
    uuid uuid PRIMARY KEY,
    created_at timestamptz NOT NULL,
    dataset_uuid uuid NOT NULL,
    version uuid NOT NULL UNIQUE,
    run_uuid uuid,
    fields jsonb,
    namespace_name varchar,
    dataset_name varchar,
    lifecycle_state varchar,
    dataset_schema_version_uuid uuid
);
CREATE INDEX datasetversion_datasetid_idx ON dataset_versions (dataset_uuid);
CREATE INDEX dataset_versions_run_uuid ON dataset_versions (run_uuid);
CREATE INDEX dataset_versions_name ON dataset_versions (dataset_name, namespace_name, created_at DESC);
CREATE TABLE jobs (
    uuid uuid PRIMARY KEY,
    type varchar NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    namespace_uuid uuid NOT NULL,
    namespace_name varchar NOT NULL,
    name varchar NOT NULL,
    simple_name varchar,
    parent_job_uuid uuid,
    symlink_target_uuid uuid,
    aliases varchar[],
    description text,
    current_version_uuid uuid,
    current_location varchar,
    current_inputs jsonb,
    current_run_uuid uuid,
    is_hidden boolean DEFAULT false,
    CONSTRAINT unique_jobs_namespace_uuid_name_parent UNIQUE (namespace_uuid, name)
);
CREATE INDEX jobs_current_version_uuid_index ON jobs (current_version_uuid);
CREATE INDEX jobs_symlink_target_uuid_index ON jobs (symlink_target_uuid)
    WHERE symlink_target_uuid IS NOT NULL;
CREATE INDEX jobs_current_run_uuid_idx ON jobs (current_run_uuid);
CREATE VIEW jobs_view AS
SELECT j.uuid, j.name, j.namespace_name, j.simple_name, j.parent_job_uuid,
    p.name AS parent_job_name, j.type, j.created_at, j.updated_at, j.namespace_uuid,
    j.description, j.current_version_uuid, j.current_location, j.current_inputs,
    j.symlink_target_uuid, j.aliases, j.current_run_uuid
FROM jobs j
LEFT JOIN jobs p ON p.uuid = j.parent_job_uuid
WHERE j.is_hidden IS FALSE AND j.symlink_target_uuid IS NULL;
CREATE TABLE job_versions (
    uuid uuid PRIMARY KEY,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    job_uuid uuid NOT NULL,
    version uuid NOT NULL UNIQUE,
    location varchar,
    latest_run_uuid uuid,
    namespace_uuid uuid,
    namespace_name varchar,
    job_name varchar,
    UNIQUE (job_uuid, version)
);
CREATE INDEX job_versions_selector ON job_versions (job_name, namespace_name);
CREATE TABLE job_versions_io_mapping (
    job_version_uuid uuid,
    dataset_uuid uuid NOT NULL,
    io_type varchar NOT NULL,
    job_uuid uuid,
    job_symlink_target_uuid uuid,
    is_current_job_version boolean DEFAULT false,
    made_current_at timestamp,
    UNIQUE (job_version_uuid, dataset_uuid, io_type, job_uuid)
);
CREATE INDEX job_versions_io_mapping_job_uuid_job_symlink_target_uuid
    ON job_versions_io_mapping (job_uuid, job_symlink_target_uuid);
";

/// Marquez's foreign keys (all `ON DELETE CASCADE` since its V63), added once the rows are in:
/// one validating join per key instead of a trigger call per row, which took longer than the
/// load itself. The constraints in the end are the same.
const FOREIGN_KEYS_SQL: &str = "
ALTER TABLE datasets
    ADD FOREIGN KEY (namespace_uuid) REFERENCES namespaces (uuid) ON DELETE CASCADE,
    ADD FOREIGN KEY (source_uuid) REFERENCES sources (uuid) ON DELETE CASCADE;
ALTER TABLE dataset_symlinks
    ADD FOREIGN KEY (namespace_uuid) REFERENCES namespaces (uuid) ON DELETE CASCADE;
ALTER TABLE dataset_versions
    ADD FOREIGN KEY (dataset_uuid) REFERENCES datasets (uuid) ON DELETE CASCADE;
ALTER TABLE jobs
    ADD FOREIGN KEY (namespace_uuid) REFERENCES namespaces (uuid) ON DELETE CASCADE,
    ADD FOREIGN KEY (parent_job_uuid) REFERENCES jobs (uuid) ON DELETE CASCADE,
    ADD FOREIGN KEY (symlink_target_uuid) REFERENCES jobs (uuid) ON DELETE CASCADE;
ALTER TABLE job_versions
    ADD FOREIGN KEY (job_uuid) REFERENCES jobs (uuid) ON DELETE CASCADE,
    ADD FOREIGN KEY (namespace_uuid) REFERENCES namespaces (uuid) ON DELETE CASCADE;
ALTER TABLE job_versions_io_mapping
    ADD FOREIGN KEY (job_version_uuid) REFERENCES job_versions (uuid) ON DELETE CASCADE,
    ADD FOREIGN KEY (dataset_uuid) REFERENCES datasets (uuid) ON DELETE CASCADE,
    ADD FOREIGN KEY (job_uuid) REFERENCES jobs (uuid) ON DELETE CASCADE,
    ADD FOREIGN KEY (job_symlink_target_uuid) REFERENCES jobs (uuid) ON DELETE CASCADE;
";

/// Names every job and dataset node the way Marquez would: its OpenLineage namespace and name
/// where it has them (`properties`), else from its key. A dataset URI splits into scheme and
/// authority (the namespace) and the rest (the name; absolute for path schemes), as the
/// service's `naming::namespace_and_name` does; anything else, and Spline jobs, go under the
/// namespace `spline` (as the service lists them) with the rest of the key as name. Names two
/// nodes would share get their key appended, since Marquez's names are unique per namespace.
/// UUIDs are `md5(key)`, so reruns and the start-key lookups agree.
const NAME_NODES_SQL: &str = "
CREATE TEMP TABLE marquez_names ON COMMIT DROP AS
WITH parsed AS (
    SELECT n.node_id, n.key, n.kind, n.created_at, n.updated_at, n.properties, u.part
    FROM node n
    LEFT JOIN LATERAL regexp_match(substr(n.key, 9), '^([^/]+)://([^/]*)(/.*)$') AS u (part)
        ON n.kind = 'dataset'
    WHERE n.kind IN ('job', 'dataset')
),
uri AS (
    SELECT parsed.*, part IS NOT NULL AND (part[1] <> 'file' OR part[2] = '') AS splits
    FROM parsed
),
named AS (
    SELECT node_id, key, kind, created_at, updated_at,
        coalesce(properties ->> 'namespace',
            CASE WHEN NOT splits THEN NULL WHEN part[1] = 'file' THEN 'file'
                ELSE part[1] || '://' || part[2] END,
            'spline') AS namespace,
        coalesce(properties ->> 'name',
            CASE WHEN NOT splits THEN NULL
                WHEN part[1] IN ('file', 'hdfs', 'dbfs', 'maprfs', 'viewfs') THEN part[3]
                ELSE ltrim(part[3], '/') END,
            substr(key, length(kind) + 2)) AS name
    FROM uri
)
SELECT node_id, key, kind, created_at, updated_at, md5(key)::uuid AS uuid, namespace,
    CASE WHEN count(*) OVER (PARTITION BY kind, namespace, name) > 1
        THEN name || ' (' || key || ')' ELSE name END AS name
FROM named;
ANALYZE marquez_names;
";

const NAMESPACES_SQL: &str = "
INSERT INTO namespaces (uuid, created_at, updated_at, name, current_owner_name)
SELECT md5('namespace:' || namespace)::uuid, min(created_at), max(updated_at), namespace, 'anonymous'
FROM marquez_names GROUP BY namespace";

/// One source per dataset namespace, as Marquez makes for OpenLineage datasets without a
/// data-source facet.
const SOURCES_SQL: &str = "
INSERT INTO sources (uuid, type, created_at, updated_at, name, connection_url)
SELECT md5('source:' || namespace)::uuid, 'DEFAULT', min(created_at), max(updated_at), namespace, namespace
FROM marquez_names WHERE kind = 'dataset' GROUP BY namespace";

const DATASETS_SQL: &str = "
INSERT INTO datasets (uuid, type, created_at, updated_at, namespace_uuid, source_uuid, name,
    physical_name, current_version_uuid, last_modified_at, namespace_name, source_name)
SELECT uuid, 'DB_TABLE', created_at, updated_at, md5('namespace:' || namespace)::uuid,
    md5('source:' || namespace)::uuid, name, name, md5('dataset_version:' || key)::uuid,
    updated_at, namespace, namespace
FROM marquez_names WHERE kind = 'dataset'";

/// `datasets_view` joins through the symlinks, so every dataset needs its primary one.
const SYMLINKS_SQL: &str = "
INSERT INTO dataset_symlinks (dataset_uuid, name, namespace_uuid, type, is_primary, created_at, updated_at)
SELECT uuid, name, md5('namespace:' || namespace)::uuid, 'DB_TABLE', true, created_at, updated_at
FROM marquez_names WHERE kind = 'dataset'";

/// The current version of each dataset, with its columns (`has_field` edges, in `index`
/// order) as the `fields` JSON that `getDatasetData` returns.
const DATASET_VERSIONS_SQL: &str = "
INSERT INTO dataset_versions (uuid, created_at, dataset_uuid, version, fields, namespace_name,
    dataset_name, lifecycle_state)
SELECT md5('dataset_version:' || d.key)::uuid, d.created_at, d.uuid, md5('version:' || d.key)::uuid,
    coalesce(f.fields, '[]'), d.namespace, d.name, NULL
FROM marquez_names d
LEFT JOIN (
    SELECT e.source_id, jsonb_agg(jsonb_build_object('name', c.name, 'type', c.properties ->> 'type',
        'tags', '[]'::jsonb, 'description', NULL) ORDER BY e.properties -> 'index', c.name) AS fields
    FROM edge e JOIN node c ON c.node_id = e.target_id
    WHERE e.kind = 'has_field'
    GROUP BY e.source_id
) f ON f.source_id = d.node_id
WHERE d.kind = 'dataset'";

const JOBS_SQL: &str = "
INSERT INTO jobs (uuid, type, created_at, updated_at, namespace_uuid, namespace_name, name,
    simple_name, current_version_uuid)
SELECT uuid, 'BATCH', created_at, updated_at, md5('namespace:' || namespace)::uuid, namespace,
    name, name, md5('job_version:' || key)::uuid
FROM marquez_names WHERE kind = 'job'";

/// One current version per job; its creation time orders `getJobFromInputOrOutput`.
const JOB_VERSIONS_SQL: &str = "
INSERT INTO job_versions (uuid, created_at, updated_at, job_uuid, version, namespace_uuid,
    namespace_name, job_name)
SELECT md5('job_version:' || key)::uuid, created_at, updated_at, uuid, md5('version:' || key)::uuid,
    md5('namespace:' || namespace)::uuid, namespace, name
FROM marquez_names WHERE kind = 'job'";

/// One current mapping per lineage edge: `input` is dataset → job, `output` job → dataset.
const IO_MAPPING_SQL: &str = "
INSERT INTO job_versions_io_mapping (job_version_uuid, dataset_uuid, io_type, job_uuid,
    is_current_job_version, made_current_at)
SELECT md5('job_version:' || j.key)::uuid, d.uuid, upper(e.kind), j.uuid, true, e.created_at
FROM edge e
JOIN marquez_names j ON j.kind = 'job'
    AND j.node_id = CASE e.kind WHEN 'input' THEN e.target_id ELSE e.source_id END
JOIN marquez_names d ON d.kind = 'dataset'
    AND d.node_id = CASE e.kind WHEN 'input' THEN e.source_id ELSE e.target_id END
WHERE e.kind IN ('input', 'output')";

const ANALYZE_SQL: &str = "ANALYZE namespaces, sources, datasets, dataset_symlinks,
    dataset_versions, jobs, job_versions, job_versions_io_mapping";

/// (Re)creates `schema` with Marquez's lineage tables and fills it from `node`/`edge` (found on
/// the connection's `search_path`), in one transaction; then analyses the tables, so the
/// planner knows their sizes as Marquez's long-lived database would.
pub async fn load(pool: &PgPool, schema: &str) -> Result<Loaded> {
    let schema = checked(schema)?;
    let started = Instant::now();
    let mut tx = pool.begin().await?;
    recreate(&mut tx, schema).await?;
    prepend_to_search_path(&mut tx, schema).await?;
    sqlx::raw_sql(SCHEMA_SQL)
        .execute(&mut *tx)
        .await
        .context("creating the Marquez tables")?;
    let mut loaded = fill(&mut tx).await?;
    sqlx::raw_sql(FOREIGN_KEYS_SQL)
        .execute(&mut *tx)
        .await
        .context("adding the Marquez foreign keys")?;
    sqlx::raw_sql(ANALYZE_SQL).execute(&mut *tx).await?;
    tx.commit().await?;
    loaded.elapsed = started.elapsed();
    Ok(loaded)
}

/// Drops `schema` and everything in it, if [`load`] made it.
pub async fn drop(pool: &PgPool, schema: &str) -> Result<()> {
    let schema = checked(schema)?;
    let mut conn = pool.acquire().await?;
    ensure_ours(&mut conn, schema).await?;
    sqlx::raw_sql(&format!(r#"DROP SCHEMA IF EXISTS "{schema}" CASCADE"#))
        .execute(&mut *conn)
        .await
        .with_context(|| format!("dropping the Marquez schema {schema}"))?;
    Ok(())
}

/// The schema name, spliced into DDL: a plain lower-case identifier, and not one of the
/// schemas a database comes with (dropping `public` would take the service's tables along).
fn checked(schema: &str) -> Result<&str> {
    let plain = (1..=63).contains(&schema.len())
        && schema
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !schema.starts_with(|c: char| c.is_ascii_digit());
    let reserved =
        schema == "public" || schema == "information_schema" || schema.starts_with("pg_");
    ensure!(
        plain && !reserved,
        "{schema:?} can't be the Marquez schema: use a lower-case identifier of our own"
    );
    Ok(schema)
}

/// Refuses a schema that exists without [`MARKER`]: it holds someone else's tables.
async fn ensure_ours(conn: &mut PgConnection, schema: &str) -> Result<()> {
    let comment: Option<(Option<String>,)> = sqlx::query_as(
        "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = $1",
    )
    .bind(schema)
    .fetch_optional(&mut *conn)
    .await?;
    match comment {
        None => Ok(()),
        Some((Some(comment),)) if comment == MARKER => Ok(()),
        Some(_) => bail!("schema {schema} exists and was not made by the Marquez loader"),
    }
}

async fn recreate(conn: &mut PgConnection, schema: &str) -> Result<()> {
    ensure_ours(conn, schema).await?;
    let statements = format!(
        r#"DROP SCHEMA IF EXISTS "{schema}" CASCADE;
        CREATE SCHEMA "{schema}";
        COMMENT ON SCHEMA "{schema}" IS '{MARKER}';"#
    );
    sqlx::raw_sql(&statements)
        .execute(&mut *conn)
        .await
        .with_context(|| format!("recreating the Marquez schema {schema}"))?;
    Ok(())
}

/// Marquez's tables are then created and found unqualified, as its SQL names them, while
/// `node`/`edge` still resolve where they did; for the rest of the transaction only.
async fn prepend_to_search_path(conn: &mut PgConnection, schema: &str) -> Result<()> {
    sqlx::query(
        "SELECT set_config('search_path', format('%I, %s', $1::text, current_setting('search_path')), true)",
    )
    .bind(schema)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The set-based load: one `INSERT … SELECT` per table, no row leaves the server.
async fn fill(conn: &mut PgConnection) -> Result<Loaded> {
    sqlx::raw_sql(NAME_NODES_SQL)
        .execute(&mut *conn)
        .await
        .context("naming jobs and datasets (are the service's node/edge tables there?)")?;
    let namespaces = insert(conn, "namespaces", NAMESPACES_SQL).await?;
    insert(conn, "sources", SOURCES_SQL).await?;
    let datasets = insert(conn, "datasets", DATASETS_SQL).await?;
    insert(conn, "dataset_symlinks", SYMLINKS_SQL).await?;
    insert(conn, "dataset_versions", DATASET_VERSIONS_SQL).await?;
    let jobs = insert(conn, "jobs", JOBS_SQL).await?;
    insert(conn, "job_versions", JOB_VERSIONS_SQL).await?;
    let io_mappings = insert(conn, "job_versions_io_mapping", IO_MAPPING_SQL).await?;
    Ok(Loaded {
        namespaces,
        jobs,
        datasets,
        io_mappings,
        elapsed: Duration::ZERO,
    })
}

async fn insert(conn: &mut PgConnection, table: &str, sql: &str) -> Result<u64> {
    let done = sqlx::query(sql)
        .execute(&mut *conn)
        .await
        .with_context(|| format!("loading Marquez's {table}"))?;
    Ok(done.rows_affected())
}

/// What Marquez's `GET /api/v1/lineage?nodeId=…&depth=…` does in the database for a dataset or
/// job node (`start_key` is its Headwater key): find the start job, run `getLineage`, then
/// `getDatasetData` for every dataset the returned jobs read or write. One transaction, every
/// statement under `timeout`.
pub async fn lineage(
    pool: &PgPool,
    schema: &str,
    start_key: &str,
    depth: u32,
    timeout: Duration,
) -> Result<Outcome> {
    Ok(
        match traverse(pool, schema, start_key, depth, timeout).await? {
            Some(found) => Outcome::Answered {
                jobs: found.jobs.len(),
                datasets: found.datasets,
                bytes: found.bytes,
            },
            None => Outcome::TimedOut,
        },
    )
}

/// A lineage answer, with the jobs by id for the tests.
#[derive(Debug)]
struct Found {
    jobs: Vec<PgUuid>,
    datasets: usize,
    bytes: usize,
}

/// [`lineage`], keeping the job ids; `None` when the timeout cut a statement off.
async fn traverse(
    pool: &PgPool,
    schema: &str,
    start_key: &str,
    depth: u32,
    timeout: Duration,
) -> Result<Option<Found>> {
    let schema = checked(schema)?;
    let depth = i32::try_from(depth)?;
    let mut tx = pool.begin().await?;
    scope(&mut tx, schema, timeout).await?;
    match answer(&mut tx, start_key, depth).await {
        Ok(found) => {
            tx.commit().await?;
            Ok(Some(found))
        }
        Err(e) if timed_out(&e) => {
            tx.rollback().await?;
            Ok(None)
        }
        Err(e) => Err(e.context(format!("Marquez lineage from {start_key}"))),
    }
}

/// `SET LOCAL` both: the timeout (0 would mean none, so at least 1 ms) and the schema, so
/// Marquez's unqualified SQL reads the copy. Both end with the transaction.
async fn scope(conn: &mut PgConnection, schema: &str, timeout: Duration) -> Result<()> {
    let millis = timeout.as_millis().clamp(1, 2_147_483_647);
    sqlx::query(
        "SELECT set_config('statement_timeout', $1, true), set_config('search_path', quote_ident($2), true)",
    )
    .bind(millis.to_string())
    .bind(schema)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

fn timed_out(error: &anyhow::Error) -> bool {
    error
        .chain()
        .filter_map(|cause| cause.downcast_ref::<sqlx::Error>())
        .any(|e| matches!(e, sqlx::Error::Database(db) if db.code().as_deref() == Some(QUERY_CANCELED)))
}

async fn answer(conn: &mut PgConnection, start_key: &str, depth: i32) -> Result<Found> {
    let (job_rows, datasets) = match start_job(conn, start_key).await? {
        Start::Job(job) => {
            let rows = get_lineage(conn, &[job], depth).await?;
            let datasets = datasets_of(&rows)?;
            (rows, datasets)
        }
        // Marquez answers a dataset no job touches with that dataset alone.
        Start::Orphan(dataset) => (Vec::new(), vec![dataset]),
    };
    let dataset_rows = get_dataset_data(conn, &datasets).await?;
    let jobs: sqlx::Result<Vec<PgUuid>> = job_rows.iter().map(|row| row.try_get("uuid")).collect();
    Ok(Found {
        jobs: jobs.context("reading getLineage's job ids")?,
        datasets: dataset_rows.len(),
        bytes: wire_bytes(&job_rows) + wire_bytes(&dataset_rows),
    })
}

enum Start {
    Job(PgUuid),
    Orphan(PgUuid),
}

/// A job key is its own start. A dataset key is first turned into the namespace and name that
/// Marquez's `nodeId` would carry (our translation, a primary-key lookup), then its start job
/// found as Marquez finds it.
async fn start_job(conn: &mut PgConnection, start_key: &str) -> Result<Start> {
    if start_key.starts_with("job:") {
        let job: Option<(PgUuid,)> =
            sqlx::query_as("SELECT uuid FROM jobs WHERE uuid = md5($1)::uuid")
                .bind(start_key)
                .fetch_optional(&mut *conn)
                .await?;
        return match job {
            Some((job,)) => Ok(Start::Job(job)),
            None => bail!("{start_key} is not among the Marquez jobs"),
        };
    }
    ensure!(
        start_key.starts_with("dataset:"),
        "Marquez's lineage starts from a dataset or a job, not {start_key}"
    );
    let dataset: Option<(PgUuid, String, String)> = sqlx::query_as(
        "SELECT uuid, name, namespace_name FROM datasets WHERE uuid = md5($1)::uuid",
    )
    .bind(start_key)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((dataset, name, namespace)) = dataset else {
        bail!("{start_key} is not among the Marquez datasets");
    };
    let job: Option<(PgUuid,)> = sqlx::query_as(GET_JOB_FROM_INPUT_OR_OUTPUT)
        .bind(name)
        .bind(namespace)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(job.map_or(Start::Orphan(dataset), |(job,)| Start::Job(job)))
}

/// [`GET_LINEAGE`] with its placeholders bound as jdbi binds them: `:depth` is `$1`, and
/// `<jobIds>` one bind per job, `$2`, `$3`, …
fn lineage_sql(jobs: usize) -> String {
    let ids: Vec<String> = (0..jobs).map(|i| format!("${}", i + 2)).collect();
    GET_LINEAGE
        .replace("<jobIds>", &ids.join(", "))
        .replace(":depth", "$1")
}

fn dataset_data_sql() -> String {
    GET_DATASET_DATA.replace("IN (<dsUuids>)", "= ANY($1)")
}

async fn get_lineage(conn: &mut PgConnection, jobs: &[PgUuid], depth: i32) -> Result<Vec<PgRow>> {
    ensure!(!jobs.is_empty(), "getLineage needs a start job");
    let sql = lineage_sql(jobs.len());
    let query = jobs
        .iter()
        .fold(sqlx::query(&sql).bind(depth), |query, job| query.bind(*job));
    Ok(query.fetch_all(&mut *conn).await?)
}

/// Every dataset the returned jobs read or write, once.
fn datasets_of(job_rows: &[PgRow]) -> Result<Vec<PgUuid>> {
    let mut datasets = BTreeSet::new();
    for row in job_rows {
        for column in ["input_uuids", "output_uuids"] {
            let ids: Option<Vec<PgUuid>> = row.try_get(column)?;
            datasets.extend(ids.into_iter().flatten());
        }
    }
    Ok(datasets.into_iter().collect())
}

async fn get_dataset_data(conn: &mut PgConnection, datasets: &[PgUuid]) -> Result<Vec<PgRow>> {
    if datasets.is_empty() {
        return Ok(Vec::new());
    }
    let rows = sqlx::query(&dataset_data_sql())
        .bind(datasets)
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows)
}

/// The column data Postgres sent for `rows`, in bytes: what the answer weighs before any JSON
/// is built from it.
fn wire_bytes(rows: &[PgRow]) -> usize {
    let size = |row: &PgRow, i: usize| {
        row.try_get_raw(i)
            .ok()
            .filter(|value| !value.is_null())
            .and_then(|value| value.as_bytes().ok())
            .map_or(0, <[u8]>::len)
    };
    rows.iter()
        .map(|row| (0..row.len()).map(|i| size(row, i)).sum::<usize>())
        .sum()
}

/// A Postgres `uuid`: this crate's sqlx is built without its `uuid` feature, and the ids must be
/// bound and read back as `uuid` (binding text would not compare with `uuid` columns).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct PgUuid(uuid::Uuid);

/// The built-in `uuid` and `uuid[]` type ids, fixed in every Postgres.
const UUID_OID: Oid = Oid(2950);
const UUID_ARRAY_OID: Oid = Oid(2951);

impl sqlx::Type<Postgres> for PgUuid {
    fn type_info() -> PgTypeInfo {
        PgTypeInfo::with_oid(UUID_OID)
    }
}

impl PgHasArrayType for PgUuid {
    fn array_type_info() -> PgTypeInfo {
        PgTypeInfo::with_oid(UUID_ARRAY_OID)
    }
}

impl sqlx::Encode<'_, Postgres> for PgUuid {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        buf.extend_from_slice(self.0.as_bytes());
        Ok(IsNull::No)
    }
}

impl<'r> sqlx::Decode<'r, Postgres> for PgUuid {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        let uuid = match value.format() {
            PgValueFormat::Binary => uuid::Uuid::from_slice(value.as_bytes()?)?,
            PgValueFormat::Text => value.as_str()?.parse()?,
        };
        Ok(Self(uuid))
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Debug;
    use std::str::FromStr;
    use std::time::{SystemTime, UNIX_EPOCH};

    use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

    use super::*;

    #[test]
    fn get_lineage_is_bound_as_jdbi_binds_it_and_otherwise_untouched() {
        let sql = lineage_sql(1);
        assert!(!sql.contains("<jobIds>") && !sql.contains(":depth"));
        assert!(sql.contains("WHERE job_uuid IN ($2) OR job_symlink_target_uuid IN ($2)"));
        assert!(sql.contains("FROM (SELECT unnest(ARRAY[$2]::UUID[]) AS param_job_uuid)"));
        assert!(sql.contains("AND depth < $1),"));
        // The casts survive the `:depth` substitution.
        assert_eq!(sql.matches("::uuid[]").count(), 4);
        assert!(lineage_sql(3).contains("job_uuid IN ($2, $3, $4) OR"));
        // What makes the query Marquez's: every current edge aggregated per request, array
        // overlap as the join, depth in the row (so `UNION` keeps revisits), the `OR` join.
        assert!(sql.contains("WHERE io.is_current_job_version = TRUE"));
        assert!(sql.contains("array_cat(io.inputs, io.outputs) && array_cat(l.inputs, l.outputs)"));
        assert!(sql.contains("l.depth + 1"));
        assert!(sql.contains("SELECT DISTINCT ON (j.uuid) j.*, inputs AS input_uuids"));
        assert!(sql.contains(
            "INNER JOIN jobs_view j ON (j.uuid=l2.job_uuid OR j.uuid=l2.job_symlink_target_uuid)"
        ));
    }

    #[test]
    fn dataset_data_takes_one_array_of_ids() {
        let sql = dataset_data_sql();
        assert!(sql.ends_with("WHERE dsym.is_primary = true\nAND ds.uuid = ANY($1)"));
        assert!(sql.contains("FROM datasets_view ds"));
    }

    #[test]
    fn the_edge_table_has_marquez_indexes_only() {
        let on_io: Vec<&str> = SCHEMA_SQL
            .split(';')
            .filter(|s| s.contains("INDEX") && s.contains("ON job_versions_io_mapping"))
            .collect();
        assert_eq!(on_io.len(), 1, "{on_io:?}");
        assert!(on_io[0].ends_with("(job_uuid, job_symlink_target_uuid)"));
        assert!(SCHEMA_SQL.contains("UNIQUE (job_version_uuid, dataset_uuid, io_type, job_uuid)"));
    }

    #[test]
    fn schemas_must_be_plain_and_our_own() {
        assert!(checked("marquez_ref_2").is_ok());
        for bad in [
            "",
            "public",
            "pg_temp",
            "information_schema",
            "Marquez",
            "a;b",
            "1x",
            "a\"b",
        ] {
            assert!(checked(bad).is_err(), "{bad:?}");
        }
    }

    const SCHEMA: &str = "marquez_test";
    const D1: &str = "dataset:jdbc:postgresql://erp/orders_17";
    const D2: &str = "dataset:s3://lake/raw/s0/ds_0001";
    const D5: &str = "dataset:table3";
    const ORPHAN: &str = "dataset:s3://lake/orphan";
    const ROOMY: Duration = Duration::from_secs(60);

    /// Fails rather than skips without PostgreSQL: the reference is worthless untested.
    #[tokio::test]
    async fn answers_with_marquez_semantics_on_a_hand_made_graph() {
        let scratch = Scratch::create()
            .await
            .expect("this test needs PostgreSQL (DATABASE_URL or 127.0.0.1:5432)");
        let checked = check_everything(&scratch.pool).await;
        let dropped = scratch.drop().await;
        checked.unwrap();
        dropped.unwrap();
    }

    async fn check_everything(pool: &PgPool) -> Result<()> {
        sqlx::raw_sql(SERVICE_TABLES).execute(pool).await?;
        sqlx::raw_sql(HAND_MADE_GRAPH).execute(pool).await?;
        sqlx::raw_sql(STAR).execute(pool).await?;
        check_load(pool).await?;
        check_job_sets(pool).await?;
        check_datasets(pool).await?;
        check_timeout(pool).await?;
        check_drop(pool).await
    }

    async fn check_load(pool: &PgPool) -> Result<()> {
        let first = load(pool, SCHEMA).await?;
        let again = load(pool, SCHEMA).await?;
        // spline, airflow, jdbc:postgresql://erp, s3://lake, hdfs://nn:8020, file, bigquery,
        // s3://star; 8 jobs and 10 datasets by hand, a star of 1,500 jobs around one hub.
        let counts = |l: Loaded| (l.namespaces, l.jobs, l.datasets, l.io_mappings);
        same("load counts", counts(first), (8, 1508, 1511, 13 + 3000))?;
        same("reload counts", counts(again), counts(first))?;
        for (key, namespace, name) in [
            (D1, "jdbc:postgresql://erp", "orders_17"),
            (D2, "s3://lake", "raw/s0/ds_0001"),
            ("dataset:hdfs://nn:8020/data/x", "hdfs://nn:8020", "/data/x"),
            ("dataset:file:///tmp/out", "file", "/tmp/out"),
            ("dataset:bigquery/proj.t8", "bigquery", "proj.t8"),
            (D5, "spline", "table3 (dataset:table3)"),
            (
                "dataset:spline/table3",
                "spline",
                "table3 (dataset:spline/table3)",
            ),
        ] {
            let got: (String, String) = sqlx::query_as(&format!(
                "SELECT namespace_name, name FROM {SCHEMA}.datasets WHERE uuid = md5($1)::uuid"
            ))
            .bind(key)
            .fetch_one(pool)
            .await?;
            same(key, got, (namespace.to_owned(), name.to_owned()))?;
        }
        let indexes: Vec<(String,)> = sqlx::query_as(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = $1 \
             AND tablename = 'job_versions_io_mapping' ORDER BY indexdef",
        )
        .bind(SCHEMA)
        .fetch_all(pool)
        .await?;
        let leading: Vec<String> = indexes
            .iter()
            .map(|(def,)| def.split_once(" (").map_or("", |(_, c)| c).to_owned())
            .collect();
        same(
            "io indexes",
            leading,
            vec![
                "job_uuid, job_symlink_target_uuid)".to_owned(),
                "job_version_uuid, dataset_uuid, io_type, job_uuid)".to_owned(),
            ],
        )
    }

    /// Worked out by hand. Two jobs are neighbours when they share a dataset, either way:
    /// j1–j2 and j1–j3 and j2–j3 (d2, which j2 and j3 both read), j1–j7 (d1), j3–j4 (d4),
    /// j4–j5 (d5); j6 and j8 have none. A dataset starts from its writer, else its newest
    /// reader (d1: dag.j7 over j1).
    async fn check_job_sets(pool: &PgPool) -> Result<()> {
        let cases: [(&str, u32, &[&str]); 12] = [
            ("job:j2", 0, &["j2"]),
            ("job:j2", 1, &["j1", "j2", "j3"]),
            ("job:j2", 2, &["dag.j7", "j1", "j2", "j3", "j4"]),
            (D2, 0, &["j1"]),
            (D2, 1, &["dag.j7", "j1", "j2", "j3"]),
            (D2, 2, &["dag.j7", "j1", "j2", "j3", "j4"]),
            (D1, 0, &["dag.j7"]),
            (D1, 1, &["dag.j7", "j1"]),
            (D1, 2, &["dag.j7", "j1", "j2", "j3"]),
            (D5, 1, &["j3", "j4", "j5"]),
            ("job:j6", 5, &["j6"]),
            ("job:j8", 5, &["j8"]),
        ];
        for (key, depth, jobs) in cases {
            let got = job_names(pool, key, depth).await?;
            same(&format!("{key} at depth {depth}"), got, jobs.to_vec())?;
        }
        Ok(())
    }

    async fn check_datasets(pool: &PgPool) -> Result<()> {
        for (key, depth, jobs, datasets) in [
            ("job:j2", 1, 3, 4),
            ("job:j6", 1, 1, 1),
            ("job:j8", 1, 1, 0),
            (ORPHAN, 3, 0, 1),
        ] {
            let outcome = lineage(pool, SCHEMA, key, depth, ROOMY).await?;
            let Outcome::Answered {
                jobs: got_jobs,
                datasets: got_datasets,
                bytes,
            } = outcome
            else {
                bail!("{key} timed out");
            };
            same(key, (got_jobs, got_datasets), (jobs, datasets))?;
            ensure!(bytes > 0 || jobs + datasets == 0, "{key}: no bytes");
        }
        let fields: (String,) = sqlx::query_as(&format!(
            "SELECT jsonb_path_query_array(dv.fields, '$[*].name')::text
             FROM {SCHEMA}.datasets d JOIN {SCHEMA}.dataset_versions dv ON dv.uuid = d.current_version_uuid
             WHERE d.uuid = md5($1)::uuid"
        ))
        .bind(D2)
        .fetch_one(pool)
        .await?;
        same("d2 fields", fields.0.as_str(), r#"["id", "amount"]"#)?;
        for bad in ["dataset:s3://nowhere", "job:nobody", "run:j1:1"] {
            ensure!(
                lineage(pool, SCHEMA, bad, 1, ROOMY).await.is_err(),
                "{bad} should fail"
            );
        }
        Ok(())
    }

    /// In the star every job neighbours every other through the hub, so each hop compares all
    /// 1,500 frontier rows with all 1,508 jobs: seconds per hop, far past 50 ms.
    async fn check_timeout(pool: &PgPool) -> Result<()> {
        let timeout = Duration::from_millis(50);
        let started = Instant::now();
        let outcome = lineage(pool, SCHEMA, "job:star_1", 20, timeout).await?;
        same("star outcome", outcome, Outcome::TimedOut)?;
        ensure!(started.elapsed() >= timeout, "timed out before the timeout");
        // The pool has one connection: the timeout and schema ended with the transaction.
        let after = job_names(pool, "job:j2", 1).await?;
        same("after a timeout", after, vec!["j1", "j2", "j3"])?;
        let timeout: (String,) = sqlx::query_as("SHOW statement_timeout")
            .fetch_one(pool)
            .await?;
        same("statement_timeout after", timeout.0.as_str(), "0")
    }

    async fn check_drop(pool: &PgPool) -> Result<()> {
        sqlx::raw_sql("CREATE SCHEMA not_ours")
            .execute(pool)
            .await?;
        ensure!(
            drop(pool, "not_ours").await.is_err(),
            "dropped a foreign schema"
        );
        ensure!(
            load(pool, "not_ours").await.is_err(),
            "loaded over a foreign schema"
        );
        drop(pool, SCHEMA).await?;
        drop(pool, SCHEMA).await?; // Nothing left to drop is fine.
        let left: (Option<String>, Option<String>) =
            sqlx::query_as("SELECT to_regnamespace($1)::text, to_regnamespace('not_ours')::text")
                .bind(SCHEMA)
                .fetch_one(pool)
                .await?;
        same("schemas left", left, (None, Some("not_ours".to_owned())))
    }

    async fn job_names(pool: &PgPool, key: &str, depth: u32) -> Result<Vec<String>> {
        let found = traverse(pool, SCHEMA, key, depth, ROOMY)
            .await?
            .with_context(|| format!("{key} timed out"))?;
        let names: Vec<(String,)> = sqlx::query_as(&format!(
            "SELECT name FROM {SCHEMA}.jobs WHERE uuid = ANY($1) ORDER BY name"
        ))
        .bind(&found.jobs)
        .fetch_all(pool)
        .await?;
        ensure!(names.len() == found.jobs.len(), "{key}: a job twice");
        Ok(names.into_iter().map(|(name,)| name).collect())
    }

    fn same<A: PartialEq<B> + Debug, B: Debug>(what: &str, got: A, want: B) -> Result<()> {
        ensure!(got == want, "{what}: got {got:?}, want {want:?}");
        Ok(())
    }

    /// The service's `node`/`edge`, as far as the loader reads them.
    const SERVICE_TABLES: &str = "
        CREATE TABLE node (
            node_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            key text NOT NULL UNIQUE,
            kind text NOT NULL,
            name text NOT NULL,
            properties jsonb NOT NULL DEFAULT '{}',
            property_times jsonb NOT NULL DEFAULT '{}',
            first_seen timestamptz NOT NULL DEFAULT now(),
            last_seen timestamptz NOT NULL DEFAULT now(),
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now());
        CREATE TABLE edge (
            source_id bigint NOT NULL REFERENCES node (node_id),
            target_id bigint NOT NULL REFERENCES node (node_id),
            kind text NOT NULL,
            properties jsonb NOT NULL DEFAULT '{}',
            first_seen timestamptz NOT NULL DEFAULT now(),
            last_seen timestamptz NOT NULL DEFAULT now(),
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (source_id, kind, target_id));";

    /// j1: d1 → d2; j2: d2 → d3; j3: d2 → d4; j4: d4 → d5; j5: d5 → d6; j6: → d7;
    /// dag.j7 (OpenLineage-named, first seen last): d1 → d8; j8 alone. d9 (orphan) and
    /// spline/table3 (whose Marquez name d5 also gets) have no edges; d2 has two columns, a
    /// run of j1 is no lineage.
    const HAND_MADE_GRAPH: &str = r#"
        INSERT INTO node (key, kind, name, properties, created_at)
        SELECT key, kind, key, properties::jsonb, '2024-01-01T00:00:00Z'::timestamptz + make_interval(mins => minute)
        FROM (VALUES
            ('job:j1', 'job', '{}', 1), ('job:j2', 'job', '{}', 2), ('job:j3', 'job', '{}', 3),
            ('job:j4', 'job', '{}', 4), ('job:j5', 'job', '{}', 5), ('job:j6', 'job', '{}', 6),
            ('job:airflow/dag.j7', 'job', '{"namespace": "airflow", "name": "dag.j7"}', 9),
            ('job:j8', 'job', '{}', 8),
            ('dataset:jdbc:postgresql://erp/orders_17', 'dataset', '{}', 0),
            ('dataset:s3://lake/raw/s0/ds_0001', 'dataset', '{}', 1),
            ('dataset:hdfs://nn:8020/data/x', 'dataset', '{}', 2),
            ('dataset:file:///tmp/out', 'dataset', '{}', 3),
            ('dataset:table3', 'dataset', '{}', 4),
            ('dataset:s3://lake/raw/s0/ds_0002', 'dataset', '{}', 5),
            ('dataset:s3://lake/marts/m1', 'dataset', '{}', 6),
            ('dataset:bigquery/proj.t8', 'dataset', '{"namespace": "bigquery", "name": "proj.t8"}', 9),
            ('dataset:s3://lake/orphan', 'dataset', '{}', 9),
            ('dataset:spline/table3', 'dataset', '{"namespace": "spline", "name": "table3"}', 9),
            ('field:s3://lake/raw/s0/ds_0001#amount', 'field', '{}', 1),
            ('field:s3://lake/raw/s0/ds_0001#id', 'field', '{}', 1),
            ('run:j1:1', 'run', '{}', 1)
        ) v (key, kind, properties, minute);
        UPDATE node SET name = split_part(key, '#', 2) WHERE kind = 'field';
        INSERT INTO edge (source_id, target_id, kind, properties)
        SELECT s.node_id, t.node_id, v.kind, v.properties::jsonb
        FROM (VALUES
            ('dataset:jdbc:postgresql://erp/orders_17', 'input', 'job:j1', '{}'),
            ('job:j1', 'output', 'dataset:s3://lake/raw/s0/ds_0001', '{}'),
            ('dataset:s3://lake/raw/s0/ds_0001', 'input', 'job:j2', '{}'),
            ('job:j2', 'output', 'dataset:hdfs://nn:8020/data/x', '{}'),
            ('dataset:s3://lake/raw/s0/ds_0001', 'input', 'job:j3', '{}'),
            ('job:j3', 'output', 'dataset:file:///tmp/out', '{}'),
            ('dataset:file:///tmp/out', 'input', 'job:j4', '{}'),
            ('job:j4', 'output', 'dataset:table3', '{}'),
            ('dataset:table3', 'input', 'job:j5', '{}'),
            ('job:j5', 'output', 'dataset:s3://lake/raw/s0/ds_0002', '{}'),
            ('job:j6', 'output', 'dataset:s3://lake/marts/m1', '{}'),
            ('dataset:jdbc:postgresql://erp/orders_17', 'input', 'job:airflow/dag.j7', '{}'),
            ('job:airflow/dag.j7', 'output', 'dataset:bigquery/proj.t8', '{}'),
            ('dataset:s3://lake/raw/s0/ds_0001', 'has_field', 'field:s3://lake/raw/s0/ds_0001#amount', '{"index": 1}'),
            ('dataset:s3://lake/raw/s0/ds_0001', 'has_field', 'field:s3://lake/raw/s0/ds_0001#id', '{"index": 0}'),
            ('run:j1:1', 'run_of', 'job:j1', '{}')
        ) v (source, kind, target, properties)
        JOIN node s ON s.key = v.source
        JOIN node t ON t.key = v.target;"#;

    /// 1,500 jobs that all read one hub dataset and each write their own.
    const STAR: &str = "
        INSERT INTO node (key, kind, name) VALUES ('dataset:s3://star/hub', 'dataset', 'hub');
        INSERT INTO node (key, kind, name)
        SELECT 'job:star_' || i, 'job', 'star' FROM generate_series(1, 1500) i
        UNION ALL
        SELECT 'dataset:s3://star/out_' || i, 'dataset', 'out' FROM generate_series(1, 1500) i;
        INSERT INTO edge (source_id, target_id, kind)
        SELECT hub.node_id, j.node_id, 'input' FROM node hub, node j
        WHERE hub.key = 'dataset:s3://star/hub' AND j.key LIKE 'job:star\\_%';
        INSERT INTO edge (source_id, target_id, kind)
        SELECT j.node_id, d.node_id, 'output' FROM node j
        JOIN node d ON d.key = 'dataset:s3://star/out_' || substr(j.key, 10)
        WHERE j.key LIKE 'job:star\\_%';";

    /// A database of its own per run, named by process and time, so parallel runs never meet.
    struct Scratch {
        admin: PgPool,
        name: String,
        pool: PgPool,
    }

    impl Scratch {
        async fn create() -> Result<Self> {
            let url = std::env::var("DATABASE_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
            let options = PgConnectOptions::from_str(&url)?;
            let admin = PgPoolOptions::new()
                .max_connections(1)
                .acquire_timeout(Duration::from_secs(5))
                .connect_with(options.clone())
                .await
                .with_context(|| format!("connecting to {url}"))?;
            let nanos = SystemTime::now().duration_since(UNIX_EPOCH)?.subsec_nanos();
            let name = format!("headwater_marquez_test_{}_{nanos}", std::process::id());
            sqlx::raw_sql(&format!(r#"CREATE DATABASE "{name}""#))
                .execute(&admin)
                .await?;
            // One connection, so the timeout check sees the connection it ran on again.
            let pool = PgPoolOptions::new()
                .max_connections(1)
                .connect_with(options.database(&name))
                .await?;
            Ok(Self { admin, name, pool })
        }

        async fn drop(self) -> Result<()> {
            self.pool.close().await;
            let statement = format!(r#"DROP DATABASE IF EXISTS "{}" WITH (FORCE)"#, self.name);
            sqlx::raw_sql(&statement).execute(&self.admin).await?;
            Ok(())
        }
    }
}
