//! Operations endpoints: liveness and readiness probes, and the Prometheus scrape.
//!
//! The metrics recorder is process-wide and every test in this binary shares it, so counter
//! assertions compare a scrape before and after (other tests can only add to a counter, hence
//! `>=`). Gauges describing the store are per router and are compared exactly.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use headwater::http::HttpSettings;
use headwater::store::postgres::{MIGRATOR, PgStore, PoolSettings};
use headwater::{AppState, app};
use http_body_util::BodyExt;
use serde_json::json;
use tower::ServiceExt;

use rstest::rstest;

use crate::helpers::{Backend, Postgres, Sqlite, TestDb};
use crate::helpers::{TestApp, minimal_plan, send_event, store_plan, store_spline_events};

const REQUESTS: &str = "headwater_http_requests_total";
const DURATION_COUNT: &str = "headwater_http_request_duration_seconds_count";
const ACCEPTED: &str = "headwater_ingest_accepted_total";
const REJECTED: &str = "headwater_ingest_rejected_total";

/// One scrape: every sample by name and its labels, sorted.
struct Scrape(BTreeMap<(String, Vec<(String, String)>), f64>);

impl Scrape {
    async fn take(app: &TestApp) -> Scrape {
        let response = app.get("/metrics").await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text());
        let content_type = response.headers[header::CONTENT_TYPE].to_str().unwrap();
        assert!(content_type.starts_with("text/plain"), "{content_type}");
        Scrape(parse(&response.text()))
    }

    /// The sample with exactly these labels; 0 when absent (a counter not yet incremented).
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let mut labels: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        labels.sort();
        let key = (name.to_owned(), labels);
        self.0.get(&key).copied().unwrap_or(0.0)
    }

    /// `label value → sample` of a family with one label.
    fn by_label(&self, name: &str, label: &str) -> BTreeMap<String, f64> {
        let samples = self.0.iter().filter(|((n, _), _)| n == name);
        samples
            .filter_map(|((_, labels), v)| {
                let (_, value) = labels.iter().find(|(k, _)| k == label)?;
                Some((value.clone(), *v))
            })
            .collect()
    }
}

/// Parses the text format as far as these tests need: no commas or quotes in label values.
fn parse(text: &str) -> BTreeMap<(String, Vec<(String, String)>), f64> {
    let lines = text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'));
    lines
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("a sample line");
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, labels_of(rest.trim_end_matches('}'))),
                None => (series, Vec::new()),
            };
            ((name.to_owned(), labels), value.parse().expect("a number"))
        })
        .collect()
}

fn labels_of(text: &str) -> Vec<(String, String)> {
    let mut labels: Vec<(String, String)> = text
        .split("\",")
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once("=\"").expect("label=\"value\"");
            (k.to_owned(), v.trim_end_matches('"').to_owned())
        })
        .collect();
    labels.sort();
    labels
}

#[rstest]
#[tokio::test]
async fn live_and_ready_answer_200_on_a_migrated_database(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    let live = app.get("/health/live").await;
    assert_eq!(live.status, StatusCode::OK, "{}", live.text());
    assert_eq!(live.json(), json!({"status": "live"}));
    let ready = app.get("/health/ready").await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.text());
    assert_eq!(ready.json(), json!({"status": "ready"}));
}

/// Live only says the process serves; ready also needs the database.
#[tokio::test]
async fn ready_answers_503_while_the_database_is_unreachable() {
    // Nothing listens on port 1; the pool is lazy, so the app starts and the probe fails.
    let settings = PoolSettings {
        max_connections: 1,
        acquire_timeout: Duration::from_millis(500),
        query_timeout: None,
    };
    let store = PgStore::connect_lazy("postgres://postgres@127.0.0.1:1/none", settings).unwrap();
    let router = app(AppState::new(store, HttpSettings::default()));
    let get = |uri: &'static str| {
        let router = router.clone();
        async move {
            let request = Request::get(uri).body(Body::empty()).unwrap();
            let response = router.oneshot(request).await.unwrap();
            let status = response.status();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            (
                status,
                serde_json::from_slice::<serde_json::Value>(&body).ok(),
            )
        }
    };
    assert_eq!(get("/health/live").await.0, StatusCode::OK);
    let (status, problem) = get("/health/ready").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let problem = problem.expect("a problem document");
    assert_eq!(problem["code"], "unavailable");
    assert!(
        problem["detail"].as_str().unwrap().contains("unreachable"),
        "{problem}"
    );
}

/// A replica whose schema is behind its code must not take traffic.
#[rstest]
#[tokio::test]
async fn ready_answers_503_naming_a_migration_that_is_not_applied(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let migrator = match backend {
        Postgres => &MIGRATOR,
        Sqlite => &headwater::store::sqlite::MIGRATOR,
    };
    let latest = migrator.iter().map(|m| m.version).max().unwrap();
    let sql = format!("delete from _sqlx_migrations where version = {latest}");
    assert_eq!(pool.execute(&sql).await, 1);
    let app = TestApp::new(pool);
    let response = app.get("/health/ready").await;
    let problem = response.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "unavailable", None);
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains(&latest.to_string()), "{detail}");
    assert!(detail.contains("migrat"), "{detail}");
}

#[rstest]
#[tokio::test]
async fn requests_are_counted_by_route_template_and_status(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    let route = "/api/v1/graph/node";
    let node = [("method", "GET"), ("route", route), ("status", "404")];
    let unmatched = [("method", "GET"), ("route", "unmatched"), ("status", "404")];
    let timed = [("method", "GET"), ("route", route)];
    let before = Scrape::take(&app).await;
    for key in ["a", "b", "c"] {
        let response = app.get(&format!("{route}?key=dataset:nowhere/{key}")).await;
        assert_eq!(response.status, StatusCode::NOT_FOUND);
    }
    app.get("/no/such/route/4711").await;
    let after = Scrape::take(&app).await;
    assert!(after.value(REQUESTS, &node) - before.value(REQUESTS, &node) >= 3.0);
    assert!(after.value(REQUESTS, &unmatched) - before.value(REQUESTS, &unmatched) >= 1.0);
    let timed_delta = after.value(DURATION_COUNT, &timed) - before.value(DURATION_COUNT, &timed);
    assert!(timed_delta >= 3.0, "{timed_delta}");
    let raw_paths = after.0.keys().flat_map(|(_, labels)| labels);
    assert!(
        !raw_paths
            .into_iter()
            .any(|(_, v)| v.contains("nowhere") || v.contains("4711"))
    );
}

#[rstest]
#[tokio::test]
async fn ingest_is_counted_by_format_and_rejects_by_reason(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    let before = Scrape::take(&app).await;
    let id = "00000000-0000-4000-8000-00000000b001";
    store_plan(&app, &minimal_plan(id, &["s3://m/in"], "s3://m/out", "a")).await;
    store_spline_events(
        &app,
        &json!([{"planId": id, "timestamp": 1_700_000_000_000_i64}]),
    )
    .await;
    send_event(&app, &openlineage_event("metrics.single", 1)).await;
    let batch = json!([openlineage_event("metrics.batch", 2), {"eventTime": 42}]);
    let response = app
        .post(
            "/api/v1/lineage/batch",
            Some("application/json"),
            &[],
            batch.to_string(),
        )
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    let bad = app
        .post(
            "/api/v1/lineage",
            Some("application/json"),
            &[],
            "{not json",
        )
        .await;
    bad.assert_problem(StatusCode::BAD_REQUEST, "malformed-json", None);
    let item_code = response.json()["failed_events"][0]["code"]
        .as_str()
        .unwrap()
        .to_owned();

    let after = Scrape::take(&app).await;
    let grew = |name: &str, labels: &[(&str, &str)]| {
        after.value(name, labels) - before.value(name, labels) >= 1.0
    };
    for format in [
        "spline_plan",
        "spline_events",
        "openlineage_event",
        "openlineage_batch_item",
    ] {
        assert!(grew(ACCEPTED, &[("format", format)]), "{format} accepted");
    }
    let malformed = [
        ("format", "openlineage_event"),
        ("reason", "malformed-json"),
    ];
    assert!(grew(REJECTED, &malformed));
    let item = [("format", "openlineage_batch_item"), ("reason", &item_code)];
    assert!(grew(REJECTED, &item), "{item_code}");
}

#[rstest]
#[tokio::test]
async fn pool_and_graph_gauges_describe_this_store(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool.clone());
    let id = "00000000-0000-4000-8000-00000000b002";
    store_plan(&app, &minimal_plan(id, &["s3://g/in"], "s3://g/out", "a")).await;
    send_event(&app, &openlineage_event("gauges.job", 3)).await;
    let scrape = Scrape::take(&app).await;
    assert_eq!(
        scrape.by_label("headwater_graph_nodes", "kind"),
        counts(&pool, "node").await
    );
    assert_eq!(
        scrape.by_label("headwater_graph_edges", "kind"),
        counts(&pool, "edge").await
    );
    // The test pools: 5 PostgreSQL connections; 5 SQLite readers and its one writer.
    let max = match backend {
        Postgres => 5.0,
        Sqlite => 6.0,
    };
    assert_eq!(scrape.value("headwater_db_pool_max", &[]), max);
    let size = scrape.value("headwater_db_pool_size", &[]);
    assert!(size >= 1.0 && size <= max, "{size}");
    assert!(scrape.value("headwater_db_pool_idle", &[]) <= size);
}

/// `kind → count` of a table, straight from the database.
async fn counts(pool: &TestDb, table: &str) -> BTreeMap<String, f64> {
    let sql = format!("select kind, cast(count(*) as text) from {table} group by kind");
    let rows = pool.text_rows(&sql).await;
    assert!(!rows.is_empty(), "{table} is empty");
    let number = |n: &Option<String>| n.as_deref().unwrap().parse::<f64>().unwrap();
    rows.iter()
        .map(|row| (row[0].clone().unwrap(), number(&row[1])))
        .collect()
}

/// A complete OpenLineage RunEvent of job `metrics/<job>`, run number `run`.
fn openlineage_event(job: &str, run: u32) -> serde_json::Value {
    json!({
        "eventTime": "2024-10-16T17:00:00Z",
        "eventType": "COMPLETE",
        "producer": "https://example.com/headwater-tests",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": format!("0192960e-4c5f-7c6a-8f5a-{run:012}")},
        "job": {"namespace": "metrics", "name": job},
        "inputs": [{"namespace": "s3://m", "name": "in"}],
        "outputs": [{"namespace": "s3://m", "name": "out"}]
    })
}
