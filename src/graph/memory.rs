//! An in-memory graph over petgraph that answers [`EdgeSource`] steps.
//!
//! It is the reference the traversal is unit-tested against, and the shape an in-process
//! cache of the lineage layer would take.

use std::collections::HashMap;

use async_trait::async_trait;
use petgraph::Direction as PgDirection;
use petgraph::stable_graph::{NodeIndex, StableDiGraph};

use super::{EdgeSource, Step, Topology};
use crate::error::Result;
use crate::model::{EdgeKind, EdgeRecord, Link, NodeId};

/// A directed multigraph of node ids with full edge records as weights.
#[derive(Debug, Default)]
pub struct MemoryGraph {
    graph: StableDiGraph<NodeId, EdgeRecord>,
    index: HashMap<NodeId, NodeIndex>,
}

impl MemoryGraph {
    /// Adds an edge, creating its endpoints on first sight.
    pub fn add(&mut self, edge: EdgeRecord) {
        let source = self.node(edge.source);
        let target = self.node(edge.target);
        self.graph.add_edge(source, target, edge);
    }

    fn node(&mut self, id: NodeId) -> NodeIndex {
        *self
            .index
            .entry(id)
            .or_insert_with(|| self.graph.add_node(id))
    }
}

#[async_trait]
impl EdgeSource for MemoryGraph {
    async fn step(
        &self,
        frontier: &[NodeId],
        kinds: &[EdgeKind],
        step: Step,
    ) -> Result<Vec<EdgeRecord>> {
        let direction = match step {
            Step::Forward => PgDirection::Outgoing,
            Step::Backward => PgDirection::Incoming,
        };
        let found = frontier
            .iter()
            .filter_map(|id| self.index.get(id))
            .flat_map(|&idx| self.graph.edges_directed(idx, direction))
            .map(|e| e.weight())
            .filter(|e| kinds.contains(&e.kind))
            .cloned()
            .collect();
        Ok(found)
    }
}

#[async_trait]
impl Topology for MemoryGraph {
    async fn links(
        &self,
        frontier: &[NodeId],
        kinds: &[EdgeKind],
        step: Step,
    ) -> Result<Vec<Link>> {
        let edges = self.step(frontier, kinds, step).await?;
        Ok(edges.iter().map(EdgeRecord::link).collect())
    }
}
