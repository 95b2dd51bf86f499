//! Impact analysis: everything downstream that would break if a node or a column changed.

use std::collections::{BTreeMap, HashMap};

use axum::extract::State;
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::columns::{column, walk};
use super::graph::{TAG, bounded};
use super::query::ApiQuery;
use super::scope::{self, Reader};
use super::walker::Walker;
use crate::auth::Principal;
use crate::error::{Problem, Result};
use crate::graph::{self, Anchor, Direction, Limits, Traversal};
use crate::model::{EdgeKind, Node, NodeId, NodeKind};
use crate::store::Store;

use super::columns::MAX_NODES as COLUMN_NODES;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_impact))
}

/// Parameters of an impact query.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
struct ImpactParams {
    /// Key of the node that would change (a dataset, job, run...).
    node: String,
    /// A column of that dataset, for column-level impact.
    column: Option<String>,
    /// Hops to follow, 0 to 50 (default 50): process hops, or derivations for a column.
    depth: Option<u32>,
    /// The graph as it stood at this time (RFC 3339).
    as_of: Option<DateTime<Utc>>,
}

/// One impacted node.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Impacted {
    /// Node key.
    key: String,
    /// Node kind.
    kind: NodeKind,
    /// Node name.
    name: String,
    /// Its namespace, where it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<String>,
    /// How far downstream: process hops, or derivations for column impact.
    hops: u32,
}

/// Counts of the impacted nodes.
#[derive(Debug, Default, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Summary {
    /// Impacted nodes in all.
    total: usize,
    /// Count per node kind.
    by_kind: BTreeMap<String, usize>,
    /// Count per namespace (`(none)` for nodes without one).
    by_namespace: BTreeMap<String, usize>,
}

/// What a change would break.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Impact {
    /// Key of the node (or column) that would change.
    root: String,
    /// True when the walk was cut by `depth` or the size cap, so more may be impacted.
    truncated: bool,
    /// Impacted nodes, nearest first.
    items: Vec<Impacted>,
    /// Counts by kind and namespace.
    summary: Summary,
}

/// Impact analysis.
///
/// Everything downstream of a node, or of one column of a dataset (the columns derived from
/// it, the datasets they belong to, and datasets it shapes as a whole), with how far each is.
#[utoipa::path(
    get,
    path = "/api/v1/graph/impact",
    tag = TAG,
    operation_id = "graph.impact",
    params(ImpactParams),
    responses(
        (status = 200, description = "What would be impacted", body = Impact),
        (status = 400, description = "A bad parameter", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such node or column", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn get_impact(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiQuery(params): ApiQuery<ImpactParams>,
) -> Result<Json<Impact>> {
    let limits = state.settings.query;
    let depth = bounded(
        params.depth,
        limits.max_depth,
        0..=limits.max_depth,
        "depth",
    )?;
    let max_nodes = limits.max_nodes as usize;
    let store = state.store.as_ref();
    let reader = Reader::new(store, &principal);
    let walker = Walker::new(&state, params.as_of).await?;
    let (start, root, t) = match &params.column {
        Some(name) => {
            let (start, root) = column(&reader, &params.node, name, params.as_of).await?;
            let kinds = [EdgeKind::Derives, EdgeKind::Affects];
            let max_nodes = max_nodes.min(COLUMN_NODES);
            let t = walk(
                &walker,
                start,
                Direction::Downstream,
                &kinds,
                depth,
                max_nodes,
            )
            .await?;
            (start, root, t)
        }
        None => {
            let (start, root) = reader.find_as_of(&params.node, params.as_of).await?;
            let limits = Limits { depth, max_nodes };
            (
                start,
                root.clone(),
                downstream(&walker, start, &root, limits).await?,
            )
        }
    };
    let items = impacted(&reader, start, &t).await?;
    Ok(Json(Impact {
        root: root.key,
        truncated: t.truncated,
        summary: summarise(&items),
        items,
    }))
}

async fn downstream(
    walker: &Walker<'_>,
    start: NodeId,
    node: &Node,
    limits: Limits,
) -> Result<Traversal> {
    let anchor = graph::anchor(walker.edges(), start, node.kind).await?;
    let anchor = anchor.unwrap_or(Anchor {
        node: start,
        kind: node.kind,
        path: Vec::new(),
    });
    graph::lineage(
        walker,
        anchor.node,
        anchor.kind,
        Direction::Downstream,
        limits,
    )
    .await
}

/// The reached nodes but the start, plus the datasets owning reached columns: those the reader
/// may see. Impact counts what would break, so what lies beyond a job the reader may not see
/// is still listed.
async fn impacted(reader: &Reader<'_>, start: NodeId, t: &Traversal) -> Result<Vec<Impacted>> {
    let store = reader.store;
    let ids: Vec<NodeId> = t.hops.keys().copied().filter(|id| *id != start).collect();
    let mut nodes = store.nodes(&ids).await?;
    if reader.is_limited() {
        let loaded: Vec<Node> = nodes.iter().map(|(_, n)| n.clone()).collect();
        let visible = scope::visible_keys(store, reader.principal, &loaded).await?;
        nodes.retain(|(_, n)| visible.contains(&n.key));
    }
    let mut items: HashMap<String, Impacted> = HashMap::new();
    for (id, node) in nodes {
        let hops = t.hops[&id];
        if node.kind == NodeKind::Field {
            add_owner(store, &node, hops, &mut items).await?;
        }
        items
            .entry(node.key.clone())
            .or_insert_with(|| item(node, hops));
    }
    let mut items: Vec<Impacted> = items.into_values().collect();
    items.sort_by(|a, b| (a.hops, &a.key).cmp(&(b.hops, &b.key)));
    Ok(items)
}

async fn add_owner(
    store: &dyn Store,
    field: &Node,
    hops: u32,
    items: &mut HashMap<String, Impacted>,
) -> Result<()> {
    let Some(dataset) = field.properties.get("dataset").and_then(Value::as_str) else {
        return Ok(());
    };
    if items.get(dataset).is_some_and(|i| i.hops <= hops) {
        return Ok(());
    }
    if let Some((_, owner)) = store.node(dataset).await? {
        items.insert(owner.key.clone(), item(owner, hops));
    }
    Ok(())
}

fn item(node: Node, hops: u32) -> Impacted {
    let namespace = node
        .properties
        .get("namespace")
        .and_then(Value::as_str)
        .map(str::to_owned);
    Impacted {
        key: node.key,
        kind: node.kind,
        name: node.name,
        namespace,
        hops,
    }
}

fn summarise(items: &[Impacted]) -> Summary {
    let mut summary = Summary {
        total: items.len(),
        ..Summary::default()
    };
    for i in items {
        *summary
            .by_kind
            .entry(i.kind.as_str().to_owned())
            .or_default() += 1;
        let ns = i.namespace.clone().unwrap_or_else(|| "(none)".to_owned());
        *summary.by_namespace.entry(ns).or_default() += 1;
    }
    summary
}
