//! Tenants stay apart: what a token limited to some namespaces can write, and what it can
//! learn of the rest, through aliases, cursors, properties, error messages and plan ids. Each
//! test reproduces a fault a red-team pass found, on both backends.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use headwater::http::{CorsPolicy, HttpSettings};
use rstest::rstest;
use serde_json::{Value, json};

use crate::helpers::token_entry;
use crate::helpers::{
    Backend, Postgres, Sqlite, TestApp, TestDb, TestResponse, V12, encode, minimal_plan, plan_id,
};

const PRODUCER: &str = "producer-secret";
const CONSUMER: &str = "consumer-secret";
const TEAM_A: &str = "team-a-secret";
const TEAM_A_ADMIN: &str = "team-a-admin-secret";
const SPLINE_A: &str = "spline-a-secret";

/// An unlimited producer and consumer; team A's producer-and-consumer and admin, limited to
/// `teamA`; and a Spline producer limited to `spline` and `s3://team-a`.
fn tokens() -> String {
    let token = token_entry;
    [
        token("etl", PRODUCER, "\"producer\"", ""),
        token("notebook", CONSUMER, "\"consumer\"", ""),
        token(
            "team-a",
            TEAM_A,
            "\"producer\", \"consumer\"",
            "namespaces = [\"teamA\"]",
        ),
        token(
            "team-a-admin",
            TEAM_A_ADMIN,
            "\"admin\", \"consumer\"",
            "namespaces = [\"teamA\"]",
        ),
        token(
            "spline-a",
            SPLINE_A,
            "\"producer\", \"consumer\"",
            "namespaces = [\"spline\", \"s3://team-a\"]",
        ),
    ]
    .concat()
}

async fn secured(backend: Backend) -> TestApp {
    TestApp::secured(
        TestDb::new(backend).await,
        &tokens(),
        CorsPolicy::default(),
        HttpSettings::default(),
    )
}

async fn send_as(app: &TestApp, secret: &str, method: &str, uri: &str) -> TestResponse {
    let auth = format!("Bearer {secret}");
    app.send(method, uri, &[("authorization", &auth)], Vec::new())
        .await
}

async fn get_as(app: &TestApp, secret: &str, uri: &str) -> TestResponse {
    send_as(app, secret, "GET", uri).await
}

/// GETs `uri` as `secret`; asserts a 200.
async fn read(app: &TestApp, secret: &str, uri: &str) -> Value {
    let answer = get_as(app, secret, uri).await;
    assert_eq!(answer.status, StatusCode::OK, "{uri}: {}", answer.text());
    answer.json()
}

async fn post_as(app: &TestApp, secret: &str, uri: &str, ct: &str, body: String) -> TestResponse {
    let auth = format!("Bearer {secret}");
    let headers = [("authorization", auth.as_str()), ("content-type", ct)];
    app.send("POST", uri, &headers, body).await
}

async fn post_event(app: &TestApp, secret: &str, event: &Value) -> TestResponse {
    let body = event.to_string();
    post_as(app, secret, "/api/v1/lineage", "application/json", body).await
}

/// Posts an event; asserts 201.
async fn store_event(app: &TestApp, secret: &str, event: &Value) {
    let stored = post_event(app, secret, event).await;
    assert_eq!(stored.status, StatusCode::CREATED, "{}", stored.text());
}

/// A dataset of an event: namespace, name and facets.
fn dataset(namespace: &str, name: &str, facets: Value) -> Value {
    json!({"namespace": namespace, "name": name, "facets": facets})
}

/// A COMPLETE event of job `job` (namespace, name) at `time`.
fn event(job: (&str, &str), run: u32, time: &str, inputs: Value, outputs: Value) -> Value {
    json!({
        "eventType": "COMPLETE",
        "eventTime": time,
        "producer": "https://example.com/tenancy-test",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": format!("01890000-0000-7000-8000-{run:012}")},
        "job": {"namespace": job.0, "name": job.1},
        "inputs": inputs,
        "outputs": outputs,
    })
}

fn schema(columns: &[&str]) -> Value {
    let fields: Vec<Value> = columns.iter().map(|c| json!({"name": c})).collect();
    json!({"fields": fields})
}

fn symlinks(names: &[(&str, &str)]) -> Value {
    let ids: Vec<Value> = names
        .iter()
        .map(|(ns, name)| json!({"namespace": ns, "name": name, "type": "TABLE"}))
        .collect();
    json!({"identifiers": ids})
}

fn node_uri(key: &str) -> String {
    format!("/api/v1/graph/node?key={}", encode(key))
}

/// The node `key` as `secret` sees it; asserts 200.
async fn node(app: &TestApp, secret: &str, key: &str) -> Value {
    read(app, secret, &node_uri(key)).await["node"].clone()
}

/// Column names of a node's schema facet.
fn columns(node: &Value) -> Vec<String> {
    let fields = node["properties"]["facets"]["schema"]["fields"].as_array();
    fields
        .into_iter()
        .flatten()
        .map(|f| f["name"].as_str().unwrap().to_owned())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// 1. Alias hijack

#[rstest]
#[tokio::test]
async fn an_alias_in_a_namespace_the_writer_may_not_write_is_refused(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let app = secured(backend).await;
    let victim = dataset("teamB", "victim", json!({"schema": schema(&["salary"])}));
    let b1 = event(
        ("teamB", "load"),
        1,
        "2026-11-01T10:00:00Z",
        json!([]),
        json!([victim]),
    );
    store_event(&app, PRODUCER, &b1).await;
    let own = dataset("teamA", "mine", json!({"schema": schema(&["id"])}));
    let a1 = event(
        ("teamA", "load"),
        2,
        "2026-11-01T10:00:00Z",
        json!([]),
        json!([own]),
    );
    store_event(&app, TEAM_A, &a1).await;
    let counts = app.counts().await;

    let links = symlinks(&[("teamB", "victim"), ("teamB", "future")]);
    let hijack = dataset("teamA", "mine", json!({"symlinks": links}));
    let a2 = event(
        ("teamA", "load"),
        3,
        "2026-11-01T11:00:00Z",
        json!([]),
        json!([hijack]),
    );
    let refused = post_event(&app, TEAM_A, &a2).await;
    let problem = refused.assert_problem(StatusCode::FORBIDDEN, "forbidden", None);
    assert!(
        problem["detail"].as_str().unwrap().contains("teamB"),
        "{problem}"
    );
    assert_eq!(app.counts().await, counts, "nothing of it is stored");

    // teamB's own writes land on teamB's nodes.
    let victim = dataset(
        "teamB",
        "victim",
        json!({"schema": schema(&["salary", "bonus"])}),
    );
    let future = dataset("teamB", "future", json!({"schema": schema(&["ssn"])}));
    let b2 = event(
        ("teamB", "load"),
        4,
        "2026-11-01T12:00:00Z",
        json!([]),
        json!([victim, future]),
    );
    store_event(&app, PRODUCER, &b2).await;
    for (key, cols) in [
        ("dataset:teamB/victim", vec!["salary", "bonus"]),
        ("dataset:teamB/future", vec!["ssn"]),
        ("dataset:teamA/mine", vec!["id"]),
    ] {
        let found = node(&app, CONSUMER, key).await;
        assert_eq!(found["key"], key, "{found}");
        assert_eq!(columns(&found), cols, "{found}");
    }
    let theirs = get_as(&app, TEAM_A, &node_uri("dataset:teamB/victim")).await;
    theirs.assert_problem(StatusCode::NOT_FOUND, "not-found", None);
    let mine = node(&app, TEAM_A, "dataset:teamA/mine").await;
    assert_eq!(columns(&mine), ["id"], "{mine}");
}

#[rstest]
#[tokio::test]
async fn an_alias_never_captures_a_name_another_node_has(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let app = secured(backend).await;
    let victim = dataset("teamB", "victim", json!({"schema": schema(&["salary"])}));
    let b1 = event(
        ("teamB", "load"),
        1,
        "2026-11-01T10:00:00Z",
        json!([]),
        json!([victim]),
    );
    store_event(&app, PRODUCER, &b1).await;
    // Even an unlimited writer: a name that is a node's own is not an alias of another.
    let links = symlinks(&[("teamB", "victim"), ("hive://metastore", "db.mine")]);
    let mine = dataset("teamA", "mine", json!({"symlinks": links}));
    let a1 = event(
        ("teamA", "load"),
        2,
        "2026-11-01T11:00:00Z",
        json!([]),
        json!([mine]),
    );
    store_event(&app, PRODUCER, &a1).await;
    // A free name becomes an alias, and stays the first owner's.
    let alias = node(&app, CONSUMER, "dataset:hive://metastore/db.mine").await;
    assert_eq!(alias["key"], "dataset:teamA/mine");
    let other_links = symlinks(&[("hive://metastore", "db.mine")]);
    let other = dataset("teamC", "other", json!({"symlinks": other_links}));
    let c1 = event(
        ("teamC", "load"),
        3,
        "2026-11-01T11:00:00Z",
        json!([]),
        json!([other]),
    );
    store_event(&app, PRODUCER, &c1).await;
    let alias = node(&app, CONSUMER, "dataset:hive://metastore/db.mine").await;
    assert_eq!(alias["key"], "dataset:teamA/mine");

    let victim = dataset(
        "teamB",
        "victim",
        json!({"schema": schema(&["salary", "bonus"])}),
    );
    let b2 = event(
        ("teamB", "load"),
        4,
        "2026-11-01T12:00:00Z",
        json!([]),
        json!([victim]),
    );
    store_event(&app, PRODUCER, &b2).await;
    let found = node(&app, CONSUMER, "dataset:teamB/victim").await;
    assert_eq!(found["key"], "dataset:teamB/victim");
    assert_eq!(columns(&found), ["salary", "bonus"]);
    let mine = node(&app, TEAM_A, "dataset:teamA/mine").await;
    assert!(columns(&mine).is_empty(), "{mine}");
    let lineage = read(
        &app,
        CONSUMER,
        &format!(
            "/api/v1/graph/lineage?node={}&direction=upstream",
            encode("dataset:teamB/victim")
        ),
    )
    .await;
    assert_eq!(lineage["root"], "dataset:teamB/victim");
}

/// A database where an alias already took another node's name (as the fault left them): the
/// node's own name wins, for reads and for writes, Spline's too.
#[rstest]
#[tokio::test]
async fn a_node_keeps_its_name_over_an_alias_stored_before(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let app = secured(backend).await;
    let victim = dataset(
        "s3://team-b",
        "victim",
        json!({"schema": schema(&["salary"])}),
    );
    let mine = dataset("teamA", "mine", json!({"schema": schema(&["id"])}));
    let e = event(
        ("teamB", "load"),
        1,
        "2026-11-01T10:00:00Z",
        json!([]),
        json!([victim, mine]),
    );
    store_event(&app, PRODUCER, &e).await;
    app.db
        .execute(
            "insert into node_alias (alias, node_id, created_at)
             select 'dataset:s3://team-b/victim', node_id, created_at from node
             where key = 'dataset:teamA/mine'",
        )
        .await;
    let plan = minimal_plan(&plan_id(1), &["s3://team-a/in"], "s3://team-b/victim", "x");
    let stored = post_as(
        &app,
        PRODUCER,
        "/producer/execution-plans",
        V12,
        plan.to_string(),
    )
    .await;
    assert_eq!(stored.status, StatusCode::CREATED, "{}", stored.text());
    let found = node(&app, CONSUMER, "dataset:s3://team-b/victim").await;
    assert_eq!(found["key"], "dataset:s3://team-b/victim");
    let details = read(&app, CONSUMER, &node_uri("dataset:teamA/mine")).await;
    assert!(
        !details.to_string().contains(&plan_id(1)),
        "the plan's write went to teamA/mine: {details}"
    );
}

/// A limited writer may not write through an alias into a node outside its namespaces.
#[rstest]
#[tokio::test]
async fn a_limited_writer_cannot_write_through_an_alias_into_another_namespace(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let app = secured(backend).await;
    let links = symlinks(&[("teamA", "door")]);
    let secret = dataset(
        "teamB",
        "vault",
        json!({"symlinks": links, "schema": schema(&["x"])}),
    );
    let e = event(
        ("teamB", "load"),
        1,
        "2026-11-01T10:00:00Z",
        json!([]),
        json!([secret]),
    );
    store_event(&app, PRODUCER, &e).await;
    let counts = app.counts().await;
    let through = dataset("teamA", "door", json!({"schema": schema(&["stolen"])}));
    let a = event(
        ("teamA", "load"),
        2,
        "2026-11-01T11:00:00Z",
        json!([]),
        json!([through]),
    );
    post_event(&app, TEAM_A, &a)
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden", None);
    assert_eq!(app.counts().await, counts);
    let vault = node(&app, CONSUMER, "dataset:teamB/vault").await;
    assert_eq!(columns(&vault), ["x"]);
}

// ---------------------------------------------------------------------------------------------
// 2. Cursor leak

/// Datasets whose names hold `secret`: three in `teamA`, two in `secret-ns`, interleaved in
/// key order with the hidden ones first.
async fn secrets(app: &TestApp) {
    let outputs = json!([
        dataset("secret-ns", "secret_src", json!({})),
        dataset("secret-ns", "secret_src2", json!({})),
        dataset("teamA", "secret_a1", json!({})),
        dataset("teamA", "secret_a2", json!({})),
        dataset("teamA", "secret_a3", json!({})),
    ]);
    let e = event(
        ("ops", "seed"),
        1,
        "2026-11-01T10:00:00Z",
        json!([]),
        outputs,
    );
    store_event(app, PRODUCER, &e).await;
}

/// Pages through `/api/v1/graph/nodes` with `query`, one item a page; the keys, and the
/// cursors handed out.
async fn page_through(app: &TestApp, secret: &str, query: &str) -> (Vec<String>, Vec<String>) {
    let (mut keys, mut cursors) = (Vec::new(), Vec::new());
    let mut uri = format!("/api/v1/graph/nodes?limit=1&{query}");
    for _ in 0..100 {
        let page = read(app, secret, &uri).await;
        let items = page["items"].as_array().unwrap();
        let next = page["nextCursor"].as_str().map(str::to_owned);
        assert!(
            !items.is_empty() || next.is_none(),
            "an empty page with more to come: {page}"
        );
        keys.extend(items.iter().map(|i| i["key"].as_str().unwrap().to_owned()));
        let Some(next) = next else {
            return (keys, cursors);
        };
        uri = format!("/api/v1/graph/nodes?limit=1&{query}&cursor={next}");
        cursors.push(next);
    }
    panic!("paging did not end: {keys:?}");
}

#[rstest]
#[tokio::test]
async fn cursors_are_opaque_and_pages_hold_only_what_the_reader_sees(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let app = secured(backend).await;
    secrets(&app).await;
    let (keys, cursors) = page_through(&app, TEAM_A, "q=secret").await;
    assert_eq!(
        keys,
        [
            "dataset:teamA/secret_a1",
            "dataset:teamA/secret_a2",
            "dataset:teamA/secret_a3"
        ]
    );
    let (all, theirs) = page_through(&app, CONSUMER, "q=secret").await;
    assert_eq!(all.len(), 5, "{all:?}");
    for cursor in cursors.iter().chain(&theirs) {
        let decoded = URL_SAFE_NO_PAD.decode(cursor).unwrap_or_default();
        let text = String::from_utf8_lossy(&decoded);
        assert!(
            !text.contains("dataset:") && !text.contains("secret"),
            "a cursor shows a key: {text}"
        );
    }
    // Another reader's cursor, or one for another query, or a forged one, is no cursor.
    let bad = [
        format!("q=secret&cursor={}", theirs[0]),
        format!("q=secre&cursor={}", cursors[0]),
        format!("kind=job&q=secret&cursor={}", cursors[0]),
        format!(
            "q=secret&cursor={}",
            URL_SAFE_NO_PAD.encode("dataset:secret-ns/secret_src")
        ),
    ];
    for query in bad {
        get_as(
            &app,
            TEAM_A,
            &format!("/api/v1/graph/nodes?limit=1&{query}"),
        )
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid-parameter", Some("cursor"));
    }
}

/// Replicas share one database, and so the key cursors are sealed with: a page one replica
/// handed out continues on another.
#[rstest]
#[tokio::test]
async fn a_cursor_continues_on_another_replica(#[values(Postgres, Sqlite)] backend: Backend) {
    let app = TestApp::new(TestDb::new(backend).await);
    for n in 0..3 {
        let out = json!([dataset("teamA", &format!("d{n}"), json!({}))]);
        let e = event(("teamA", "seed"), n, "2026-11-01T10:00:00Z", json!([]), out);
        let stored = app
            .post(
                "/api/v1/lineage",
                Some("application/json"),
                &[],
                e.to_string(),
            )
            .await;
        assert_eq!(stored.status, StatusCode::CREATED);
    }
    let first = app
        .get("/api/v1/graph/nodes?kind=dataset&limit=2")
        .await
        .json();
    let cursor = first["nextCursor"].as_str().unwrap();
    let other = app.replica(false);
    let rest = other
        .get(&format!(
            "/api/v1/graph/nodes?kind=dataset&limit=2&cursor={cursor}"
        ))
        .await;
    assert_eq!(rest.status, StatusCode::OK, "{}", rest.text());
    assert_eq!(rest.json()["items"][0]["key"], "dataset:teamA/d2");
}

/// The store picks what a limited reader may see, in SQL, by the rule the node lookups apply
/// in Rust: every kind of node, from both producers, with and without namespaces.
#[rstest]
#[tokio::test]
async fn a_limited_listing_holds_exactly_the_nodes_a_lookup_shows(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let app = secured(backend).await;
    let with_columns = |ns: &str, name: &str| dataset(ns, name, json!({"schema": schema(&["c"])}));
    let mut child = event(
        ("teamA", "dag.task"),
        1,
        "2026-11-01T10:00:00Z",
        json!([
            with_columns("s3://team-a", "raw"),
            with_columns("teamB", "in")
        ]),
        json!([
            with_columns("teamA", "out"),
            with_columns("s3://team-b", "x#y")
        ]),
    );
    child["run"]["facets"] = json!({"parent": {
        "run": {"runId": "01890000-0000-7000-8000-0000000000ff"},
        "job": {"namespace": "teamB", "name": "dag"}}});
    store_event(&app, PRODUCER, &child).await;
    let plan = minimal_plan(
        &plan_id(1),
        &["s3://team-a/in", "table3"],
        "s3://team-b/out",
        "x",
    );
    let stored = post_as(
        &app,
        PRODUCER,
        "/producer/execution-plans",
        V12,
        plan.to_string(),
    )
    .await;
    assert_eq!(stored.status, StatusCode::CREATED, "{}", stored.text());
    let events = json!([{"planId": plan_id(1), "timestamp": 1_684_226_827_008_i64}]);
    let stored = post_as(
        &app,
        PRODUCER,
        "/producer/execution-events",
        V12,
        events.to_string(),
    )
    .await;
    assert_eq!(stored.status, StatusCode::CREATED, "{}", stored.text());

    let all = read(&app, CONSUMER, "/api/v1/graph/nodes?limit=1000").await;
    let all: Vec<String> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["key"].as_str().unwrap().to_owned())
        .collect();
    assert!(all.len() > 20, "{all:?}");
    for secret in [TEAM_A, SPLINE_A] {
        let mut shown = Vec::new();
        for key in &all {
            let answer = get_as(&app, secret, &node_uri(key)).await;
            if answer.status == StatusCode::OK {
                shown.push(key.clone());
            }
        }
        let (listed, _) = page_through(&app, secret, "").await;
        assert_eq!(listed, shown, "{secret}");
        assert!(!shown.is_empty() && shown.len() < all.len(), "{shown:?}");
    }
}

#[rstest]
#[tokio::test]
async fn the_audit_log_is_not_for_limited_tokens(#[values(Postgres, Sqlite)] backend: Backend) {
    let app = secured(backend).await;
    secrets(&app).await;
    get_as(&app, TEAM_A_ADMIN, "/api/v1/admin/audit")
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden", None);
}

// ---------------------------------------------------------------------------------------------
// 3. Facet leak

/// `teamA/report` is written by teamA's own job, then by a job in `secret-ns` that adds a
/// description and column lineage from a hidden dataset; `teamA/mixed` by an unlimited job in
/// `teamA` whose column lineage reads a hidden and a visible column.
async fn leaky_facets(app: &TestApp) {
    let own = dataset(
        "teamA",
        "report",
        json!({"schema": schema(&["total", "id"])}),
    );
    let a = event(
        ("teamA", "build"),
        1,
        "2026-11-01T10:00:00Z",
        json!([]),
        json!([own]),
    );
    store_event(app, TEAM_A, &a).await;
    let lineage = json!({"fields": {"total": {"inputFields": [
        {"namespace": "secret-ns", "name": "secret_src2", "field": "password_hash"}]}}});
    let docs = json!({"description": "copied from TOPSECRET payroll"});
    let leaked = dataset(
        "teamA",
        "report",
        json!({"columnLineage": lineage, "documentation": docs}),
    );
    let source = dataset("secret-ns", "secret_src2", json!({}));
    let s = event(
        ("secret-ns", "copy"),
        2,
        "2026-11-01T11:00:00Z",
        json!([source]),
        json!([leaked]),
    );
    store_event(app, PRODUCER, &s).await;
    let mixed_lineage = json!({"fields": {"total": {"inputFields": [
        {"namespace": "secret-ns", "name": "secret_src2", "field": "password_hash"},
        {"namespace": "teamA", "name": "report", "field": "total"}]}}});
    let mixed = dataset(
        "teamA",
        "mixed",
        json!({"columnLineage": mixed_lineage, "schema": schema(&["total"])}),
    );
    let m = event(
        ("teamA", "mix"),
        3,
        "2026-11-01T12:00:00Z",
        json!([dataset("teamA", "report", json!({}))]),
        json!([mixed]),
    );
    store_event(app, PRODUCER, &m).await;
}

const LEAKS: [&str; 4] = ["secret-ns", "secret_src2", "password_hash", "TOPSECRET"];

#[rstest]
#[tokio::test]
async fn properties_naming_hidden_nodes_are_filtered_for_limited_readers(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let app = secured(backend).await;
    leaky_facets(&app).await;
    let report = encode("dataset:teamA/report");
    let mixed = encode("dataset:teamA/mixed");
    let uris = [
        node_uri("dataset:teamA/report"),
        node_uri("dataset:teamA/mixed"),
        format!("/api/v1/graph/lineage?node={report}&direction=both"),
        format!("/api/v1/graph/lineage?node={mixed}&direction=both&format=graphml"),
        format!("/api/v1/graph/layout?node={mixed}&direction=both"),
        format!("/api/v1/graph/column-lineage?node={mixed}&column=total&direction=both"),
        format!("/api/v1/graph/column-lineage?node={report}&column=total&direction=both"),
        format!("/api/v1/graph/impact?node={report}"),
        "/api/v1/graph/nodes?kind=dataset".to_owned(),
        "/api/v1/graph/nodes?q=report".to_owned(),
    ];
    for uri in &uris {
        let seen = get_as(&app, TEAM_A, uri).await;
        assert_eq!(seen.status, StatusCode::OK, "{uri}: {}", seen.text());
        let text = seen.text();
        for leak in LEAKS {
            assert!(!text.contains(leak), "{uri} shows `{leak}`: {text}");
        }
    }
    // The reader keeps what is its own: the schema of its job, the visible input.
    let mine = node(&app, TEAM_A, "dataset:teamA/report").await;
    assert_eq!(columns(&mine), ["total", "id"], "{mine}");
    let mixed_node = node(&app, TEAM_A, "dataset:teamA/mixed").await;
    let inputs =
        &mixed_node["properties"]["facets"]["columnLineage"]["fields"]["total"]["inputFields"];
    assert_eq!(
        inputs,
        &json!([{"namespace": "teamA", "name": "report", "field": "total"}])
    );
    // An unlimited reader sees everything.
    let all = read(&app, CONSUMER, &node_uri("dataset:teamA/report")).await;
    for leak in LEAKS {
        assert!(all.to_string().contains(leak), "{leak}: {all}");
    }
}

// ---------------------------------------------------------------------------------------------
// 4. Existence oracle

const HIDDEN: &str = "dataset:secret-ns/secret_src";
const MISSING: &str = "dataset:secret-ns/no_such";
const VISIBLE: &str = "dataset:teamA/secret_a1";

#[rstest]
#[tokio::test]
async fn hidden_nodes_answer_exactly_as_missing_ones_everywhere(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let app = secured(backend).await;
    secrets(&app).await;
    // `K` stands for the key asked for.
    let before = "asOf=2020-01-01T00:00:00Z";
    let visible = encode(VISIBLE);
    let endpoints: Vec<(&str, String)> = vec![
        ("GET", "/api/v1/graph/node?key=K".to_owned()),
        ("DELETE", "/api/v1/graph/node?key=K".to_owned()),
        ("GET", "/api/v1/graph/lineage?node=K".to_owned()),
        ("GET", format!("/api/v1/graph/lineage?node=K&{before}")),
        ("GET", "/api/v1/graph/layout?node=K".to_owned()),
        ("GET", format!("/api/v1/graph/layout?node=K&{before}")),
        ("GET", "/api/v1/graph/impact?node=K".to_owned()),
        ("GET", format!("/api/v1/graph/impact?node=K&{before}")),
        (
            "GET",
            format!("/api/v1/graph/impact?node=K&column=c&{before}"),
        ),
        (
            "GET",
            "/api/v1/graph/column-lineage?node=K&column=c".to_owned(),
        ),
        (
            "GET",
            format!("/api/v1/graph/column-lineage?node=K&column=c&{before}"),
        ),
        ("GET", format!("/api/v1/graph/paths?from=K&to={visible}")),
        ("GET", format!("/api/v1/graph/paths?from={visible}&to=K")),
        (
            "GET",
            format!("/api/v1/graph/lineage?node={visible}&expand=K&asOf=2030-01-01T00:00:00Z"),
        ),
        (
            "GET",
            format!("/api/v1/graph/layout?node={visible}&operations=K"),
        ),
    ];
    let uri = |template: &str, key: &str| template.replace("=K", &format!("={}", encode(key)));
    for (method, uri_template) in &endpoints {
        let secret = match *method {
            "DELETE" => TEAM_A_ADMIN,
            _ => TEAM_A,
        };
        let hidden = send_as(&app, secret, method, &uri(uri_template, HIDDEN)).await;
        let missing = send_as(&app, secret, method, &uri(uri_template, MISSING)).await;
        let shown = uri(uri_template, HIDDEN);
        assert_eq!(hidden.status, missing.status, "{method} {shown}");
        assert!(hidden.status.is_client_error(), "{method} {shown}");
        assert_eq!(
            hidden.text().replace(HIDDEN, MISSING),
            missing.text(),
            "{method} {shown}"
        );
    }
    // The node is there all the same, for a reader who may see it.
    assert_eq!(node(&app, CONSUMER, HIDDEN).await["key"], HIDDEN);
}

// ---------------------------------------------------------------------------------------------
// 5. Plan regraft

#[rstest]
#[tokio::test]
async fn a_plan_id_is_not_reused_for_other_content(#[values(Postgres, Sqlite)] backend: Backend) {
    let app = secured(backend).await;
    let id = plan_id(1);
    let plan = minimal_plan(&id, &["s3://team-b/in"], "s3://team-b/out", "x");
    let post = |secret: &'static str, body: String| {
        let app = &app;
        async move { post_as(app, secret, "/producer/execution-plans", V12, body).await }
    };
    let stored = post(PRODUCER, plan.to_string()).await;
    assert_eq!(stored.status, StatusCode::CREATED, "{}", stored.text());
    let counts = app.counts().await;
    // Retries: the same bytes, or the same plan spelled otherwise, change nothing.
    for body in [
        plan.to_string(),
        serde_json::to_string_pretty(&plan).unwrap(),
    ] {
        let again = post(PRODUCER, body).await;
        assert_eq!(again.status, StatusCode::CREATED, "{}", again.text());
        assert_eq!(again.json(), json!(id));
    }
    assert_eq!(app.counts().await.nodes, counts.nodes);
    assert_eq!(app.counts().await.edges, counts.edges);

    let mut regraft = plan.clone();
    regraft["operations"]["write"]["outputSource"] = json!("s3://team-b/elsewhere");
    let before = app.counts().await;
    post(PRODUCER, regraft.to_string()).await.assert_problem(
        StatusCode::CONFLICT,
        "conflict",
        Some("id"),
    );
    assert_eq!(app.counts().await, before, "a refused plan changes nothing");
    let job = read(&app, CONSUMER, &node_uri(&format!("job:{id}"))).await;
    assert!(!job.to_string().contains("elsewhere"), "{job}");

    // A limited producer learns nothing of a plan outside its namespaces: not that it is
    // stored (201 for the same bytes), not that it differs (409).
    let mut own = plan.clone();
    own["operations"]["write"]["outputSource"] = json!("s3://team-a/out");
    own["operations"]["reads"][0]["inputSources"] = json!(["s3://team-a/in"]);
    for body in [plan.to_string(), regraft.to_string()] {
        post(SPLINE_A, body)
            .await
            .assert_problem(StatusCode::FORBIDDEN, "forbidden", None);
    }
    post(SPLINE_A, own.to_string()).await.assert_problem(
        StatusCode::CONFLICT,
        "conflict",
        Some("id"),
    );
    assert_eq!(app.counts().await, before);
}

// ---------------------------------------------------------------------------------------------
// 14. Case folding of non-ASCII search terms

#[rstest]
#[tokio::test]
async fn searches_fold_non_ascii_letters_alike_on_both_backends(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let app = TestApp::new(TestDb::new(backend).await);
    let outputs = json!([
        dataset("teamA", "ÉCOLE_élèves", json!({})),
        dataset("teamA", "Straße_ΣΟΦΙΑ", json!({})),
        dataset("teamA", "plain", json!({})),
    ]);
    let e = event(
        ("teamA", "seed"),
        1,
        "2026-11-01T10:00:00Z",
        json!([]),
        outputs,
    );
    let stored = app
        .post(
            "/api/v1/lineage",
            Some("application/json"),
            &[],
            e.to_string(),
        )
        .await;
    assert_eq!(stored.status, StatusCode::CREATED);
    let keys = |answer: Value, field: &str| -> BTreeSet<String> {
        answer[field]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["name"].as_str().unwrap().to_owned())
            .collect()
    };
    for (term, expected) in [
        ("école", vec!["ÉCOLE_élèves"]),
        ("ÉLÈVES", vec!["ÉCOLE_élèves"]),
        ("σοφια", vec!["Straße_ΣΟΦΙΑ"]),
        ("STRASSE", vec![]),
        ("straße", vec!["Straße_ΣΟΦΙΑ"]),
    ] {
        let expected: BTreeSet<String> = expected.into_iter().map(str::to_owned).collect();
        let q = encode(term);
        let graph = app
            .get(&format!("/api/v1/graph/nodes?kind=dataset&q={q}"))
            .await;
        assert_eq!(keys(graph.json(), "items"), expected, "graph search {term}");
        let marquez = app
            .get(&format!("/api/v1/search?q={q}&filter=DATASET"))
            .await;
        let names: BTreeSet<String> = marquez.json()["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(names, expected, "Marquez search {term}: {}", marquez.text());
    }
}
