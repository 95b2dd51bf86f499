//! The Spline consumer API (`/consumer`) and its `/about` probes, against real PostgreSQL.
//!
//! A small warehouse of Spline plans and events drives every endpoint: a join, an overwrite
//! followed by appends, a failed v1.2 run in between, plan and event labels. Answers are
//! checked field by field against Spline's shapes, and the plan behind a real captured Spline
//! consumer response (OpenMetadata's test data) is rebuilt and must read back as Spline
//! answered it.

use std::collections::BTreeSet;

use axum::http::{StatusCode, header};
use serde_json::{Value, json};

use rstest::rstest;

use crate::helpers::{Backend, Postgres, Sqlite, TestDb};
use crate::helpers::{
    TestApp, base36, data_path, ds, encode, get_json, store_plan, store_spline_events,
};

/// Event times: `t(n)` is `n` seconds after an arbitrary epoch millisecond.
const T0: i64 = 1_700_000_000_000;

fn t(n: i64) -> i64 {
    T0 + n * 1000
}

/// raw orders → clean orders, overwriting; labelled `team: sales`.
const ORDERS: &str = "a1000000-0000-4000-8000-000000000001";
/// orders delta → clean orders, appending.
const DELTA: &str = "a1000000-0000-4000-8000-000000000002";
/// clean orders ⋈ customers → report, overwriting; labelled `team: finance`.
const REPORT: &str = "a1000000-0000-4000-8000-000000000003";
/// crm → customers, overwriting.
const CUSTOMERS: &str = "a1000000-0000-4000-8000-000000000004";
/// report → export, overwriting.
const EXPORT: &str = "a1000000-0000-4000-8000-000000000005";

const RAW_ORDERS: &str = "s3://lake/raw/orders";
const RAW_DELTA: &str = "s3://lake/raw/orders_delta";
const CLEAN_ORDERS: &str = "s3://lake/clean/orders";
const CLEAN_CUSTOMERS: &str = "s3://lake/clean/customers";
const CRM: &str = "jdbc:postgresql://db:5432/crm.customers";
const REPORT_DS: &str = "s3://lake/report/daily";
const EXPORT_DS: &str = "s3://lake/export/daily";

const STACK_TRACE: &str = "java.lang.RuntimeException: boom\n\tat Job.run(Job.scala:1)";

fn event_id(plan: &str, n: i64) -> String {
    format!("{plan}:{}", base36(t(n)))
}

fn data_types() -> Value {
    json!([
        {"_typeHint": "dt.Simple", "id": "t-int", "name": "int", "nullable": true},
        {"_typeHint": "dt.Simple", "id": "t-dec", "name": "decimal(10,2)", "nullable": true},
        {"_typeHint": "dt.Simple", "id": "t-str", "name": "string", "nullable": true},
        {"_typeHint": "dt.Simple", "id": "t-bool", "name": "boolean", "nullable": false}
    ])
}

fn source_type(uri: &str) -> &'static str {
    if uri.starts_with("jdbc:") {
        "jdbc"
    } else {
        "parquet"
    }
}

/// A one-read plan as the Spark agent sends it (v1.2).
fn copy_plan(
    id: &str,
    name: &str,
    input: &str,
    output: &str,
    append: bool,
    labels: Value,
) -> Value {
    json!({
        "id": id, "name": name, "labels": labels,
        "operations": {
            "write": {"id": "op-0", "name": "InsertIntoHadoopFsRelationCommand", "childIds": ["op-1"],
                      "outputSource": output, "append": append, "params": {"path": output},
                      "extra": {"destinationType": "parquet"}},
            "reads": [{"id": "op-1", "name": "LogicalRelation", "inputSources": [input],
                       "output": ["attr-0"], "extra": {"sourceType": source_type(input)}}]
        },
        "attributes": [{"id": "attr-0", "name": "id", "dataType": "t-int"}],
        "expressions": {},
        "systemInfo": {"name": "spark", "version": "3.5.0"},
        "agentInfo": {"name": "spline", "version": "2.2.1"},
        "extraInfo": {"appName": name, "dataTypes": data_types()}
    })
}

/// The join: clean orders ⋈ customers on `customer_id = id`, projected to
/// `name, amount * 2 AS total`, written to the report.
fn report_plan() -> Value {
    json!({
        "id": REPORT, "name": "daily report", "labels": {"team": ["finance"]},
        "operations": {
            "write": {"id": "op-0", "name": "InsertIntoHadoopFsRelationCommand", "childIds": ["op-1"],
                      "outputSource": REPORT_DS, "append": false, "extra": {"destinationType": "delta"}},
            "reads": [
                {"id": "op-3", "name": "LogicalRelation", "inputSources": [CLEAN_ORDERS],
                 "output": ["attr-0", "attr-1"], "extra": {"sourceType": "parquet"}},
                {"id": "op-4", "name": "LogicalRelation", "inputSources": [CLEAN_CUSTOMERS],
                 "output": ["attr-2", "attr-3"], "extra": {"sourceType": "parquet"}}
            ],
            "other": [
                {"id": "op-1", "name": "Project", "childIds": ["op-2"], "output": ["attr-3", "attr-4"],
                 "params": {"projectList": [{"__attrId": "attr-3"}, {"__exprId": "expr-0"}]}},
                {"id": "op-2", "name": "Join", "childIds": ["op-3", "op-4"],
                 "output": ["attr-0", "attr-1", "attr-2", "attr-3"],
                 "params": {"joinType": "INNER", "condition": {"__exprId": "expr-2"}}}
            ]
        },
        "attributes": [
            {"id": "attr-0", "name": "customer_id", "dataType": "t-int"},
            {"id": "attr-1", "name": "amount", "dataType": "t-dec"},
            {"id": "attr-2", "name": "id", "dataType": "t-int"},
            {"id": "attr-3", "name": "name", "dataType": "t-str"},
            {"id": "attr-4", "name": "total", "dataType": "t-dec", "childRefs": [{"__exprId": "expr-0"}]}
        ],
        "expressions": {
            "functions": [
                {"id": "expr-0", "name": "total", "dataType": "t-dec", "childRefs": [{"__exprId": "expr-1"}],
                 "params": {"name": "total"}, "extra": {"_typeHint": "expr.Alias", "simpleClassName": "Alias"}},
                {"id": "expr-1", "name": "multiply", "dataType": "t-dec",
                 "childRefs": [{"__attrId": "attr-1"}, {"__exprId": "expr-3"}],
                 "extra": {"_typeHint": "expr.Binary", "symbol": "*", "simpleClassName": "Multiply"}},
                {"id": "expr-2", "name": "equalTo", "dataType": "t-bool",
                 "childRefs": [{"__attrId": "attr-0"}, {"__attrId": "attr-2"}],
                 "extra": {"_typeHint": "expr.Binary", "symbol": "=", "simpleClassName": "EqualTo"}}
            ],
            "constants": [{"id": "expr-3", "value": 2, "dataType": "t-int",
                           "extra": {"_typeHint": "expr.Literal", "simpleClassName": "Literal"}}]
        },
        "systemInfo": {"name": "spark", "version": "3.5.0"},
        "agentInfo": {"name": "spline", "version": "2.2.1"},
        "extraInfo": {"appName": "daily report", "dataTypes": data_types()}
    })
}

/// One v1.2 event of `plan` at `t(n)`; `app-n` is its application id.
fn event(plan: &str, n: i64, labels: Value, error: Option<&str>) -> Value {
    let mut e = json!({"planId": plan, "timestamp": t(n), "durationNs": n * 1_000_000,
                       "labels": labels, "extra": {"appId": format!("app-{n}"), "user": "etl"}});
    if let Some(error) = error {
        e["error"] = json!(error);
    }
    e
}

/// The warehouse, run over eleven seconds:
///
/// | t  | run                                  |
/// |----|--------------------------------------|
/// | 1  | customers (crm → clean customers)    |
/// | 2  | orders overwrite clean orders        |
/// | 3  | delta appends to clean orders        |
/// | 4  | delta appends                        |
/// | 5  | report (join)                        |
/// | 6  | orders overwrite **fails**           |
/// | 7  | delta appends                        |
/// | 8  | report, labelled `env: prod`         |
/// | 9  | orders overwrite                     |
/// | 10 | report, labelled `env: test`         |
/// | 11 | export (report → export)             |
async fn warehouse(pool: TestDb) -> TestApp {
    let app = TestApp::new(pool);
    let none = json!({});
    for plan in [
        copy_plan(
            CUSTOMERS,
            "customers",
            CRM,
            CLEAN_CUSTOMERS,
            false,
            none.clone(),
        ),
        copy_plan(
            ORDERS,
            "orders",
            RAW_ORDERS,
            CLEAN_ORDERS,
            false,
            json!({"team": ["sales"]}),
        ),
        copy_plan(
            DELTA,
            "orders delta",
            RAW_DELTA,
            CLEAN_ORDERS,
            true,
            none.clone(),
        ),
        report_plan(),
        copy_plan(EXPORT, "export", REPORT_DS, EXPORT_DS, false, none.clone()),
    ] {
        store_plan(&app, &plan).await;
    }
    let runs = [
        (CUSTOMERS, 1),
        (ORDERS, 2),
        (DELTA, 3),
        (DELTA, 4),
        (REPORT, 5),
        (ORDERS, 6),
        (DELTA, 7),
        (REPORT, 8),
        (ORDERS, 9),
        (REPORT, 10),
        (EXPORT, 11),
    ];
    let events: Vec<Value> = runs
        .iter()
        .map(|&(plan, n)| {
            let labels = match n {
                8 => json!({"env": ["prod"]}),
                10 => json!({"env": ["test"]}),
                _ => json!({}),
            };
            event(plan, n, labels, (n == 6).then_some(STACK_TRACE))
        })
        .collect();
    store_spline_events(&app, &json!(events)).await;
    app
}

fn strings(values: &Value, field: &str) -> Vec<String> {
    let items = values.as_array().unwrap();
    items
        .iter()
        .map(|v| v[field].as_str().unwrap_or("null").to_owned())
        .collect()
}

fn event_ids(page: &Value) -> Vec<String> {
    strings(&page["items"], "executionEventId")
}

/// The object's keys, sorted.
fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

const EVENT_FIELDS: [&str; 14] = [
    "append",
    "applicationId",
    "applicationName",
    "dataSourceName",
    "dataSourceType",
    "dataSourceUri",
    "durationNs",
    "error",
    "executionEventId",
    "executionPlanId",
    "extra",
    "frameworkName",
    "labels",
    "timestamp",
];

const PAGE_FIELDS: [&str; 5] = [
    "items",
    "pageNum",
    "pageSize",
    "totalCount",
    "totalDateRange",
];

#[rstest]
#[tokio::test]
async fn events_list_latest_first_ten_a_page_with_splines_fields(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = warehouse(pool).await;
    let page = get_json(&app, "/consumer/execution-events").await;
    assert_eq!(keys(&page), PAGE_FIELDS);
    assert_eq!(
        (
            page["totalCount"].clone(),
            page["pageNum"].clone(),
            page["pageSize"].clone()
        ),
        (json!(11), json!(1), json!(10))
    );
    assert_eq!(page["totalDateRange"], json!([]));
    let expected: Vec<String> = (2..=11).rev().map(run_at).collect();
    assert_eq!(event_ids(&page), expected);
    let second = get_json(&app, "/consumer/execution-events?pageNum=2").await;
    assert_eq!(event_ids(&second), [event_id(CUSTOMERS, 1)]);
    assert_eq!(
        (second["pageNum"].clone(), second["totalCount"].clone()),
        (json!(2), json!(11))
    );
    let past_the_end = get_json(&app, "/consumer/execution-events?pageNum=5&pageSize=5").await;
    assert_eq!(
        (
            past_the_end["items"].clone(),
            past_the_end["totalCount"].clone()
        ),
        (json!([]), json!(11))
    );
}

/// The event id of the warehouse run at `t(n)`.
fn run_at(n: i64) -> String {
    let plan = match n {
        1 => CUSTOMERS,
        2 | 6 | 9 => ORDERS,
        3 | 4 | 7 => DELTA,
        5 | 8 | 10 => REPORT,
        _ => EXPORT,
    };
    event_id(plan, n)
}

#[rstest]
#[tokio::test]
async fn a_failed_run_is_listed_with_its_error_and_every_spline_field(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = warehouse(pool).await;
    let page = get_json(&app, "/consumer/execution-events?applicationId=app-6").await;
    assert_eq!(page["totalCount"], 1);
    let item = &page["items"][0];
    assert_eq!(keys(item), EVENT_FIELDS);
    assert_eq!(
        *item,
        json!({
            "executionEventId": event_id(ORDERS, 6), "executionPlanId": ORDERS,
            "frameworkName": "spark 3.5.0", "applicationName": "orders", "applicationId": "app-6",
            "timestamp": t(6), "durationNs": 6_000_000,
            "dataSourceName": "orders", "dataSourceUri": CLEAN_ORDERS, "dataSourceType": "parquet",
            "append": false, "error": STACK_TRACE, "extra": {"appId": "app-6", "user": "etl"},
            "labels": {"team": ["sales"]}
        })
    );
    let ok = get_json(&app, "/consumer/execution-events?applicationId=app-8").await;
    assert_eq!(ok["items"][0]["error"], Value::Null);
    assert_eq!(
        ok["items"][0]["labels"],
        json!({"env": ["prod"], "team": ["finance"]})
    );
}

/// `(query, expected totalCount)` pairs against the event list.
async fn assert_counts(app: &TestApp, path: &str, cases: &[(&str, u64)]) {
    for (query, count) in cases {
        let page = get_json(app, &format!("{path}?{query}")).await;
        assert_eq!(page["totalCount"], *count, "{query}: {page:#}");
        let listed = page["items"].as_array().unwrap().len() as u64;
        assert_eq!(listed, (*count).min(10), "{query}");
    }
}

#[rstest]
#[tokio::test]
async fn event_filters_combine_labels_modes_text_applications_data_sources_and_time(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = warehouse(pool).await;
    let label = |l: &str| format!("label={}", encode(l));
    assert_counts(
        &app,
        "/consumer/execution-events",
        &[
            (&label("env:prod"), 1),
            (&label("env:prod,test"), 2),
            (&label("team:sales"), 3),
            (&label("team:finance"), 3),
            (
                &format!("{}&{}", label("team:finance"), label("env:test")),
                1,
            ),
            (&label("team:nobody"), 0),
            ("append=true", 3),
            ("append=false", 8),
            ("append=true,false", 11),
            ("append=true,", 3),
            ("searchTerm=DELTA", 6),
            ("searchTerm=Customers", 1),
            ("searchTerm=spark+3.5", 11),
            ("searchTerm=100%25", 0),
            ("applicationId=app-8", 1),
            (&format!("dataSourceUri={}", encode(CLEAN_ORDERS)), 6),
            (
                &format!("dataSourceUri={}", encode("S3A://LAKE/clean/orders/")),
                6,
            ),
            (&format!("timestampStart={}&timestampEnd={}", t(3), t(5)), 3),
            (&format!("timestampStart={}", t(10)), 2),
        ],
    )
    .await;
    let window = format!(
        "/consumer/execution-events?facet.timestamp=true&timestampStart={}",
        t(3)
    );
    let faceted = get_json(&app, &window).await;
    assert_eq!(faceted["totalCount"], 9);
    assert_eq!(
        faceted["totalDateRange"],
        json!([t(1), t(11)]),
        "the window aside"
    );
}

#[rstest]
#[tokio::test]
async fn events_sort_by_any_item_field_and_reject_unknown_ones(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = warehouse(pool).await;
    let page = get_json(
        &app,
        "/consumer/execution-events?sortField=applicationName&sortOrder=asc&pageSize=20",
    )
    .await;
    let names = strings(&page["items"], "applicationName");
    let expected = [
        "customers",
        "daily report",
        "daily report",
        "daily report",
        "export",
        "orders",
        "orders",
        "orders",
        "orders delta",
        "orders delta",
        "orders delta",
    ];
    assert_eq!(names, expected);
    let page = get_json(
        &app,
        "/consumer/execution-events?sortField=durationNs&sortOrder=ASC",
    )
    .await;
    assert_eq!(event_ids(&page)[0], event_id(CUSTOMERS, 1));
    let page = get_json(
        &app,
        "/consumer/execution-events?sortField=append&sortOrder=desc&pageSize=3",
    )
    .await;
    assert_eq!(
        strings(&page["items"], "applicationName"),
        ["orders delta"; 3]
    );
    for (query, param) in [
        ("sortField=uri", "sortField"),
        ("sortField=timestamp;drop", "sortField"),
        ("sortOrder=sideways", "sortOrder"),
        ("pageNum=0", "pageNum"),
        ("pageSize=0", "pageSize"),
        ("pageSize=many", "pageSize"),
        ("append=maybe", "append"),
        ("timestampStart=yesterday", "timestampStart"),
        ("asAtTime=soon", "asAtTime"),
    ] {
        let response = app
            .get(&format!("/consumer/execution-events?{query}"))
            .await;
        response.assert_problem(StatusCode::BAD_REQUEST, "invalid-parameter", Some(param));
    }
}

#[rstest]
#[tokio::test]
async fn as_at_time_pins_the_list_to_what_was_stored_by_then(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    store_plan(
        &app,
        &copy_plan(ORDERS, "orders", RAW_ORDERS, CLEAN_ORDERS, false, json!({})),
    )
    .await;
    store_spline_events(&app, &json!([event(ORDERS, 1, json!({}), None)])).await;
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let cutoff = chrono::Utc::now().timestamp_millis();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    store_spline_events(&app, &json!([event(ORDERS, 2, json!({}), None)])).await;
    let pinned = get_json(
        &app,
        &format!("/consumer/execution-events?asAtTime={cutoff}"),
    )
    .await;
    assert_eq!(event_ids(&pinned), [event_id(ORDERS, 1)]);
    let now = get_json(&app, "/consumer/execution-events?asAtTime=0").await;
    assert_eq!(now["totalCount"], 2);
    let before_anything = get_json(&app, "/consumer/data-sources?asAtTime=1").await;
    assert_eq!(before_anything["totalCount"], 0);
}

#[rstest]
#[tokio::test]
async fn data_sources_list_by_uri_each_with_its_last_write(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = warehouse(pool).await;
    let page = get_json(&app, "/consumer/data-sources").await;
    assert_eq!(keys(&page), PAGE_FIELDS);
    assert_eq!(page["totalCount"], 7);
    assert_eq!(
        strings(&page["items"], "dataSourceUri"),
        [
            CRM,
            CLEAN_CUSTOMERS,
            CLEAN_ORDERS,
            EXPORT_DS,
            RAW_ORDERS,
            RAW_DELTA,
            REPORT_DS
        ]
    );
    let items = page["items"].as_array().unwrap();
    let never_written = &items[0];
    assert_eq!(keys(never_written), EVENT_FIELDS);
    let mut expected: serde_json::Map<String, Value> = EVENT_FIELDS
        .iter()
        .map(|f| (f.to_string(), Value::Null))
        .collect();
    expected.insert("dataSourceName".into(), json!("crm.customers"));
    expected.insert("dataSourceUri".into(), json!(CRM));
    assert_eq!(*never_written, Value::Object(expected));
    let clean_orders = &items[2];
    assert_eq!(
        clean_orders["executionEventId"],
        event_id(ORDERS, 9),
        "the latest write, not the failed one"
    );
    assert_eq!(
        (
            clean_orders["append"].clone(),
            clean_orders["dataSourceName"].clone()
        ),
        (json!(false), json!("orders"))
    );
    assert_eq!(clean_orders["labels"], json!({"team": ["sales"]}));
}

#[rstest]
#[tokio::test]
async fn data_source_filters_apply_to_the_last_write_and_an_empty_mode_means_never_written(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = warehouse(pool).await;
    assert_counts(
        &app,
        "/consumer/data-sources",
        &[
            ("append=,", 3),
            ("append=false", 4),
            ("append=false,", 7),
            ("append=true", 0),
            ("searchTerm=report", 1),
            (&format!("label={}", encode("env:test")), 1),
            (&format!("timestampStart={}", t(9)), 3),
            (&format!("dataSourceUri={}", encode(RAW_ORDERS)), 1),
        ],
    )
    .await;
    let unwritten = get_json(&app, "/consumer/data-sources?append=,").await;
    assert_eq!(
        strings(&unwritten["items"], "dataSourceUri"),
        [CRM, RAW_ORDERS, RAW_DELTA]
    );
    let latest = get_json(
        &app,
        "/consumer/data-sources?sortField=timestamp&sortOrder=desc",
    )
    .await;
    assert_eq!(
        strings(&latest["items"], "dataSourceUri")[..4],
        [EXPORT_DS, REPORT_DS, CLEAN_ORDERS, CLEAN_CUSTOMERS],
        "never-written ones sort last when descending"
    );
    let faceted = get_json(&app, "/consumer/data-sources?facet.timestamp=true").await;
    assert_eq!(faceted["totalDateRange"], json!([t(1), t(11)]));
    let response = app.get("/consumer/data-sources?sortField=name").await;
    response.assert_problem(
        StatusCode::BAD_REQUEST,
        "invalid-parameter",
        Some("sortField"),
    );
}

/// Spline's `ExecutionPlanInfo` of the report plan.
fn report_plan_info() -> Value {
    let attr = |n: u32, name: &str, t: &str| json!({"id": format!("{REPORT}:attr-{n}"), "name": name, "dataTypeId": t});
    json!({
        "_id": REPORT, "name": "daily report",
        "systemInfo": {"name": "spark", "version": "3.5.0"},
        "agentInfo": {"name": "spline", "version": "2.2.1"},
        "extra": {
            "appName": "daily report", "dataTypes": data_types(),
            "attributes": [attr(0, "customer_id", "t-int"), attr(1, "amount", "t-dec"), attr(2, "id", "t-int"),
                           attr(3, "name", "t-str"), attr(4, "total", "t-dec")]
        },
        "inputs": [{"source": CLEAN_ORDERS, "sourceType": "parquet"}, {"source": CLEAN_CUSTOMERS, "sourceType": "parquet"}],
        "output": {"source": REPORT_DS, "sourceType": "delta"}
    })
}

fn op(n: u32) -> String {
    format!("{REPORT}:op-{n}")
}

#[rstest]
#[tokio::test]
async fn lineage_detailed_is_the_plan_and_its_operations_in_data_flow_order(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = warehouse(pool).await;
    let detailed = get_json(&app, &format!("/consumer/lineage-detailed?execId={REPORT}")).await;
    assert_eq!(keys(&detailed), ["executionPlan", "graph"]);
    assert_eq!(detailed["executionPlan"], report_plan_info());
    let node = |n: u32, kind: &str, name: &str| json!({"_id": op(n), "_type": kind, "name": name, "properties": {}});
    assert_eq!(
        detailed["graph"]["nodes"],
        json!([
            node(3, "Read", "LogicalRelation"),
            node(4, "Read", "LogicalRelation"),
            node(2, "Transformation", "Join"),
            node(1, "Transformation", "Project"),
            node(0, "Write", "InsertIntoHadoopFsRelationCommand")
        ])
    );
    let edge = |s: u32, t: u32| json!({"source": op(s), "target": op(t)});
    assert_eq!(
        detailed["graph"]["edges"],
        json!([edge(3, 2), edge(4, 2), edge(2, 1), edge(1, 0)])
    );
    let same = get_json(&app, &format!("/consumer/execution-plans/{REPORT}")).await;
    assert_eq!(same, detailed);
    let unknown = "00000000-0000-4000-8000-00000000abcd";
    for (uri, status, code, path) in [
        (
            format!("/consumer/lineage-detailed?execId={unknown}"),
            StatusCode::NOT_FOUND,
            "not-found",
            None,
        ),
        (
            "/consumer/lineage-detailed?execId=nope".to_owned(),
            StatusCode::BAD_REQUEST,
            "invalid-parameter",
            Some("execId"),
        ),
        (
            "/consumer/lineage-detailed".to_owned(),
            StatusCode::BAD_REQUEST,
            "invalid-parameter",
            Some("execId"),
        ),
        (
            format!("/consumer/execution-plans/{unknown}"),
            StatusCode::NOT_FOUND,
            "not-found",
            None,
        ),
        (
            "/consumer/execution-plans/nope".to_owned(),
            StatusCode::BAD_REQUEST,
            "invalid-parameter",
            Some("planId"),
        ),
    ] {
        app.get(&uri).await.assert_problem(status, code, path);
    }
}

#[rstest]
#[tokio::test]
async fn execution_plans_list_the_plans_that_ran_latest_stored_first(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = warehouse(pool).await;
    store_plan(
        &app,
        &copy_plan(
            "a1000000-0000-4000-8000-0000000000ff",
            "never run",
            RAW_ORDERS,
            "s3://x/y",
            false,
            json!({}),
        ),
    )
    .await;
    let page = get_json(&app, "/consumer/execution-plans").await;
    assert_eq!(keys(&page), ["items", "pageNum", "pageSize", "totalCount"]);
    assert_eq!(
        (
            page["totalCount"].clone(),
            page["pageNum"].clone(),
            page["pageSize"].clone()
        ),
        (json!(5), json!(1), json!(10))
    );
    assert_eq!(
        strings(&page["items"], "_id"),
        [EXPORT, REPORT, DELTA, ORDERS, CUSTOMERS]
    );
    assert_eq!(page["items"][1], report_plan_info());
    let paged = get_json(&app, "/consumer/execution-plans?pageSize=2&pageNum=3").await;
    assert_eq!(
        (strings(&paged["items"], "_id"), paged["totalCount"].clone()),
        (vec![CUSTOMERS.to_owned()], json!(5))
    );
    let early = get_json(
        &app,
        &format!("/consumer/execution-plans?asAtTime={}", t(1) + 500),
    )
    .await;
    assert_eq!(strings(&early["items"], "_id"), [CUSTOMERS]);
    let response = app.get("/consumer/execution-plans?pageSize=-1").await;
    response.assert_problem(
        StatusCode::BAD_REQUEST,
        "invalid-parameter",
        Some("pageSize"),
    );
}

#[rstest]
#[tokio::test]
async fn a_plans_write_operation_is_a_redirect_and_its_data_sources_a_uri_list(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = warehouse(pool).await;
    let response = app
        .get(&format!("/consumer/execution-plans/{REPORT}/write-op"))
        .await;
    assert_eq!(response.status, StatusCode::FOUND);
    let location = response.headers[header::LOCATION].to_str().unwrap();
    assert_eq!(location, format!("/consumer/operations/{}", op(0)));
    let write = get_json(&app, location).await;
    assert_eq!(write["operation"]["_type"], "Write");
    let sources = |access: &str| format!("/consumer/execution-plans/{REPORT}/data-sources{access}");
    assert_eq!(
        get_json(&app, &sources("")).await,
        json!([CLEAN_ORDERS, CLEAN_CUSTOMERS, REPORT_DS])
    );
    assert_eq!(
        get_json(&app, &sources("?access=read")).await,
        json!([CLEAN_ORDERS, CLEAN_CUSTOMERS])
    );
    assert_eq!(
        get_json(&app, &sources("?access=write")).await,
        json!([REPORT_DS])
    );
    app.get(&sources("?access=delete")).await.assert_problem(
        StatusCode::BAD_REQUEST,
        "invalid-parameter",
        Some("access"),
    );
    let unknown = "/consumer/execution-plans/00000000-0000-4000-8000-00000000abcd";
    app.get(&format!("{unknown}/write-op"))
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not-found", None);
    app.get(&format!("{unknown}/data-sources"))
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not-found", None);
}

fn attr_ref(n: u32, name: &str, t: &str) -> Value {
    json!({"_typeHint": "expr.AttrRef", "dataTypeId": t, "name": name, "refId": format!("{REPORT}:attr-{n}")})
}

fn schema(attrs: &[(u32, &str, &str)]) -> Value {
    let refs = attrs.iter().map(
        |(n, name, t)| json!({"id": format!("{REPORT}:attr-{n}"), "name": name, "dataTypeId": t}),
    );
    Value::Array(refs.collect())
}

#[rstest]
#[tokio::test]
async fn operation_details_expand_references_and_list_input_and_output_schemas(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = warehouse(pool).await;
    let join = get_json(&app, &format!("/consumer/operations/{}", op(2))).await;
    assert_eq!(
        keys(&join),
        ["dataTypes", "inputs", "operation", "output", "schemas"]
    );
    let condition = json!({"_typeHint": "expr.Binary", "dataTypeId": "t-bool", "name": "equalTo", "symbol": "=",
                           "children": [attr_ref(0, "customer_id", "t-int"), attr_ref(2, "id", "t-int")]});
    assert_eq!(
        join["operation"],
        json!({"_id": op(2), "_type": "Transformation", "name": "Join",
               "properties": {"inputSources": null, "outputSource": null, "append": null,
                              "joinType": "INNER", "condition": condition}})
    );
    let orders = [(0, "customer_id", "t-int"), (1, "amount", "t-dec")];
    let customers = [(2, "id", "t-int"), (3, "name", "t-str")];
    let joined: Vec<_> = orders.iter().chain(&customers).copied().collect();
    assert_eq!(
        join["schemas"],
        json!([schema(&orders), schema(&customers), schema(&joined)])
    );
    assert_eq!(
        (join["inputs"].clone(), join["output"].clone()),
        (json!([0, 1]), json!(2))
    );
    let used: Vec<Value> = data_types().as_array().unwrap()[..3].to_vec();
    assert_eq!(
        join["dataTypes"],
        Value::Array(used),
        "boolean is not in any schema"
    );

    let project = get_json(&app, &format!("/consumer/operations/{}", op(1))).await;
    let total = json!({"_typeHint": "expr.Alias", "dataTypeId": "t-dec", "name": "total", "alias": "total",
                       "child": {"_typeHint": "expr.Binary", "dataTypeId": "t-dec", "name": "multiply", "symbol": "*",
                                 "children": [attr_ref(1, "amount", "t-dec"),
                                              {"_typeHint": "expr.Literal", "dataTypeId": "t-int", "name": null, "value": 2}]}});
    assert_eq!(
        project["operation"]["properties"]["projectList"],
        json!([attr_ref(3, "name", "t-str"), total])
    );

    let write = get_json(&app, &format!("/consumer/operations/{}", op(0))).await;
    assert_eq!(
        write["operation"]["properties"],
        json!({"inputSources": null, "outputSource": REPORT_DS, "append": false, "destinationType": "delta"})
    );
    let projected = schema(&[(3, "name", "t-str"), (4, "total", "t-dec")]);
    assert_eq!(
        write["schemas"],
        json!([projected, projected]),
        "a write outputs its input's schema"
    );
    let read = get_json(&app, &format!("/consumer/operations/{}", op(3))).await;
    assert_eq!(
        read["operation"]["properties"],
        json!({"inputSources": [CLEAN_ORDERS], "outputSource": null, "append": null, "sourceType": "parquet"})
    );
    assert_eq!(
        (read["inputs"].clone(), read["output"].clone()),
        (json!([]), json!(0))
    );
    let response = app
        .get(&format!("/consumer/operations/{REPORT}:op-99"))
        .await;
    response.assert_problem(StatusCode::NOT_FOUND, "not-found", None);
}

#[rstest]
#[tokio::test]
async fn attribute_lineage_and_impact_follow_derivations_inside_the_plan(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = warehouse(pool).await;
    let attr = |n: u32| format!("{REPORT}:attr-{n}");
    let node = |n: u32, name: &str, origin: u32, through: &[u32]| json!({"_id": attr(n), "name": name, "originOpId": op(origin), "transOpIds": through.iter().map(|o| op(*o)).collect::<Vec<_>>()});
    let total = node(4, "total", 1, &[0]);
    let amount = node(1, "amount", 3, &[2]);
    let derivation = json!([{"source": attr(4), "target": attr(1)}]);
    let of_total = get_json(
        &app,
        &format!(
            "/consumer/attribute-lineage-and-impact?attributeId={}",
            attr(4)
        ),
    )
    .await;
    assert_eq!(
        of_total,
        json!({"lineage": {"nodes": [total, amount], "edges": derivation},
               "impact": {"nodes": [total], "edges": []}})
    );
    let uri = format!(
        "/consumer/attribute-lineage-and-impact?attributeId={}&execId={REPORT}",
        attr(1)
    );
    let of_amount = get_json(&app, &uri).await;
    assert_eq!(
        of_amount,
        json!({"lineage": null, "impact": {"nodes": [amount, total], "edges": derivation}})
    );
    let missing = app.get("/consumer/attribute-lineage-and-impact").await;
    missing.assert_problem(
        StatusCode::BAD_REQUEST,
        "invalid-parameter",
        Some("attributeId"),
    );
    let unknown = app
        .get(&format!(
            "/consumer/attribute-lineage-and-impact?attributeId={REPORT}:attr-99"
        ))
        .await;
    unknown.assert_problem(StatusCode::NOT_FOUND, "not-found", None);
}

/// The `_id`s of an overview's nodes, and its edges as (source, target).
fn overview_graph(overview: &Value) -> (BTreeSet<String>, BTreeSet<(String, String)>) {
    let graph = &overview["graph"];
    let nodes = strings(&graph["nodes"], "_id").into_iter().collect();
    let edges = graph["edges"].as_array().unwrap().iter();
    let edges = edges.map(|e| {
        (
            e["source"].as_str().unwrap().to_owned(),
            e["target"].as_str().unwrap().to_owned(),
        )
    });
    (nodes, edges.collect())
}

fn set<const N: usize>(items: [String; N]) -> BTreeSet<String> {
    items.into_iter().collect()
}

/// The edges of a run of `plan` reading `reads` and writing `write`.
fn run_edges(plan: &str, reads: &[&str], write: &str) -> Vec<(String, String)> {
    let mut edges: Vec<(String, String)> = reads.iter().map(|r| (ds(r), plan.to_owned())).collect();
    edges.push((plan.to_owned(), ds(write)));
    edges
}

async fn overview(app: &TestApp, kind: &str, event: &str, depth: Option<u32>) -> Value {
    let depth = depth.map_or_else(String::new, |d| format!("&maxDepth={d}"));
    get_json(
        app,
        &format!("/consumer/{kind}-overview?eventId={}{depth}", encode(event)),
    )
    .await
}

#[rstest]
#[tokio::test]
async fn lineage_overview_follows_the_last_overwrite_before_the_read_and_the_appends_after_it(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = warehouse(pool).await;
    // At t8 the last successful overwrite of clean orders is t2's (t6's failed): t2's, and
    // the appends at t3, t4 and t7, are what the report read.
    let at8 = overview(&app, "lineage", &event_id(REPORT, 8), None).await;
    assert_eq!(keys(&at8), ["graph", "info"]);
    assert_eq!(
        at8["info"],
        json!({"timestamp": t(8), "applicationId": "app-8", "targetDataSourceId": ds(REPORT_DS)})
    );
    assert_eq!(
        (
            at8["graph"]["depthRequested"].clone(),
            at8["graph"]["depthComputed"].clone()
        ),
        (json!(5), json!(2))
    );
    let (nodes, edges) = overview_graph(&at8);
    let everything = set([
        REPORT.into(),
        ORDERS.into(),
        DELTA.into(),
        CUSTOMERS.into(),
        ds(REPORT_DS),
        ds(CLEAN_ORDERS),
        ds(CLEAN_CUSTOMERS),
        ds(RAW_ORDERS),
        ds(RAW_DELTA),
        ds(CRM),
    ]);
    assert_eq!(nodes, everything);
    let expected: BTreeSet<_> = [
        run_edges(REPORT, &[CLEAN_ORDERS, CLEAN_CUSTOMERS], REPORT_DS),
        run_edges(ORDERS, &[RAW_ORDERS], CLEAN_ORDERS),
        run_edges(DELTA, &[RAW_DELTA], CLEAN_ORDERS),
        run_edges(CUSTOMERS, &[CRM], CLEAN_CUSTOMERS),
    ]
    .concat()
    .into_iter()
    .collect();
    assert_eq!(edges, expected);
    // At t10 the overwrite at t9 hides every earlier append: the delta job drops out.
    let at10 = overview(&app, "lineage", &event_id(REPORT, 10), None).await;
    let (nodes, _) = overview_graph(&at10);
    let without_delta: BTreeSet<String> = everything
        .iter()
        .filter(|n| !n.contains(DELTA) && !n.ends_with("orders_delta"))
        .cloned()
        .collect();
    assert_eq!(nodes, without_delta);
    assert_eq!(at10["graph"]["depthComputed"], 2);
}

#[rstest]
#[tokio::test]
async fn lineage_overview_depth_counts_executions_and_renders_zero_as_minus_one(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = warehouse(pool).await;
    let export = event_id(EXPORT, 11);
    let full = overview(&app, "lineage", &export, Some(10)).await;
    assert_eq!(
        (
            full["graph"]["depthRequested"].clone(),
            full["graph"]["depthComputed"].clone()
        ),
        (json!(10), json!(3))
    );
    let two = overview(&app, "lineage", &export, Some(2)).await;
    assert_eq!(two["graph"]["depthComputed"], 2);
    let (nodes, _) = overview_graph(&two);
    assert_eq!(
        nodes,
        set([
            EXPORT.into(),
            REPORT.into(),
            ds(EXPORT_DS),
            ds(REPORT_DS),
            ds(CLEAN_ORDERS),
            ds(CLEAN_CUSTOMERS)
        ])
    );
    let one = overview(&app, "lineage", &export, Some(1)).await;
    assert_eq!(
        overview_graph(&one).0,
        set([EXPORT.into(), ds(EXPORT_DS), ds(REPORT_DS)])
    );
    assert_eq!(one["graph"]["depthComputed"], 1);
    let zero = overview(&app, "lineage", &export, Some(0)).await;
    assert_eq!(zero["graph"]["depthComputed"], -1);
    assert_eq!(
        zero["graph"]["nodes"],
        json!([{"_id": ds(EXPORT_DS), "_type": "DataSourceNode", "name": EXPORT_DS}])
    );
    assert_eq!(zero["graph"]["edges"], json!([]));
    let execution = one["graph"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["_id"] == EXPORT)
        .unwrap();
    assert_eq!(
        *execution,
        json!({"_id": EXPORT, "_type": "ExecutionNode", "name": "export",
               "systemInfo": {"name": "spark", "version": "3.5.0"}, "agentInfo": {"name": "spline", "version": "2.2.1"}})
    );
}

#[rstest]
#[tokio::test]
async fn impact_overview_reaches_the_readers_that_saw_the_write_until_the_next_overwrite(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = warehouse(pool).await;
    // The t2 overwrite is read at t5 and t8 (t6's overwrite failed); t9's overwrite ends it,
    // and the report's own overwrites keep t11's export away.
    let from2 = overview(&app, "impact", &event_id(ORDERS, 2), None).await;
    assert_eq!(from2["info"]["targetDataSourceId"], ds(CLEAN_ORDERS));
    assert_eq!(from2["graph"]["depthComputed"], 2);
    let (nodes, edges) = overview_graph(&from2);
    assert_eq!(
        nodes,
        set([
            ORDERS.into(),
            REPORT.into(),
            ds(CLEAN_ORDERS),
            ds(RAW_ORDERS),
            ds(CLEAN_CUSTOMERS),
            ds(REPORT_DS)
        ])
    );
    assert!(
        edges.contains(&(ds(CLEAN_ORDERS), REPORT.to_owned())),
        "{edges:?}"
    );
    let from9 = overview(&app, "impact", &event_id(ORDERS, 9), None).await;
    assert_eq!(from9["graph"]["depthComputed"], 3);
    assert!(overview_graph(&from9).0.contains(EXPORT));
    // An append is seen by the same readers as the overwrite before it.
    let from3 = overview(&app, "impact", &event_id(DELTA, 3), None).await;
    assert!(overview_graph(&from3).0.contains(REPORT));
    // A failed run wrote nothing anyone read.
    let failed = overview(&app, "impact", &event_id(ORDERS, 6), None).await;
    assert_eq!(failed["graph"]["depthComputed"], 1);
    assert_eq!(
        overview_graph(&failed).0,
        set([ORDERS.into(), ds(CLEAN_ORDERS), ds(RAW_ORDERS)])
    );
}

#[rstest]
#[tokio::test]
async fn overviews_answer_404_for_unknown_events_and_400_for_bad_parameters(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = warehouse(pool).await;
    for kind in ["lineage", "impact"] {
        let path = format!("/consumer/{kind}-overview");
        let unknown = app.get(&format!("{path}?eventId={REPORT}:zzz")).await;
        unknown.assert_problem(StatusCode::NOT_FOUND, "not-found", None);
        app.get(&path).await.assert_problem(
            StatusCode::BAD_REQUEST,
            "invalid-parameter",
            Some("eventId"),
        );
        let negative = app
            .get(&format!(
                "{path}?eventId={}&maxDepth=-1",
                event_id(REPORT, 8)
            ))
            .await;
        negative.assert_problem(
            StatusCode::BAD_REQUEST,
            "invalid-parameter",
            Some("maxDepth"),
        );
    }
}

#[rstest]
#[tokio::test]
async fn labels_list_the_names_and_values_on_plans_and_events(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = warehouse(pool).await;
    assert_eq!(
        get_json(&app, "/consumer/labels/names").await,
        json!(["env", "team"])
    );
    assert_eq!(
        get_json(&app, "/consumer/labels/names?search=EN").await,
        json!(["env"])
    );
    assert_eq!(
        get_json(&app, "/consumer/labels/names?offset=1").await,
        json!(["team"])
    );
    assert_eq!(
        get_json(&app, "/consumer/labels/names?length=1").await,
        json!(["env"])
    );
    assert_eq!(
        get_json(&app, "/consumer/labels/names?length=-1").await,
        json!(["env", "team"])
    );
    assert_eq!(
        get_json(&app, "/consumer/labels/names/team/values").await,
        json!(["finance", "sales"])
    );
    assert_eq!(
        get_json(&app, "/consumer/labels/names/env/values?search=pro").await,
        json!(["prod"])
    );
    assert_eq!(
        get_json(&app, "/consumer/labels/names/nope/values").await,
        json!([])
    );
    let response = app.get("/consumer/labels/names?offset=-1").await;
    response.assert_problem(StatusCode::BAD_REQUEST, "invalid-parameter", Some("offset"));
}

#[rstest]
#[tokio::test]
async fn about_answers_version_liveness_and_readiness_that_follows_the_database(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    let version = get_json(&app, "/about/version").await;
    assert_eq!(
        version,
        json!({"build": {"name": "headwater", "version": env!("CARGO_PKG_VERSION")}})
    );
    assert_eq!(app.get("/about/liveness").await.status, StatusCode::OK);
    assert_eq!(app.get("/about/readiness").await.status, StatusCode::OK);
    app.db.close().await;
    let down = app.get("/about/readiness").await;
    down.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "unavailable", None);
    assert_eq!(app.get("/about/liveness").await.status, StatusCode::OK);
}

/// The Spline UI runs in the browser on its own origin, so it needs CORS as Spline grants it.
#[rstest]
#[tokio::test]
async fn browsers_may_read_the_consumer_api_from_any_origin(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = warehouse(pool).await;
    let read = app.get("/consumer/execution-events").await;
    assert_eq!(read.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    let missing = app.get("/consumer/operations/nope").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    let preflight = axum::http::Request::builder()
        .method("OPTIONS")
        .uri("/consumer/lineage-overview?eventId=x")
        .header(header::ORIGIN, "http://ui.example:9090")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
        .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "x-spline-timeout")
        .body(axum::body::Body::empty())
        .unwrap();
    let answer = app.request(preflight).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    // The consumer API only reads: writes from other origins are off by default.
    assert_eq!(
        answer.headers[header::ACCESS_CONTROL_ALLOW_METHODS],
        "GET,HEAD"
    );
    assert_eq!(
        answer.headers[header::ACCESS_CONTROL_ALLOW_HEADERS],
        "x-spline-timeout"
    );
}

#[test]
fn every_consumer_endpoint_is_in_the_openapi_document_with_its_operation_id() {
    let doc = serde_json::to_value(headwater::http::api_doc()).unwrap();
    for (path, id) in [
        (
            "/consumer/execution-events",
            "spline.consumer.executionEvents.list",
        ),
        ("/consumer/data-sources", "spline.consumer.dataSources.list"),
        (
            "/consumer/execution-plans",
            "spline.consumer.executionPlans.list",
        ),
        (
            "/consumer/execution-plans/{planId}",
            "spline.consumer.executionPlans.get",
        ),
        (
            "/consumer/execution-plans/{planId}/write-op",
            "spline.consumer.executionPlans.writeOperation",
        ),
        (
            "/consumer/execution-plans/{planId}/data-sources",
            "spline.consumer.executionPlans.dataSources",
        ),
        (
            "/consumer/lineage-detailed",
            "spline.consumer.lineageDetailed.get",
        ),
        (
            "/consumer/lineage-overview",
            "spline.consumer.lineageOverview.get",
        ),
        (
            "/consumer/impact-overview",
            "spline.consumer.impactOverview.get",
        ),
        (
            "/consumer/operations/{operationId}",
            "spline.consumer.operations.get",
        ),
        (
            "/consumer/attribute-lineage-and-impact",
            "spline.consumer.attributeLineageAndImpact.get",
        ),
        ("/consumer/labels/names", "spline.consumer.labels.names"),
        (
            "/consumer/labels/names/{labelName}/values",
            "spline.consumer.labels.values",
        ),
        ("/about/version", "spline.about.version"),
        ("/about/liveness", "spline.about.liveness"),
        ("/about/readiness", "spline.about.readiness"),
    ] {
        assert_eq!(doc["paths"][path]["get"]["operationId"], id, "{path}");
    }
}

/// The captured answers of a Spline server (OpenMetadata's Spline connector test data).
fn captured() -> Value {
    let path = data_path("spline/consumer-responses/openmetadata_spline_dataset.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

const CAPTURED_PLAN: &str = "3f784e72-5bf7-5704-8828-ae8464fe915b";
const CAPTURED_JDBC: &str = "jdbc:postgresql://localhost:5432/postgres?sslmode=disable";

/// The plan behind the capture's `lineage-detailed`, as Spline agent 1.1.0 on Spark 3.3.2
/// sent it: two JDBC reads → Union → Filter → Project → SaveIntoDataSourceCommand.
fn captured_plan(data_types: &Value) -> Value {
    let attr = |n: u32, name: &str| {
        let t = if name == "id" {
            "e63adadc-648a-56a0-9424-3289858cf0bb"
        } else {
            "75fe27b9-9a00-5c7d-966f-33ba32333133"
        };
        json!({"id": format!("attr-{n}"), "name": name, "dataType": t})
    };
    let read = |id: &str, table: &str, output: [&str; 2]| {
        json!({"id": id, "name": "LogicalRelation", "inputSources": [format!("{CAPTURED_JDBC}:{table}")],
               "output": output, "params": {"table": table}, "extra": {"sourceType": "jdbc"}})
    };
    json!({
        "id": CAPTURED_PLAN, "name": "jdbc postgres ssl app",
        "operations": {
            "write": {"id": "op-0", "name": "SaveIntoDataSourceCommand", "childIds": ["op-1"],
                      "outputSource": format!("{CAPTURED_JDBC}:spline_test.filter"), "append": true,
                      "extra": {"destinationType": "jdbc"}},
            "reads": [read("op-4", "spline_demo.start", ["attr-0", "attr-1"]),
                      read("op-5", "spline_demo.destination", ["attr-2", "attr-3"])],
            "other": [
                {"id": "op-1", "name": "Project", "childIds": ["op-2"], "output": ["attr-4", "attr-5"],
                 "params": {"projectList": [{"__attrId": "attr-4"}, {"__attrId": "attr-5"}]}},
                {"id": "op-2", "name": "Filter", "childIds": ["op-3"]},
                {"id": "op-3", "name": "Union", "childIds": ["op-4", "op-5"], "output": ["attr-4", "attr-5"]}
            ]
        },
        "attributes": [attr(0, "id"), attr(1, "sample"), attr(2, "id"), attr(3, "sample"),
                       {"id": "attr-4", "name": "id", "dataType": "e63adadc-648a-56a0-9424-3289858cf0bb",
                        "childRefs": [{"__attrId": "attr-0"}, {"__attrId": "attr-2"}]},
                       {"id": "attr-5", "name": "sample", "dataType": "75fe27b9-9a00-5c7d-966f-33ba32333133",
                        "childRefs": [{"__attrId": "attr-1"}, {"__attrId": "attr-3"}]}],
        "expressions": {},
        "systemInfo": {"name": "spark", "version": "3.3.2"},
        "agentInfo": {"name": "spline", "version": "1.1.0"},
        "extraInfo": {"appName": "jdbc postgres ssl app", "dataTypes": data_types}
    })
}

/// The capture's other event: a Databricks notebook appending to a Hive table.
fn captured_databricks_plan() -> Value {
    json!({
        "id": "96976f56-9fe3-5bcc-a3e7-ac28781842c9", "name": "databricks shell",
        "operations": {"write": {"id": "op-0", "name": "InsertIntoHadoopFsRelationCommand", "childIds": [],
                                 "outputSource": "dbfs:/user/hive/warehouse/table3", "append": true,
                                 "extra": {"destinationType": "jdbc"}}},
        "systemInfo": {"name": "spark", "version": "3.3.2"},
        "agentInfo": {"name": "spline", "version": "1.1.0"},
        "extraInfo": {"appName": "databricks shell"}
    })
}

/// Asserts `actual` holds every field of `expected` with an equal value, numbers compared as
/// numbers (the capture renders `durationNs` as `8.101352417E9`).
#[track_caller]
fn assert_holds(actual: &Value, expected: &Value, path: &str) {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => {
            for (key, value) in e {
                let found = a
                    .get(key)
                    .unwrap_or_else(|| panic!("{path}.{key} is missing"));
                assert_holds(found, value, &format!("{path}.{key}"));
            }
        }
        (Value::Array(a), Value::Array(e)) => {
            assert_eq!(a.len(), e.len(), "{path} length");
            for (i, (x, y)) in a.iter().zip(e).enumerate() {
                assert_holds(x, y, &format!("{path}[{i}]"));
            }
        }
        (Value::Number(a), Value::Number(e)) => assert_eq!(a.as_f64(), e.as_f64(), "{path}"),
        _ => assert_eq!(actual, expected, "{path}"),
    }
}

fn sort_by_id(list: &mut Value) {
    list.as_array_mut()
        .unwrap()
        .sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
}

#[rstest]
#[tokio::test]
async fn the_captured_spline_answers_are_reproduced_from_the_plans_behind_them(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    let captured = captured();
    let mut expected_plan = captured["lineage-detailed"].clone();
    store_plan(
        &app,
        &captured_plan(&expected_plan["executionPlan"]["extra"]["dataTypes"]),
    )
    .await;
    store_plan(&app, &captured_databricks_plan()).await;
    let events = [
        json!({"planId": CAPTURED_PLAN, "timestamp": 1684226827008_i64, "durationNs": 8101352417_i64,
               "extra": {"appId": "local-1684226801003"}}),
        json!({"planId": "96976f56-9fe3-5bcc-a3e7-ac28781842c9", "timestamp": 1684222269822_i64,
               "durationNs": 10835231042_i64, "extra": {"appId": "local-1684222240845"}}),
    ];
    store_spline_events(&app, &json!(events)).await;

    let page = get_json(&app, "/consumer/execution-events").await;
    assert_holds(&page, &captured["execution-events"], "execution-events");
    for item in page["items"].as_array().unwrap() {
        // Spline 1.0 added `error`, `extra` and `labels` to the 0.7 fields the capture has.
        assert_eq!(keys(item), EVENT_FIELDS);
    }

    let mut detailed = get_json(
        &app,
        &format!("/consumer/lineage-detailed?execId={CAPTURED_PLAN}"),
    )
    .await;
    // The capture lists attributes in ArangoDB's order, and comes from a 0.7 server, which
    // rendered graph nodes' `properties` as null where Spline 1.0 renders `{}`.
    sort_by_id(&mut detailed["executionPlan"]["extra"]["attributes"]);
    sort_by_id(&mut expected_plan["executionPlan"]["extra"]["attributes"]);
    for node in expected_plan["graph"]["nodes"].as_array_mut().unwrap() {
        node["properties"] = json!({});
    }
    assert_eq!(detailed, expected_plan);
}
