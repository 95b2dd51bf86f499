//! The graph as it stood at a moment: an [`EdgeSource`] that hides what came later.
//!
//! Every edge carries the producer times it was first and last seen. At time `T`, an edge
//! exists if it was first seen by `T`. A job's lineage edges are its inputs and outputs as of
//! its last sighting before `T`: an input it stopped reading before then (last seen before the
//! job's latest sighting up to `T`) is gone, so a job that changed its inputs shows the old
//! ones before the change and the new ones after. Column derivations follow the same rule per
//! derived column: the derivations of a column are the ones it had at its latest derivation
//! up to `T`.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{EdgeSource, Step, Topology};
use crate::error::Result;
use crate::model::{EdgeKind, EdgeRecord, End, Link, NodeId};

/// `inner` as it stood at `at`.
pub struct AsOf<'a> {
    inner: &'a dyn EdgeSource,
    at: DateTime<Utc>,
}

impl<'a> AsOf<'a> {
    /// Wraps an edge source.
    pub fn new(inner: &'a dyn EdgeSource, at: DateTime<Utc>) -> Self {
        AsOf { inner, at }
    }

    /// Each group's latest sighting up to `at`, from all of the group's edges.
    async fn group_times(
        &self,
        groups: &[NodeId],
        rule: Rule,
    ) -> Result<HashMap<NodeId, DateTime<Utc>>> {
        let mut times: HashMap<NodeId, DateTime<Utc>> = HashMap::new();
        for &step in rule.steps {
            for edge in self.inner.step(groups, rule.kinds, step).await? {
                let Some(group) = group_of(&edge) else {
                    continue;
                };
                if edge.first_seen <= self.at {
                    let seen = edge.last_seen.min(self.at);
                    let latest = times.entry(group).or_insert(seen);
                    *latest = (*latest).max(seen);
                }
            }
        }
        Ok(times)
    }

    /// Keeps the edges whose group still had them at its latest sighting.
    async fn current(&self, edges: Vec<EdgeRecord>, rule: Rule) -> Result<Vec<EdgeRecord>> {
        let mut groups: Vec<NodeId> = edges
            .iter()
            .filter(|e| rule.kinds.contains(&e.kind))
            .filter_map(group_of)
            .collect();
        groups.sort_unstable();
        groups.dedup();
        if groups.is_empty() {
            return Ok(edges);
        }
        let times = self.group_times(&groups, rule).await?;
        let keep = |e: &EdgeRecord| {
            !rule.kinds.contains(&e.kind)
                || group_of(e)
                    .and_then(|g| times.get(&g))
                    .is_none_or(|t| e.last_seen >= *t)
        };
        Ok(edges.into_iter().filter(keep).collect())
    }
}

/// Which edges are judged together, and how to load all of a group's edges.
#[derive(Clone, Copy)]
struct Rule {
    kinds: &'static [EdgeKind],
    steps: &'static [Step],
}

/// A job's inputs and outputs are judged together.
const JOBS: Rule = Rule {
    kinds: &EdgeKind::LINEAGE,
    steps: &[Step::Forward, Step::Backward],
};
/// A column's derivations are judged together.
const COLUMNS: Rule = Rule {
    kinds: &[EdgeKind::Derives],
    steps: &[Step::Backward],
};

/// The node whose sighting decides whether an edge still stands: the job of a lineage edge,
/// the derived column of a derivation.
fn group_of(edge: &EdgeRecord) -> Option<NodeId> {
    match edge.kind {
        EdgeKind::Derives => Some(edge.target),
        _ => process(edge),
    }
}

/// The job end of a lineage edge.
fn process(edge: &EdgeRecord) -> Option<NodeId> {
    match edge.kind.process_end()? {
        End::Source => Some(edge.source),
        End::Target => Some(edge.target),
    }
}

#[async_trait]
impl EdgeSource for AsOf<'_> {
    async fn step(
        &self,
        frontier: &[NodeId],
        kinds: &[EdgeKind],
        step: Step,
    ) -> Result<Vec<EdgeRecord>> {
        let seen: Vec<EdgeRecord> = self
            .inner
            .step(frontier, kinds, step)
            .await?
            .into_iter()
            .filter(|e| e.first_seen <= self.at)
            .collect();
        let seen = self.current(seen, JOBS).await?;
        self.current(seen, COLUMNS).await
    }
}

/// Walks in the past need edge sightings, which only the edge source has: no index serves them.
#[async_trait]
impl Topology for AsOf<'_> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::memory::MemoryGraph;
    use chrono::TimeZone;
    use serde_json::json;

    fn day(d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, d, 0, 0, 0).unwrap()
    }

    fn edge(source: NodeId, target: NodeId, kind: EdgeKind, first: u32, last: u32) -> EdgeRecord {
        EdgeRecord {
            source,
            target,
            kind,
            properties: json!({}),
            first_seen: day(first),
            last_seen: day(last),
        }
    }

    /// Job 100 read dataset 1 on days 1–5, then dataset 2 from day 6; it wrote 3 throughout.
    fn switched() -> MemoryGraph {
        let mut g = MemoryGraph::default();
        g.add(edge(1, 100, EdgeKind::Input, 1, 5));
        g.add(edge(2, 100, EdgeKind::Input, 6, 10));
        g.add(edge(100, 3, EdgeKind::Output, 1, 10));
        g
    }

    async fn inputs_at(d: u32) -> Vec<NodeId> {
        let g = switched();
        let view = AsOf::new(&g, day(d));
        let mut found: Vec<NodeId> = view
            .step(&[100], &[EdgeKind::Input], Step::Backward)
            .await
            .unwrap()
            .iter()
            .map(|e| e.source)
            .collect();
        found.sort_unstable();
        found
    }

    #[tokio::test]
    async fn a_job_that_changed_its_inputs_shows_the_ones_it_had_then() {
        assert_eq!(inputs_at(3).await, vec![1]);
        assert_eq!(inputs_at(8).await, vec![2]);
    }

    #[tokio::test]
    async fn nothing_exists_before_it_was_first_seen() {
        let g = switched();
        let view = AsOf::new(&g, Utc.with_ymd_and_hms(2025, 12, 31, 0, 0, 0).unwrap());
        assert!(
            view.step(&[1, 2, 100], &EdgeKind::LINEAGE, Step::Forward)
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn a_column_shows_the_derivations_it_had_then() {
        let mut g = MemoryGraph::default();
        g.add(edge(10, 30, EdgeKind::Derives, 1, 3));
        g.add(edge(20, 30, EdgeKind::Derives, 4, 5));
        let sources = |d| {
            let g = &g;
            async move {
                let view = AsOf::new(g, day(d));
                view.step(&[30], &[EdgeKind::Derives], Step::Backward)
                    .await
                    .unwrap()
                    .iter()
                    .map(|e| e.source)
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(sources(2).await, vec![10]);
        assert_eq!(sources(5).await, vec![20]);
    }

    #[tokio::test]
    async fn walking_from_the_old_input_after_the_change_finds_nothing() {
        let g = switched();
        let view = AsOf::new(&g, day(8));
        assert!(
            view.step(&[1], &[EdgeKind::Input], Step::Forward)
                .await
                .unwrap()
                .is_empty()
        );
    }
}
