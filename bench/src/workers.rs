//! A fixed pool of workers draining one shared list of jobs.
//!
//! Both ingest phases (service and reference) run through this, so they see
//! identical scheduling: `concurrency` jobs in flight, each worker taking the
//! next index as soon as its previous job finishes, as independent Spark
//! agents would. Sharing the driver removes one way the two sides could
//! differ for reasons unrelated to the thing being measured.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tokio::task::JoinSet;

/// Wall time for the whole list, plus per-job latency and output in index order.
#[derive(Debug)]
pub struct Timed<T> {
    pub wall: Duration,
    pub latencies: Vec<Duration>,
    pub outputs: Vec<T>,
}

/// Runs `job(0..count)` with at most `concurrency` jobs in flight. The first
/// error stops the run: a benchmark with failed requests measures nothing.
pub async fn run<F, Fut, T>(count: usize, concurrency: usize, job: F) -> Result<Timed<T>>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T>> + Send + 'static,
    T: Send + 'static,
{
    let job = Arc::new(job);
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = JoinSet::new();
    let started = Instant::now();
    for _ in 0..concurrency.clamp(1, count.max(1)) {
        let job = Arc::clone(&job);
        let next = Arc::clone(&next);
        workers.spawn(async move {
            let mut done = Vec::new();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= count {
                    return Ok::<_, anyhow::Error>(done);
                }
                let begun = Instant::now();
                let output = job(index).await.with_context(|| format!("job {index}"))?;
                done.push((index, begun.elapsed(), output));
            }
        });
    }
    let mut finished = Vec::with_capacity(count);
    // Returning early drops the JoinSet, which aborts the remaining workers.
    while let Some(joined) = workers.join_next().await {
        finished.extend(joined.context("worker panicked")??);
    }
    let wall = started.elapsed();
    finished.sort_by_key(|(index, _, _)| *index);
    let (latencies, outputs) = finished.into_iter().map(|(_, d, o)| (d, o)).unzip();
    Ok(Timed {
        wall,
        latencies,
        outputs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_every_job_once_in_order() {
        let timed = run(50, 4, |i| async move { Ok(i * 2) }).await.unwrap();
        assert_eq!(timed.outputs, (0..50).map(|i| i * 2).collect::<Vec<_>>());
        assert_eq!(timed.latencies.len(), 50);
    }

    #[tokio::test]
    async fn first_error_stops_the_run() {
        let result = run(10, 2, |i| async move {
            anyhow::ensure!(i != 3, "boom");
            Ok(())
        })
        .await;
        assert!(format!("{:#}", result.unwrap_err()).contains("boom"));
    }
}
