//! Cross-origin access from browsers.
//!
//! Reads are open to the configured origins (any, by default, as Spline's server allows the
//! Spline UI, which runs on its own origin). Writes from another origin are refused unless
//! switched on: CORS alone would only hide the answer of a "simple" cross-origin `POST` from
//! the page that sent it, after the write was done, so such writes are stopped here, before
//! they reach a handler.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
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
    /// Any origin may read; none may write.
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

    /// The tower-http layer answering preflights and adding the CORS headers; `None` when no
    /// origin is allowed.
    pub fn layer(&self) -> Option<CorsLayer> {
        let origin = match &self.origins {
            Origins::None => return None,
            Origins::Any => AllowOrigin::any(),
            Origins::List(list) => AllowOrigin::list(list.clone()),
        };
        let mut methods = vec![Method::GET, Method::HEAD];
        if self.allow_writes {
            methods.extend([Method::POST, Method::DELETE]);
        }
        Some(
            CorsLayer::new()
                .allow_origin(origin)
                .allow_methods(methods)
                .allow_headers(AllowHeaders::mirror_request())
                .expose_headers([
                    header::RETRY_AFTER,
                    header::WWW_AUTHENTICATE,
                    header::HeaderName::from_static("x-request-id"),
                ])
                .max_age(std::time::Duration::from_secs(1800)),
        )
    }

    /// Whether a write carrying this `Origin` may go ahead.
    fn write_allowed(&self, origin: &HeaderValue) -> bool {
        self.allow_writes
            && match &self.origins {
                Origins::None => false,
                Origins::Any => true,
                Origins::List(list) => list.contains(origin),
            }
    }
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
        assert!(CorsPolicy::parse("none", false).unwrap().layer().is_none());
        let list = CorsPolicy::parse("https://a.example, http://b.example:9090", true).unwrap();
        assert!(list.write_allowed(&HeaderValue::from_static("https://a.example")));
        assert!(!list.write_allowed(&HeaderValue::from_static("https://c.example")));
        let err = CorsPolicy::parse("a.example/path", false).unwrap_err();
        assert!(err.to_string().contains("a.example/path"), "{err}");
        assert!(
            !CorsPolicy::default().write_allowed(&HeaderValue::from_static("https://a.example"))
        );
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
