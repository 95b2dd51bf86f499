//! Retention: what `headwater prune` deletes, in which order, written once for every backend.
//!
//! A cutoff splits the store in two. Raw payloads received before it go, and so do runs last
//! seen before it. Everything else goes only once nothing kept needs it: a job with no runs
//! left, the operations and attributes of a plan that is gone, a dataset no kept job or
//! operation reads or writes, a column of a dataset that is gone. A node counts as old only
//! when both its producer time (`last_seen`) and our own last write to it (`updated_at`) are
//! before the cutoff, so anything an ingest touches while the prune runs is kept, whatever
//! event time it carries.
//!
//! Each stage deletes in batches of its own transaction, so ingest interleaves with a long
//! prune; edges go with their nodes (`on delete cascade`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

/// What to prune.
#[derive(Debug, Clone, Copy)]
pub struct PruneRequest {
    /// Older than this goes.
    pub cutoff: DateTime<Utc>,
    /// Rows per transaction.
    pub batch_size: u32,
    /// Report what would go, and keep it.
    pub dry_run: bool,
}

/// What a prune deleted (or, in a dry run, would delete).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// Raw payloads.
    pub raw_payloads: u64,
    /// Nodes by kind.
    pub nodes: BTreeMap<String, u64>,
    /// Edges that went with those nodes.
    pub edges: u64,
}

impl PruneReport {
    /// Nodes of every kind.
    pub fn node_total(&self) -> u64 {
        self.nodes.values().sum()
    }
}

/// One step of a prune. Later stages depend on what earlier ones deleted, so they run in
/// this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Archived payloads received before the cutoff.
    RawPayloads,
    /// Runs last seen before the cutoff.
    Runs,
    /// Jobs (plans) with no run left.
    Jobs,
    /// Operations and attributes of a plan that is gone.
    PlanMembers,
    /// Datasets no job or operation reads or writes any more.
    Datasets,
    /// Columns of a dataset that is gone.
    Fields,
}

/// Both times of node `n` are before the cutoff `$1`.
const OLD: &str = "n.last_seen < $1 and n.updated_at < $1";

impl Stage {
    /// Every stage, in the order they run.
    pub const ALL: [Stage; 6] = [
        Stage::RawPayloads,
        Stage::Runs,
        Stage::Jobs,
        Stage::PlanMembers,
        Stage::Datasets,
        Stage::Fields,
    ];

    /// Whether the stage deletes raw payloads rather than nodes.
    pub fn is_archive(self) -> bool {
        self == Stage::RawPayloads
    }

    /// SQL selecting up to `$2` ids (as `id`) this stage deletes, given the cutoff `$1`.
    /// The same text on every backend; PostgreSQL appends its row locking.
    pub fn candidates(self) -> String {
        let nodes = |condition: &str| {
            format!("select n.node_id as id from node n where {condition} and {OLD} limit $2")
        };
        match self {
            Stage::RawPayloads => "select raw_payload_id as id from raw_payload
                 where received_at < $1 order by raw_payload_id limit $2"
                .to_owned(),
            Stage::Runs => nodes("n.kind = 'run'"),
            Stage::Jobs => nodes(
                "n.kind = 'job' and not exists (select 1 from edge e
                     where e.target_id = n.node_id and e.kind = 'run_of')",
            ),
            Stage::PlanMembers => nodes(
                "n.kind in ('operation', 'attribute') and not exists (select 1 from node j
                     where j.key = 'job:' || (n.properties ->> 'planId'))",
            ),
            Stage::Datasets => nodes(
                "n.kind = 'dataset' and not exists (select 1 from edge e
                     where (e.source_id = n.node_id or e.target_id = n.node_id)
                       and e.kind in ('input', 'output', 'reads_from', 'writes_to'))",
            ),
            Stage::Fields => nodes(
                "n.kind = 'field' and not exists (select 1 from edge e
                     where e.target_id = n.node_id and e.kind = 'has_field')",
            ),
        }
    }
}

/// Edges touching a list of node ids (`$1`), counted before their nodes go.
pub fn incident_edges(list: &str) -> String {
    format!("select count(*) from edge where source_id in {list} or target_id in {list}")
}
