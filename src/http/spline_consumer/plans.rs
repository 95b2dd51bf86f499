//! Execution plans: the paged plan list, one plan's operation graph (`lineage-detailed`, and
//! the same under `/consumer/execution-plans/{id}`), its write operation and its data sources.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::TAG;
use super::ids::{self, spline_id};
use super::params::{as_at, page};
use super::plan_view::{PlanView, text};
use super::render::{ExecutionPlanInfo, Operation, Transition, plan_info};
use crate::error::{Error, Problem, Result};
use crate::http::AppState;
use crate::http::query::ApiQuery;
use crate::model::{Node, NodeId};
use crate::naming;
use crate::store::Store;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_plans))
        .routes(routes!(get_plan))
        .routes(routes!(write_operation))
        .routes(routes!(plan_data_sources))
        .routes(routes!(lineage_detailed))
}

/// A plan and its operation graph.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct LineageDetailed {
    /// The plan.
    execution_plan: ExecutionPlanInfo,
    /// Its operations, inputs first, and the data flow between them.
    graph: OperationGraph,
}

/// A plan's operations and the data flow between them.
#[derive(Debug, Serialize, ToSchema)]
struct OperationGraph {
    /// Operations, each after its inputs: reads first, the write last.
    nodes: Vec<Operation>,
    /// From an operation to the one consuming its output.
    edges: Vec<Transition>,
}

/// A page of plans.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct PageableExecutionPlansResponse {
    /// The page.
    items: Vec<ExecutionPlanInfo>,
    /// How many plans there are in all.
    total_count: u64,
    /// The page number asked for.
    page_num: i64,
    /// The page size asked for.
    page_size: i64,
}

/// Loads a plan's job node, operations and attributes; 404 when unknown.
async fn load(store: &dyn Store, id: &Uuid) -> Result<(Node, Vec<(NodeId, Node)>)> {
    let (_, job) = ids::plan(store, id).await?;
    let members = store.spline_plan_members(&[id.to_string()]).await?;
    Ok((job, members))
}

fn lineage_of(job: &Node, view: &PlanView<'_>) -> LineageDetailed {
    let nodes = view
        .operations
        .iter()
        .map(|op| Operation::new(op, json!({})))
        .collect();
    let edges = view
        .operations
        .iter()
        .flat_map(|op| {
            let target = spline_id(&op.key);
            view.inputs(op).into_iter().map(move |input| Transition {
                source: spline_id(&input.key).to_owned(),
                target: target.to_owned(),
            })
        })
        .collect();
    LineageDetailed {
        execution_plan: plan_info(job, view),
        graph: OperationGraph { nodes, edges },
    }
}

async fn detailed(store: &dyn Store, id: &Uuid) -> Result<Json<LineageDetailed>> {
    let (job, members) = load(store, id).await?;
    let id = id.to_string();
    let view = PlanView::new(&id, members.iter().map(|(_, n)| n));
    Ok(Json(lineage_of(&job, &view)))
}

/// Parameters of `lineage-detailed`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
struct DetailedParams {
    /// The plan's UUID.
    exec_id: Uuid,
}

/// A plan's operation graph.
///
/// The plan (framework, agent, extra info with its attributes, inputs and output) and its
/// operations, with edges in the direction data flows (read → ... → write).
#[utoipa::path(
    get,
    path = "/consumer/lineage-detailed",
    tag = TAG,
    operation_id = "spline.consumer.lineageDetailed.get",
    params(DetailedParams),
    responses(
        (status = 200, description = "The plan and its operations", body = LineageDetailed),
        (status = 400, description = "`execId` is missing or not a UUID", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such plan", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn lineage_detailed(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<DetailedParams>,
) -> Result<Json<LineageDetailed>> {
    detailed(state.store.as_ref(), &params.exec_id).await
}

/// One plan and its operation graph.
///
/// The same answer as `/consumer/lineage-detailed?execId={planId}`.
#[utoipa::path(
    get,
    path = "/consumer/execution-plans/{planId}",
    tag = TAG,
    operation_id = "spline.consumer.executionPlans.get",
    params(("planId" = String, Path, description = "The plan's UUID")),
    responses(
        (status = 200, description = "The plan and its operations", body = LineageDetailed),
        (status = 400, description = "Not a UUID", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such plan", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn get_plan(
    State(state): State<AppState>,
    Path(plan_id): Path<String>,
) -> Result<Json<LineageDetailed>> {
    let id = ids::plan_id(&plan_id, "planId")?;
    detailed(state.store.as_ref(), &id).await
}

/// A plan's write operation, by redirect.
///
/// Answers 302 with `Location: /consumer/operations/{writeOperationId}`, as Spline does; the
/// Spline UI follows it to show the write's details.
#[utoipa::path(
    get,
    path = "/consumer/execution-plans/{planId}/write-op",
    tag = TAG,
    operation_id = "spline.consumer.executionPlans.writeOperation",
    params(("planId" = String, Path, description = "The plan's UUID")),
    responses(
        (status = 302, description = "Where the write operation is", headers(
            ("Location" = String, description = "`/consumer/operations/<planId>:<writeOperationId>`"),
        )),
        (status = 400, description = "Not a UUID", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such plan", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn write_operation(
    State(state): State<AppState>,
    Path(plan_id): Path<String>,
) -> Result<Response> {
    let id = ids::plan_id(&plan_id, "planId")?;
    let (_, members) = load(state.store.as_ref(), &id).await?;
    let id = id.to_string();
    let view = PlanView::new(&id, members.iter().map(|(_, n)| n));
    let write = view
        .write()
        .ok_or_else(|| Error::NotFound(format!("execution plan {id} has no write operation")))?;
    let location = format!("/consumer/operations/{}", spline_id(&write.key));
    Ok((StatusCode::FOUND, [(header::LOCATION, location)]).into_response())
}

/// Parameters of a plan's data sources.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct AccessParams {
    /// `read` or `write`; both when absent.
    access: Option<String>,
}

/// The URIs of the data sources a plan reads or writes.
#[utoipa::path(
    get,
    path = "/consumer/execution-plans/{planId}/data-sources",
    tag = TAG,
    operation_id = "spline.consumer.executionPlans.dataSources",
    params(("planId" = String, Path, description = "The plan's UUID"), AccessParams),
    responses(
        (status = 200, description = "Data source URIs: reads first, then the write", body = Vec<String>),
        (status = 400, description = "Not a UUID, or an unknown `access`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such plan", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn plan_data_sources(
    State(state): State<AppState>,
    Path(plan_id): Path<String>,
    ApiQuery(params): ApiQuery<AccessParams>,
) -> Result<Json<Vec<String>>> {
    let id = ids::plan_id(&plan_id, "planId")?;
    let (read, write) = match params
        .access
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("") => (true, true),
        Some("read") => (true, false),
        Some("write") => (false, true),
        Some(other) => {
            let detail = format!("`access` is read or write, got `{other}`");
            return Err(Error::bad_request(
                "invalid-parameter",
                detail,
                Some("access".into()),
            ));
        }
    };
    let (_, job) = ids::plan(state.store.as_ref(), &id).await?;
    Ok(Json(data_sources(&job, read, write)))
}

/// The plan's inputs and output, spelled canonically as its data sources are stored.
fn data_sources(job: &Node, read: bool, write: bool) -> Vec<String> {
    let inputs = job.properties.get("inputs").and_then(|i| i.as_array());
    let reads = inputs.into_iter().flatten().filter_map(|u| u.as_str());
    let writes = text(job, "output");
    let mut uris: Vec<String> = Vec::new();
    let chosen = reads.filter(|_| read).chain(writes.filter(|_| write));
    for uri in chosen.map(naming::canonical_uri) {
        if !uris.contains(&uri) {
            uris.push(uri);
        }
    }
    uris
}

/// Parameters of the plan list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
struct PlansParams {
    /// Only plans with an event at or before this time (epoch ms); 0 (the default) is now.
    as_at_time: Option<i64>,
    /// Page number, from 1 (default 1).
    page_num: Option<i64>,
    /// Page size, 1 to 10000 (default 10).
    page_size: Option<i64>,
}

/// List execution plans.
///
/// Plans that have run (at least one event), the latest stored first.
#[utoipa::path(
    get,
    path = "/consumer/execution-plans",
    tag = TAG,
    operation_id = "spline.consumer.executionPlans.list",
    params(PlansParams),
    responses(
        (status = 200, description = "A page of plans", body = PageableExecutionPlansResponse),
        (status = 400, description = "A bad parameter", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn list_plans(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<PlansParams>,
) -> Result<Json<PageableExecutionPlansResponse>> {
    let store = state.store.as_ref();
    let page = page(params.page_num, params.page_size)?;
    let as_at = as_at(params.as_at_time)?.map(|at| at.timestamp_millis());
    let (plans, total_count) = store.spline_plans(as_at, page).await?;
    let ids: Vec<String> = plans
        .iter()
        .map(|(_, j)| spline_id(&j.key).to_owned())
        .collect();
    let members = store.spline_plan_members(&ids).await?;
    let items = plans
        .iter()
        .zip(&ids)
        .map(|((_, job), id)| plan_info(job, &PlanView::new(id, members.iter().map(|(_, n)| n))))
        .collect();
    let (limit, offset) = (i64::from(page.limit), i64::from(page.offset));
    Ok(Json(PageableExecutionPlansResponse {
        items,
        total_count,
        page_num: offset / limit + 1,
        page_size: limit,
    }))
}
