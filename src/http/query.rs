//! Query-string extraction that names the offending parameter.

use axum::extract::{FromRequestParts, Request};
use axum::http::Uri;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::error::Error;

/// Like `axum::extract::Query`, but a bad parameter is a problem document whose `path` is the
/// parameter's name.
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Error> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(ApiQuery)
            .map_err(|err| {
                let path = err.path().to_string();
                let message = err.into_inner().to_string();
                let (path, message) = match message.strip_prefix("missing field `") {
                    Some(rest) => (
                        rest.trim_end_matches('`').to_owned(),
                        "this parameter is required".to_owned(),
                    ),
                    None => (path, message),
                };
                Error::bad_request(
                    "invalid-parameter",
                    format!("query parameter `{path}`: {message}"),
                    Some(path),
                )
            })
    }
}

/// Refuses a path or query parameter holding U+0000 (`%00`), on every route. PostgreSQL text
/// cannot hold it, so such a parameter could only fail in the database, as our fault; and the
/// backends must answer alike.
pub(super) async fn reject_nul(request: Request, next: Next) -> Response {
    match nul_parameter(request.uri()) {
        Some(err) => err.into_response(),
        None => next.run(request).await,
    }
}

fn nul_parameter(uri: &Uri) -> Option<Error> {
    let detail = |place: &str| format!("{place} must not contain U+0000 (%00)");
    if uri.path().contains("%00") {
        return Some(Error::bad_request(
            "invalid-parameter",
            detail("the URL path"),
            None,
        ));
    }
    let query = uri.query()?;
    let (name, _) = form_urlencoded::parse(query.as_bytes())
        .find(|(name, value)| name.contains('\0') || value.contains('\0'))?;
    let place = format!("query parameter `{name}`");
    Some(Error::bad_request(
        "invalid-parameter",
        detail(&place),
        Some(name.into_owned()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `%00` reached PostgreSQL, which refused it: a 500 (found by Schemathesis).
    #[test]
    fn a_nul_in_the_path_or_a_parameter_is_refused() {
        let uri = |s: &str| s.parse::<Uri>().unwrap();
        let found = nul_parameter(&uri("/consumer/labels/names?offset=1&search=%00%C2%AB"));
        assert!(matches!(found, Some(Error::BadRequest { path: Some(p), .. }) if p == "search"));
        let found = nul_parameter(&uri("/api/v1/namespaces/%00/jobs"));
        assert!(matches!(found, Some(Error::BadRequest { path: None, .. })));
        assert!(nul_parameter(&uri("/api/v1/graph/nodes?q=%2500&limit=1")).is_none());
    }
}
