//! `GET /consumer/labels/names` and `GET /consumer/labels/names/{labelName}/values`: the
//! label names and values on Spline plans and events, for the UI's label filter.

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::TAG;
use crate::error::{Error, Problem, Result};
use crate::http::AppState;
use crate::http::query::ApiQuery;
use crate::store::LabelQuery;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(label_names))
        .routes(routes!(label_values))
}

/// Parameters of a label listing.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct LabelParams {
    /// Case-insensitive text the name (or value) contains.
    search: Option<String>,
    /// How many to skip (default 0).
    offset: Option<i64>,
    /// How many at most; 0 or less (the default, -1) is all.
    length: Option<i64>,
}

impl LabelParams {
    fn query(self) -> Result<LabelQuery> {
        let offset = self.offset.unwrap_or(0);
        let offset = u32::try_from(offset).map_err(|_| {
            let detail = format!("`offset` must be between 0 and {}", u32::MAX);
            Error::bad_request("invalid-parameter", detail, Some("offset".into()))
        })?;
        let limit = self.length.filter(|l| *l > 0);
        Ok(LabelQuery {
            search: self.search.filter(|s| !s.trim().is_empty()),
            offset,
            limit: limit.map(|l| u32::try_from(l).unwrap_or(u32::MAX)),
        })
    }
}

/// Label names.
///
/// Every label name on Spline plans and events, sorted.
#[utoipa::path(
    get,
    path = "/consumer/labels/names",
    tag = TAG,
    operation_id = "spline.consumer.labels.names",
    params(LabelParams),
    responses(
        (status = 200, description = "Label names", body = Vec<String>),
        (status = 400, description = "A bad parameter", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn label_names(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<LabelParams>,
) -> Result<Json<Vec<String>>> {
    Ok(Json(
        state.store.spline_label_names(&params.query()?).await?,
    ))
}

/// Values of a label.
///
/// Every value the label takes on Spline plans and events, sorted.
#[utoipa::path(
    get,
    path = "/consumer/labels/names/{labelName}/values",
    tag = TAG,
    operation_id = "spline.consumer.labels.values",
    params(("labelName" = String, Path, description = "The label name"), LabelParams),
    responses(
        (status = 200, description = "Label values", body = Vec<String>),
        (status = 400, description = "A bad parameter", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn label_values(
    State(state): State<AppState>,
    Path(label_name): Path<String>,
    ApiQuery(params): ApiQuery<LabelParams>,
) -> Result<Json<Vec<String>>> {
    let query = params.query()?;
    Ok(Json(
        state.store.spline_label_values(&label_name, &query).await?,
    ))
}
