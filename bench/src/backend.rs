//! The two storage backends the service runs on, and the raw-SQL references beside each.
//!
//! Every (backend, scale) gets a fresh database, so one measurement never inherits another's
//! rows, caches or bloat. The reference connects to the same database the service uses.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use serde::Serialize;
use sqlx::{PgPool, Row, SqlitePool};

use crate::columns::Column;
use crate::paths::{Pair, PathAnswer};
use crate::query::{Answer, Start};
use crate::reference::{self, KindRows};
use crate::reference_sqlite;
use crate::rows::PlanRows;
use crate::workers::Timed;

/// Where the service keeps its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Postgres => "postgres",
            Backend::Sqlite => "sqlite",
        }
    }
}

/// A database made for one measurement.
#[derive(Debug, Clone)]
pub struct Fresh {
    /// What the service is given as `DATABASE_URL`.
    pub url: String,
    admin_url: String,
    name: String,
    file: Option<PathBuf>,
}

/// Makes an empty database named `name`: a PostgreSQL database on the server of `admin_url`,
/// or a SQLite file in `dir` (the service creates and migrates it when it starts).
pub async fn fresh(backend: Backend, name: &str, admin_url: &str, dir: &Path) -> Result<Fresh> {
    match backend {
        Backend::Postgres => {
            let admin = PgPool::connect(admin_url)
                .await
                .context("connecting to --admin-url")?;
            for sql in [
                format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                format!("CREATE DATABASE {name}"),
            ] {
                sqlx::query(&sql).execute(&admin).await.context(sql)?;
            }
            admin.close().await;
            Ok(Fresh {
                url: with_database(admin_url, name),
                admin_url: admin_url.to_owned(),
                name: name.to_owned(),
                file: None,
            })
        }
        Backend::Sqlite => {
            std::fs::create_dir_all(dir)?;
            let file = dir.join(format!("{name}.db"));
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
            }
            Ok(Fresh {
                url: format!("sqlite://{}", file.display()),
                admin_url: admin_url.to_owned(),
                name: name.to_owned(),
                file: Some(file),
            })
        }
    }
}

/// `url` with its database path replaced by `name`, keeping any `?query`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let base = base.rsplit_once('/').map_or(base, |(head, _)| head);
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

impl Fresh {
    /// A raw-SQL client on the service's database (after the service has migrated it).
    pub async fn reference(&self, connections: usize) -> Result<Reference> {
        match &self.file {
            None => Ok(Reference::Postgres(
                reference::connect(&self.url, connections).await?,
            )),
            Some(file) => Ok(Reference::Sqlite(reference_sqlite::connect(file).await?)),
        }
    }

    /// Removes the database, so that a long suite doesn't fill the disk.
    pub async fn dispose(&self) -> Result<()> {
        match &self.file {
            None => {
                let admin = PgPool::connect(&self.admin_url).await?;
                let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
                sqlx::query(&sql).execute(&admin).await?;
                admin.close().await;
            }
            Some(file) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
                }
            }
        }
        Ok(())
    }
}

/// Stored rows, as the scale figures are stated.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Stored {
    pub nodes: u64,
    pub edges: u64,
    /// `input`/`output` edges: the dataset-lineage layer the queries walk.
    pub lineage_edges: u64,
    pub raw_payloads: u64,
}

/// The reference's connection to the service's database.
pub enum Reference {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// What a reference ingest measured and whether it wrote what the service stored.
pub struct WrittenRows {
    pub timed: Timed<usize>,
    pub rows_by_kind: Vec<KindRows>,
}

impl Reference {
    /// Planner statistics for both sides' queries.
    pub async fn analyze(&self) -> Result<()> {
        match self {
            Reference::Postgres(pool) => reference::analyze(pool).await,
            // The service never analyses its file (its queries fix their join order), and
            // statistics written here would change its plans: both sides run as deployed.
            Reference::Sqlite(_) => Ok(()),
        }
    }

    /// Writes every item's rows into scratch tables (one transaction each), compares the rows
    /// per kind with the service's, and drops the scratch tables however that went.
    pub async fn ingest(
        &self,
        rows: Arc<Vec<PlanRows>>,
        concurrency: usize,
    ) -> Result<WrittenRows> {
        match self {
            Reference::Postgres(pool) => {
                reference::create_tables(pool).await?;
                let written = match reference::ingest(pool, rows, concurrency).await {
                    Ok(timed) => reference::rows_by_kind(pool).await.map(|k| (timed, k)),
                    Err(e) => Err(e),
                };
                reference::drop_tables(pool).await?;
                let (timed, rows_by_kind) = written?;
                Ok(WrittenRows {
                    timed,
                    rows_by_kind,
                })
            }
            Reference::Sqlite(pool) => {
                reference_sqlite::create_tables(pool).await?;
                let written = match reference_sqlite::ingest(pool, rows).await {
                    Ok(timed) => reference_sqlite::rows_by_kind(pool)
                        .await
                        .map(|k| (timed, k)),
                    Err(e) => Err(e),
                };
                reference_sqlite::drop_tables(pool).await?;
                let (timed, rows_by_kind) = written?;
                Ok(WrittenRows {
                    timed,
                    rows_by_kind,
                })
            }
        }
    }

    pub async fn lineage(&self, start: &Start, depth: u32) -> Result<Answer> {
        match self {
            Reference::Postgres(pool) => reference::lineage(pool, start, depth).await,
            Reference::Sqlite(pool) => reference_sqlite::lineage(pool, start, depth).await,
        }
    }

    pub async fn column_lineage(&self, column: &Column, depth: u32) -> Result<Answer> {
        match self {
            Reference::Postgres(pool) => reference::column_lineage(pool, column, depth).await,
            Reference::Sqlite(pool) => reference_sqlite::column_lineage(pool, column, depth).await,
        }
    }

    pub async fn paths(
        &self,
        pair: &Pair,
        max_paths: usize,
        max_length: usize,
    ) -> Result<PathAnswer> {
        match self {
            Reference::Postgres(pool) => reference::paths(pool, pair, max_paths, max_length).await,
            Reference::Sqlite(pool) => {
                reference_sqlite::paths(pool, pair, max_paths, max_length).await
            }
        }
    }

    /// How much the service stored.
    pub async fn stored(&self) -> Result<Stored> {
        const SQL: &str = "select (select count(*) from node) as nodes,
                (select count(*) from edge) as edges,
                (select count(*) from edge where kind in ('input', 'output')) as lineage_edges,
                (select count(*) from raw_payload) as raw_payloads";
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        let (nodes, edges, lineage_edges, raw_payloads): (i64, i64, i64, i64) = match self {
            Reference::Postgres(pool) => {
                let r = sqlx::query(SQL).fetch_one(pool).await?;
                (r.get(0), r.get(1), r.get(2), r.get(3))
            }
            Reference::Sqlite(pool) => {
                let r = sqlx::query(SQL).fetch_one(pool).await?;
                (r.get(0), r.get(1), r.get(2), r.get(3))
            }
        };
        Ok(Stored {
            nodes: count(nodes),
            edges: count(edges),
            lineage_edges: count(lineage_edges),
            raw_payloads: count(raw_payloads),
        })
    }

    /// The dataset-lineage layer, for the in-memory reference: (id, key) of datasets and
    /// jobs, and (source, target, kind) of `input`/`output` edges.
    pub async fn lineage_layer(&self) -> Result<LineageLayer> {
        const NODES: &str = "select node_id, key from node where kind in ('dataset', 'job')";
        const EDGES: &str =
            "select source_id, target_id, kind from edge where kind in ('input', 'output')";
        Ok(match self {
            Reference::Postgres(pool) => LineageLayer {
                nodes: sqlx::query_as(NODES).fetch_all(pool).await?,
                edges: sqlx::query_as(EDGES).fetch_all(pool).await?,
            },
            Reference::Sqlite(pool) => LineageLayer {
                nodes: sqlx::query_as(NODES).fetch_all(pool).await?,
                edges: sqlx::query_as(EDGES).fetch_all(pool).await?,
            },
        })
    }

    /// The PostgreSQL pool, for the Marquez reference (PostgreSQL only).
    pub fn postgres(&self) -> Option<&PgPool> {
        match self {
            Reference::Postgres(pool) => Some(pool),
            Reference::Sqlite(_) => None,
        }
    }

    pub async fn close(&self) {
        match self {
            Reference::Postgres(pool) => pool.close().await,
            Reference::Sqlite(pool) => pool.close().await,
        }
    }
}

/// Rows of the dataset-lineage layer.
pub struct LineageLayer {
    pub nodes: Vec<(i64, String)>,
    pub edges: Vec<(i64, i64, String)>,
}

/// Waits so a just-started database settles (autovacuum of the fresh tables, checkpoints)
/// before timing starts.
pub async fn settle() {
    tokio::time::sleep(Duration::from_millis(500)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_name_replaces_the_path_and_keeps_the_query() {
        assert_eq!(
            with_database("postgres://u@h:5432/postgres", "b1"),
            "postgres://u@h:5432/b1"
        );
        assert_eq!(
            with_database("postgres://u@h/postgres?sslmode=disable", "b1"),
            "postgres://u@h/b1?sslmode=disable"
        );
    }
}
