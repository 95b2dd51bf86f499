//! [`audit`](crate::store::audit) on SQLite.

use chrono::Utc;
use serde_json::{Value, json};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite, SqlitePool, Transaction};

use super::{json_list, ts, ts_opt};
use crate::error::Result;
use crate::model::RawPayload;
use crate::store::audit::{
    AuditAction, AuditEntry, AuditQuery, AuditRecord, DeleteReport, MEMBERS,
};
use crate::store::retention::incident_edges;
use crate::store::rows::required_time;

/// Records the payload just archived as `raw_payload_id`, in its transaction.
pub async fn ingested(
    tx: &mut Transaction<'static, Sqlite>,
    raw: &RawPayload,
    raw_payload_id: i64,
    sha256: &[u8],
) -> Result<()> {
    let detail = json!({
        "rawPayloadId": raw_payload_id,
        "sha256": hex::encode(sha256),
        "bytes": raw.wire_bytes,
        "version": raw.version,
    });
    let entry = AuditEntry::ingest(
        raw.received_by.as_deref(),
        &raw.format,
        raw.request_id.as_deref(),
        detail,
    );
    record(&mut **tx, &entry).await
}

/// Appends one record.
pub async fn record(executor: impl sqlx::SqliteExecutor<'_>, entry: &AuditEntry) -> Result<()> {
    sqlx::query(
        "insert into audit_log (at, actor, action, target, request_id, detail)
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(ts(Utc::now()))
    .bind(&entry.actor)
    .bind(entry.action.as_str())
    .bind(&entry.target)
    .bind(entry.request_id.as_deref())
    .bind(entry.detail.to_string())
    .execute(executor)
    .await?;
    Ok(())
}

/// A page of records, newest first.
pub async fn audit_log(pool: &SqlitePool, query: &AuditQuery) -> Result<Vec<AuditRecord>> {
    let rows = sqlx::query(
        "select audit_id, at, actor, action, target, request_id, detail from audit_log
         where ($1 is null or actor = $1) and ($2 is null or action = $2)
           and ($3 is null or at >= $3) and ($4 is null or at < $4)
           and ($5 is null or audit_id < $5)
         order by audit_id desc limit $6",
    )
    .bind(query.actor.as_deref())
    .bind(query.action.map(AuditAction::as_str))
    .bind(ts_opt(query.since))
    .bind(ts_opt(query.until))
    .bind(query.before)
    .bind(i64::from(query.limit))
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(audit_record).collect())
}

fn audit_record(row: &SqliteRow) -> AuditRecord {
    let detail: String = row.get("detail");
    AuditRecord {
        id: row.get("audit_id"),
        at: required_time(row, "at"),
        actor: row.get("actor"),
        action: AuditAction::parse(row.get("action")).unwrap_or(AuditAction::Ingest),
        target: row.get("target"),
        request_id: row.get("request_id"),
        detail: serde_json::from_str(&detail).unwrap_or(Value::Null),
    }
}

/// Deletes a node with its members and their edges, and records it, in one transaction.
pub async fn delete_node(
    pool: &SqlitePool,
    key: &str,
    mut entry: AuditEntry,
) -> Result<Option<DeleteReport>> {
    let mut tx = pool.begin_with("begin immediate").await?;
    let ids: Vec<i64> = sqlx::query_scalar(MEMBERS)
        .bind(key)
        .fetch_all(&mut *tx)
        .await?;
    if ids.is_empty() {
        return Ok(None);
    }
    let list = json_list(&ids);
    let edges: i64 = sqlx::query_scalar(&incident_edges("(select value from json_each($1))"))
        .bind(&list)
        .fetch_one(&mut *tx)
        .await?;
    let kinds: Vec<String> = sqlx::query_scalar(
        "delete from node where node_id in (select value from json_each($1)) returning kind",
    )
    .bind(&list)
    .fetch_all(&mut *tx)
    .await?;
    let report = DeleteReport::of(edges, kinds);
    entry.detail = json!(report);
    record(&mut *tx, &entry).await?;
    tx.commit().await?;
    Ok(Some(report))
}
