//! U+0000 (NUL), which PostgreSQL can store neither as text nor in JSON: in a body it reached
//! the database and answered 500 there (and was stored on SQLite); in a parameter the same
//! (found by Schemathesis). Both backends now refuse it as a 400 before any database work.

use axum::http::StatusCode;
use rstest::rstest;
use serde_json::json;

use crate::helpers::*;

const RUN_EVENT: &str = r#"{"eventTime":"2024-01-01T00:00:00Z","run":{"runId":"r-1"},
    "job":{"namespace":"etl","name":"a\u0000b"}}"#;

#[rstest]
#[tokio::test]
async fn a_nul_in_a_posted_body_is_a_bad_request_that_stores_nothing(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let app = TestApp::new(TestDb::new(backend).await);
    let ol = app
        .post("/api/v1/lineage", Some("application/json"), &[], RUN_EVENT)
        .await;
    ol.assert_problem(StatusCode::BAD_REQUEST, "invalid-field", Some("job.name"));
    let plan = minimal_plan(&plan_id(1), &["s3://b/in\u{0}"], "s3://b/out", "x");
    let spline = app.post_plan(V12, plan.to_string()).await;
    let path = "operations.reads[0].inputSources[0]";
    spline.assert_problem(StatusCode::BAD_REQUEST, "invalid-field", Some(path));
    let events = json!([{"planId": plan_id(1), "timestamp": 1, "extra": {"k\u{0}": 1}}]);
    let spline_events = app.post_events(V12, events.to_string()).await;
    spline_events.assert_problem(
        StatusCode::BAD_REQUEST,
        "invalid-field",
        Some("[0].extra.k\u{0}"),
    );
    assert_eq!(app.counts().await, Counts::ZERO);
}

#[rstest]
#[tokio::test]
async fn a_nul_in_a_batch_event_fails_that_event_alone(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let app = TestApp::new(TestDb::new(backend).await);
    let good = RUN_EVENT.replace("\\u0000", "");
    let body = format!("[{good},{RUN_EVENT}]");
    let response = app
        .post("/api/v1/lineage/batch", Some("application/json"), &[], body)
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    let result = response.json();
    assert_eq!(result["summary"]["successful"], 1, "{result:#}");
    let failed = &result["failed_events"][0];
    assert_eq!(failed["path"], "[1].job.name", "{result:#}");
    assert_eq!(
        (failed["status"].clone(), failed["retriable"].clone()),
        (json!(400), json!(false))
    );
}

#[rstest]
#[tokio::test]
async fn a_nul_in_a_query_or_path_parameter_is_a_bad_request(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let app = TestApp::new(TestDb::new(backend).await);
    for (uri, parameter) in [
        ("/consumer/labels/names?search=%00%C2%AB", Some("search")),
        (
            "/consumer/data-sources?searchTerm=%18%00",
            Some("searchTerm"),
        ),
        (
            "/api/v1/graph/lineage?node=%00s&direction=downstream",
            Some("node"),
        ),
        ("/api/v1/graph/nodes?q=a%00", Some("q")),
        ("/api/v1/namespaces/%00/jobs", None),
    ] {
        let response = app.get(uri).await;
        response.assert_problem(StatusCode::BAD_REQUEST, "invalid-parameter", parameter);
    }
}
