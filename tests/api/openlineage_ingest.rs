//! OpenLineage ingest over hand-written events: kinds, run-state merging in any arrival order,
//! facet accumulation, idempotency, time zones, gzip, batches, rejections (each with the
//! problem's path and nothing stored), cross-format dataset identity with Spline, symlink
//! aliases, column lineage and parent links, all read back through the native graph API.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use headwater::http::HttpSettings;
use serde_json::{Value, json};

use rstest::rstest;

use crate::helpers::{Backend, Postgres, Sqlite, TestDb};
use crate::helpers::{
    Counts, TestApp, TestResponse, Triple, edge_triples, encode, gzip, minimal_plan, node_details,
    node_keys, plan_id, triple,
};

pub(super) const LINEAGE: &str = "/api/v1/lineage";
pub(super) const BATCH: &str = "/api/v1/lineage/batch";

const RUN_URL: &str = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent";
const PRODUCER: &str = "https://example.com/headwater-tests";
const RUN: &str = "0192960e-4c5f-7c6a-8f5a-1d2e3f4a5b6c";
const T1: &str = "2024-10-16T17:00:00Z";
const T2: &str = "2024-10-16T17:05:00Z";
const T3: &str = "2024-10-16T17:10:00Z";
const JOB: &str = "job:etl/orders.daily";
const IN: &str = "dataset:s3://lake/raw/orders";
const OUT: &str = "dataset:s3://lake/clean/orders";

fn run_key(id: &str) -> String {
    format!("run:{id}")
}

/// A RunEvent of job `etl/orders.daily` reading `s3://lake/raw/orders` and writing
/// `s3://lake/clean/orders`.
fn event(run_id: &str, event_type: &str, time: &str) -> Value {
    json!({
        "eventTime": time,
        "eventType": event_type,
        "producer": PRODUCER,
        "schemaURL": RUN_URL,
        "run": {"runId": run_id},
        "job": {"namespace": "etl", "name": "orders.daily"},
        "inputs": [{"namespace": "s3://lake", "name": "raw/orders"}],
        "outputs": [{"namespace": "s3://lake", "name": "clean/orders"}]
    })
}

/// Deep-merges `patch` into `base`; a `null` in the patch removes the key.
pub(super) fn with(mut base: Value, patch: Value) -> Value {
    merge_into(&mut base, patch);
    base
}

fn merge_into(base: &mut Value, patch: Value) {
    let (Some(target), Value::Object(patch)) = (base.as_object_mut(), patch) else {
        return;
    };
    for (key, value) in patch {
        match (target.get_mut(&key), value) {
            (_, Value::Null) => {
                target.remove(&key);
            }
            (Some(existing @ Value::Object(_)), value @ Value::Object(_)) => {
                merge_into(existing, value)
            }
            (_, value) => {
                target.insert(key, value);
            }
        }
    }
}

/// POSTs one event as `application/json`.
pub(super) async fn post_event(app: &TestApp, body: &Value) -> TestResponse {
    app.post(LINEAGE, Some("application/json"), &[], body.to_string())
        .await
}

/// POSTs one event; asserts 201 with an empty body.
pub(super) async fn store_event(app: &TestApp, body: &Value) {
    let response = post_event(app, body).await;
    assert_created(&response);
}

#[track_caller]
fn assert_created(response: &TestResponse) {
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
    assert!(response.body.is_empty(), "{}", response.text());
}

/// POSTs a batch; asserts 200 and returns the batch result.
pub(super) async fn post_batch(app: &TestApp, events: &Value) -> Value {
    let response = app
        .post(BATCH, Some("application/json"), &[], events.to_string())
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    response.json()
}

/// The stored properties of a node.
pub(super) async fn props(app: &TestApp, key: &str) -> Value {
    node_details(app, key).await["node"]["properties"].clone()
}

/// Asserts that no node answers to `key`.
pub(super) async fn assert_absent(app: &TestApp, key: &str) {
    let response = app
        .get(&format!("/api/v1/graph/node?key={}", encode(key)))
        .await;
    assert_eq!(response.status, StatusCode::NOT_FOUND, "{key} exists");
}

/// The properties of one edge in node details; panics when there is no such edge.
#[track_caller]
pub(super) fn edge(details: &Value, source: &str, kind: &str, target: &str) -> Value {
    let edges = details["edges"].as_array().expect("edges");
    let found = edges
        .iter()
        .find(|e| e["source"] == source && e["kind"] == kind && e["target"] == target);
    match found {
        Some(e) => e["properties"].clone(),
        None => panic!(
            "no edge {source} -{kind}-> {target} in {:#}",
            details["edges"]
        ),
    }
}

/// (source, kind, target) of every edge around a node, sorted.
pub(super) async fn edges_around(app: &TestApp, key: &str) -> BTreeSet<Triple> {
    edge_triples(&node_details(app, key).await)
        .into_iter()
        .collect()
}

/// Keys of every node of a kind, optionally matching `q`.
pub(super) async fn keys(app: &TestApp, kind: &str, q: &str) -> Vec<String> {
    let uri = format!("/api/v1/graph/nodes?kind={kind}&q={}&limit=1000", encode(q));
    let response = app.get(&uri).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    let page = response.json();
    let items = page["items"].as_array().unwrap();
    items
        .iter()
        .map(|n| n["key"].as_str().unwrap().to_owned())
        .collect()
}

/// The spec versions of the stored raw payloads, sorted.
pub(super) async fn raw_versions(app: &TestApp) -> Vec<String> {
    let payloads = app.db.raw_payloads().await;
    let events = payloads
        .into_iter()
        .filter(|p| p.raw.format == "openlineage.event");
    let mut versions: Vec<String> = events.map(|p| p.raw.version).collect();
    versions.sort();
    versions
}

/// Parses an RFC 3339 property.
#[track_caller]
pub(super) fn instant(value: &Value) -> DateTime<Utc> {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("not a time: {value}"));
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .with_timezone(&Utc)
}

#[track_caller]
fn utc(text: &str) -> DateTime<Utc> {
    instant(&json!(text))
}

// Event kinds.

/// The schemaURL decides the kind in the `$defs` and the `definitions` form, over the shape.
#[rstest]
#[tokio::test]
async fn the_schema_url_decides_the_kind_in_either_form(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    let job_url = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/JobEvent";
    let job_event = with(
        event("stray-run", "COMPLETE", T1),
        json!({"schemaURL": job_url}),
    );
    store_event(&app, &job_event).await;
    assert_absent(&app, "run:stray-run").await;
    assert!(
        edges_around(&app, JOB)
            .await
            .contains(&triple(IN, "input", JOB))
    );
    let old_run = "https://openlineage.io/spec/1-0-5/OpenLineage.json#/definitions/RunEvent";
    store_event(
        &app,
        &with(event("r-old", "START", T1), json!({"schemaURL": old_run})),
    )
    .await;
    assert_eq!(props(&app, "run:r-old").await["state"], "START");
    let dataset_url =
        "https://openlineage.io/spec/1-0-5/OpenLineage.json#/definitions/DatasetEvent";
    let dataset_event = json!({"eventTime": T1, "schemaURL": dataset_url,
        "dataset": {"namespace": "s3://lake", "name": "static"},
        "job": {"namespace": "etl", "name": "not-a-job"}});
    store_event(&app, &dataset_event).await;
    assert_absent(&app, "job:etl/not-a-job").await;
    assert_eq!(
        props(&app, "dataset:s3://lake/static").await["name"],
        "static"
    );
    assert_eq!(raw_versions(&app).await, ["1-0-5", "1-0-5", "2-0-2"]);
}

/// Without a usable schemaURL, a run makes a RunEvent, a lone job a JobEvent, a lone dataset a
/// DatasetEvent.
#[rstest]
#[tokio::test]
async fn without_a_schema_url_the_shape_decides_the_kind(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    let run = with(event("r-shape", "COMPLETE", T1), json!({"schemaURL": null}));
    store_event(&app, &run).await;
    assert_eq!(props(&app, "run:r-shape").await["state"], "COMPLETE");
    let test_url = with(
        event("r-test", "START", T1),
        json!({"schemaURL": "http://test.schema.url"}),
    );
    store_event(&app, &test_url).await;
    assert_eq!(props(&app, "run:r-test").await["runId"], "r-test");
    let job = json!({"eventTime": T1, "job": {"namespace": "etl", "name": "static"},
                     "outputs": [{"namespace": "s3://lake", "name": "static-out"}]});
    store_event(&app, &job).await;
    let job_edges = edges_around(&app, "job:etl/static").await;
    assert_eq!(
        job_edges,
        BTreeSet::from([triple(
            "job:etl/static",
            "output",
            "dataset:s3://lake/static-out"
        )])
    );
    let dataset = json!({"eventTime": T1, "dataset": {"namespace": "file", "name": "/tmp/x"}});
    store_event(&app, &dataset).await;
    assert_eq!(
        props(&app, "dataset:file:///tmp/x").await["uri"],
        "file:///tmp/x"
    );
    assert_eq!(keys(&app, "run", "").await, ["run:r-shape", "run:r-test"]);
    assert_eq!(raw_versions(&app).await, ["unknown"; 4]);
}

// Run state.

/// START then COMPLETE make one run whose state is COMPLETE, with both times.
#[rstest]
#[tokio::test]
async fn start_then_complete_merge_into_one_completed_run(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    store_event(&app, &event(RUN, "START", T1)).await;
    store_event(&app, &event(RUN, "COMPLETE", T2)).await;
    assert_one_completed_run(&app).await;
}

/// COMPLETE arriving before START still ends COMPLETE, with startedAt and endedAt set.
#[rstest]
#[tokio::test]
async fn complete_before_start_still_ends_complete_with_both_times(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    store_event(&app, &event(RUN, "COMPLETE", T2)).await;
    store_event(&app, &event(RUN, "START", T1)).await;
    assert_one_completed_run(&app).await;
}

async fn assert_one_completed_run(app: &TestApp) {
    assert_eq!(keys(app, "run", "").await, [run_key(RUN)]);
    let d = node_details(app, &run_key(RUN)).await;
    let p = &d["node"]["properties"];
    assert_eq!(p["state"], "COMPLETE", "{p:#}");
    assert_eq!(instant(&p["startedAt"]), utc(T1), "{p:#}");
    assert_eq!(instant(&p["endedAt"]), utc(T2), "{p:#}");
    assert_eq!(instant(&p["eventTime"]), utc(T2), "{p:#}");
    assert_eq!(p["format"], "openlineage");
    assert_eq!(p["runId"], RUN);
    assert_eq!(p["producer"], PRODUCER);
    assert_eq!(
        p["job"],
        json!({"namespace": "etl", "name": "orders.daily"})
    );
    assert_eq!(instant(&d["node"]["firstSeen"]), utc(T1));
    assert_eq!(instant(&d["node"]["lastSeen"]), utc(T2));
    edge(&d, &run_key(RUN), "run_of", JOB);
    assert_eq!(app.counts().await.raw_payloads, 2);
}

/// An event without eventType updates facets and eventTime but never the state.
#[rstest]
#[tokio::test]
async fn an_event_without_event_type_leaves_the_state_alone(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    store_event(&app, &event(RUN, "START", T1)).await;
    store_event(&app, &event(RUN, "COMPLETE", T2)).await;
    let untyped = with(
        event(RUN, "", T3),
        json!({"eventType": null, "run": {"facets": {"late": {"note": "after the end"}}}}),
    );
    store_event(&app, &untyped).await;
    let p = props(&app, &run_key(RUN)).await;
    assert_eq!(p["state"], "COMPLETE", "{p:#}");
    assert_eq!(p["facets"]["late"]["note"], "after the end");
    assert_eq!(instant(&p["eventTime"]), utc(T3));
    assert_eq!(instant(&p["endedAt"]), utc(T2));
    let alone = with(event("r-untyped", "", T1), json!({"eventType": null}));
    store_event(&app, &alone).await;
    let p = props(&app, "run:r-untyped").await;
    assert!(p.get("state").is_none(), "{p:#}");
    assert!(
        p.get("startedAt").is_none() && p.get("endedAt").is_none(),
        "{p:#}"
    );
}

/// The state and a conflicting facet follow the latest event that set them, whatever order
/// the START (t1), RUNNING (t2) and untyped (t3) events arrive in.
#[rstest]
#[tokio::test]
async fn state_and_facets_follow_the_latest_event_that_set_them_in_any_arrival_order(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    let orders = [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ];
    let mut wrong = Vec::new();
    for order in orders {
        let run_id = format!("r-order-{}{}{}", order[0], order[1], order[2]);
        let events = three_events(&run_id);
        for i in order {
            store_event(&app, &events[i]).await;
        }
        let p = props(&app, &run_key(&run_id)).await;
        let seen = (p["state"].clone(), p["facets"]["owner"]["team"].clone());
        if seen != (json!("RUNNING"), json!("second")) || p["facets"].get("extra").is_none() {
            wrong.push(format!(
                "arrival {order:?}: state {}, owner {}",
                seen.0, seen.1
            ));
        }
    }
    assert!(wrong.is_empty(), "expected RUNNING/second: {wrong:#?}");
}

/// START at T1 (owner first), RUNNING at T2 (owner second), untyped at T3 (extra facet).
fn three_events(run_id: &str) -> [Value; 3] {
    let owner = |team: &str| json!({"run": {"facets": {"owner": {"team": team}}}});
    [
        with(event(run_id, "START", T1), owner("first")),
        with(event(run_id, "RUNNING", T2), owner("second")),
        with(
            event(run_id, "", T3),
            json!({"eventType": null, "run": {"facets": {"extra": {"x": 1}}}}),
        ),
    ]
}

// Facets.

/// Facets sent by different events of a run accumulate on its run, job, datasets and edges.
#[rstest]
#[tokio::test]
async fn facets_from_different_events_accumulate_on_run_job_and_dataset(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    let first = json!({
        "run": {"facets": {"nominalTime": {"nominalStartTime": T1}}},
        "job": {"facets": {"sql": {"query": "select 1"}}},
        "inputs": [{"namespace": "s3://lake", "name": "raw/orders",
                    "facets": {"schema": {"fields": [{"name": "id"}]}},
                    "inputFacets": {"inputStatistics": {"rowCount": 10}}}]
    });
    let second = json!({
        "run": {"facets": {"errorMessage": {"message": "boom", "programmingLanguage": "SQL"}}},
        "job": {"facets": {"documentation": {"description": "daily orders"}}},
        "inputs": [{"namespace": "s3://lake", "name": "raw/orders",
                    "facets": {"documentation": {"description": "raw"}},
                    "inputFacets": {"dataQualityMetrics": {"rowCount": 10, "columnMetrics": {}}}}]
    });
    store_event(&app, &with(event(RUN, "START", T1), first)).await;
    store_event(&app, &with(event(RUN, "FAIL", T2), second)).await;
    let facet_names = |p: &Value| {
        p["facets"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect::<Vec<_>>()
    };
    let run = props(&app, &run_key(RUN)).await;
    assert_eq!(facet_names(&run), ["errorMessage", "nominalTime"]);
    assert_eq!(run["state"], "FAIL");
    assert_eq!(
        facet_names(&props(&app, JOB).await),
        ["documentation", "sql"]
    );
    let input = node_details(&app, IN).await;
    let p = &input["node"]["properties"];
    assert_eq!(facet_names(p), ["documentation", "schema"]);
    assert_eq!(p["facets"]["schema"], json!({"fields": [{"name": "id"}]}));
    let read = edge(&input, IN, "input", JOB);
    let input_facets = read["inputFacets"].as_object().unwrap();
    assert_eq!(
        input_facets.keys().collect::<Vec<_>>(),
        ["dataQualityMetrics", "inputStatistics"]
    );
}

/// Floats at the ends of `f64`'s range survive storage exactly and stay mergeable: PostgreSQL's
/// `jsonb` writes `f64::MAX` out as 309 digits, which serde_json's default (approximate) float
/// parser refused, so the next event, and every read, of that dataset was a 500.
#[rstest]
#[tokio::test]
async fn extreme_floats_in_facets_round_trip_and_merge(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    let stats = json!({"max": f64::MAX, "min": -f64::MAX, "tiny": 5e-324, "third": 1.0 / 3.0});
    let facets = json!({"inputs": [{"namespace": "s3://lake", "name": "raw/orders",
                                    "facets": {"custom": stats}}]});
    store_event(&app, &with(event(RUN, "START", T1), facets.clone())).await;
    store_event(&app, &with(event(RUN, "COMPLETE", T2), facets)).await;
    let input = node_details(&app, IN).await;
    assert_eq!(input["node"]["properties"]["facets"]["custom"], stats);
}

/// Where two events set the same facet, the later eventTime wins, whatever arrived first.
#[rstest]
#[tokio::test]
async fn the_later_event_time_wins_a_conflicting_facet_whatever_arrived_first(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    let owned = |owner: &str, extra: &str| {
        let facets = json!({"ownership": {"owners": [{"name": owner}]}, extra: {"x": 1}});
        json!({"run": {"facets": facets}, "job": {"facets": facets},
               "outputs": [{"namespace": "s3://lake", "name": "clean/orders", "facets": facets}]})
    };
    store_event(
        &app,
        &with(event(RUN, "COMPLETE", T2), owned("late", "fromLate")),
    )
    .await;
    store_event(
        &app,
        &with(event(RUN, "START", T1), owned("early", "fromEarly")),
    )
    .await;
    for key in [run_key(RUN).as_str(), JOB, OUT] {
        let p = props(&app, key).await;
        assert_eq!(
            p["facets"]["ownership"]["owners"][0]["name"], "late",
            "{key}: {p:#}"
        );
        assert!(p["facets"].get("fromLate").is_some(), "{key}: {p:#}");
        assert!(p["facets"].get("fromEarly").is_some(), "{key}: {p:#}");
    }
}

/// Lineage edges appear with the START event; nothing waits for COMPLETE.
#[rstest]
#[tokio::test]
async fn lineage_edges_exist_after_start_alone(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    store_event(&app, &event(RUN, "START", T1)).await;
    let l = app.lineage(IN, "downstream", 1).await;
    assert_eq!(node_keys(&l), [OUT, IN, JOB]);
    let edges: BTreeSet<Triple> = edge_triples(&l).into_iter().collect();
    assert_eq!(
        edges,
        BTreeSet::from([triple(IN, "input", JOB), triple(JOB, "output", OUT)])
    );
    assert!(
        edges_around(&app, JOB)
            .await
            .contains(&triple(&run_key(RUN), "run_of", JOB))
    );
    assert_eq!(props(&app, &run_key(RUN)).await["state"], "START");
}

// Idempotency.

/// The exact same body twice is stored once; a reformatted copy is a new payload but changes
/// no node or edge.
#[rstest]
#[tokio::test]
async fn an_exact_duplicate_is_stored_once(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    let body = event(RUN, "COMPLETE", T1);
    store_event(&app, &body).await;
    let once = app.counts().await;
    assert_eq!((once.raw_payloads, once.nodes, once.edges), (1, 4, 3));
    store_event(&app, &body).await;
    assert_eq!(app.counts().await, once);
    let batch = json!([body.clone(), body.clone()]);
    assert_eq!(post_batch(&app, &batch).await["summary"]["successful"], 2);
    assert_eq!(app.counts().await, once);
    let pretty = serde_json::to_string_pretty(&body).unwrap();
    let response = app
        .post(LINEAGE, Some("application/json"), &[], pretty)
        .await;
    assert_created(&response);
    let counts = app.counts().await;
    assert_eq!(
        counts,
        Counts {
            raw_payloads: 2,
            ..once
        }
    );
}

// Time.

/// Event times with an offset, or none, are stored in UTC and ordered as instants.
#[rstest]
#[tokio::test]
async fn event_times_with_an_offset_are_normalised_to_utc(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    store_event(&app, &event(RUN, "COMPLETE", "2024-10-16T18:00:00Z")).await;
    store_event(&app, &event(RUN, "START", "2024-10-16T19:33:51.509+02:00")).await;
    let d = node_details(&app, &run_key(RUN)).await;
    let p = &d["node"]["properties"];
    assert_eq!(
        p["state"], "COMPLETE",
        "19:33+02:00 is before 18:00Z: {p:#}"
    );
    let started = p["startedAt"].as_str().unwrap();
    assert!(started.ends_with('Z'), "{started}");
    assert_eq!(instant(&p["startedAt"]), utc("2024-10-16T17:33:51.509Z"));
    assert_eq!(
        instant(&d["node"]["firstSeen"]),
        utc("2024-10-16T17:33:51.509Z")
    );
    store_event(&app, &event("r-naive", "START", "2024-10-16T17:40:00")).await;
    let p = props(&app, "run:r-naive").await;
    assert_eq!(instant(&p["eventTime"]), utc("2024-10-16T17:40:00Z"));
}

// Transport.

/// Gzip bodies with a Bearer token are inflated and stored, singly and in batches.
#[rstest]
#[tokio::test]
async fn gzip_bodies_with_a_bearer_token_are_accepted(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    let plain = event(RUN, "START", T1).to_string();
    let zipped = gzip(plain.as_bytes());
    let headers = [("content-encoding", "gzip"), ("authorization", "Bearer x")];
    let response = app
        .post(LINEAGE, Some("application/json"), &headers, zipped.clone())
        .await;
    assert_created(&response);
    let stored = app.db.raw_payloads().await;
    assert_eq!(stored.len(), 1);
    let (body, wire) = (stored[0].raw.body.to_vec(), stored[0].raw.wire_bytes);
    assert_eq!((body, wire), (plain.into_bytes(), zipped.len()));
    let batch = json!([event("r-gz", "COMPLETE", T2)]).to_string();
    let response = app
        .post(
            BATCH,
            Some("application/json"),
            &headers,
            gzip(batch.as_bytes()),
        )
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    assert_eq!(response.json()["status"], "success");
    assert_eq!(props(&app, "run:r-gz").await["state"], "COMPLETE");
}

/// application/json with parameters, any `+json` type, or no Content-Type is taken as JSON.
#[rstest]
#[tokio::test]
async fn json_media_types_and_no_content_type_are_accepted(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    let types = [
        Some("application/json; charset=utf-8"),
        Some("application/vnd.openlineage.v1+json"),
        None,
    ];
    for (i, content_type) in types.into_iter().enumerate() {
        let body = event(&format!("r-type-{i}"), "START", T1).to_string();
        let response = app.post(LINEAGE, content_type, &[], body).await;
        assert_created(&response);
    }
    assert_eq!(keys(&app, "run", "r-type").await.len(), 3);
}

// Batches.

/// A batch with bad events at 1 and 3 stores the good ones and reports the bad ones.
#[rstest]
#[tokio::test]
async fn a_batch_with_bad_events_at_one_and_three_is_a_partial_success(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    let batch = json!([
        event("b-0", "START", T1),
        with(event("b-1", "START", T1), json!({"run": {"runId": null}})),
        event("b-2", "START", T1),
        event("b-3", "DONE", T1),
        event("b-4", "START", T1),
    ]);
    let result = post_batch(&app, &batch).await;
    assert_eq!(result["status"], "partial_success", "{result:#}");
    let summary =
        json!({"received": 5, "successful": 3, "failed": 2, "retriable": 0, "non_retriable": 2});
    assert_eq!(result["summary"], summary);
    let failed = result["failed_events"].as_array().unwrap();
    assert_eq!(failed.len(), 2, "{result:#}");
    assert_failed(&failed[0], 1, "[1].run.runId");
    assert_failed(&failed[1], 3, "[3].eventType");
    assert_eq!(
        keys(&app, "run", "").await,
        ["run:b-0", "run:b-2", "run:b-4"]
    );
    assert_eq!(app.counts().await.raw_payloads, 3);
}

#[track_caller]
fn assert_failed(failed: &Value, index: usize, path: &str) {
    assert_eq!(failed["index"], index, "{failed:#}");
    assert_eq!(failed["path"], path, "{failed:#}");
    assert_eq!(failed["retriable"], false, "{failed:#}");
    assert_eq!(failed["status"], 400, "{failed:#}");
    assert_eq!(failed["code"], "invalid-field", "{failed:#}");
    assert!(
        failed["reason"].as_str().is_some_and(|r| !r.is_empty()),
        "{failed:#}"
    );
}

/// A batch of only bad events is a failure and stores nothing.
#[rstest]
#[tokio::test]
async fn an_all_bad_batch_is_a_failure_and_stores_nothing(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    let batch = json!([event("x", "NOPE", T1), 42, {"eventTime": T1}]);
    let result = post_batch(&app, &batch).await;
    assert_eq!(result["status"], "failure", "{result:#}");
    let summary =
        json!({"received": 3, "successful": 0, "failed": 3, "retriable": 0, "non_retriable": 3});
    assert_eq!(result["summary"], summary);
    let failed = result["failed_events"].as_array().unwrap();
    assert_failed(&failed[0], 0, "[0].eventType");
    assert_failed(&failed[1], 1, "[1]");
    assert_failed(&failed[2], 2, "[2].run");
    assert_eq!(app.counts().await, Counts::ZERO);
}

/// An event nested deeper than the JSON parser goes, or with a number out of range, passes the
/// split of a batch into events; it answered a 500 marked retriable (so clients retried it for
/// ever) before it was a 400 at its index.
#[rstest]
#[tokio::test]
async fn a_batch_event_too_deep_or_out_of_range_fails_alone_and_is_not_retriable(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    let good = event("g-0", "START", T1).to_string();
    let too_deep = with(event("g-1", "START", T1), json!({"x": 0})).to_string();
    let too_deep = too_deep.replacen("\"x\":0", &format!("\"x\":{deep}"), 1);
    let out_of_range = with(event("g-2", "START", T1), json!({"x": 0})).to_string();
    let out_of_range = out_of_range.replacen("\"x\":0", "\"x\":1e400", 1);
    let body = format!("[{good},{too_deep},{out_of_range}]");
    let response = app.post(BATCH, Some("application/json"), &[], body).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    let result = response.json();
    assert_eq!(result["summary"]["successful"], 1, "{result:#}");
    assert_eq!(result["summary"]["non_retriable"], 2, "{result:#}");
    let codes = ["json-too-deep", "malformed-json"];
    let failed = result["failed_events"].as_array().unwrap();
    for ((failed, index), code) in failed.iter().zip(1..).zip(codes) {
        assert_eq!(failed["index"], index, "{failed:#}");
        assert_eq!(failed["status"], 400, "{failed:#}");
        assert_eq!(failed["code"], code, "{failed:#}");
        assert_eq!(failed["path"], format!("[{index}]"), "{failed:#}");
    }
}

/// A batch of only good events is a success with no failures, each event stored.
#[rstest]
#[tokio::test]
async fn an_all_good_batch_is_a_success(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    let batch = json!([event(RUN, "START", T1), event(RUN, "COMPLETE", T2)]);
    let result = post_batch(&app, &batch).await;
    let summary =
        json!({"received": 2, "successful": 2, "failed": 0, "retriable": 0, "non_retriable": 0});
    assert_eq!(
        result,
        json!({"status": "success", "summary": summary, "failed_events": []})
    );
    assert_one_completed_run(&app).await;
    let empty = post_batch(&app, &json!([])).await;
    assert_eq!(
        (
            empty["status"].clone(),
            empty["summary"]["received"].clone()
        ),
        (json!("success"), json!(0))
    );
}

/// A batch body that is not an array, or not JSON, is rejected whole.
#[rstest]
#[tokio::test]
async fn a_batch_that_is_not_a_json_array_is_rejected_whole(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    let object = event(RUN, "START", T1).to_string();
    let response = app.post(BATCH, Some("application/json"), &[], object).await;
    response.assert_problem(StatusCode::BAD_REQUEST, "invalid-field", Some("$"));
    let broken = format!("[{}, {{", event(RUN, "START", T1));
    let response = app.post(BATCH, Some("application/json"), &[], broken).await;
    response.assert_problem(StatusCode::BAD_REQUEST, "malformed-json", None);
    let response = app.post(BATCH, Some("text/plain"), &[], "[]").await;
    response.assert_problem(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported-media-type",
        None,
    );
    assert_eq!(app.counts().await, Counts::ZERO);
}

// Rejections.

/// Bad events and where the problem must point, relative to the event.
fn bad_events() -> Vec<(&'static str, Value, &'static str)> {
    let base = || event(RUN, "START", T1);
    let parent = |p: Value| with(base(), json!({"run": {"facets": {"parent": p}}}));
    let output_facets = |f: Value| {
        with(
            base(),
            json!({"outputs": [{"namespace": "s3://lake", "name": "out", "facets": f}]}),
        )
    };
    let lineage = json!({"columnLineage": {"fields": {"c": {"inputFields": [
        {"namespace": "s3://lake", "name": "raw/orders"}]}}}});
    let symlink = json!({"symlinks": {"identifiers": [{"name": "db.t", "type": "TABLE"}]}});
    vec![
        (
            "missing runId",
            with(base(), json!({"run": {"runId": null}})),
            "run.runId",
        ),
        (
            "empty runId",
            with(base(), json!({"run": {"runId": ""}})),
            "run.runId",
        ),
        (
            "empty job name",
            with(base(), json!({"job": {"name": ""}})),
            "job.name",
        ),
        (
            "blank job namespace",
            with(base(), json!({"job": {"namespace": "  "}})),
            "job.namespace",
        ),
        ("missing job", with(base(), json!({"job": null})), "job"),
        (
            "unknown eventType",
            with(base(), json!({"eventType": "DONE"})),
            "eventType",
        ),
        (
            "lower-case eventType",
            with(base(), json!({"eventType": "complete"})),
            "eventType",
        ),
        (
            "missing eventTime",
            with(base(), json!({"eventTime": null})),
            "eventTime",
        ),
        (
            "date-only eventTime",
            with(base(), json!({"eventTime": "2024-10-16"})),
            "eventTime",
        ),
        (
            "input without name",
            with(base(), json!({"inputs": [{"namespace": "s3://lake"}]})),
            "inputs[0].name",
        ),
        (
            "facets not an object",
            with(base(), json!({"run": {"facets": [1]}})),
            "run.facets",
        ),
        (
            "inputs not an array",
            with(base(), json!({"inputs": {}})),
            "inputs",
        ),
        (
            "schema field without name",
            output_facets(json!({"schema": {"fields": [{"type": "int"}]}})),
            "outputs[0].facets.schema.fields[0].name",
        ),
        (
            "parent without run id",
            parent(json!({"run": {}, "job": {"namespace": "a", "name": "b"}})),
            "run.facets.parent.run.runId",
        ),
        (
            "parent without job",
            parent(json!({"run": {"runId": "p"}})),
            "run.facets.parent.job",
        ),
        (
            "column input without field",
            output_facets(lineage),
            "outputs[0].facets.columnLineage.fields.c.inputFields[0].field",
        ),
        (
            "symlink without namespace",
            output_facets(symlink),
            "outputs[0].facets.symlinks.identifiers[0].namespace",
        ),
        (
            "job event with empty name",
            json!({"eventTime": T1, "job": {"namespace": "etl", "name": ""}}),
            "job.name",
        ),
        (
            "dataset event without name",
            json!({"eventTime": T1, "dataset": {"namespace": "s3://lake"}}),
            "dataset.name",
        ),
    ]
}

/// Each bad event is a 400 problem at the field's path, and nothing is stored.
#[rstest]
#[tokio::test]
async fn bad_events_are_problems_at_the_field_and_store_nothing(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    store_event(&app, &event("r-good", "START", T1)).await;
    let before = app.counts().await;
    for (name, body, path) in bad_events() {
        println!("{name}");
        let response = post_event(&app, &body).await;
        response.assert_problem(StatusCode::BAD_REQUEST, "invalid-field", Some(path));
        assert_eq!(app.counts().await, before, "{name} stored something");
    }
}

/// The same bad events inside a batch are reported at `[1].<path>`, next to a good one.
#[rstest]
#[tokio::test]
async fn bad_events_in_a_batch_are_reported_at_their_index(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    for (name, body, path) in bad_events() {
        let result = post_batch(&app, &json!([event("r-good", "START", T1), body])).await;
        assert_eq!(result["status"], "partial_success", "{name}: {result:#}");
        assert_failed(&result["failed_events"][0], 1, &format!("[1].{path}"));
    }
    assert_eq!(app.counts().await.raw_payloads, 1);
}

/// Bodies that are not JSON objects, or not JSON, are 400s with nothing stored.
#[rstest]
#[tokio::test]
async fn bodies_that_are_not_json_objects_are_rejected(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    for body in ["[]", "\"event\"", "42", "null"] {
        let response = app.post(LINEAGE, Some("application/json"), &[], body).await;
        response.assert_problem(StatusCode::BAD_REQUEST, "invalid-field", Some("$"));
    }
    for body in ["{\"eventTime\": ", "{} {}", ""] {
        let response = app.post(LINEAGE, Some("application/json"), &[], body).await;
        response.assert_problem(StatusCode::BAD_REQUEST, "malformed-json", None);
    }
    assert_eq!(app.counts().await, Counts::ZERO);
}

/// Non-JSON media types and unknown encodings are 415s with nothing stored.
#[rstest]
#[tokio::test]
async fn non_json_media_types_are_unsupported(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    let body = event(RUN, "START", T1).to_string();
    for content_type in [
        "text/plain",
        "application/xml",
        "application/x-www-form-urlencoded",
    ] {
        let response = app
            .post(LINEAGE, Some(content_type), &[], body.clone())
            .await;
        response.assert_problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            None,
        );
    }
    let br = [("content-encoding", "br")];
    let response = app.post(LINEAGE, Some("application/json"), &br, body).await;
    response.assert_problem(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported-media-type",
        None,
    );
    let response = app
        .post(
            LINEAGE,
            Some("application/json"),
            &[("content-encoding", "gzip")],
            "nope",
        )
        .await;
    response.assert_problem(StatusCode::BAD_REQUEST, "invalid-gzip", None);
    assert_eq!(app.counts().await, Counts::ZERO);
}

/// A request: endpoint, extra headers, body.
type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], Vec<u8>);

/// Bodies over the limit, on the wire or once inflated, are 413s with nothing stored.
#[rstest]
#[tokio::test]
async fn bodies_over_the_limit_are_too_large(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let settings = HttpSettings {
        max_body_bytes: 4096,
        ..HttpSettings::default()
    };
    let app = TestApp::with_settings(pool, settings);
    let padding = json!({"run": {"facets": {"pad": {"text": "x".repeat(8192)}}}});
    let big = with(event(RUN, "START", T1), padding).to_string();
    let zipped = gzip(big.as_bytes());
    assert!(zipped.len() < 4096, "the gzip body itself fits");
    let gz: &[(&str, &str)] = &[("content-encoding", "gzip")];
    let batch = format!("[{big}]");
    let cases: Vec<Case<'_>> = vec![
        (LINEAGE, &[], big.into_bytes()),
        (LINEAGE, gz, zipped),
        (BATCH, &[], batch.clone().into_bytes()),
        (BATCH, gz, gzip(batch.as_bytes())),
    ];
    for (uri, headers, body) in cases {
        let response = app.post(uri, Some("application/json"), headers, body).await;
        response.assert_problem(StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", None);
    }
    assert_eq!(app.counts().await, Counts::ZERO);
    store_event(&app, &event(RUN, "START", T1)).await;
}

// Cross-format identity.

/// Stores the minimal Spline v1.2 plan `n` (attribute "Amount") reading `inputs` and writing
/// `output`.
async fn store_plan(app: &TestApp, n: u32, inputs: &[&str], output: &str) {
    let plan = minimal_plan(&plan_id(n), inputs, output, "Amount");
    crate::helpers::store_plan(app, &plan).await;
}

/// An OpenLineage job `etl/report` reading (`hdfs://nn:8020`, `/data/x`) with a schema.
fn hdfs_reader() -> Value {
    json!({
        "eventTime": T1, "eventType": "COMPLETE", "schemaURL": RUN_URL,
        "run": {"runId": RUN}, "job": {"namespace": "etl", "name": "report"},
        "inputs": [{"namespace": "hdfs://nn:8020", "name": "/data/x",
                    "facets": {"schema": {"fields": [{"name": "Amount"}]}}}],
        "outputs": [{"namespace": "s3://lake", "name": "reports/x"}]
    })
}

/// One dataset node joins the Spline writer and the OpenLineage reader, and lineage spans both.
async fn assert_one_node_spans_both_formats(app: &TestApp) {
    let (shared, spline_job) = (
        "dataset:hdfs://nn:8020/data/x",
        format!("job:{}", plan_id(1)),
    );
    assert_eq!(keys(app, "dataset", "data/x").await, [shared]);
    let p = props(app, shared).await;
    assert_eq!(p["uri"], "hdfs://nn:8020/data/x", "{p:#}");
    assert_eq!(
        (p["namespace"].as_str(), p["name"].as_str()),
        (Some("hdfs://nn:8020"), Some("/data/x"))
    );
    assert_eq!(
        p["facets"]["schema"]["fields"][0]["name"], "Amount",
        "{p:#}"
    );
    let l = app.lineage(&spline_job, "downstream", 2).await;
    let expected = [
        shared,
        "dataset:s3://lake/reports/x",
        spline_job.as_str(),
        "job:etl/report",
    ];
    assert_eq!(node_keys(&l), expected);
    let edges: BTreeSet<Triple> = edge_triples(&l).into_iter().collect();
    let chain = BTreeSet::from([
        triple(&spline_job, "output", shared),
        triple(shared, "input", "job:etl/report"),
        triple("job:etl/report", "output", "dataset:s3://lake/reports/x"),
    ]);
    assert_eq!(edges, chain);
    let up = app
        .lineage("dataset:s3://lake/reports/x", "upstream", 2)
        .await;
    assert!(
        node_keys(&up).contains(&"dataset:hdfs://nn:8020/data/raw".to_owned()),
        "{up:#}"
    );
}

/// A Spline plan's output then an OpenLineage event's input at the same place: one node.
#[rstest]
#[tokio::test]
async fn a_spline_output_then_an_openlineage_input_are_one_dataset(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    store_plan(
        &app,
        1,
        &["hdfs://nn:8020/data/raw"],
        "hdfs://nn:8020/data/x",
    )
    .await;
    store_event(&app, &hdfs_reader()).await;
    assert_one_node_spans_both_formats(&app).await;
}

/// The same with the OpenLineage event first.
#[rstest]
#[tokio::test]
async fn an_openlineage_input_then_a_spline_output_are_one_dataset(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    store_event(&app, &hdfs_reader()).await;
    store_plan(
        &app,
        1,
        &["hdfs://nn:8020/data/raw"],
        "hdfs://nn:8020/data/x",
    )
    .await;
    assert_one_node_spans_both_formats(&app).await;
}

/// Spelling variants of one location (file:, s3a, trailing slash, case) meet across formats.
#[rstest]
#[tokio::test]
async fn spelling_variants_of_one_location_meet_across_formats(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    let variants = [
        ("file:/tmp/x", "file", "/tmp/x", "dataset:file:///tmp/x"),
        (
            "s3a://bucket/dir/",
            "s3://bucket",
            "dir",
            "dataset:s3://bucket/dir",
        ),
        (
            "HDFS://NN:8020/Data/X",
            "hdfs://nn:8020",
            "/Data/X",
            "dataset:hdfs://nn:8020/Data/X",
        ),
        (
            "s3://lake/out",
            "S3A://LAKE",
            "out/",
            "dataset:s3://lake/out",
        ),
        (
            "hdfs://nn:8020/data/y",
            "hdfs://nn:8020/",
            "data/y",
            "dataset:hdfs://nn:8020/data/y",
        ),
    ];
    for (n, (uri, namespace, name, key)) in (1..).zip(variants) {
        store_plan(&app, n, &["s3://lake/in"], uri).await;
        let reader = json!({"eventTime": T1, "run": {"runId": format!("r-{n}")},
            "job": {"namespace": "etl", "name": format!("variant-{n}")},
            "inputs": [{"namespace": namespace, "name": name}]});
        store_event(&app, &reader).await;
        let edges = edges_around(&app, key).await;
        let column = format!("field:{}#Amount", key.strip_prefix("dataset:").unwrap());
        let expected = BTreeSet::from([
            triple(&format!("job:{}", plan_id(n)), "output", key),
            triple(&format!("op:{}:op-0", plan_id(n)), "writes_to", key),
            triple(key, "input", &format!("job:etl/variant-{n}")),
            // The plan's written column, from its write's input schema.
            triple(key, "has_field", &column),
        ]);
        assert_eq!(edges, expected, "{uri} vs ({namespace}, {name})");
    }
    assert_eq!(keys(&app, "dataset", "").await.len(), variants.len() + 1);
}

// Symlinks.

/// An event whose output has a Hive symlink, and the alias's key.
fn symlinked_writer() -> (Value, &'static str, &'static str) {
    let facets = json!({
        "schema": {"fields": [{"name": "id"}]},
        "symlinks": {"identifiers": [{"namespace": "hive://metastore:9083", "name": "db.t", "type": "TABLE"}]}
    });
    let writer = with(
        event(RUN, "COMPLETE", T1),
        json!({"outputs": [{"namespace": "hdfs://nn:8020", "name": "/warehouse/t", "facets": facets}]}),
    );
    (
        writer,
        "dataset:hdfs://nn:8020/warehouse/t",
        "dataset:hive://metastore:9083/db.t",
    )
}

/// A symlink identifier is an alias: lookups by it answer the canonical dataset, and later
/// events naming it land on that node.
#[rstest]
#[tokio::test]
async fn symlink_identifiers_resolve_to_the_canonical_dataset(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    let (writer, canonical, alias) = symlinked_writer();
    store_event(&app, &writer).await;
    let d = node_details(&app, alias).await;
    assert_eq!(d["node"]["key"], canonical);
    assert_eq!(app.lineage(alias, "upstream", 1).await["root"], canonical);
    let reader = json!({"eventTime": T2, "eventType": "START", "run": {"runId": "r-hive"},
        "job": {"namespace": "hive", "name": "reader"},
        "inputs": [{"namespace": "hive://metastore:9083", "name": "db.t",
                    "facets": {"documentation": {"description": "via hive"}}}]});
    store_event(&app, &reader).await;
    assert!(edges_around(&app, canonical).await.contains(&triple(
        canonical,
        "input",
        "job:hive/reader"
    )));
    let p = props(&app, canonical).await;
    assert_eq!(
        p["facets"]["documentation"]["description"], "via hive",
        "{p:#}"
    );
    assert!(!keys(&app, "dataset", "").await.contains(&alias.to_owned()));
    let l = app.lineage(canonical, "downstream", 1).await;
    assert!(
        node_keys(&l).contains(&"job:hive/reader".to_owned()),
        "{l:#}"
    );
}

/// Columns named through an alias are the canonical dataset's columns.
#[rstest]
#[tokio::test]
async fn columns_named_through_an_alias_belong_to_the_canonical_dataset(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    let (writer, canonical, _) = symlinked_writer();
    store_event(&app, &writer).await;
    let reader = json!({"eventTime": T2, "run": {"runId": "r-hive"},
        "job": {"namespace": "hive", "name": "reader"},
        "inputs": [{"namespace": "hive://metastore:9083", "name": "db.t",
                    "facets": {"schema": {"fields": [{"name": "id"}]}}}]});
    store_event(&app, &reader).await;
    let fields = keys(&app, "field", "").await;
    assert_eq!(
        fields,
        ["field:hdfs://nn:8020/warehouse/t#id"],
        "one column, one node"
    );
    edge(
        &node_details(&app, canonical).await,
        canonical,
        "has_field",
        &fields[0],
    );
}

// Column lineage.

/// columnLineage makes derives edges with their transformations and affects edges from the
/// dataset-level inputs; schema columns hang off their dataset with their index.
#[rstest]
#[tokio::test]
async fn column_lineage_makes_derives_and_affects_edges(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    let direct = json!([{"type": "DIRECT", "subtype": "TRANSFORMATION", "description": "a * 2", "masking": true}]);
    let filter = json!([{"type": "INDIRECT", "subtype": "FILTER"}]);
    let facets = json!({"columnLineage": {
        "fields": {"c": {"inputFields": [
            {"namespace": "s3://lake", "name": "raw/orders", "field": "a", "transformations": direct},
            {"namespace": "s3://lake", "name": "other", "field": "z"}],
            "transformationDescription": "doubled", "transformationType": "IDENTITY"}},
        "dataset": [{"namespace": "s3://lake", "name": "raw/orders", "field": "b", "transformations": filter}]}});
    let schema = json!({"schema": {"fields": [{"name": "a"}, {"name": "b", "fields": [{"name": "nested"}]}]}});
    let body = with(
        event(RUN, "COMPLETE", T1),
        json!({
        "inputs": [{"namespace": "s3://lake", "name": "raw/orders", "facets": schema}],
        "outputs": [{"namespace": "s3://lake", "name": "clean/orders", "facets": facets}]}),
    );
    store_event(&app, &body).await;
    let (a, b, c) = (
        "field:s3://lake/raw/orders#a",
        "field:s3://lake/raw/orders#b",
        "field:s3://lake/clean/orders#c",
    );
    let derives = edge(&node_details(&app, c).await, a, "derives", c);
    let expected = json!({"transformations": direct, "transformationDescription": "doubled", "transformationType": "IDENTITY"});
    assert_eq!(derives, expected);
    let z = "field:s3://lake/other#z";
    assert_eq!(
        edge(&node_details(&app, c).await, z, "derives", c),
        json!({"transformationDescription": "doubled", "transformationType": "IDENTITY"})
    );
    edge(
        &node_details(&app, "dataset:s3://lake/other").await,
        "dataset:s3://lake/other",
        "has_field",
        z,
    );
    assert_eq!(
        edge(&node_details(&app, OUT).await, b, "affects", OUT),
        json!({"transformations": filter})
    );
    let input = node_details(&app, IN).await;
    assert_eq!(edge(&input, IN, "has_field", a), json!({"index": 0}));
    assert_eq!(edge(&input, IN, "has_field", b), json!({"index": 1}));
    assert_eq!(props(&app, a).await, json!({"name": "a", "dataset": IN}));
    let fields = keys(&app, "field", "").await;
    assert_eq!(
        fields,
        [c, z, a, b],
        "nested struct fields stay in the facet"
    );
}

// Parent links.

/// The parent facet links parent job → job and parent run → run, and the parent run to its
/// job; the parent's own events later merge into the same nodes.
#[rstest]
#[tokio::test]
async fn the_parent_facet_links_jobs_and_runs(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    let parent = json!({"run": {"runId": "p-run"}, "job": {"namespace": "airflow", "name": "dag"}});
    let child = json!({"eventTime": T2, "eventType": "START", "schemaURL": RUN_URL,
        "run": {"runId": "c-run", "facets": {"parent": parent}},
        "job": {"namespace": "airflow", "name": "dag.task"}});
    store_event(&app, &child).await;
    let d = node_details(&app, "job:airflow/dag").await;
    edge(&d, "job:airflow/dag", "parent_of", "job:airflow/dag.task");
    edge(&d, "run:p-run", "run_of", "job:airflow/dag");
    edge(
        &node_details(&app, "run:c-run").await,
        "run:p-run",
        "parent_of",
        "run:c-run",
    );
    let p = props(&app, "run:p-run").await;
    assert_eq!(p["job"], json!({"namespace": "airflow", "name": "dag"}));
    assert!(p.get("state").is_none(), "{p:#}");
    assert_eq!(props(&app, "run:c-run").await["facets"]["parent"], parent);
    let own = json!({"eventTime": T3, "eventType": "COMPLETE", "run": {"runId": "p-run"},
        "job": {"namespace": "airflow", "name": "dag", "facets": {"jobType": {"jobType": "DAG"}}}});
    store_event(&app, &own).await;
    assert_eq!(props(&app, "run:p-run").await["state"], "COMPLETE");
    assert_eq!(
        props(&app, "job:airflow/dag").await["facets"]["jobType"]["jobType"],
        "DAG"
    );
    assert_eq!(keys(&app, "run", "").await, ["run:c-run", "run:p-run"]);
    assert_eq!(
        keys(&app, "job", "").await,
        ["job:airflow/dag", "job:airflow/dag.task"]
    );
}

// Native graph API.

/// OpenLineage nodes are listed, searched, detailed and walked like Spline ones.
#[rstest]
#[tokio::test]
async fn openlineage_nodes_are_served_by_the_native_graph_api(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    let schema = json!({"outputs": [{"namespace": "s3://lake", "name": "clean/orders",
        "facets": {"schema": {"fields": [{"name": "id"}]}}}]});
    store_event(&app, &with(event(RUN, "START", T1), schema)).await;
    let job = props(&app, JOB).await;
    assert_eq!(
        job,
        json!({"namespace": "etl", "name": "orders.daily", "format": "openlineage", "facets": {}})
    );
    let out = props(&app, OUT).await;
    assert_eq!(
        (
            out["uri"].clone(),
            out["namespace"].clone(),
            out["name"].clone()
        ),
        (
            json!("s3://lake/clean/orders"),
            json!("s3://lake"),
            json!("clean/orders")
        )
    );
    assert_eq!(keys(&app, "job", "ORDERS.daily").await, [JOB]);
    assert_eq!(keys(&app, "run", "").await, [run_key(RUN)]);
    assert_eq!(
        keys(&app, "field", "").await,
        ["field:s3://lake/clean/orders#id"]
    );
    assert_eq!(keys(&app, "dataset", "lake").await, [OUT, IN]);
    let l = app.lineage(&run_key(RUN), "downstream", 1).await;
    assert_eq!(l["root"], run_key(RUN));
    assert_eq!(
        node_keys(&l),
        [OUT.to_owned(), JOB.to_owned(), run_key(RUN)]
    );
    let bigquery = json!({"eventTime": T1, "dataset": {"namespace": "bigquery", "name": "p.d.t"}});
    store_event(&app, &bigquery).await;
    let p = props(&app, "dataset:bigquery/p.d.t").await;
    assert!(p.get("uri").is_none(), "no URI form: {p:#}");
}
