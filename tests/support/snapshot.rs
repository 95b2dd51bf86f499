//! The stored graph read straight from the database, to compare runs and to see exactly what
//! each request left behind.
//!
//! Times are left out: a Spline sighting is stamped with its arrival, which differs between
//! two runs of the same requests. Everything else (keys, kinds, names, properties, edges, the
//! raw payloads' digests) must match.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::{PgPool, SqlitePool};

use super::workload::{Kind, Request, Workload};

const NODES: &str = "select key, kind, name, cast(properties as text) from node";
const EDGES: &str = "select s.key, e.kind, t.key, cast(e.properties as text)
    from edge e join node s on s.node_id = e.source_id join node t on t.node_id = e.target_id";
const PAYLOADS: &str = "select format, sha256 from raw_payload";

/// A database holding a Headwater graph, either backend.
pub enum GraphDb {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

impl GraphDb {
    /// Connects to the database at a `postgres://` or `sqlite://` URL.
    pub async fn connect(url: &str) -> GraphDb {
        match url.starts_with("sqlite:") {
            true => GraphDb::Sqlite(SqlitePool::connect(url).await.expect("opening SQLite")),
            false => GraphDb::Postgres(PgPool::connect(url).await.expect("connecting")),
        }
    }

    pub async fn close(&self) {
        match self {
            GraphDb::Postgres(pool) => pool.close().await,
            GraphDb::Sqlite(pool) => pool.close().await,
        }
    }

    async fn texts(&self, sql: &str) -> Vec<[String; 4]> {
        let rows: Vec<(String, String, String, String)> = match self {
            GraphDb::Postgres(pool) => sqlx::query_as(sql).fetch_all(pool).await,
            GraphDb::Sqlite(pool) => sqlx::query_as(sql).fetch_all(pool).await,
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
        rows.into_iter().map(|(a, b, c, d)| [a, b, c, d]).collect()
    }

    async fn payloads(&self) -> Vec<(String, Vec<u8>)> {
        match self {
            GraphDb::Postgres(pool) => sqlx::query_as(PAYLOADS).fetch_all(pool).await,
            GraphDb::Sqlite(pool) => sqlx::query_as(PAYLOADS).fetch_all(pool).await,
        }
        .expect(PAYLOADS)
    }

    /// Everything stored, times aside.
    pub async fn snapshot(&self) -> Snapshot {
        let nodes = self.texts(NODES).await.into_iter();
        let nodes = nodes.map(|[key, kind, name, p]| (key, (kind, name, json(&p))));
        let edges = self.texts(EDGES).await.into_iter();
        let edges = edges.map(|[source, kind, target, p]| ((source, kind, target), json(&p)));
        let payloads = self.payloads().await.into_iter();
        let payloads = payloads.map(|(format, digest)| (format, hex(&digest)));
        Snapshot {
            nodes: nodes.collect(),
            edges: edges.collect(),
            payloads: payloads.collect(),
        }
    }

    /// One query that fails if a node key, an edge or a payload is stored twice: the schema's
    /// keys forbid it, and this checks they hold.
    pub async fn duplicates(&self) -> i64 {
        let sql = "select
            (select count(*) from (select key from node group by key having count(*) > 1) n)
          + (select count(*) from (select 1 from edge group by source_id, kind, target_id
                                   having count(*) > 1) e)
          + (select count(*) from (select 1 from raw_payload group by format, sha256
                                   having count(*) > 1) p)";
        match self {
            GraphDb::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
            GraphDb::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
        }
        .expect("counting duplicates")
    }
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("stored properties {text}: {e}"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

type NodeRow = (String, String, Value);
type EdgeKey = (String, String, String);

/// A stored graph, times aside.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// key → (kind, name, properties).
    pub nodes: BTreeMap<String, NodeRow>,
    /// (source key, kind, target key) → properties.
    pub edges: BTreeMap<EdgeKey, Value>,
    /// (format, sha256 in hex) of each archived payload.
    pub payloads: BTreeSet<(String, String)>,
}

/// What one request left in a graph.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Part {
    pub nodes: BTreeMap<String, NodeRow>,
    pub edges: BTreeMap<EdgeKey, Value>,
    pub archived: bool,
}

impl Part {
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty() && self.edges.is_empty() && !self.archived
    }

    /// Whether the payload is archived with the nodes and edges a request of this kind makes:
    /// how many of each follows from the workload's shapes. (The crash test checks this
    /// against a clean run; the outage test, which has none, relies on it.)
    pub fn is_whole(&self, kind: &Kind) -> bool {
        let nodes = |kind: &str| self.nodes.values().filter(|(k, _, _)| k == kind).count();
        let edges = |kind: &str| self.edges.keys().filter(|(_, k, _)| k == kind).count();
        self.archived
            && match *kind {
                Kind::SplinePlan { reads, .. } => {
                    nodes("job") == 1
                        && nodes("operation") == reads + 2
                        && nodes("attribute") == reads + 1
                        && edges("input") == reads + 1
                        && edges("output") == 1
                        && edges("reads_from") == reads + 1
                }
                Kind::SplineEvent { .. } => nodes("run") == 1 && edges("run_of") == 1,
                Kind::OpenLineage { .. } => {
                    nodes("run") == 1
                        && nodes("job") == 1
                        && nodes("field") == 3
                        && edges("input") == 3
                        && edges("output") == 1
                        && edges("run_of") == 1
                        && edges("has_field") == 3
                }
            }
    }
}

impl Snapshot {
    /// Each request's part, by request index. A node belongs to the request whose own names
    /// its key carries; an edge to its source's request, or else its target's (an edge from a
    /// shared hub belongs to the request that reads it).
    pub fn parts(&self, workload: &Workload) -> Vec<Part> {
        let mut parts = vec![Part::default(); workload.requests.len()];
        for (key, row) in &self.nodes {
            if let Some(owner) = workload.owner_of(key) {
                parts[owner].nodes.insert(key.clone(), row.clone());
            }
        }
        for (edge, properties) in &self.edges {
            let owner = workload
                .owner_of(&edge.0)
                .or_else(|| workload.owner_of(&edge.2));
            if let Some(owner) = owner {
                parts[owner].edges.insert(edge.clone(), properties.clone());
            }
        }
        for (part, request) in parts.iter_mut().zip(&workload.requests) {
            part.archived = self.payloads.contains(&digest(request));
        }
        parts
    }

    /// A readable account of how two snapshots differ (empty when they don't).
    pub fn differences(&self, other: &Snapshot) -> Vec<String> {
        let mut found = Vec::new();
        diff_maps(&self.nodes, &other.nodes, "node", &mut found);
        diff_maps(&self.edges, &other.edges, "edge", &mut found);
        for p in self.payloads.symmetric_difference(&other.payloads) {
            found.push(format!("payload {p:?} in one only"));
        }
        found
    }
}

fn diff_maps<K: Ord + std::fmt::Debug, V: PartialEq + std::fmt::Debug>(
    a: &BTreeMap<K, V>,
    b: &BTreeMap<K, V>,
    what: &str,
    found: &mut Vec<String>,
) {
    for (k, v) in a {
        match b.get(k) {
            None => found.push(format!("{what} {k:?} only in the first")),
            Some(w) if w != v => found.push(format!("{what} {k:?}: {v:?} vs {w:?}")),
            Some(_) => {}
        }
    }
    for k in b.keys().filter(|k| !a.contains_key(*k)) {
        found.push(format!("{what} {k:?} only in the second"));
    }
}

/// The archive's key of a request's body.
pub fn digest(request: &Request) -> (String, String) {
    let format = match request.path {
        super::workload::PLANS => "spline.plan",
        super::workload::EVENTS => "spline.events",
        _ => "openlineage.event",
    };
    (
        format.to_owned(),
        hex(&Sha256::digest(request.body.as_bytes())),
    )
}
