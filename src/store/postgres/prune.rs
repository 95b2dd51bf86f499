//! [`retention`](crate::store::retention) on PostgreSQL.
//!
//! Candidates are locked `for update skip locked`: a row an ingest is writing right now is
//! skipped rather than waited for, and a row an ingest wrote since this batch began is
//! re-checked against the cutoff on its new version, so it is kept.

use sqlx::{PgPool, Postgres, Row, Transaction};

use crate::error::Result;
use crate::store::retention::{PruneReport, PruneRequest, Stage, incident_edges};

/// Runs every stage in batches. A dry run does the same work in one transaction that it rolls
/// back, so its counts are exactly what a real run would have deleted at that moment.
pub async fn prune(pool: &PgPool, request: &PruneRequest) -> Result<PruneReport> {
    let mut report = PruneReport::default();
    let mut dry = match request.dry_run {
        true => Some(super::begin_write(pool).await?),
        false => None,
    };
    for stage in Stage::ALL {
        loop {
            let deleted = match dry.as_mut() {
                Some(tx) => batch(tx, stage, request, &mut report).await?,
                None => {
                    let mut tx = super::begin_write(pool).await?;
                    let n = batch(&mut tx, stage, request, &mut report).await?;
                    tx.commit().await?;
                    n
                }
            };
            if deleted < u64::from(request.batch_size) {
                break;
            }
        }
    }
    if let Some(tx) = dry {
        tx.rollback().await?;
    }
    Ok(report)
}

/// Deletes one batch of a stage; returns how many rows it deleted.
async fn batch(
    tx: &mut Transaction<'_, Postgres>,
    stage: Stage,
    request: &PruneRequest,
    report: &mut PruneReport,
) -> Result<u64> {
    let sql = format!("{} for update skip locked", stage.candidates());
    let ids: Vec<i64> = sqlx::query_scalar(&sql)
        .bind(request.cutoff)
        .bind(i64::from(request.batch_size))
        .fetch_all(&mut **tx)
        .await?;
    if ids.is_empty() {
        return Ok(0);
    }
    if stage.is_archive() {
        sqlx::query("delete from raw_payload where raw_payload_id = any($1)")
            .bind(&ids)
            .execute(&mut **tx)
            .await?;
        report.raw_payloads += ids.len() as u64;
        return Ok(ids.len() as u64);
    }
    let edges: i64 = sqlx::query_scalar(&incident_edges("(select unnest($1::bigint[]))"))
        .bind(&ids)
        .fetch_one(&mut **tx)
        .await?;
    report.edges += edges.max(0) as u64;
    let rows = sqlx::query("delete from node where node_id = any($1) returning kind")
        .bind(&ids)
        .fetch_all(&mut **tx)
        .await?;
    for row in &rows {
        *report.nodes.entry(row.get("kind")).or_default() += 1;
    }
    Ok(ids.len() as u64)
}
