//! What only `admin` tokens may do: delete a node, prune, replay, and read the audit log.
//!
//! Each change is recorded in the audit log with the token's name and the request id, so
//! "who deleted this, and when" has an answer.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::graph::{bounded, find};
use super::producer::request_id;
use super::query::ApiQuery;
use super::scope;
use crate::archive::{self, Progress, TimeRange};
use crate::auth::Principal;
use crate::error::{Error, Problem, Result};
use crate::store::{
    AuditAction, AuditEntry, AuditQuery, AuditRecord, DeleteReport, PruneReport, PruneRequest,
};

pub(super) const TAG: &str = "admin";

const DEFAULT_PAGE: u32 = 100;
const MAX_PAGE: u32 = 1_000;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(audit_log))
        .routes(routes!(delete_node))
        .routes(routes!(prune))
        .routes(routes!(replay))
}

/// Parameters of an audit-log page.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct AuditParams {
    /// Only records of this actor (a token's name, `anonymous`, `cli:prune`, ...).
    actor: Option<String>,
    /// Only records of this action: `ingest`, `delete`, `prune` or `replay`.
    action: Option<String>,
    /// Only records at or after this time (RFC 3339).
    since: Option<DateTime<Utc>>,
    /// Only records before this time (RFC 3339).
    until: Option<DateTime<Utc>>,
    /// `nextBefore` from the previous page.
    before: Option<i64>,
    /// Page size, 1 to 1000 (default 100).
    limit: Option<u32>,
}

/// A page of the audit log, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct AuditPage {
    /// Records, newest first.
    items: Vec<AuditRecord>,
    /// Pass as `before` for the next (older) page; null on the last page.
    next_before: Option<i64>,
}

/// The audit log: who wrote, deleted, pruned or replayed what, and when.
///
/// Every stored payload has a record, written in the payload's own transaction; so does every
/// delete, prune and replay (through the API or the commands).
#[utoipa::path(
    get,
    path = "/api/v1/admin/audit",
    tag = TAG,
    operation_id = "admin.audit.list",
    params(AuditParams),
    responses(
        (status = 200, description = "A page of records", body = AuditPage),
        (status = 400, description = "A bad parameter", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn audit_log(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiQuery(params): ApiQuery<AuditParams>,
) -> Result<Json<AuditPage>> {
    // Its records name what was written, deleted and replayed in every namespace.
    whole_graph(&principal, "the audit log")?;
    let limit = bounded(params.limit, DEFAULT_PAGE, 1..=MAX_PAGE, "limit")?;
    let action = params.action.as_deref().map(parse_action).transpose()?;
    let query = AuditQuery {
        actor: params.actor,
        action,
        since: params.since,
        until: params.until,
        before: params.before,
        limit: limit + 1,
    };
    let mut items = state.store.audit_log(&query).await?;
    let next_before = match items.len() > limit as usize {
        true => {
            items.truncate(limit as usize);
            items.last().map(|r| r.id)
        }
        false => None,
    };
    Ok(Json(AuditPage { items, next_before }))
}

fn parse_action(name: &str) -> Result<AuditAction> {
    AuditAction::parse(name).ok_or_else(|| {
        Error::bad_request(
            "invalid-parameter",
            format!("unknown action `{name}`; use ingest, delete, prune or replay"),
            Some("action".to_owned()),
        )
    })
}

/// Parameters of a node deletion.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct DeleteParams {
    /// The node's key.
    key: String,
}

/// What a deletion removed.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Deleted {
    /// The key of the node deleted.
    key: String,
    /// What went with it.
    #[serde(flatten)]
    report: DeleteReport,
}

/// Delete a node, what belongs to it, and their edges.
///
/// A dataset goes with its columns; a job with its runs, operations and attributes. The raw
/// payloads stay archived (prune removes those), so a replay brings the node back.
#[utoipa::path(
    delete,
    path = "/api/v1/graph/node",
    tag = TAG,
    operation_id = "admin.node.delete",
    params(DeleteParams),
    responses(
        (status = 200, description = "Deleted", body = Deleted),
        (status = 400, description = "No key, or a bad one", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such node", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn delete_node(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<DeleteParams>,
) -> Result<Json<Deleted>> {
    let store = state.store.as_ref();
    let (_, node) = find(store, &params.key).await?;
    scope::found(store, &principal, &params.key, &node).await?;
    let entry = entry(&principal, &headers, AuditAction::Delete, node.key.clone());
    let report = store
        .delete_node(&node.key, entry)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no node with key `{}`", params.key)))?;
    tracing::info!(principal = %principal.name, key = %node.key, "node deleted");
    Ok(Json(Deleted {
        key: node.key,
        report,
    }))
}

fn entry(
    principal: &Principal,
    headers: &HeaderMap,
    action: AuditAction,
    target: String,
) -> AuditEntry {
    AuditEntry {
        actor: principal.name.clone(),
        action,
        target,
        request_id: request_id(headers),
        detail: json!({}),
    }
}

/// What to prune.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PruneBody {
    /// What was received longer ago than this goes, e.g. `30d` or `12h`.
    older_than: String,
    /// Report what would go, and delete nothing.
    #[serde(default)]
    dry_run: bool,
    /// Rows deleted per transaction (default 1000).
    batch_size: Option<u32>,
}

/// What a prune deleted.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Pruned {
    /// Everything received before this went (or would go).
    cutoff: DateTime<Utc>,
    /// Whether it was a dry run.
    dry_run: bool,
    /// Raw payloads deleted.
    raw_payloads: u64,
    /// Nodes deleted, by kind.
    nodes: std::collections::BTreeMap<String, u64>,
    /// Edges deleted with them.
    edges: u64,
}

/// Prune old lineage, as `headwater prune` does.
///
/// Deletes raw payloads and runs older than the cutoff, then what nothing kept needs any more.
/// Not limited by namespace: a token limited to some namespaces can't prune.
#[utoipa::path(
    post,
    path = "/api/v1/admin/prune",
    tag = TAG,
    operation_id = "admin.prune",
    request_body = PruneBody,
    responses(
        (status = 200, description = "What went (or would go)", body = Pruned),
        (status = 400, description = "A bad body", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn prune(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<Pruned>> {
    whole_graph(&principal, "prune")?;
    let body: PruneBody = crate::ingest::json::decode_object(&body)?;
    let request = prune_request(&body)?;
    let report: PruneReport = state.store.prune(&request).await?;
    let pruned = Pruned {
        cutoff: request.cutoff,
        dry_run: request.dry_run,
        raw_payloads: report.raw_payloads,
        edges: report.edges,
        nodes: report.nodes,
    };
    if !request.dry_run {
        let mut entry = entry(
            &principal,
            &headers,
            AuditAction::Prune,
            cutoff_target(&request),
        );
        entry.detail = json!(&pruned);
        state.store.record(&entry).await?;
    }
    Ok(Json(pruned))
}

/// The audit target of a prune.
pub fn cutoff_target(request: &PruneRequest) -> String {
    format!("before {}", request.cutoff.to_rfc3339())
}

fn prune_request(body: &PruneBody) -> Result<PruneRequest> {
    let bad = |detail: String, path: &str| {
        Error::bad_request("invalid-field", detail, Some(path.to_owned()))
    };
    let age = humantime::parse_duration(&body.older_than)
        .map_err(|e| bad(format!("`olderThan`: {e}"), "olderThan"))?;
    let cutoff = chrono::Duration::from_std(age)
        .ok()
        .and_then(|age| Utc::now().checked_sub_signed(age))
        .ok_or_else(|| bad("`olderThan` reaches too far back".to_owned(), "olderThan"))?;
    let batch_size = body.batch_size.unwrap_or(1_000);
    if batch_size == 0 {
        return Err(bad(
            "`batchSize` must be at least 1".to_owned(),
            "batchSize",
        ));
    }
    Ok(PruneRequest {
        cutoff,
        batch_size,
        dry_run: body.dry_run,
    })
}

/// Which payloads to replay, by time of receipt.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ReplayBody {
    /// Only payloads received at or after this time (RFC 3339).
    since: Option<DateTime<Utc>>,
    /// Only payloads received before this time (RFC 3339).
    until: Option<DateTime<Utc>>,
}

/// What a replay did.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Replayed {
    /// Payloads whose changes were applied again.
    replayed: u64,
    /// Payloads today's parsers reject, with why.
    failed: Vec<ReplayFailure>,
}

/// A payload a replay could not apply.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct ReplayFailure {
    /// The raw payload's id.
    raw_payload_id: i64,
    /// Its format.
    format: String,
    /// Why.
    reason: String,
}

/// Rebuild the graph from archived payloads, as `headwater replay` does (after a parser fix).
///
/// Idempotent. A large archive takes as long as it takes to ingest it again: bound it with
/// `since`/`until`, or use the command. Not limited by namespace.
#[utoipa::path(
    post,
    path = "/api/v1/admin/replay",
    tag = TAG,
    operation_id = "admin.replay",
    request_body(content = Option<ReplayBody>, description = "Optional: without a body, every payload is replayed"),
    responses(
        (status = 200, description = "What was replayed", body = Replayed),
        (status = 400, description = "A bad body", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn replay(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<Replayed>> {
    whole_graph(&principal, "replay")?;
    let body: ReplayBody = match body.trim_ascii() {
        b"" | b"null" => ReplayBody::default(),
        _ => crate::ingest::json::decode_object(&body)?,
    };
    let range = TimeRange {
        since: body.since,
        until: body.until,
    };
    let summary = archive::replay(state.store.as_ref(), range, &mut Progress::quiet())
        .await
        .map_err(Error::Internal)?;
    let replayed = Replayed {
        replayed: summary.replayed,
        failed: summary
            .failed
            .into_iter()
            .map(|(raw_payload_id, format, reason)| ReplayFailure {
                raw_payload_id,
                format,
                reason,
            })
            .collect(),
    };
    let mut entry = entry(
        &principal,
        &headers,
        AuditAction::Replay,
        range_target(range),
    );
    entry.detail = json!({"replayed": replayed.replayed, "failed": replayed.failed.len()});
    state.store.record(&entry).await?;
    Ok(Json(replayed))
}

/// The audit target of a replay.
pub fn range_target(range: TimeRange) -> String {
    let at = |t: Option<DateTime<Utc>>| t.map_or_else(|| "-".to_owned(), |t| t.to_rfc3339());
    format!("received [{}, {})", at(range.since), at(range.until))
}

/// Prune and replay act on the whole graph, beyond any namespace.
fn whole_graph(principal: &Principal, what: &str) -> Result<()> {
    match principal.is_limited() {
        false => Ok(()),
        true => Err(Error::Forbidden(format!(
            "the token `{}` is limited to some namespaces; {what} covers the whole graph",
            principal.name
        ))),
    }
}
