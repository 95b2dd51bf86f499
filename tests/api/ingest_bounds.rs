//! Bounds that keep one payload from costing far more than its bytes, or from storing what one
//! backend can't: node keys and names, and events per request. Each answers a 4xx that names
//! where the payload is wrong, the same on both backends, and stores nothing.

use axum::http::StatusCode;
use headwater::ingest::lengths::MAX_KEY_BYTES;
use rstest::rstest;
use serde_json::{Value, json};

use crate::helpers::{
    Backend, Counts, Postgres, Sqlite, TestApp, TestDb, V12, minimal_plan, plan_id,
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
