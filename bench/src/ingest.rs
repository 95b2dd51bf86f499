//! The Headwater ingest phase: every plan posted the way the Spline agent
//! posts it, plan first and then its execution event.
//!
//! A "plan" in the throughput figure is that pair of requests, because the
//! agent sends both for every Spark action and the event is what makes the
//! run visible; timing the plan alone would flatter the service.

use std::sync::Arc;

use anyhow::{Context, Result};
use reqwest::header::CONTENT_TYPE;
use reqwest::{Client, StatusCode, Url};

use crate::generate::{Plan, Workload};
use crate::http::{endpoint, send};
use crate::workers::{self, Timed};

/// The media type the Spline agent uses for producer API v1.2.
pub const SPLINE_V12: &str = "application/vnd.absa.spline.producer.v1.2+json";

/// What one posted plan told us beyond its latency.
#[derive(Debug, Clone, Copy)]
pub struct Posted {
    /// The service echoed the plan id we sent, as the contract says it will.
    pub id_echoed: bool,
}

/// Posts every plan (and its event) with `concurrency` in flight.
pub async fn run(
    client: &Client,
    base: &Url,
    workload: Arc<Workload>,
    concurrency: usize,
) -> Result<Timed<Posted>> {
    let plans_url = endpoint(base, "producer/execution-plans");
    let events_url = endpoint(base, "producer/execution-events");
    let client = client.clone();
    let count = workload.plans.len();
    workers::run(count, concurrency, move |index| {
        let client = client.clone();
        let plans_url = plans_url.clone();
        let events_url = events_url.clone();
        let workload = Arc::clone(&workload);
        async move {
            post_plan_and_event(&client, &plans_url, &events_url, &workload.plans[index]).await
        }
    })
    .await
    .context("Headwater ingest")
}

async fn post_plan_and_event(
    client: &Client,
    plans_url: &Url,
    events_url: &Url,
    plan: &Plan,
) -> Result<Posted> {
    let answer = post(client, plans_url, plan.body.clone()).await?;
    let id_echoed =
        serde_json::from_slice::<String>(&answer).is_ok_and(|id| id == plan.id.to_string());
    post(client, events_url, plan.event.clone())
        .await
        .with_context(|| format!("event of plan {}", plan.id))?;
    Ok(Posted { id_echoed })
}

/// One producer POST; anything but 201 Created is an error.
async fn post(client: &Client, url: &Url, body: bytes::Bytes) -> Result<bytes::Bytes> {
    let request = client
        .post(url.clone())
        .header(CONTENT_TYPE, SPLINE_V12)
        .body(body);
    send(request, StatusCode::CREATED).await
}
