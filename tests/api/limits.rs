//! Every limit on what grows with input answers a 4xx that names it, and stores nothing.

use std::time::Duration;

use axum::http::StatusCode;
use headwater::http::{HttpSettings, QueryLimits};
use headwater::ingest::IngestLimits;
use rstest::rstest;
use serde_json::{Value, json};

use crate::helpers::{
    Backend, Counts, Postgres, Sqlite, TestApp, TestDb, V12, encode, minimal_plan, plan_id,
    store_plan,
};

fn tight() -> HttpSettings {
    HttpSettings {
        ingest: IngestLimits {
            max_json_depth: 8,
            max_plan_operations: 2,
            max_plan_attributes: 3,
            max_batch_events: 2,
        },
        query: QueryLimits {
            max_depth: 4,
            max_nodes: 10,
            ..QueryLimits::default()
        },
        ..HttpSettings::default()
    }
}

async fn app(backend: Backend, settings: HttpSettings) -> TestApp {
    TestApp::with_settings(TestDb::new(backend).await, settings)
}

fn event(run: u32) -> Value {
    json!({
        "eventType": "COMPLETE", "eventTime": "2026-11-01T10:00:00Z",
        "producer": "https://example.com/limits-test",
        "run": {"runId": format!("01890000-0000-7000-8000-{run:012}")},
        "job": {"namespace": "limits", "name": "job"},
        "outputs": [{"namespace": "s3://limits", "name": format!("out{run}")}]
    })
}

#[rstest]
#[tokio::test]
async fn deep_json_is_refused_before_parsing(#[values(Postgres, Sqlite)] backend: Backend) {
    let app = app(backend, tight()).await;
    let mut plan = minimal_plan(&plan_id(1), &["s3://a/in"], "s3://a/out", "x");
    plan["extraInfo"] = json!({"a": [[[[[[[[["too deep"]]]]]]]]]});
    let answer = app.post_plan(V12, plan.to_string()).await;
    let problem = answer.assert_problem(StatusCode::BAD_REQUEST, "json-too-deep", None);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("more than 8 levels"),
        "{problem}"
    );
    let deep_event = format!("{}{}", "[".repeat(50), "]".repeat(50));
    let answer = app
        .post("/api/v1/lineage", Some("application/json"), &[], deep_event)
        .await;
    answer.assert_problem(StatusCode::BAD_REQUEST, "json-too-deep", None);
    assert_eq!(app.counts().await, Counts::ZERO);
}

#[rstest]
#[tokio::test]
async fn plans_with_too_many_operations_or_attributes_are_refused(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let app = app(backend, tight()).await;
    let mut plan = minimal_plan(&plan_id(1), &["s3://a/in"], "s3://a/out", "x");
    plan["operations"]["write"]["childIds"] = json!(["op-2"]);
    plan["operations"]["other"] =
        json!([{"id": "op-2", "name": "Filter", "childIds": ["op-1"], "output": ["attr-1"]}]);
    let answer = app.post_plan(V12, plan.to_string()).await;
    let problem = answer.assert_problem(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too-many-operations",
        Some("operations"),
    );
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("HEADWATER_MAX_PLAN_OPERATIONS")
    );
    let mut plan = minimal_plan(&plan_id(2), &["s3://a/in"], "s3://a/out", "x");
    plan["operations"]["reads"][0]["output"] = json!(["attr-1", "attr-2", "attr-3", "attr-4"]);
    plan["attributes"] = json!([
        {"id": "attr-1", "name": "a"}, {"id": "attr-2", "name": "b"},
        {"id": "attr-3", "name": "c"}, {"id": "attr-4", "name": "d"}
    ]);
    let answer = app.post_plan(V12, plan.to_string()).await;
    answer.assert_problem(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too-many-attributes",
        Some("attributes"),
    );
    assert_eq!(app.counts().await, Counts::ZERO);
    store_plan(
        &app,
        &minimal_plan(&plan_id(3), &["s3://a/in"], "s3://a/out", "x"),
    )
    .await;
}

#[rstest]
#[tokio::test]
async fn batches_over_the_event_limit_are_refused_whole(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let app = app(backend, tight()).await;
    let batch = json!([event(1), event(2), event(3)]);
    let answer = app
        .post(
            "/api/v1/lineage/batch",
            Some("application/json"),
            &[],
            batch.to_string(),
        )
        .await;
    answer.assert_problem(StatusCode::PAYLOAD_TOO_LARGE, "too-many-events", Some("$"));
    assert_eq!(app.counts().await, Counts::ZERO);
    let events: Vec<Value> = (0..3)
        .map(|i| json!({"planId": plan_id(1), "timestamp": 1_700_000_000_000i64 + i}))
        .collect();
    store_plan(
        &app,
        &minimal_plan(&plan_id(1), &["s3://a/in"], "s3://a/out", "x"),
    )
    .await;
    let answer = app.post_events(V12, Value::Array(events).to_string()).await;
    answer.assert_problem(StatusCode::PAYLOAD_TOO_LARGE, "too-many-events", Some("$"));
    let ok = app
        .post(
            "/api/v1/lineage/batch",
            Some("application/json"),
            &[],
            json!([event(1), event(2)]).to_string(),
        )
        .await;
    assert_eq!(ok.json()["summary"]["successful"], 2);
}

#[rstest]
#[tokio::test]
async fn questions_beyond_the_depth_or_node_limits_are_refused(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let app = app(backend, tight()).await;
    store_plan(
        &app,
        &minimal_plan(&plan_id(1), &["s3://a/in"], "s3://a/out", "x"),
    )
    .await;
    let node = encode("dataset:s3://a/in");
    let deep = app
        .get(&format!("/api/v1/graph/lineage?node={node}&depth=5"))
        .await;
    let problem = deep.assert_problem(StatusCode::BAD_REQUEST, "invalid-parameter", Some("depth"));
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("between 0 and 4"),
        "{problem}"
    );
    let wide = app
        .get(&format!("/api/v1/graph/lineage?node={node}&maxNodes=11"))
        .await;
    wide.assert_problem(
        StatusCode::BAD_REQUEST,
        "invalid-parameter",
        Some("maxNodes"),
    );
    let default = app.get(&format!("/api/v1/graph/lineage?node={node}")).await;
    assert_eq!(
        default.status,
        StatusCode::OK,
        "the defaults fit the limits: {}",
        default.text()
    );
    let marquez = app
        .get("/api/v1/lineage?nodeId=dataset:s3://a:/in&depth=5")
        .await;
    marquez.assert_problem(StatusCode::BAD_REQUEST, "invalid-parameter", Some("depth"));
    let impact = app
        .get(&format!("/api/v1/graph/impact?node={node}&depth=9"))
        .await;
    impact.assert_problem(StatusCode::BAD_REQUEST, "invalid-parameter", Some("depth"));
}

#[rstest]
#[tokio::test]
async fn reads_past_the_time_limit_answer_422(#[values(Postgres, Sqlite)] backend: Backend) {
    let settings = HttpSettings {
        query: QueryLimits {
            timeout: Duration::ZERO,
            ..QueryLimits::default()
        },
        ..HttpSettings::default()
    };
    let app = app(backend, settings).await;
    let answer = app.get("/api/v1/graph/nodes").await;
    let problem = answer.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "query-timeout", None);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("HEADWATER_QUERY_TIMEOUT_SECS")
    );
    // Writes are not reads: the limit doesn't apply to them.
    store_plan(
        &app,
        &minimal_plan(&plan_id(1), &["s3://a/in"], "s3://a/out", "x"),
    )
    .await;
}

/// PostgreSQL's own `statement_timeout` stops a long statement, and answers as the limit does.
#[tokio::test]
async fn a_statement_past_the_postgres_timeout_is_a_query_timeout() {
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres:headwater@127.0.0.1:5432/postgres".to_owned());
    let settings = headwater::store::postgres::PoolSettings {
        max_connections: 1,
        acquire_timeout: Duration::from_secs(10),
        query_timeout: Some(Duration::from_millis(50)),
    };
    let store = headwater::store::postgres::PgStore::connect_lazy(&url, settings).unwrap();
    let err = sqlx::query("select pg_sleep(2)")
        .execute(store.pool())
        .await
        .unwrap_err();
    let err = headwater::Error::from(err);
    assert_eq!(
        (err.status_code(), err.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "query-timeout")
    );
    // Writes run without it.
    let mut tx = headwater::store::postgres::begin_write(store.pool())
        .await
        .unwrap();
    sqlx::query("select pg_sleep(0.2)")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
}
