//! Producer API versions 1.0, 1.1 and 1.2 with hand-written payloads; media type leniency, gzip,
//! idempotency and concurrent writers.

use std::collections::BTreeSet;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tower::ServiceExt;

use rstest::rstest;

use crate::helpers::{Backend, Postgres, Sqlite, TestDb};
use crate::helpers::{Counts, TestApp, V10, V11, V12, base36, gzip, node_details, node_keys};

/// A (source key, target key) pair of one edge kind.
type Pair = (String, String);

fn run_key(plan: &str, timestamp: i64) -> String {
    format!("run:{plan}:{}", base36(timestamp))
}

/// Posts a plan, asserts 201, returns the answered id.
async fn plan_ok(app: &TestApp, content_type: &str, body: &str) -> String {
    let response = app.post_plan(content_type, body).await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
    response
        .json()
        .as_str()
        .expect("a JSON string id")
        .to_owned()
}

async fn events_ok(app: &TestApp, content_type: &str, body: &str) {
    let response = app.post_events(content_type, body).await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
    assert!(response.body.is_empty(), "{}", response.text());
}

async fn props(app: &TestApp, key: &str) -> Value {
    node_details(app, key).await["node"]["properties"].clone()
}

/// Edges of one kind in a node page, as (source, target).
fn pairs(details: &Value, kind: &str) -> BTreeSet<Pair> {
    let edges = details["edges"].as_array().unwrap().iter();
    edges
        .filter(|e| e["kind"] == kind)
        .map(|e| {
            let s = e["source"].as_str().unwrap().to_owned();
            (s, e["target"].as_str().unwrap().to_owned())
        })
        .collect()
}

fn pair(source: &str, target: &str) -> Pair {
    (source.to_owned(), target.to_owned())
}

/// The one edge of `kind` from `source` to `target` in a node page.
#[track_caller]
fn edge<'a>(details: &'a Value, kind: &str, source: &str, target: &str) -> &'a Value {
    let edges = details["edges"].as_array().unwrap();
    edges
        .iter()
        .find(|e| e["kind"] == kind && e["source"] == source && e["target"] == target)
        .unwrap_or_else(|| panic!("no {kind} edge {source} -> {target}: {details}"))
}

async fn count(pool: &TestDb, sql: &str) -> i64 {
    pool.scalar(sql).await
}

/// The raw payload stored for a body: (body, version, content_type, wire_bytes).
async fn raw_row(pool: &TestDb, body: &[u8]) -> (Vec<u8>, String, String, i64) {
    let raw = pool.raw_payload(body).await;
    let wire = raw.wire_bytes as i64;
    (raw.body.to_vec(), raw.version, raw.content_type, wire)
}

// ---------------------------------------------------------------------------------------------
// v1.0

const V10_PLAN_ID: &str = "4b1c2d3e-0000-4000-8000-000000000010";

/// A Spline 0.5-era plan: integer ids, names in `extra.name`, schemas, inlined expressions.
fn v10_plan() -> String {
    json!({
        "id": V10_PLAN_ID,
        "operations": {
            "write": {"outputSource": "hdfs://nn/warehouse/order_totals", "append": false,
                      "id": 0, "childIds": [1], "schema": [13, 15],
                      "params": {"path": "hdfs://nn/warehouse/order_totals"},
                      "extra": {"name": "InsertIntoHadoopFsRelationCommand", "destinationType": "parquet"}},
            "reads": [
                {"inputSources": ["hdfs://nn/raw/orders"], "id": 3, "schema": [10, 11, 12],
                 "extra": {"name": "LogicalRelation", "sourceType": "csv"}},
                {"inputSources": ["hdfs://nn/raw/customers"], "id": 4, "schema": [13, 14],
                 "extra": {"name": "LogicalRelation", "sourceType": "parquet"}}
            ],
            "other": [
                {"id": 1, "childIds": [2], "schema": [13, 15], "extra": {"name": "Project"},
                 "params": {"projectList": [
                     {"_typeHint": "expr.AttrRef", "refId": 13},
                     {"_typeHint": "expr.Alias", "alias": "total", "dataTypeId": "t-double",
                      "child": {"_typeHint": "expr.Binary", "symbol": "*", "dataTypeId": "t-double",
                                "children": [{"_typeHint": "expr.AttrRef", "refId": 11},
                                             {"_typeHint": "expr.AttrRef", "refId": 12}]}}]}},
                {"id": 2, "childIds": [3, 4], "schema": [10, 11, 12, 13, 14], "extra": {"name": "Join"},
                 "params": {"joinType": "INNER", "condition": {"_typeHint": "expr.Binary", "symbol": "=",
                     "children": [{"_typeHint": "expr.AttrRef", "refId": 10},
                                  {"_typeHint": "expr.AttrRef", "refId": 13}]}}}
            ]
        },
        "systemInfo": {"name": "spark", "version": "2.4.5"},
        "agentInfo": {"name": "spline", "version": "0.5.6"},
        "extraInfo": {"appName": "order totals", "attributes": [
            {"id": 10, "name": "customer_ref", "dataTypeId": "t-long"},
            {"id": 11, "name": "price", "dataTypeId": "t-double"},
            {"id": 12, "name": "qty", "dataTypeId": "t-long"},
            {"id": 13, "name": "customer_id", "dataTypeId": "t-long"},
            {"id": 14, "name": "customer_name", "dataTypeId": "t-string"},
            {"id": 15, "name": "total", "dataTypeId": "t-double"}
        ]}
    })
    .to_string()
}

fn v10_op(id: u32) -> String {
    format!("op:{V10_PLAN_ID}:{id}")
}

fn v10_attr(id: u32) -> String {
    format!("attr:{V10_PLAN_ID}:{id}")
}

/// A v1.0 plan's job is named after `appName`, and its two reads feed one job.
#[rstest]
#[tokio::test]
async fn a_v10_plan_becomes_a_job_named_after_its_app_reading_both_join_inputs(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    assert_eq!(plan_ok(&app, V10, &v10_plan()).await, V10_PLAN_ID);
    let job = format!("job:{V10_PLAN_ID}");
    let page = node_details(&app, &job).await;
    assert_eq!(page["node"]["name"], "order totals");
    let props = &page["node"]["properties"];
    assert_eq!(props["producerApiVersion"], "1");
    assert_eq!(props["format"], "spline");
    assert_eq!(props["extraInfo"]["appName"], "order totals");
    assert_eq!(
        props["agentInfo"],
        json!({"name": "spline", "version": "0.5.6"})
    );
    let orders = "dataset:hdfs://nn/raw/orders";
    let customers = "dataset:hdfs://nn/raw/customers";
    let out = "dataset:hdfs://nn/warehouse/order_totals";
    let inputs = BTreeSet::from([pair(customers, &job), pair(orders, &job)]);
    assert_eq!(pairs(&page, "input"), inputs);
    assert_eq!(pairs(&page, "output"), BTreeSet::from([pair(&job, out)]));
    let lineage = app.lineage(out, "upstream", 1).await;
    assert_eq!(node_keys(&lineage), [customers, orders, out, job.as_str()]);
    assert_eq!(
        node_details(&app, out).await["node"]["name"],
        "order_totals"
    );
}

/// v1.0 operation names come from `extra.name`; integer ids key the nodes; the Join has two
/// ordered inputs.
#[rstest]
#[tokio::test]
async fn v10_operations_take_names_from_extra_and_integer_ids_as_keys(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    plan_ok(&app, V10, &v10_plan()).await;
    let expected = [
        (0, "InsertIntoHadoopFsRelationCommand", "Write"),
        (1, "Project", "Transformation"),
        (2, "Join", "Transformation"),
        (3, "LogicalRelation", "Read"),
        (4, "LogicalRelation", "Read"),
    ];
    for (id, name, kind) in expected {
        let page = node_details(&app, &v10_op(id)).await;
        assert_eq!(page["node"]["kind"], "operation");
        assert_eq!(page["node"]["name"], name, "op {id}");
        assert_eq!(page["node"]["properties"]["type"], kind, "op {id}");
        assert_eq!(page["node"]["properties"]["planId"], V10_PLAN_ID);
    }
    let join = node_details(&app, &v10_op(2)).await;
    assert_eq!(
        edge(&join, "data_flow", &v10_op(3), &v10_op(2))["properties"],
        json!({"index": 0})
    );
    assert_eq!(
        edge(&join, "data_flow", &v10_op(4), &v10_op(2))["properties"],
        json!({"index": 1})
    );
    assert_eq!(join["node"]["properties"]["params"]["joinType"], "INNER");
    let read = node_details(&app, &v10_op(3)).await;
    edge(
        &read,
        "reads_from",
        "dataset:hdfs://nn/raw/orders",
        &v10_op(3),
    );
    assert_eq!(read["node"]["properties"]["extra"]["sourceType"], "csv");
}

/// The aliased projection `price * qty AS total` makes `total` derive from `price` and `qty`.
#[rstest]
#[tokio::test]
async fn a_v10_aliased_projection_derives_total_from_price_and_qty(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    plan_ok(&app, V10, &v10_plan()).await;
    let total = node_details(&app, &v10_attr(15)).await;
    assert_eq!(total["node"]["kind"], "attribute");
    assert_eq!(total["node"]["name"], "total");
    assert_eq!(total["node"]["properties"]["dataType"], "t-double");
    let derives = BTreeSet::from([
        pair(&v10_attr(11), &v10_attr(15)),
        pair(&v10_attr(12), &v10_attr(15)),
    ]);
    assert_eq!(pairs(&total, "derives"), derives);
    let derived = edge(&total, "derives", &v10_attr(11), &v10_attr(15));
    assert_eq!(
        derived["properties"]["expression"],
        "(price * qty) AS total"
    );
    assert_eq!(
        pairs(&total, "produces"),
        BTreeSet::from([pair(&v10_op(1), &v10_attr(15))])
    );
    let price = node_details(&app, &v10_attr(11)).await;
    assert_eq!(price["node"]["name"], "price");
    assert_eq!(
        pairs(&price, "produces"),
        BTreeSet::from([pair(&v10_op(3), &v10_attr(11))])
    );
}

/// A v1.0 event carries `durationNs` inside `extra`; the run still reports it.
#[rstest]
#[tokio::test]
async fn a_v10_event_reports_the_duration_it_carries_in_extra(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    plan_ok(&app, V10, &v10_plan()).await;
    let timestamp = 1_700_000_000_123_i64;
    let events = json!([{"planId": V10_PLAN_ID, "timestamp": timestamp,
        "extra": {"appId": "local-1700000000000", "durationNs": 8_101_352_417_i64}}]);
    events_ok(&app, V10, &events.to_string()).await;
    let key = run_key(V10_PLAN_ID, timestamp);
    let page = node_details(&app, &key).await;
    assert_eq!(page["node"]["kind"], "run");
    let props = &page["node"]["properties"];
    assert_eq!(props["durationNs"], 8_101_352_417_i64);
    assert_eq!(props["producerApiVersion"], "1");
    assert_eq!(props["status"], "succeeded");
    assert_eq!(props["extra"]["appId"], "local-1700000000000");
    let event_key = format!("{V10_PLAN_ID}:{}", base36(timestamp));
    assert_eq!(props["eventKey"], event_key.as_str());
    let at: DateTime<Utc> = props["eventTime"].as_str().unwrap().parse().unwrap();
    assert_eq!(at.timestamp_millis(), timestamp);
    assert_eq!(
        pairs(&page, "run_of"),
        BTreeSet::from([pair(&key, &format!("job:{V10_PLAN_ID}"))])
    );
}

/// A v1.0 aggregate: aliased `sum(price)` and `(qty + 1)` derive their output columns.
#[rstest]
#[tokio::test]
async fn v10_aliased_aggregate_expressions_derive_their_output_columns(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    let id = "4b1c2d3e-0000-4000-8000-0000000000a9";
    let plan = json!({
        "id": id,
        "operations": {
            "write": {"outputSource": "file:/agg", "append": true, "id": 0, "childIds": [1],
                      "extra": {"name": "SaveIntoDataSourceCommand"}},
            "reads": [{"inputSources": ["file:/sales"], "id": 2, "schema": [1, 2, 3]}],
            "other": [{"id": 1, "childIds": [2], "schema": [1, 4, 5], "extra": {"name": "Aggregate"},
                "params": {"groupingExpressions": [{"_typeHint": "expr.AttrRef", "refId": 1}],
                    "aggregateExpressions": [
                        {"_typeHint": "expr.AttrRef", "refId": 1},
                        {"_typeHint": "expr.Alias", "alias": "revenue", "child":
                            {"_typeHint": "expr.Generic", "name": "sum",
                             "children": [{"_typeHint": "expr.AttrRef", "refId": 2}]}},
                        {"_typeHint": "expr.Alias", "alias": "qty_plus_one", "child":
                            {"_typeHint": "expr.Binary", "symbol": "+", "children": [
                                {"_typeHint": "expr.AttrRef", "refId": 3},
                                {"_typeHint": "expr.Literal", "value": 1}]}}]}}]
        },
        "systemInfo": {"name": "spark", "version": "2.4.5"},
        "extraInfo": {"attributes": [
            {"id": 1, "name": "region"}, {"id": 2, "name": "price"}, {"id": 3, "name": "qty"},
            {"id": 4, "name": "revenue"}, {"id": 5, "name": "qty_plus_one"}]}
    });
    plan_ok(&app, V10, &plan.to_string()).await;
    let attr = |n: u32| format!("attr:{id}:{n}");
    let job = node_details(&app, &format!("job:{id}")).await;
    assert_eq!(job["node"]["name"], id, "no name, no appName: the id");
    let revenue = node_details(&app, &attr(4)).await;
    let derived = edge(&revenue, "derives", &attr(2), &attr(4));
    assert_eq!(derived["properties"]["expression"], "sum(price) AS revenue");
    assert_eq!(pairs(&revenue, "derives").len(), 1);
    let plus = node_details(&app, &attr(5)).await;
    let derived = edge(&plus, "derives", &attr(3), &attr(5));
    assert_eq!(
        derived["properties"]["expression"],
        "(qty + 1) AS qty_plus_one"
    );
    let region = node_details(&app, &attr(1)).await;
    assert!(
        pairs(&region, "derives").is_empty(),
        "a plain reference derives nothing"
    );
}

/// A v1.0 event with an error is a failed run.
#[rstest]
#[tokio::test]
async fn a_v10_event_with_an_error_is_a_failed_run(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    plan_ok(&app, V10, &v10_plan()).await;
    let events = json!([{"planId": V10_PLAN_ID, "timestamp": 77, "error": "boom"}]);
    events_ok(&app, V10, &events.to_string()).await;
    let run = props(&app, &run_key(V10_PLAN_ID, 77)).await;
    assert_eq!(run["status"], "failed");
    assert_eq!(run["error"], "boom");
    assert_eq!(run["eventKey"], format!("{V10_PLAN_ID}:25"));
}

// ---------------------------------------------------------------------------------------------
// v1.1 and v1.2

const V11_PLAN_ID: &str = "4b1c2d3e-0000-4000-8000-000000000011";

/// A v1.1 plan whose operation, attribute and expression ids are JSON numbers.
fn v11_plan() -> String {
    json!({
        "id": V11_PLAN_ID,
        "name": "numeric ids",
        "operations": {
            "write": {"id": 0, "name": "SaveIntoDataSourceCommand", "childIds": [1],
                      "outputSource": "jdbc:postgresql://db/sales", "append": true,
                      "params": {"table": "sales"}, "extra": {"destinationType": "jdbc"}},
            "reads": [{"id": 2, "name": "LogicalRelation", "inputSources": ["s3a://bucket/raw/sales.csv"],
                       "output": [7, 8], "params": {"header": "true"}, "extra": {"sourceType": "csv"}}],
            "other": [{"id": 1, "name": "Project", "childIds": [2], "output": [9]}]
        },
        "attributes": [
            {"id": 7, "name": "amount", "dataType": 100},
            {"id": 8, "name": "rate", "dataType": 100},
            {"id": 9, "name": "net", "dataType": 100, "childRefs": [{"__exprId": 50}]}
        ],
        "expressions": {"functions": [{"id": 50, "name": "multiply",
            "childRefs": [{"__attrId": 7}, {"__attrId": 8}],
            "extra": {"_typeHint": "expr.Binary", "symbol": "*"}}]},
        "systemInfo": {"name": "spark", "version": "3.1.2"},
        "agentInfo": {"name": "spline", "version": "1.0.0"},
        "extraInfo": {"appName": "ignored because name is set"}
    })
    .to_string()
}

/// v1.1 accepts numeric ids, keys nodes by them, and stamps version "1.1" on job and run.
#[rstest]
#[tokio::test]
async fn a_v11_plan_and_event_with_numeric_ids_are_stored(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    assert_eq!(plan_ok(&app, V11, &v11_plan()).await, V11_PLAN_ID);
    let job = node_details(&app, &format!("job:{V11_PLAN_ID}")).await;
    assert_eq!(job["node"]["name"], "numeric ids");
    assert_eq!(job["node"]["properties"]["producerApiVersion"], "1.1");
    assert_eq!(job["node"]["properties"]["append"], true);
    let write = props(&app, &format!("op:{V11_PLAN_ID}:0")).await;
    assert_eq!(write["type"], "Write");
    assert_eq!(write["outputSource"], "jdbc:postgresql://db/sales");
    assert_eq!(write["append"], true);
    assert_eq!(write["params"], json!({"table": "sales"}));
    assert_eq!(write["extra"], json!({"destinationType": "jdbc"}));
    let net = node_details(&app, &format!("attr:{V11_PLAN_ID}:9")).await;
    assert_eq!(net["node"]["properties"]["dataType"], 100);
    assert_eq!(net["node"]["properties"]["planId"], V11_PLAN_ID);
    let expected = BTreeSet::from([
        pair(
            &format!("attr:{V11_PLAN_ID}:7"),
            &format!("attr:{V11_PLAN_ID}:9"),
        ),
        pair(
            &format!("attr:{V11_PLAN_ID}:8"),
            &format!("attr:{V11_PLAN_ID}:9"),
        ),
    ]);
    assert_eq!(pairs(&net, "derives"), expected);
    let timestamp = 1_684_226_827_008_i64;
    let events = json!([{"planId": V11_PLAN_ID, "timestamp": timestamp, "durationNs": 42}]);
    events_ok(&app, V11, &events.to_string()).await;
    let run = props(&app, &run_key(V11_PLAN_ID, timestamp)).await;
    assert_eq!(run["eventKey"], format!("{V11_PLAN_ID}:lhq160w0"));
    assert_eq!(run["durationNs"], 42);
    assert_eq!(run["producerApiVersion"], "1.1");
}

const V12_PLAN_ID: &str = "4b1c2d3e-0000-4000-8000-000000000012";

fn v12_plan() -> String {
    json!({
        "id": V12_PLAN_ID,
        "name": "nightly load",
        "discriminator": "d-1",
        "labels": {"team": ["data-eng"], "tier": ["gold", "pii"]},
        "operations": {
            "write": {"id": "op-0", "name": "InsertIntoHadoopFsRelationCommand", "childIds": ["op-1"],
                      "outputSource": "s3a://lake/gold/customers", "append": false},
            "reads": [{"id": "op-1", "name": "LogicalRelation",
                       "inputSources": ["s3a://lake/silver/customers"], "output": ["attr-0"]}]
        },
        "attributes": [{"id": "attr-0", "name": "id", "dataType": "t-0", "extra": {"nullable": false}}],
        "systemInfo": {"name": "spark", "version": "3.5.0"},
        "agentInfo": {"name": "spline", "version": "2.0.0"},
        "extraInfo": {"dataTypes": [{"id": "t-0", "name": "long", "nullable": false}]}
    })
    .to_string()
}

/// v1.2 plan and event labels are kept, as is the discriminator.
#[rstest]
#[tokio::test]
async fn v12_labels_on_plan_and_event_are_kept(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    plan_ok(&app, V12, &v12_plan()).await;
    let job = props(&app, &format!("job:{V12_PLAN_ID}")).await;
    assert_eq!(
        job["labels"],
        json!({"team": ["data-eng"], "tier": ["gold", "pii"]})
    );
    assert_eq!(job["discriminator"], "d-1");
    assert_eq!(job["producerApiVersion"], "1.2");
    let attr = props(&app, &format!("attr:{V12_PLAN_ID}:attr-0")).await;
    assert_eq!(attr["extra"], json!({"nullable": false}));
    assert_eq!(attr["dataType"], "t-0");
    let events = json!([{"planId": V12_PLAN_ID, "timestamp": 1_700_000_000_000_i64,
        "discriminator": "d-1", "labels": {"env": ["prod"]}, "durationNs": 5}]);
    events_ok(&app, V12, &events.to_string()).await;
    let run = props(&app, &run_key(V12_PLAN_ID, 1_700_000_000_000)).await;
    assert_eq!(run["labels"], json!({"env": ["prod"]}));
    assert_eq!(run["discriminator"], "d-1");
    assert_eq!(run["status"], "succeeded");
    assert_eq!(run["producerApiVersion"], "1.2");
}

/// A v1.2 event with an `error` is a failed run that keeps the error text.
#[rstest]
#[tokio::test]
async fn a_v12_event_with_an_error_is_a_failed_run_that_keeps_the_stack_trace(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    plan_ok(&app, V12, &v12_plan()).await;
    let stack = "org.apache.spark.SparkException: Job aborted.\n\tat org.apache.spark.sql.execution.datasources.FileFormatWriter$.write(FileFormatWriter.scala:231)";
    let events = json!([{"planId": V12_PLAN_ID, "timestamp": 1_700_000_100_000_i64,
        "discriminator": "d-1", "error": stack, "durationNs": 77, "extra": {"appId": "app-7"}}]);
    events_ok(&app, V12, &events.to_string()).await;
    let page = node_details(&app, &run_key(V12_PLAN_ID, 1_700_000_100_000)).await;
    assert_eq!(page["node"]["name"], "app-7");
    let run = &page["node"]["properties"];
    assert_eq!(run["status"], "failed");
    assert_eq!(run["error"], stack);
    assert_eq!(run["durationNs"], 77);
}

/// v1.1 bodies may still carry labels (Spline's generator sends v1.2 bodies as v1.1).
#[rstest]
#[tokio::test]
async fn labels_sent_with_the_v11_media_type_are_kept(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    plan_ok(&app, V11, &v12_plan()).await;
    let job = props(&app, &format!("job:{V12_PLAN_ID}")).await;
    assert_eq!(job["labels"]["team"], json!(["data-eng"]));
    assert_eq!(job["producerApiVersion"], "1.1");
}

// ---------------------------------------------------------------------------------------------
// Media types, encodings, headers, unknown fields

/// A small v1.2 plan reading `in` and writing `out`, with the given id.
fn tiny_plan(id: &str, inputs: &[&str], out: &str) -> String {
    let reads: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, uri)| json!({"id": format!("r{i}"), "inputSources": [uri]}))
        .collect();
    let children: Vec<String> = (0..inputs.len()).map(|i| format!("r{i}")).collect();
    json!({
        "id": id,
        "operations": {"write": {"id": "w", "childIds": children, "outputSource": out, "append": false},
                       "reads": reads},
        "systemInfo": {"name": "spark", "version": "3.5.0"}
    })
    .to_string()
}

/// `charset` parameters and any letter case select the same version.
#[rstest]
#[tokio::test]
async fn charset_parameters_and_letter_case_in_the_media_type_are_tolerated(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    let cases = [
        (
            "application/vnd.absa.spline.producer.v1.2+json; charset=UTF-8",
            "1.2",
        ),
        ("APPLICATION/VND.ABSA.SPLINE.PRODUCER.V1.1+JSON", "1.1"),
        ("Application/Json;charset=utf-8", "1"),
        (
            "application/vnd.absa.spline.producer.v1.2+json;charset=\"utf-8\"",
            "1.2",
        ),
    ];
    for (i, (content_type, version)) in cases.into_iter().enumerate() {
        let id = format!("4b1c2d3e-0000-4000-8000-0000000000c{i}");
        let body = tiny_plan(&id, &["file:/in"], "file:/out");
        assert_eq!(
            plan_ok(&app, content_type, &body).await,
            id,
            "{content_type}"
        );
        let job = props(&app, &format!("job:{id}")).await;
        assert_eq!(job["producerApiVersion"], version, "{content_type}");
        let events = json!([{"planId": id, "timestamp": 1}]).to_string();
        events_ok(&app, content_type, &events).await;
    }
}

/// Gzipped plan and event bodies are inflated; the archive keeps the inflated bytes and the
/// size on the wire.
#[rstest]
#[tokio::test]
async fn gzipped_plans_and_events_are_stored_inflated_with_their_wire_size(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool.clone());
    let plan = v12_plan();
    let compressed = gzip(plan.as_bytes());
    let headers = [("Content-Encoding", "gzip")];
    let response = app
        .post(
            "/producer/execution-plans",
            Some(V12),
            &headers,
            compressed.clone(),
        )
        .await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
    assert_eq!(response.json(), V12_PLAN_ID);
    let (body, version, _, wire) = raw_row(&pool, plan.as_bytes()).await;
    assert_eq!(body, plan.as_bytes());
    assert_eq!(version, "1.2");
    assert_eq!(wire as usize, compressed.len());
    assert_ne!(compressed.len(), plan.len());
    let events =
        json!([{"planId": V12_PLAN_ID, "timestamp": 9, "discriminator": "d-1"}]).to_string();
    let zipped = gzip(events.as_bytes());
    let response = app
        .post(
            "/producer/execution-events",
            Some(V12),
            &headers,
            zipped.clone(),
        )
        .await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
    let (body, _, _, wire) = raw_row(&pool, events.as_bytes()).await;
    assert_eq!((body, wire as usize), (events.into_bytes(), zipped.len()));
    node_details(&app, &run_key(V12_PLAN_ID, 9)).await;
}

/// An uncompressed plan is archived byte for byte with its format, version and media type.
#[rstest]
#[tokio::test]
async fn a_plain_plan_is_archived_byte_for_byte_with_its_metadata(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool.clone());
    let plan = format!("  {}\n", v11_plan());
    plan_ok(&app, V11, &plan).await;
    let (body, version, content_type, wire) = raw_row(&pool, plan.as_bytes()).await;
    assert_eq!(body, plan.as_bytes());
    assert_eq!((version.as_str(), content_type.as_str()), ("1.1", V11));
    assert_eq!(wire as usize, plan.len());
    let stored = pool.raw_payloads().await;
    let formats: Vec<&str> = stored.iter().map(|p| p.raw.format.as_str()).collect();
    assert_eq!(formats, ["spline.plan"]);
}

/// Fields no version defines are ignored, and the agent's `X-SPLINE-TIMEOUT` header is fine.
#[rstest]
#[tokio::test]
async fn unknown_fields_and_the_spline_timeout_header_are_accepted(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    let mut plan: Value = serde_json::from_str(&v12_plan()).unwrap();
    plan["futureField"] = json!({"nested": [1, 2]});
    plan["operations"]["write"]["somethingNew"] = json!(true);
    plan["operations"]["reads"][0]["cost"] = json!(3.5);
    plan["attributes"][0]["comment"] = json!("hello");
    let headers = [("X-SPLINE-TIMEOUT", "120000")];
    let response = app
        .post(
            "/producer/execution-plans",
            Some(V12),
            &headers,
            plan.to_string(),
        )
        .await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
    assert_eq!(response.json(), V12_PLAN_ID);
    let events = json!([{"planId": V12_PLAN_ID, "timestamp": 5, "discriminator": "d-1",
        "newField": "x", "extra": {"writeMetrics": {"numFiles": 1}}}]);
    let response = app
        .post(
            "/producer/execution-events",
            Some(V12),
            &headers,
            events.to_string(),
        )
        .await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
    let run = props(&app, &run_key(V12_PLAN_ID, 5)).await;
    assert_eq!(run["extra"]["writeMetrics"]["numFiles"], 1);
    node_details(&app, &format!("op:{V12_PLAN_ID}:op-1")).await;
}

/// A URI read twice (two reads, or twice in one read) is one dataset with one input edge;
/// each read operation still gets its own `reads_from`.
#[rstest]
#[tokio::test]
async fn a_uri_read_twice_is_one_input_edge_and_one_reads_from_per_read(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    let id = "4b1c2d3e-0000-4000-8000-0000000000d1";
    let plan = json!({
        "id": id,
        "operations": {
            "write": {"id": "w", "childIds": ["r1", "r2"], "outputSource": "hdfs://nn/data/out/", "append": false},
            "reads": [{"id": "r1", "inputSources": ["hdfs://nn/data/orders/", "hdfs://nn/data/orders/"]},
                      {"id": "r2", "inputSources": ["hdfs://nn/data/orders/"]}]
        },
        "systemInfo": {"name": "spark", "version": "3.5.0"}
    });
    plan_ok(&app, V12, &plan.to_string()).await;
    // Looked up as sent, stored under the canonical spelling (no trailing slash).
    let orders = "dataset:hdfs://nn/data/orders";
    let page = node_details(&app, "dataset:hdfs://nn/data/orders/").await;
    assert_eq!(page["node"]["key"], orders);
    assert_eq!(page["node"]["name"], "orders", "last path segment");
    let job = format!("job:{id}");
    assert_eq!(pairs(&page, "input"), BTreeSet::from([pair(orders, &job)]));
    let reads = BTreeSet::from([
        pair(orders, &format!("op:{id}:r1")),
        pair(orders, &format!("op:{id}:r2")),
    ]);
    assert_eq!(pairs(&page, "reads_from"), reads);
    let job_props = props(&app, &job).await;
    assert_eq!(job_props["inputs"], json!(["hdfs://nn/data/orders/"]));
    let read = props(&app, &format!("op:{id}:r2")).await;
    assert_eq!(read["inputSources"], json!(["hdfs://nn/data/orders/"]));
    assert_eq!(read["type"], "Read");
}

/// One event body may carry runs of several plans.
#[rstest]
#[tokio::test]
async fn one_event_body_stores_runs_of_several_plans(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    let (a, b) = (
        "4b1c2d3e-0000-4000-8000-0000000000e1",
        "4b1c2d3e-0000-4000-8000-0000000000e2",
    );
    plan_ok(&app, V12, &tiny_plan(a, &["file:/x"], "file:/y")).await;
    plan_ok(&app, V12, &tiny_plan(b, &["file:/y"], "file:/z")).await;
    let events = json!([{"planId": a, "timestamp": 10}, {"planId": b, "timestamp": 20},
                        {"planId": a, "timestamp": 30}]);
    events_ok(&app, V12, &events.to_string()).await;
    for (plan, ts) in [(a, 10), (b, 20), (a, 30)] {
        let page = node_details(&app, &run_key(plan, ts)).await;
        let job = format!("job:{plan}");
        assert_eq!(
            pairs(&page, "run_of"),
            BTreeSet::from([pair(&run_key(plan, ts), &job)])
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Idempotency

/// Posting the same plan again answers 201 and changes no table.
#[rstest]
#[tokio::test]
async fn reposting_the_same_plan_changes_nothing(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    plan_ok(&app, V12, &v12_plan()).await;
    let before = app.counts().await;
    assert_eq!(plan_ok(&app, V12, &v12_plan()).await, V12_PLAN_ID);
    assert_eq!(app.counts().await, before);
}

/// The same plan in a different body (whitespace) is archived but adds no node or edge.
#[rstest]
#[tokio::test]
async fn the_same_plan_reformatted_adds_no_nodes_or_edges(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    plan_ok(&app, V12, &v12_plan()).await;
    let before = app.counts().await;
    let pretty =
        serde_json::to_string_pretty(&serde_json::from_str::<Value>(&v12_plan()).unwrap()).unwrap();
    assert_eq!(plan_ok(&app, V12, &pretty).await, V12_PLAN_ID);
    let after = app.counts().await;
    assert_eq!((after.nodes, after.edges), (before.nodes, before.edges));
    assert_eq!(after.raw_payloads, before.raw_payloads + 1);
}

const EVENT_TS: i64 = 1_700_000_000_000;

/// One v1.2 event of the v1.2 plan at `EVENT_TS`.
fn event(duration_ns: i64) -> Value {
    json!({"planId": V12_PLAN_ID, "timestamp": EVENT_TS, "discriminator": "d-1",
           "durationNs": duration_ns})
}

/// The same event body twice, or the same event twice in one body, is one run.
#[rstest]
#[tokio::test]
async fn the_same_event_twice_is_one_run(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool.clone());
    plan_ok(&app, V12, &v12_plan()).await;
    let body = json!([event(100)]).to_string();
    events_ok(&app, V12, &body).await;
    let once = app.counts().await;
    events_ok(&app, V12, &body).await;
    assert_eq!(
        app.counts().await,
        once,
        "identical body: nothing at all changes"
    );
    events_ok(&app, V12, &json!([event(100), event(100)]).to_string()).await;
    let after = app.counts().await;
    assert_eq!((after.nodes, after.edges), (once.nodes, once.edges));
    let runs = count(&pool, "select count(*) from node where kind = 'run'").await;
    assert_eq!(runs, 1);
}

/// The same plan and timestamp in a different body adds nothing: the first version wins.
#[rstest]
#[tokio::test]
async fn a_repeated_event_in_a_different_body_keeps_the_first_version(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool.clone());
    plan_ok(&app, V12, &v12_plan()).await;
    events_ok(&app, V12, &json!([event(100)]).to_string()).await;
    let once = app.counts().await;
    let mut retry = event(999);
    retry["extra"] = json!({"retry": true});
    events_ok(&app, V12, &json!([retry]).to_string()).await;
    let after = app.counts().await;
    assert_eq!((after.nodes, after.edges), (once.nodes, once.edges));
    assert_eq!(
        after.raw_payloads,
        once.raw_payloads + 1,
        "a new body is archived"
    );
    let runs = count(&pool, "select count(*) from node where kind = 'run'").await;
    assert_eq!(runs, 1);
    let run = props(&app, &run_key(V12_PLAN_ID, EVENT_TS)).await;
    assert_eq!(run["durationNs"], 100);
    assert!(run["extra"].get("retry").is_none(), "{run}");
}

/// A plan without an id gets one derived from its body: the same both times, stored once.
#[rstest]
#[tokio::test]
async fn a_plan_without_an_id_gets_the_same_id_each_time_and_is_stored_once(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool.clone());
    let mut plan: Value = serde_json::from_str(&v12_plan()).unwrap();
    plan.as_object_mut().unwrap().remove("id");
    let body = plan.to_string();
    let first = plan_ok(&app, V12, &body).await;
    let uuid = uuid::Uuid::parse_str(&first).expect("a UUID");
    assert_eq!(uuid.get_version_num(), 5, "derived from the body");
    let before = app.counts().await;
    assert_eq!(plan_ok(&app, V12, &body).await, first);
    assert_eq!(app.counts().await, before);
    let jobs = count(&pool, "select count(*) from node where kind = 'job'").await;
    assert_eq!(jobs, 1);
    node_details(&app, &format!("job:{first}")).await;
}

/// Two plans writing one dataset share its node, which gets one output edge from each.
#[rstest]
#[tokio::test]
async fn two_plans_writing_one_dataset_share_its_node(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool.clone());
    let (a, b) = (
        "4b1c2d3e-0000-4000-8000-0000000000a1",
        "4b1c2d3e-0000-4000-8000-0000000000a2",
    );
    plan_ok(&app, V12, &tiny_plan(a, &["file:///a"], "file:///shared")).await;
    plan_ok(&app, V12, &tiny_plan(b, &["file:///b"], "file:///shared")).await;
    let shared = "dataset:file:///shared";
    let n = count(
        &pool,
        "select count(*) from node where key = 'dataset:file:///shared'",
    )
    .await;
    assert_eq!(n, 1);
    let page = node_details(&app, shared).await;
    let outputs = BTreeSet::from([
        pair(&format!("job:{a}"), shared),
        pair(&format!("job:{b}"), shared),
    ]);
    assert_eq!(pairs(&page, "output"), outputs);
    let lineage = app.lineage(shared, "upstream", 1).await;
    assert_eq!(lineage["nodes"].as_array().unwrap().len(), 5);
}

// ---------------------------------------------------------------------------------------------
// Concurrency

const DISTINCT: usize = 16;

fn concurrent_id(i: usize) -> String {
    format!("4b1c2d3e-0000-4000-8000-0000000001{i:02}")
}

/// Plan `i` reads `width` of `width + 1` shared sources, rotated by `i` and reversed for odd
/// `i` so that concurrent writers meet the same rows in clashing orders, and writes one of two
/// shared targets.
fn concurrent_plan(i: usize, width: usize) -> String {
    let pool = width + 1;
    let sources: Vec<String> = (0..width)
        .map(|k| format!("file:///c/s{}", (i + k) % pool))
        .collect();
    let mut inputs: Vec<&str> = sources.iter().map(String::as_str).collect();
    if i % 2 == 1 {
        inputs.reverse();
    }
    tiny_plan(&concurrent_id(i), &inputs, &format!("file:///c/t{}", i % 2))
}

fn request(uri: &str, body: String) -> Request<Body> {
    Request::post(uri)
        .header("Content-Type", V12)
        .body(Body::from(body))
        .unwrap()
}

/// Fires every (uri, body) at once through clones of the router and returns the statuses.
async fn post_all_at_once(app: &TestApp, posts: Vec<(&'static str, String)>) -> Vec<StatusCode> {
    let tasks: Vec<_> = posts
        .into_iter()
        .map(|(uri, body)| {
            let router = app.router.clone();
            tokio::spawn(async move { router.oneshot(request(uri, body)).await.unwrap().status() })
        })
        .collect();
    let all = futures::future::join_all(tasks);
    let done = tokio::time::timeout(Duration::from_secs(60), all)
        .await
        .expect("no deadlock: every post answers within 60 s");
    done.into_iter().map(Result::unwrap).collect()
}

/// Distinct plans `0..n` of `width`, then the even ones again and plan 0 four more times.
fn plans_with_duplicates(n: usize, width: usize) -> Vec<(&'static str, String)> {
    let distinct = (0..n).map(|i| concurrent_plan(i, width));
    let again = (0..n).step_by(2).map(|i| concurrent_plan(i, width));
    let zero = std::iter::repeat_n(concurrent_plan(0, width), 4);
    let bodies = distinct.chain(again).chain(zero);
    bodies.map(|b| ("/producer/execution-plans", b)).collect()
}

/// What `n` distinct plans of `width` store: sources + 2 targets; per plan 1 job and
/// 1 + width ops; edges: width input, 1 output, 1 + width has_operation, width data_flow,
/// width reads_from, 1 writes_to.
fn implied(n: usize, width: usize) -> Counts {
    Counts {
        nodes: (width + 1 + 2 + n * (2 + width)) as i64,
        edges: (n * (4 * width + 3)) as i64,
        raw_payloads: n as i64,
    }
}

#[track_caller]
fn assert_all_created(statuses: &[StatusCode]) {
    let failed: Vec<_> = statuses
        .iter()
        .filter(|s| **s != StatusCode::CREATED)
        .collect();
    assert!(failed.is_empty(), "{statuses:?}");
}

/// Sixteen distinct plans over shared datasets plus duplicates, all at once: every post
/// succeeds and the graph holds exactly what the distinct plans imply.
#[rstest]
#[tokio::test]
async fn concurrent_posts_over_shared_datasets_neither_deadlock_nor_duplicate(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    let statuses = post_all_at_once(&app, plans_with_duplicates(DISTINCT, 3)).await;
    assert_all_created(&statuses);
    assert_eq!(statuses.len(), DISTINCT + DISTINCT / 2 + 4);
    assert_eq!(app.counts().await, implied(DISTINCT, 3));
    let lineage = app.lineage("dataset:file:///c/s0", "downstream", 1).await;
    let readers = node_keys(&lineage)
        .iter()
        .filter(|k| k.starts_with("job:"))
        .count();
    assert_eq!(readers, 12, "plans i with s0 among (i, i+1, i+2) mod 4");
}

/// Wide plans (40 shared sources each, clashing orders) posted at once still all succeed.
#[rstest]
#[tokio::test]
async fn concurrent_wide_plans_with_clashing_row_orders_all_succeed(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    let statuses = post_all_at_once(&app, plans_with_duplicates(24, 40)).await;
    assert_all_created(&statuses);
    assert_eq!(app.counts().await, implied(24, 40));
}

/// Events of the same runs arriving at once, in overlapping bodies, store each run once.
#[rstest]
#[tokio::test]
async fn concurrent_overlapping_event_bodies_store_each_run_once(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool.clone());
    assert_all_created(&post_all_at_once(&app, plans_with_duplicates(DISTINCT, 3)).await);
    let before = app.counts().await;
    let body = |j: usize| {
        let (a, b) = (concurrent_id(j), concurrent_id((j + 1) % DISTINCT));
        let events = json!([{"planId": a, "timestamp": 1000}, {"planId": b, "timestamp": 1000}]);
        ("/producer/execution-events", events.to_string())
    };
    let posts: Vec<_> = (0..DISTINCT).chain(0..DISTINCT / 2).map(body).collect();
    assert_all_created(&post_all_at_once(&app, posts).await);
    let after = app.counts().await;
    let runs = count(&pool, "select count(*) from node where kind = 'run'").await;
    assert_eq!(runs, DISTINCT as i64);
    assert_eq!(after.nodes, before.nodes + DISTINCT as i64);
    assert_eq!(
        after.edges,
        before.edges + DISTINCT as i64,
        "one run_of per run"
    );
    assert_eq!(after.raw_payloads, before.raw_payloads + DISTINCT as i64);
}
