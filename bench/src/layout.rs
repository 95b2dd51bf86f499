//! The layout phase: what the explorer waits for when it opens a large graph. The service
//! lays out a subgraph of up to [`MAX_NODES`] nodes (`GET /api/v1/graph/layout`) and reports
//! the layout's own time in its `Server-Timing` header; the same subgraph is also asked of
//! `GET /api/v1/graph/lineage`, so the cost of drawing shows as a ratio to the answer without
//! it. The goal is a layout under one second at about 2,000 nodes.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use reqwest::{Client, StatusCode, Url};
use serde::Serialize;

use crate::generate::{Layer, Workload};
use crate::http::endpoint;
use crate::query::time_sides;
use crate::rows;
use crate::stats::{Summary, ratio};

/// The subgraph's size cap: the explorer's largest view the goal speaks of.
pub const MAX_NODES: usize = 2_000;

/// Far enough to reach the cap wherever the graph is large enough.
const DEPTH: u32 = 50;

/// The goal for the layout of a [`MAX_NODES`]-node subgraph.
pub const GOAL_MS: f64 = 1_000.0;

/// What one answer held, and the layout time the service reported for it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Drawn {
    pub nodes: usize,
    pub edges: usize,
    pub layout: Option<Duration>,
}

/// The layout phase at one scale.
#[derive(Debug, Clone, Serialize)]
pub struct LayoutReport {
    pub start: String,
    pub nodes: usize,
    pub edges: usize,
    /// The layout alone, as the service timed it (`Server-Timing: layout`).
    pub layout: Summary,
    /// The whole layout answer, and the lineage answer for the same subgraph.
    pub layout_answer: Summary,
    pub lineage_answer: Summary,
    /// Layout answer p50 ÷ lineage answer p50.
    pub answer_ratio: Option<f64>,
}

impl LayoutReport {
    /// Whether the graph was large enough for the goal to speak of it (three quarters of the
    /// cap), and if so whether the layout's p50 met it.
    pub fn goal(&self) -> Option<bool> {
        (self.nodes * 4 >= MAX_NODES * 3).then_some(self.layout.p50_ms < GOAL_MS)
    }
}

/// The most popular raw dataset, both ways: its connected part of the platform is the
/// largest subgraph a view can open on.
fn start(workload: &Workload) -> Result<String> {
    let raw = workload.datasets(Layer::Raw);
    let first = raw.first().context("the workload has no raw dataset")?;
    Ok(rows::dataset_key(first))
}

/// Times `rounds` layouts of the same subgraph against as many lineage answers.
pub async fn measure(
    client: &Client,
    base: &Url,
    workload: &Workload,
    rounds: usize,
) -> Result<LayoutReport> {
    let start = start(workload)?;
    let questions = vec![start.clone(); rounds];
    let sides = time_sides(&questions, 2, async |side, key: &String| match side {
        0 => ask(client, base, "api/v1/graph/layout", key).await,
        _ => ask(client, base, "api/v1/graph/lineage", key).await,
    })
    .await?;
    let [laid, plain] = <[_; 2]>::try_from(sides).expect("two sides");
    let first = *laid.answers.first().context("no layout was timed")?;
    let layouts: Vec<Duration> = laid.answers.iter().filter_map(|a| a.layout).collect();
    if layouts.len() != laid.answers.len() {
        bail!("a layout answer carried no `Server-Timing: layout`");
    }
    if plain.answers.iter().any(|a| a.nodes != first.nodes) {
        bail!("the lineage answers and the layout answers hold different node counts");
    }
    let (with, without) = (Summary::of(&laid.latencies), Summary::of(&plain.latencies));
    Ok(LayoutReport {
        start,
        nodes: first.nodes,
        edges: first.edges,
        layout: Summary::of(&layouts),
        answer_ratio: ratio(with.p50_ms, without.p50_ms),
        layout_answer: with,
        lineage_answer: without,
    })
}

#[derive(serde::Deserialize)]
struct Counted {
    nodes: Vec<serde::de::IgnoredAny>,
    edges: Vec<serde::de::IgnoredAny>,
}

async fn ask(client: &Client, base: &Url, path: &str, key: &str) -> Result<Drawn> {
    let mut url = endpoint(base, path);
    url.query_pairs_mut()
        .append_pair("node", key)
        .append_pair("direction", "both")
        .append_pair("depth", &DEPTH.to_string())
        .append_pair("maxNodes", &MAX_NODES.to_string());
    let response = client
        .get(url.clone())
        .send()
        .await
        .with_context(|| format!("GET {url}"))?;
    if response.status() != StatusCode::OK {
        bail!("GET {url} answered {}", response.status());
    }
    let layout = response
        .headers()
        .get("server-timing")
        .and_then(|v| v.to_str().ok())
        .and_then(layout_time);
    let body = response.bytes().await?;
    let counted: Counted =
        serde_json::from_slice(&body).with_context(|| format!("GET {url}: answer is not JSON"))?;
    Ok(Drawn {
        nodes: counted.nodes.len(),
        edges: counted.edges.len(),
        layout,
    })
}

/// The `layout` entry of a `Server-Timing` header (`lineage;dur=12.5, layout;dur=3.1`).
fn layout_time(header: &str) -> Option<Duration> {
    header.split(',').find_map(|entry| {
        let (name, params) = entry.trim().split_once(';')?;
        let ms: f64 = params.trim().strip_prefix("dur=")?.parse().ok()?;
        (name == "layout").then(|| Duration::from_secs_f64(ms / 1e3))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layout_entry_is_read_off_server_timing() {
        let header = "lineage;dur=120.5, runs;dur=2.0, layout;dur=35.250";
        assert_eq!(layout_time(header), Some(Duration::from_micros(35_250)));
        assert_eq!(layout_time("lineage;dur=1"), None);
        assert_eq!(layout_time("layout;desc=x"), None);
    }

    #[test]
    fn the_goal_speaks_only_of_graphs_near_the_cap() {
        let summary = |ms: f64| Summary {
            count: 1,
            mean_ms: ms,
            min_ms: ms,
            p50_ms: ms,
            p90_ms: ms,
            p99_ms: ms,
            max_ms: ms,
        };
        let report = |nodes, ms| LayoutReport {
            start: String::new(),
            nodes,
            edges: 0,
            layout: summary(ms),
            layout_answer: summary(ms),
            lineage_answer: summary(ms),
            answer_ratio: None,
        };
        assert_eq!(report(160, 5.0).goal(), None);
        assert_eq!(report(2000, 40.0).goal(), Some(true));
        assert_eq!(report(1900, 1500.0).goal(), Some(false));
    }
}
