//! What the operations endpoints (`/health/ready`, `/metrics`) ask of a store.

/// What a readiness probe found in a database that answered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Readiness {
    /// Versions of embedded migrations not (successfully) applied, oldest first.
    pub missing_migrations: Vec<i64>,
}

impl Readiness {
    /// Ready to serve: every embedded migration is applied.
    pub fn is_ready(&self) -> bool {
        self.missing_migrations.is_empty()
    }
}

/// Stored nodes and edges by kind, as `(kind, count)` sorted by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GraphCounts {
    /// Nodes by kind.
    pub nodes: Vec<(String, u64)>,
    /// Edges by kind.
    pub edges: Vec<(String, u64)>,
}

/// The state of a connection pool.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolState {
    /// Connections open, idle or in use.
    pub size: u32,
    /// Open connections not in use.
    pub idle: u32,
    /// Most connections the pool will open.
    pub max: u32,
}
