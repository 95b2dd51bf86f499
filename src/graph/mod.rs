//! Graph questions over any topology: bounded, cycle-safe lineage walks.
//!
//! Traversal is written once, against [`Topology`], and expands a whole frontier per step so a
//! database answers one query per hop rather than one per node. Walks see edges as [`Link`]s
//! only; the answer loads the details of the edges it keeps. Storage backends implement
//! `Topology` and [`EdgeSource`] (edges with their details); [`index::LineageIndex`] answers
//! walks from memory, and [`memory::MemoryGraph`] implements both over petgraph for tests.

pub mod as_of;
pub mod budget;
pub mod export;
pub mod index;
pub mod layout;
pub mod memory;
pub mod paths;
pub mod view;

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::Result;
use crate::model::{EdgeKind, EdgeRecord, End, Link, NodeId, NodeKind};

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

    /// (where the step starts, where it arrives).
    fn ends(self, e: &Link) -> (NodeId, NodeId) {
        match self {
            Step::Forward => (e.source, e.target),
            Step::Backward => (e.target, e.source),
        }
    }
}

/// Anything that can list the edges touching a set of nodes, with their details.
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

/// What walks run on: which edges touch a set of nodes, without their details.
#[async_trait]
pub trait Topology: Send + Sync {
    /// Links of the given kinds that leave (`Forward`) or enter (`Backward`) any frontier node.
    async fn links(&self, frontier: &[NodeId], kinds: &[EdgeKind], step: Step)
    -> Result<Vec<Link>>;
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
    pub edges: Vec<Link>,
    /// The largest hop count among nodes reached by walking (0 when nothing was).
    pub depth_reached: u32,
    /// Whether anything was left out because of `depth` or `max_nodes`.
    pub truncated: bool,
    /// Reached nodes that have neighbours the walk left out.
    pub frontier: HashSet<NodeId>,
}

impl Traversal {
    /// Adds another walk's nodes (keeping the smaller hop count) and edges.
    pub fn merge(&mut self, other: Traversal) {
        let mut seen: HashSet<Link> = self.edges.iter().copied().collect();
        for (node, hops) in other.hops {
            let entry = self.hops.entry(node).or_insert(hops);
            *entry = (*entry).min(hops);
        }
        self.edges
            .extend(other.edges.into_iter().filter(|e| seen.insert(*e)));
        self.edges.sort_unstable();
        self.depth_reached = self.depth_reached.max(other.depth_reached);
        self.truncated |= other.truncated;
        self.frontier.extend(other.frontier);
    }
}

/// What a walk follows and how it counts depth.
#[derive(Debug, Clone, Copy)]
pub struct Walk<'a> {
    /// Edge kinds to follow.
    pub kinds: &'a [EdgeKind],
    /// Directions to follow them in, at every node.
    pub steps: &'a [Step],
    /// What one unit of depth is.
    pub hops: HopRule,
    /// Bounds.
    pub limits: Limits,
}

/// What counts as one unit of depth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HopRule {
    /// Entering a process (job): dataset-level lineage depth.
    Process,
    /// Crossing any edge: column-level depth.
    Edge,
}

/// Walks dataset-level lineage (`input` and `output` edges) from `start`.
///
/// Depth counts process hops: from a dataset, depth 1 downstream is the dataset, the jobs that
/// read it and what those jobs wrote. A job as the start counts as its own first hop. Nodes are
/// visited once, so cycles end the walk rather than loop it.
pub async fn lineage(
    source: &dyn Topology,
    start: NodeId,
    start_kind: NodeKind,
    direction: Direction,
    limits: Limits,
) -> Result<Traversal> {
    let first = u32::from(start_kind == NodeKind::Job);
    let spec = |steps| Walk {
        kinds: &EdgeKind::LINEAGE,
        steps,
        hops: HopRule::Process,
        limits,
    };
    match direction {
        Direction::Downstream => walk(source, &[start], first, spec(&[Step::Forward])).await,
        Direction::Upstream => walk(source, &[start], first, spec(&[Step::Backward])).await,
        Direction::Both => {
            let mut down = walk(source, &[start], first, spec(&[Step::Forward])).await?;
            // The upstream walk gets what the downstream one left of the node budget (the
            // start node is in both), so the merged answer stays within `max_nodes`.
            let left = limits.max_nodes.saturating_sub(down.hops.len()) + 1;
            let mut up_spec = spec(&[Step::Backward]);
            up_spec.limits.max_nodes = left;
            let up = walk(source, &[start], first, up_spec).await?;
            down.merge(up);
            Ok(down)
        }
    }
}

/// Everything connected to the job `start` within `depth` process hops, whichever way the
/// edges point: siblings (other readers of its inputs) included. The start job and its own
/// datasets are depth 0. This is how Marquez counts depth.
pub async fn neighbourhood(
    source: &dyn Topology,
    start: NodeId,
    limits: Limits,
) -> Result<Traversal> {
    let spec = Walk {
        kinds: &EdgeKind::LINEAGE,
        steps: &[Step::Forward, Step::Backward],
        hops: HopRule::Process,
        limits,
    };
    walk(source, &[start], 0, spec).await
}

/// Breadth-first walk from `starts` (all at depth `first`) under `spec`.
pub async fn walk(
    source: &dyn Topology,
    starts: &[NodeId],
    first: u32,
    spec: Walk<'_>,
) -> Result<Traversal> {
    let mut t = Traversal {
        hops: starts.iter().map(|s| (*s, first)).collect(),
        ..Traversal::default()
    };
    let mut seen_edges = HashSet::new();
    let mut frontier: Vec<NodeId> = starts.to_vec();
    while !frontier.is_empty() {
        let mut next = Vec::new();
        for &step in spec.steps {
            for link in source.links(&frontier, spec.kinds, step).await? {
                if admit(&mut t, &link, step, &spec, &mut next) && seen_edges.insert(link) {
                    t.edges.push(link);
                }
            }
        }
        frontier = next;
    }
    // Sources list edges in their own order; sorted, answers don't depend on which one ran.
    t.edges.sort_unstable();
    Ok(t)
}

/// Decides whether an edge's far end joins the walk; queues it for expansion when it is new.
fn admit(
    t: &mut Traversal,
    edge: &Link,
    step: Step,
    spec: &Walk<'_>,
    frontier: &mut Vec<NodeId>,
) -> bool {
    let (from, to) = step.ends(edge);
    if t.hops.contains_key(&to) {
        return true;
    }
    let Some(&from_hops) = t.hops.get(&from) else {
        return false;
    };
    let counts = match spec.hops {
        HopRule::Process => edge.kind.process_end() == Some(step.arrival()),
        HopRule::Edge => true,
    };
    let hops = from_hops + u32::from(counts);
    if hops > spec.limits.depth || t.hops.len() >= spec.limits.max_nodes {
        t.truncated = true;
        t.frontier.insert(from);
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
        at = step.ends(&edge.link()).1;
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
