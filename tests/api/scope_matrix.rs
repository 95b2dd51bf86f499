//! The scope matrix and the path variants as exhaustive tables (issue 19: what held up under
//! attack stays covered).
//!
//! Every operation of the generated OpenAPI document, and the routes outside it (the
//! explorer, the Swagger UI, the document itself, unknown routes), is called by each kind of
//! caller: no token, an invalid one, a producer, a consumer, an admin, and a producer-and-
//! consumer limited to some namespaces. Each answer must be in the class docs/security.md
//! documents: 401, 403, or served (anything else but a 5xx). The expectations follow from its
//! rules ([`need`]), not from the code under test, and a documented route no rule covers fails
//! the test, so a new route can't escape the table.
//!
//! Then protected requests are disguised (trailing and doubled slashes, percent-encoded
//! letters and slashes, dot segments, case, `;` parameters, NUL, overlong paths) and sent by
//! every caller lacking the right: none may be served. A query string and `HEAD` for `GET`
//! change nothing: those answer exactly as the plain request.

use axum::http::{StatusCode, header};

use headwater::http::{CorsPolicy, HttpSettings, api_doc};
use rstest::rstest;
use serde_json::{Value, json};

use crate::helpers::token_entry;
use crate::helpers::{Backend, Counts, Postgres, Sqlite, TestApp, TestDb, TestResponse, encode};

/// Who calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Anonymous,
    InvalidToken,
    Producer,
    Consumer,
    /// Only the admin scope.
    Admin,
    /// Producer and consumer, limited to team A's namespaces.
    TeamA,
}

const CALLERS: [Caller; 6] = [
    Caller::Anonymous,
    Caller::InvalidToken,
    Caller::Producer,
    Caller::Consumer,
    Caller::Admin,
    Caller::TeamA,
];

impl Caller {
    fn secret(self) -> Option<&'static str> {
        match self {
            Caller::Anonymous => None,
            Caller::InvalidToken => Some("not-a-configured-secret"),
            Caller::Producer => Some("producer-secret"),
            Caller::Consumer => Some("consumer-secret"),
            Caller::Admin => Some("admin-secret"),
            Caller::TeamA => Some("team-a-secret"),
        }
    }

    /// Whether the caller's token carries what `need` asks for.
    fn holds(self, need: Need) -> bool {
        matches!(
            (self, need),
            (_, Need::Open)
                | (Caller::Producer | Caller::TeamA, Need::Producer)
                | (Caller::Consumer | Caller::TeamA, Need::Consumer)
                | (Caller::Admin, Need::Admin)
        )
    }

    fn authenticated(self) -> bool {
        !matches!(self, Caller::Anonymous | Caller::InvalidToken)
    }
}

/// One token per scope, and a producer-and-consumer limited to team A.
fn tokens() -> String {
    let token = |caller: Caller, name: &str, scopes: &str, extra: &str| {
        token_entry(name, caller.secret().unwrap(), scopes, extra)
    };
    [
        token(Caller::Producer, "etl", "\"producer\"", ""),
        token(Caller::Consumer, "notebook", "\"consumer\"", ""),
        token(Caller::Admin, "ops", "\"admin\"", ""),
        token(
            Caller::TeamA,
            "team-a",
            "\"producer\", \"consumer\"",
            "namespaces = [\"team-a\", \"s3://team-a\"]",
        ),
    ]
    .concat()
}

async fn secured(backend: Backend) -> TestApp {
    let db = TestDb::new(backend).await;
    TestApp::secured(
        db,
        &tokens(),
        CorsPolicy::default(),
        HttpSettings::default(),
    )
}

/// What a route needs, by the table of scopes in docs/security.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    Open,
    Producer,
    Consumer,
    Admin,
}

/// Routes anyone may call (docs/security.md: the `none` row), besides `/`, `/ui*` and `/docs*`.
const OPEN: [&str; 8] = [
    "/health/live",
    "/health/ready",
    "/metrics",
    "/producer/status",
    "/about/liveness",
    "/about/readiness",
    "/openapi.json",
    "/oauth/token",
];

/// The routes of the `producer` row.
const PRODUCER_ROUTES: [&str; 4] = [
    "/producer/execution-plans",
    "/producer/execution-events",
    "/api/v1/lineage",
    "/api/v1/lineage/batch",
];

fn is_open(path: &str) -> bool {
    let under = |prefix: &str| path == prefix || path.starts_with(&format!("{prefix}/"));
    OPEN.contains(&path) || path == "/" || under("/ui") || under("/docs")
}

/// What `method` on `path` (a route template) needs, by the table in docs/security.md; `None` when no
/// row says.
fn need(method: &str, path: &str) -> Option<Need> {
    if is_open(path) {
        return Some(Need::Open);
    }
    if path.starts_with("/api/v1/admin/") || (method == "DELETE" && path == "/api/v1/graph/node") {
        return Some(Need::Admin);
    }
    match method {
        "POST" if PRODUCER_ROUTES.contains(&path) => Some(Need::Producer),
        "GET" | "HEAD" => Some(Need::Consumer),
        _ => None,
    }
}

/// The tags of the compatibility APIs, which refuse namespace-limited tokens whole
/// (docs/security.md, Namespace limits), as do the whole-graph anomalies.
const WHOLE_GRAPH_TAGS: [&str; 2] = ["marquez", "spline-consumer"];
const WHOLE_GRAPH_ROUTES: [&str; 1] = ["/api/v1/graph/anomalies"];
/// Routes of those APIs that carry nothing of any namespace, and so answer limited tokens
/// (docs/security.md, Namespace limits): the Spline build information.
const NO_NAMESPACE_ROUTES: [&str; 1] = ["/about/version"];

/// The answer's class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Unauthorized,
    Forbidden,
    /// Past the scope check: anything but 401, 403 or a 5xx.
    Served,
}

/// A request to make.
#[derive(Debug, Clone)]
struct Call {
    method: &'static str,
    uri: String,
    need: Need,
    /// Refuses namespace-limited tokens (a compatibility API or a whole-graph question).
    whole_graph: bool,
}

impl Call {
    /// What `caller` must get, by docs/security.md.
    fn expected(&self, caller: Caller) -> Class {
        match (self.need, caller.authenticated(), caller.holds(self.need)) {
            (Need::Open, ..) => Class::Served,
            (_, false, _) => Class::Unauthorized,
            (_, true, false) => Class::Forbidden,
            _ if self.whole_graph && caller == Caller::TeamA => Class::Forbidden,
            _ => Class::Served,
        }
    }
}

const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

fn method(name: &str) -> &'static str {
    let upper = name.to_ascii_uppercase();
    METHODS
        .into_iter()
        .find(|m| *m == upper)
        .unwrap_or_else(|| panic!("unexpected method {name}"))
}

const PLAN: &str = "00000000-0000-4000-8000-00000000a11a";

/// A route template with a value for each path parameter.
fn filled(template: &str) -> String {
    let values = [
        ("{namespace}", "team-a"),
        ("{job}", "load"),
        ("{planId}", PLAN),
        ("{operationId}", &format!("{PLAN}:op-0")),
        ("{labelName}", "owner"),
    ];
    let mut path = template.to_owned();
    for (param, value) in values {
        path = path.replace(param, value);
    }
    assert!(
        !path.contains('{'),
        "give the path parameter of {template} a value here"
    );
    path
}

/// Every operation of the OpenAPI document, and `HEAD` wherever `GET` is documented; and,
/// apart, the methods no operation takes on each documented path.
fn documented() -> (Vec<Call>, Vec<(&'static str, String)>) {
    let doc = serde_json::to_value(api_doc()).unwrap();
    let paths = doc["paths"].as_object().expect("the document has paths");
    let mut calls = Vec::new();
    let mut undocumented = Vec::new();
    for (template, item) in paths {
        let item = item.as_object().unwrap();
        let uri = filled(template);
        for (name, operation) in item
            .iter()
            .filter(|(k, _)| METHODS.contains(&&*k.to_uppercase()))
        {
            let tags: Vec<&str> = operation["tags"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let m = method(name);
            let need = need(m, template).unwrap_or_else(|| {
                panic!("{m} {template} is in no row of the scope table in docs/security.md: document it")
            });
            let whole_graph = (tags.iter().any(|t| WHOLE_GRAPH_TAGS.contains(t))
                || WHOLE_GRAPH_ROUTES.contains(&template.as_str()))
                && !NO_NAMESPACE_ROUTES.contains(&template.as_str());
            let call = Call {
                method: m,
                uri: uri.clone(),
                need,
                whole_graph,
            };
            if m == "GET" && !item.contains_key("head") {
                calls.push(Call {
                    method: "HEAD",
                    ..call.clone()
                });
            }
            calls.push(call);
        }
        for m in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            if !item.contains_key(&m.to_lowercase()) {
                undocumented.push((m, uri.clone()));
            }
        }
    }
    (calls, undocumented)
}

/// Routes outside the document: the explorer and its files, the Swagger UI, the document, and
/// routes that don't exist (which still need the scope their method and path would).
fn undocumented_routes() -> Vec<Call> {
    let open = [
        "/",
        "/ui",
        "/ui/",
        "/ui/index.html",
        "/ui/explorer.js",
        "/ui/api.js",
        "/ui/draw.js",
        "/ui/export.js",
        "/ui/explorer.css",
        "/ui/favicon.svg",
        "/docs",
        "/docs/",
        "/openapi.json",
    ];
    let unknown = [
        ("GET", "/no/such/route"),
        ("GET", "/api/v1/graph/no-such-question"),
        ("GET", "/consumer/no-such-thing"),
        ("GET", "/api/v1/admin/no-such-action"),
        ("POST", "/api/v1/admin/no-such-action"),
    ];
    let open = open
        .into_iter()
        .flat_map(|path| ["GET", "HEAD"].map(|m| (m, path)));
    open.chain(unknown)
        .map(|(m, path)| Call {
            method: m,
            uri: path.to_owned(),
            need: need(m, path).unwrap(),
            // An unknown route is no API to refuse: past the scope check it is a 404.
            whole_graph: false,
        })
        .collect()
}

async fn send(app: &TestApp, caller: Caller, method: &str, uri: &str, body: &str) -> TestResponse {
    let auth = caller.secret().map(|s| format!("Bearer {s}"));
    let mut headers = vec![("content-type", "application/json")];
    if let Some(auth) = &auth {
        headers.push(("authorization", auth));
    }
    app.send(method, uri, &headers, body.as_bytes().to_vec())
        .await
}

/// What is wrong with `answer` as `caller`'s answer of class `want`, if anything.
fn misfit(call: &Call, caller: Caller, want: Class, answer: &TestResponse) -> Option<String> {
    let status = answer.status.as_u16();
    let code =
        || serde_json::from_slice::<Value>(&answer.body).map_or(Value::Null, |p| p["code"].clone());
    let fits = match want {
        Class::Unauthorized => {
            let challenge = answer
                .headers
                .get(header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok());
            let expected = match caller {
                Caller::InvalidToken => "Bearer realm=\"headwater\", error=\"invalid_token\"",
                _ => "Bearer realm=\"headwater\"",
            };
            // A HEAD answer has no body to hold the problem document.
            status == 401
                && challenge == Some(expected)
                && (call.method == "HEAD" || code() == "unauthorized")
        }
        Class::Forbidden => status == 403 && (call.method == "HEAD" || code() == "forbidden"),
        // Open pages and probes answer, whoever asks.
        Class::Served if call.need == Need::Open && matches!(call.method, "GET" | "HEAD") => {
            status < 400
        }
        Class::Served => ![401, 403].contains(&status) && status < 500,
    };
    (!fits).then(|| {
        format!(
            "{caller:?} {} {}: want {want:?}, got {status} {}",
            call.method,
            call.uri,
            String::from_utf8_lossy(&answer.body[..answer.body.len().min(200)])
        )
    })
}

#[rstest]
#[tokio::test]
async fn every_route_answers_each_caller_as_the_security_table_says(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let app = secured(backend).await;
    let (mut calls, undocumented) = documented();
    assert!(
        calls.len() > 40,
        "the document lists {} operations",
        calls.len()
    );
    calls.extend(undocumented_routes());
    let mut misfits = Vec::new();
    for call in &calls {
        for caller in CALLERS {
            let answer = send(&app, caller, call.method, &call.uri, "").await;
            misfits.extend(misfit(call, caller, call.expected(caller), &answer));
        }
    }
    // A method no operation takes on a documented path is never served, and needs a valid
    // token wherever the path isn't open.
    for (m, uri) in &undocumented {
        for caller in CALLERS {
            let answer = send(&app, caller, m, uri, "").await;
            let status = answer.status.as_u16();
            let refused = match (is_open(uri), caller.authenticated()) {
                (false, false) => status == 401,
                _ => (400..500).contains(&status),
            };
            if !refused {
                misfits.push(format!("{caller:?} {m} {uri} (undocumented): got {status}"));
            }
        }
    }
    assert!(
        misfits.is_empty(),
        "{} of {} answers are not what the scope table in docs/security.md says:\n{}",
        misfits.len(),
        (calls.len() + undocumented.len()) * CALLERS.len(),
        misfits.join("\n")
    );
    assert_eq!(
        app.counts().await,
        Counts::ZERO,
        "an empty request stored something"
    );
}

// ---------------------------------------------------------------------------------------------
// Path variants.

/// A protected request that does something when it is served.
struct Target {
    method: &'static str,
    path: &'static str,
    query: String,
    body: Value,
    need: Need,
    whole_graph: bool,
}

impl Target {
    fn call(&self, path: &str, query: &str) -> Call {
        Call {
            method: self.method,
            uri: format!("{path}{query}"),
            need: self.need,
            whole_graph: self.whole_graph,
        }
    }
}

fn targets() -> Vec<Target> {
    let get = |path, need, whole_graph| Target {
        method: "GET",
        path,
        query: String::new(),
        body: Value::Null,
        need,
        whole_graph,
    };
    vec![
        get("/api/v1/admin/audit", Need::Admin, false),
        get("/api/v1/graph/nodes", Need::Consumer, false),
        get("/consumer/execution-events", Need::Consumer, true),
        Target {
            method: "DELETE",
            path: "/api/v1/graph/node",
            query: format!("?key={}", encode("dataset:s3://team-a/raw")),
            body: Value::Null,
            need: Need::Admin,
            whole_graph: false,
        },
        Target {
            method: "POST",
            path: "/api/v1/admin/prune",
            query: String::new(),
            body: json!({"olderThan": "1d", "dryRun": true}),
            need: Need::Admin,
            whole_graph: false,
        },
        Target {
            method: "POST",
            path: "/api/v1/lineage",
            query: String::new(),
            body: team_a_event("01890000-0000-7000-8000-0000000000b2"),
            need: Need::Producer,
            whole_graph: false,
        },
    ]
}

/// An OpenLineage event team A may post: `team-a/load` reads `raw` and writes `clean`.
fn team_a_event(run: &str) -> Value {
    json!({
        "eventType": "COMPLETE",
        "eventTime": "2026-11-01T10:00:00Z",
        "producer": "https://example.com/scope-matrix",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": run},
        "job": {"namespace": "team-a", "name": "load"},
        "inputs": [{"namespace": "s3://team-a", "name": "raw"}],
        "outputs": [{"namespace": "s3://team-a", "name": "clean"}],
    })
}

/// Spellings of `path` that a router or a normaliser might take for it, or for something
/// open; each with whether a caller without a token may be refused with another 4xx than 401:
/// under an open prefix no token is asked for (so a 404), and a path holding NUL is refused as
/// malformed before any check (400).
fn disguises(path: &str) -> Vec<(String, bool)> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let join = |parts: &[String]| format!("/{}", parts.join("/"));
    let owned: Vec<String> = segments.iter().map(|s| s.to_string()).collect();
    let each_segment = |f: &dyn Fn(&str) -> String| -> Vec<String> {
        (0..owned.len())
            .map(|i| {
                let mut parts = owned.clone();
                parts[i] = f(&parts[i]);
                join(&parts)
            })
            .collect()
    };
    let encode_first = |s: &str| {
        let mut chars = s.chars();
        let first = chars.next().unwrap();
        format!("%{:02X}{}", first as u32, chars.as_str())
    };
    let encode_all = |s: &str| s.bytes().map(|b| format!("%{b:02x}")).collect::<String>();
    let capitalised = |s: &str| {
        let mut chars = s.chars();
        let first = chars.next().unwrap().to_ascii_uppercase();
        format!("{first}{}", chars.as_str())
    };
    let rest = &path[1..];
    let mut plain: Vec<String> = vec![
        format!("{path}/"),
        format!("{path}//"),
        format!("/{path}"),
        path.replace('/', "//"),
        format!("/{}//{}", segments[0], segments[1..].join("/")),
        format!("{path}/."),
        format!("{path}/./"),
        format!("/./{rest}"),
        format!("/x/../{rest}"),
        format!("/%2e/{rest}"),
        format!("/x/%2E%2E/{rest}"),
        format!("{path}/../{}", segments.last().unwrap()),
        format!("/{}", rest.replace('/', "/./")),
        format!("/{}", rest.replace('/', "%2F")),
        format!("/{}", rest.replace('/', "%2f")),
        format!("/{}", rest.replacen('/', "%2F", 1)),
        path.to_uppercase(),
        format!("{path};x=1"),
        format!("/{};x=1/{}", segments[0], segments[1..].join("/")),
        format!("{path}%20"),
        format!("{path}/{}", "a".repeat(60_000)),
        format!("/{}{rest}", "./".repeat(20_000)),
        format!("/health/live/../../{rest}"),
    ];
    plain.extend(each_segment(&encode_first));
    plain.extend(each_segment(&encode_all));
    plain.extend(each_segment(&capitalised));
    let lenient = [
        format!("{path}%00"),
        format!("/ui/..{path}"),
        format!("/ui/..%2F{}", rest.replace('/', "%2F")),
        format!("/ui/%2e%2e{path}"),
        format!("/docs/..{path}"),
        format!("/docs/%2E%2E/{rest}"),
        format!("/docs{path}"),
    ];
    let mut all: Vec<(String, bool)> = plain.into_iter().map(|p| (p, false)).collect();
    all.extend(lenient.into_iter().map(|p| (p, true)));
    all
}

/// Seeds team A's load, so that the delete and the reads have something to act on.
async fn seeded(backend: Backend) -> TestApp {
    let app = secured(backend).await;
    let event = team_a_event("01890000-0000-7000-8000-0000000000b1").to_string();
    let stored = send(&app, Caller::Producer, "POST", "/api/v1/lineage", &event).await;
    assert_eq!(stored.status, StatusCode::CREATED, "{}", stored.text());
    app
}

fn body_of(target: &Target) -> String {
    match &target.body {
        Value::Null => String::new(),
        body => body.to_string(),
    }
}

#[rstest]
#[tokio::test]
async fn disguised_paths_never_get_past_the_scope_check(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let app = seeded(backend).await;
    let before = app.counts().await;
    let mut misfits = Vec::new();
    let mut sent = 0;
    for target in targets() {
        let body = body_of(&target);
        for (path, lenient) in disguises(target.path) {
            let call = target.call(&path, &target.query);
            for caller in CALLERS {
                if call.expected(caller) == Class::Served {
                    continue;
                }
                let answer = send(&app, caller, call.method, &call.uri, &body).await;
                sent += 1;
                let status = answer.status.as_u16();
                let refused = match (caller.authenticated(), lenient) {
                    (false, false) => status == 401,
                    _ => (400..500).contains(&status),
                };
                if !refused {
                    let shown: String = call.uri.chars().take(120).collect();
                    misfits.push(format!("{caller:?} {} {shown}: got {status}", call.method));
                }
            }
        }
    }
    assert!(
        misfits.is_empty(),
        "{} of {sent} disguised requests got past the scope check:\n{}",
        misfits.len(),
        misfits.join("\n")
    );
    assert_eq!(
        app.counts().await,
        before,
        "a disguised request changed the graph"
    );
}

#[rstest]
#[tokio::test]
async fn a_query_string_or_head_changes_no_answer_class(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let app = seeded(backend).await;
    let mut misfits = Vec::new();
    for target in targets().iter().filter(|t| t.method == "GET") {
        let canonical = target.call(target.path, "");
        let queries = ["?x=1", "?next=/health/live", "?/api/v1/admin/audit", "?"];
        let mut variants: Vec<Call> = queries
            .iter()
            .map(|q| target.call(target.path, q))
            .collect();
        variants.push(Call {
            method: "HEAD",
            ..canonical.clone()
        });
        for call in &variants {
            for caller in CALLERS {
                let answer = send(&app, caller, call.method, &call.uri, "").await;
                misfits.extend(misfit(call, caller, canonical.expected(caller), &answer));
            }
        }
    }
    assert!(misfits.is_empty(), "{}", misfits.join("\n"));
}

/// The plain requests the disguises stand for are served to the callers entitled to them, so
/// the refusals above are the scope check's and not the route's.
#[rstest]
#[tokio::test]
async fn the_undisguised_targets_are_served_to_their_callers(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let app = seeded(backend).await;
    for target in targets() {
        let call = target.call(target.path, &target.query);
        let caller = CALLERS
            .into_iter()
            .find(|c| call.expected(*c) == Class::Served && c.authenticated())
            .expect("someone may make each call");
        let answer = send(&app, caller, call.method, &call.uri, &body_of(&target)).await;
        assert!(
            answer.status.is_success(),
            "{caller:?} {} {}: {} {}",
            call.method,
            call.uri,
            answer.status,
            answer.text()
        );
    }
}
