//! The HTTP surface: routers, middleware, and serving with graceful shutdown.
//!
//! [`app`] is the seam tests use (`app(state).oneshot(request)`); [`serve`] runs the same router
//! on a listener until a shutdown future resolves.

mod admin;
mod anomalies;
mod auth;
// Public so the fuzz targets (`fuzz/`) inflate bodies exactly as the handlers do.
pub mod body;
mod columns;
mod connections;
mod cors;
mod cursor;
mod docs;
mod explorer;
mod export;
mod graph;
mod health;
mod hosts;
mod impact;
mod layout;
mod marquez;
mod metrics;
mod offload;
mod openlineage;
mod paths;
mod producer;
mod query;
mod redact;
mod scope;
mod spline_consumer;
mod walker;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{
    DefaultOnBodyChunk, DefaultOnEos, DefaultOnFailure, DefaultOnResponse, TraceLayer,
};
use tracing::Level;
use utoipa::openapi::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::auth::Tokens;
use crate::error::Error;
use crate::graph::index::{LineageIndex, LinkFeed};
use crate::ingest::IngestLimits;
use crate::store::Store;

pub use admin::{cutoff_target, range_target};
pub use auth::{Access, access};
pub use connections::ConnectionLimits;
pub use cors::CorsPolicy;
pub use docs::api_doc;
pub use hosts::AllowedHosts;

/// Limits the HTTP layer enforces.
#[derive(Debug, Clone, Copy)]
pub struct HttpSettings {
    /// Largest accepted request body, after gunzip.
    pub max_body_bytes: usize,
    /// Bytes of request bodies in memory at once, across all requests, on the wire and
    /// inflated (see [`body::BodyBudget`]).
    pub body_budget_bytes: usize,
    /// Longest a request may take before it answers 408.
    pub request_timeout: Duration,
    /// Bounds on what one payload may hold.
    pub ingest: IngestLimits,
    /// Bounds on what one question may ask for.
    pub query: QueryLimits,
    /// Bounds on client connections: how long and how many.
    pub connections: ConnectionLimits,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            max_body_bytes: 64 * 1024 * 1024,
            body_budget_bytes: 256 * 1024 * 1024,
            request_timeout: Duration::from_secs(120),
            ingest: IngestLimits::default(),
            query: QueryLimits::default(),
            connections: ConnectionLimits::default(),
        }
    }
}

/// Bounds on lineage questions: how far and how much a walk may go, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryLimits {
    /// Largest `depth` a question may ask for.
    pub max_depth: u32,
    /// Largest `maxNodes` a question may ask for, and the most nodes any answer holds.
    pub max_nodes: u32,
    /// How long a read may take before it answers 422.
    pub timeout: Duration,
    /// Most steps a computation whose cost is not linear in its answer may take (a path
    /// search, a layout's crossing reduction) before it stops with what it has.
    pub max_steps: u64,
    /// Most edges a lineage answer holds, collapsed `flows_to` edges included.
    pub max_result_edges: usize,
    /// Largest lineage answer, in bytes of JSON, estimated as it is built.
    pub max_result_bytes: usize,
}

impl Default for QueryLimits {
    fn default() -> Self {
        QueryLimits {
            max_depth: 50,
            max_nodes: 100_000,
            timeout: Duration::from_secs(30),
            max_steps: 20_000_000,
            max_result_edges: 100_000,
            max_result_bytes: 32 * 1024 * 1024,
        }
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// Where lineage is stored.
    pub store: Arc<dyn Store>,
    /// Request limits.
    pub settings: HttpSettings,
    /// The in-memory lineage index walks run on; `None` walks the database.
    pub index: Option<Arc<LineageIndex>>,
    /// The API tokens; `None` when authentication is off.
    pub auth: Option<Arc<Tokens>>,
    /// Which browser origins may call the API.
    pub cors: Arc<CorsPolicy>,
    /// Room for the CPU-heavy parts of requests, run off the async workers ([`offload`]).
    pub computations: Arc<Semaphore>,
    /// Seals and opens page cursors.
    cursors: Arc<cursor::Cursors>,
    /// The memory request bodies may take together.
    pub body_budget: Arc<body::BodyBudget>,
    /// The `Host` names answered while authentication is off.
    pub hosts: Arc<AllowedHosts>,
}

impl AppState {
    /// Bundles a store with settings, and an index over it.
    pub fn new(store: impl Store, settings: HttpSettings) -> Self {
        Self::shared(Arc::new(store), settings, true)
    }

    /// Bundles a shared store with settings, with or without an in-memory lineage index.
    /// Authentication is off and CORS at its defaults until set with [`AppState::secured`].
    pub fn shared(store: Arc<dyn Store>, settings: HttpSettings, indexed: bool) -> Self {
        let index = indexed.then(|| {
            let feed: Arc<dyn LinkFeed> = store.clone();
            Arc::new(LineageIndex::new(feed))
        });
        AppState {
            store,
            settings,
            index,
            auth: None,
            cors: Arc::new(CorsPolicy::default()),
            computations: Arc::new(Semaphore::new(offload::concurrency())),
            cursors: Arc::default(),
            body_budget: Arc::new(body::BodyBudget::new(settings.body_budget_bytes)),
            hosts: Arc::new(AllowedHosts::default()),
        }
    }

    /// The same state answering these `Host` names, beyond loopback names and addresses,
    /// while authentication is off.
    pub fn with_allowed_hosts(self, hosts: AllowedHosts) -> Self {
        AppState {
            hosts: Arc::new(hosts),
            ..self
        }
    }

    /// The same state with authentication by `tokens` (`None`: off) and this CORS policy.
    pub fn secured(self, tokens: Option<Tokens>, cors: CorsPolicy) -> Self {
        AppState {
            auth: tokens.map(Arc::new),
            cors: Arc::new(cors),
            ..self
        }
    }
}

/// Every route, with its OpenAPI description, before state is attached.
fn routes() -> (Router<AppState>, OpenApi) {
    let (router, mut doc) = OpenApiRouter::with_openapi(docs::base())
        .merge(producer::router())
        .merge(openlineage::router())
        .merge(marquez::router())
        .merge(graph::router())
        .merge(layout::router())
        .merge(spline_consumer::router())
        .merge(columns::router())
        .merge(impact::router())
        .merge(paths::router())
        .merge(anomalies::router())
        .merge(health::router())
        .merge(metrics::router())
        .merge(auth::router())
        .merge(admin::router())
        .split_for_parts();
    docs::secure(&mut doc);
    docs::widen_unsigned_parameters(&mut doc);
    (router, doc)
}

/// The whole application: routes, the OpenAPI document and its UI, the explorer, and
/// middleware.
pub fn app(state: AppState) -> Router {
    let (router, openapi) = routes();
    let timeout = state.settings.request_timeout;
    let cors = state.cors.clone();
    metrics::init();
    let router = router
        .merge(docs::ui(openapi))
        .merge(explorer::router())
        .fallback(|| async { Error::NotFound("no such route".to_owned()) })
        // Innermost: after the request id, trace and metrics layers have seen the request,
        // so refusals are logged and counted like any answer.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            hosts_without_auth,
        ))
        .layer(axum::middleware::from_fn_with_state(
            cors.clone(),
            cors::guard_writes,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.settings.query.timeout,
            limit_reads,
        ))
        .with_state(state)
        .layer(axum::middleware::from_fn(query::reject_nul))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(CatchPanicLayer::custom(|_| panic_response()))
        // Outside the timeout and panic layers, so 408s and 500s are counted too.
        .layer(axum::middleware::from_fn(metrics::track_requests))
        .layer(trace_layer())
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(SetSensitiveRequestHeadersLayer::new([
            header::AUTHORIZATION,
        ]));
    // Outermost, so that preflights are answered before authentication (browsers send them
    // without credentials) and refusals carry CORS headers the page can read.
    cors.apply(router)
}

/// With authentication off, answers only requests that name this machine or a configured
/// host (see [`hosts`]); with tokens, every request.
async fn hosts_without_auth(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    match state.auth {
        Some(_) => next.run(request).await,
        None => hosts::guard(axum::extract::State(state.hosts), request, next).await,
    }
}

/// Bounds every read by the query time limit, whatever backend or index answers it:
/// PostgreSQL's `statement_timeout` stops a long statement in the database, this stops the
/// request (an SQLite query, a walk in memory, many short statements in a row).
///
/// The deadline goes along with the request ([`offload::Deadline`]), so that a computation
/// that checks the time itself stops in time to answer with what it has.
async fn limit_reads(
    axum::extract::State(limit): axum::extract::State<Duration>,
    mut request: Request,
    next: axum::middleware::Next,
) -> Response {
    let read = matches!(*request.method(), Method::GET | Method::HEAD);
    if !read {
        return next.run(request).await;
    }
    request
        .extensions_mut()
        .insert(offload::Deadline(Instant::now() + limit));
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => Error::query_timeout().into_response(),
    }
}

pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

fn panic_response() -> Response {
    Error::Internal(anyhow::anyhow!("a handler panicked")).into_response()
}

type RequestTrace = TraceLayer<
    SharedClassifier<ServerErrorsAsFailures>,
    fn(&Request) -> tracing::Span,
    (),
    DefaultOnResponse,
    DefaultOnBodyChunk,
    DefaultOnEos,
    DefaultOnFailure,
>;

/// One log line per request, at INFO, carrying method, route, status, latency and request id.
///
/// A 5xx adds a WARN line, not an ERROR one: during a database outage every request answers
/// 503, which is the outage's symptom, already logged once per request with its cause. A 500
/// logs its cause at ERROR itself ([`Error`]), so it still stands out.
fn trace_layer() -> RequestTrace {
    TraceLayer::new_for_http()
        .make_span_with(request_span as fn(&Request) -> tracing::Span)
        .on_request(())
        .on_response(DefaultOnResponse::new().level(Level::INFO))
        .on_failure(DefaultOnFailure::new().level(Level::WARN))
}

/// The route template (not the raw path) keeps the field low-cardinality.
fn request_span(request: &Request) -> tracing::Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str);
    let id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        route = route.unwrap_or(""),
        request_id = id,
    )
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets in-flight requests finish.
/// Connections are bounded by the state's [`ConnectionLimits`] (see [`connections`]).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = state.settings.connections;
    connections::serve(listener, app(state), limits, shutdown).await
}

/// Resolves on Ctrl-C or SIGTERM, the two ways a container runtime asks a process to stop.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(%err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(%err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down; finishing in-flight requests");
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    /// A read slower than the limit answers 422; a write isn't limited.
    #[tokio::test]
    async fn reads_past_the_query_time_limit_answer_422() {
        let slow = || async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            "done"
        };
        let router = Router::new().route("/slow", get(slow).post(slow)).layer(
            axum::middleware::from_fn_with_state(Duration::from_millis(20), limit_reads),
        );
        let call = |method: &str| {
            let request = Request::builder().method(method).uri("/slow");
            router.clone().oneshot(request.body(Body::empty()).unwrap())
        };
        let read = call("GET").await.unwrap();
        assert_eq!(read.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let write = call("POST").await.unwrap();
        assert_eq!(write.status(), StatusCode::OK);
    }
}
