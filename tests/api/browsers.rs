//! What a browser may do with the service: which Host names it answers with authentication
//! off (DNS rebinding), which pages of other origins may read it (CORS), and the headers that
//! keep its own pages from being framed or injected into. Through the real router, on both
//! backends.

use axum::http::{StatusCode, header};
use headwater::auth::Tokens;
use headwater::http::{AllowedHosts, CorsPolicy, HttpSettings};
use headwater::{AppState, app};
use rstest::rstest;
use serde_json::json;

use crate::helpers::token_entry;
use crate::helpers::{
    Backend, Counts, Postgres, Sqlite, TestApp, TestDb, TestResponse, V12, encode, minimal_plan,
    plan_id, store_plan,
};

/// The service without authentication, answering these `HEADWATER_ALLOWED_HOSTS`, with this
/// CORS policy.
fn open_app(db: TestDb, allowed_hosts: &str, cors: CorsPolicy) -> TestApp {
    let state = AppState::shared(db.store(), HttpSettings::default(), true)
        .secured(None, cors)
        .with_allowed_hosts(AllowedHosts::parse(allowed_hosts).expect("valid hosts"));
    TestApp {
        router: app(state),
        db,
    }
}

/// A request naming `host`, as a browser sends it: a page's requests carry its own host and,
/// for writes, its origin.
async fn from_host(
    app: &TestApp,
    method: &str,
    uri: &str,
    host: &str,
    content_type: &str,
    body: impl Into<Vec<u8>>,
) -> TestResponse {
    let origin = format!("http://{host}");
    let mut headers = vec![("host", host), ("origin", origin.as_str())];
    if !content_type.is_empty() {
        headers.push(("content-type", content_type));
    }
    app.send(method, uri, &headers, body).await
}

/// A read sent by a page of `origin`.
async fn get(app: &TestApp, uri: &str, origin: &str) -> TestResponse {
    app.send("GET", uri, &[("origin", origin)], Vec::new())
        .await
}

const EVIL: &str = "evil.example:8080";

/// A page of evil.example whose name was rebound to 127.0.0.1 sent same-origin requests
/// (`Host` and `Origin` both its own), so the CORS write guard let them through: without
/// authentication it could ingest, delete and prune.
#[rstest]
#[tokio::test]
async fn a_rebound_host_is_refused_without_authentication(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let app = open_app(TestDb::new(backend).await, "", CorsPolicy::default());
    store_plan(
        &app,
        &minimal_plan(&plan_id(1), &["s3://a/in"], "s3://a/out", "x"),
    )
    .await;
    let before = app.counts().await;
    assert_ne!(before, Counts::ZERO);
    let job = format!("job:{}", plan_id(1));
    let plan = minimal_plan(&plan_id(2), &["s3://b/in"], "s3://b/out", "y").to_string();
    let event = json!({
        "eventType": "COMPLETE", "eventTime": "2026-01-01T00:00:00Z",
        "run": {"runId": "0194a0a0-0000-7000-8000-000000000001"},
        "job": {"namespace": "ns", "name": "evil"},
        "producer": "https://evil.example", "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json"
    })
    .to_string();
    let node = format!("/api/v1/graph/node?key={}", encode(&job));
    for (method, uri, content_type, body) in [
        ("POST", "/producer/execution-plans", V12, plan),
        ("POST", "/api/v1/lineage", "application/json", event),
        ("DELETE", node.as_str(), "", String::new()),
        (
            "POST",
            "/api/v1/admin/prune",
            "application/json",
            json!({"olderThan": "0s"}).to_string(),
        ),
        ("GET", "/api/v1/graph/nodes", "", String::new()),
    ] {
        let answer = from_host(&app, method, uri, EVIL, content_type, body).await;
        let problem =
            answer.assert_problem(StatusCode::MISDIRECTED_REQUEST, "host-not-allowed", None);
        let detail = problem["detail"].as_str().unwrap();
        assert!(
            detail.contains("HEADWATER_ALLOWED_HOSTS"),
            "{method} {uri}: {detail}"
        );
        assert!(detail.contains("evil.example"), "{detail}");
        assert!(
            !answer
                .headers
                .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN)
        );
    }
    assert_eq!(
        app.counts().await,
        before,
        "nothing stored, deleted or pruned"
    );
    // Case, a final dot and a port change nothing; a loopback name as a prefix is no loopback.
    for host in [
        "EVIL.example",
        "evil.example.:80",
        "localhost.evil.example",
        "127.0.0.1.nip.io",
    ] {
        let answer = from_host(&app, "GET", "/api/v1/graph/nodes", host, "", Vec::new()).await;
        assert_eq!(answer.status, StatusCode::MISDIRECTED_REQUEST, "{host}");
    }
}

/// Loopback names and IP addresses are this machine whatever the port (a page whose origin is
/// an address is served by it, so it can't rebind); configured names are answered too.
#[rstest]
#[tokio::test]
async fn loopback_addresses_and_configured_hosts_are_answered(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let app = open_app(
        TestDb::new(backend).await,
        "lineage.internal, hw.example.com:9000",
        CorsPolicy::default(),
    );
    let hosts = [
        "localhost:8080",
        "LocalHost",
        "127.0.0.1:8080",
        "[::1]:8080",
        "10.1.2.3:8080",
        "lineage.internal",
        "Lineage.Internal:8080",
        "hw.example.com",
    ];
    for (n, host) in (10..).zip(hosts) {
        let plan = minimal_plan(&plan_id(n), &["s3://a/in"], "s3://a/out", "x").to_string();
        let stored = from_host(&app, "POST", "/producer/execution-plans", host, V12, plan).await;
        assert_eq!(
            stored.status,
            StatusCode::CREATED,
            "{host}: {}",
            stored.text()
        );
        let read = from_host(&app, "GET", "/api/v1/graph/nodes", host, "", Vec::new()).await;
        assert_eq!(read.status, StatusCode::OK, "{host}: {}", read.text());
    }
    let other = from_host(
        &app,
        "GET",
        "/health/live",
        "other.internal",
        "",
        Vec::new(),
    )
    .await;
    other.assert_problem(StatusCode::MISDIRECTED_REQUEST, "host-not-allowed", None);
    // `*` switches the check off.
    let any = open_app(app.db.clone(), "*", CorsPolicy::default());
    let read = from_host(&any, "GET", "/api/v1/graph/nodes", EVIL, "", Vec::new()).await;
    assert_eq!(read.status, StatusCode::OK);
}

/// A rebound page has no token, so with authentication the `Host` is not checked: a service
/// behind a proxy or under any DNS name needs no list.
#[rstest]
#[tokio::test]
async fn with_tokens_the_host_is_not_checked(#[values(Postgres, Sqlite)] backend: Backend) {
    let toml = token_entry("etl", "etl-secret", "\"producer\", \"consumer\"", "");
    let tokens = Tokens::parse(&toml).unwrap();
    let db = TestDb::new(backend).await;
    let state = AppState::shared(db.store(), HttpSettings::default(), true)
        .secured(Some(tokens), CorsPolicy::default());
    let app = TestApp {
        router: app(state),
        db,
    };
    let plan = minimal_plan(&plan_id(3), &["s3://a/in"], "s3://a/out", "x").to_string();
    let headers = [
        ("host", "lineage.example.com"),
        ("authorization", "Bearer etl-secret"),
        ("content-type", V12),
    ];
    let stored = app
        .send("POST", "/producer/execution-plans", &headers, plan.clone())
        .await;
    assert_eq!(stored.status, StatusCode::CREATED, "{}", stored.text());
    // Without a token: 401, not 421.
    let anonymous = app
        .send(
            "POST",
            "/producer/execution-plans",
            &[("host", EVIL), ("content-type", V12)],
            plan,
        )
        .await;
    anonymous.assert_problem(StatusCode::UNAUTHORIZED, "unauthorized", None);
}

/// `Access-Control-Allow-Origin: *` on every route let a page of any site read the whole
/// graph. By default only the Spline UI's API (`/consumer`, `/about`) answers other origins;
/// an origin named in the setting may read the rest.
#[rstest]
#[tokio::test]
async fn cors_headers_go_only_to_the_spline_ui_api_unless_the_origin_is_named(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let db = TestDb::new(backend).await;
    let by_default = open_app(db.clone(), "", CorsPolicy::default());
    let allow_origin = |answer: &TestResponse| {
        answer
            .headers
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    for origin in [
        "https://spline-ui.example",
        "http://anything.example:9090",
        "null",
    ] {
        for uri in [
            "/consumer/execution-events",
            "/consumer/operations/nope",
            "/about/liveness",
        ] {
            let answer = get(&by_default, uri, origin).await;
            assert_eq!(
                allow_origin(&answer).as_deref(),
                Some("*"),
                "{uri} from {origin}"
            );
        }
        for uri in [
            "/api/v1/graph/nodes",
            "/api/v1/graph/lineage?node=x&direction=both",
            "/api/v1/namespaces",
            "/api/v1/admin/audit",
            "/health/live",
        ] {
            let answer = get(&by_default, uri, origin).await;
            assert_eq!(allow_origin(&answer), None, "{uri} from {origin}");
        }
    }
    let named = open_app(
        db,
        "",
        CorsPolicy::parse("https://ui.example.com", false).unwrap(),
    );
    let allowed = get(&named, "/api/v1/graph/nodes", "https://ui.example.com").await;
    assert_eq!(allowed.status, StatusCode::OK);
    assert_eq!(
        allow_origin(&allowed).as_deref(),
        Some("https://ui.example.com")
    );
    let other = get(&named, "/api/v1/graph/nodes", "https://evil.example").await;
    assert_eq!(allow_origin(&other), None);
    // A preflight from another origin for the graph API is granted nothing.
    let preflight = by_default
        .send(
            "OPTIONS",
            "/api/v1/graph/nodes",
            &[
                ("origin", "https://evil.example"),
                ("access-control-request-method", "GET"),
            ],
            Vec::new(),
        )
        .await;
    assert_eq!(allow_origin(&preflight), None);
    assert!(
        !preflight
            .headers
            .contains_key(header::ACCESS_CONTROL_ALLOW_METHODS)
    );
}

/// The Swagger UI had no Content-Security-Policy and could be framed by any page.
#[rstest]
#[tokio::test]
async fn the_api_docs_page_has_a_content_security_policy_and_refuses_framing(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let app = TestApp::new(TestDb::new(backend).await);
    for uri in [
        "/docs/",
        "/docs/swagger-ui-bundle.js",
        "/docs/swagger-initializer.js",
    ] {
        let answer = app.get(uri).await;
        assert_eq!(answer.status, StatusCode::OK, "{uri}");
        let csp = answer.headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        for directive in [
            "default-src 'self'",
            "script-src 'self'",
            "object-src 'none'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(directive), "{uri}: {csp}");
        }
        assert!(
            !csp.contains("script-src 'self' 'unsafe"),
            "no inline or eval'd script: {csp}"
        );
        assert_eq!(answer.headers[header::X_FRAME_OPTIONS], "DENY", "{uri}");
        assert_eq!(answer.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    }
    // The page loads its scripts from files, none inline, so `script-src 'self'` lets it run.
    let page = app.get("/docs/").await.text();
    assert!(page.contains("<script src="), "{page}");
    assert!(!page.contains("<script>"), "{page}");
}
