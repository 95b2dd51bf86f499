//! [`audit`](crate::store::audit) on PostgreSQL.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::types::Json;
use sqlx::{PgPool, Postgres, Row, Transaction};

use crate::error::Result;
use crate::model::RawPayload;
use crate::store::StoredNames;
use crate::store::audit::{
    AuditAction, AuditEntry, AuditQuery, AuditRecord, DeleteReport, MEMBERS, NOBODY,
};
use crate::store::retention::incident_edges;

/// Archives a payload and, when it is new, records who sent it, in one statement: a stored
/// payload without its audit record can't exist. The same round trip reads what the write
/// needs next: the stored aliases among `alias_keys`, and which of the `declared` aliases are
/// nodes' own keys. Returns whether the payload was new, and those names.
pub async fn insert_raw(
    tx: &mut Transaction<'_, Postgres>,
    raw: &RawPayload,
    alias_keys: &[String],
    declared: &[String],
) -> Result<(bool, StoredNames)> {
    let digest = Sha256::digest(&raw.body).to_vec();
    type Row = (bool, Json<Vec<(String, String)>>, Json<Vec<String>>);
    let (inserted, aliases, nodes): Row = sqlx::query_as(
        "with raw as (
             insert into raw_payload (format, version, content_type, sha256, body, wire_bytes, received_at, event_time)
             values ($1, $2, $3, $4, $5, $6, $7, $8)
             on conflict (format, sha256) do nothing
             returning raw_payload_id
         ), audit as (
             insert into audit_log (actor, action, target, request_id, detail)
             select $9, 'ingest', $1, $10, jsonb_build_object('rawPayloadId', raw_payload_id,
                 'sha256', encode($4, 'hex'), 'bytes', $6::bigint, 'version', $2)
             from raw
         )
         select exists (select 1 from raw),
             coalesce((select json_agg(json_build_array(a.alias, n.key))
                       from node_alias a join node n using (node_id)
                       where a.alias = any($11)
                         and not exists (select 1 from node m where m.key = a.alias)), '[]'),
             coalesce((select json_agg(key) from node where key = any($12)), '[]')",
    )
    .bind(&raw.format)
    .bind(&raw.version)
    .bind(&raw.content_type)
    .bind(digest)
    .bind(raw.body.as_ref())
    .bind(raw.wire_bytes as i64)
    .bind(raw.received_at)
    .bind(raw.event_time)
    .bind(raw.received_by.as_deref().unwrap_or(NOBODY))
    .bind(raw.request_id.as_deref())
    .bind(alias_keys)
    .bind(declared)
    .fetch_one(&mut **tx)
    .await?;
    let names = StoredNames {
        aliases: aliases.0.into_iter().collect(),
        nodes: nodes.0.into_iter().collect(),
    };
    Ok((inserted, names))
}

/// Appends one record.
pub async fn record(executor: impl sqlx::PgExecutor<'_>, entry: &AuditEntry) -> Result<()> {
    sqlx::query(
        "insert into audit_log (actor, action, target, request_id, detail)
         values ($1, $2, $3, $4, $5)",
    )
    .bind(&entry.actor)
    .bind(entry.action.as_str())
    .bind(&entry.target)
    .bind(entry.request_id.as_deref())
    .bind(Json(&entry.detail))
    .execute(executor)
    .await?;
    Ok(())
}

/// A page of records, newest first.
pub async fn audit_log(pool: &PgPool, query: &AuditQuery) -> Result<Vec<AuditRecord>> {
    let rows = sqlx::query(
        "select audit_id, at, actor, action, target, request_id, detail from audit_log
         where ($1::text is null or actor = $1) and ($2::text is null or action = $2)
           and ($3::timestamptz is null or at >= $3) and ($4::timestamptz is null or at < $4)
           and ($5::bigint is null or audit_id < $5)
         order by audit_id desc limit $6",
    )
    .bind(query.actor.as_deref())
    .bind(query.action.map(AuditAction::as_str))
    .bind(query.since)
    .bind(query.until)
    .bind(query.before)
    .bind(i64::from(query.limit))
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(audit_record).collect())
}

fn audit_record(row: &sqlx::postgres::PgRow) -> AuditRecord {
    AuditRecord {
        id: row.get("audit_id"),
        at: row.get("at"),
        actor: row.get("actor"),
        action: AuditAction::parse(row.get("action")).unwrap_or(AuditAction::Ingest),
        target: row.get("target"),
        request_id: row.get("request_id"),
        detail: row.get::<Json<Value>, _>("detail").0,
    }
}

/// Deletes a node with its members and their edges, and records it, in one transaction.
pub async fn delete_node(
    pool: &PgPool,
    key: &str,
    mut entry: AuditEntry,
) -> Result<Option<DeleteReport>> {
    let mut tx = super::begin_write(pool).await?;
    let ids: Vec<i64> = sqlx::query_scalar(MEMBERS)
        .bind(key)
        .fetch_all(&mut *tx)
        .await?;
    if ids.is_empty() {
        return Ok(None);
    }
    let edges: i64 = sqlx::query_scalar(&incident_edges("(select unnest($1::bigint[]))"))
        .bind(&ids)
        .fetch_one(&mut *tx)
        .await?;
    let kinds: Vec<String> =
        sqlx::query_scalar("delete from node where node_id = any($1) returning kind")
            .bind(&ids)
            .fetch_all(&mut *tx)
            .await?;
    let report = DeleteReport::of(edges, kinds);
    entry.detail = json!(report);
    record(&mut *tx, &entry).await?;
    tx.commit().await?;
    Ok(Some(report))
}
