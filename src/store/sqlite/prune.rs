//! [`retention`](crate::store::retention) on SQLite. Each batch is one write transaction, so
//! ingest (which waits for the one write lock) runs between batches.

use sqlx::{Row, Sqlite, SqlitePool, Transaction};

use super::{json_list, ts};
use crate::error::Result;
use crate::store::retention::{PruneReport, PruneRequest, Stage, incident_edges};

/// Runs every stage in batches; a dry run does it all in one transaction it rolls back.
pub async fn prune(pool: &SqlitePool, request: &PruneRequest) -> Result<PruneReport> {
    let mut report = PruneReport::default();
    let mut dry = match request.dry_run {
        true => Some(pool.begin_with("begin immediate").await?),
        false => None,
    };
    for stage in Stage::ALL {
        loop {
            let deleted = match dry.as_mut() {
                Some(tx) => batch(tx, stage, request, &mut report).await?,
                None => {
                    let mut tx = pool.begin_with("begin immediate").await?;
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
    tx: &mut Transaction<'_, Sqlite>,
    stage: Stage,
    request: &PruneRequest,
    report: &mut PruneReport,
) -> Result<u64> {
    let ids: Vec<i64> = sqlx::query_scalar(&stage.candidates())
        .bind(ts(request.cutoff))
        .bind(i64::from(request.batch_size))
        .fetch_all(&mut **tx)
        .await?;
    if ids.is_empty() {
        return Ok(0);
    }
    let list = json_list(&ids);
    if stage.is_archive() {
        sqlx::query(
            "delete from raw_payload where raw_payload_id in (select value from json_each($1))",
        )
        .bind(&list)
        .execute(&mut **tx)
        .await?;
        report.raw_payloads += ids.len() as u64;
        return Ok(ids.len() as u64);
    }
    let edges: i64 = sqlx::query_scalar(&incident_edges("(select value from json_each($1))"))
        .bind(&list)
        .fetch_one(&mut **tx)
        .await?;
    report.edges += edges.max(0) as u64;
    let rows = sqlx::query(
        "delete from node where node_id in (select value from json_each($1)) returning kind",
    )
    .bind(&list)
    .fetch_all(&mut **tx)
    .await?;
    for row in &rows {
        *report.nodes.entry(row.get("kind")).or_default() += 1;
    }
    Ok(ids.len() as u64)
}
