//! The OpenLineage producer API: `POST /api/v1/lineage` and `POST /api/v1/lineage/batch`,
//! where the OpenLineage clients and integrations (Airflow, dbt, Spark, Flink) post by default.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::{Extension, Json};
use chrono::Utc;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::body::{self, ReceivedBody};
use super::metrics::{IngestFormat, record_ingest, record_reject};
use super::offload::blocking;
use super::scope;
use crate::auth::Principal;
use crate::error::{Error, Problem, Result};
use crate::ingest::openlineage::wire::{DatasetEvent, JobEvent, RunEvent};
use crate::ingest::{json, openlineage};
use crate::model::RawPayload;

pub(super) const TAG: &str = "openlineage";

/// The raw-payload format of OpenLineage events.
pub(super) const OPENLINEAGE_FORMAT: &str = "openlineage.event";

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(post_lineage))
        .routes(routes!(post_lineage_batch))
}

/// Store one OpenLineage event.
///
/// Accepts RunEvent, JobEvent and DatasetEvent; the kind comes from `schemaURL`, or from the
/// event's shape when it is missing. Events of one run merge into one run node whose state
/// follows the latest `eventTime`; facets accumulate. Gzip bodies and `Authorization: Bearer`
/// are accepted. Posting the same event again changes nothing.
#[utoipa::path(
    post,
    path = "/api/v1/lineage",
    tag = TAG,
    operation_id = "openlineage.lineage.create",
    request_body(description = "One OpenLineage event", content(
        (RunEvent = "application/json"),
        (JobEvent = "application/json"),
        (DatasetEvent = "application/json"),
    )),
    responses(
        (status = 201, description = "Stored (or already stored)"),
        (status = 400, description = "Malformed JSON, or a field with the wrong type or missing", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over the size limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON, or an unsupported Content-Encoding", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable or busy: nothing was stored (code `unavailable`), or the connection broke while committing, so it may have been (code `commit-unknown`). Sending it again is safe.", body = Problem, content_type = "application/problem+json", headers(
            ("Retry-After" = u32, description = "Seconds to wait before sending it again"),
        )),
    )
)]
async fn post_lineage(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode> {
    let outcome = store_event(&state, &principal, &headers, body).await;
    record_ingest(IngestFormat::OpenLineageEvent, &outcome);
    outcome.map(|()| StatusCode::CREATED)
}

async fn store_event(
    state: &AppState,
    principal: &Principal,
    headers: &HeaderMap,
    body: Body,
) -> Result<()> {
    let received = receive(state, headers, body, |_| Ok(())).await?;
    let bytes = received.bytes.clone();
    let depth = state.settings.ingest.max_json_depth;
    let parsed = blocking(move || {
        json::check_depth(&bytes, depth)?;
        openlineage::event(&bytes)
    })
    .await?;
    scope::check_writes(state.store.as_ref(), principal, &parsed.changes).await?;
    let sender = Sender::of(principal, headers);
    let raw = raw_payload(received.bytes, received.wire_bytes, &parsed, &sender);
    let outcome = state.store.apply(&raw, parsed.changes).await?;
    tracing::debug!(kind = ?parsed.kind, ?outcome, "openlineage event stored");
    Ok(())
}

/// What became of a batch, per the OpenLineage batch API.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResult {
    /// `success` when every event was stored, `partial_success` when some were, `failure`
    /// when none were.
    pub status: &'static str,
    /// Counts.
    pub summary: BatchSummary,
    /// One entry per event that was not stored.
    pub failed_events: Vec<FailedEvent>,
}

/// Counts of a batch.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct BatchSummary {
    /// Events in the batch.
    pub received: usize,
    /// Events stored.
    pub successful: usize,
    /// Events not stored.
    pub failed: usize,
    /// Failed events worth sending again (our fault, or the database was unavailable).
    pub retriable: usize,
    /// Failed events that will fail again as they are.
    pub non_retriable: usize,
}

/// An event of a batch that was not stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct FailedEvent {
    /// Its position in the batch, from 0.
    pub index: usize,
    /// What was wrong.
    pub reason: String,
    /// Whether sending it again may succeed.
    pub retriable: bool,
    /// The status it would have had alone.
    pub status: u16,
    /// Stable machine-readable code (see the problem codes).
    pub code: String,
    /// Where in the batch, e.g. `[3].run.runId`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// Store a batch of OpenLineage events.
///
/// The body is a JSON array of events. Each event is stored in its own transaction, so one bad
/// event doesn't lose the good ones; the answer says, per failed event, why and whether it is
/// worth retrying.
#[utoipa::path(
    post,
    path = "/api/v1/lineage/batch",
    tag = TAG,
    operation_id = "openlineage.lineage.batch",
    request_body(description = "An array of OpenLineage events", content((Vec<RunEvent> = "application/json"))),
    responses(
        (status = 200, description = "Per-event results", body = BatchResult),
        (status = 400, description = "The body is not a JSON array", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over the size limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON, or an unsupported Content-Encoding", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn post_lineage_batch(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<BatchResult>> {
    let items = match batch_items(&state, &headers, body).await {
        Ok(items) => items,
        Err(err) => {
            record_reject(IngestFormat::OpenLineageBatch, &err);
            return Err(err);
        }
    };
    let mut summary = BatchSummary {
        received: items.len(),
        ..BatchSummary::default()
    };
    let mut failed_events = Vec::new();
    let sender = Sender::of(&principal, &headers);
    for (index, item) in items.into_iter().enumerate() {
        let outcome = store_item(&state, &sender, index, item).await;
        record_ingest(IngestFormat::OpenLineageBatchItem, &outcome);
        match outcome {
            Ok(()) => summary.successful += 1,
            Err(err) => failed_events.push(failure(index, &err)),
        }
    }
    summary.failed = failed_events.len();
    summary.retriable = failed_events.iter().filter(|f| f.retriable).count();
    summary.non_retriable = summary.failed - summary.retriable;
    let status = match (summary.failed, summary.successful) {
        (0, _) => "success",
        (_, 0) => "failure",
        _ => "partial_success",
    };
    Ok(Json(BatchResult {
        status,
        summary,
        failed_events,
    }))
}

/// The events of a batch, each still raw (a bad one must not spoil the others): slices of the
/// body, which keep its share of the body budget until the last is stored.
async fn batch_items(state: &AppState, headers: &HeaderMap, body: Body) -> Result<Vec<Bytes>> {
    let watch = state.settings.ingest.event_array_watch();
    let received = receive(state, headers, body, watch).await?;
    let bytes = received.bytes;
    let max = state.settings.ingest.max_batch_events;
    // The depth limit applies to each event on its own (see `store_item`): splitting a batch
    // into events doesn't recurse, and one deep event must not fail the others. The count is
    // checked while splitting, so a batch of millions of tiny events is never all parsed.
    blocking(move || {
        let items = openlineage::batch(&bytes, max)?;
        let slices = items
            .iter()
            .map(|item| bytes.slice_ref(item.get().as_bytes()));
        Ok(slices.collect())
    })
    .await
}

/// Who sent a payload, for its audit record.
struct Sender<'a> {
    principal: &'a Principal,
    request_id: Option<String>,
}

impl<'a> Sender<'a> {
    fn of(principal: &'a Principal, headers: &HeaderMap) -> Self {
        Sender {
            principal,
            request_id: super::producer::request_id(headers),
        }
    }
}

async fn store_item(
    state: &AppState,
    sender: &Sender<'_>,
    index: usize,
    item: Bytes,
) -> Result<()> {
    let depth = state.settings.ingest.max_json_depth;
    let parsed = blocking(move || {
        json::check_depth(&item, depth).map_err(|err| at_item(err, index))?;
        // A slice of what the batch split as JSON, so UTF-8.
        let text = std::str::from_utf8(&item).map_err(|e| Error::Internal(e.into()))?;
        openlineage::batch_item(text, index).map(|p| (p, item))
    })
    .await;
    let (parsed, item) = parsed?;
    scope::check_writes(state.store.as_ref(), sender.principal, &parsed.changes).await?;
    let wire_bytes = item.len();
    let raw = raw_payload(item, wire_bytes, &parsed, sender);
    state.store.apply(&raw, parsed.changes).await.map(|_| ())
}

/// An error about one event of a batch, located at it.
fn at_item(err: Error, index: usize) -> Error {
    match err {
        Error::BadRequest { code, detail, .. } => Error::BadRequest {
            code,
            detail: format!("[{index}]: {detail}"),
            path: Some(format!("[{index}]")),
        },
        other => other,
    }
}

fn failure(index: usize, err: &Error) -> FailedEvent {
    let status = err.status_code();
    let path = match err {
        Error::BadRequest { path, .. } | Error::Unprocessable { path, .. } => path.clone(),
        _ => None,
    };
    let code = err.code();
    FailedEvent {
        index,
        // Never the text of a database error: our own faults are logged, and named by id.
        reason: err.public_detail(),
        retriable: status.is_server_error(),
        status: status.as_u16(),
        code: code.to_owned(),
        path,
    }
}

/// OpenLineage clients send `application/json`; any `+json` type, or none, is taken as JSON.
async fn receive(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    watch: impl FnMut(&[u8]) -> Result<()>,
) -> Result<ReceivedBody> {
    if headers.contains_key(axum::http::header::CONTENT_TYPE) {
        let media_type = body::media_type(headers)?;
        if media_type != "application/json" && !media_type.ends_with("+json") {
            return Err(Error::UnsupportedMediaType(format!(
                "Content-Type `{media_type}` is not JSON; send application/json"
            )));
        }
    }
    body::read(
        headers,
        body,
        state.settings.max_body_bytes,
        &state.body_budget,
        watch,
    )
    .await
}

fn raw_payload(
    body: bytes::Bytes,
    wire_bytes: usize,
    parsed: &openlineage::Parsed,
    sender: &Sender<'_>,
) -> RawPayload {
    RawPayload {
        format: OPENLINEAGE_FORMAT.to_owned(),
        version: parsed.spec_version.clone(),
        event_time: Some(parsed.event_time),
        received_by: Some(sender.principal.name.clone()),
        request_id: sender.request_id.clone(),
        content_type: "application/json".to_owned(),
        body,
        wire_bytes,
        received_at: Utc::now(),
    }
}
