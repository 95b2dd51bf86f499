//! Paths between two nodes: how data gets from one to the other.

use std::collections::HashMap;

use axum::extract::State;
use axum::{Extension, Json};
use petgraph::graphmap::DiGraphMap;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::graph::{TAG, bounded};
use super::offload::{Deadline, offload};
use super::query::ApiQuery;
use super::scope::{self, Reader};
use super::walker::Walker;
use crate::auth::Principal;
use crate::error::{Problem, Result};
use crate::graph::budget::Exhausted;
use crate::graph::paths::{self, Found};
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
    /// True when more paths may exist than are listed: more than `maxPaths`, or the search
    /// was cut short (see `truncatedReason`).
    truncated: bool,
    /// Why `truncated` is true, naming the parameter or setting to raise; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    truncated_reason: Option<String>,
}

/// Paths between two nodes.
///
/// Follows dataset-level lineage (`input` and `output` edges) downstream from `from`, and
/// answers with a shortest path to `to` and the simple paths, bounded. No path is an empty
/// answer, not an error. The search for paths takes at most `HEADWATER_MAX_QUERY_STEPS` steps
/// and stops before the query time limit; cut short, it answers the paths it found (the
/// shortest path is always found) with `truncated` and `truncatedReason`.
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
    deadline: Deadline,
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
    let unreached = reach.truncated && !g.contains_node(to);
    let max_length = max_length as usize;
    let found = offload(&state, deadline, move |budget| {
        paths::search(&g, from, to, max_paths, max_length, budget)
    })
    .await?;
    let truncated_reason = why_truncated(&found, max_paths, unreached);
    let render = |path: Vec<NodeId>| {
        path.iter()
            .filter_map(|id| keys.get(id).cloned())
            .collect::<Vec<_>>()
    };
    Ok(Json(Paths {
        from: from_node.key,
        to: to_node.key,
        shortest: render(found.shortest),
        paths: found.paths.into_iter().map(render).collect(),
        truncated: truncated_reason.is_some(),
        truncated_reason,
    }))
}

/// Every reason the paths listed may not be all of them, as one sentence.
fn why_truncated(found: &Found, max_paths: usize, unreached: bool) -> Option<String> {
    let mut reasons = Vec::new();
    if found.more {
        reasons.push(format!(
            "there are more than {max_paths} paths (`maxPaths`, at most 100)"
        ));
    }
    match found.stopped {
        Some(Exhausted::Steps(steps)) => reasons.push(format!(
            "the search for paths stopped after {steps} steps (HEADWATER_MAX_QUERY_STEPS); \
             the paths listed are the shortest it found"
        )),
        Some(Exhausted::Deadline | Exhausted::Abandoned) => reasons.push(
            "the search for paths stopped at the query time limit \
             (HEADWATER_QUERY_TIMEOUT_SECS); the paths listed are the shortest it found"
                .to_owned(),
        ),
        None => {}
    }
    if unreached {
        reasons.push(format!(
            "the walk from `from` was cut by `maxLength` or at {MAX_NODES} nodes before it \
             reached `to`"
        ));
    }
    (!reasons.is_empty()).then(|| reasons.join("; "))
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
