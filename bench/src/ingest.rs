//! The ingest phases: the Spline agent's requests and OpenLineage clients' events, posted
//! with a fixed number of concurrent clients, and the rows the reference writes for the same.
//!
//! A scheduled job runs its plan night after night. The Spline agent posts the plan and then
//! the execution event on every run, so after the first night the plan is a duplicate; the
//! schedule is run-major (every job's first run in stage order, then every second run, …) as
//! a nightly batch is.

use std::sync::Arc;

use anyhow::{Context, Result};
use bytes::Bytes;
use reqwest::header::CONTENT_TYPE;
use reqwest::{Client, StatusCode, Url};

use crate::generate::Workload;
use crate::http::{endpoint, send};
use crate::openlineage::{self, OlRun};
use crate::rows::{self, PlanRows};
use crate::workers::{self, Timed};

/// The media type the Spline agent uses for producer API v1.2.
pub const SPLINE_V12: &str = "application/vnd.absa.spline.producer.v1.2+json";

/// One run of one plan: the agent's plan POST and event POST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Task {
    pub plan: usize,
    pub run: usize,
}

/// Every run of every plan, run-major.
pub fn schedule(workload: &Workload) -> Vec<Task> {
    let most = workload.plans.iter().map(|p| p.runs()).max().unwrap_or(0);
    (0..most)
        .flat_map(|run| {
            let plans = workload.plans.iter().enumerate();
            plans
                .filter(move |(_, p)| run < p.runs())
                .map(move |(plan, _)| Task { plan, run })
        })
        .collect()
}

/// The rows each task adds, in task order: the whole plan graph on its first run, the run
/// alone after that (the service stores a re-posted plan once).
pub fn reference_rows(workload: &Workload, tasks: &[Task]) -> Vec<PlanRows> {
    tasks
        .iter()
        .map(|t| {
            let plan = &workload.plans[t.plan];
            match t.run {
                0 => rows::rows_of(plan),
                run => rows::run_rows(plan, run),
            }
        })
        .collect()
}

/// Posts every task's plan and event with `concurrency` clients.
pub async fn spline(
    client: &Client,
    base: &Url,
    workload: Arc<Workload>,
    tasks: Arc<Vec<Task>>,
    concurrency: usize,
) -> Result<Timed<()>> {
    let plans_url = endpoint(base, "producer/execution-plans");
    let events_url = endpoint(base, "producer/execution-events");
    let client = client.clone();
    workers::run(tasks.len(), concurrency, move |index| {
        let (client, plans_url, events_url) =
            (client.clone(), plans_url.clone(), events_url.clone());
        let (workload, tasks) = (Arc::clone(&workload), Arc::clone(&tasks));
        async move {
            let Task { plan, run } = tasks[index];
            let plan = &workload.plans[plan];
            let id = post(&client, &plans_url, SPLINE_V12, plan.body.clone()).await?;
            if serde_json::from_slice::<String>(&id).ok() != Some(plan.id.to_string()) {
                anyhow::bail!("plan {} was answered with another id", plan.id);
            }
            post(&client, &events_url, SPLINE_V12, plan.events[run].clone())
                .await
                .with_context(|| format!("event of plan {} run {run}", plan.id))?;
            Ok(())
        }
    })
    .await
    .context("Spline ingest")
}

/// Posts every run's events, in order within a run, with `concurrency` clients (each client
/// sending one run at a time, as one integration's emitter would).
pub async fn openlineage(
    client: &Client,
    base: &Url,
    runs: Arc<Vec<OlRun>>,
    concurrency: usize,
) -> Result<Timed<()>> {
    let url = endpoint(base, openlineage::LINEAGE_PATH);
    let client = client.clone();
    workers::run(runs.len(), concurrency, move |index| {
        let (client, url, runs) = (client.clone(), url.clone(), Arc::clone(&runs));
        async move {
            for event in &runs[index].events {
                post(&client, &url, openlineage::CONTENT_TYPE, event.clone()).await?;
            }
            Ok(())
        }
    })
    .await
    .context("OpenLineage ingest")
}

/// One producer POST; anything but 201 Created is an error.
pub async fn post(client: &Client, url: &Url, content_type: &str, body: Bytes) -> Result<Bytes> {
    let request = client
        .post(url.clone())
        .header(CONTENT_TYPE, content_type)
        .body(body);
    send(request, StatusCode::CREATED).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::generate;

    #[test]
    fn the_schedule_is_run_major_and_complete() {
        let workload = generate(60, 3);
        let tasks = schedule(&workload);
        let runs: usize = workload.plans.iter().map(|p| p.runs()).sum();
        assert_eq!(tasks.len(), runs);
        assert!(tasks.windows(2).all(|w| w[0].run <= w[1].run));
        assert_eq!(tasks[0], Task { plan: 0, run: 0 });
        let rows = reference_rows(&workload, &tasks);
        let later = tasks.iter().position(|t| t.run == 1).unwrap();
        assert!(rows[0].nodes.iter().any(|n| n.kind == "job"));
        assert_eq!(
            rows[later].nodes.len(),
            1,
            "a later run adds its run node only"
        );
        assert_eq!(rows[later].edges[0].kind, "run_of");
    }
}
