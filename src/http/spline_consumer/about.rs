//! `GET /about/version`, `/about/liveness` and `/about/readiness`: the diagnostics Spline's
//! server answers next to its consumer API, which deployments probe.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::TAG;
use crate::error::{Error, Problem, Result};
use crate::http::AppState;

/// How long readiness waits for the database before answering 503.
const READINESS_TIMEOUT: Duration = Duration::from_secs(3);

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(version))
        .routes(routes!(liveness))
        .routes(routes!(readiness))
}

/// Build information, under `build` as Spline renders its build properties.
#[derive(Debug, Serialize, ToSchema)]
struct VersionInfo {
    /// The build.
    build: BuildInfo,
}

/// What was built.
#[derive(Debug, Serialize, ToSchema)]
struct BuildInfo {
    /// `headwater`.
    name: &'static str,
    /// The Headwater version.
    version: &'static str,
}

/// Version and build information.
#[utoipa::path(
    get,
    path = "/about/version",
    tag = TAG,
    operation_id = "spline.about.version",
    responses((status = 200, description = "Build information", body = VersionInfo))
)]
async fn version() -> Json<VersionInfo> {
    Json(VersionInfo {
        build: BuildInfo {
            name: env!("CARGO_PKG_NAME"),
            version: env!("CARGO_PKG_VERSION"),
        },
    })
}

/// Liveness probe.
///
/// 200 while the process serves requests, whatever the database's state: restarting the
/// service would not bring a database back.
#[utoipa::path(
    get,
    path = "/about/liveness",
    tag = TAG,
    operation_id = "spline.about.liveness",
    responses((status = 200, description = "Alive"))
)]
async fn liveness() -> StatusCode {
    StatusCode::OK
}

/// Readiness probe.
///
/// 200 while the database answers, 503 while it doesn't, like `/producer/status`: a load
/// balancer then sends traffic elsewhere.
#[utoipa::path(
    get,
    path = "/about/readiness",
    tag = TAG,
    operation_id = "spline.about.readiness",
    responses(
        (status = 200, description = "Ready"),
        (status = 503, description = "The database is unreachable", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn readiness(State(state): State<AppState>) -> Result<StatusCode> {
    let answered = tokio::time::timeout(READINESS_TIMEOUT, state.store.ping()).await;
    let ping = answered.map_err(|_| Error::unavailable("the database did not answer in time"))?;
    ping.map_err(|err| {
        tracing::warn!(error = %err, "readiness probe: database unreachable");
        Error::unavailable("the database is unreachable")
    })?;
    Ok(StatusCode::OK)
}
