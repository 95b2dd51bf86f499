//! Liveness and readiness probes for orchestrators and load balancers.
//!
//! They answer different questions: *live* says the process serves HTTP (restart it if not);
//! *ready* says it can do useful work, so traffic may be routed to it. A replica whose database
//! is down, or whose schema is older than its code, is alive but not ready.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use crate::error::{Error, Problem, Result};
use crate::store::Readiness;

pub(super) const TAG: &str = "operations";

/// How long the readiness probe waits for the database; probes usually time out after a few
/// seconds, and an answer after that is worth nothing.
const READY_TIMEOUT: Duration = Duration::from_secs(3);

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(live))
        .routes(routes!(ready))
}

/// A probe's answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthStatus {
    /// `live` or `ready`.
    #[schema(example = "ready")]
    pub status: &'static str,
}

/// Liveness: the process serves HTTP.
///
/// Touches nothing outside the process, so a database outage never gets a replica restarted.
#[utoipa::path(
    get,
    path = "/health/live",
    tag = TAG,
    operation_id = "health.live",
    responses((status = 200, description = "The process serves requests", body = HealthStatus)),
)]
async fn live() -> Json<HealthStatus> {
    Json(HealthStatus { status: "live" })
}

/// Readiness: the database answers and every migration this binary embeds is applied.
///
/// Answers 503 with a problem document saying which condition fails.
#[utoipa::path(
    get,
    path = "/health/ready",
    tag = TAG,
    operation_id = "health.ready",
    responses(
        (status = 200, description = "Ready to serve", body = HealthStatus),
        (status = 503, description = "The database is unreachable, or migrations are missing", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn ready(State(state): State<AppState>) -> Result<Json<HealthStatus>> {
    let readiness = match tokio::time::timeout(READY_TIMEOUT, state.store.readiness()).await {
        Ok(Ok(readiness)) => readiness,
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "readiness probe: database unreachable");
            return Err(Error::unavailable("the database is unreachable"));
        }
        Err(_) => {
            return Err(Error::unavailable("the database did not answer in time"));
        }
    };
    match readiness.is_ready() {
        true => Ok(Json(HealthStatus { status: "ready" })),
        false => Err(Error::unavailable(missing_migrations(&readiness))),
    }
}

/// Names the missing versions, so an operator knows to run `headwater migrate`.
fn missing_migrations(readiness: &Readiness) -> String {
    let versions: Vec<String> = readiness
        .missing_migrations
        .iter()
        .map(i64::to_string)
        .collect();
    format!(
        "database migrations not applied: {}; run `headwater migrate`",
        versions.join(", ")
    )
}
