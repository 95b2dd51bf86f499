//! The committed OpenAPI document must match the one the code generates.

use axum::http::StatusCode;

use rstest::rstest;

use crate::helpers::TestApp;
use crate::helpers::{Backend, Postgres, Sqlite, TestDb};

const COMMITTED: &str = "openapi/openapi.json";

/// Regenerate with `cargo run -- openapi > openapi/openapi.json` (or `UPDATE_OPENAPI=1 cargo test`).
#[test]
fn committed_openapi_document_matches_the_code() {
    let generated = headwater::http::api_doc().to_pretty_json().unwrap() + "\n";
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(COMMITTED);
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{COMMITTED} is out of date; run `cargo run -- openapi > {COMMITTED}` and commit it"
    );
}

#[test]
fn the_document_is_openapi_3_1_and_lists_every_route() {
    let doc: serde_json::Value =
        serde_json::from_str(&headwater::http::api_doc().to_json().unwrap()).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/producer/status",
        "/producer/execution-plans",
        "/producer/execution-events",
        "/api/v1/graph/lineage",
        "/api/v1/graph/nodes",
        "/api/v1/graph/node",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} is missing");
    }
    assert!(doc["paths"]["/producer/status"].get("head").is_some());
}

#[rstest]
#[tokio::test]
async fn the_document_and_its_ui_are_served(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    let served = app.get("/openapi.json").await;
    assert_eq!(served.status, StatusCode::OK);
    assert_eq!(served.json()["info"]["title"], "Headwater");
    let ui = app.get("/docs/").await;
    assert_eq!(ui.status, StatusCode::OK);
    assert!(ui.text().contains("swagger"), "{}", ui.text());
}
