//! Query-string extraction that names the offending parameter.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
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
