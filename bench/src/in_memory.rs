//! Reference C, the physical limit: the same lineage walk over a petgraph copy of the
//! dataset-lineage layer inside one process, with no database, no HTTP and no JSON.
//!
//! The walk follows the service's rules exactly (depth counts entering a job, every node is
//! visited once at its first hop count, an edge counts when both ends are reached), so its
//! node counts must match the service's; the run checks that they do.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use petgraph::Direction as Towards;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;

use crate::backend::LineageLayer;
use crate::query::{Answer, Direction, Start};

/// What a lineage edge means, for counting depth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// dataset → job
    Input,
    /// job → dataset
    Output,
}

/// The lineage layer in memory.
pub struct InMemory {
    graph: DiGraph<(), Kind>,
    by_key: HashMap<String, NodeIndex>,
}

impl InMemory {
    /// Builds the graph; also returns how long that took.
    pub fn build(layer: &LineageLayer) -> (InMemory, Duration) {
        let begun = Instant::now();
        let mut graph = DiGraph::with_capacity(layer.nodes.len(), layer.edges.len());
        let mut by_id = HashMap::with_capacity(layer.nodes.len());
        let mut by_key = HashMap::with_capacity(layer.nodes.len());
        for (id, key) in &layer.nodes {
            let index = graph.add_node(());
            by_id.insert(*id, index);
            by_key.insert(key.clone(), index);
        }
        for (source, target, kind) in &layer.edges {
            let (Some(&s), Some(&t)) = (by_id.get(source), by_id.get(target)) else {
                continue;
            };
            let kind = if kind == "input" {
                Kind::Input
            } else {
                Kind::Output
            };
            graph.add_edge(s, t, kind);
        }
        (InMemory { graph, by_key }, begun.elapsed())
    }

    /// Every dataset and job key.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.by_key.keys().map(String::as_str)
    }

    /// The walk from a dataset `start`, frontier by frontier as the service walks.
    pub fn lineage(&self, start: &Start, depth: u32) -> Option<Answer> {
        let &first = self.by_key.get(&start.key)?;
        let (towards, counting) = match start.direction {
            Direction::Downstream => (Towards::Outgoing, Kind::Input),
            Direction::Upstream => (Towards::Incoming, Kind::Output),
        };
        let mut hops: HashMap<NodeIndex, u32> = HashMap::from([(first, 0)]);
        let (mut frontier, mut edges, mut truncated, mut deepest) = (vec![first], 0, false, 0);
        while !frontier.is_empty() {
            let mut next = Vec::new();
            for node in frontier {
                let here = hops[&node];
                for edge in self.graph.edges_directed(node, towards) {
                    let far = match towards {
                        Towards::Outgoing => edge.target(),
                        Towards::Incoming => edge.source(),
                    };
                    if hops.contains_key(&far) {
                        edges += 1;
                        continue;
                    }
                    let at = here + u32::from(*edge.weight() == counting);
                    if at > depth {
                        truncated = true;
                        continue;
                    }
                    hops.insert(far, at);
                    deepest = deepest.max(at);
                    edges += 1;
                    next.push(far);
                }
            }
            frontier = next;
        }
        Some(Answer {
            nodes: hops.len(),
            edges,
            depth_reached: Some(i64::from(deepest)),
            truncated,
            bytes: 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// d1 → j10 → d2 → j11 → d3, and d4 → j11.
    fn layer() -> LineageLayer {
        let nodes = [
            (1, "d1"),
            (2, "d2"),
            (3, "d3"),
            (4, "d4"),
            (10, "j10"),
            (11, "j11"),
        ];
        let edges = [
            (1, 10, "input"),
            (10, 2, "output"),
            (2, 11, "input"),
            (4, 11, "input"),
            (11, 3, "output"),
        ];
        LineageLayer {
            nodes: nodes.iter().map(|(i, k)| (*i, k.to_string())).collect(),
            edges: edges
                .iter()
                .map(|(s, t, k)| (*s, *t, k.to_string()))
                .collect(),
        }
    }

    fn start(key: &str, direction: Direction) -> Start {
        Start {
            key: key.to_owned(),
            direction,
        }
    }

    #[test]
    fn depth_counts_jobs_entered_and_cuts_the_walk() {
        let (graph, _) = InMemory::build(&layer());
        let one = graph
            .lineage(&start("d1", Direction::Downstream), 1)
            .unwrap();
        assert_eq!((one.nodes, one.edges, one.truncated), (3, 2, true));
        let all = graph
            .lineage(&start("d1", Direction::Downstream), 2)
            .unwrap();
        assert_eq!((all.nodes, all.edges, all.truncated), (5, 4, false));
        let up = graph.lineage(&start("d3", Direction::Upstream), 1).unwrap();
        assert_eq!((up.nodes, up.edges, up.truncated), (4, 3, true));
        assert!(
            graph
                .lineage(&start("nope", Direction::Upstream), 1)
                .is_none()
        );
    }
}
