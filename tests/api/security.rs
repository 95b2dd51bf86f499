//! Authentication, scopes, namespace limits, the audit log, admin actions and CORS, through
//! the real router on both backends.

use axum::http::{StatusCode, header};

use headwater::http::{CorsPolicy, HttpSettings};
use rstest::rstest;
use serde_json::{Value, json};

use crate::helpers::token_entry;
use crate::helpers::{
    Backend, Postgres, Sqlite, TestApp, TestDb, TestResponse, V12, encode, minimal_plan, plan_id,
};

const PRODUCER: &str = "producer-secret";
const CONSUMER: &str = "consumer-secret";
const ADMIN: &str = "admin-secret";
const TEAM_A: &str = "team-a-secret";

/// Four tokens: one per scope, and a producer-and-consumer limited to team A's namespaces.
fn tokens() -> String {
    let token = token_entry;
    [
        token("etl", PRODUCER, "\"producer\"", ""),
        token("notebook", CONSUMER, "\"consumer\"", ""),
        token("ops", ADMIN, "\"admin\", \"consumer\"", ""),
        token(
            "team-a",
            TEAM_A,
            "\"producer\", \"consumer\"",
            "namespaces = [\"team-a\", \"s3://team-a\"]",
        ),
    ]
    .concat()
}

async fn secured(backend: Backend) -> TestApp {
    secured_with(backend, CorsPolicy::default(), HttpSettings::default()).await
}

async fn secured_with(backend: Backend, cors: CorsPolicy, settings: HttpSettings) -> TestApp {
    TestApp::secured(TestDb::new(backend).await, &tokens(), cors, settings)
}

fn bearer(secret: &str) -> String {
    format!("Bearer {secret}")
}

async fn get_as(app: &TestApp, secret: &str, uri: &str) -> TestResponse {
    let auth = bearer(secret);
    app.send("GET", uri, &[("authorization", &auth)], Vec::new())
        .await
}

async fn post_as(
    app: &TestApp,
    secret: &str,
    uri: &str,
    content_type: &str,
    body: &Value,
) -> TestResponse {
    let auth = bearer(secret);
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", content_type),
    ];
    app.send("POST", uri, &headers, body.to_string()).await
}

/// An OpenLineage COMPLETE event of job `job_ns/job` reading `inputs` and writing `outputs`
/// (each `(namespace, name)`).
fn ol_event(
    job: (&str, &str),
    run: &str,
    inputs: &[(&str, &str)],
    outputs: &[(&str, &str)],
) -> Value {
    let datasets = |list: &[(&str, &str)]| -> Vec<Value> {
        list.iter()
            .map(|(ns, name)| json!({"namespace": ns, "name": name}))
            .collect()
    };
    json!({
        "eventType": "COMPLETE",
        "eventTime": "2026-11-01T10:00:00Z",
        "producer": "https://example.com/security-test",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": run},
        "job": {"namespace": job.0, "name": job.1},
        "inputs": datasets(inputs),
        "outputs": datasets(outputs),
    })
}

const RUN_1: &str = "01890000-0000-7000-8000-000000000001";
const RUN_2: &str = "01890000-0000-7000-8000-000000000002";

/// team-a/load reads s3://team-a/raw and writes s3://team-a/clean; team-b/report reads
/// s3://team-a/clean and writes s3://team-b/report.
async fn two_teams(app: &TestApp) {
    let load = ol_event(
        ("team-a", "load"),
        RUN_1,
        &[("s3://team-a", "raw")],
        &[("s3://team-a", "clean")],
    );
    let report = ol_event(
        ("team-b", "report"),
        RUN_2,
        &[("s3://team-a", "clean")],
        &[("s3://team-b", "report")],
    );
    for event in [load, report] {
        let stored = post_as(app, PRODUCER, "/api/v1/lineage", "application/json", &event).await;
        assert_eq!(stored.status, StatusCode::CREATED, "{}", stored.text());
    }
}

/// The open routes are open to every caller, a namespace-limited token too: the Spline
/// `/about` probes answered it 403, as the rest of the Spline consumer API does.
#[rstest]
#[tokio::test]
async fn open_routes_answer_limited_tokens_too(#[values(Postgres, Sqlite)] backend: Backend) {
    let app = secured(backend).await;
    for uri in [
        "/health/live",
        "/health/ready",
        "/metrics",
        "/producer/status",
        "/openapi.json",
        "/about/liveness",
        "/about/readiness",
        "/about/version",
    ] {
        let answer = get_as(&app, TEAM_A, uri).await;
        assert_eq!(answer.status, StatusCode::OK, "{uri}: {}", answer.text());
    }
    // The rest of the Spline consumer API still refuses it.
    get_as(&app, TEAM_A, "/consumer/execution-events")
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden", None);
}

#[rstest]
#[tokio::test]
async fn the_wrong_scope_is_403_whether_or_not_the_thing_exists(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let app = secured(backend).await;
    let plan = minimal_plan(&plan_id(1), &["s3://a/in"], "s3://a/out", "x");
    let anonymous = app.post_plan(V12, plan.to_string()).await;
    anonymous.assert_problem(StatusCode::UNAUTHORIZED, "unauthorized", None);
    let as_consumer = post_as(&app, CONSUMER, "/producer/execution-plans", V12, &plan).await;
    as_consumer.assert_problem(StatusCode::FORBIDDEN, "forbidden", None);
    assert_eq!(app.counts().await, crate::helpers::Counts::ZERO);
    let stored = post_as(&app, PRODUCER, "/producer/execution-plans", V12, &plan).await;
    assert_eq!(stored.status, StatusCode::CREATED, "{}", stored.text());
    // A producer may not read: a node that exists and one that doesn't answer the same.
    for key in ["dataset:s3://a/in", "dataset:s3://nope"] {
        let uri = format!("/api/v1/graph/node?key={}", encode(key));
        get_as(&app, PRODUCER, &uri)
            .await
            .assert_problem(StatusCode::FORBIDDEN, "forbidden", None);
    }
    // Which scope each route needs, whoever calls: scope_matrix.rs.
    let uri = format!("/api/v1/graph/node?key={}", encode("dataset:s3://a/in"));
    assert_eq!(get_as(&app, CONSUMER, &uri).await.status, StatusCode::OK);
}

#[rstest]
#[tokio::test]
async fn every_write_is_in_the_audit_log_with_who_sent_it(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let app = secured(backend).await;
    let plan = minimal_plan(&plan_id(1), &["s3://a/in"], "s3://a/out", "x");
    let stored = post_as(&app, PRODUCER, "/producer/execution-plans", V12, &plan).await;
    assert_eq!(stored.status, StatusCode::CREATED);
    let request_id = stored.headers["x-request-id"].to_str().unwrap().to_owned();
    // The same plan again stores nothing, so it is not recorded again.
    post_as(&app, PRODUCER, "/producer/execution-plans", V12, &plan).await;
    two_teams(&app).await;
    let log = get_as(&app, ADMIN, "/api/v1/admin/audit?action=ingest").await;
    assert_eq!(log.status, StatusCode::OK, "{}", log.text());
    let items = log.json()["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 3, "{items:?}");
    assert!(
        items
            .iter()
            .all(|i| i["actor"] == "etl" && i["action"] == "ingest")
    );
    let plan_record = items.iter().find(|i| i["target"] == "spline.plan").unwrap();
    assert_eq!(plan_record["requestId"], request_id.as_str());
    assert_eq!(plan_record["detail"]["version"], "1.2");
    assert_eq!(plan_record["detail"]["sha256"].as_str().unwrap().len(), 64);
    // Newest first, and paged with `before`.
    assert!(items[0]["id"].as_i64() > items[1]["id"].as_i64());
    let first = get_as(&app, ADMIN, "/api/v1/admin/audit?limit=2")
        .await
        .json();
    let before = first["nextBefore"].as_i64().unwrap();
    let rest = get_as(
        &app,
        ADMIN,
        &format!("/api/v1/admin/audit?limit=2&before={before}"),
    )
    .await
    .json();
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert_eq!(rest["nextBefore"], Value::Null);
    let by_other = get_as(&app, ADMIN, "/api/v1/admin/audit?actor=notebook")
        .await
        .json();
    assert_eq!(by_other["items"], json!([]));
    get_as(&app, ADMIN, "/api/v1/admin/audit?action=drop")
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid-parameter", Some("action"));
}

#[rstest]
#[tokio::test]
async fn admins_delete_a_node_with_what_belongs_to_it(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let app = secured(backend).await;
    let plan = minimal_plan(&plan_id(7), &["s3://a/in"], "s3://a/out", "x");
    post_as(&app, PRODUCER, "/producer/execution-plans", V12, &plan).await;
    let job = format!("job:{}", plan_id(7));
    let uri = format!("/api/v1/graph/node?key={}", encode(&job));
    let auth = bearer(ADMIN);
    let deleted = app
        .send("DELETE", &uri, &[("authorization", &auth)], Vec::new())
        .await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.text());
    let report = deleted.json();
    assert_eq!(report["key"], job);
    assert_eq!(report["nodes"]["job"], 1);
    assert_eq!(report["nodes"]["operation"], 2);
    assert_eq!(report["nodes"]["attribute"], 1);
    assert!(report["edges"].as_u64().unwrap() >= 4, "{report}");
    get_as(&app, ADMIN, &uri)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not-found", None);
    // The datasets it read and wrote are not its own: they stay.
    let input = format!("/api/v1/graph/node?key={}", encode("dataset:s3://a/in"));
    assert_eq!(get_as(&app, ADMIN, &input).await.status, StatusCode::OK);
    let again = app
        .send("DELETE", &uri, &[("authorization", &auth)], Vec::new())
        .await;
    again.assert_problem(StatusCode::NOT_FOUND, "not-found", None);
    let log = get_as(&app, ADMIN, "/api/v1/admin/audit?action=delete")
        .await
        .json();
    let records = log["items"].as_array().unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(
        (records[0]["actor"].as_str(), records[0]["target"].as_str()),
        (Some("ops"), Some(job.as_str()))
    );
    assert_eq!(records[0]["detail"]["nodes"]["operation"], 2);
}

#[rstest]
#[tokio::test]
async fn admins_prune_and_replay_through_the_api(#[values(Postgres, Sqlite)] backend: Backend) {
    let app = secured(backend).await;
    two_teams(&app).await;
    let before = app.counts().await;
    let dry = post_as(
        &app,
        ADMIN,
        "/api/v1/admin/prune",
        "application/json",
        &json!({"olderThan": "0s", "dryRun": true}),
    )
    .await;
    assert_eq!(dry.status, StatusCode::OK, "{}", dry.text());
    assert_eq!(dry.json()["rawPayloads"], 2);
    assert_eq!(app.counts().await, before, "a dry run deletes nothing");
    let replayed = post_as(
        &app,
        ADMIN,
        "/api/v1/admin/replay",
        "application/json",
        &json!({}),
    )
    .await;
    assert_eq!(replayed.status, StatusCode::OK, "{}", replayed.text());
    assert_eq!(replayed.json(), json!({"replayed": 2, "failed": []}));
    assert_eq!(app.counts().await, before, "replay is idempotent");
    for (body, replayed) in [
        (json!(null), 2),
        (json!({"since": "2999-01-01T00:00:00Z"}), 0),
    ] {
        let answer = post_as(
            &app,
            ADMIN,
            "/api/v1/admin/replay",
            "application/json",
            &body,
        )
        .await;
        assert_eq!(answer.json()["replayed"], replayed, "body {body}");
    }
    for body in [json!({"from": "yesterday"}), json!([null, null])] {
        let answer = post_as(
            &app,
            ADMIN,
            "/api/v1/admin/replay",
            "application/json",
            &body,
        )
        .await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            answer.text()
        );
    }
    let bad = post_as(
        &app,
        ADMIN,
        "/api/v1/admin/prune",
        "application/json",
        &json!({"olderThan": "soon"}),
    )
    .await;
    bad.assert_problem(StatusCode::BAD_REQUEST, "invalid-field", Some("olderThan"));
    let pruned = post_as(
        &app,
        ADMIN,
        "/api/v1/admin/prune",
        "application/json",
        &json!({"olderThan": "0s"}),
    )
    .await;
    assert_eq!(pruned.json()["rawPayloads"], 2);
    let log = get_as(&app, ADMIN, "/api/v1/admin/audit").await.json();
    let actions: Vec<&str> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["prune", "replay", "replay", "replay", "ingest", "ingest"],
        "dry runs and refused requests are not recorded"
    );
    let limited = post_as(
        &app,
        TEAM_A,
        "/api/v1/admin/prune",
        "application/json",
        &json!({"olderThan": "0s"}),
    )
    .await;
    limited.assert_problem(StatusCode::FORBIDDEN, "forbidden", None);
}

#[rstest]
#[tokio::test]
async fn oauth_client_credentials_grant_the_token_itself(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let app = secured(backend).await;
    const FORM: [(&str, &str); 1] = [("content-type", "application/x-www-form-urlencoded")];
    let form = |body: &str| app.send("POST", "/oauth/token", &FORM, body.to_owned());
    let granted = form(&format!(
        "grant_type=client_credentials&client_id=etl&client_secret={PRODUCER}"
    ))
    .await;
    assert_eq!(granted.status, StatusCode::OK, "{}", granted.text());
    let grant = granted.json();
    assert_eq!(
        (grant["token_type"].as_str(), grant["scope"].as_str()),
        (Some("Bearer"), Some("producer"))
    );
    let token = grant["access_token"].as_str().unwrap();
    let plan = minimal_plan(&plan_id(2), &["s3://a/in"], "s3://a/out", "x");
    let stored = post_as(&app, token, "/producer/execution-plans", V12, &plan).await;
    assert_eq!(stored.status, StatusCode::CREATED);

    let wrong = form(&format!(
        "grant_type=client_credentials&client_id=notebook&client_secret={PRODUCER}"
    ))
    .await;
    assert_eq!(
        (wrong.status, wrong.json()["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    let grant_type = form("grant_type=password&username=a&password=b").await;
    assert_eq!(grant_type.json()["error"], "unsupported_grant_type");
    let scope = form(&format!(
        "grant_type=client_credentials&client_id=etl&client_secret={PRODUCER}&scope=admin"
    ))
    .await;
    assert_eq!(
        (scope.status, scope.json()["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_scope"))
    );
    let basic = base64_basic("etl", PRODUCER);
    let headers = [
        ("content-type", "application/x-www-form-urlencoded"),
        ("authorization", basic.as_str()),
    ];
    let with_basic = app
        .send(
            "POST",
            "/oauth/token",
            &headers,
            "grant_type=client_credentials",
        )
        .await;
    assert_eq!(with_basic.status, StatusCode::OK, "{}", with_basic.text());
}

fn base64_basic(id: &str, secret: &str) -> String {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
    format!("Basic {encoded}")
}

#[rstest]
#[tokio::test]
async fn a_limited_token_writes_only_its_namespaces(#[values(Postgres, Sqlite)] backend: Backend) {
    let app = secured(backend).await;
    let own = ol_event(
        ("team-a", "load"),
        RUN_1,
        &[("s3://team-a", "raw")],
        &[("s3://team-a", "clean")],
    );
    let stored = post_as(&app, TEAM_A, "/api/v1/lineage", "application/json", &own).await;
    assert_eq!(stored.status, StatusCode::CREATED, "{}", stored.text());
    let counts = app.counts().await;
    let foreign = ol_event(
        ("team-a", "leak"),
        RUN_2,
        &[("s3://team-a", "clean")],
        &[("s3://team-b", "copy")],
    );
    let refused = post_as(
        &app,
        TEAM_A,
        "/api/v1/lineage",
        "application/json",
        &foreign,
    )
    .await;
    let problem = refused.assert_problem(StatusCode::FORBIDDEN, "forbidden", None);
    assert!(
        problem["detail"].as_str().unwrap().contains("s3://team-b"),
        "{problem}"
    );
    assert_eq!(
        app.counts().await,
        counts,
        "nothing of a refused event is stored"
    );
    // In a batch, the foreign event fails alone, and not as worth retrying.
    let batch = json!([
        foreign,
        ol_event(("team-a", "load"), RUN_1, &[], &[("s3://team-a", "other")])
    ]);
    let answer = post_as(
        &app,
        TEAM_A,
        "/api/v1/lineage/batch",
        "application/json",
        &batch,
    )
    .await
    .json();
    assert_eq!(answer["summary"]["successful"], 1, "{answer}");
    assert_eq!(answer["failed_events"][0]["status"], 403);
    assert_eq!(answer["failed_events"][0]["retriable"], false);
    // Spline jobs are in the namespace `spline`, which this token doesn't have.
    let plan = minimal_plan(&plan_id(3), &["s3://team-a/raw"], "s3://team-a/x", "x");
    let spline = post_as(&app, TEAM_A, "/producer/execution-plans", V12, &plan).await;
    spline.assert_problem(StatusCode::FORBIDDEN, "forbidden", None);
}

#[rstest]
#[tokio::test]
async fn a_limited_token_sees_only_its_namespaces(#[values(Postgres, Sqlite)] backend: Backend) {
    let app = secured(backend).await;
    two_teams(&app).await;
    let theirs = format!(
        "/api/v1/graph/node?key={}",
        encode("dataset:s3://team-b/report")
    );
    get_as(&app, TEAM_A, &theirs)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not-found", None);
    assert_eq!(get_as(&app, CONSUMER, &theirs).await.status, StatusCode::OK);
    let missing = format!(
        "/api/v1/graph/node?key={}",
        encode("dataset:s3://team-b/nothing")
    );
    let (hidden, absent) = (
        get_as(&app, TEAM_A, &theirs).await,
        get_as(&app, TEAM_A, &missing).await,
    );
    assert_eq!(
        hidden.json()["detail"]
            .as_str()
            .map(|d| d.replace("report", "nothing")),
        absent.json()["detail"].as_str().map(str::to_owned)
    );

    let lineage = format!(
        "/api/v1/graph/lineage?node={}&direction=downstream&depth=5",
        encode("dataset:s3://team-a/raw")
    );
    let seen = get_as(&app, TEAM_A, &lineage).await.json();
    let keys: Vec<&str> = seen["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "dataset:s3://team-a/clean",
            "dataset:s3://team-a/raw",
            "job:team-a/load"
        ],
        "{seen}"
    );
    assert!(
        seen["edges"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| !e.to_string().contains("team-b"))
    );
    let all = get_as(&app, CONSUMER, &lineage).await.json();
    assert_eq!(all["nodes"].as_array().unwrap().len(), 5, "{all}");

    let listed = get_as(&app, TEAM_A, "/api/v1/graph/nodes?kind=dataset")
        .await
        .json();
    let names: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["dataset:s3://team-a/clean", "dataset:s3://team-a/raw"]
    );
    let details = get_as(
        &app,
        TEAM_A,
        &format!(
            "/api/v1/graph/node?key={}",
            encode("dataset:s3://team-a/clean")
        ),
    )
    .await
    .json();
    assert!(!details.to_string().contains("team-b"), "{details}");
    let impact = get_as(
        &app,
        TEAM_A,
        &format!(
            "/api/v1/graph/impact?node={}",
            encode("dataset:s3://team-a/raw")
        ),
    )
    .await
    .json();
    assert!(!impact.to_string().contains("team-b"), "{impact}");

    for uri in [
        "/api/v1/namespaces",
        "/consumer/execution-events",
        "/api/v1/graph/anomalies",
    ] {
        get_as(&app, TEAM_A, uri)
            .await
            .assert_problem(StatusCode::FORBIDDEN, "forbidden", None);
        assert_eq!(
            get_as(&app, CONSUMER, uri).await.status,
            StatusCode::OK,
            "{uri}"
        );
    }
}

#[rstest]
#[tokio::test]
async fn cross_origin_writes_are_refused_unless_allowed(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let app = secured(backend).await;
    let plan = minimal_plan(&plan_id(4), &["s3://a/in"], "s3://a/out", "x").to_string();
    let auth = bearer(PRODUCER);
    let from = |origin: &'static str| {
        [
            ("authorization", auth.clone()),
            ("content-type", V12.to_owned()),
            ("origin", origin.to_owned()),
        ]
    };
    let send = |headers: [(&'static str, String); 3]| {
        let plan = plan.clone();
        let app = &app;
        async move {
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
            app.send("POST", "/producer/execution-plans", &headers, plan)
                .await
        }
    };
    send(from("https://evil.example")).await.assert_problem(
        StatusCode::FORBIDDEN,
        "forbidden",
        None,
    );
    assert_eq!(app.counts().await, crate::helpers::Counts::ZERO);
    // Reads of the Spline UI's API from any origin carry CORS headers, other routes none; a
    // preflight for a write is not granted.
    let read =
        |uri: &'static str| app.send("GET", uri, &[("origin", "https://ui.example")], Vec::new());
    let about = read("/about/liveness").await;
    assert_eq!(about.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    let health = read("/health/live").await;
    assert_eq!(health.status, StatusCode::OK);
    assert!(
        !health
            .headers
            .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN)
    );
    let preflight = |uri: &'static str| {
        app.send(
            "OPTIONS",
            uri,
            &[
                ("origin", "https://ui.example"),
                ("access-control-request-method", "POST"),
            ],
            Vec::new(),
        )
    };
    let consumer = preflight("/consumer/execution-events").await;
    let methods = consumer.headers[header::ACCESS_CONTROL_ALLOW_METHODS]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(!methods.contains("POST"), "{methods}");
    let producer = preflight("/producer/execution-plans").await;
    assert!(
        !producer
            .headers
            .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN)
    );
    assert!(
        !producer
            .headers
            .contains_key(header::ACCESS_CONTROL_ALLOW_METHODS)
    );

    let allowing = secured_with(
        backend,
        CorsPolicy::parse("https://ui.example", true).unwrap(),
        HttpSettings::default(),
    )
    .await;
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", V12),
        ("origin", "https://ui.example"),
    ];
    let allowed = allowing
        .send("POST", "/producer/execution-plans", &headers, plan.clone())
        .await;
    assert_eq!(allowed.status, StatusCode::CREATED, "{}", allowed.text());
    let other = [
        ("authorization", auth.as_str()),
        ("content-type", V12),
        ("origin", "https://evil.example"),
    ];
    let refused = allowing
        .send("POST", "/producer/execution-plans", &other, plan)
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
}

#[rstest]
#[tokio::test]
async fn the_openapi_document_says_which_operations_need_which_token(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let app = secured(backend).await;
    let doc = app.get("/openapi.json").await.json();
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let lineage = &doc["paths"]["/api/v1/graph/lineage"]["get"];
    assert_eq!(lineage["security"], json!([{"bearer": []}]));
    assert!(lineage["responses"].get("401").is_some() && lineage["responses"].get("403").is_some());
    assert!(
        doc["paths"]["/health/ready"]["get"]
            .get("security")
            .is_none()
    );
    assert!(
        doc["paths"]["/producer/status"]["head"]
            .get("security")
            .is_none()
    );
}
