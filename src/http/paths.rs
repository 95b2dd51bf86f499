//! Paths between two nodes: how data gets from one to the other.

use std::collections::HashMap;
use std::hash::RandomState;

use axum::extract::State;
use axum::{Extension, Json};
use petgraph::algo::{all_simple_paths, astar};
use petgraph::graphmap::DiGraphMap;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::graph::{TAG, bounded};
use super::query::ApiQuery;
use super::scope::{self, Reader};
use super::walker::Walker;
use crate::auth::Principal;
use crate::error::{Problem, Result};
use crate::graph::{self, HopRule, Limits, Step, Walk};
use crate::model::{EdgeKind, Node, NodeId};

/// Bound on the subgraph searched for paths.
const MAX_NODES: usize = 10_000;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_paths))
}

/// Parameters of a path query.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
struct PathParams {
    /// Key of the upstream node.
    from: String,
    /// Key of the downstream node.
    to: String,
    /// Most paths to list, 1 to 100 (default 10).
    max_paths: Option<u32>,
    /// Longest path, in edges, 1 to 50 (default 10).
    max_length: Option<u32>,
}

/// Paths from one node to another along the flow of data.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Paths {
    /// Key of the start.
    from: String,
    /// Key of the end.
    to: String,
    /// A shortest path as node keys; empty when there is none within `maxLength`.
    shortest: Vec<String>,
    /// Simple paths (no node twice), shortest first, at most `maxPaths`.
    paths: Vec<Vec<String>>,
    /// True when more paths exist than `maxPaths` (or the search space was capped).
    truncated: bool,
}

/// Paths between two nodes.
///
/// Follows dataset-level lineage (`input` and `output` edges) downstream from `from`, and
/// answers with a shortest path to `to` and the simple paths, bounded. No path is an empty
/// answer, not an error.
#[utoipa::path(
    get,
    path = "/api/v1/graph/paths",
    tag = TAG,
    operation_id = "graph.paths",
    params(PathParams),
    responses(
        (status = 200, description = "The paths", body = Paths),
        (status = 400, description = "A bad parameter", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Either node is unknown", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn get_paths(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiQuery(params): ApiQuery<PathParams>,
) -> Result<Json<Paths>> {
    let max_paths = bounded(params.max_paths, 10, 1..=100, "maxPaths")? as usize;
    let max_length = bounded(params.max_length, 10, 1..=50, "maxLength")?;
    let store = state.store.as_ref();
    let reader = Reader::new(store, &principal);
    let (from, from_node) = reader.find(&params.from).await?;
    let (to, to_node) = reader.find(&params.to).await?;
    let limits = Limits {
        depth: max_length,
        max_nodes: MAX_NODES,
    };
    let spec = Walk {
        kinds: &EdgeKind::LINEAGE,
        steps: &[Step::Forward],
        hops: HopRule::Edge,
        limits,
    };
    let walker = Walker::new(&state, None).await?;
    let reach = graph::walk(&walker, &[from], 0, spec).await?;
    let keys = visible_keys(&reader, reach.hops.keys().copied().collect()).await?;
    // Paths only run through nodes the reader may see.
    let g: DiGraphMap<NodeId, ()> = reach
        .edges
        .iter()
        .filter(|e| keys.contains_key(&e.source) && keys.contains_key(&e.target))
        .map(|e| (e.source, e.target))
        .collect();
    let (shortest, paths, more) = search(&g, from, to, max_paths, max_length as usize);
    let render = |path: Vec<NodeId>| {
        path.iter()
            .filter_map(|id| keys.get(id).cloned())
            .collect::<Vec<_>>()
    };
    Ok(Json(Paths {
        from: from_node.key,
        to: to_node.key,
        shortest: render(shortest),
        paths: paths.into_iter().map(render).collect(),
        truncated: more || (reach.truncated && !g.contains_node(to)),
    }))
}

/// The keys of the reached nodes the reader may see, by id.
async fn visible_keys(reader: &Reader<'_>, ids: Vec<NodeId>) -> Result<HashMap<NodeId, String>> {
    let nodes = reader.store.nodes(&ids).await?;
    let (ids, nodes): (Vec<NodeId>, Vec<Node>) = nodes.into_iter().unzip();
    let visible = scope::visible_keys(reader.store, reader.principal, &nodes).await?;
    Ok(ids
        .into_iter()
        .zip(nodes)
        .filter(|(_, n)| visible.contains(&n.key))
        .map(|(id, n)| (id, n.key))
        .collect())
}

/// A shortest path and up to `max_paths` simple paths (shortest first), and whether there
/// were more. Pure, over petgraph.
fn search(
    g: &DiGraphMap<NodeId, ()>,
    from: NodeId,
    to: NodeId,
    max_paths: usize,
    max_length: usize,
) -> (Vec<NodeId>, Vec<Vec<NodeId>>, bool) {
    if !g.contains_node(from) || !g.contains_node(to) || from == to {
        return (Vec::new(), Vec::new(), false);
    }
    let shortest = astar(g, from, |n| n == to, |_| 1u32, |_| 0)
        .map(|(_, p)| p)
        .unwrap_or_default();
    // Length by length, so the paths kept under `max_paths` are the shortest ones.
    let mut paths: Vec<Vec<NodeId>> = Vec::new();
    for intermediate in 0..max_length {
        let exact = all_simple_paths::<Vec<NodeId>, _, RandomState>(
            g,
            from,
            to,
            intermediate,
            Some(intermediate),
        );
        let mut found: Vec<Vec<NodeId>> = exact.take(max_paths + 1 - paths.len()).collect();
        found.sort();
        paths.extend(found);
        if paths.len() > max_paths {
            break;
        }
    }
    let more = paths.len() > max_paths;
    paths.truncate(max_paths);
    (shortest, paths, more)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 1 → 2 → 3 → 4 and 1 → 5 → 4, plus a cycle 4 → 1.
    fn graph() -> DiGraphMap<NodeId, ()> {
        [(1, 2), (2, 3), (3, 4), (1, 5), (5, 4), (4, 1)]
            .into_iter()
            .collect()
    }

    #[test]
    fn the_shortest_and_all_simple_paths_are_found() {
        let (shortest, paths, more) = search(&graph(), 1, 4, 10, 10);
        assert_eq!(shortest, vec![1, 5, 4]);
        assert_eq!(paths, vec![vec![1, 5, 4], vec![1, 2, 3, 4]]);
        assert!(!more);
    }

    #[test]
    fn bounds_cut_paths_and_say_so() {
        let (_, paths, more) = search(&graph(), 1, 4, 1, 10);
        assert_eq!(paths.len(), 1);
        assert!(more);
        let (_, paths, _) = search(&graph(), 1, 4, 10, 2);
        assert_eq!(paths, vec![vec![1, 5, 4]]);
    }

    #[test]
    fn no_path_is_an_empty_answer() {
        let mut g = graph();
        g.add_node(6);
        let (shortest, paths, _) = search(&g, 1, 6, 10, 10);
        assert_eq!((shortest.len(), paths.len()), (0, 0));
    }
}
