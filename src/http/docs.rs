//! The OpenAPI document: generated from the handlers' annotations, committed as
//! `openapi/openapi.json`, served at `/openapi.json` with an interactive page at `/docs`.

use utoipa::OpenApi;

use axum::http::Method;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, Ref, ResponseBuilder};

use super::auth::{Access, access};
use super::{admin, auth, graph, health, marquez, openlineage, producer, spline_consumer};
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
        (name = admin::TAG, description = "Deleting, pruning, replaying, and the audit log: for tokens with the admin scope"),
        (name = auth::TAG, description = "OAuth 2.0 client credentials, for producers that can only authenticate that way"),
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

/// The name of the bearer-token security scheme.
const BEARER: &str = "bearer";

/// Marks every operation that needs a token: the bearer scheme, and its 401 and 403 answers.
/// Derived from the same [`access`] rules the middleware applies, so the two can't disagree.
pub(super) fn secure(doc: &mut Document) {
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        BEARER,
        SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
    );
    for (path, item) in doc.paths.paths.iter_mut() {
        let operations = [
            (Method::GET, &mut item.get),
            (Method::HEAD, &mut item.head),
            (Method::POST, &mut item.post),
            (Method::PUT, &mut item.put),
            (Method::DELETE, &mut item.delete),
            (Method::PATCH, &mut item.patch),
        ];
        for (method, operation) in operations {
            let Some(operation) = operation.as_mut() else {
                continue;
            };
            if access(&method, path) == Access::Open {
                continue;
            }
            operation.security = Some(vec![SecurityRequirement::new(BEARER, Vec::<String>::new())]);
            let responses = &mut operation.responses.responses;
            responses.insert(
                "401".to_owned(),
                problem("No bearer token, or an invalid one").into(),
            );
            responses.insert(
                "403".to_owned(),
                problem("The token lacks the scope (or namespace) this needs").into(),
            );
        }
    }
}

fn problem(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
}
