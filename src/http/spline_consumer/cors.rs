//! Cross-origin access for the consumer API, as Spline's server allows it.
//!
//! The Spline UI is a browser application served from its own origin (its own container), and
//! calls `SPLINE_CONSUMER_URL` from the browser: without CORS headers the browser hides every
//! answer from it. Spline's server applies Spring's permissive defaults (any origin, `GET`,
//! `HEAD` and `POST`, any header, preflights cached for 30 minutes); this does the same for
//! `/consumer` and `/about`, which only read.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Answers preflights itself and adds `Access-Control-Allow-Origin: *` to every answer.
pub(super) async fn permissive(request: Request, next: Next) -> Response {
    let mut response = match preflight(&request) {
        Some(headers) => (StatusCode::NO_CONTENT, headers).into_response(),
        None => next.run(request).await,
    };
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

/// The headers of a preflight answer, when `request` is one (`OPTIONS` asking for a method).
fn preflight(request: &Request) -> Option<HeaderMap> {
    let asked = request
        .headers()
        .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if request.method() != Method::OPTIONS || !asked {
        return None;
    }
    let mut headers = HeaderMap::new();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, HEAD, POST"),
    );
    // Any header the browser asks for, as Spring's `*` allows.
    if let Some(asked) = request
        .headers()
        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
    {
        headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
    }
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("1800"),
    );
    Some(headers)
}
