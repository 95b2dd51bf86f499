//! `GET /consumer/execution-events`: the paged, filtered event list the Spline UI opens with.

use axum::Json;
use axum::extract::{RawQuery, State};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::TAG;
use super::params::{self, LABEL_DOC, ListParams, Listing};
use super::render::ExecutionEventInfo;
use crate::error::{Problem, Result};
use crate::http::AppState;
use crate::http::query::ApiQuery;
use crate::store::{SplineEventField, Store};

/// Latest first, as Spline lists events.
const EVENTS: Listing = Listing {
    sort_field: SplineEventField::Timestamp,
    ascending: false,
    data_sources: false,
};

/// A page of events (or of data sources, each described by its last write).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct PageableExecutionEventsResponse {
    /// The page.
    items: Vec<ExecutionEventInfo>,
    /// How many match in all.
    total_count: u64,
    /// The page number asked for.
    page_num: i64,
    /// The page size asked for.
    page_size: i64,
    /// `[earliest, latest]` timestamp of all matches with `facet.timestamp=true`, else `[]`.
    total_date_range: Vec<i64>,
}

/// Answers a listing: parses Spline's parameters, asks the store, renders Spline's page.
pub(super) async fn listing(
    store: &dyn Store,
    params: ListParams,
    raw_query: Option<String>,
    listing: Listing,
) -> Result<PageableExecutionEventsResponse> {
    let labels = params::labels(raw_query.as_deref());
    let query = params.query(labels, listing)?;
    let (limit, offset) = (i64::from(query.page.limit), i64::from(query.page.offset));
    let page = match listing.data_sources {
        false => store.spline_events(&query).await?,
        true => store.spline_data_sources(&query).await?,
    };
    Ok(PageableExecutionEventsResponse {
        items: page
            .items
            .into_iter()
            .map(ExecutionEventInfo::from)
            .collect(),
        total_count: page.total,
        page_num: offset / limit + 1,
        page_size: limit,
        total_date_range: page
            .date_range
            .map_or_else(Vec::new, |(from, to)| vec![from, to]),
    })
}

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}

/// List execution events.
///
/// Spline's event list: each event with its plan's application, framework and written data
/// source. Filters combine (labels: all of them, each `name:value1,value2` matching the
/// event's or its plan's labels); `asAtTime` pins the list to what was stored by then.
#[utoipa::path(
    get,
    path = "/consumer/execution-events",
    tag = TAG,
    operation_id = "spline.consumer.executionEvents.list",
    params(ListParams, ("label" = Option<Vec<String>>, Query, description = LABEL_DOC)),
    responses(
        (status = 200, description = "A page of events", body = PageableExecutionEventsResponse),
        (status = 400, description = "A bad parameter", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn list(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<ListParams>,
    RawQuery(raw_query): RawQuery,
) -> Result<Json<PageableExecutionEventsResponse>> {
    let page = listing(state.store.as_ref(), params, raw_query, EVENTS).await?;
    Ok(Json(page))
}
