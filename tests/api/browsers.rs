//! What a browser may do with the service: which Host names it answers with authentication
//! off (DNS rebinding), which pages of other origins may read it (CORS), and the headers that
//! keep its own pages from being framed or injected into. Through the real router, on both
//! backends.

use axum::http::{StatusCode, header};
use rstest::rstest;

use crate::helpers::{Backend, Postgres, Sqlite, TestApp, TestDb};

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
