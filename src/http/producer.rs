//! The Spline producer REST API under `/producer`, so the Spline Spark agent works unchanged.
//!
//! The agent's handshake (`HEAD /producer/status`) reads the supported API versions from
//! response headers, one header line per value, and disables lineage capture for the whole
//! Spark session on any non-2xx. The version of each later POST is chosen by `Content-Type`.

use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::Utc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::AppState;
use super::body::{self, ReceivedBody};
use super::metrics::{IngestFormat, record_ingest};
use super::offload::blocking;
use super::scope;
use crate::auth::Principal;
use crate::error::{Error, Problem, Result};
use crate::ingest::json;
use crate::ingest::spline::v10::{ExecutionEventV10, ExecutionPlanV10};
use crate::ingest::spline::wire::{ExecutionEvent, ExecutionPlan};
use crate::ingest::spline::{self, ApiVersion, MEDIA_TYPE_V10, MEDIA_TYPE_V11, MEDIA_TYPE_V12};
use crate::model::{ChangeSet, NodeKind, RawPayload};

pub(super) const TAG: &str = "spline-producer";

/// How long the status probe waits for the database before answering 503.
const STATUS_TIMEOUT: Duration = Duration::from_secs(3);

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(status))
        .routes(routes!(post_execution_plan))
        .routes(routes!(post_execution_events))
}

/// Producer API handshake.
///
/// Answers 200 with the supported producer API versions while the database is reachable, and
/// 503 while it isn't: the Spark agent then reports the gateway as not initialised instead of
/// sending lineage that would be lost.
#[utoipa::path(
    method(get, head),
    path = "/producer/status",
    tag = TAG,
    operation_id = "spline.producer.status",
    responses(
        (status = 200, description = "Ready to accept lineage", headers(
            ("ABSA-Spline-API-Version" = String, description = "Sent once per supported version: 1.2, 1.1, 1"),
            ("ABSA-Spline-API-LTS-Version" = String, description = "Sent once per LTS version: 1.2, 1.1"),
            ("ABSA-Spline-Accept-Request-Encoding" = String, description = "gzip"),
        )),
        (status = 503, description = "The database is unreachable", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn status(State(state): State<AppState>) -> Response {
    match tokio::time::timeout(STATUS_TIMEOUT, state.store.ping()).await {
        Ok(Ok(())) => (StatusCode::OK, version_headers()).into_response(),
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "status probe: database unreachable");
            Error::unavailable("the database is unreachable").into_response()
        }
        Err(_) => Error::unavailable("the database did not answer in time").into_response(),
    }
}

/// One header line per value: the agent's HTTP client does not split comma-joined values.
fn version_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    for v in ["1.2", "1.1", "1"] {
        headers.append("ABSA-Spline-API-Version", HeaderValue::from_static(v));
    }
    for v in ["1.2", "1.1"] {
        headers.append("ABSA-Spline-API-LTS-Version", HeaderValue::from_static(v));
    }
    headers.insert(
        "ABSA-Spline-Accept-Request-Encoding",
        HeaderValue::from_static("gzip"),
    );
    headers
}

/// Store an execution plan.
///
/// The producer API version is chosen by `Content-Type`. Re-posting a stored plan (same id,
/// same content, however spelled) changes nothing and answers 201 again; the same id with a
/// different discriminator or different content answers 409 and changes nothing. Bodies may be
/// gzipped (`Content-Encoding: gzip`).
#[utoipa::path(
    post,
    path = "/producer/execution-plans",
    tag = TAG,
    operation_id = "spline.producer.executionPlans.create",
    request_body(description = "One execution plan", content(
        (ExecutionPlan = "application/vnd.absa.spline.producer.v1.2+json"),
        (ExecutionPlan = "application/vnd.absa.spline.producer.v1.1+json"),
        (ExecutionPlanV10 = "application/json"),
    )),
    responses(
        (status = 201, description = "Stored (or already stored); the plan id", body = Uuid, content_type = "application/json"),
        (status = 400, description = "Malformed JSON, wrong types or missing fields", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The id belongs to a different plan (another discriminator or other content)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over the size limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Unsupported Content-Type or Content-Encoding", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Valid JSON but not a consistent plan", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable or busy: nothing was stored (code `unavailable`), or the connection broke while committing, so it may have been (code `commit-unknown`). Sending it again is safe.", body = Problem, content_type = "application/problem+json", headers(
            ("Retry-After" = u32, description = "Seconds to wait before sending it again"),
        )),
    )
)]
async fn post_execution_plan(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Uuid>)> {
    let outcome = store_plan(&state, &principal, &headers, body).await;
    record_ingest(IngestFormat::SplinePlan, &outcome);
    outcome.map(|id| (StatusCode::CREATED, Json(id)))
}

async fn store_plan(
    state: &AppState,
    principal: &Principal,
    headers: &HeaderMap,
    body: Body,
) -> Result<Uuid> {
    let (version, raw) =
        receive(state, principal, headers, body, "spline.plan", |_| Ok(())).await?;
    // The agent posts the plan again on every run: the same bytes were parsed, validated and
    // stored before, so the answer is the same, and nothing is written. Not for a token
    // limited to some namespaces, whose scope is checked first: a 201 would tell it that a
    // plan outside its namespaces is stored. (Its re-post is then a duplicate to the store.)
    if !principal.is_limited()
        && let Some(id) = spline::plan_id(&raw.body)
        && state.store.has_payload(&raw.format, &raw.body).await?
    {
        tracing::debug!(plan_id = %id, "execution plan stored before");
        return Ok(id);
    }
    let received_at = raw.received_at;
    let parse_body = raw.body.clone();
    let limits = state.settings.ingest;
    let (id, changes) = blocking(move || {
        json::check_depth(&parse_body, limits.max_json_depth)?;
        let (id, changes) = spline::plan(version, &parse_body, received_at)?;
        limits.check_plan(&changes)?;
        Ok((id, changes))
    })
    .await?;
    scope::check_writes(state.store.as_ref(), principal, &changes).await?;
    let outcome = state.store.apply(&raw, changes).await?;
    tracing::debug!(plan_id = %id, ?outcome, "execution plan stored");
    Ok(id)
}

/// Store execution events.
///
/// The body is a JSON array; each event's plan must already be stored (or the whole request is
/// rejected with 400 and nothing is stored). An event is identified by its plan and timestamp,
/// so re-posting it changes nothing.
#[utoipa::path(
    post,
    path = "/producer/execution-events",
    tag = TAG,
    operation_id = "spline.producer.executionEvents.create",
    request_body(description = "An array of execution events", content(
        (Vec<ExecutionEvent> = "application/vnd.absa.spline.producer.v1.2+json"),
        (Vec<ExecutionEvent> = "application/vnd.absa.spline.producer.v1.1+json"),
        (Vec<ExecutionEventV10> = "application/json"),
    )),
    responses(
        (status = 201, description = "Stored (or already stored)"),
        (status = 400, description = "Malformed, or an event names an unknown plan", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "An event's discriminator differs from its plan's", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over the size limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Unsupported Content-Type or Content-Encoding", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable or busy: nothing was stored (code `unavailable`), or the connection broke while committing, so it may have been (code `commit-unknown`). Sending it again is safe.", body = Problem, content_type = "application/problem+json", headers(
            ("Retry-After" = u32, description = "Seconds to wait before sending it again"),
        )),
    )
)]
async fn post_execution_events(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode> {
    let outcome = store_events(&state, &principal, &headers, body).await;
    record_ingest(IngestFormat::SplineEvents, &outcome);
    outcome.map(|()| StatusCode::CREATED)
}

async fn store_events(
    state: &AppState,
    principal: &Principal,
    headers: &HeaderMap,
    body: Body,
) -> Result<()> {
    let limits = state.settings.ingest;
    let watch = limits.event_array_watch();
    let (version, raw) = receive(state, principal, headers, body, "spline.events", watch).await?;
    let parse_body = raw.body.clone();
    let changes: ChangeSet = blocking(move || {
        json::check_depth(&parse_body, limits.max_json_depth)?;
        limits.check_event_array(&parse_body)?;
        let changes = spline::events(version, &parse_body)?;
        let events = changes.nodes.iter().filter(|n| n.kind == NodeKind::Run);
        limits.check_events(events.count())?;
        Ok(changes)
    })
    .await?;
    scope::check_writes(state.store.as_ref(), principal, &changes).await?;
    let outcome = state.store.apply(&raw, changes).await?;
    tracing::debug!(?outcome, "execution events stored");
    Ok(())
}

/// Picks the API version from `Content-Type`, then reads the body into a raw payload.
async fn receive(
    state: &AppState,
    principal: &Principal,
    headers: &HeaderMap,
    body: Body,
    format: &str,
    watch: impl FnMut(&[u8]) -> Result<()>,
) -> Result<(ApiVersion, RawPayload)> {
    let media_type = body::media_type(headers)?;
    let version = ApiVersion::from_media_type(&media_type).ok_or_else(|| {
        Error::UnsupportedMediaType(format!(
            "Content-Type `{media_type}` is not a Spline producer API version; use {MEDIA_TYPE_V12}, {MEDIA_TYPE_V11} or {MEDIA_TYPE_V10}"
        ))
    })?;
    let ReceivedBody { bytes, wire_bytes } = body::read(
        headers,
        body,
        state.settings.max_body_bytes,
        &state.body_budget,
        watch,
    )
    .await?;
    let raw = RawPayload {
        format: format.to_owned(),
        version: version.as_str().to_owned(),
        content_type: media_type,
        body: bytes,
        wire_bytes,
        received_at: Utc::now(),
        event_time: None,
        received_by: Some(principal.name.clone()),
        request_id: request_id(headers),
    };
    Ok((version, raw))
}

/// The id the request-id layer gave the request, to tie audit records to log lines.
pub(super) fn request_id(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(super::REQUEST_ID)?;
    value.to_str().ok().map(str::to_owned)
}
