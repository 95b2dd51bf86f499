//! Column-level lineage: which columns a column derives from, and which derive from it,
//! across jobs and across formats (Spline attribute derivations and OpenLineage columnLineage
//! both end up as `derives` edges between dataset columns).

use std::collections::HashSet;

use axum::extract::State;
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::graph::{TAG, bounded, subgraph};
use super::query::ApiQuery;
use super::scope::Reader;
use super::walker::Walker;
use crate::auth::Principal;
use crate::error::{Error, Problem, Result};
use crate::graph::{self, Direction, HopRule, Limits, Step, Topology, Traversal, Walk};
use crate::model::{Edge, EdgeKind, Node, NodeId, NodeKind, field_key};

const DEFAULT_DEPTH: u32 = 10;
/// Column answers are small; a walk this big means a question too wide to be useful.
pub(super) const MAX_NODES: usize = 10_000;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_column_lineage))
}

/// Parameters of a column-lineage query.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub(super) struct ColumnParams {
    /// Key of the dataset, e.g. `dataset:postgres://db:5432/shop.public.orders`.
    pub node: String,
    /// The column's name.
    pub column: String,
    /// `upstream` (what it derives from), `downstream` (what derives from it; default) or `both`.
    pub direction: Option<Direction>,
    /// Derivation hops, 0 to 50 (default 10). One hop is one column-to-column derivation.
    pub depth: Option<u32>,
    /// The graph as it stood at this time (RFC 3339).
    pub as_of: Option<DateTime<Utc>>,
}

/// A column of a dataset.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct Column {
    /// The column's node key: `field:<dataset uri>#<name>`.
    pub key: String,
    /// Key of the dataset it belongs to.
    pub dataset: String,
    /// The column's name.
    pub name: String,
    /// Everything known about it (type, description, ...).
    #[schema(value_type = Object)]
    pub properties: Value,
}

/// One derivation: `target` is computed from `source`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct Derivation {
    /// The column derived from.
    pub source: String,
    /// The derived column.
    pub target: String,
    /// The expression that computes it (Spline), e.g. `(price * qty) AS total`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
    /// How it is derived (OpenLineage): DIRECT/INDIRECT with subtype, description, masking.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub transformations: Option<Value>,
    /// Everything the edge carries (the job, the deprecated transformation fields...).
    #[schema(value_type = Object)]
    pub properties: Value,
}

/// Column lineage around one column.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct ColumnLineage {
    /// Key of the start column.
    root: String,
    /// Which way the walk went.
    direction: Direction,
    /// The deepest hop reached.
    depth_reached: u32,
    /// True when columns were left out because of `depth` or the size cap.
    truncated: bool,
    /// Columns, sorted by key.
    nodes: Vec<Column>,
    /// Derivations between them.
    edges: Vec<Derivation>,
}

/// Column lineage.
///
/// The columns a column derives from (upstream) and the columns derived from it (downstream),
/// across jobs, with the expression or transformation of each derivation.
#[utoipa::path(
    get,
    path = "/api/v1/graph/column-lineage",
    tag = TAG,
    operation_id = "graph.columnLineage",
    params(ColumnParams),
    responses(
        (status = 200, description = "The column graph", body = ColumnLineage),
        (status = 400, description = "A bad parameter", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such dataset or column", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn get_column_lineage(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiQuery(params): ApiQuery<ColumnParams>,
) -> Result<Json<ColumnLineage>> {
    let max_depth = state.settings.query.max_depth;
    let depth = bounded(
        params.depth,
        DEFAULT_DEPTH.min(max_depth),
        0..=max_depth,
        "depth",
    )?;
    let direction = params.direction.unwrap_or_default();
    let store = state.store.as_ref();
    let reader = Reader::new(store, &principal);
    let (start, root) = column(&reader, &params.node, &params.column, params.as_of).await?;
    let walker = Walker::new(&state, params.as_of).await?;
    let max_nodes = MAX_NODES.min(state.settings.query.max_nodes as usize);
    let t = walk(
        &walker,
        start,
        direction,
        &[EdgeKind::Derives],
        depth,
        max_nodes,
    )
    .await?;
    let ids: HashSet<NodeId> = t.hops.keys().copied().collect();
    let (nodes, edges) = subgraph(store, ids, store.edges(&t.edges).await?).await?;
    let (nodes, edges) = reader.retain(nodes, edges, Some(&root.key)).await?;
    Ok(Json(ColumnLineage {
        root: root.key,
        direction,
        depth_reached: t.depth_reached,
        truncated: t.truncated,
        nodes: nodes.into_iter().map(column_of).collect(),
        edges: edges.into_iter().map(derivation_of).collect(),
    }))
}

/// Finds a dataset's column; 404 says whether the dataset or the column is unknown.
pub(super) async fn column(
    reader: &Reader<'_>,
    dataset: &str,
    name: &str,
    as_of: Option<DateTime<Utc>>,
) -> Result<(NodeId, Node)> {
    let (_, dataset) = reader.find_as_of(dataset, as_of).await?;
    if dataset.kind != NodeKind::Dataset {
        let detail = format!(
            "`{}` is a {}, not a dataset",
            dataset.key,
            dataset.kind.as_str()
        );
        return Err(Error::bad_request(
            "invalid-parameter",
            detail,
            Some("node".to_owned()),
        ));
    }
    let key = field_key(&dataset.key, name);
    match reader.find(&key).await {
        Err(Error::NotFound(_)) => Err(Error::NotFound(format!(
            "dataset `{}` has no column `{name}`",
            dataset.key
        ))),
        other => other,
    }
}

/// A bounded walk over column edges in one or both directions; every edge is one hop.
pub(super) async fn walk(
    source: &dyn Topology,
    start: NodeId,
    direction: Direction,
    kinds: &[EdgeKind],
    depth: u32,
    max_nodes: usize,
) -> Result<Traversal> {
    let limits = Limits { depth, max_nodes };
    let spec = |steps| Walk {
        kinds,
        steps,
        hops: HopRule::Edge,
        limits,
    };
    match direction {
        Direction::Downstream => graph::walk(source, &[start], 0, spec(&[Step::Forward])).await,
        Direction::Upstream => graph::walk(source, &[start], 0, spec(&[Step::Backward])).await,
        Direction::Both => {
            let mut t = graph::walk(source, &[start], 0, spec(&[Step::Forward])).await?;
            t.merge(graph::walk(source, &[start], 0, spec(&[Step::Backward])).await?);
            Ok(t)
        }
    }
}

fn column_of(node: Node) -> Column {
    let dataset = node
        .properties
        .get("dataset")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    Column {
        key: node.key,
        dataset,
        name: node.name,
        properties: node.properties,
    }
}

fn derivation_of(edge: Edge) -> Derivation {
    let expression = edge
        .properties
        .get("expression")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let transformations = edge
        .properties
        .get("transformations")
        .filter(|t| !t.is_null())
        .cloned();
    Derivation {
        source: edge.source,
        target: edge.target,
        expression,
        transformations,
        properties: edge.properties,
    }
}
