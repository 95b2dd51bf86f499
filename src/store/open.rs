//! Choosing a backend from a database URL.

use std::path::Path;
use std::sync::Arc;

use super::Store;
use super::postgres::{PgStore, PoolSettings};
use super::sqlite::SqliteStore;
use crate::error::{Error, Result};

/// A connected store of either backend: PostgreSQL for production, SQLite embedded.
#[derive(Debug, Clone)]
pub enum Database {
    /// `postgres://` or `postgresql://`.
    Postgres(PgStore),
    /// `sqlite://`: a database file.
    Sqlite(SqliteStore),
}

impl Database {
    /// Opens the database a URL names, without connecting yet (so the service can start, and
    /// answer 503, while a server is down). A SQLite file and its folder are created if missing.
    pub fn connect_lazy(url: &str, settings: PoolSettings) -> Result<Self> {
        match url.split_once(':').map(|(scheme, _)| scheme) {
            Some("postgres" | "postgresql") => {
                PgStore::connect_lazy(url, settings).map(Database::Postgres)
            }
            Some("sqlite") => {
                create_parent(url)?;
                SqliteStore::connect_lazy(url, settings).map(Database::Sqlite)
            }
            _ => Err(Error::Internal(anyhow::anyhow!(
                "unsupported database URL `{}`: expected postgres:// or sqlite://",
                crate::config::redact(url)
            ))),
        }
    }

    /// Applies pending migrations.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        match self {
            Database::Postgres(store) => store.migrate().await,
            Database::Sqlite(store) => store.migrate().await,
        }
    }

    /// The store behind the storage interface.
    pub fn store(&self) -> Arc<dyn Store> {
        match self {
            Database::Postgres(store) => Arc::new(store.clone()),
            Database::Sqlite(store) => Arc::new(store.clone()),
        }
    }

    /// `postgres` or `sqlite`, for logs.
    pub fn backend(&self) -> &'static str {
        match self {
            Database::Postgres(_) => "postgres",
            Database::Sqlite(_) => "sqlite",
        }
    }
}

/// Creates the folder of a `sqlite://` file, so `HEADWATER_DATA_DIR` may name a new one.
fn create_parent(url: &str) -> Result<()> {
    let path = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let path = path.split('?').next().unwrap_or_default();
    match Path::new(path).parent() {
        Some(dir) if !dir.as_os_str().is_empty() && !path.starts_with(':') => {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::Internal(anyhow::anyhow!("creating {}: {e}", dir.display())))
        }
        _ => Ok(()),
    }
}
