//! The audit log (who wrote or deleted what, and when) and deleting a node, for every backend.
//!
//! An ingest's record is written in the payload's own transaction, so a stored payload always
//! has one; a delete's in the delete's. Prunes and replays run in many transactions and are
//! recorded once, when they finish.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// What was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AuditAction {
    /// A payload was stored.
    Ingest,
    /// A node (and what belongs to it) was deleted.
    Delete,
    /// Old lineage was pruned.
    Prune,
    /// The graph was rebuilt from archived payloads.
    Replay,
}

impl AuditAction {
    /// Every action, in the order they are documented.
    pub const ALL: [AuditAction; 4] = [
        AuditAction::Ingest,
        AuditAction::Delete,
        AuditAction::Prune,
        AuditAction::Replay,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Ingest => "ingest",
            AuditAction::Delete => "delete",
            AuditAction::Prune => "prune",
            AuditAction::Replay => "replay",
        }
    }

    /// Parses a stored or requested name.
    pub fn parse(name: &str) -> Option<AuditAction> {
        AuditAction::ALL.into_iter().find(|a| a.as_str() == name)
    }
}

/// Who is recorded when nobody in particular acted: authentication off, or a payload stored
/// without a sender (an archive import).
pub const NOBODY: &str = "anonymous";

/// A record to append.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// A token's name, `anonymous`, or the command that acted (`cli:prune`).
    pub actor: String,
    /// What was done.
    pub action: AuditAction,
    /// To what: a payload format, a node key, a cutoff.
    pub target: String,
    /// The request that did it.
    pub request_id: Option<String>,
    /// What came of it.
    pub detail: Value,
}

/// A record as stored.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecord {
    /// Increases with every record; pass the last one seen as `before` for the next page.
    pub id: i64,
    /// When it was recorded.
    pub at: DateTime<Utc>,
    /// A token's name, `anonymous` with authentication off, or the command that acted.
    pub actor: String,
    /// What was done.
    pub action: AuditAction,
    /// To what: a payload format (ingest), a node key (delete), a cutoff (prune), a range
    /// (replay).
    pub target: String,
    /// The request that did it, as in the server log's `request_id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// What came of it: the raw payload's id, hash and size; what a delete or prune removed.
    #[schema(value_type = Object)]
    pub detail: Value,
}

/// A page of the audit log, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Only records of this actor.
    pub actor: Option<String>,
    /// Only records of this action.
    pub action: Option<AuditAction>,
    /// Only records at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only records before this time.
    pub until: Option<DateTime<Utc>>,
    /// Only records older than this id (keyset pagination).
    pub before: Option<i64>,
    /// How many at most.
    pub limit: u32,
}

/// What deleting a node removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeleteReport {
    /// Nodes removed, by kind: the node and what belongs to it.
    pub nodes: BTreeMap<String, u64>,
    /// Edges removed with them.
    pub edges: u64,
}

impl DeleteReport {
    /// The report of a deletion from what the backend's statements returned: the incident
    /// edges counted before, and the kind of each node deleted.
    pub fn of(edges: i64, kinds: Vec<String>) -> Self {
        let mut report = DeleteReport {
            edges: edges.max(0) as u64,
            ..DeleteReport::default()
        };
        for kind in kinds {
            *report.nodes.entry(kind).or_default() += 1;
        }
        report
    }
}

/// SQL selecting (as `id`) the node keyed `$1` and what belongs to it: a dataset's columns,
/// a job's runs, operations and their attributes. The same text on every backend.
pub const MEMBERS: &str = "
    with target as (select node_id from node where key = $1),
    owned as (
        select e.target_id as id from edge e join target t on e.source_id = t.node_id
            where e.kind in ('has_field', 'has_operation')
        union
        select e.source_id from edge e join target t on e.target_id = t.node_id
            where e.kind = 'run_of'
    ),
    produced as (
        select e.target_id as id from edge e join owned o on e.source_id = o.id
            where e.kind = 'produces'
    )
    select node_id as id from target
    union select id from owned
    union select id from produced";

impl AuditEntry {
    /// The record of a stored payload.
    pub fn ingest(
        actor: Option<&str>,
        format: &str,
        request_id: Option<&str>,
        detail: Value,
    ) -> Self {
        AuditEntry {
            actor: actor.unwrap_or(NOBODY).to_owned(),
            action: AuditAction::Ingest,
            target: format.to_owned(),
            request_id: request_id.map(str::to_owned),
            detail,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_round_trip() {
        for action in AuditAction::ALL {
            assert_eq!(AuditAction::parse(action.as_str()), Some(action));
        }
        assert_eq!(AuditAction::parse("drop"), None);
    }
}
