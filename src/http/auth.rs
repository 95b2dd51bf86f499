//! Bearer-token authentication and scope checks, for every route at once.
//!
//! Which scope a request needs follows from its method and path alone ([`access`]), decided
//! before routing: an unknown path, or a node that doesn't exist, answers 401 or 403 to a
//! caller without the right token exactly as an existing one does, so neither status tells
//! what exists. Probes, metrics, the API description and the explorer's static files stay
//! open; so does the OAuth token endpoint, which checks its own client credentials.

use std::borrow::Cow;

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use crate::auth::{Principal, Scope, Tokens};
use crate::error::Error;

pub(super) const TAG: &str = "auth";

/// What a request needs before it reaches its handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Nothing: probes, metrics, the API description, the explorer's files.
    Open,
    /// A token carrying this scope.
    Needs(Scope),
    /// Any valid token (a method no route takes there; routing answers 404 or 405 after).
    Authenticated,
}

/// Paths anyone may call.
const OPEN_PATHS: [&str; 9] = [
    "/",
    "/health/live",
    "/health/ready",
    "/metrics",
    "/producer/status",
    "/about/liveness",
    "/about/readiness",
    "/openapi.json",
    "/oauth/token",
];

/// Path prefixes anyone may call: the Swagger UI and the explorer's static files.
const OPEN_PREFIXES: [&str; 2] = ["/docs", "/ui"];

/// Paths that take lineage from producers.
const PRODUCER_PATHS: [&str; 4] = [
    "/producer/execution-plans",
    "/producer/execution-events",
    "/api/v1/lineage",
    "/api/v1/lineage/batch",
];

/// What `method` on `path` needs. The path is compared percent-decoded, so an encoded letter
/// can't slip an admin path past the prefix check.
pub fn access(method: &Method, path: &str) -> Access {
    let path: Cow<'_, str> = percent_decoded(path);
    let path = path.trim_end_matches('/');
    let path = if path.is_empty() { "/" } else { path };
    if *method == Method::OPTIONS
        || OPEN_PATHS.contains(&path)
        || OPEN_PREFIXES
            .iter()
            .any(|p| path == *p || path.starts_with(&format!("{p}/")))
    {
        return Access::Open;
    }
    if path.starts_with("/api/v1/admin") || *method == Method::DELETE {
        return Access::Needs(Scope::Admin);
    }
    match *method {
        Method::POST if PRODUCER_PATHS.contains(&path) => Access::Needs(Scope::Producer),
        Method::GET | Method::HEAD => Access::Needs(Scope::Consumer),
        _ => Access::Authenticated,
    }
}

fn percent_decoded(path: &str) -> Cow<'_, str> {
    percent_encoding::percent_decode_str(path).decode_utf8_lossy()
}

/// Checks the request's token against what its route needs, and hands the handler who made
/// it. With authentication off, everyone is [`Principal::anonymous`].
pub(super) async fn require(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let principal = match &state.auth {
        None => Ok(Some(Principal::anonymous())),
        Some(tokens) => check(
            tokens,
            request.method(),
            request.uri().path(),
            request.headers(),
        ),
    };
    match principal {
        Ok(Some(principal)) => {
            request.extensions_mut().insert(principal);
            next.run(request).await
        }
        Ok(None) => next.run(request).await,
        Err(err) => err.into_response(),
    }
}

/// The principal a request acts as (`None` on an open route without a valid token), or the
/// 401 or 403 it answers.
fn check(
    tokens: &Tokens,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
) -> Result<Option<Principal>, Error> {
    let presented = bearer(headers);
    let principal = presented
        .and_then(|secret| tokens.authenticate(secret))
        .cloned();
    let needed = access(method, path);
    match (needed, principal) {
        (Access::Open, principal) => Ok(principal),
        (_, None) => Err(Error::Unauthorized {
            detail: match presented {
                Some(_) => "the bearer token is not valid".to_owned(),
                None => "this endpoint needs an `Authorization: Bearer <token>` header".to_owned(),
            },
            invalid_token: presented.is_some(),
        }),
        (Access::Needs(scope), Some(p)) if !p.may(scope) => {
            tracing::info!(principal = %p.name, %scope, %method, path, "forbidden: missing scope");
            Err(Error::Forbidden(format!(
                "the token `{}` lacks the `{scope}` scope this endpoint needs",
                p.name
            )))
        }
        (_, Some(p)) => Ok(Some(p)),
    }
}

/// The secret of an `Authorization: Bearer <secret>` header; the scheme is case-insensitive.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, secret) = value.trim().split_once(' ')?;
    let secret = secret.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !secret.is_empty()).then_some(secret)
}

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(token))
}

/// An OAuth 2.0 client-credentials token request (RFC 6749 §4.4), as the Spline agent's
/// `authentication.type=OAUTH` sends it.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct TokenRequest {
    /// Must be `client_credentials`.
    grant_type: Option<String>,
    /// The token's name.
    client_id: Option<String>,
    /// The token's secret.
    client_secret: Option<String>,
    /// Scopes asked for, space-separated; each must be one the token has.
    scope: Option<String>,
}

/// The answer to a token request.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenGrant {
    /// The bearer token to send as `Authorization: Bearer <access_token>`.
    access_token: String,
    /// Always `Bearer`.
    token_type: &'static str,
    /// Seconds until the client should fetch a token again.
    expires_in: u64,
    /// The token's scopes, space-separated.
    scope: String,
}

/// An OAuth 2.0 error answer (RFC 6749 §5.2): what OAuth clients parse.
#[derive(Debug, Serialize, ToSchema)]
pub struct OAuthError {
    /// `invalid_request`, `invalid_client`, `unsupported_grant_type` or `invalid_scope`.
    error: &'static str,
    /// What is wrong, for a human.
    error_description: String,
}

/// How often a client re-fetches; the grant is the configured token itself, so this only
/// bounds how long a client keeps using a token that was since removed from the file.
const GRANT_SECONDS: u64 = 3600;

/// Exchange client credentials for a bearer token (OAuth 2.0 client credentials).
///
/// For producers that can only authenticate with OAuth, such as the Spline Spark agent: the
/// client id is the token's name, the client secret its secret, sent in the form or with HTTP
/// Basic authentication. The access token granted is that same secret: Headwater's tokens are
/// static API keys, and this endpoint only speaks the protocol those clients expect.
#[utoipa::path(
    post,
    path = "/oauth/token",
    tag = TAG,
    operation_id = "auth.oauth.token",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The bearer token", body = TokenGrant),
        (status = 400, description = "Not a client-credentials request, or a scope the token lacks", body = OAuthError),
        (status = 401, description = "Unknown client or wrong secret", body = OAuthError),
    )
)]
async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    match grant(state.auth.as_deref(), &headers, &body) {
        Ok(grant) => (
            StatusCode::OK,
            [(header::CACHE_CONTROL, "no-store")],
            Json(grant),
        )
            .into_response(),
        Err((status, error)) => {
            let mut response = (status, Json(error)).into_response();
            if status == StatusCode::UNAUTHORIZED {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    header::HeaderValue::from_static("Basic realm=\"headwater\""),
                );
            }
            response
        }
    }
}

type OAuthFailure = (StatusCode, OAuthError);

fn oauth_error(
    status: StatusCode,
    error: &'static str,
    description: impl Into<String>,
) -> OAuthFailure {
    (
        status,
        OAuthError {
            error,
            error_description: description.into(),
        },
    )
}

fn grant(
    tokens: Option<&Tokens>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<TokenGrant, OAuthFailure> {
    let bad = |d: &str| oauth_error(StatusCode::BAD_REQUEST, "invalid_request", d);
    let form: TokenRequest = serde_urlencoded::from_bytes(body)
        .map_err(|e| bad(&format!("the body is not a form: {e}")))?;
    if form.grant_type.as_deref() != Some("client_credentials") {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "only grant_type=client_credentials is supported",
        ));
    }
    let (id, secret) = basic_credentials(headers)
        .or_else(|| form.client_id.clone().zip(form.client_secret.clone()))
        .ok_or_else(|| bad("client_id and client_secret are required"))?;
    let Some(tokens) = tokens else {
        return Err(bad(
            "authentication is off on this server; no token is needed",
        ));
    };
    let principal = tokens.authenticate_client(&id, &secret).ok_or_else(|| {
        oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown client or wrong secret",
        )
    })?;
    check_scopes(principal, form.scope.as_deref())?;
    Ok(TokenGrant {
        access_token: secret,
        token_type: "Bearer",
        expires_in: GRANT_SECONDS,
        scope: principal
            .scopes
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" "),
    })
}

fn check_scopes(principal: &Principal, asked: Option<&str>) -> Result<(), OAuthFailure> {
    for name in asked.unwrap_or_default().split_whitespace() {
        let held = Scope::parse(name).is_some_and(|s| principal.may(s));
        if !held {
            return Err(oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                format!("the client does not hold the scope `{name}`"),
            ));
        }
    }
    Ok(())
}

/// `Authorization: Basic base64(id:secret)`, the other way RFC 6749 lets clients authenticate.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_route_needs_its_scope() {
        let get = Method::GET;
        let post = Method::POST;
        assert_eq!(access(&get, "/health/ready"), Access::Open);
        assert_eq!(access(&Method::HEAD, "/producer/status"), Access::Open);
        assert_eq!(access(&get, "/ui/app.js"), Access::Open);
        assert_eq!(access(&get, "/docs/"), Access::Open);
        assert_eq!(access(&get, "/docsx"), Access::Needs(Scope::Consumer));
        assert_eq!(
            access(&post, "/producer/execution-plans"),
            Access::Needs(Scope::Producer)
        );
        assert_eq!(
            access(&post, "/api/v1/lineage/batch/"),
            Access::Needs(Scope::Producer)
        );
        assert_eq!(
            access(&get, "/api/v1/lineage"),
            Access::Needs(Scope::Consumer)
        );
        assert_eq!(
            access(&get, "/api/v1/graph/nope"),
            Access::Needs(Scope::Consumer)
        );
        assert_eq!(
            access(&get, "/api/v1/admin/audit"),
            Access::Needs(Scope::Admin)
        );
        assert_eq!(
            access(&get, "/api/v1/%61dmin/audit"),
            Access::Needs(Scope::Admin)
        );
        assert_eq!(
            access(&Method::DELETE, "/api/v1/graph/node"),
            Access::Needs(Scope::Admin)
        );
        assert_eq!(
            access(&Method::PUT, "/api/v1/graph/node"),
            Access::Authenticated
        );
        assert_eq!(
            access(&post, "/api/v1/graph/lineage"),
            Access::Authenticated
        );
    }

    #[test]
    fn only_bearer_headers_carry_a_secret() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::AUTHORIZATION, v.parse().unwrap());
            h
        };
        assert_eq!(bearer(&with("Bearer abc")), Some("abc"));
        assert_eq!(bearer(&with("bearer  abc ")), Some("abc"));
        assert_eq!(bearer(&with("Basic abc")), None);
        assert_eq!(bearer(&with("Bearer ")), None);
        assert_eq!(bearer(&HeaderMap::new()), None);
    }

    #[test]
    fn basic_credentials_decode() {
        let mut h = HeaderMap::new();
        let encoded = base64::engine::general_purpose::STANDARD.encode("etl:s3:cret");
        h.insert(
            header::AUTHORIZATION,
            format!("Basic {encoded}").parse().unwrap(),
        );
        assert_eq!(
            basic_credentials(&h),
            Some(("etl".to_owned(), "s3:cret".to_owned()))
        );
    }
}
