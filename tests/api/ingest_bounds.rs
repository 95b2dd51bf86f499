//! Bounds that keep one payload from costing far more than its bytes, or from storing what one
//! backend can't: node keys and names, and events per request. Each answers a 4xx that names
//! where the payload is wrong, the same on both backends, and stores nothing.

use axum::body::{Body, Bytes};
use axum::http::{Request, StatusCode, header};
use headwater::http::HttpSettings;
use headwater::ingest::IngestLimits;
use headwater::ingest::lengths::MAX_KEY_BYTES;
use headwater::{AppState, app};
use rstest::rstest;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::helpers::{
    Backend, Counts, Postgres, Sqlite, TestApp, TestDb, V12, gzip, minimal_plan, plan_id,
    store_plan,
};

/// Text PostgreSQL can't compress: an index row holds it at its full length.
fn incompressible(bytes: usize) -> String {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut out = String::with_capacity(bytes);
    while out.len() < bytes {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.push_str(&format!("{state:016x}"));
    }
    out.truncate(bytes);
    out
}

fn event(job_name: &str, output: (&str, &str)) -> Value {
    json!({
        "eventType": "COMPLETE", "eventTime": "2026-11-01T10:00:00Z",
        "producer": "https://example.com/bounds-test",
        "run": {"runId": "01890000-0000-7000-8000-000000000001"},
        "job": {"namespace": "bounds", "name": job_name},
        "outputs": [{"namespace": output.0, "name": output.1}]
    })
}

async fn post_event(app: &TestApp, event: &Value) -> crate::helpers::TestResponse {
    app.post(
        "/api/v1/lineage",
        Some("application/json"),
        &[],
        event.to_string(),
    )
    .await
}

/// A million-character job name answered 500 on PostgreSQL ("index row requires 11480
/// bytes") and was stored on SQLite.
#[rstest]
#[tokio::test]
async fn a_name_too_long_to_index_is_a_400_naming_its_field(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let app = TestApp::new(TestDb::new(backend).await);
    let huge = "j".repeat(1_000_000);
    let answer = post_event(&app, &event(&huge, ("s3://b", "t"))).await;
    let problem = answer.assert_problem(StatusCode::BAD_REQUEST, "name-too-long", Some("job.name"));
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.len() < 1000, "the name isn't echoed whole: {detail}");
    assert_eq!(app.counts().await, Counts::ZERO);

    // Every field that names a node: dataset names and namespaces, columns, aliases, runs.
    let long = incompressible(MAX_KEY_BYTES + 1);
    let mut column = event("j", ("s3://b", "t"));
    column["outputs"][0]["facets"] =
        json!({"schema": {"fields": [{"name": "ok"}, {"name": long}]}});
    let mut alias = event("j", ("s3://b", "t"));
    alias["outputs"][0]["facets"] = json!({"symlinks": {"identifiers": [{"namespace": "hive", "name": long, "type": "TABLE"}]}});
    let mut run = event("j", ("s3://b", "t"));
    run["run"]["runId"] = json!(long);
    let mut input_field = event("j", ("s3://b", "t"));
    input_field["outputs"][0]["facets"] = json!({"columnLineage": {"fields": {"c": {"inputFields": [
        {"namespace": "s3://b", "name": "in", "field": long}]}}}});
    let cases = [
        (event("j", ("s3://b", &long)), "outputs[0].name"),
        (
            event("j", (&format!("s3://{long}"), "t")),
            "outputs[0].namespace",
        ),
        (column, "outputs[0].facets.schema.fields[1].name"),
        (alias, "outputs[0].facets.symlinks.identifiers[0].name"),
        (run, "run.runId"),
        (
            input_field,
            "outputs[0].facets.columnLineage.fields.c.inputFields[0].field",
        ),
    ];
    for (event, path) in cases {
        post_event(&app, &event).await.assert_problem(
            StatusCode::BAD_REQUEST,
            "name-too-long",
            Some(path),
        );
    }
    assert_eq!(app.counts().await, Counts::ZERO);
}

/// A key composed of parts each short enough is bounded as a whole.
#[rstest]
#[tokio::test]
async fn a_key_composed_too_long_is_refused(#[values(Postgres, Sqlite)] backend: Backend) {
    let app = TestApp::new(TestDb::new(backend).await);
    let half = incompressible(MAX_KEY_BYTES / 2 + 10);
    let answer = post_event(&app, &event("j", (&format!("s3://{half}"), &half))).await;
    // The longer part is named: the namespace, by the five bytes of `s3://`.
    answer.assert_problem(
        StatusCode::BAD_REQUEST,
        "name-too-long",
        Some("outputs[0].namespace"),
    );
    assert_eq!(app.counts().await, Counts::ZERO);
}

/// Just under the bound is stored on both backends: the bound is below PostgreSQL's index
/// limit even for text it can't compress.
#[rstest]
#[tokio::test]
async fn keys_at_the_bound_are_stored(#[values(Postgres, Sqlite)] backend: Backend) {
    let app = TestApp::new(TestDb::new(backend).await);
    let job = incompressible(MAX_KEY_BYTES - "job:bounds/".len());
    let name = incompressible(MAX_KEY_BYTES - "dataset:s3://b/".len());
    let mut columns = event("j", ("s3://b", "t"));
    let column = incompressible(MAX_KEY_BYTES - "field:s3://b/t#".len());
    columns["outputs"][0]["facets"] = json!({"schema": {"fields": [{"name": column}]}});
    for event in [event(&job, ("s3://b", &name)), columns] {
        let answer = post_event(&app, &event).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text());
    }
    for key in [
        format!("job:bounds/{job}"),
        format!("dataset:s3://b/{name}"),
        format!("field:s3://b/t#{column}"),
    ] {
        assert_eq!(key.len(), MAX_KEY_BYTES);
        let uri = format!("/api/v1/graph/node?key={}", crate::helpers::encode(&key));
        assert_eq!(app.get(&uri).await.status, StatusCode::OK);
    }
}

/// In a batch, the database's own error text appeared in `reason`, marked retriable.
#[rstest]
#[tokio::test]
async fn a_batch_item_too_long_fails_alone_and_is_not_retriable(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let app = TestApp::new(TestDb::new(backend).await);
    let mut good = event("ok", ("s3://b", "t"));
    good["run"]["runId"] = json!("01890000-0000-7000-8000-000000000002");
    let batch = json!([good, event(&"j".repeat(1_000_000), ("s3://b", "t"))]);
    let answer = app
        .post(
            "/api/v1/lineage/batch",
            Some("application/json"),
            &[],
            batch.to_string(),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let result = answer.json();
    assert_eq!(result["status"], "partial_success", "{result}");
    let failed = &result["failed_events"][0];
    assert_eq!(failed["index"], 1);
    assert_eq!(failed["status"], 400);
    assert_eq!(failed["code"], "name-too-long");
    assert_eq!(failed["path"], "[1].job.name");
    assert_eq!(failed["retriable"], false);
    let reason = failed["reason"].as_str().unwrap();
    assert!(!reason.contains("index row"), "{reason}");
    assert!(reason.len() < 1000, "{reason}");
}

/// Spline plans and events: URIs, attribute names, operation ids.
#[rstest]
#[tokio::test]
async fn spline_names_too_long_are_a_400_naming_their_field(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let app = TestApp::new(TestDb::new(backend).await);
    let long = incompressible(MAX_KEY_BYTES + 1);
    let output = minimal_plan(&plan_id(1), &["s3://a/in"], &format!("s3://a/{long}"), "x");
    let input = minimal_plan(&plan_id(2), &[&format!("s3://a/{long}")], "s3://a/out", "x");
    let attribute = minimal_plan(&plan_id(3), &["s3://a/in"], "s3://a/out", &long);
    let mut operation = minimal_plan(&plan_id(4), &["s3://a/in"], "s3://a/out", "x");
    operation["operations"]["reads"][0]["id"] = json!(long);
    operation["operations"]["write"]["childIds"] = json!([long]);
    let mut name = minimal_plan(&plan_id(5), &["s3://a/in"], "s3://a/out", "x");
    name["name"] = json!("n".repeat(1_000_000));
    let cases = [
        (output, "operations.write.outputSource"),
        (input, "operations.reads[0].inputSources[0]"),
        (attribute, "attributes[0].name"),
        (operation, "operations.reads[0].id"),
        (name, "name"),
    ];
    for (plan, path) in cases {
        app.post_plan(V12, plan.to_string()).await.assert_problem(
            StatusCode::BAD_REQUEST,
            "name-too-long",
            Some(path),
        );
    }
    assert_eq!(app.counts().await, Counts::ZERO);
}

/// A 61 KB gzip of `[{},{},…]` (60 MiB) was parsed whole, about 1 GB of memory, before its
/// events were counted. Counting now stops at one event past the limit: what follows is not
/// even read, so a batch broken after that point is refused as too many events, not as
/// malformed JSON.
#[rstest]
#[tokio::test]
async fn a_batch_is_counted_while_it_is_split(#[values(Postgres, Sqlite)] backend: Backend) {
    let app = TestApp::new(TestDb::new(backend).await);
    let max = IngestLimits::default().max_batch_events;
    let bomb = format!("[{}{{}}]", "{},".repeat(60 * 1024 * 1024 / 3));
    let wire = gzip(bomb.as_bytes());
    assert!(wire.len() < 100 * 1024, "{} bytes on the wire", wire.len());
    let headers = [("content-encoding", "gzip")];
    let answer = app
        .post(
            "/api/v1/lineage/batch",
            Some("application/json"),
            &headers,
            wire,
        )
        .await;
    answer.assert_problem(StatusCode::PAYLOAD_TOO_LARGE, "too-many-events", Some("$"));

    let cut = format!("[{}{{\"broken\": ]", "{},".repeat(max + 1));
    let answer = app
        .post("/api/v1/lineage/batch", Some("application/json"), &[], cut)
        .await;
    answer.assert_problem(StatusCode::PAYLOAD_TOO_LARGE, "too-many-events", Some("$"));
    let within = format!("[{}{{\"broken\": ]", "{},".repeat(max - 1));
    let answer = app
        .post(
            "/api/v1/lineage/batch",
            Some("application/json"),
            &[],
            within,
        )
        .await;
    answer.assert_problem(StatusCode::BAD_REQUEST, "malformed-json", None);
    assert_eq!(app.counts().await, Counts::ZERO);
}

/// The Spline event array is counted the same way, before it is parsed.
#[rstest]
#[tokio::test]
async fn a_spline_event_array_is_counted_before_it_is_parsed(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let app = TestApp::new(TestDb::new(backend).await);
    let plan = minimal_plan(&plan_id(1), &["s3://a/in"], "s3://a/out", "x");
    store_plan(&app, &plan).await;
    let before = app.counts().await;
    let max = IngestLimits::default().max_batch_events;
    let event = json!({"planId": plan_id(1), "timestamp": 1_700_000_000_000i64}).to_string();
    let many = format!("[{}\"broken]", format!("{event},").repeat(max + 1));
    let answer = app.post_events(V12, many).await;
    answer.assert_problem(StatusCode::PAYLOAD_TOO_LARGE, "too-many-events", Some("$"));
    let bomb = format!("[{}{{}}]", "{},".repeat(20 * 1024 * 1024 / 3));
    let answer = app
        .post(
            "/producer/execution-events",
            Some(V12),
            &[("content-encoding", "gzip")],
            gzip(bomb.as_bytes()),
        )
        .await;
    answer.assert_problem(StatusCode::PAYLOAD_TOO_LARGE, "too-many-events", Some("$"));
    assert_eq!(app.counts().await, before);
}

/// An OpenLineage event posted from a stream the test controls, to hold a body in flight.
fn streamed(
    uri: &str,
) -> (
    Request<Body>,
    futures::channel::mpsc::Sender<Result<Bytes, std::io::Error>>,
) {
    let (sender, receiver) = futures::channel::mpsc::channel(4);
    let request = Request::post(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(receiver))
        .unwrap();
    (request, sender)
}

/// Bodies held at once share one budget of bytes: a body that can't get its share answers
/// 503 with Retry-After, one that alone needs more than the budget 413, and every body gives
/// its share back, stored or refused.
#[rstest]
#[tokio::test]
async fn request_bodies_share_one_budget_of_memory(#[values(Postgres, Sqlite)] backend: Backend) {
    use futures::SinkExt;
    let db = TestDb::new(backend).await;
    let settings = HttpSettings {
        body_budget_bytes: 4096,
        ..HttpSettings::default()
    };
    let state = AppState::shared(db.store(), settings, true);
    let budget = state.body_budget.clone();
    let router = app(state);
    let call = |request: Request<Body>| router.clone().oneshot(request);

    let mut one = event("first", ("s3://b", "one"));
    one["padding"] = json!("p".repeat(2500));
    let one = one.to_string();
    let (request, mut sender) = streamed("/api/v1/lineage");
    let first = tokio::spawn(call(request));
    sender
        .send(Ok(Bytes::from(one[..2600].to_owned())))
        .await
        .unwrap();
    while budget.available() > 4096 - 2600 {
        tokio::task::yield_now().await;
    }
    // The first body holds most of the budget, and is still arriving.
    let mut two = event("second", ("s3://b", "two"));
    two["padding"] = json!("p".repeat(2000));
    let post = |body: String| {
        Request::post("/api/v1/lineage")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .unwrap()
    };
    let busy = call(post(two.to_string())).await.unwrap();
    assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(busy.headers().contains_key(header::RETRY_AFTER));

    sender
        .send(Ok(Bytes::from(one[2600..].to_owned())))
        .await
        .unwrap();
    drop(sender);
    assert_eq!(first.await.unwrap().unwrap().status(), StatusCode::CREATED);
    assert_eq!(
        budget.available(),
        4096,
        "the stored body gave its share back"
    );
    let stored = call(post(two.to_string())).await.unwrap();
    assert_eq!(stored.status(), StatusCode::CREATED);

    let mut alone = event("alone", ("s3://b", "alone"));
    alone["padding"] = json!("p".repeat(5000));
    let too_large = call(post(alone.to_string())).await.unwrap();
    assert_eq!(too_large.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(budget.available(), 4096);
}
