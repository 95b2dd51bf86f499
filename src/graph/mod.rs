//! Graph questions over any edge source: bounded, cycle-safe lineage walks.
//!
//! Traversal is written once, against [`EdgeSource`], and expands a whole frontier per step so a
//! database answers one query per hop rather than one per node. Storage backends implement
//! `EdgeSource`; [`memory::MemoryGraph`] implements it over petgraph for tests and caches.

pub mod memory;

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::Result;
use crate::model::{EdgeKind, EdgeRecord, End, NodeId, NodeKind};

/// Which way to walk from the start node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Towards the sources: what the node was made from.
    Upstream,
    /// Towards the consumers: what is made from the node.
    #[default]
    Downstream,
    /// Both of the above.
    Both,
}

/// Whether one step follows edges the way they point, or against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// From source to target.
    Forward,
    /// From target to source.
    Backward,
}

impl Step {
    /// The end of an edge that a step arrives at.
    fn arrival(self) -> End {
        match self {
            Step::Forward => End::Target,
            Step::Backward => End::Source,
        }
    }

    fn ends(self, e: &EdgeRecord) -> (NodeId, NodeId) {
        match self {
            Step::Forward => (e.source, e.target),
            Step::Backward => (e.target, e.source),
        }
    }
}

/// Anything that can list the edges touching a set of nodes.
#[async_trait]
pub trait EdgeSource: Send + Sync {
    /// Edges of the given kinds that leave (`Forward`) or enter (`Backward`) any frontier node.
    async fn step(
        &self,
        frontier: &[NodeId],
        kinds: &[EdgeKind],
        step: Step,
    ) -> Result<Vec<EdgeRecord>>;
}

/// Bounds on a walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum process (job) hops from the start.
    pub depth: u32,
    /// Maximum number of nodes in the answer.
    pub max_nodes: usize,
}

/// The nodes and edges a walk reached.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Traversal {
    /// Every node reached, with the process hops it took to get there.
    pub hops: HashMap<NodeId, u32>,
    /// Every edge crossed between two reached nodes.
    pub edges: Vec<EdgeRecord>,
    /// The largest hop count among nodes reached by walking (0 when nothing was).
    pub depth_reached: u32,
    /// Whether anything was left out because of `depth` or `max_nodes`.
    pub truncated: bool,
}

impl Traversal {
    fn merge(&mut self, other: Traversal) {
        let mut seen: HashSet<_> = self.edges.iter().map(EdgeRecord::identity).collect();
        for (node, hops) in other.hops {
            let entry = self.hops.entry(node).or_insert(hops);
            *entry = (*entry).min(hops);
        }
        self.edges.extend(
            other
                .edges
                .into_iter()
                .filter(|e| seen.insert(e.identity())),
        );
        self.depth_reached = self.depth_reached.max(other.depth_reached);
        self.truncated |= other.truncated;
    }
}

/// Walks dataset-level lineage (`input` and `output` edges) from `start`.
///
/// Depth counts process hops: from a dataset, depth 1 downstream is the dataset, the jobs that
/// read it and what those jobs wrote. A job as the start counts as its own first hop. Nodes are
/// visited once, so cycles end the walk rather than loop it.
pub async fn lineage(
    source: &dyn EdgeSource,
    start: NodeId,
    start_kind: NodeKind,
    direction: Direction,
    limits: Limits,
) -> Result<Traversal> {
    let first = u32::from(start_kind == NodeKind::Job);
    match direction {
        Direction::Downstream => walk(source, start, first, Step::Forward, limits).await,
        Direction::Upstream => walk(source, start, first, Step::Backward, limits).await,
        Direction::Both => {
            let mut down = walk(source, start, first, Step::Forward, limits).await?;
            // The upstream walk gets what the downstream one left of the node budget (the
            // start node is in both), so the merged answer stays within `max_nodes`.
            let left = limits.max_nodes.saturating_sub(down.hops.len()) + 1;
            let up_limits = Limits {
                max_nodes: left,
                ..limits
            };
            let up = walk(source, start, first, Step::Backward, up_limits).await?;
            down.merge(up);
            Ok(down)
        }
    }
}

async fn walk(
    source: &dyn EdgeSource,
    start: NodeId,
    first: u32,
    step: Step,
    limits: Limits,
) -> Result<Traversal> {
    let mut t = Traversal {
        hops: HashMap::from([(start, first)]),
        ..Traversal::default()
    };
    let mut seen_edges = HashSet::new();
    let mut frontier = vec![start];
    while !frontier.is_empty() {
        let edges = source.step(&frontier, &EdgeKind::LINEAGE, step).await?;
        frontier = Vec::new();
        for edge in edges {
            if admit(&mut t, &edge, step, limits, &mut frontier)
                && seen_edges.insert(edge.identity())
            {
                t.edges.push(edge);
            }
        }
    }
    Ok(t)
}

/// Decides whether an edge's far end joins the walk; queues it for expansion when it is new.
fn admit(
    t: &mut Traversal,
    edge: &EdgeRecord,
    step: Step,
    limits: Limits,
    frontier: &mut Vec<NodeId>,
) -> bool {
    let (from, to) = step.ends(edge);
    if t.hops.contains_key(&to) {
        return true;
    }
    let Some(&from_hops) = t.hops.get(&from) else {
        return false;
    };
    let into_process = edge.kind.process_end() == Some(step.arrival());
    let hops = from_hops + u32::from(into_process);
    if hops > limits.depth || t.hops.len() >= limits.max_nodes {
        t.truncated = true;
        return false;
    }
    t.hops.insert(to, hops);
    t.depth_reached = t.depth_reached.max(hops);
    frontier.push(to);
    true
}

/// How a node that isn't part of dataset-level lineage reaches the job or dataset it belongs
/// to, and the kind it arrives at.
fn anchor_path(kind: NodeKind) -> (&'static [(EdgeKind, Step)], NodeKind) {
    match kind {
        NodeKind::Run => (&[(EdgeKind::RunOf, Step::Forward)], NodeKind::Job),
        NodeKind::Operation => (&[(EdgeKind::HasOperation, Step::Backward)], NodeKind::Job),
        NodeKind::Attribute => (
            &[
                (EdgeKind::Produces, Step::Backward),
                (EdgeKind::HasOperation, Step::Backward),
            ],
            NodeKind::Job,
        ),
        NodeKind::Field => (&[(EdgeKind::HasField, Step::Backward)], NodeKind::Dataset),
        NodeKind::Dataset | NodeKind::Job => (&[], kind),
    }
}

/// Where a walk from a node really starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Anchor {
    /// The job or dataset the walk starts from.
    pub node: NodeId,
    /// Its kind.
    pub kind: NodeKind,
    /// The edges that lead from the requested node to it.
    pub path: Vec<EdgeRecord>,
}

/// Finds the job a run, operation or attribute belongs to (or the dataset of a field), and the
/// edges that lead there, so "lineage of this run" answers with the lineage of the job it ran.
/// `None` when the chain is broken (an attribute no operation produces).
pub async fn anchor(
    source: &dyn EdgeSource,
    start: NodeId,
    kind: NodeKind,
) -> Result<Option<Anchor>> {
    let (steps, anchor_kind) = anchor_path(kind);
    let mut at = start;
    let mut path = Vec::new();
    for &(edge_kind, step) in steps {
        let edges = source.step(&[at], &[edge_kind], step).await?;
        let Some(edge) = edges.into_iter().min_by_key(EdgeRecord::identity) else {
            return Ok(None);
        };
        at = step.ends(&edge).1;
        path.push(edge);
    }
    Ok(Some(Anchor {
        node: at,
        kind: anchor_kind,
        path,
    }))
}

#[cfg(test)]
mod tests;
