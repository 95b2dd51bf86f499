//! The native consumer API under `/api/v1/graph`: lineage subgraphs, node search, node details.

use std::collections::{HashMap, HashSet};

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::cursor;
use super::query::ApiQuery;
use super::scope::Reader;
use super::walker::Walker;
use crate::auth::Principal;
use crate::error::{Error, Problem, Result};
use crate::graph::export::Format;
use crate::graph::view::{self, Cut, Filter, Room};
use crate::graph::{self, Anchor, Direction, Limits, Step, Traversal};
use crate::model::{Edge, EdgeKind, EdgeRecord, Node, NodeId, NodeKind, RawProperties};
use crate::naming;
use crate::store::{NodeQuery, Store};

pub(super) const TAG: &str = "graph";

const DEFAULT_DEPTH: u32 = 5;
const DEFAULT_MAX_NODES: u32 = 5_000;
const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 1_000;
/// Edges listed per direction on the node page; a popular dataset may have thousands of readers.
const NEIGHBOUR_LIMIT: u32 = 500;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_lineage))
        .routes(routes!(list_nodes))
        .routes(routes!(get_node))
}

/// Parameters of a lineage query.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub(super) struct LineageParams {
    /// Key of the start node, e.g. `dataset:s3://lake/raw/orders` or `job:<planId>`. A run,
    /// operation or attribute starts from the job it belongs to, a field from its dataset.
    pub(super) node: String,
    /// `upstream`, `downstream` (default) or `both`.
    pub(super) direction: Option<Direction>,
    /// Process hops to walk, 0 to 50 (default 5). Depth 1 downstream of a dataset is the
    /// dataset, the jobs that read it, and what those jobs wrote.
    pub(super) depth: Option<u32>,
    /// Most nodes to return, 1 to 100000 (default 5000).
    pub(super) max_nodes: Option<u32>,
    /// Node kinds to include, comma-separated, e.g. `dataset,job` (all by default).
    pub(super) kinds: Option<String>,
    /// Only nodes in these namespaces, comma-separated.
    pub(super) namespaces: Option<String>,
    /// Leave out nodes in these namespaces, comma-separated.
    pub(super) exclude_namespaces: Option<String>,
    /// Replace jobs by dataset-to-dataset `flows_to` edges.
    pub(super) collapse_jobs: Option<bool>,
    /// The graph as it stood at this time (RFC 3339).
    pub(super) as_of: Option<DateTime<Utc>>,
    /// Also walk one hop upstream and downstream of each of these nodes (keys,
    /// comma-separated, at most 100): how a view grows a step at a time from its frontier.
    pub(super) expand: Option<String>,
    /// Jobs whose operations to add (keys, comma-separated, at most 100): each job's reads,
    /// transformations and writes, with `has_operation`, `data_flow`, `reads_from` and
    /// `writes_to` edges to the datasets already in the answer.
    pub(super) operations: Option<String>,
    /// `json` (default), `dot`, `mermaid` or `graphml`; or send the matching `Accept` header.
    pub(super) format: Option<String>,
}

/// Most keys `expand` and `operations` take each.
const MAX_LISTED: usize = 100;

/// A lineage subgraph.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct LineageResponse {
    /// Key of the start node.
    pub(super) root: String,
    /// Which way the walk went.
    pub(super) direction: Direction,
    /// The depth asked for.
    pub(super) depth_requested: u32,
    /// The deepest process hop any returned node is at.
    pub(super) depth_reached: u32,
    /// True when nodes were left out because of `depth` or `maxNodes`, or edges because the
    /// answer reached `HEADWATER_MAX_RESULT_EDGES` or `HEADWATER_MAX_RESULT_BYTES`.
    pub(super) truncated: bool,
    /// Why `truncated` is true, naming the parameter or setting to raise; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) truncated_reason: Option<String>,
    /// Keys of returned nodes whose neighbours were cut by `depth` or `maxNodes`.
    pub(super) frontier: Vec<String>,
    /// The time the graph is shown as of, when asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) as_of: Option<DateTime<Utc>>,
    /// Datasets and jobs reached (plus the start node, whatever its kind), sorted by key.
    #[schema(value_type = Vec<Node>)]
    pub(super) nodes: Vec<Node<RawProperties>>,
    /// Edges between returned nodes, pointing the way data flows.
    pub(super) edges: Vec<Edge>,
    /// The storage ids of the returned jobs, for answers built on this one.
    #[serde(skip)]
    pub(super) jobs: HashMap<NodeId, String>,
}

pub(super) fn bounded(
    value: Option<u32>,
    default: u32,
    range: std::ops::RangeInclusive<u32>,
    name: &str,
) -> Result<u32> {
    let value = value.unwrap_or(default);
    if range.contains(&value) {
        return Ok(value);
    }
    let detail = format!(
        "`{name}` must be between {} and {}, got {value}",
        range.start(),
        range.end()
    );
    Err(Error::bad_request(
        "invalid-parameter",
        detail,
        Some(name.to_owned()),
    ))
}

/// Lineage around a node.
///
/// Walks dataset-level lineage (`input` and `output` edges) up to `depth` process hops. Cycles
/// are visited once. `truncated` says whether anything was left out, `truncatedReason` why,
/// and `frontier` where. `asOf` answers with the graph as it stood then; `kinds`,
/// `namespaces`, `excludeNamespaces` and `collapseJobs` shape the answer. `expand` grows the
/// answer by one hop around chosen nodes, and `operations` opens chosen jobs into their
/// operations. An answer holds at most `HEADWATER_MAX_RESULT_EDGES` edges and
/// `HEADWATER_MAX_RESULT_BYTES` bytes: edges beyond are left out (collapsing a job that reads
/// m datasets and writes n makes m × n edges), and nodes alone over the size answer 422.
#[utoipa::path(
    get,
    path = "/api/v1/graph/lineage",
    tag = TAG,
    operation_id = "graph.lineage",
    params(LineageParams),
    responses(
        (status = 200, description = "The subgraph, as JSON, DOT, Mermaid or GraphML", body = LineageResponse),
        (status = 400, description = "A bad parameter", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such node (or none yet at `asOf`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The nodes alone are larger than the answer may be", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn get_lineage(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<LineageParams>,
) -> Result<Response> {
    let format = super::export::negotiate(params.format.as_deref(), &headers)?;
    let answer = lineage(&state, &principal, &params).await?;
    respond(format, answer).await
}

/// The answer in the negotiated format: JSON as is, or exported. Written out on a blocking
/// thread: an answer of tens of megabytes takes a while to serialize.
pub(super) async fn respond(format: Format, answer: LineageResponse) -> Result<Response> {
    super::offload::blocking(move || {
        let json = || Json(&answer).into_response();
        Ok(super::export::render(
            format,
            &answer.nodes,
            &answer.edges,
            json,
        ))
    })
    .await
}

pub(super) async fn lineage(
    state: &AppState,
    principal: &Principal,
    params: &LineageParams,
) -> Result<LineageResponse> {
    let limits = state.settings.query;
    let depth = bounded(
        params.depth,
        DEFAULT_DEPTH.min(limits.max_depth),
        0..=limits.max_depth,
        "depth",
    )?;
    let max_nodes = bounded(
        params.max_nodes,
        DEFAULT_MAX_NODES.min(limits.max_nodes),
        1..=limits.max_nodes,
        "maxNodes",
    )?;
    let filter = filter_of(params)?;
    let direction = params.direction.unwrap_or_default();
    let store = state.store.as_ref();
    let reader = Reader::new(store, principal);
    let (start, node) = reader.find_as_of(&params.node, params.as_of).await?;
    let walker = Walker::new(state, params.as_of).await?;
    let anchor = graph::anchor(walker.edges(), start, node.kind).await?;
    let anchor = anchor.unwrap_or(Anchor {
        node: start,
        kind: node.kind,
        path: Vec::new(),
    });
    let mut edges = anchor.path;
    // Nodes on the way to the anchor count against the budget too.
    let budget = (max_nodes as usize).saturating_sub(edges.len()).max(1);
    let limits = Limits {
        depth,
        max_nodes: budget,
    };
    let mut traversal =
        graph::lineage(&walker, anchor.node, anchor.kind, direction, limits).await?;
    let grow = Growth {
        walker: &walker,
        reader,
        as_of: params.as_of,
        limits,
    };
    grow.expand(&mut traversal, params.expand.as_deref())
        .await?;
    edges.extend(
        grow.operations(&traversal, params.operations.as_deref())
            .await?,
    );
    let mut ids: Vec<NodeId> = traversal.hops.keys().copied().collect();
    ids.extend(edges.iter().flat_map(|e| [e.source, e.target]));
    ids.sort_unstable();
    ids.dedup();
    // Nodes and edges are loaded side by side: the database works on one while we decode the
    // other.
    let (loaded, details) =
        tokio::try_join!(store.node_texts(&ids), store.edges(&traversal.edges))?;
    edges.extend(details);
    let loaded: HashMap<NodeId, Node<RawProperties>> = loaded.into_iter().collect();
    let mut frontier: Vec<String> = traversal
        .frontier
        .iter()
        .filter_map(|id| loaded.get(id).map(|n| n.key.clone()))
        .collect();
    frontier.sort();
    let mut jobs: HashMap<NodeId, String> = loaded
        .iter()
        .filter(|(_, n)| n.kind == NodeKind::Job)
        .map(|(id, n)| (*id, n.key.clone()))
        .collect();
    let (nodes, edges) = rendered(loaded, edges);
    // Before collapsing: a job the reader may not see must not pass data on as a `flows_to`.
    let (nodes, edges) = reader.retain(nodes, edges, Some(&node.key)).await?;
    let room = Room {
        edges: state.settings.query.max_result_edges,
        bytes: state.settings.query.max_result_bytes,
    };
    let collapse = params.collapse_jobs.unwrap_or(false);
    let root = node.key.clone();
    let (nodes, edges, cut) =
        super::offload::blocking(move || shape(nodes, edges, (collapse, &filter, &root), room))
            .await?;
    let kept: HashSet<&str> = nodes.iter().map(|n| n.key.as_str()).collect();
    jobs.retain(|_, key| kept.contains(key.as_str()));
    if reader.is_limited() {
        frontier.retain(|k| kept.contains(k.as_str()));
    }
    let truncated_reason = why_truncated(traversal.truncated, cut);
    Ok(LineageResponse {
        root: node.key,
        direction,
        depth_requested: depth,
        depth_reached: traversal.depth_reached,
        truncated: truncated_reason.is_some(),
        truncated_reason,
        frontier,
        as_of: params.as_of,
        nodes,
        edges,
        jobs,
    })
}

/// An answer's nodes and edges, and why some were left out, if any were.
type Shaped = (Vec<Node<RawProperties>>, Vec<Edge>, Option<Cut>);

/// Collapses jobs (when asked), filters and caps an answer: with `collapseJobs`, a job reading
/// and writing 600 datasets is 360,000 edges to build and size, seconds of CPU that would keep
/// an async worker from serving anything else, so callers run this on a blocking thread.
fn shape(
    nodes: Vec<Node<RawProperties>>,
    edges: Vec<Edge>,
    (collapse, filter, root): (bool, &Filter, &str),
    room: Room,
) -> Result<Shaped> {
    let (nodes, edges, collapse_cut) = match collapse {
        true => {
            let collapsed = view::collapse_jobs(nodes, edges, root, room);
            (collapsed.nodes, collapsed.edges, collapsed.cut)
        }
        false => (nodes, edges, None),
    };
    let (nodes, edges) = view::filter(nodes, edges, filter, root);
    let capped = view::cap(nodes, edges, room).map_err(|bytes| too_large(bytes, room))?;
    Ok((capped.nodes, capped.edges, collapse_cut.or(capped.cut)))
}

/// Every reason a lineage answer holds less than the graph has, as one sentence.
fn why_truncated(walk_cut: bool, cut: Option<Cut>) -> Option<String> {
    let mut reasons = Vec::new();
    if walk_cut {
        reasons.push(
            "nodes beyond `depth` or `maxNodes` were left out (their neighbours in the answer \
             are listed in `frontier`)"
                .to_owned(),
        );
    }
    match cut {
        Some(Cut::Edges(most)) => reasons.push(format!(
            "the answer holds at most {most} edges (HEADWATER_MAX_RESULT_EDGES); the edges \
             beyond were left out"
        )),
        Some(Cut::Bytes(most)) => reasons.push(format!(
            "the answer holds at most {most} bytes (HEADWATER_MAX_RESULT_BYTES); the edges \
             beyond were left out"
        )),
        None => {}
    }
    (!reasons.is_empty()).then(|| reasons.join("; "))
}

/// The answer to a question whose nodes alone are over the size an answer may have.
fn too_large(bytes: usize, room: Room) -> Error {
    let detail = format!(
        "the nodes of this answer take {bytes} bytes, more than the {} an answer may \
         (HEADWATER_MAX_RESULT_BYTES); ask for fewer with `maxNodes` or `depth`",
        room.bytes
    );
    Error::Unprocessable {
        code: "answer-too-large",
        detail,
        path: Some("maxNodes".to_owned()),
    }
}

/// What a lineage answer adds beyond its walk: hops around chosen nodes, jobs' operations.
struct Growth<'a> {
    walker: &'a Walker<'a>,
    reader: Reader<'a>,
    as_of: Option<DateTime<Utc>>,
    limits: Limits,
}

impl Growth<'_> {
    /// Walks one hop both ways from each listed node and merges it in. A grown node is off
    /// the frontier: all its neighbours are in (or, with `maxNodes` reached, as many as fit).
    async fn expand(&self, traversal: &mut Traversal, keys: Option<&str>) -> Result<()> {
        let listed = self.listed(keys, "expand").await?;
        if listed.is_empty() {
            return Ok(());
        }
        let mut grown = Vec::with_capacity(listed.len());
        for (id, node) in listed {
            let anchor = graph::anchor(self.walker.edges(), id, node.kind).await?;
            let (start, kind) = anchor.map_or((id, node.kind), |a| (a.node, a.kind));
            let left = self.limits.max_nodes.saturating_sub(traversal.hops.len()) + 1;
            let limits = Limits {
                depth: 1,
                max_nodes: left,
            };
            let hop = graph::lineage(self.walker, start, kind, Direction::Both, limits).await?;
            let cut = hop.frontier.contains(&start);
            traversal.merge(hop);
            if !cut {
                grown.push(start);
            }
        }
        // Another node's hop may reach a grown one and stop short of its neighbours, which
        // are in the answer all the same.
        for start in grown {
            traversal.frontier.remove(&start);
        }
        // Every cut leaves its node on the frontier: with the grown ones taken off, the answer
        // is cut exactly when some are left.
        traversal.truncated = !traversal.frontier.is_empty();
        Ok(())
    }

    /// The operations of each listed job, with the edges among them and to the datasets the
    /// answer already holds.
    async fn operations(&self, t: &Traversal, keys: Option<&str>) -> Result<Vec<EdgeRecord>> {
        let mut jobs = Vec::new();
        for (id, node) in self.listed(keys, "operations").await? {
            if node.kind != NodeKind::Job {
                let detail = format!("`{}` is a {}, not a job", node.key, node.kind.as_str());
                return Err(Error::bad_request(
                    "invalid-parameter",
                    detail,
                    Some("operations".to_owned()),
                ));
            }
            jobs.push(id);
        }
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let source = self.walker.edges();
        let mut edges = source
            .step(&jobs, &[EdgeKind::HasOperation], Step::Forward)
            .await?;
        let ops: Vec<NodeId> = edges.iter().map(|e| e.target).collect();
        let forward = [EdgeKind::DataFlow, EdgeKind::WritesTo];
        let reads = source.step(&ops, &[EdgeKind::ReadsFrom], Step::Backward);
        let (out, reads) = tokio::try_join!(source.step(&ops, &forward, Step::Forward), reads)?;
        let shown = |id: &NodeId| t.hops.contains_key(id);
        edges.extend(
            out.into_iter()
                .filter(|e| e.kind == EdgeKind::DataFlow || shown(&e.target)),
        );
        edges.extend(reads.into_iter().filter(|e| shown(&e.source)));
        Ok(edges)
    }

    /// The nodes a list parameter names, each seen by `asOf` when it is given.
    async fn listed(&self, keys: Option<&str>, param: &str) -> Result<Vec<(NodeId, Node)>> {
        let keys = list(keys);
        if keys.len() > MAX_LISTED {
            let detail = format!(
                "`{param}` takes at most {MAX_LISTED} keys, got {}",
                keys.len()
            );
            return Err(Error::bad_request(
                "invalid-parameter",
                detail,
                Some(param.to_owned()),
            ));
        }
        let mut found = Vec::with_capacity(keys.len());
        for key in keys {
            match self.reader.find_as_of(&key, self.as_of).await {
                Ok(node) => found.push(node),
                Err(Error::NotFound(detail)) => {
                    return Err(Error::bad_request(
                        "invalid-parameter",
                        detail,
                        Some(param.to_owned()),
                    ));
                }
                Err(other) => return Err(other),
            }
        }
        Ok(found)
    }
}

/// The items of a comma-separated parameter, trimmed, empty ones dropped.
pub(super) fn list(value: Option<&str>) -> Vec<String> {
    value
        .into_iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .collect()
}

fn filter_of(params: &LineageParams) -> Result<Filter> {
    let kinds = list(params.kinds.as_deref())
        .iter()
        .map(|k| parse_kind_at(k, "kinds"))
        .collect::<Result<_>>()?;
    Ok(Filter {
        kinds,
        namespaces: list(params.namespaces.as_deref()),
        exclude_namespaces: list(params.exclude_namespaces.as_deref()),
    })
}

/// With `asOf`, insists that the node found for `key` had been seen by then. Only for a node
/// the reader may see: a hidden node answers as a missing one, never with when it was seen.
pub(super) fn seen_by(key: &str, node: &Node, as_of: Option<DateTime<Utc>>) -> Result<()> {
    match as_of {
        Some(at) if node.first_seen > at => Err(Error::NotFound(format!(
            "`{key}` was first seen at {}, after {at}",
            node.first_seen
        ))),
        _ => Ok(()),
    }
}

/// Looks a node up by key. A dataset key may be spelled as the producer sent it: it is
/// canonicalised as at ingest, so `dataset:file:/x` finds `dataset:file:///x`.
pub(super) async fn find(store: &dyn Store, key: &str) -> Result<(NodeId, Node)> {
    let canonical = match key.strip_prefix("dataset:") {
        Some(uri) => naming::dataset_key_from_uri(uri),
        None => key.to_owned(),
    };
    store
        .node(&canonical)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no node with key `{key}`")))
}
/// Loads the nodes and renders edges with node keys, both sorted for stable answers.
pub(super) async fn subgraph(
    store: &dyn Store,
    ids: HashSet<NodeId>,
    edges: Vec<EdgeRecord>,
) -> Result<(Vec<Node>, Vec<Edge>)> {
    let ids: Vec<NodeId> = ids.into_iter().collect();
    let loaded: HashMap<NodeId, Node> = store.nodes(&ids).await?.into_iter().collect();
    Ok(rendered(loaded, edges))
}

/// Edges with node keys for endpoints (those whose ends are loaded), and the nodes, both
/// sorted for stable answers.
fn rendered<P>(
    loaded: HashMap<NodeId, Node<P>>,
    edges: Vec<EdgeRecord>,
) -> (Vec<Node<P>>, Vec<Edge>) {
    let key = |id: &NodeId| loaded.get(id).map(|n| n.key.clone());
    let mut rendered: Vec<Edge> = edges
        .into_iter()
        .filter_map(|e| {
            Some(Edge {
                source: key(&e.source)?,
                target: key(&e.target)?,
                kind: e.kind,
                properties: e.properties,
                first_seen: e.first_seen,
                last_seen: e.last_seen,
            })
        })
        .collect();
    rendered.sort_by(|a, b| (&a.source, a.kind, &a.target).cmp(&(&b.source, b.kind, &b.target)));
    let mut nodes: Vec<Node<P>> = loaded.into_values().collect();
    nodes.sort_by(|a, b| a.key.cmp(&b.key));
    (nodes, rendered)
}

/// Parameters of a node listing.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct NodesParams {
    /// Only nodes of this kind: `dataset`, `job`, `run`, `operation`, `attribute` or `field`.
    kind: Option<String>,
    /// Case-insensitive substring of the node's key or name.
    q: Option<String>,
    /// Page size, 1 to 1000 (default 50).
    limit: Option<u32>,
    /// `nextCursor` from the previous page.
    cursor: Option<String>,
}

/// One page of nodes.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct NodePage {
    /// Nodes, sorted by key.
    items: Vec<Node>,
    /// Pass as `cursor` to get the next page; null on the last page.
    next_cursor: Option<String>,
}

/// List and search nodes.
///
/// Pages are ordered by key; the cursor is opaque and stays valid while nodes are added. A
/// cursor is good only for the token it was issued to and the same `kind` and `q`.
#[utoipa::path(
    get,
    path = "/api/v1/graph/nodes",
    tag = TAG,
    operation_id = "graph.nodes.list",
    params(NodesParams),
    responses(
        (status = 200, description = "A page of nodes", body = NodePage),
        (status = 400, description = "A bad parameter", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn list_nodes(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiQuery(params): ApiQuery<NodesParams>,
) -> Result<Json<NodePage>> {
    let limit = bounded(params.limit, DEFAULT_PAGE, 1..=MAX_PAGE, "limit")?;
    let store = state.store.as_ref();
    let kind = params.kind.as_deref().map(parse_kind).transpose()?;
    let search = params.q.filter(|q| !q.is_empty());
    // A cursor is good for this token and this question only.
    let context = cursor::context(&[
        "graph.nodes",
        &principal.name,
        kind.map_or("", NodeKind::as_str),
        search.as_deref().unwrap_or_default(),
    ]);
    let after = match params.cursor.as_deref() {
        Some(cursor) => Some(
            state
                .cursors
                .open(store, &context, cursor, "cursor")
                .await?,
        ),
        None => None,
    };
    // A limited reader's pages are filled from what it may see: the store filters, so no page
    // comes back short, and no cursor sits on a hidden key.
    let namespaces = principal
        .namespaces
        .as_ref()
        .map(|n| n.iter().cloned().collect());
    let query = NodeQuery {
        kind,
        search,
        after,
        limit: limit + 1,
        namespaces,
    };
    let mut items = store.list(&query).await?;
    let next_cursor = match items.len() > limit as usize {
        true => {
            items.truncate(limit as usize);
            let last = items.last().map(|n| n.key.as_str()).unwrap_or_default();
            Some(state.cursors.seal(store, &context, last).await?)
        }
        false => None,
    };
    let reader = Reader::new(store, &principal);
    let (items, _) = reader.retain(items, Vec::new(), None).await?;
    Ok(Json(NodePage { items, next_cursor }))
}

fn parse_kind(name: &str) -> Result<NodeKind> {
    parse_kind_at(name, "kind")
}

/// Parses a node kind given in parameter `param`.
pub(super) fn parse_kind_at(name: &str, param: &str) -> Result<NodeKind> {
    NodeKind::parse(name).ok_or_else(|| {
        let known: Vec<&str> = NodeKind::ALL.iter().map(|k| k.as_str()).collect();
        let detail = format!("unknown kind `{name}`; use one of {}", known.join(", "));
        Error::bad_request("invalid-parameter", detail, Some(param.to_owned()))
    })
}

/// Parameters of a node lookup.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct NodeParams {
    /// The node's key.
    key: String,
}

/// A node with its direct neighbours.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct NodeDetails {
    /// The node and its properties.
    node: Node,
    /// Edges into and out of the node, of every kind.
    edges: Vec<Edge>,
    /// The nodes at the other end of those edges.
    neighbours: Vec<Node>,
    /// True when a direction had more than 500 edges and some were left out.
    truncated: bool,
}

/// One node, its properties and its direct neighbours.
#[utoipa::path(
    get,
    path = "/api/v1/graph/node",
    tag = TAG,
    operation_id = "graph.node.get",
    params(NodeParams),
    responses(
        (status = 200, description = "The node", body = NodeDetails),
        (status = 400, description = "A bad parameter", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such node", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn get_node(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiQuery(params): ApiQuery<NodeParams>,
) -> Result<Json<NodeDetails>> {
    let store = state.store.as_ref();
    let reader = Reader::new(store, &principal);
    let (id, node) = reader.find(&params.key).await?;
    let adjacent = store.adjacent(id, NEIGHBOUR_LIMIT).await?;
    let mut ids: HashSet<NodeId> = adjacent
        .edges
        .iter()
        .flat_map(|e| [e.source, e.target])
        .collect();
    ids.insert(id);
    let (nodes, edges) = subgraph(store, ids, adjacent.edges).await?;
    let (nodes, edges) = reader.retain(nodes, edges, None).await?;
    // The node as the reader may see it is among them.
    let (mut shown, neighbours): (Vec<Node>, Vec<Node>) =
        nodes.into_iter().partition(|n| n.key == node.key);
    let node = shown
        .pop()
        .ok_or_else(|| anyhow::anyhow!("the details of `{}` lost the node", node.key))?;
    Ok(Json(NodeDetails {
        node,
        edges,
        neighbours,
        truncated: adjacent.truncated,
    }))
}
