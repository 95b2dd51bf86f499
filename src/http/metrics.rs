//! Prometheus metrics at `GET /metrics`: HTTP traffic, ingest outcomes, the pool, the graph.
//!
//! # Why `metrics` + `metrics-exporter-prometheus`
//! The `metrics` facade lets any handler bump a counter with a macro, without threading a
//! registry through [`AppState`]; the exporter renders the Prometheus text format from a
//! [`PrometheusHandle`]. With its default features off it brings no HTTP listener or push
//! client of its own (hyper, TLS): the scrape is one more route on our router, behind the same
//! middleware. The `prometheus` crate would do too, but needs its metric objects declared and
//! registered up front and passed to every call site.
//!
//! # One recorder per process
//! A `metrics` recorder is global and can be installed once, yet a process (a test binary)
//! builds many routers. So the recorder lives in a process-wide [`OnceLock`] and counters are
//! process-wide. What belongs to one router's store (pool state, node and edge counts) is read
//! at scrape time and written straight into that router's answer, never through the global
//! recorder, so it always describes the store that answered.

use std::fmt::Write as _;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::health::TAG;
use crate::error::Error;
use crate::store::{GraphCounts, PoolState};

const REQUESTS: &str = "headwater_http_requests_total";
const DURATION: &str = "headwater_http_request_duration_seconds";
const ACCEPTED: &str = "headwater_ingest_accepted_total";
const REJECTED: &str = "headwater_ingest_rejected_total";

/// Latency buckets in seconds: from a cached read to a multi-megabyte plan near the timeout.
const BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0,
];

/// How long a scrape waits for the graph counts; Prometheus' default scrape timeout is 10 s.
const COUNTS_TIMEOUT: Duration = Duration::from_secs(3);

/// The `route` label of requests no route matched: raw paths would be unbounded cardinality.
pub const UNMATCHED: &str = "unmatched";

/// How an ingest endpoint labels what it takes in.
#[derive(Debug, Clone, Copy)]
pub(super) enum IngestFormat {
    /// `POST /producer/execution-plans`.
    SplinePlan,
    /// `POST /producer/execution-events` (one array counts once).
    SplineEvents,
    /// `POST /api/v1/lineage`.
    OpenLineageEvent,
    /// One event of `POST /api/v1/lineage/batch`.
    OpenLineageBatchItem,
    /// A whole batch, rejected before its events are looked at (not a JSON array, too large).
    OpenLineageBatch,
}

impl IngestFormat {
    fn label(self) -> &'static str {
        match self {
            IngestFormat::SplinePlan => "spline_plan",
            IngestFormat::SplineEvents => "spline_events",
            IngestFormat::OpenLineageEvent => "openlineage_event",
            IngestFormat::OpenLineageBatchItem => "openlineage_batch_item",
            IngestFormat::OpenLineageBatch => "openlineage_batch",
        }
    }
}

/// Counts one ingest outcome: accepted, or rejected with the problem code as reason.
pub(super) fn record_ingest<T>(format: IngestFormat, outcome: &Result<T, Error>) {
    match outcome {
        Ok(_) => metrics::counter!(ACCEPTED, "format" => format.label()).increment(1),
        Err(err) => record_reject(format, err),
    }
}

/// Counts one rejected payload, by the problem code it was answered with.
pub(super) fn record_reject(format: IngestFormat, err: &Error) {
    let labels = [("format", format.label()), ("reason", err.code())];
    metrics::counter!(REJECTED, &labels).increment(1);
}

/// The process-wide recorder, installed on first use.
fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(install)
}

/// Installs the recorder; if another one was installed first, keeps a detached handle so
/// `/metrics` still answers (without our counters) instead of failing.
fn install() -> PrometheusHandle {
    let builder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(DURATION.to_owned()), BUCKETS)
        .expect("the bucket list is not empty");
    let handle = match builder.install_recorder() {
        Ok(handle) => handle,
        Err(err) => {
            tracing::warn!(%err, "a metrics recorder is already installed");
            PrometheusBuilder::new().build_recorder().handle()
        }
    };
    describe();
    spawn_upkeep(handle.clone());
    handle
}

fn describe() {
    metrics::describe_counter!(
        REQUESTS,
        "HTTP requests by method, route template and status"
    );
    metrics::describe_histogram!(
        DURATION,
        "HTTP request latency by method and route template"
    );
    metrics::describe_counter!(ACCEPTED, "Payloads stored, by format");
    metrics::describe_counter!(REJECTED, "Payloads rejected, by format and problem code");
}

/// Without upkeep, latency samples pile up between scrapes; a plain thread needs no runtime.
fn spawn_upkeep(handle: PrometheusHandle) {
    let upkeep = move || {
        loop {
            std::thread::sleep(Duration::from_secs(5));
            handle.run_upkeep();
        }
    };
    if let Err(err) = std::thread::Builder::new()
        .name("metrics-upkeep".to_owned())
        .spawn(upkeep)
    {
        tracing::warn!(%err, "cannot start the metrics upkeep thread");
    }
}

/// Installs the recorder before the first request, so no early sample is lost.
pub(super) fn init() {
    handle();
}

/// Middleware: counts every request by method, route template and status, and times it.
pub(super) async fn track_requests(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED.to_owned(), |p| p.as_str().to_owned());
    let method = method_label(request.method());
    let start = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::histogram!(DURATION, "method" => method, "route" => route.clone())
        .record(start.elapsed().as_secs_f64());
    metrics::counter!(REQUESTS, "method" => method, "route" => route, "status" => status)
        .increment(1);
    response
}

/// Standard methods by name; anything else (extension methods) as `other`, to bound cardinality.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(scrape))
}

/// Prometheus metrics, in the text exposition format.
///
/// Request counts and latency, ingest outcomes by format and reject reason, the database pool,
/// and node and edge counts by kind (counted at scrape time; omitted while the database does
/// not answer).
#[utoipa::path(
    get,
    path = "/metrics",
    tag = TAG,
    operation_id = "metrics",
    responses((status = 200, description = "Prometheus text format 0.0.4", body = String, content_type = "text/plain")),
)]
async fn scrape(State(state): State<AppState>) -> Response {
    let mut body = handle().render();
    if !body.is_empty() && !body.ends_with('\n') {
        body.push('\n');
    }
    write_pool(&mut body, state.store.pool_state());
    match tokio::time::timeout(COUNTS_TIMEOUT, state.store.graph_counts()).await {
        Ok(Ok(counts)) => write_graph(&mut body, &counts),
        Ok(Err(err)) => tracing::warn!(error = %err, "metrics: cannot count the graph"),
        Err(_) => tracing::warn!("metrics: counting the graph timed out"),
    }
    let content_type = "text/plain; version=0.0.4; charset=utf-8";
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

fn write_pool(out: &mut String, pool: PoolState) {
    let gauges = [
        (
            "size",
            "Open database connections, idle or in use",
            pool.size,
        ),
        ("idle", "Open database connections not in use", pool.idle),
        ("max", "Most database connections the pool opens", pool.max),
    ];
    for (name, help, value) in gauges {
        let name = format!("headwater_db_pool_{name}");
        write_gauge(out, &name, help, None, &[(String::new(), u64::from(value))]);
    }
}

fn write_graph(out: &mut String, counts: &GraphCounts) {
    let (nodes, edges) = ("headwater_graph_nodes", "headwater_graph_edges");
    write_gauge(
        out,
        nodes,
        "Stored nodes by kind",
        Some("kind"),
        &counts.nodes,
    );
    write_gauge(
        out,
        edges,
        "Stored edges by kind",
        Some("kind"),
        &counts.edges,
    );
}

/// One gauge family; with a label name, one series per `(label value, value)`.
fn write_gauge(
    out: &mut String,
    name: &str,
    help: &str,
    label: Option<&str>,
    series: &[(String, u64)],
) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
    for (value_label, value) in series {
        match label {
            Some(label) => {
                let escaped = escape(value_label);
                let _ = writeln!(out, "{name}{{{label}=\"{escaped}\"}} {value}");
            }
            None => {
                let _ = writeln!(out, "{name} {value}");
            }
        }
    }
    out.push('\n');
}

/// Label values escape backslash, double quote and newline (exposition format 0.0.4).
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauges_render_one_series_per_label_value() {
        let mut out = String::new();
        let series = [("dataset".to_owned(), 3), ("a\"b".to_owned(), 1)];
        write_gauge(&mut out, "g", "help", Some("kind"), &series);
        assert_eq!(
            out,
            "# HELP g help\n# TYPE g gauge\ng{kind=\"dataset\"} 3\ng{kind=\"a\\\"b\"} 1\n\n"
        );
    }

    #[test]
    fn extension_methods_share_one_label() {
        assert_eq!(method_label(&Method::POST), "POST");
        assert_eq!(
            method_label(&Method::from_bytes(b"PURGE").unwrap()),
            "other"
        );
    }
}
