//! `GET /consumer/lineage-overview` and `GET /consumer/impact-overview`: the data sources and
//! plans upstream (or downstream) of one execution event, walked the time-aware way
//! ([`super::walk`]), one store query per level of depth.

use std::collections::{HashMap, HashSet};

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::TAG;
use super::ids::{self, spline_id};
use super::render::Transition;
use super::walk::{Direction, Walk, Walked};
use crate::error::{Error, Problem, Result};
use crate::http::AppState;
use crate::http::graph::bounded;
use crate::http::query::ApiQuery;
use crate::model::{Node, NodeId};
use crate::store::{SplineRun, Store};

/// Spline's default depth (its UI asks for 3 and doubles it on "load more").
const DEFAULT_DEPTH: u32 = 5;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(lineage))
        .routes(routes!(impact))
}

/// Parameters of an overview.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
struct OverviewParams {
    /// The execution event, `<planId>:<timestamp base 36>`.
    event_id: String,
    /// How many executions deep any path may go, counting this event's (default 5).
    max_depth: Option<u32>,
}

/// An overview: where it starts, and the graph.
#[derive(Debug, Serialize, ToSchema)]
struct LineageOverview {
    /// The start event.
    info: OverviewInfo,
    /// Data sources and executions.
    graph: OverviewGraph,
}

/// The start event of an overview.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct OverviewInfo {
    /// When it finished, epoch ms.
    timestamp: i64,
    /// Its application id.
    application_id: Option<String>,
    /// The id of the data source it wrote.
    target_data_source_id: String,
}

/// The graph of an overview.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct OverviewGraph {
    /// `maxDepth`.
    depth_requested: u32,
    /// Executions on the longest path walked; -1 when none (`maxDepth` 0).
    depth_computed: i64,
    /// Present (true) when executions were left out: the walk takes at most
    /// `HEADWATER_MAX_RESULT_NODES` of them. Not part of Spline's API.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    truncated: bool,
    /// Data sources and executions (plans), each once.
    nodes: Vec<OverviewNode>,
    /// Data source → plan (reads) and plan → data source (writes).
    edges: Vec<Transition>,
}

/// A node of an overview, tagged by `_type` as Spline tags it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "_type")]
enum OverviewNode {
    /// A data source, named by its URI.
    DataSourceNode {
        /// The dataset key.
        #[serde(rename = "_id")]
        id: String,
        /// The URI.
        name: String,
    },
    /// A plan that ran.
    ExecutionNode {
        /// The plan's UUID.
        #[serde(rename = "_id")]
        id: String,
        /// The plan's name.
        name: String,
        /// `{"name": "spark", "version": "3.3.2"}`.
        #[serde(rename = "systemInfo")]
        #[schema(value_type = Object)]
        system_info: Value,
        /// `{"name": "spline", "version": "2.2.0"}`.
        #[serde(rename = "agentInfo")]
        #[schema(value_type = Option<Object>)]
        agent_info: Value,
    },
}

/// Lineage overview of an execution event.
///
/// The executions whose writes this event's reads observed, and theirs in turn: for each data
/// source read, the last successful overwrite before the read and the successful appends after
/// it. `maxDepth` counts executions along a path, this one included.
#[utoipa::path(
    get,
    path = "/consumer/lineage-overview",
    tag = TAG,
    operation_id = "spline.consumer.lineageOverview.get",
    params(OverviewParams),
    responses(
        (status = 200, description = "The overview", body = LineageOverview),
        (status = 400, description = "A bad parameter", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such event", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn lineage(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<OverviewParams>,
) -> Result<Json<LineageOverview>> {
    overview(&state, params, Direction::Lineage).await
}

/// Impact overview of an execution event.
///
/// The executions that read what this event wrote before the next successful overwrite of it,
/// and theirs in turn. A failed execution wrote nothing, so nothing is downstream of it.
#[utoipa::path(
    get,
    path = "/consumer/impact-overview",
    tag = TAG,
    operation_id = "spline.consumer.impactOverview.get",
    params(OverviewParams),
    responses(
        (status = 200, description = "The overview", body = LineageOverview),
        (status = 400, description = "A bad parameter", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such event", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn impact(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<OverviewParams>,
) -> Result<Json<LineageOverview>> {
    overview(&state, params, Direction::Impact).await
}

async fn overview(
    state: &AppState,
    params: OverviewParams,
    direction: Direction,
) -> Result<Json<LineageOverview>> {
    let store = state.store.as_ref();
    let limit = state.settings.query.max_depth;
    let max_depth = bounded(
        params.max_depth,
        DEFAULT_DEPTH.min(limit),
        0..=limit,
        "maxDepth",
    )?;
    let (run_id, event) = ids::event(store, &params.event_id).await?;
    let start = store.spline_runs(&[run_id]).await?.into_iter().next();
    let start = start.ok_or_else(|| {
        Error::NotFound(format!(
            "Event ID '{}' has no execution plan",
            params.event_id
        ))
    })?;
    let max_runs = state.settings.query.max_nodes as usize;
    let walked = walk(store, start.clone(), direction, max_depth, max_runs).await?;
    let nodes = loaded_nodes(store, &start, &walked).await?;
    let (graph_nodes, edges) = graph(&start, &walked.runs, &nodes);
    Ok(Json(LineageOverview {
        info: OverviewInfo {
            timestamp: start.timestamp,
            application_id: event
                .properties
                .pointer("/extra/appId")
                .and_then(Value::as_str)
                .map(str::to_owned),
            target_data_source_id: key_of(&nodes, start.writes),
        },
        graph: OverviewGraph {
            depth_requested: max_depth,
            depth_computed: walked.depth_computed,
            truncated: walked.truncated,
            nodes: graph_nodes,
            edges,
        },
    }))
}

/// Runs the walk, loading one level of candidates per round trip.
async fn walk(
    store: &dyn Store,
    start: SplineRun,
    direction: Direction,
    max_depth: u32,
    max_runs: usize,
) -> Result<Walked> {
    let mut walk = Walk::new(start, direction, max_depth, max_runs);
    loop {
        let requests = walk.requests();
        if requests.is_empty() {
            return Ok(walk.finish());
        }
        let loaded = match direction {
            Direction::Lineage => store.spline_writes_before(&requests).await?,
            Direction::Impact => store.spline_reads_after(&requests).await?,
        };
        walk.advance(loaded);
    }
}

/// The plans and data sources the answer names.
async fn loaded_nodes(
    store: &dyn Store,
    start: &SplineRun,
    walked: &Walked,
) -> Result<HashMap<NodeId, Node>> {
    let mut ids: HashSet<NodeId> = HashSet::from([start.writes]);
    for run in &walked.runs {
        ids.extend(run.reads.iter().copied());
        ids.extend([run.job, run.writes]);
    }
    let ids: Vec<NodeId> = ids.into_iter().collect();
    Ok(store.nodes(&ids).await?.into_iter().collect())
}

fn key_of(nodes: &HashMap<NodeId, Node>, id: NodeId) -> String {
    nodes.get(&id).map_or_else(String::new, |n| n.key.clone())
}

/// Nodes and edges, each once, in the order first met: the start's data source, then per run
/// its reads, its plan and its write.
fn graph(
    start: &SplineRun,
    runs: &[SplineRun],
    nodes: &HashMap<NodeId, Node>,
) -> (Vec<OverviewNode>, Vec<Transition>) {
    let mut out = GraphBuilder::default();
    out.data_source(nodes, start.writes);
    for run in runs {
        let plan = out.execution(nodes, run.job);
        for &read in &run.reads {
            let source = out.data_source(nodes, read);
            out.edge(&source, &plan);
        }
        let target = out.data_source(nodes, run.writes);
        out.edge(&plan, &target);
    }
    (out.nodes, out.edges)
}

/// Collects nodes and edges without repeats.
#[derive(Default)]
struct GraphBuilder {
    nodes: Vec<OverviewNode>,
    edges: Vec<Transition>,
    seen: HashSet<String>,
    seen_edges: HashSet<(String, String)>,
}

impl GraphBuilder {
    fn data_source(&mut self, nodes: &HashMap<NodeId, Node>, id: NodeId) -> String {
        let Some(node) = nodes.get(&id) else {
            return String::new();
        };
        if self.seen.insert(node.key.clone()) {
            self.nodes.push(OverviewNode::DataSourceNode {
                id: node.key.clone(),
                name: ids::data_source_uri(node),
            });
        }
        node.key.clone()
    }

    fn execution(&mut self, nodes: &HashMap<NodeId, Node>, id: NodeId) -> String {
        let Some(job) = nodes.get(&id) else {
            return String::new();
        };
        let plan_id = spline_id(&job.key).to_owned();
        if self.seen.insert(plan_id.clone()) {
            let info = |name: &str| job.properties.get(name).cloned().unwrap_or(Value::Null);
            self.nodes.push(OverviewNode::ExecutionNode {
                id: plan_id.clone(),
                name: job.name.clone(),
                system_info: info("systemInfo"),
                agent_info: info("agentInfo"),
            });
        }
        plan_id
    }

    fn edge(&mut self, source: &str, target: &str) {
        if self
            .seen_edges
            .insert((source.to_owned(), target.to_owned()))
        {
            self.edges.push(Transition {
                source: source.to_owned(),
                target: target.to_owned(),
            });
        }
    }
}
