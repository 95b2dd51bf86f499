//! `GET /consumer/data-sources`: every data source Spline plans read or write, each described
//! by its last write, with the event list's parameters applied to that write.

use axum::Json;
use axum::extract::{RawQuery, State};

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::TAG;
use super::events::{PageableExecutionEventsResponse, listing};
use super::params::{LABEL_DOC, ListParams, Listing};
use crate::error::{Problem, Result};
use crate::http::AppState;
use crate::http::query::ApiQuery;
use crate::store::SplineEventField;

/// By URI, as Spline lists data sources; `append` may ask for never-written ones.
const DATA_SOURCES: Listing = Listing {
    sort_field: SplineEventField::DataSourceUri,
    ascending: true,
    data_sources: true,
};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}

/// List data sources.
///
/// Each item is the data source's latest write (by event timestamp), in the shape of an
/// execution event; a data source that was only ever read has null event fields and its own
/// name and URI. Filters and sorting apply to that latest write.
#[utoipa::path(
    get,
    path = "/consumer/data-sources",
    tag = TAG,
    operation_id = "spline.consumer.dataSources.list",
    params(ListParams, ("label" = Option<Vec<String>>, Query, description = LABEL_DOC)),
    responses(
        (status = 200, description = "A page of data sources", body = PageableExecutionEventsResponse),
        (status = 400, description = "A bad parameter", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn list(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<ListParams>,
    RawQuery(raw_query): RawQuery,
) -> Result<Json<PageableExecutionEventsResponse>> {
    let page = listing(state.store.as_ref(), params, raw_query, DATA_SOURCES).await?;
    Ok(Json(page))
}
