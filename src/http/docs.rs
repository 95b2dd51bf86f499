//! The OpenAPI document: generated from the handlers' annotations, committed as
//! `openapi/openapi.json`, served at `/openapi.json` with an interactive page at `/docs`.

use utoipa::OpenApi;

use super::{graph, health, marquez, openlineage, producer, spline_consumer};
use crate::error::Problem;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Headwater",
        description = "Data-lineage capture: Spline producer API in, lineage subgraphs out.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    tags(
        (name = producer::TAG, description = "The Spline producer REST API, as the Spline Spark agent speaks it"),
        (name = openlineage::TAG, description = "The OpenLineage producer API, where OpenLineage clients and integrations post events"),
        (name = marquez::TAG, description = "A Marquez-compatible read API for Marquez's UI and clients"),
        (name = graph::TAG, description = "Lineage subgraphs, node search and node details"),
        (name = spline_consumer::TAG, description = "The Spline consumer REST API and /about probes, for the Spline UI and Spline clients"),
        (name = health::TAG, description = "Liveness and readiness probes, and Prometheus metrics"),
    ),
    components(schemas(Problem)),
)]
struct ApiDoc;

/// The document's fixed parts; paths are added by the routers.
pub(super) fn base() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The complete OpenAPI document, as served at `/openapi.json`.
pub fn api_doc() -> utoipa::openapi::OpenApi {
    super::routes().1
}
