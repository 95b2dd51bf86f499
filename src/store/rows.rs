//! Reading nodes, edges and archived payloads out of result rows, once for every backend.
//!
//! Both schemas use the same table and column names; only the column types differ (jsonb and
//! timestamptz in PostgreSQL, TEXT in SQLite), and sqlx decodes each into the same Rust types.
//! [`GraphRow`] names the four decodings the graph needs so the row readers are written once.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::Row;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;

use super::StoredPayload;
use crate::error::Result;
use crate::graph::index::LinkChanges;
use crate::model::{EdgeKind, EdgeRecord, Link, Node, NodeId, NodeKind, RawPayload, RawProperties};

/// Node columns, in the order [`node_from_row`] reads them.
pub const NODE_COLUMNS: &str = "node_id, key, kind, name, properties, first_seen, last_seen";
/// Node columns of `n`, for queries that join through edges or aliases.
pub const ALIASED_COLUMNS: &str =
    "n.node_id, n.key, n.kind, n.name, n.properties, n.first_seen, n.last_seen";
/// Edge columns, in the order [`edge_from_row`] reads them.
pub const EDGE_COLUMNS: &str = "source_id, target_id, kind, properties, first_seen, last_seen";
/// Link columns, as [`link_from_row`] reads them.
pub const LINK_COLUMNS: &str = "source_id, target_id, kind";
/// The kinds the lineage index holds ([`crate::graph::index::INDEXED`]) as an SQL list. Spelled
/// out rather than bound, so that the change feeds' partial indexes (`where kind in ...`) match.
pub const INDEXED_KINDS: &str = "('input', 'output', 'derives', 'affects')";
/// Raw-payload columns, as [`payload_from_row`] reads them.
pub const PAYLOAD_COLUMNS: &str =
    "raw_payload_id, format, version, content_type, body, wire_bytes, received_at, event_time";

/// A result row of either backend.
pub trait GraphRow {
    /// A text column.
    fn text(&self, column: &str) -> String;
    /// An integer column.
    fn int(&self, column: &str) -> i64;
    /// An integer column that may be SQL NULL.
    fn opt_int(&self, column: &str) -> Option<i64>;
    /// A JSON column.
    fn json(&self, column: &str) -> Value;
    /// A time column; `None` when SQL NULL.
    fn time(&self, column: &str) -> Option<DateTime<Utc>>;
    /// A binary column.
    fn bytes(&self, column: &str) -> Vec<u8>;
}

macro_rules! graph_row {
    ($row:ty) => {
        impl GraphRow for $row {
            fn text(&self, column: &str) -> String {
                self.get(column)
            }
            fn int(&self, column: &str) -> i64 {
                self.get(column)
            }
            fn opt_int(&self, column: &str) -> Option<i64> {
                self.get(column)
            }
            fn json(&self, column: &str) -> Value {
                self.get(column)
            }
            fn time(&self, column: &str) -> Option<DateTime<Utc>> {
                self.get(column)
            }
            fn bytes(&self, column: &str) -> Vec<u8> {
                self.get(column)
            }
        }
    };
}

graph_row!(PgRow);
graph_row!(SqliteRow);

/// Reads a time column that the schema declares `not null`.
pub fn required_time(row: &impl GraphRow, column: &str) -> DateTime<Utc> {
    row.time(column).unwrap_or_default()
}

/// A node and its id, from [`NODE_COLUMNS`].
pub fn node_from_row(row: &impl GraphRow) -> Result<(NodeId, Node)> {
    node_with(row, row.json("properties"))
}

/// A node with its properties as text, from [`NODE_COLUMNS`] with `properties` as text.
pub fn node_text_from_row(row: &impl GraphRow) -> Result<(NodeId, Node<RawProperties>)> {
    let text = row.text("properties");
    let properties = serde_json::value::RawValue::from_string(text)
        .map_err(|e| anyhow::anyhow!("stored node properties are not JSON: {e}"))?;
    node_with(row, properties)
}

fn node_with<P>(row: &impl GraphRow, properties: P) -> Result<(NodeId, Node<P>)> {
    let kind = row.text("kind");
    let kind = NodeKind::parse(&kind)
        .ok_or_else(|| anyhow::anyhow!("stored node has unknown kind {kind}"))?;
    let node = Node {
        key: row.text("key"),
        kind,
        name: row.text("name"),
        properties,
        first_seen: required_time(row, "first_seen"),
        last_seen: required_time(row, "last_seen"),
    };
    Ok((row.int("node_id"), node))
}

/// An edge, from [`EDGE_COLUMNS`].
pub fn edge_from_row(row: &impl GraphRow) -> Result<EdgeRecord> {
    let kind = row.text("kind");
    let kind = EdgeKind::parse(&kind)
        .ok_or_else(|| anyhow::anyhow!("stored edge has unknown kind {kind}"))?;
    Ok(EdgeRecord {
        source: row.int("source_id"),
        target: row.int("target_id"),
        kind,
        properties: row.json("properties"),
        first_seen: required_time(row, "first_seen"),
        last_seen: required_time(row, "last_seen"),
    })
}

/// A link, from [`LINK_COLUMNS`].
pub fn link_from_row(row: &impl GraphRow) -> Result<Link> {
    let kind = row.text("kind");
    let kind = EdgeKind::parse(&kind)
        .ok_or_else(|| anyhow::anyhow!("stored edge has unknown kind {kind}"))?;
    Ok(Link {
        source: row.int("source_id"),
        kind,
        target: row.int("target_id"),
    })
}

/// A change-feed answer: every row carries the feed's `position` and `epoch`, and one link, or
/// null link columns in the single row of an answer with no links.
pub fn link_changes_from_rows(rows: &[impl GraphRow]) -> Result<LinkChanges> {
    let Some(first) = rows.first() else {
        return Err(anyhow::anyhow!("the change feed answered no header row").into());
    };
    let links = rows
        .iter()
        .filter(|r| r.opt_int("source_id").is_some())
        .map(link_from_row)
        .collect::<Result<_>>()?;
    Ok(LinkChanges {
        position: first.int("position"),
        epoch: first.int("epoch"),
        links,
    })
}

/// An archived payload, from [`PAYLOAD_COLUMNS`].
pub fn payload_from_row(row: &impl GraphRow) -> StoredPayload {
    StoredPayload {
        id: row.int("raw_payload_id"),
        raw: RawPayload {
            format: row.text("format"),
            version: row.text("version"),
            content_type: row.text("content_type"),
            body: row.bytes("body").into(),
            wire_bytes: row.int("wire_bytes") as usize,
            received_at: required_time(row, "received_at"),
            event_time: row.time("event_time"),
            received_by: None,
            request_id: None,
        },
    }
}

/// `%` and `_` in a search term are literal characters, not wildcards. Both backends' LIKE
/// treat `\` as the escape character (SQLite is told so with `escape '\'`).
pub fn like_pattern(term: &str) -> String {
    let escaped = term
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// `(kind, count)` rows of a grouped count, clamped to unsigned.
pub fn kind_counts(rows: Vec<(String, i64)>) -> Vec<(String, u64)> {
    rows.into_iter()
        .map(|(kind, n)| (kind, n.max(0) as u64))
        .collect()
}

/// Counts nodes by kind; the same SQL on every backend.
pub const NODE_COUNTS: &str = "select kind, count(*) from node group by kind order by kind";
/// Counts edges by kind; the same SQL on every backend.
pub const EDGE_COUNTS: &str = "select kind, count(*) from edge group by kind order by kind";

/// `from ... where ...` of datasets at one end of the lineage graph: sources (read by a job,
/// written by none) or sinks (written, never read). The same SQL on every backend.
pub fn dataset_ends_filter(sources: bool) -> String {
    let (present, absent) = match sources {
        true => (
            "exists (select 1 from edge e where e.source_id = n.node_id and e.kind = 'input')",
            "not exists (select 1 from edge e where e.target_id = n.node_id and e.kind = 'output')",
        ),
        false => (
            "exists (select 1 from edge e where e.target_id = n.node_id and e.kind = 'output')",
            "not exists (select 1 from edge e where e.source_id = n.node_id and e.kind = 'input')",
        ),
    };
    format!("from node n where n.kind = 'dataset' and {present} and {absent}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::index::INDEXED;

    #[test]
    fn the_indexed_kinds_list_matches_the_index() {
        let listed: Vec<String> = INDEXED
            .iter()
            .map(|k| format!("'{}'", k.as_str()))
            .collect();
        assert_eq!(INDEXED_KINDS, format!("({})", listed.join(", ")));
    }
}
