//! The HTTP client side shared by the ingest and query phases: one client,
//! URLs under the service's base, and one way to send a request and insist
//! on the expected status.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use reqwest::{Client, RequestBuilder, StatusCode, Url};

/// Per-request ceiling, far above any sane latency, so that a wedged server
/// fails the run instead of hanging it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

pub fn client() -> Result<Client> {
    Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .context("building the HTTP client")
}

/// `base` with `path` appended, keeping any path prefix `base` already has
/// (`Url::join` would replace its last segment).
pub fn endpoint(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    let joined = format!("{}/{path}", base.path().trim_end_matches('/'));
    url.set_path(&joined);
    url
}

/// Sends `request` and reads the whole answer. Any status but `expected` is
/// an error carrying the start of the answer, which is usually the service's
/// reason.
pub async fn send(request: RequestBuilder, expected: StatusCode) -> Result<Bytes> {
    let (client, request) = request.build_split();
    let request = request.context("building the request")?;
    let what = format!("{} {}", request.method(), request.url());
    let response = client
        .execute(request)
        .await
        .with_context(|| what.clone())?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .with_context(|| format!("reading answer of {what}"))?;
    if status != expected {
        bail!(
            "{what} answered {status}: {}",
            snippet(&String::from_utf8_lossy(&body))
        );
    }
    Ok(body)
}

/// At most 300 characters, so one bad answer cannot flood the terminal.
fn snippet(text: &str) -> String {
    match text.char_indices().nth(300) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_keeps_prefixes() {
        let plain: Url = "http://127.0.0.1:8080".parse().unwrap();
        assert_eq!(
            endpoint(&plain, "producer/status").as_str(),
            "http://127.0.0.1:8080/producer/status"
        );
        let prefixed: Url = "http://h/lineage/".parse().unwrap();
        assert_eq!(
            endpoint(&prefixed, "api/v1/x").as_str(),
            "http://h/lineage/api/v1/x"
        );
    }

    #[test]
    fn snippet_cuts_long_text() {
        assert_eq!(snippet("short"), "short");
        assert_eq!(snippet(&"é".repeat(400)).chars().count(), 301);
    }
}
