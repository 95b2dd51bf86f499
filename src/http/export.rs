//! Content negotiation for lineage answers: JSON by default, or DOT, Mermaid or GraphML for
//! Graphviz, documentation pages and graph tools, by `format=` or the `Accept` header.

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::error::{Error, Result};
use crate::graph::export::{self, Format};
use crate::model::{Edge, Node};

/// Picks the format: `format=` wins, then `Accept`; JSON when neither says.
pub(super) fn negotiate(format: Option<&str>, headers: &HeaderMap) -> Result<Format> {
    if let Some(name) = format {
        return Format::parse(name).ok_or_else(|| {
            let detail = format!("unknown format `{name}`; use json, dot, mermaid or graphml");
            Error::bad_request("invalid-parameter", detail, Some("format".to_owned()))
        });
    }
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("*/*");
    Ok(Format::from_accept(accept).unwrap_or(Format::Json))
}

/// Renders the answer: `json` as is, the other formats from its nodes and edges (borrowed, so
/// a JSON answer is never copied for them).
pub(super) fn render<P>(
    format: Format,
    nodes: &[Node<P>],
    edges: &[Edge],
    json: impl FnOnce() -> Response,
) -> Response {
    let text = match format {
        Format::Json => return json(),
        Format::Dot => export::dot(nodes, edges),
        Format::Mermaid => export::mermaid(nodes, edges),
        Format::GraphMl => export::graphml(nodes, edges),
    };
    let mut response = text.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.media_type()),
    );
    response
}
