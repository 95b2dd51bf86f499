//! Running the CPU-heavy part of a request off the async workers.
//!
//! An async worker that computes for seconds serves nothing else meanwhile, and no timeout can
//! preempt it: two path searches on a two-core machine kept `/health/live` from answering. So
//! such work runs on tokio's blocking threads, at most [`concurrency`] computations at once
//! (they can't take every blocking thread, and a burst of heavy questions waits its turn
//! rather than thrashes), with a [`Budget`] of steps and a deadline it checks itself. When the
//! request is dropped (it ran past the query time limit, or the client left), the computation
//! is told and stops at its next check.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::AppState;
use crate::error::{Error, Result};
use crate::graph::budget::Budget;

/// How many computations run at once: one per CPU (at least two), as more would only share
/// the same CPUs.
pub(super) fn concurrency() -> usize {
    std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .max(2)
}

/// When a read must have answered: the query time limit from its start.
#[derive(Debug, Clone, Copy)]
pub(super) struct Deadline(pub Instant);

impl FromRequestParts<AppState> for Deadline {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        let set = parts.extensions.get::<Deadline>().copied();
        Ok(set.unwrap_or_else(|| Deadline(Instant::now() + state.settings.query.timeout)))
    }
}

impl Deadline {
    /// When a computation stops, leaving time to answer with what it has: a tenth of the time
    /// limit before the deadline, at most a second.
    fn for_computing(self, limit: Duration) -> Instant {
        let margin = (limit / 10).min(Duration::from_secs(1));
        self.0.checked_sub(margin).unwrap_or(self.0)
    }
}

/// Runs `work` on a blocking thread once there is room, with the query budget: the steps of
/// `HEADWATER_MAX_QUERY_STEPS`, and `deadline`.
pub(super) async fn offload<T: Send + 'static>(
    state: &AppState,
    deadline: Deadline,
    work: impl FnOnce(&mut Budget) -> T + Send + 'static,
) -> Result<T> {
    let permit = state
        .computations
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| Error::Internal(e.into()))?;
    let abandoned = Arc::new(AtomicBool::new(false));
    let _tell = Abandon(abandoned.clone());
    let limits = state.settings.query;
    let until = deadline.for_computing(limits.timeout);
    let mut budget = Budget::new(limits.max_steps, Some(until)).abandoned_by(abandoned);
    tokio::task::spawn_blocking(move || {
        // Held until the work is really over, even when the request gave up on it.
        let _permit = permit;
        work(&mut budget)
    })
    .await
    .map_err(|e| Error::Internal(e.into()))
}

/// Runs short but CPU-heavy work (parsing a multi-megabyte plan, writing out a large answer)
/// on a blocking thread, without a budget: it is bounded by its input, which limits bound.
pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Internal(e.into()))?
}

/// Tells the computation its request is gone, when the request's future is dropped.
struct Abandon(Arc<AtomicBool>);

impl Drop for Abandon {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}
