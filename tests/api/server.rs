//! A few black-box checks over a real socket: the middleware stack and graceful shutdown.

use std::time::Duration;

use headwater::AppState;
use headwater::http::{self, HttpSettings};
use tokio::sync::oneshot;

use rstest::rstest;

use crate::helpers::{Backend, Postgres, Sqlite, TestDb};
use crate::helpers::{V12, gzip};

/// Binds port 0, serves until the returned sender fires, and hands back the base URL.
async fn spawn(
    pool: &TestDb,
) -> (
    String,
    oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let state = AppState::shared(pool.store(), HttpSettings::default(), true);
    let server = tokio::spawn(http::serve(listener, state, async move {
        let _ = stopped.await;
    }));
    (base, stop, server)
}

const PLAN: &str = r#"{"id":"5f0c2c8e-1d7a-4c57-9a51-0b7b3c1e0001","name":"socket job",
 "operations":{"write":{"id":"op-0","outputSource":"s3://lake/out","append":false,"childIds":["op-1"]},
   "reads":[{"id":"op-1","inputSources":["s3://lake/in"]}]},
 "systemInfo":{"name":"spark","version":"3.5.0"}}"#;

/// The agent's real path: handshake, gzipped plan, event, then a consumer query; then SIGTERM.
#[rstest]
#[tokio::test]
async fn an_agent_session_over_a_socket_then_graceful_shutdown(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let (base, stop, server) = spawn(&pool).await;
    let client = reqwest::Client::new();

    let status = client
        .head(format!("{base}/producer/status"))
        .header("X-SPLINE-TIMEOUT", "120000")
        .send()
        .await
        .unwrap();
    assert_eq!(status.status(), 200);
    assert!(
        status.headers().get("x-request-id").is_some(),
        "request ids are propagated"
    );

    let plan = client
        .post(format!("{base}/producer/execution-plans"))
        .header("Content-Type", V12)
        .header("Content-Encoding", "gzip")
        .header("X-SPLINE-TIMEOUT", "120000")
        .body(gzip(PLAN.as_bytes()))
        .send()
        .await
        .unwrap();
    assert_eq!(plan.status(), 201);
    assert_eq!(
        plan.text().await.unwrap(),
        "\"5f0c2c8e-1d7a-4c57-9a51-0b7b3c1e0001\""
    );

    let events = r#"[{"planId":"5f0c2c8e-1d7a-4c57-9a51-0b7b3c1e0001","timestamp":1700000000000}]"#;
    let posted = client
        .post(format!("{base}/producer/execution-events"))
        .header("Content-Type", V12)
        .body(events)
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 201);

    let lineage: serde_json::Value = client
        .get(format!("{base}/api/v1/graph/lineage"))
        .query(&[
            ("node", "dataset:s3://lake/in"),
            ("direction", "downstream"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(lineage["nodes"].as_array().unwrap().len(), 3, "{lineage}");

    stop.send(()).unwrap();
    let finished = tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("server stops in time");
    finished.unwrap().unwrap();
    assert!(
        client
            .get(format!("{base}/producer/status"))
            .send()
            .await
            .is_err(),
        "nothing listens after shutdown"
    );
}
