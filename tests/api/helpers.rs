//! Shared test plumbing: a router over a per-test database, request shortcuts, fixture files.

#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Request, StatusCode, header};
use flate2::Compression;
use flate2::write::GzEncoder;
use headwater::auth::Tokens;
use headwater::http::{CorsPolicy, HttpSettings};
use headwater::{AppState, app};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

pub use crate::db::{Backend, Postgres, Sqlite, TestDb};

pub const V10: &str = "application/json";
pub const V11: &str = "application/vnd.absa.spline.producer.v1.1+json";
pub const V12: &str = "application/vnd.absa.spline.producer.v1.2+json";

/// The application under test, wired to its own database.
pub struct TestApp {
    pub router: Router,
    pub db: TestDb,
}

/// A response, fully read.
#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Row counts of every table a request can write to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub nodes: i64,
    pub edges: i64,
    pub raw_payloads: i64,
}

impl Counts {
    /// Nothing stored.
    pub const ZERO: Counts = Counts {
        nodes: 0,
        edges: 0,
        raw_payloads: 0,
    };
}

impl TestApp {
    pub fn new(db: TestDb) -> Self {
        Self::with_settings(db, HttpSettings::default())
    }

    pub fn with_settings(db: TestDb, settings: HttpSettings) -> Self {
        let store = db.store();
        let router = app(AppState::shared(store, settings, true));
        TestApp { router, db }
    }

    /// The application with authentication by the tokens of `tokens_toml` (a tokens file's
    /// text), this CORS policy and these settings.
    pub fn secured(
        db: TestDb,
        tokens_toml: &str,
        cors: CorsPolicy,
        settings: HttpSettings,
    ) -> Self {
        let tokens = Tokens::parse(tokens_toml).expect("a valid tokens file");
        let state = AppState::shared(db.store(), settings, true).secured(Some(tokens), cors);
        TestApp {
            router: app(state),
            db,
        }
    }

    /// Sends a request with `method` to `uri`, with the headers given.
    pub async fn send(
        &self,
        method: &str,
        uri: &str,
        headers: &[(&str, &str)],
        body: impl Into<Vec<u8>>,
    ) -> TestResponse {
        let mut builder = Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        self.request(builder.body(Body::from(body.into())).unwrap())
            .await
    }

    /// Another service on the same database, as a second replica would be: with its own
    /// lineage index, or (`indexed` false) walking the database.
    pub fn replica(&self, indexed: bool) -> TestApp {
        let state = AppState::shared(self.db.store(), HttpSettings::default(), indexed);
        TestApp {
            router: app(state),
            db: self.db.clone(),
        }
    }

    pub async fn request(&self, request: Request<Body>) -> TestResponse {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("router is infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body reads")
            .to_bytes();
        TestResponse {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, uri: &str) -> TestResponse {
        self.request(Request::get(uri).body(Body::empty()).unwrap())
            .await
    }

    /// POSTs `body` with the given Content-Type (none when `None`) and extra headers.
    pub async fn post(
        &self,
        uri: &str,
        content_type: Option<&str>,
        headers: &[(&str, &str)],
        body: impl Into<Vec<u8>>,
    ) -> TestResponse {
        let mut builder = Request::post(uri);
        if let Some(ct) = content_type {
            builder = builder.header(header::CONTENT_TYPE, ct);
        }
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        self.request(builder.body(Body::from(body.into())).unwrap())
            .await
    }

    pub async fn post_plan(&self, content_type: &str, body: impl Into<Vec<u8>>) -> TestResponse {
        self.post("/producer/execution-plans", Some(content_type), &[], body)
            .await
    }

    pub async fn post_events(&self, content_type: &str, body: impl Into<Vec<u8>>) -> TestResponse {
        self.post("/producer/execution-events", Some(content_type), &[], body)
            .await
    }

    /// Lineage around `node`; asserts a 200.
    pub async fn lineage(&self, node: &str, direction: &str, depth: u32) -> Value {
        let uri = format!(
            "/api/v1/graph/lineage?node={}&direction={direction}&depth={depth}",
            encode(node)
        );
        let response = self.get(&uri).await;
        assert_eq!(
            response.status,
            StatusCode::OK,
            "lineage of {node}: {}",
            response.text()
        );
        response.json()
    }

    pub async fn counts(&self) -> Counts {
        let count = |table: &'static str| {
            let db = self.db.clone();
            async move { db.scalar(&format!("select count(*) from {table}")).await }
        };
        Counts {
            nodes: count("node").await,
            edges: count("edge").await,
            raw_payloads: count("raw_payload").await,
        }
    }
}

impl TestResponse {
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Asserts an RFC 9457 problem document with this status, code and (optional) path, and
    /// returns it.
    #[track_caller]
    pub fn assert_problem(&self, status: StatusCode, code: &str, path: Option<&str>) -> Value {
        assert_eq!(self.status, status, "body: {}", self.text());
        let content_type = self
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        assert_eq!(content_type, Some("application/problem+json"));
        let problem = self.json();
        assert_eq!(problem["status"], status.as_u16(), "{problem}");
        assert_eq!(problem["code"], code, "{problem}");
        assert_eq!(problem["type"], format!("urn:headwater:problem:{code}"));
        assert!(
            problem["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{problem}"
        );
        assert_eq!(problem["path"].as_str(), path, "{problem}");
        problem
    }
}

/// Percent-encodes a query value (node keys contain `:` and `/`).
/// One `[[token]]` entry of a tokens file: `scopes` as TOML array items (`"\"producer\""`),
/// `extra` further lines (such as `namespaces = [...]`).
pub fn token_entry(name: &str, secret: &str, scopes: &str, extra: &str) -> String {
    let hash = headwater::auth::hash_secret(secret);
    format!("[[token]]\nname = \"{name}\"\nsha256 = \"{hash}\"\nscopes = [{scopes}]\n{extra}\n")
}

pub fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

pub fn data_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(relative)
}

/// The JSON lines of a Spline generator file (licence comments and blank lines skipped).
pub fn fixture_lines(relative: &str) -> Vec<String> {
    let text = std::fs::read_to_string(data_path(relative)).expect("fixture exists");
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// Keys of the nodes in a lineage answer.
pub fn node_keys(lineage: &Value) -> Vec<String> {
    lineage["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["key"].as_str().unwrap().to_owned())
        .collect()
}

/// (source, kind, target) of the edges in a lineage answer.
pub fn edge_triples(lineage: &Value) -> Vec<(String, String, String)> {
    let edges = lineage["edges"].as_array().unwrap();
    edges
        .iter()
        .map(|e| {
            (
                e["source"].as_str().unwrap().to_owned(),
                e["kind"].as_str().unwrap().to_owned(),
                e["target"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// A (source, kind, target) edge.
pub type Triple = (String, String, String);

pub fn triple(source: &str, kind: &str, target: &str) -> Triple {
    (source.to_owned(), kind.to_owned(), target.to_owned())
}

pub fn sorted<T: Ord>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut items: Vec<T> = items.into_iter().collect();
    items.sort();
    items
}

/// The id of the hand-written Spline plan `n`.
pub fn plan_id(n: u32) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

/// Java's `Long.toString(n, 36)` for non-negative n, as Spline keys events.
pub fn base36(mut n: i64) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap()
}

/// GETs `uri`; asserts a 200 and returns the JSON body.
pub async fn get_json(app: &TestApp, uri: &str) -> Value {
    let response = app.get(uri).await;
    assert_eq!(
        response.status,
        StatusCode::OK,
        "{uri}: {}",
        response.text()
    );
    response.json()
}

/// Node details (`/api/v1/graph/node`); asserts 200.
pub async fn node_details(app: &TestApp, key: &str) -> Value {
    let response = app
        .get(&format!("/api/v1/graph/node?key={}", encode(key)))
        .await;
    assert_eq!(
        response.status,
        StatusCode::OK,
        "{key}: {}",
        response.text()
    );
    response.json()
}

/// A minimal valid Spline v1.2 plan: the write `op-0` of `output` fed by the read `op-1` of
/// `inputs`, which produces the attribute `attr-1` named `attribute`.
pub fn minimal_plan(id: &str, inputs: &[&str], output: &str, attribute: &str) -> Value {
    json!({
        "id": id,
        "operations": {
            "write": {"id": "op-0", "outputSource": output, "append": false, "childIds": ["op-1"]},
            "reads": [{"id": "op-1", "inputSources": inputs, "output": ["attr-1"]}]
        },
        "attributes": [{"id": "attr-1", "name": attribute}],
        "systemInfo": {"name": "spark", "version": "3.5.0"}
    })
}

/// Stores a Spline v1.2 plan; asserts 201.
pub async fn store_plan(app: &TestApp, plan: &Value) {
    let response = app.post_plan(V12, plan.to_string()).await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
}

/// Stores Spline v1.2 execution events (a JSON array); asserts 201.
pub async fn store_spline_events(app: &TestApp, events: &Value) {
    let response = app.post_events(V12, events.to_string()).await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
}

/// POSTs one OpenLineage event as `application/json`; asserts 201.
pub async fn send_event(app: &TestApp, event: &Value) {
    let response = app
        .post(
            "/api/v1/lineage",
            Some("application/json"),
            &[],
            event.to_string(),
        )
        .await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
}

/// The key of the dataset at `uri`.
pub fn ds(uri: &str) -> String {
    format!("dataset:{uri}")
}
