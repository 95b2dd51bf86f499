//! A Marquez-compatible read API, so Marquez's UI and clients can read from Headwater.
//!
//! Paths, parameters, defaults and JSON shapes follow Marquez's resource classes (the source of
//! truth where its own OpenAPI file disagrees). The data comes from the one graph, so
//! Spline-fed jobs and datasets show up too: Spline jobs under the namespace `spline`.

mod ids;
pub(super) mod render;

use std::collections::{HashMap, HashSet};

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::openlineage::OPENLINEAGE_FORMAT;
use super::query::ApiQuery;
use super::walker::Walker;
use crate::error::{Error, Problem, Result};
use crate::graph::{self, HopRule, Limits, Step, Traversal, Walk};
use crate::model::{EdgeKind, EdgeRecord, Link, Node, NodeId, NodeKind};
use crate::store::{NodeQuery, Page, RawEventQuery, Store, simple_lowercase};
use ids::{MarquezId, node_id};

pub(super) const TAG: &str = "marquez";

/// Marquez's default depth.
const DEFAULT_DEPTH: u32 = 20;
/// Bound on any one answer, so a hub dataset can't produce an unbounded graph.
const MAX_NODES: usize = 5_000;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_lineage))
        .routes(routes!(get_column_lineage))
        .routes(routes!(list_namespaces))
        .routes(routes!(list_datasets))
        .routes(routes!(list_jobs))
        .routes(routes!(list_runs))
        .routes(routes!(search))
        .routes(routes!(list_lineage_events))
        .layer(axum::middleware::from_fn(super::scope::whole_graph_api))
}

/// Marquez's graph answer: `{"graph": [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct MarquezGraph {
    /// Nodes sorted by id.
    pub graph: Vec<MarquezNode>,
}

/// One node of a Marquez graph.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MarquezNode {
    /// `dataset:<ns>:<name>`, `job:<ns>:<name>` or `datasetField:<ns>:<dataset>:<field>`.
    pub id: String,
    /// `DATASET`, `JOB` or `DATASET_FIELD`.
    #[serde(rename = "type")]
    pub node_type: &'static str,
    /// The dataset, job or field, as Marquez renders it.
    #[schema(value_type = Object)]
    pub data: Value,
    /// Edges into the node.
    pub in_edges: Vec<MarquezEdge>,
    /// Edges out of the node.
    pub out_edges: Vec<MarquezEdge>,
}

/// An edge of a Marquez graph.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MarquezEdge {
    /// Node id the edge starts at.
    pub origin: String,
    /// Node id the edge ends at.
    pub destination: String,
}

fn depth(value: Option<u32>, limit: u32) -> Result<u32> {
    let depth = value.unwrap_or(DEFAULT_DEPTH.min(limit));
    match depth <= limit {
        true => Ok(depth),
        false => Err(Error::bad_request(
            "invalid-parameter",
            format!("`depth` must be at most {limit}"),
            Some("depth".into()),
        )),
    }
}

async fn find(store: &dyn Store, key: &str, id: &str) -> Result<(NodeId, Node)> {
    store
        .node(key)
        .await?
        .ok_or_else(|| Error::NotFound(format!("node `{id}` not found")))
}

/// Parameters of a lineage query.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
struct LineageParams {
    /// `dataset:<namespace>:<name>` or `job:<namespace>:<name>`.
    node_id: String,
    /// Job hops in either direction (default 20, at most 50).
    depth: Option<u32>,
}

/// Lineage around a dataset or job, as Marquez answers it.
///
/// Like Marquez, depth counts job hops whichever way the edges point, so siblings (other readers
/// of the same inputs) are included.
#[utoipa::path(
    get,
    path = "/api/v1/lineage",
    tag = TAG,
    operation_id = "marquez.lineage.get",
    params(LineageParams),
    responses(
        (status = 200, description = "The graph", body = MarquezGraph),
        (status = 400, description = "A bad parameter", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such dataset or job", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn get_lineage(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<LineageParams>,
) -> Result<Json<MarquezGraph>> {
    let depth = depth(params.depth, state.settings.query.max_depth)?;
    let id = MarquezId::parse(&params.node_id, "nodeId")?;
    if matches!(id, MarquezId::Field { .. } | MarquezId::Run { .. }) {
        return Err(Error::NotFound(format!(
            "node `{}` must be of type dataset or job",
            params.node_id
        )));
    }
    let store = state.store.as_ref();
    let (start, node) = find(store, &id.key(), &params.node_id).await?;
    let limits = Limits {
        depth,
        max_nodes: MAX_NODES,
    };
    let walker = Walker::new(&state, None).await?;
    let traversal = match job_of(store, start, node.kind).await? {
        Some(job) => graph::neighbourhood(&walker, job, limits).await?,
        // A dataset no job touches is a graph of itself, as in Marquez.
        None => Traversal {
            hops: HashMap::from([(start, 0)]),
            ..Traversal::default()
        },
    };
    Ok(Json(MarquezGraph {
        graph: table_graph(store, &traversal).await?,
    }))
}

/// The job a Marquez lineage query centres on: the job itself, or for a dataset the job that
/// last wrote it (else the one that last read it), as Marquez picks it.
async fn job_of(store: &dyn Store, node: NodeId, kind: NodeKind) -> Result<Option<NodeId>> {
    if kind == NodeKind::Job {
        return Ok(Some(node));
    }
    let latest = |edges: Vec<EdgeRecord>, pick: fn(&EdgeRecord) -> NodeId| {
        edges
            .into_iter()
            .max_by_key(|e| (e.last_seen, pick(e)))
            .map(|e| pick(&e))
    };
    let writers = store
        .step(&[node], &[EdgeKind::Output], Step::Backward)
        .await?;
    if let Some(job) = latest(writers, |e| e.source) {
        return Ok(Some(job));
    }
    let readers = store
        .step(&[node], &[EdgeKind::Input], Step::Forward)
        .await?;
    Ok(latest(readers, |e| e.target))
}

/// Renders a dataset/job traversal as Marquez nodes with their in- and out-edges.
async fn table_graph(store: &dyn Store, t: &Traversal) -> Result<Vec<MarquezNode>> {
    let ids: Vec<NodeId> = t.hops.keys().copied().collect();
    let nodes: HashMap<NodeId, Node> = store.nodes(&ids).await?.into_iter().collect();
    let jobs = job_views(store, &nodes).await?;
    let mut graph: Vec<MarquezNode> = nodes
        .iter()
        .filter(|(_, n)| matches!(n.kind, NodeKind::Dataset | NodeKind::Job))
        .map(|(id, n)| {
            let (node_type, data) = match n.kind {
                NodeKind::Job => ("JOB", jobs.get(id).cloned().unwrap_or(Value::Null)),
                _ => ("DATASET", render::dataset(n)),
            };
            let (in_edges, out_edges) = edges_of(*id, &t.edges, &nodes);
            MarquezNode {
                id: node_id(n),
                node_type,
                data,
                in_edges,
                out_edges,
            }
        })
        .collect();
    graph.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(graph)
}

fn edges_of(
    id: NodeId,
    edges: &[Link],
    nodes: &HashMap<NodeId, Node>,
) -> (Vec<MarquezEdge>, Vec<MarquezEdge>) {
    let edge = |e: &Link| {
        Some(MarquezEdge {
            origin: node_id(nodes.get(&e.source)?),
            destination: node_id(nodes.get(&e.target)?),
        })
    };
    let mut inbound: Vec<_> = edges
        .iter()
        .filter(|e| e.target == id)
        .filter_map(edge)
        .collect();
    let mut outbound: Vec<_> = edges
        .iter()
        .filter(|e| e.source == id)
        .filter_map(edge)
        .collect();
    let order = |a: &MarquezEdge, b: &MarquezEdge| {
        (&a.origin, &a.destination).cmp(&(&b.origin, &b.destination))
    };
    inbound.sort_by(order);
    outbound.sort_by(order);
    (inbound, outbound)
}

/// Job data for every job among `nodes`: inputs, outputs, latest run and parent, loaded in
/// bulk (a few queries whatever the number of jobs).
async fn job_views(
    store: &dyn Store,
    nodes: &HashMap<NodeId, Node>,
) -> Result<HashMap<NodeId, Value>> {
    let jobs: Vec<NodeId> = nodes
        .iter()
        .filter(|(_, n)| n.kind == NodeKind::Job)
        .map(|(id, _)| *id)
        .collect();
    if jobs.is_empty() {
        return Ok(HashMap::new());
    }
    let inputs = store
        .step(&jobs, &[EdgeKind::Input], Step::Backward)
        .await?;
    let outputs = store
        .step(&jobs, &[EdgeKind::Output], Step::Forward)
        .await?;
    let parents = store
        .step(&jobs, &[EdgeKind::ParentOf], Step::Backward)
        .await?;
    let linked: Vec<NodeId> = inputs
        .iter()
        .map(|e| e.source)
        .chain(outputs.iter().map(|e| e.target))
        .chain(parents.iter().map(|e| e.source))
        .collect();
    let linked: HashMap<NodeId, Node> = store.nodes(&linked).await?.into_iter().collect();
    let runs: HashMap<NodeId, Node> = store.latest_runs(&jobs).await?.into_iter().collect();
    let ends = |edges: &[EdgeRecord], job: NodeId, upstream: bool| -> Vec<&Node> {
        let far = |e: &EdgeRecord| {
            if upstream {
                (e.target == job).then_some(e.source)
            } else {
                (e.source == job).then_some(e.target)
            }
        };
        edges
            .iter()
            .filter_map(far)
            .filter_map(|id| linked.get(&id))
            .collect()
    };
    Ok(jobs
        .iter()
        .map(|&job| {
            let links = render::JobLinks {
                inputs: ends(&inputs, job, true),
                outputs: ends(&outputs, job, false),
                latest_run: runs.get(&job),
                parent: ends(&parents, job, true).into_iter().next(),
            };
            (job, render::job(&nodes[&job], &links))
        })
        .collect())
}

/// Parameters of a column-lineage query.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
struct ColumnLineageParams {
    /// `dataset:<ns>:<name>` (all its columns), `datasetField:<ns>:<dataset>:<field>`, or
    /// `job:<ns>:<name>` (the columns of its outputs).
    node_id: String,
    /// Derivation hops (default 20, at most 50).
    depth: Option<u32>,
    /// Also walk downstream (default false: upstream only).
    with_downstream: Option<bool>,
}

/// Column lineage, as Marquez answers it.
///
/// Nodes are `DATASET_FIELD`s with their input fields. As in Marquez, a node's `inEdges` point
/// from the node to its inputs.
#[utoipa::path(
    get,
    path = "/api/v1/column-lineage",
    tag = TAG,
    operation_id = "marquez.columnLineage.get",
    params(ColumnLineageParams),
    responses(
        (status = 200, description = "The graph", body = MarquezGraph),
        (status = 400, description = "A bad parameter", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such node, or it has no columns", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn get_column_lineage(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<ColumnLineageParams>,
) -> Result<Json<MarquezGraph>> {
    let depth = depth(params.depth, state.settings.query.max_depth)?;
    let id = MarquezId::parse(&params.node_id, "nodeId")?;
    let store = state.store.as_ref();
    let (start, node) = find(store, &id.key(), &params.node_id).await?;
    let starts = start_fields(store, start, node.kind).await?;
    if starts.is_empty() {
        return Err(Error::NotFound(format!(
            "node `{}` has no columns",
            params.node_id
        )));
    }
    let limits = Limits {
        depth,
        max_nodes: MAX_NODES,
    };
    let walk = |steps| Walk {
        kinds: &[EdgeKind::Derives],
        steps,
        hops: HopRule::Edge,
        limits,
    };
    let walker = Walker::new(&state, None).await?;
    let mut t = graph::walk(&walker, &starts, 0, walk(&[Step::Backward])).await?;
    if params.with_downstream.unwrap_or(false) {
        t.merge(graph::walk(&walker, &starts, 0, walk(&[Step::Forward])).await?);
    }
    Ok(Json(MarquezGraph {
        graph: field_graph(store, &t).await?,
    }))
}

/// The columns a column-lineage query starts from.
async fn start_fields(store: &dyn Store, start: NodeId, kind: NodeKind) -> Result<Vec<NodeId>> {
    let datasets = match kind {
        NodeKind::Field => return Ok(vec![start]),
        NodeKind::Job => store
            .step(&[start], &[EdgeKind::Output], Step::Forward)
            .await?
            .iter()
            .map(|e| e.target)
            .collect(),
        _ => vec![start],
    };
    let fields = store
        .step(&datasets, &[EdgeKind::HasField], Step::Forward)
        .await?;
    Ok(fields.iter().map(|e| e.target).collect())
}

async fn field_graph(store: &dyn Store, t: &Traversal) -> Result<Vec<MarquezNode>> {
    let ids: Vec<NodeId> = t.hops.keys().copied().collect();
    let nodes: HashMap<NodeId, Node> = store.nodes(&ids).await?.into_iter().collect();
    let edges = store.edges(&t.edges).await?;
    let types = field_types(store, nodes.values()).await?;
    let field_id = |n: &Node| {
        let (ns, dataset) =
            ids::dataset_reference(n.properties["dataset"].as_str().unwrap_or_default());
        format!("datasetField:{ns}:{dataset}:{}", n.name)
    };
    let mut graph: Vec<MarquezNode> = nodes
        .iter()
        .filter(|(_, n)| n.kind == NodeKind::Field)
        .map(|(&id, n)| {
            let inputs: Vec<(&Node, &Value)> = edges
                .iter()
                .filter(|e| e.target == id)
                .filter_map(|e| Some((nodes.get(&e.source)?, &e.properties)))
                .collect();
            let field_type = types.get(&n.key).cloned().unwrap_or_else(|| json!(""));
            let me = field_id(n);
            let towards = |other: &Node| MarquezEdge {
                origin: me.clone(),
                destination: field_id(other),
            };
            let in_edges = inputs.iter().map(|(input, _)| towards(input)).collect();
            let out_edges = edges
                .iter()
                .filter(|e| e.source == id)
                .filter_map(|e| nodes.get(&e.target))
                .map(towards)
                .collect();
            MarquezNode {
                id: me.clone(),
                node_type: "DATASET_FIELD",
                data: render::field(n, field_type, &inputs),
                in_edges,
                out_edges,
            }
        })
        .collect();
    graph.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(graph)
}

/// Column types from the schema facets of the columns' datasets: field key → type.
async fn field_types(
    store: &dyn Store,
    fields: impl Iterator<Item = &Node>,
) -> Result<HashMap<String, Value>> {
    let datasets: HashSet<&str> = fields
        .filter_map(|f| f.properties.get("dataset")?.as_str())
        .collect();
    let mut types = HashMap::new();
    for key in datasets {
        let Some((_, dataset)) = store.node(key).await? else {
            continue;
        };
        let schema = dataset
            .properties
            .pointer("/facets/schema/fields")
            .and_then(Value::as_array);
        for f in schema.into_iter().flatten() {
            if let Some(name) = f.get("name").and_then(Value::as_str) {
                let field = crate::ingest::openlineage::convert::field_key(key, name);
                types.insert(field, f.get("type").cloned().unwrap_or_else(|| json!("")));
            }
        }
    }
    Ok(types)
}

/// Offset paging parameters (Marquez defaults: 100 items from 0).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct PageParams {
    /// Most items (default 100, at most 1000).
    #[param(maximum = 1000)]
    limit: Option<u32>,
    /// Items to skip (default 0).
    offset: Option<u32>,
}

impl PageParams {
    fn page(&self) -> Result<Page> {
        let limit = self.limit.unwrap_or(100);
        if limit > 1_000 {
            return Err(Error::bad_request(
                "invalid-parameter",
                "`limit` must be at most 1000",
                Some("limit".into()),
            ));
        }
        Ok(Page {
            limit,
            offset: self.offset.unwrap_or(0),
        })
    }
}

/// `{"namespaces": [...]}`.
#[derive(Debug, Serialize, ToSchema)]
struct Namespaces {
    /// Namespaces by name.
    #[schema(value_type = Vec<Object>)]
    namespaces: Vec<Value>,
}

/// List namespaces.
///
/// Every namespace a dataset or job lives in, with when it was first and last seen.
#[utoipa::path(
    get,
    path = "/api/v1/namespaces",
    tag = TAG,
    operation_id = "marquez.namespaces.list",
    params(PageParams),
    responses(
        (status = 200, description = "Namespaces", body = Namespaces),
        (status = 400, description = "A bad parameter", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn list_namespaces(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<Namespaces>> {
    let found = state.store.namespaces(params.page()?).await?;
    let namespaces = found
        .into_iter()
        .map(|ns| {
            json!({"name": ns.name, "createdAt": ns.first_seen, "updatedAt": ns.last_seen,
                   "ownerName": "anonymous", "description": Value::Null, "isHidden": false})
        })
        .collect();
    Ok(Json(Namespaces { namespaces }))
}

/// `{"datasets": [...], "totalCount": n}`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Datasets {
    /// Datasets by name.
    #[schema(value_type = Vec<Object>)]
    datasets: Vec<Value>,
    /// Datasets in the namespace in all.
    total_count: u64,
}

/// List the datasets of a namespace.
#[utoipa::path(
    get,
    path = "/api/v1/namespaces/{namespace}/datasets",
    tag = TAG,
    operation_id = "marquez.datasets.list",
    params(("namespace" = String, Path, description = "The namespace, URL-encoded"), PageParams),
    responses(
        (status = 200, description = "A page of datasets", body = Datasets),
        (status = 400, description = "A bad parameter", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn list_datasets(
    State(state): State<AppState>,
    Path(namespace): Path<String>,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<Datasets>> {
    let (nodes, total_count) = state
        .store
        .in_namespace(NodeKind::Dataset, &namespace, params.page()?)
        .await?;
    let datasets = nodes.iter().map(|(_, n)| render::dataset(n)).collect();
    Ok(Json(Datasets {
        datasets,
        total_count,
    }))
}

/// `{"jobs": [...], "totalCount": n}`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Jobs {
    /// Jobs by name, each with its latest run.
    #[schema(value_type = Vec<Object>)]
    jobs: Vec<Value>,
    /// Jobs in the namespace in all.
    total_count: u64,
}

/// List the jobs of a namespace.
///
/// Spline-fed jobs (execution plans) are listed under the namespace `spline`.
#[utoipa::path(
    get,
    path = "/api/v1/namespaces/{namespace}/jobs",
    tag = TAG,
    operation_id = "marquez.jobs.list",
    params(("namespace" = String, Path, description = "The namespace, URL-encoded"), PageParams),
    responses(
        (status = 200, description = "A page of jobs", body = Jobs),
        (status = 400, description = "A bad parameter", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn list_jobs(
    State(state): State<AppState>,
    Path(namespace): Path<String>,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<Jobs>> {
    let (nodes, total_count) = state
        .store
        .in_namespace(NodeKind::Job, &namespace, params.page()?)
        .await?;
    let order: Vec<NodeId> = nodes.iter().map(|(id, _)| *id).collect();
    let nodes: HashMap<NodeId, Node> = nodes.into_iter().collect();
    let views = job_views(state.store.as_ref(), &nodes).await?;
    let jobs = order
        .iter()
        .filter_map(|id| views.get(id).cloned())
        .collect();
    Ok(Json(Jobs { jobs, total_count }))
}

/// `{"runs": [...], "totalCount": n}`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Runs {
    /// Runs, latest first.
    #[schema(value_type = Vec<Object>)]
    runs: Vec<Value>,
    /// Runs of the job in all.
    total_count: u64,
}

/// List the runs of a job.
#[utoipa::path(
    get,
    path = "/api/v1/namespaces/{namespace}/jobs/{job}/runs",
    tag = TAG,
    operation_id = "marquez.runs.list",
    params(
        ("namespace" = String, Path, description = "The namespace, URL-encoded"),
        ("job" = String, Path, description = "The job name, URL-encoded"),
        PageParams,
    ),
    responses(
        (status = 200, description = "A page of runs", body = Runs),
        (status = 400, description = "A bad parameter", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such job", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn list_runs(
    State(state): State<AppState>,
    Path((namespace, job)): Path<(String, String)>,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<Runs>> {
    let id = MarquezId::Job {
        namespace,
        name: job,
    };
    let store = state.store.as_ref();
    let (job_id, _) = find(store, &id.key(), &id.key()).await?;
    let (runs, total_count) = store.runs_of(job_id, params.page()?).await?;
    Ok(Json(Runs {
        runs: runs.iter().map(render::run).collect(),
        total_count,
    }))
}

/// Parameters of a search.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct SearchParams {
    /// Case-insensitive substring of the name; required.
    q: Option<String>,
    /// `dataset` or `job`; both when absent.
    filter: Option<String>,
    /// `name` (default) or `updated_at` (latest first).
    sort: Option<String>,
    /// Most results (default 10, at most 1000).
    limit: Option<u32>,
    /// Only this namespace.
    namespace: Option<String>,
}

/// `{"totalCount": n, "results": [...]}`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct SearchResults {
    /// Results returned.
    total_count: usize,
    /// `{type, name, updatedAt, namespace, nodeId}` each.
    #[schema(value_type = Vec<Object>)]
    results: Vec<Value>,
}

/// Search datasets and jobs by name.
#[utoipa::path(
    get,
    path = "/api/v1/search",
    tag = TAG,
    operation_id = "marquez.search",
    params(SearchParams),
    responses(
        (status = 200, description = "Matches", body = SearchResults),
        (status = 400, description = "A bad parameter", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn search(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<SearchParams>,
) -> Result<Json<SearchResults>> {
    let bad = |detail: &str, path: &str| {
        Error::bad_request("invalid-parameter", detail, Some(path.to_owned()))
    };
    let q = params
        .q
        .filter(|q| !q.trim().is_empty())
        .ok_or_else(|| bad("`q` is required", "q"))?;
    let kinds = match params
        .filter
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None => vec![NodeKind::Dataset, NodeKind::Job],
        Some("dataset") => vec![NodeKind::Dataset],
        Some("job") => vec![NodeKind::Job],
        Some(_) => return Err(bad("`filter` is dataset or job", "filter")),
    };
    let limit = params.limit.unwrap_or(10).min(1_000);
    let mut found = Vec::new();
    for kind in kinds {
        let query = NodeQuery {
            kind: Some(kind),
            search: Some(q.clone()),
            after: None,
            limit: 1_000,
            namespaces: None,
        };
        found.extend(state.store.list(&query).await?);
    }
    // The store matches keys too; Marquez matches names only, folded as the store folds.
    let fold = |text: &str| text.chars().map(simple_lowercase).collect::<String>();
    let needle = fold(&q);
    found.retain(|n| {
        let (namespace, name) = ids::reference(n);
        fold(&name).contains(&needle) && params.namespace.as_ref().is_none_or(|ns| &namespace == ns)
    });
    match params.sort.as_deref() {
        Some("updated_at" | "UPDATE_AT" | "updatedAt") => {
            found.sort_by_key(|n| std::cmp::Reverse(n.last_seen))
        }
        None | Some("name" | "NAME") => {
            found.sort_by(|a, b| ids::reference(a).1.cmp(&ids::reference(b).1))
        }
        Some(_) => return Err(bad("`sort` is name or updated_at", "sort")),
    }
    found.truncate(limit as usize);
    let results: Vec<Value> = found.iter().map(search_result).collect();
    Ok(Json(SearchResults {
        total_count: results.len(),
        results,
    }))
}

fn search_result(n: &Node) -> Value {
    let (namespace, name) = ids::reference(n);
    let kind = if n.kind == NodeKind::Job {
        "JOB"
    } else {
        "DATASET"
    };
    json!({"type": kind, "name": name, "updatedAt": n.last_seen, "namespace": namespace, "nodeId": node_id(n)})
}

/// Parameters of the raw event listing.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
struct EventParams {
    /// Only events at or before this time (RFC 3339).
    before: Option<DateTime<Utc>>,
    /// Only events at or after this time (RFC 3339).
    after: Option<DateTime<Utc>>,
    /// `desc` (default, latest first) or `asc`.
    sort_direction: Option<String>,
    /// Most events (default 100, at most 1000).
    limit: Option<u32>,
    /// Events to skip.
    offset: Option<u32>,
}

/// `{"events": [...], "totalCount": n}`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Events {
    /// The events, exactly as they were posted.
    #[schema(value_type = Vec<Object>)]
    events: Vec<Box<serde_json::value::RawValue>>,
    /// Events in the window in all.
    total_count: u64,
}

/// List the raw OpenLineage events received, by event time.
#[utoipa::path(
    get,
    path = "/api/v1/events/lineage",
    tag = TAG,
    operation_id = "marquez.events.list",
    params(EventParams),
    responses(
        (status = 200, description = "A page of events", body = Events),
        (status = 400, description = "A bad parameter", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn list_lineage_events(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<EventParams>,
) -> Result<Json<Events>> {
    let ascending = match params
        .sort_direction
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("desc") => false,
        Some("asc") => true,
        Some(_) => {
            let detail = "`sortDirection` is asc or desc";
            return Err(Error::bad_request(
                "invalid-parameter",
                detail,
                Some("sortDirection".into()),
            ));
        }
    };
    let page = PageParams {
        limit: params.limit,
        offset: params.offset,
    }
    .page()?;
    let query = RawEventQuery {
        format: OPENLINEAGE_FORMAT.to_owned(),
        after: params.after,
        before: params.before,
        ascending,
        page,
    };
    let (events, total_count) = state.store.raw_events(&query).await?;
    Ok(Json(Events {
        events,
        total_count,
    }))
}
