//! The OpenAPI document: generated from the handlers' annotations, committed as
//! `openapi/openapi.json`, served at `/openapi.json` with an interactive page at `/docs`.

use utoipa::Number;
use utoipa::OpenApi;
use utoipa::openapi::RefOr;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::schema::{KnownFormat, Object, Schema, SchemaFormat, SchemaType, Type};

use axum::http::{HeaderValue, Method, header};
use axum::response::Response;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, Ref, ResponseBuilder};
use utoipa_swagger_ui::SwaggerUi;

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

/// What the vendored Swagger UI needs, and nothing more: its scripts, styles and icons come from
/// `/docs/` itself (no inline script; React and its syntax highlighter set inline styles; its
/// CSS carries `data:` images), and it fetches `/openapi.json` and the API from this origin.
/// No page of another origin may frame it, so a click on "Execute" can't be hijacked.
const UI_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                      img-src 'self' data:; object-src 'none'; base-uri 'none'; \
                      form-action 'self'; frame-ancestors 'none'";

/// The Swagger UI at `/docs` over the document at `/openapi.json`, with a
/// Content-Security-Policy and framing refused on every answer.
pub(super) fn ui<S: Clone + Send + Sync + 'static>(document: Document) -> axum::Router<S> {
    axum::Router::from(SwaggerUi::new("/docs").url("/openapi.json", document))
        .layer(axum::middleware::map_response(ui_headers))
}

async fn ui_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let fixed = [
        (header::CONTENT_SECURITY_POLICY, UI_CSP),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
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

/// utoipa writes a `u32` parameter as `int32` with minimum 0, which promises half the range the
/// handlers accept: Schemathesis then takes `offset=2147483648` for invalid and fails the
/// answer that accepts it. Say what is accepted: `int64` from 0 to `u32::MAX`. (utoipa's
/// `non_strict_integers` would write the format as `u-int32`, a name no tool knows.)
pub(super) fn widen_unsigned_parameters(doc: &mut utoipa::openapi::OpenApi) {
    let operations = doc.paths.paths.values_mut().flat_map(operations);
    let parameters = operations.flat_map(|o| o.parameters.iter_mut().flatten());
    for parameter in parameters {
        if let Some(RefOr::T(Schema::Object(schema))) = &mut parameter.schema {
            widen_if_unsigned(schema);
        }
    }
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .flatten()
}

fn widen_if_unsigned(schema: &mut Object) {
    let from_zero = match schema.minimum {
        Some(Number::Int(n)) => n == 0,
        Some(Number::UInt(n)) => n == 0,
        Some(Number::Float(n)) => n == 0.0,
        None => false,
    };
    let unsigned = from_zero
        && schema.schema_type == SchemaType::Type(Type::Integer)
        && schema.format == Some(SchemaFormat::KnownFormat(KnownFormat::Int32));
    if unsigned {
        schema.format = Some(SchemaFormat::KnownFormat(KnownFormat::Int64));
        if schema.maximum.is_none() {
            schema.maximum = Some(Number::UInt(u32::MAX as usize));
        }
    }
}
