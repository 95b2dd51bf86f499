//! The handshake the Spline agent performs before sending anything.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use headwater::http::HttpSettings;
use headwater::store::postgres::{PgStore, PoolSettings};
use headwater::{AppState, app};
use tower::ServiceExt;

use rstest::rstest;

use crate::helpers::TestApp;
use crate::helpers::{Backend, Postgres, Sqlite, TestDb};

fn values<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Vec<&'a str> {
    headers
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect()
}

/// The agent reads one header line per version and gives up on anything but 2xx.
#[rstest]
#[tokio::test]
async fn status_advertises_each_version_on_its_own_header_line(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    for method in [Method::HEAD, Method::GET] {
        let response = app
            .request(
                Request::builder()
                    .method(method.clone())
                    .uri("/producer/status")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(response.status, StatusCode::OK, "{method}");
        assert_eq!(
            values(&response.headers, "ABSA-Spline-API-Version"),
            ["1.2", "1.1", "1"]
        );
        assert_eq!(
            values(&response.headers, "ABSA-Spline-API-LTS-Version"),
            ["1.2", "1.1"]
        );
        assert_eq!(
            values(&response.headers, "ABSA-Spline-Accept-Request-Encoding"),
            ["gzip"]
        );
    }
}

/// With the database gone, the agent must hear "not initialised" (5xx), not "all fine".
#[tokio::test]
async fn status_answers_503_while_the_database_is_unreachable() {
    // Nothing listens on port 1; the pool is lazy, so the app starts and the probe fails.
    let settings = PoolSettings {
        max_connections: 1,
        acquire_timeout: Duration::from_millis(500),
        query_timeout: None,
    };
    let store = PgStore::connect_lazy("postgres://postgres@127.0.0.1:1/none", settings).unwrap();
    let router = app(AppState::new(store, HttpSettings::default()));
    for method in [Method::HEAD, Method::GET] {
        let request = Request::builder()
            .method(method)
            .uri("/producer/status")
            .body(Body::empty())
            .unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers().get("retry-after").unwrap(), "5");
        assert!(response.headers().get("ABSA-Spline-API-Version").is_none());
    }
}
