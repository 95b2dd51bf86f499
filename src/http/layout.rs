//! `GET /api/v1/graph/layout`: a lineage answer laid out for drawing, as the explorer draws
//! it. The subgraph is the one `/api/v1/graph/lineage` answers for the same parameters; the
//! layout is computed here ([`crate::graph::layout`]) so that a browser only draws boxes and
//! curves, and so the drawing is the same for every client and can be tested without one.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use axum::Extension;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::graph::{LineageParams, LineageResponse, TAG, lineage, list, respond};
use super::marquez::render;
use super::offload::{Deadline, offload};
use super::query::ApiQuery;
use crate::auth::Principal;
use crate::error::{Error, Problem, Result};
use crate::graph::Direction;
use crate::graph::budget::Budget;
use crate::graph::export::Format;
use crate::graph::layout::{self, Frame, Graph, Size};
use crate::model::{Edge, EdgeKind, Node, NodeKind, Properties, RawProperties};

const SERVER_TIMING: HeaderName = HeaderName::from_static("server-timing");

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_layout))
}

/// A lineage subgraph with a position for every node and a route for every edge.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct LayoutResponse {
    /// Key of the start node.
    root: String,
    /// Which way the walk went.
    direction: Direction,
    /// The depth asked for.
    depth_requested: u32,
    /// The deepest process hop any returned node is at.
    depth_reached: u32,
    /// True when nodes were left out because of `depth` or `maxNodes`, or edges because of
    /// the size an answer may have.
    truncated: bool,
    /// Why `truncated` is true, naming the parameter or setting to raise; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    truncated_reason: Option<String>,
    /// The time the graph is shown as of, when asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    as_of: Option<DateTime<Utc>>,
    /// Extent of the drawing, in pixels.
    width: f64,
    /// Extent of the drawing, in pixels.
    height: f64,
    /// Every node of the subgraph but the jobs drawn as groups, sorted by key.
    nodes: Vec<LaidNode>,
    /// Every edge between drawn nodes, pointing the way data flows.
    edges: Vec<LaidEdge>,
    /// Jobs opened into their operations (`operations`), drawn as frames around them.
    groups: Vec<LaidGroup>,
}

/// A node and the box it is drawn in (top-left corner and size).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct LaidNode {
    key: String,
    kind: NodeKind,
    name: String,
    /// The node's `namespace` property, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<String>,
    /// The column, 0 leftmost; data flows rightwards.
    layer: usize,
    x: f64,
    y: f64,
    width: f64,
    height: f64,
    /// True when the node has neighbours the answer left out (`depth` or `maxNodes`).
    frontier: bool,
    /// The latest run of a job (seen by `asOf`, when given).
    #[serde(skip_serializing_if = "Option::is_none")]
    last_run: Option<LastRun>,
    /// Key of the job whose operation this is, when that job is drawn as a group.
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<String>,
}

/// A job's latest run.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct LastRun {
    /// The run's key.
    key: String,
    /// As Marquez names run states: `COMPLETED`, `FAILED`, `ABORTED`, `RUNNING` or `NEW`.
    state: String,
    /// When a producer last reported it.
    at: DateTime<Utc>,
}

/// An edge and the points it is drawn through.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct LaidEdge {
    source: String,
    target: String,
    kind: EdgeKind,
    /// From the right side of the source to the left side of the target, through a pair of
    /// points in every column it crosses; draw a curve through them.
    points: Vec<[f64; 2]>,
    /// True when the edge was turned around to break a cycle, so it runs right to left.
    reversed: bool,
    /// For `flows_to` (collapsed jobs): the jobs the data flows through.
    #[serde(skip_serializing_if = "Option::is_none")]
    via: Option<Vec<String>>,
}

/// A job drawn as a frame around its operations.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct LaidGroup {
    key: String,
    name: String,
    x: f64,
    y: f64,
    width: f64,
    height: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_run: Option<LastRun>,
}

/// Lineage around a node, laid out for drawing.
///
/// Takes the parameters of `/api/v1/graph/lineage` and walks the same subgraph; answers it
/// with positions and edge routes for a left-to-right layered drawing (cycles broken,
/// crossings reduced), and each job's latest run. `Server-Timing` reports the time spent on
/// the walk (`lineage`), the runs (`runs`) and the layout (`layout`). With `format`, or an
/// `Accept` header, for DOT, Mermaid or GraphML it answers as lineage does. The subgraph is
/// bounded as lineage answers are; one whose long edges need more bends than a 40th of
/// `HEADWATER_MAX_RESULT_BYTES` is not drawn (422), and the crossing reduction stops
/// improving the drawing after `HEADWATER_MAX_QUERY_STEPS` steps or near the query time
/// limit.
#[utoipa::path(
    get,
    path = "/api/v1/graph/layout",
    tag = TAG,
    operation_id = "graph.layout",
    params(LineageParams),
    responses(
        (status = 200, description = "The subgraph, laid out", body = LayoutResponse),
        (status = 400, description = "A bad parameter", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such node (or none yet at `asOf`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The subgraph is too large to answer or to draw", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn get_layout(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    deadline: Deadline,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<LineageParams>,
) -> Result<Response> {
    let format = super::export::negotiate(params.format.as_deref(), &headers)?;
    let begun = Instant::now();
    let answer = lineage(&state, &principal, &params).await?;
    if format != Format::Json {
        return respond(format, answer).await;
    }
    let walked = begun.elapsed();
    let runs = last_runs(&state, &answer).await?;
    let fetched = begun.elapsed() - walked;
    let begun = Instant::now();
    let opened: HashSet<String> = list(params.operations.as_deref()).into_iter().collect();
    let max_bends = state.settings.query.max_result_bytes / BYTES_PER_BEND;
    let body = offload(&state, deadline, move |budget| {
        laid_out(answer, runs, &opened, max_bends, budget)
    })
    .await??;
    let timing = [
        ("lineage", walked),
        ("runs", fetched),
        ("layout", begun.elapsed()),
    ];
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(SERVER_TIMING, server_timing(&timing));
    Ok(response)
}

/// `Server-Timing` entries, durations in milliseconds.
fn server_timing(entries: &[(&str, Duration)]) -> HeaderValue {
    let text: Vec<String> = entries
        .iter()
        .map(|(name, d)| format!("{name};dur={:.3}", d.as_secs_f64() * 1e3))
        .collect();
    HeaderValue::from_str(&text.join(", ")).unwrap_or(HeaderValue::from_static(""))
}

/// The latest run of each job in the answer, by job key; at `asOf`, only runs seen by then.
async fn last_runs(state: &AppState, answer: &LineageResponse) -> Result<HashMap<String, LastRun>> {
    let ids: Vec<_> = answer.jobs.keys().copied().collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let runs = state.store.latest_runs(&ids).await?;
    Ok(runs
        .into_iter()
        .filter(|(_, run)| answer.as_of.is_none_or(|at| run.first_seen <= at))
        .filter_map(|(job, run)| Some((answer.jobs.get(&job)?.clone(), last_run(&run))))
        .collect())
}

fn last_run(run: &Node) -> LastRun {
    let state = render::run(run)["state"]
        .as_str()
        .unwrap_or("NEW")
        .to_owned();
    LastRun {
        key: run.key.clone(),
        state,
        at: run.last_seen,
    }
}

/// The box each kind is drawn in; the explorer shortens labels to fit.
fn size_of(kind: NodeKind) -> Size {
    match kind {
        NodeKind::Dataset | NodeKind::Job => Size {
            width: 220.0,
            height: 46.0,
        },
        _ => Size {
            width: 180.0,
            height: 34.0,
        },
    }
}

/// What a bend of an edge adds to the answer: two points, about 20 bytes of JSON each.
const BYTES_PER_BEND: usize = 40;

/// Lays the answer out. Jobs in `opened` that have operations in the answer become groups:
/// their operations are drawn in their place, framed, and the job's own edges are left out.
/// An answer whose edges need more than `max_bends` bends is not drawn (422); the crossing
/// reduction stops improving when `budget` runs out.
fn laid_out(
    answer: LineageResponse,
    mut runs: HashMap<String, LastRun>,
    opened: &HashSet<String>,
    max_bends: usize,
    budget: &mut Budget,
) -> Result<LayoutResponse> {
    let owner: HashMap<&str, &str> = answer
        .edges
        .iter()
        .filter(|e| e.kind == EdgeKind::HasOperation && opened.contains(&e.source))
        .map(|e| (e.target.as_str(), e.source.as_str()))
        .collect();
    let grouped: HashSet<&str> = owner.values().copied().collect();
    let drawn: Vec<&Node<RawProperties>> = answer
        .nodes
        .iter()
        .filter(|n| !grouped.contains(n.key.as_str()))
        .collect();
    let index: HashMap<&str, usize> = drawn
        .iter()
        .enumerate()
        .map(|(i, n)| (n.key.as_str(), i))
        .collect();
    let edges: Vec<&Edge> = answer
        .edges
        .iter()
        .filter(|e| e.kind != EdgeKind::HasOperation)
        .filter(|e| index.contains_key(e.source.as_str()) && index.contains_key(e.target.as_str()))
        .collect();
    let group_keys: Vec<&str> = {
        let mut keys: Vec<&str> = grouped.iter().copied().collect();
        keys.sort_unstable();
        keys
    };
    let group_of = |n: &Node<RawProperties>| {
        let job = owner.get(n.key.as_str())?;
        group_keys.iter().position(|k| k == job)
    };
    let sizes: Vec<Size> = drawn.iter().map(|n| size_of(n.kind)).collect();
    let pairs: Vec<(usize, usize)> = edges
        .iter()
        .map(|e| (index[e.source.as_str()], index[e.target.as_str()]))
        .collect();
    let groups: Vec<Option<usize>> = drawn.iter().map(|n| group_of(n)).collect();
    let graph = Graph {
        sizes: &sizes,
        edges: &pairs,
        groups: &groups,
    };
    let drawing = layout::draw_within(graph, max_bends, budget)
        .map_err(|bends| too_many_bends(bends, max_bends))?;
    let frontier: HashSet<&str> = answer.frontier.iter().map(String::as_str).collect();
    let nodes: Vec<LaidNode> = drawn
        .iter()
        .zip(&drawing.nodes)
        .zip(&sizes)
        .map(|((n, p), size)| LaidNode {
            key: n.key.clone(),
            kind: n.kind,
            name: n.name.clone(),
            namespace: n.properties.namespace(),
            layer: p.layer,
            x: p.x,
            y: p.y,
            width: size.width,
            height: size.height,
            frontier: frontier.contains(n.key.as_str()),
            last_run: runs.remove(&n.key),
            group: owner.get(n.key.as_str()).map(|j| (*j).to_owned()),
        })
        .collect();
    let laid_edges = edges
        .iter()
        .zip(drawing.edges)
        .map(|(e, route)| LaidEdge {
            source: e.source.clone(),
            target: e.target.clone(),
            kind: e.kind,
            points: route.points,
            reversed: route.reversed,
            via: via(e),
        })
        .collect();
    let groups: Vec<LaidGroup> = drawing
        .groups
        .iter()
        .map(|f| {
            frame(
                f,
                group_keys[f.group],
                &answer.nodes,
                runs.remove(group_keys[f.group]),
            )
        })
        .collect();
    Ok(LayoutResponse {
        root: answer.root,
        direction: answer.direction,
        depth_requested: answer.depth_requested,
        depth_reached: answer.depth_reached,
        truncated: answer.truncated,
        truncated_reason: answer.truncated_reason,
        as_of: answer.as_of,
        width: drawing.width,
        height: drawing.height,
        nodes,
        edges: laid_edges,
        groups,
    })
}

/// The answer to a subgraph too large to draw.
fn too_many_bends(bends: usize, max_bends: usize) -> Error {
    let detail = format!(
        "drawing this subgraph needs {bends} bends of its long edges, more than the \
         {max_bends} a layout may have (a 40th of HEADWATER_MAX_RESULT_BYTES); ask for fewer \
         nodes with `maxNodes` or `depth`, or for the subgraph alone at /api/v1/graph/lineage"
    );
    Error::Unprocessable {
        code: "layout-too-large",
        detail,
        path: Some("maxNodes".to_owned()),
    }
}

/// The jobs a collapsed `flows_to` edge stands for.
fn via(edge: &Edge) -> Option<Vec<String>> {
    let jobs = edge.properties.get("jobs")?.as_array()?;
    Some(
        jobs.iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
    )
}

/// A group's frame, named after its job.
fn frame(
    f: &Frame,
    key: &str,
    all: &[Node<RawProperties>],
    last_run: Option<LastRun>,
) -> LaidGroup {
    let name = all
        .iter()
        .find(|n| n.key == key)
        .map_or_else(|| key.to_owned(), |n| n.name.clone());
    LaidGroup {
        key: key.to_owned(),
        name,
        x: f.x,
        y: f.y,
        width: f.width,
        height: f.height,
        last_run,
    }
}
