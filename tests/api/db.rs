//! One fresh, migrated database per test, on either backend.
//!
//! Every test runs twice, once per backend (`#[values(Postgres, Sqlite)]`). PostgreSQL
//! databases are copied from a template migrated once for the migrations as they are (named by
//! their hash, shared by every test process, which matters under cargo-nextest's process per
//! test), which is much faster than migrating each; they are dropped when the test's last
//! handle goes. SQLite databases
//! are files in a temporary folder, removed the same way. A missing PostgreSQL server fails
//! the Postgres half loudly: it is never skipped.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use headwater::store::postgres::{PgStore, PoolSettings};
use headwater::store::{Database, Store};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection};
use tokio::sync::OnceCell;

/// Which storage backend a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// PostgreSQL, at `DATABASE_URL`.
    Postgres,
    /// Embedded SQLite, in a temporary file.
    Sqlite,
}

pub use Backend::{Postgres, Sqlite};

/// A test's own database.
#[derive(Clone, Debug)]
pub struct TestDb {
    database: Database,
    url: String,
    _cleanup: Arc<Cleanup>,
}

/// Removes a test database when the last handle on it goes.
#[derive(Debug)]
enum Cleanup {
    Postgres { admin_url: String, name: String },
    Sqlite { dir: PathBuf },
}

fn admin_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres:headwater@127.0.0.1:5432/postgres".to_owned())
}

/// `admin_url` with its database path replaced.
fn url_of(admin_url: &str, database: &str) -> String {
    let (base, _) = admin_url
        .rsplit_once('/')
        .expect("DATABASE_URL has a database path");
    format!("{base}/{database}")
}

fn settings() -> PoolSettings {
    PoolSettings {
        max_connections: 5,
        acquire_timeout: Duration::from_secs(30),
        query_timeout: None,
    }
}

static TEMPLATE: OnceCell<String> = OnceCell::const_new();
static NEXT: AtomicU32 = AtomicU32::new(0);

impl TestDb {
    /// A fresh, migrated database on `backend`.
    pub async fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Postgres => Self::postgres().await,
            Backend::Sqlite => Self::sqlite().await,
        }
    }

    async fn postgres() -> TestDb {
        let admin = admin_url();
        let template = TEMPLATE
            .get_or_init(|| create_template(admin.clone()))
            .await;
        let name = format!(
            "hwt_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        copy_template(&admin, template, &name).await;
        let url = url_of(&admin, &name);
        let pool = PgPoolOptions::new()
            .max_connections(5)
            .acquire_timeout(Duration::from_secs(30))
            .connect(&url)
            .await
            .unwrap_or_else(|e| panic!("connecting to test database {name}: {e}"));
        TestDb {
            database: Database::Postgres(PgStore::new(pool)),
            url,
            _cleanup: Arc::new(Cleanup::Postgres {
                admin_url: admin,
                name,
            }),
        }
    }

    async fn sqlite() -> TestDb {
        let dir = std::env::temp_dir().join(format!("hwt-{}", uuid::Uuid::new_v4()));
        let url = format!("sqlite://{}/headwater.db", dir.display());
        let database = Database::connect_lazy(&url, settings()).expect("SQLite opens");
        database.migrate().await.expect("SQLite migrations apply");
        TestDb {
            database,
            url,
            _cleanup: Arc::new(Cleanup::Sqlite { dir }),
        }
    }

    /// Closes the connection pools: the store then fails like a database that went away.
    pub async fn close(&self) {
        match &self.database {
            Database::Postgres(store) => store.pool().close().await,
            Database::Sqlite(store) => store.close().await,
        }
    }

    /// The store, as the service sees it.
    pub fn store(&self) -> Arc<dyn Store> {
        self.database.store()
    }

    /// The URL a `headwater` process would be given.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Runs SQL that both dialects accept; returns the rows it changed.
    pub async fn execute(&self, sql: &str) -> u64 {
        let done = match &self.database {
            Database::Postgres(store) => sqlx::query(sql)
                .execute(store.pool())
                .await
                .map(|r| r.rows_affected()),
            Database::Sqlite(store) => sqlx::query(sql)
                .execute(store.pool())
                .await
                .map(|r| r.rows_affected()),
        };
        done.unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// The one integer a query returns (e.g. a count), on either backend.
    pub async fn scalar(&self, sql: &str) -> i64 {
        let value = match &self.database {
            Database::Postgres(store) => sqlx::query_scalar(sql).fetch_one(store.pool()).await,
            Database::Sqlite(store) => sqlx::query_scalar(sql).fetch_one(store.pool()).await,
        };
        value.unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Rows of text columns (cast them in SQL: `cast(x as text)` works on both backends).
    pub async fn text_rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        fn texts<R: sqlx::Row>(row: &R) -> Vec<Option<String>>
        where
            for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
            usize: sqlx::ColumnIndex<R>,
        {
            (0..row.len()).map(|i| row.get(i)).collect()
        }
        match &self.database {
            Database::Postgres(store) => sqlx::query(sql).fetch_all(store.pool()).await,
            Database::Sqlite(store) => {
                let rows = sqlx::query(sql).fetch_all(store.pool()).await;
                return rows
                    .unwrap_or_else(|e| panic!("{sql}: {e}"))
                    .iter()
                    .map(texts)
                    .collect();
            }
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .map(texts)
        .collect()
    }

    /// Archives a payload directly, bypassing the parsers (e.g. one they would reject).
    pub async fn insert_raw_payload(&self, format: &str, version: &str, body: &[u8]) {
        let sql = "insert into raw_payload
                       (format, version, content_type, sha256, body, wire_bytes, received_at)
                   values ($1, $2, 'application/json', $3, $4, $5, $6)";
        let digest = vec![0u8; 32];
        let now = chrono::Utc::now();
        let done = match &self.database {
            Database::Postgres(store) => {
                let q = sqlx::query(sql).bind(format).bind(version).bind(digest);
                let q = q.bind(body).bind(body.len() as i64).bind(now);
                q.execute(store.pool()).await.map(|_| ())
            }
            Database::Sqlite(store) => {
                let q = sqlx::query(sql).bind(format).bind(version).bind(digest);
                let q = q.bind(body).bind(body.len() as i64);
                let q = q.bind(headwater::store::sqlite::ts(now));
                q.execute(store.pool()).await.map(|_| ())
            }
        };
        done.expect("raw payload inserts");
    }

    /// Every archived payload, in order of receipt (read through the store).
    pub async fn raw_payloads(&self) -> Vec<headwater::store::StoredPayload> {
        let query = headwater::store::RawPayloadQuery {
            limit: 100_000,
            ..Default::default()
        };
        self.store()
            .raw_payloads(&query)
            .await
            .expect("archive reads")
    }

    /// The archived payload with exactly this body.
    pub async fn raw_payload(&self, body: &[u8]) -> headwater::model::RawPayload {
        let all = self.raw_payloads().await;
        let found = all.into_iter().find(|p| p.raw.body.as_ref() == body);
        found.expect("the body is archived").raw
    }

    /// A time literal in the form the backend stores times.
    pub fn time(&self, rfc3339: &str) -> String {
        let at: chrono::DateTime<chrono::Utc> = rfc3339.parse().expect("RFC 3339 time");
        headwater::store::sqlite::ts(at)
    }
}

/// The template database every Postgres test copies: built once for the migrations as they
/// are, by whichever test process gets there first (under an advisory lock; the others wait
/// and reuse it), and kept for later runs. Built under a temporary name and renamed when done,
/// so a process killed half-way leaves no template that looks ready.
async fn create_template(admin: String) -> String {
    let mut conn = PgConnection::connect(&admin).await.unwrap_or_else(|e| {
        panic!("PostgreSQL at DATABASE_URL is needed for the Postgres half of the tests: {e}")
    });
    drop_stale(&mut conn).await;
    let hash = migrations_hash();
    let name = format!("hwtpl_{hash:016x}");
    sqlx::query("select pg_advisory_lock($1)")
        .bind(hash as i64)
        .execute(&mut conn)
        .await
        .unwrap();
    let ready: bool =
        sqlx::query_scalar("select exists (select from pg_database where datname = $1)")
            .bind(&name)
            .fetch_one(&mut conn)
            .await
            .unwrap();
    if !ready {
        build_template(&mut conn, &admin, &name).await;
    }
    sqlx::query("select pg_advisory_unlock($1)")
        .bind(hash as i64)
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.ok();
    name
}

/// Migrates a new template under a temporary name, renames it `name`, and drops the templates
/// of other migrations.
async fn build_template(conn: &mut PgConnection, admin: &str, name: &str) {
    let building = format!("{name}_building");
    for sql in [
        format!("drop database if exists {building} with (force)"),
        format!("create database {building}"),
    ] {
        sqlx::query(&sql).execute(&mut *conn).await.unwrap();
    }
    let store = PgStore::new(
        PgPoolOptions::new()
            .max_connections(1)
            .connect(&url_of(admin, &building))
            .await
            .unwrap(),
    );
    store.migrate().await.expect("migrations apply");
    store.pool().close().await;
    let rename = format!("alter database {building} rename to {name}");
    sqlx::query(&rename).execute(&mut *conn).await.unwrap();
    let others: Vec<String> = sqlx::query_scalar(
        "select datname from pg_database where datname like 'hwtpl\\_%' and datname <> $1",
    )
    .bind(name)
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    for other in others {
        let sql = format!("drop database if exists {other} with (force)");
        sqlx::query(&sql).execute(&mut *conn).await.ok();
    }
}

/// A hash of the PostgreSQL migrations, names and contents: a template is good for exactly
/// the migrations it was built from.
fn migrations_hash() -> u64 {
    use std::hash::{Hash, Hasher};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a migration").path())
        .collect();
    files.sort();
    // SipHash with fixed keys: the same in every process.
    let mut hasher = std::hash::DefaultHasher::new();
    for file in files {
        file.file_name().hash(&mut hasher);
        std::fs::read(&file)
            .expect("a readable migration")
            .hash(&mut hasher);
    }
    hasher.finish()
}

/// Test databases of processes that no longer run.
async fn drop_stale(conn: &mut PgConnection) {
    let names: Vec<String> =
        sqlx::query_scalar("select datname from pg_database where datname like 'hwt\\_%'")
            .fetch_all(&mut *conn)
            .await
            .unwrap();
    for name in names {
        let pid = name.rsplit('_').nth(1).and_then(|p| p.parse::<u32>().ok());
        let alive = pid.is_some_and(|p| std::path::Path::new(&format!("/proc/{p}")).exists());
        if !alive {
            let sql = format!("drop database if exists {name} with (force)");
            sqlx::query(&sql).execute(&mut *conn).await.ok();
        }
    }
}

/// `create database ... template ...`, retried while the template's last connection is still
/// closing (PostgreSQL refuses to copy a database someone is connected to).
async fn copy_template(admin: &str, template: &str, name: &str) {
    let mut conn = PgConnection::connect(admin)
        .await
        .expect("PostgreSQL answers");
    let sql = format!("create database {name} template {template}");
    for attempt in 0.. {
        match sqlx::query(&sql).execute(&mut conn).await {
            Ok(_) => break,
            Err(e) if attempt < 50 && e.to_string().contains("being accessed") => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("{sql}: {e}"),
        }
    }
    conn.close().await.ok();
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        match self {
            Cleanup::Sqlite { dir } => {
                std::fs::remove_dir_all(dir).ok();
            }
            Cleanup::Postgres { admin_url, name } => {
                let (admin_url, name) = (admin_url.clone(), name.clone());
                // Drop runs inside the test's runtime; a thread of its own may block on I/O.
                let dropper = std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    runtime.block_on(async {
                        if let Ok(mut conn) = PgConnection::connect(&admin_url).await {
                            let sql = format!("drop database if exists {name} with (force)");
                            sqlx::query(&sql).execute(&mut conn).await.ok();
                        }
                    });
                });
                dropper.join().ok();
            }
        }
    }
}
