//! `headwater-bench soak`: a bounded load test on loopback that stops by itself.
//!
//! A platform of `--jobs` jobs runs again and again, as a scheduled platform does: every
//! Spline job posts its plan (a duplicate after the first run) and a new execution event,
//! every OpenLineage job a new run's events. Beside the ingest, consumers ask for dataset
//! lineage, node listings and column lineage. `--clients` clients keep this mix going for
//! `--duration-secs` against `headwater serve` on a fresh database, after one warm-up run of
//! every job, while the service's resident memory is sampled from `/proc`.
//!
//! The data grows (runs, archived payloads) but what the service holds in memory should not:
//! the job set, and so the lineage index, is fixed after the warm-up. Memory that keeps
//! growing is a leak. See [`crate::soak_report`] for the figures and the verdict.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use bytes::Bytes;
use chrono::{DateTime, TimeDelta, Utc};
use reqwest::header::CONTENT_TYPE;
use reqwest::{Client, RequestBuilder, Url};
use serde_json::Value;
use uuid::Uuid;

use crate::backend::{self, Backend};
use crate::columns::{self, Column};
use crate::generate::{self, DAY_MS, Workload};
use crate::http::{client, endpoint};
use crate::ingest::SPLINE_V12;
use crate::openlineage::{self, OlRun};
use crate::query::{self, Start};
use crate::rss::Sampler;
use crate::service::{Launch, Service};
use crate::soak_report::{Kind, Sample, SoakReport};
use crate::workers;

/// The soak's settings.
#[derive(Debug, Clone, clap::Args)]
pub struct SoakArgs {
    /// Seconds of mixed load after the warm-up.
    #[arg(long, default_value_t = 300)]
    pub duration_secs: u64,

    /// Concurrent clients.
    #[arg(long, default_value_t = 8)]
    pub clients: usize,

    /// Jobs on the platform; every one runs again and again.
    #[arg(long, default_value_t = 200)]
    pub jobs: usize,

    /// Where the service keeps its data.
    #[arg(long, value_enum, default_value = "postgres")]
    pub backend: Backend,

    #[command(flatten)]
    pub common: crate::Common,
}

/// Lineage questions walk this many job hops: a consumer's view, not the whole platform.
const LINEAGE_DEPTH: &str = "5";

/// The recurring mix, one entry per unit of work a client takes: 4 Spline job runs (plan and
/// event), 2 OpenLineage runs, 2 lineage questions, a node search and a column lineage.
const MIX: [Unit; 10] = [
    Unit::Spline,
    Unit::OpenLineage,
    Unit::Lineage,
    Unit::Spline,
    Unit::Nodes,
    Unit::OpenLineage,
    Unit::Spline,
    Unit::Columns,
    Unit::Spline,
    Unit::Lineage,
];

#[derive(Debug, Clone, Copy)]
enum Unit {
    Spline,
    OpenLineage,
    Lineage,
    Nodes,
    Columns,
}

/// The platform: the jobs, and the questions consumers ask of it.
struct Platform {
    workload: Workload,
    /// One run of each OpenLineage job; later runs are copies with new run ids and times.
    ol_runs: Vec<OlRun>,
    starts: Vec<Start>,
    columns: Vec<Column>,
    /// Node searches: fragments of dataset names.
    searches: Vec<String>,
}

impl Platform {
    fn new(jobs: usize, seed: u64) -> Platform {
        let workload = generate::generate_with(jobs, 0, seed);
        // Runs come night by night, every job in the first night.
        let mut ol_runs = openlineage::generate(&workload);
        ol_runs.truncate(workload.plans.len());
        let starts = query::choose_starts(&workload, 64);
        let columns = columns::choose_columns(&workload, 64);
        let searches = ["orders", "raw", "cleaned/s1", "marts", "ds_00", "customers"]
            .map(str::to_owned)
            .to_vec();
        Platform {
            workload,
            ol_runs,
            starts,
            columns,
            searches,
        }
    }

    /// Spline job `n % jobs`, run `n / jobs`: the plan as always, and a new event.
    fn spline(&self, n: usize) -> (Bytes, Bytes) {
        let jobs = self.workload.plans.len();
        let plan = &self.workload.plans[n % jobs];
        let mut event: Value = serde_json::from_slice(&plan.events[0]).expect("generated JSON");
        event[0]["timestamp"] = (plan.timestamp_ms + (n / jobs) as i64 * DAY_MS).into();
        (plan.body.clone(), Bytes::from(event.to_string()))
    }

    /// OpenLineage job `n % jobs`, run `n / jobs`: its events with run ids (its own and its
    /// parent's) made new for the run, and times moved on by as many days.
    fn openlineage(&self, n: usize) -> Vec<Bytes> {
        let jobs = self.ol_runs.len();
        let run = (n / jobs) as u64;
        let events = self.ol_runs[n % jobs].events.iter();
        let rerun = |bytes: &Bytes| {
            let mut event: Value = serde_json::from_slice(bytes).expect("generated JSON");
            renew(&mut event, run);
            Bytes::from(event.to_string())
        };
        events.map(rerun).collect()
    }
}

/// Rewrites every `runId` to a new one for run `run` (the same old id always becomes the same
/// new one, so a DAG's tasks still share their parent run) and moves `eventTime` by `run`
/// days.
fn renew(value: &mut Value, run: u64) {
    if run == 0 {
        return;
    }
    match value {
        Value::Object(map) => {
            for (key, inner) in map.iter_mut() {
                match (key.as_str(), inner.as_str()) {
                    ("runId", Some(id)) => {
                        let old: Uuid = id.parse().unwrap_or_default();
                        let new = Uuid::new_v5(&old, &run.to_be_bytes());
                        *inner = new.to_string().into();
                    }
                    ("eventTime", Some(time)) => *inner = later(time, run).into(),
                    _ => renew(inner, run),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| renew(v, run)),
        _ => {}
    }
}

fn later(time: &str, days: u64) -> String {
    let parsed = DateTime::parse_from_rfc3339(time).map(|t| t.with_timezone(&Utc));
    let moved = parsed.map(|t| t + TimeDelta::days(days as i64));
    moved.map_or_else(|_| time.to_owned(), |t| t.to_rfc3339())
}

/// Runs the soak and writes its report; fails if the service erred or its memory grew.
pub async fn run(args: SoakArgs) -> Result<()> {
    let common = &args.common;
    ensure!(
        args.clients > 0 && args.jobs > 0,
        "--clients and --jobs must be positive"
    );
    ensure!(
        common.headwater.exists(),
        "{} is missing: run `cargo build --release -p headwater`",
        common.headwater.display()
    );
    let platform = Arc::new(Platform::new(args.jobs, common.seed));
    let data_dir = common.results_dir.join("data");
    // Its own database and port: another soak or benchmark may run on this machine.
    let name = format!("headwater_soak_{}", std::process::id());
    let fresh = backend::fresh(args.backend, &name, &common.admin_url, &data_dir).await?;
    let http = client()?;
    let log = common.results_dir.join("logs").join("soak.log");
    std::fs::create_dir_all(log.parent().unwrap())?;
    let launch = Launch {
        binary: &common.headwater,
        database_url: &fresh.url,
        port: match common.port {
            0 => free_port()?,
            port => port,
        },
        index: true,
        log: log.clone(),
    };
    let service = Service::start(launch, &http).await?;
    let started = Utc::now();
    let soaked = soak(&args, &platform, &service, &http).await;
    let stopped = service.stop().await;
    fresh.dispose().await?;
    let (samples, memory) = soaked?;
    stopped?;
    let report = SoakReport::new(&args, started, log, samples, memory);
    let path = report.write(&common.results_dir)?;
    print!("{}", report.markdown());
    println!(
        "\nReport: {} (and soak-latest.md, soak-latest.json)",
        path.display()
    );
    report.verdict()
}

/// A loopback port nothing listened on a moment ago.
fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// The warm-up, then the measured load; every request's sample and the memory seen.
async fn soak(
    args: &SoakArgs,
    platform: &Arc<Platform>,
    service: &Service,
    http: &Client,
) -> Result<(Vec<Sample>, crate::rss::MemoryProfile)> {
    let jobs = platform.workload.plans.len();
    eprintln!("headwater-bench soak: warm-up, every one of {jobs} jobs runs once");
    warm_up(platform, &service.url, http, args.clients).await?;
    let duration = Duration::from_secs(args.duration_secs);
    eprintln!(
        "headwater-bench soak: {duration:?} of mixed load, {} clients",
        args.clients
    );
    let sampler = Sampler::start(service.pid);
    let load = Load {
        platform: Arc::clone(platform),
        base: service.url.clone(),
        http: http.clone(),
        began: Instant::now(),
        until: Instant::now() + duration,
        next: AtomicUsize::new(0),
        // Run 0 was the warm-up.
        spline: AtomicUsize::new(jobs),
        openlineage: AtomicUsize::new(jobs),
    };
    let load = Arc::new(load);
    let clients: Vec<_> = (0..args.clients)
        .map(|_| tokio::spawn(Arc::clone(&load).client()))
        .collect();
    let mut samples = Vec::new();
    for c in clients {
        samples.extend(c.await.context("a soak client panicked")?);
    }
    Ok((samples, sampler.finish().await))
}

/// Every job's first run, so that the measured phase starts on the whole platform.
async fn warm_up(
    platform: &Arc<Platform>,
    base: &Url,
    http: &Client,
    clients: usize,
) -> Result<()> {
    let jobs = platform.workload.plans.len();
    let (platform, base, http) = (Arc::clone(platform), base.clone(), http.clone());
    workers::run(2 * jobs, clients, move |i| {
        let (platform, base, http) = (Arc::clone(&platform), base.clone(), http.clone());
        async move {
            let samples = match i < jobs {
                true => spline_run(&platform, &base, &http, i).await,
                false => openlineage_run(&platform, &base, &http, i - jobs).await,
            };
            match samples.iter().find(|s| !s.ok()) {
                Some(failed) => anyhow::bail!("warm-up request failed: {failed:?}"),
                None => Ok(()),
            }
        }
    })
    .await
    .context("warm-up")?;
    Ok(())
}

/// The measured phase's shared state.
struct Load {
    platform: Arc<Platform>,
    base: Url,
    http: Client,
    began: Instant,
    until: Instant,
    /// The next entry of [`MIX`] to take.
    next: AtomicUsize,
    /// The next Spline and OpenLineage job runs.
    spline: AtomicUsize,
    openlineage: AtomicUsize,
}

impl Load {
    /// One client: takes the next unit of the mix until time is up.
    async fn client(self: Arc<Self>) -> Vec<Sample> {
        let mut samples = Vec::new();
        while Instant::now() < self.until {
            let n = self.next.fetch_add(1, Ordering::Relaxed);
            samples.extend(self.unit(MIX[n % MIX.len()], n / MIX.len()).await);
        }
        samples
    }

    async fn unit(&self, unit: Unit, round: usize) -> Vec<Sample> {
        let (p, base, http) = (&*self.platform, &self.base, &self.http);
        let mut samples = match unit {
            Unit::Spline => {
                let n = self.spline.fetch_add(1, Ordering::Relaxed);
                spline_run(p, base, http, n).await
            }
            Unit::OpenLineage => {
                let n = self.openlineage.fetch_add(1, Ordering::Relaxed);
                openlineage_run(p, base, http, n).await
            }
            Unit::Lineage => vec![lineage(p, base, http, round).await],
            Unit::Nodes => vec![nodes(p, base, http, round).await],
            Unit::Columns => vec![column_lineage(p, base, http, round).await],
        };
        // A unit's requests end within moments of each other; they are placed at its end.
        let at = self.began.elapsed().as_secs_f64();
        samples.iter_mut().for_each(|s| s.at_secs = at);
        samples
    }
}

async fn spline_run(p: &Platform, base: &Url, http: &Client, n: usize) -> Vec<Sample> {
    let (plan, event) = p.spline(n);
    let post = |path: &str, body: Bytes| {
        let request = http
            .post(endpoint(base, path))
            .header(CONTENT_TYPE, SPLINE_V12);
        request.body(body)
    };
    let planned = timed(Kind::SplinePlan, post("producer/execution-plans", plan)).await;
    if !planned.ok() {
        return vec![planned];
    }
    let evented = timed(Kind::SplineEvent, post("producer/execution-events", event)).await;
    vec![planned, evented]
}

async fn openlineage_run(p: &Platform, base: &Url, http: &Client, n: usize) -> Vec<Sample> {
    let url = endpoint(base, openlineage::LINEAGE_PATH);
    let mut samples = Vec::new();
    for event in p.openlineage(n) {
        let request = http
            .post(url.clone())
            .header(CONTENT_TYPE, openlineage::CONTENT_TYPE);
        let sample = timed(Kind::OpenLineage, request.body(event)).await;
        let ok = sample.ok();
        samples.push(sample);
        if !ok {
            break;
        }
    }
    samples
}

async fn lineage(p: &Platform, base: &Url, http: &Client, round: usize) -> Sample {
    let start = &p.starts[round % p.starts.len()];
    let mut url = endpoint(base, "api/v1/graph/lineage");
    url.query_pairs_mut()
        .append_pair("node", &start.key)
        .append_pair("direction", start.direction.as_str())
        .append_pair("depth", LINEAGE_DEPTH);
    timed(Kind::Lineage, http.get(url)).await
}

async fn nodes(p: &Platform, base: &Url, http: &Client, round: usize) -> Sample {
    let mut url = endpoint(base, "api/v1/graph/nodes");
    url.query_pairs_mut()
        .append_pair("kind", "dataset")
        .append_pair("q", &p.searches[round % p.searches.len()])
        .append_pair("limit", "50");
    timed(Kind::Nodes, http.get(url)).await
}

async fn column_lineage(p: &Platform, base: &Url, http: &Client, round: usize) -> Sample {
    let column = &p.columns[round % p.columns.len()];
    let mut url = endpoint(base, "api/v1/graph/column-lineage");
    url.query_pairs_mut()
        .append_pair("node", &column.dataset)
        .append_pair("column", &column.name)
        .append_pair("direction", "upstream")
        .append_pair("depth", &columns::DEPTH.to_string());
    timed(Kind::ColumnLineage, http.get(url)).await
}

/// Sends a request and reads the whole answer; the status, or the transport error.
async fn timed(kind: Kind, request: RequestBuilder) -> Sample {
    let begun = Instant::now();
    let outcome = match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            match response.bytes().await {
                Ok(_) => Ok(status),
                Err(err) => Err(format!("reading the answer: {err}")),
            }
        }
        Err(err) => Err(err.to_string()),
    };
    Sample {
        kind,
        at_secs: 0.0,
        latency: begun.elapsed(),
        outcome,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_runs_get_new_ids_and_later_times_and_keep_parents_shared() {
        let platform = Platform::new(40, 3);
        let jobs = platform.ol_runs.len();
        let first = platform.openlineage(0);
        let again = platform.openlineage(jobs);
        let parse = |b: &Bytes| serde_json::from_slice::<Value>(b).unwrap();
        let (a, b) = (parse(&first[0]), parse(&again[0]));
        assert_ne!(a["run"]["runId"], b["run"]["runId"]);
        assert_eq!(a["job"], b["job"]);
        assert_eq!(
            later("2026-01-01T00:00:00Z", 2),
            "2026-01-03T00:00:00+00:00"
        );
        let nil = Uuid::nil().to_string();
        let mut x = serde_json::json!({"parent": {"run": {"runId": nil}}});
        let mut y = x.clone();
        renew(&mut x, 3);
        renew(&mut y, 3);
        assert_eq!(x, y, "one old id becomes one new id");
        assert_ne!(x["parent"]["run"]["runId"], serde_json::json!(nil));
    }

    #[test]
    fn spline_runs_repeat_the_plan_with_new_events() {
        let platform = Platform::new(40, 3);
        let jobs = platform.workload.plans.len();
        let (plan, event) = platform.spline(1);
        let (plan_again, event_again) = platform.spline(jobs + 1);
        assert_eq!(plan, plan_again);
        assert_ne!(event, event_again);
    }
}
