//! What a request's walks run on: the graph now (the in-memory index, caught up first), or the
//! graph as it stood at `asOf` (the database, which alone keeps edge sightings).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::AppState;
use crate::error::Result;
use crate::graph::as_of::AsOf;
use crate::graph::index::Indexed;
use crate::graph::{EdgeSource, Step, Topology};
use crate::model::{EdgeKind, Link, NodeId};

/// One request's view of the graph.
pub(super) enum Walker<'a> {
    /// The current graph: walks on the index when there is one.
    Now {
        topology: Indexed<'a>,
        edges: &'a dyn EdgeSource,
    },
    /// The graph at a past moment.
    AsOf(AsOf<'a>),
}

impl<'a> Walker<'a> {
    /// The current graph, or the graph at `as_of`. The index (when on) catches up first, so
    /// the walk sees everything committed before the request, by any replica.
    pub(super) async fn new(state: &'a AppState, as_of: Option<DateTime<Utc>>) -> Result<Self> {
        let store = state.store.as_ref();
        if let Some(at) = as_of {
            return Ok(Walker::AsOf(AsOf::new(store, at)));
        }
        let topology = match &state.index {
            Some(index) => {
                index.catch_up().await?;
                index.topology(store)
            }
            None => Indexed::without_index(store),
        };
        Ok(Walker::Now {
            topology,
            edges: store,
        })
    }

    /// Edges with their details, for steps that need them (the way to a walk's anchor).
    pub(super) fn edges(&self) -> &dyn EdgeSource {
        match self {
            Walker::Now { edges, .. } => *edges,
            Walker::AsOf(view) => view,
        }
    }
}

#[async_trait]
impl Topology for Walker<'_> {
    async fn links(
        &self,
        frontier: &[NodeId],
        kinds: &[EdgeKind],
        step: Step,
    ) -> Result<Vec<Link>> {
        match self {
            Walker::Now { topology, .. } => topology.links(frontier, kinds, step).await,
            Walker::AsOf(view) => view.links(frontier, kinds, step).await,
        }
    }
}
