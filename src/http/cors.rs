//! Cross-origin access from browsers.
//!
//! By default (`*`), pages of any origin may read what the Spline UI reads: the Spline consumer
//! API under `/consumer` and its `/about` probes, as Spline's own server allows the UI, which
//! runs on its own origin. Nothing else answers another origin's page: the graph, Marquez and
//! admin APIs stay unreadable to pages of other sites. Named origins
//! (`https://ui.example.com`) may read the whole API, and write to it when
//! `HEADWATER_CORS_ALLOW_WRITES` is on. Writes from another origin are refused unless so
//! allowed: CORS alone would only hide the answer of a "simple" cross-origin `POST` from the
//! page that sent it, after the write was done, so such writes are stopped here, before they
//! reach a handler.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower::{Layer, ServiceExt};
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};

use crate::error::Error;

/// Which origins may call the API from a browser, and whether they may write.
#[derive(Debug, Clone)]
pub struct CorsPolicy {
    origins: Origins,
    allow_writes: bool,
}

#[derive(Debug, Clone)]
enum Origins {
    None,
    Any,
    List(Vec<HeaderValue>),
}

impl Default for CorsPolicy {
    /// Any origin may read the Spline UI's API; none may write.
    fn default() -> Self {
        CorsPolicy {
            origins: Origins::Any,
            allow_writes: false,
        }
    }
}

impl CorsPolicy {
    /// Parses the setting: `*`, `none`, or comma-separated origins such as
    /// `https://ui.example.com`.
    pub fn parse(origins: &str, allow_writes: bool) -> anyhow::Result<CorsPolicy> {
        let text = origins.trim();
        let origins = match text {
            "*" if allow_writes => anyhow::bail!(
                "CORS writes can't be allowed to any origin (`*`); name the origins that may \
                 write, such as https://ui.example.com"
            ),
            "*" => Origins::Any,
            "" | "none" => Origins::None,
            list => Origins::List(
                list.split(',')
                    .map(|o| parse_origin(o.trim()))
                    .collect::<anyhow::Result<_>>()?,
            ),
        };
        Ok(CorsPolicy {
            origins,
            allow_writes,
        })
    }

    /// Wraps `router` in the layer answering preflights and adding the CORS headers: for
    /// named origins, on every route; for any origin (`*`), only on the Spline UI's API, so
    /// pages of other sites can't read the rest of it.
    pub fn apply(&self, router: Router) -> Router {
        match &self.origins {
            Origins::None => router,
            Origins::List(list) => router.layer(self.layer(AllowOrigin::list(list.clone()))),
            Origins::Any => {
                let layer = self.layer(AllowOrigin::any());
                router.layer(axum::middleware::from_fn(
                    move |request: Request, next: Next| {
                        let layer = layer.clone();
                        async move {
                            if spline_ui_api(request.uri().path()) {
                                let answer = layer.layer(next).oneshot(request).await;
                                answer.unwrap_or_else(|never| match never {})
                            } else {
                                next.run(request).await
                            }
                        }
                    },
                ))
            }
        }
    }

    fn layer(&self, origin: AllowOrigin) -> CorsLayer {
        let mut methods = vec![Method::GET, Method::HEAD];
        if self.allow_writes {
            methods.extend([Method::POST, Method::DELETE]);
        }
        CorsLayer::new()
            .allow_origin(origin)
            .allow_methods(methods)
            .allow_headers(AllowHeaders::mirror_request())
            .expose_headers([
                header::RETRY_AFTER,
                header::WWW_AUTHENTICATE,
                header::HeaderName::from_static("x-request-id"),
            ])
            .max_age(std::time::Duration::from_secs(1800))
    }

    /// Whether a write carrying this `Origin` may go ahead.
    fn write_allowed(&self, origin: &HeaderValue) -> bool {
        self.allow_writes
            && match &self.origins {
                Origins::None | Origins::Any => false,
                Origins::List(list) => list.contains(origin),
            }
    }
}

/// What the Spline UI calls from its own origin: the consumer API and the `/about` probes.
/// Compared percent-decoded, as routing matches it.
fn spline_ui_api(path: &str) -> bool {
    let path = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
    ["/consumer", "/about"]
        .iter()
        .any(|prefix| path == *prefix || path.starts_with(&format!("{prefix}/")))
}

fn parse_origin(text: &str) -> anyhow::Result<HeaderValue> {
    let uri: axum::http::Uri = text
        .parse()
        .map_err(|e| anyhow::anyhow!("CORS origin `{text}` is not a URL: {e}"))?;
    anyhow::ensure!(
        uri.scheme().is_some() && uri.host().is_some() && uri.path() == "/" && !text.ends_with('/'),
        "CORS origin `{text}` must be a scheme and a host, such as https://ui.example.com"
    );
    Ok(HeaderValue::from_str(text)?)
}

/// Refuses writes sent by a page of another origin, unless the policy allows them. Browsers
/// send `Origin` with every cross-origin write; producers (agents, scripts) send none.
pub(super) async fn guard_writes(
    State(policy): State<Arc<CorsPolicy>>,
    request: Request,
    next: Next,
) -> Response {
    let write = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if let Some(origin) = request.headers().get(header::ORIGIN)
        && write
        && !same_origin(origin, request.headers())
        && !policy.write_allowed(origin)
    {
        return Error::Forbidden(
            "writes from a browser page of another origin are refused (see HEADWATER_CORS_ALLOW_WRITES)"
                .to_owned(),
        )
        .into_response();
    }
    next.run(request).await
}

/// Whether `Origin` names the host the request was sent to (the explorer calling its own API).
fn same_origin(origin: &HeaderValue, headers: &HeaderMap) -> bool {
    let (Ok(origin), Some(host)) = (
        origin.to_str(),
        headers.get(header::HOST).and_then(|h| h.to_str().ok()),
    ) else {
        return false;
    };
    origin
        .split_once("://")
        .is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_parse() {
        assert!(matches!(
            CorsPolicy::parse("*", false).unwrap().origins,
            Origins::Any
        ));
        assert!(matches!(
            CorsPolicy::parse("none", false).unwrap().origins,
            Origins::None
        ));
        let list = CorsPolicy::parse("https://a.example, http://b.example:9090", true).unwrap();
        assert!(list.write_allowed(&HeaderValue::from_static("https://a.example")));
        assert!(!list.write_allowed(&HeaderValue::from_static("https://c.example")));
        let err = CorsPolicy::parse("a.example/path", false).unwrap_err();
        assert!(err.to_string().contains("a.example/path"), "{err}");
        assert!(
            !CorsPolicy::default().write_allowed(&HeaderValue::from_static("https://a.example"))
        );
        let err = CorsPolicy::parse("*", true).unwrap_err();
        assert!(err.to_string().contains("name the origins"), "{err}");
    }

    #[test]
    fn any_origin_reads_only_the_spline_ui_api() {
        for path in [
            "/consumer",
            "/consumer/execution-events",
            "/about/version",
            "/%63onsumer/x",
        ] {
            assert!(spline_ui_api(path), "{path}");
        }
        for path in [
            "/api/v1/graph/nodes",
            "/consumerx",
            "/",
            "/docs/",
            "/api/v1/consumer",
        ] {
            assert!(!spline_ui_api(path), "{path}");
        }
    }

    #[test]
    fn the_own_host_is_the_same_origin() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(same_origin(
            &HeaderValue::from_static("http://127.0.0.1:8080"),
            &headers
        ));
        assert!(!same_origin(
            &HeaderValue::from_static("http://evil.example"),
            &headers
        ));
    }
}
