//! Anomalies in the lineage graph: cycles, and datasets at its edges (read but never
//! written, written but never read). Cycles usually mean two producers disagree about a
//! dataset's name, or a job overwrites its own input; dangling datasets show what lineage
//! capture is missing.

use std::collections::HashMap;

use axum::extract::State;
use axum::{Extension, Json};
use petgraph::algo::tarjan_scc;
use petgraph::graphmap::DiGraphMap;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::graph::{TAG, bounded};
use super::offload::{Deadline, offload};
use super::query::ApiQuery;
use super::scope;
use crate::auth::Principal;
use crate::error::{Problem, Result};
use crate::model::NodeId;
use crate::store::Page;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_anomalies))
}

/// Paging of each list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct AnomalyParams {
    /// Most items per list, 1 to 1000 (default 100).
    limit: Option<u32>,
    /// Items to skip in each list (default 0).
    offset: Option<u32>,
}

/// One page of a list, and its full length.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Listed<T> {
    /// This page.
    items: Vec<T>,
    /// Items in all.
    total: u64,
}

/// The anomalies found.
#[derive(Debug, Serialize, ToSchema)]
struct Anomalies {
    /// Cycles in dataset-level lineage, each as the sorted keys of its nodes.
    cycles: Listed<Vec<String>>,
    /// Datasets that are read but never written.
    sources: Listed<String>,
    /// Datasets that are written but never read.
    sinks: Listed<String>,
}

/// Cycles, source datasets and sink datasets.
#[utoipa::path(
    get,
    path = "/api/v1/graph/anomalies",
    tag = TAG,
    operation_id = "graph.anomalies",
    params(AnomalyParams),
    responses(
        (status = 200, description = "The anomalies", body = Anomalies),
        (status = 400, description = "A bad parameter", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn get_anomalies(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    deadline: Deadline,
    ApiQuery(params): ApiQuery<AnomalyParams>,
) -> Result<Json<Anomalies>> {
    scope::unlimited_only(&principal, "the anomalies of the whole graph")?;
    let page = Page {
        limit: bounded(params.limit, 100, 1..=1_000, "limit")?,
        offset: params.offset.unwrap_or(0),
    };
    let store = state.store.as_ref();
    let (sources, total_sources) = store.dataset_ends(true, page).await?;
    let (sinks, total_sinks) = store.dataset_ends(false, page).await?;
    Ok(Json(Anomalies {
        cycles: cycles(&state, deadline, page).await?,
        sources: Listed {
            items: sources,
            total: total_sources,
        },
        sinks: Listed {
            items: sinks,
            total: total_sinks,
        },
    }))
}

/// Strongly connected components of the lineage layer with more than one node, or a node
/// with an edge to itself. The whole graph's: linear, but in a large graph long enough to
/// keep an async worker from everything else, so it runs off them.
async fn cycles(state: &AppState, deadline: Deadline, page: Page) -> Result<Listed<Vec<String>>> {
    let store = state.store.as_ref();
    let edges = store.lineage_edges().await?;
    let components = offload(state, deadline, move |_| {
        let g: DiGraphMap<NodeId, ()> = edges.iter().map(|e| (e.source, e.target)).collect();
        tarjan_scc(&g)
            .into_iter()
            .filter(|c| c.len() > 1 || g.contains_edge(c[0], c[0]))
            .collect::<Vec<Vec<NodeId>>>()
    })
    .await?;
    let ids: Vec<NodeId> = components.iter().flatten().copied().collect();
    let keys: HashMap<NodeId, String> = store
        .nodes(&ids)
        .await?
        .into_iter()
        .map(|(id, n)| (id, n.key))
        .collect();
    let mut cycles: Vec<Vec<String>> = components
        .into_iter()
        .map(|c| {
            let mut named: Vec<String> = c.iter().filter_map(|id| keys.get(id).cloned()).collect();
            named.sort();
            named
        })
        .collect();
    cycles.sort();
    let total = cycles.len() as u64;
    let items = cycles
        .into_iter()
        .skip(page.offset as usize)
        .take(page.limit as usize)
        .collect();
    Ok(Listed { items, total })
}
