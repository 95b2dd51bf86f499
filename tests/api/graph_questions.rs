//! The graph questions users ask, answered over graphs built from Spline plans and OpenLineage
//! events with exact expected results: column lineage through a join and an aggregate and on
//! across formats, impact of a dataset and of a column, time travel across a change of inputs,
//! paths through three jobs, cycles and dangling datasets, filters and bounds on lineage, and
//! export as DOT (rendered by Graphviz), Mermaid and GraphML.

use std::io::Write;
use std::process::{Command, Stdio};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};

use rstest::rstest;

use crate::helpers::{Backend, Postgres, Sqlite, TestDb};
use crate::helpers::{
    TestApp, TestResponse, Triple, ds, edge_triples, encode, get_json, minimal_plan, node_keys,
    plan_id, send_event, sorted, store_plan, triple,
};

const RUN_URL: &str = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent";
const PRODUCER: &str = "https://example.com/headwater-tests/graph-questions";

// ---------------------------------------------------------------------------------------------
// Plumbing
// ---------------------------------------------------------------------------------------------

fn job(n: u32) -> String {
    format!("job:{}", plan_id(n))
}

fn field(uri: &str, name: &str) -> String {
    format!("field:{uri}#{name}")
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// GETs `uri` with an `Accept` header.
async fn get_accepting(app: &TestApp, uri: &str, accept: &str) -> TestResponse {
    let request = Request::get(uri).header(header::ACCEPT, accept);
    app.request(request.body(Body::empty()).unwrap()).await
}

async fn lineage(app: &TestApp, query: &str) -> Value {
    get_json(app, &format!("/api/v1/graph/lineage?{query}")).await
}

async fn column_lineage(app: &TestApp, query: &str) -> Value {
    get_json(app, &format!("/api/v1/graph/column-lineage?{query}")).await
}

/// `node=<key>` followed by `rest`, the key percent-encoded.
fn on(key: &str, rest: &str) -> String {
    format!("node={}{rest}", encode(key))
}

fn content_type(response: &TestResponse) -> &str {
    let value = response.headers.get(header::CONTENT_TYPE);
    value.and_then(|v| v.to_str().ok()).unwrap_or_default()
}

/// A minimal plan `n`: the write of `output` fed by one read of `inputs` producing `amount`.
fn simple_plan(n: u32, inputs: &[&str], output: &str) -> Value {
    minimal_plan(&plan_id(n), inputs, output, "amount")
}

fn ol_dataset(namespace: &str, name: &str) -> Value {
    json!({"namespace": namespace, "name": name})
}

/// A COMPLETE RunEvent of job `namespace/name` at `time`, one run per job and time.
fn ol_event(job: &str, time: &str, inputs: Vec<Value>, outputs: Vec<Value>) -> Value {
    let (namespace, name) = job.split_once('/').expect("job is namespace/name");
    json!({
        "eventTime": time,
        "eventType": "COMPLETE",
        "producer": PRODUCER,
        "schemaURL": RUN_URL,
        "run": {"runId": format!("{job}@{time}")},
        "job": {"namespace": namespace, "name": name},
        "inputs": inputs,
        "outputs": outputs
    })
}

fn edges_of(answer: &Value) -> Vec<Triple> {
    sorted(edge_triples(answer))
}

/// Keys of the nodes and edge triples of a lineage answer.
#[track_caller]
fn assert_graph(answer: &Value, nodes: &[String], edges: &[Triple]) {
    assert_eq!(node_keys(answer), sorted(nodes.to_vec()), "{answer:#}");
    assert_eq!(edges_of(answer), sorted(edges.to_vec()), "{answer:#}");
}

/// (source, target, expression, transformations) of each edge of a column-lineage answer.
fn derivations(answer: &Value) -> Vec<(String, String, Value, Value)> {
    let edges = answer["edges"].as_array().expect("edges");
    let edge = |e: &Value| {
        let text = |k: &str| e[k].as_str().expect("endpoint").to_owned();
        (
            text("source"),
            text("target"),
            e["expression"].clone(),
            e["transformations"].clone(),
        )
    };
    edges.iter().map(edge).collect()
}

/// Asserts the column keys (in key order) of a column-lineage answer, and each column's
/// `dataset` and `name` against its key.
#[track_caller]
fn assert_columns(answer: &Value, expected: &[String]) {
    assert_eq!(node_keys(answer), expected, "{answer:#}");
    for column in answer["nodes"].as_array().unwrap() {
        let key = column["key"].as_str().unwrap();
        let (uri, name) = key["field:".len()..].rsplit_once('#').unwrap();
        assert_eq!(column["dataset"], ds(uri), "{column}");
        assert_eq!(column["name"], name, "{column}");
    }
}

// ---------------------------------------------------------------------------------------------
// A column through a join and an aggregate, then on into an OpenLineage job
// ---------------------------------------------------------------------------------------------

const SHOP: &str = "s3://shop";
const ORDERS: &str = "s3://shop/orders";
const CUSTOMERS: &str = "s3://shop/customers";
const REVENUE: &str = "s3://shop/revenue";
const TOP: &str = "s3://shop/top_customers";
const REPORTS_JOB: &str = "job:reports/top_customers";
const SUM_TOTAL: &str = "sum(amount) AS total";

/// Plan 1: `orders` joined with `customers` on the customer id, then `sum(amount) AS total`
/// grouped by `name`, written to `revenue`.
fn join_plan() -> Value {
    json!({
        "id": plan_id(1),
        "name": "revenue by customer",
        "operations": {
            "write": {"id": "op-0", "name": "InsertIntoHadoopFsRelationCommand", "outputSource": REVENUE,
                      "append": false, "childIds": ["op-4"]},
            "reads": [
                {"id": "op-1", "name": "LogicalRelation", "inputSources": [ORDERS],
                 "output": ["a-order-id", "a-customer-id", "a-amount"]},
                {"id": "op-2", "name": "LogicalRelation", "inputSources": [CUSTOMERS],
                 "output": ["a-id", "a-name"]}
            ],
            "other": [
                {"id": "op-3", "name": "Join", "childIds": ["op-1", "op-2"],
                 "output": ["a-order-id", "a-customer-id", "a-amount", "a-id", "a-name"],
                 "params": {"joinType": "INNER", "condition": {"__exprId": "e-on"}}},
                {"id": "op-4", "name": "Aggregate", "childIds": ["op-3"], "output": ["a-name", "a-total"],
                 "params": {"groupingExpressions": [{"__attrId": "a-name"}]}}
            ]
        },
        "attributes": [
            {"id": "a-order-id", "name": "id"},
            {"id": "a-customer-id", "name": "customer_id"},
            {"id": "a-amount", "name": "amount"},
            {"id": "a-id", "name": "id"},
            {"id": "a-name", "name": "name"},
            {"id": "a-total", "name": "total", "childRefs": [{"__exprId": "e-total"}]}
        ],
        "expressions": {"functions": [
            {"id": "e-total", "name": "total", "childRefs": [{"__exprId": "e-sum"}],
             "extra": {"_typeHint": "expr.Alias"}},
            {"id": "e-sum", "name": "sum", "childRefs": [{"__attrId": "a-amount"}],
             "extra": {"_typeHint": "expr.AggregateExpression"}},
            {"id": "e-on", "name": "equalto", "childRefs": [{"__attrId": "a-customer-id"}, {"__attrId": "a-id"}],
             "extra": {"_typeHint": "expr.Binary", "symbol": "="}}
        ]},
        "systemInfo": {"name": "spark", "version": "3.5.0"},
        "agentInfo": {"name": "spline", "version": "2.2.0"}
    })
}

fn identity() -> Value {
    json!([{"type": "DIRECT", "subtype": "IDENTITY"}])
}

fn rounding() -> Value {
    json!([{"type": "DIRECT", "subtype": "TRANSFORMATION", "description": "round(total, 2)"}])
}

/// `reports/top_customers` reads `revenue` (as namespace and name) and writes `top_customers`:
/// `customer` is `revenue.name`, `revenue` is rounded `revenue.total`, and the rows are sorted
/// by `revenue.total`.
fn top_customers_event() -> Value {
    let input = |field: &str, t: Value| json!({"namespace": SHOP, "name": "revenue", "field": field, "transformations": t});
    let sort = json!([{"type": "INDIRECT", "subtype": "SORT"}]);
    let lineage = json!({
        "fields": {
            "customer": {"inputFields": [input("name", identity())]},
            "revenue": {"inputFields": [input("total", rounding())]}
        },
        "dataset": [input("total", sort)]
    });
    let schema = json!({"fields": [{"name": "name"}, {"name": "total"}]});
    let read = json!({"namespace": SHOP, "name": "revenue", "facets": {"schema": schema}});
    let write =
        json!({"namespace": SHOP, "name": "top_customers", "facets": {"columnLineage": lineage}});
    ol_event(
        "reports/top_customers",
        "2024-06-01T08:00:00Z",
        vec![read],
        vec![write],
    )
}

/// The join plan alone.
async fn join_graph(pool: TestDb) -> TestApp {
    let app = TestApp::new(pool);
    store_plan(&app, &join_plan()).await;
    app
}

/// The join plan and the OpenLineage job reading what it wrote.
async fn shop_graph(pool: TestDb) -> TestApp {
    let app = join_graph(pool).await;
    send_event(&app, &top_customers_event()).await;
    app
}

fn column_query(uri: &str, column: &str, rest: &str) -> String {
    format!("{}&column={column}{rest}", on(&ds(uri), ""))
}

/// The aggregated `total` derives from `orders.amount` alone, through the join, by the
/// rendered aggregate expression.
#[rstest]
#[tokio::test]
async fn an_aggregated_column_traces_back_through_the_join_to_its_source(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = join_graph(pool).await;
    let l = column_lineage(&app, &column_query(REVENUE, "total", "&direction=upstream")).await;
    assert_eq!(l["root"], field(REVENUE, "total"));
    assert_eq!(l["direction"], "upstream");
    assert_columns(&l, &[field(ORDERS, "amount"), field(REVENUE, "total")]);
    let expected = (
        field(ORDERS, "amount"),
        field(REVENUE, "total"),
        json!(SUM_TOTAL),
        Value::Null,
    );
    assert_eq!(derivations(&l), [expected]);
    assert_eq!(l["edges"][0]["properties"]["job"], job(1));
    assert_eq!(
        (l["depthReached"].clone(), l["truncated"].clone()),
        (json!(1), json!(false))
    );
}

/// The grouping column `customers.name` flows through the join and the aggregate unchanged.
#[rstest]
#[tokio::test]
async fn a_grouping_column_flows_downstream_through_the_join_unchanged(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = join_graph(pool).await;
    let l = column_lineage(&app, &column_query(CUSTOMERS, "name", "")).await;
    assert_eq!(l["direction"], "downstream");
    assert_columns(&l, &[field(CUSTOMERS, "name"), field(REVENUE, "name")]);
    let expected = (
        field(CUSTOMERS, "name"),
        field(REVENUE, "name"),
        Value::Null,
        Value::Null,
    );
    assert_eq!(derivations(&l), [expected]);
}

/// Join keys and columns the aggregate drops derive nothing in the written dataset.
#[rstest]
#[tokio::test]
async fn columns_the_aggregate_drops_derive_nothing(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let app = join_graph(pool).await;
    for (uri, column) in [(ORDERS, "customer_id"), (ORDERS, "id"), (CUSTOMERS, "id")] {
        let l = column_lineage(&app, &column_query(uri, column, "&direction=both")).await;
        assert_columns(&l, &[field(uri, column)]);
        assert_eq!(l["edges"], json!([]), "{uri}#{column}");
    }
}

/// Upstream of the OpenLineage job's column crosses into the Spline job that wrote its input.
#[rstest]
#[tokio::test]
async fn column_lineage_crosses_from_an_openlineage_job_into_a_spline_job(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = shop_graph(pool).await;
    let l = column_lineage(&app, &column_query(TOP, "revenue", "&direction=upstream")).await;
    assert_columns(
        &l,
        &[
            field(ORDERS, "amount"),
            field(REVENUE, "total"),
            field(TOP, "revenue"),
        ],
    );
    let expected = [
        (
            field(ORDERS, "amount"),
            field(REVENUE, "total"),
            json!(SUM_TOTAL),
            Value::Null,
        ),
        (
            field(REVENUE, "total"),
            field(TOP, "revenue"),
            Value::Null,
            rounding(),
        ),
    ];
    assert_eq!(derivations(&l), expected);
    assert_eq!(l["depthReached"], 2);
    assert_eq!(l["truncated"], false);
}

/// Downstream of a Spline source column reaches the OpenLineage job's output column.
#[rstest]
#[tokio::test]
async fn column_lineage_crosses_from_a_spline_job_into_an_openlineage_job(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = shop_graph(pool).await;
    let l = column_lineage(&app, &column_query(CUSTOMERS, "name", "")).await;
    let columns = [
        field(CUSTOMERS, "name"),
        field(REVENUE, "name"),
        field(TOP, "customer"),
    ];
    assert_columns(&l, &columns);
    let expected = [
        (
            field(CUSTOMERS, "name"),
            field(REVENUE, "name"),
            Value::Null,
            Value::Null,
        ),
        (
            field(REVENUE, "name"),
            field(TOP, "customer"),
            Value::Null,
            identity(),
        ),
    ];
    assert_eq!(derivations(&l), expected);
}

/// `both` from the middle column joins its upstream and downstream; `depth` cuts and says so.
#[rstest]
#[tokio::test]
async fn both_directions_and_depth_bound_column_lineage(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = shop_graph(pool).await;
    let both = column_lineage(&app, &column_query(REVENUE, "total", "&direction=both")).await;
    assert_columns(
        &both,
        &[
            field(ORDERS, "amount"),
            field(REVENUE, "total"),
            field(TOP, "revenue"),
        ],
    );
    assert_eq!(both["edges"].as_array().unwrap().len(), 2);
    let cut = column_lineage(
        &app,
        &column_query(TOP, "revenue", "&direction=upstream&depth=1"),
    )
    .await;
    assert_columns(&cut, &[field(REVENUE, "total"), field(TOP, "revenue")]);
    assert_eq!(
        (cut["depthReached"].clone(), cut["truncated"].clone()),
        (json!(1), json!(true))
    );
}

/// Unknown datasets and columns are 404; a job is not a dataset (400 at `node`).
#[rstest]
#[tokio::test]
async fn column_lineage_rejects_unknown_columns_and_non_datasets(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = shop_graph(pool).await;
    let base = "/api/v1/graph/column-lineage";
    let missing = [
        column_query("s3://shop/nowhere", "total", ""),
        column_query(REVENUE, "nothing", ""),
    ];
    for query in missing {
        let response = app.get(&format!("{base}?{query}")).await;
        response.assert_problem(StatusCode::NOT_FOUND, "not-found", None);
    }
    let response = app
        .get(&format!("{base}?{}&column=total", on(REPORTS_JOB, "")))
        .await;
    response.assert_problem(StatusCode::BAD_REQUEST, "invalid-parameter", Some("node"));
}

// ---------------------------------------------------------------------------------------------
// Impact
// ---------------------------------------------------------------------------------------------

/// (key, kind, namespace, hops) of each impacted item, in answer order.
fn impact_items(answer: &Value) -> Vec<(String, String, Value, u64)> {
    let items = answer["items"].as_array().expect("items");
    let item = |i: &Value| {
        let text = |k: &str| i[k].as_str().unwrap().to_owned();
        (
            text("key"),
            text("kind"),
            i["namespace"].clone(),
            i["hops"].as_u64().unwrap(),
        )
    };
    items.iter().map(item).collect()
}

fn impacted(
    key: &str,
    kind: &str,
    namespace: Option<&str>,
    hops: u64,
) -> (String, String, Value, u64) {
    (key.to_owned(), kind.to_owned(), json!(namespace), hops)
}

async fn impact(app: &TestApp, query: &str) -> Value {
    get_json(app, &format!("/api/v1/graph/impact?{query}")).await
}

/// A source dataset impacts both jobs and what they write, by process hops.
#[rstest]
#[tokio::test]
async fn the_impact_of_a_dataset_lists_jobs_and_datasets_by_hops(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = shop_graph(pool).await;
    let answer = impact(&app, &on(&ds(ORDERS), "")).await;
    assert_eq!(answer["root"], ds(ORDERS));
    let expected = [
        impacted(&ds(REVENUE), "dataset", Some(SHOP), 1),
        impacted(&job(1), "job", Some("spline"), 1),
        impacted(&ds(TOP), "dataset", Some(SHOP), 2),
        impacted(REPORTS_JOB, "job", Some("reports"), 2),
    ];
    assert_eq!(impact_items(&answer), expected);
    let summary = json!({"total": 4, "byKind": {"dataset": 2, "job": 2},
                         "byNamespace": {"reports": 1, "s3://shop": 2, "spline": 1}});
    assert_eq!(answer["summary"], summary);
    assert_eq!(answer["truncated"], false);
}

/// `depth` bounds the impact and says it was cut.
#[rstest]
#[tokio::test]
async fn the_impact_of_a_dataset_is_bounded_by_depth(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let app = shop_graph(pool).await;
    let answer = impact(&app, &on(&ds(ORDERS), "&depth=1")).await;
    let expected = [
        impacted(&ds(REVENUE), "dataset", Some(SHOP), 1),
        impacted(&job(1), "job", Some("spline"), 1),
    ];
    assert_eq!(impact_items(&answer), expected);
    assert_eq!(answer["truncated"], true);
    assert_eq!(answer["summary"]["total"], 2);
}

/// A column impacts the columns derived from it, the datasets owning them, and the dataset
/// it shapes as a whole, each once at its nearest hop.
#[rstest]
#[tokio::test]
async fn the_impact_of_a_column_lists_derived_columns_and_their_datasets(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = shop_graph(pool).await;
    let answer = impact(&app, &column_query(ORDERS, "amount", "")).await;
    assert_eq!(answer["root"], field(ORDERS, "amount"));
    let expected = [
        impacted(&ds(REVENUE), "dataset", Some(SHOP), 1),
        impacted(&field(REVENUE, "total"), "field", None, 1),
        impacted(&ds(TOP), "dataset", Some(SHOP), 2),
        impacted(&field(TOP, "revenue"), "field", None, 2),
    ];
    assert_eq!(impact_items(&answer), expected);
    let summary = json!({"total": 4, "byKind": {"dataset": 2, "field": 2},
                         "byNamespace": {"(none)": 2, "s3://shop": 2}});
    assert_eq!(answer["summary"], summary);
}

/// A column nothing derives from impacts nothing.
#[rstest]
#[tokio::test]
async fn a_column_nothing_derives_from_impacts_nothing(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = shop_graph(pool).await;
    let answer = impact(&app, &column_query(ORDERS, "customer_id", "")).await;
    assert_eq!(answer["items"], json!([]));
    assert_eq!(
        answer["summary"],
        json!({"total": 0, "byKind": {}, "byNamespace": {}})
    );
}

// ---------------------------------------------------------------------------------------------
// Time travel
// ---------------------------------------------------------------------------------------------

const WH: &str = "s3://warehouse";
const A: &str = "s3://warehouse/a";
const B: &str = "s3://warehouse/b";
const REPORT: &str = "s3://warehouse/report";
const ETL_REPORT: &str = "job:etl/report";
const DAY_2: &str = "2024-01-02T12:00:00Z";
const DAY_5: &str = "2024-01-05T12:00:00Z";
const BEFORE: &str = "2023-12-31T00:00:00Z";

/// Day `d` of January 2024 at midnight.
fn day(d: u32) -> String {
    format!("2024-01-{d:02}T00:00:00Z")
}

/// One run of `etl/report` on day `d`: reads `input.column`, writes `report.total` from it.
fn report_event(d: u32, input: &str, column: &str) -> Value {
    let from = json!({"namespace": WH, "name": input, "field": column});
    let lineage = json!({"fields": {"total": {"inputFields": [from]}}});
    let output = json!({"namespace": WH, "name": "report", "facets": {"columnLineage": lineage}});
    ol_event(
        "etl/report",
        &day(d),
        vec![ol_dataset(WH, input)],
        vec![output],
    )
}

/// `etl/report` reads `a.x` on days 1–3 and `b.y` on days 4–5.
async fn switching_graph(pool: TestDb) -> TestApp {
    let app = TestApp::new(pool);
    for d in 1..=5 {
        let (input, column) = if d <= 3 { ("a", "x") } else { ("b", "y") };
        send_event(&app, &report_event(d, input, column)).await;
    }
    app
}

fn as_of(at: &str) -> String {
    format!("&asOf={}", encode(at))
}

/// The job's lineage before and after it changed its inputs, and without `asOf`.
#[rstest]
#[tokio::test]
async fn lineage_as_of_shows_the_inputs_a_job_had_then(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = switching_graph(pool).await;
    let graph_with = |input: &str| {
        let edges = [
            triple(&ds(input), "input", ETL_REPORT),
            triple(ETL_REPORT, "output", &ds(REPORT)),
        ];
        (vec![ds(input), ds(REPORT), ETL_REPORT.to_owned()], edges)
    };
    for (at, input) in [(DAY_2, A), (DAY_5, B)] {
        let l = lineage(
            &app,
            &on(ETL_REPORT, &format!("&direction=both{}", as_of(at))),
        )
        .await;
        let (nodes, edges) = graph_with(input);
        assert_graph(&l, &nodes, &edges);
        assert_eq!(l["asOf"], at);
    }
    let now = lineage(&app, &on(ETL_REPORT, "&direction=both")).await;
    assert_eq!(
        node_keys(&now),
        [ds(A), ds(B), ds(REPORT), ETL_REPORT.to_owned()]
    );
    assert!(now.get("asOf").is_none(), "{now:#}");
}

/// Upstream of the written dataset, too, shows the input of the time; the old input has no
/// readers after the change.
#[rstest]
#[tokio::test]
async fn lineage_as_of_from_datasets_follows_the_change(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = switching_graph(pool).await;
    for (at, input) in [(DAY_2, A), (DAY_5, B)] {
        let l = lineage(
            &app,
            &on(&ds(REPORT), &format!("&direction=upstream{}", as_of(at))),
        )
        .await;
        assert_eq!(
            node_keys(&l),
            [ds(input), ds(REPORT), ETL_REPORT.to_owned()],
            "{at}"
        );
    }
    let old = lineage(&app, &on(&ds(A), &as_of(DAY_5))).await;
    assert_graph(&old, &[ds(A)], &[]);
}

/// Nodes not yet seen at `asOf` are 404.
#[rstest]
#[tokio::test]
async fn lineage_as_of_before_a_node_was_seen_is_not_found(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = switching_graph(pool).await;
    let early = [(ETL_REPORT.to_owned(), BEFORE), (ds(B), DAY_2)];
    for (key, at) in early {
        let response = app
            .get(&format!("/api/v1/graph/lineage?{}", on(&key, &as_of(at))))
            .await;
        response.assert_problem(StatusCode::NOT_FOUND, "not-found", None);
    }
}

/// Upstream of `report.total` as of `at`: asserts it is exactly `source` → `report.total`.
async fn assert_derivation_as_of(app: &TestApp, at: &str, source: String) {
    let rest = format!("&direction=upstream{}", as_of(at));
    let l = column_lineage(app, &column_query(REPORT, "total", &rest)).await;
    assert_columns(&l, &[source.clone(), field(REPORT, "total")]);
    let expected = (source, field(REPORT, "total"), Value::Null, Value::Null);
    assert_eq!(derivations(&l), [expected], "asOf {at}");
}

/// Before the job changed its inputs, the column derives from the old input only.
#[rstest]
#[tokio::test]
async fn column_lineage_as_of_before_the_change_shows_the_old_derivation(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = switching_graph(pool).await;
    assert_derivation_as_of(&app, DAY_2, field(A, "x")).await;
}

/// After the job changed its inputs, the column derives from the new input only.
#[rstest]
#[tokio::test]
async fn column_lineage_as_of_after_the_change_shows_only_the_new_derivation(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = switching_graph(pool).await;
    assert_derivation_as_of(&app, DAY_5, field(B, "y")).await;
}

/// Without `asOf` column lineage shows every derivation ever seen; before any, 404.
#[rstest]
#[tokio::test]
async fn column_lineage_without_as_of_shows_all_derivations(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = switching_graph(pool).await;
    let l = column_lineage(&app, &column_query(REPORT, "total", "&direction=upstream")).await;
    assert_columns(&l, &[field(A, "x"), field(B, "y"), field(REPORT, "total")]);
    let query = column_query(REPORT, "total", &as_of(BEFORE));
    let response = app
        .get(&format!("/api/v1/graph/column-lineage?{query}"))
        .await;
    response.assert_problem(StatusCode::NOT_FOUND, "not-found", None);
}

// ---------------------------------------------------------------------------------------------
// Paths
// ---------------------------------------------------------------------------------------------

fn lake(name: &str) -> String {
    format!("s3://lake/{name}")
}

/// `d1 → plan 11 → d2 → plan 12 → d3 → etl/step3 → d4`, and the shortcut
/// `d2 → etl/shortcut → d4`: Spline plans first, OpenLineage jobs after.
async fn paths_graph(pool: TestDb) -> TestApp {
    let app = TestApp::new(pool);
    store_plan(&app, &simple_plan(11, &[&lake("d1")], &lake("d2"))).await;
    store_plan(&app, &simple_plan(12, &[&lake("d2")], &lake("d3"))).await;
    let t = "2024-03-01T00:00:00Z";
    let step3 = ol_event(
        "etl/step3",
        t,
        vec![ol_dataset("s3://lake", "d3")],
        vec![ol_dataset("s3://lake", "d4")],
    );
    let shortcut = ol_event(
        "etl/shortcut",
        t,
        vec![ol_dataset("s3://lake", "d2")],
        vec![ol_dataset("s3://lake", "d4")],
    );
    send_event(&app, &step3).await;
    send_event(&app, &shortcut).await;
    app
}

fn long_path() -> Vec<String> {
    let (d1, d2, d3, d4) = (
        ds(&lake("d1")),
        ds(&lake("d2")),
        ds(&lake("d3")),
        ds(&lake("d4")),
    );
    vec![d1, job(11), d2, job(12), d3, "job:etl/step3".to_owned(), d4]
}

fn short_path() -> Vec<String> {
    let (d1, d2, d4) = (ds(&lake("d1")), ds(&lake("d2")), ds(&lake("d4")));
    vec![d1, job(11), d2, "job:etl/shortcut".to_owned(), d4]
}

fn path_query(from: &str, to: &str, rest: &str) -> String {
    format!(
        "/api/v1/graph/paths?from={}&to={}{rest}",
        encode(&ds(&lake(from))),
        encode(&ds(&lake(to)))
    )
}

/// Both paths from `d1` to `d4`, shortest first; the long one passes through three jobs.
#[rstest]
#[tokio::test]
async fn paths_through_three_jobs_and_a_shortcut_are_listed_shortest_first(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = paths_graph(pool).await;
    let answer = get_json(&app, &path_query("d1", "d4", "")).await;
    assert_eq!(
        (answer["from"].clone(), answer["to"].clone()),
        (json!(ds(&lake("d1"))), json!(ds(&lake("d4"))))
    );
    assert_eq!(answer["shortest"], json!(short_path()));
    assert_eq!(answer["paths"], json!([short_path(), long_path()]));
    assert_eq!(answer["truncated"], false);
}

/// `maxLength` drops longer paths; too short a bound finds none.
#[rstest]
#[tokio::test]
async fn max_length_bounds_the_paths_in_edges(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let app = paths_graph(pool).await;
    let answer = get_json(&app, &path_query("d1", "d4", "&maxLength=4")).await;
    assert_eq!(answer["shortest"], json!(short_path()));
    assert_eq!(answer["paths"], json!([short_path()]));
    let none = get_json(&app, &path_query("d1", "d4", "&maxLength=3")).await;
    assert_eq!(
        (none["shortest"].clone(), none["paths"].clone()),
        (json!([]), json!([]))
    );
}

/// `maxPaths=1` keeps the shortest path and says more exist.
#[rstest]
#[tokio::test]
async fn max_paths_keeps_the_shortest_and_flags_the_rest(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = paths_graph(pool).await;
    let answer = get_json(&app, &path_query("d1", "d4", "&maxPaths=1")).await;
    assert_eq!(answer["paths"], json!([short_path()]));
    assert_eq!(answer["shortest"], json!(short_path()));
    assert_eq!(answer["truncated"], true);
}

/// Against the flow of data there is no path: an empty answer, not an error.
#[rstest]
#[tokio::test]
async fn no_path_is_an_empty_answer(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let app = paths_graph(pool).await;
    let answer = get_json(&app, &path_query("d4", "d1", "")).await;
    assert_eq!(answer["shortest"], json!([]));
    assert_eq!(answer["paths"], json!([]));
    assert_eq!(answer["truncated"], false);
}

/// An unknown end is 404; out-of-range bounds are 400 at their parameter.
#[rstest]
#[tokio::test]
async fn paths_reject_unknown_nodes_and_bad_bounds(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let app = paths_graph(pool).await;
    for (from, to) in [("nowhere", "d4"), ("d1", "nowhere")] {
        let response = app.get(&path_query(from, to, "")).await;
        response.assert_problem(StatusCode::NOT_FOUND, "not-found", None);
    }
    let bad = [
        ("&maxPaths=0", "maxPaths"),
        ("&maxPaths=101", "maxPaths"),
        ("&maxLength=51", "maxLength"),
    ];
    for (param, path) in bad {
        let response = app.get(&path_query("d1", "d4", param)).await;
        response.assert_problem(StatusCode::BAD_REQUEST, "invalid-parameter", Some(path));
    }
}

// ---------------------------------------------------------------------------------------------
// Cycles and dangling datasets
// ---------------------------------------------------------------------------------------------

/// Two cycles: Spline plans 31 (`src_a`, `c1` → `c2`) and 32 (`c2` → `c1`); OpenLineage jobs
/// `loop/x` (`e1` → `e2`) and `loop/y` (`e2` → `e1`). `loop/z` (`src_b`, `c2` → `sink_a`) and
/// `loop/w` (`e2` → `sink_b`) hang off them.
async fn cycle_graph(pool: TestDb) -> TestApp {
    let app = TestApp::new(pool);
    store_plan(
        &app,
        &simple_plan(31, &[&lake("src_a"), &lake("c1")], &lake("c2")),
    )
    .await;
    store_plan(&app, &simple_plan(32, &[&lake("c2")], &lake("c1"))).await;
    let jobs = [
        ("loop/x", &["e1"][..], "e2"),
        ("loop/y", &["e2"], "e1"),
        ("loop/z", &["src_b", "c2"], "sink_a"),
        ("loop/w", &["e2"], "sink_b"),
    ];
    for (job, inputs, output) in jobs {
        let inputs = inputs.iter().map(|i| ol_dataset("s3://lake", i)).collect();
        let event = ol_event(
            job,
            "2024-04-01T00:00:00Z",
            inputs,
            vec![ol_dataset("s3://lake", output)],
        );
        send_event(&app, &event).await;
    }
    app
}

fn lake_keys(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| ds(&lake(n))).collect()
}

fn spline_cycle() -> Vec<String> {
    let mut keys = lake_keys(&["c1", "c2"]);
    keys.extend([job(31), job(32)]);
    keys
}

fn ol_cycle() -> Vec<String> {
    let mut keys = lake_keys(&["e1", "e2"]);
    keys.extend(strings(&["job:loop/x", "job:loop/y"]));
    keys
}

/// Both cycles are listed as sorted keys, with the sources and the sinks.
#[rstest]
#[tokio::test]
async fn anomalies_list_cycles_sources_and_sinks(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let app = cycle_graph(pool).await;
    let answer = get_json(&app, "/api/v1/graph/anomalies").await;
    let expected = json!({
        "cycles": {"items": [spline_cycle(), ol_cycle()], "total": 2},
        "sources": {"items": lake_keys(&["src_a", "src_b"]), "total": 2},
        "sinks": {"items": lake_keys(&["sink_a", "sink_b"]), "total": 2}
    });
    assert_eq!(answer, expected);
}

/// Every list is paged by `limit` and `offset`, totals unchanged; a bad limit is 400.
#[rstest]
#[tokio::test]
async fn anomalies_are_paged(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let app = cycle_graph(pool).await;
    let answer = get_json(&app, "/api/v1/graph/anomalies?limit=1&offset=1").await;
    let expected = json!({
        "cycles": {"items": [ol_cycle()], "total": 2},
        "sources": {"items": lake_keys(&["src_b"]), "total": 2},
        "sinks": {"items": lake_keys(&["sink_b"]), "total": 2}
    });
    assert_eq!(answer, expected);
    let past = get_json(&app, "/api/v1/graph/anomalies?offset=5").await;
    assert_eq!(past["cycles"], json!({"items": [], "total": 2}));
    let response = app.get("/api/v1/graph/anomalies?limit=0").await;
    response.assert_problem(StatusCode::BAD_REQUEST, "invalid-parameter", Some("limit"));
}

/// Lineage around a cycle visits each node once and ends, at the greatest depth.
#[rstest]
#[tokio::test]
async fn lineage_over_a_cycle_terminates(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let app = cycle_graph(pool).await;
    let l = lineage(&app, &on(&ds(&lake("c1")), "&depth=50")).await;
    let mut nodes = lake_keys(&["c1", "c2", "sink_a"]);
    nodes.extend([job(31), job(32), "job:loop/z".to_owned()]);
    let (c1, c2, sink) = (ds(&lake("c1")), ds(&lake("c2")), ds(&lake("sink_a")));
    let edges = [
        triple(&c1, "input", &job(31)),
        triple(&job(31), "output", &c2),
        triple(&c2, "input", &job(32)),
        triple(&job(32), "output", &c1),
        triple(&c2, "input", "job:loop/z"),
        triple("job:loop/z", "output", &sink),
    ];
    assert_graph(&l, &nodes, &edges);
    assert_eq!(
        (l["depthReached"].clone(), l["truncated"].clone()),
        (json!(2), json!(false))
    );
    let both = lineage(&app, &on(&ds(&lake("e1")), "&direction=both&depth=50")).await;
    let mut around = lake_keys(&["e1", "e2", "sink_b"]);
    around.extend(strings(&["job:loop/w", "job:loop/x", "job:loop/y"]));
    assert_eq!(node_keys(&both), sorted(around));
}

// ---------------------------------------------------------------------------------------------
// Filters, bounds and collapsing
// ---------------------------------------------------------------------------------------------

const RAW: &str = "dataset:s3://raw/orders";
const CLEAN: &str = "dataset:s3://mart/orders_clean";
const BI_REPORT: &str = "dataset:s3://bi/report";
const ARCHIVE: &str = "dataset:s3://cold/orders";
const BI_JOB: &str = "job:bi/report";
const ARCHIVE_JOB: &str = "job:etl/archive";

/// Spline plan 21 (`s3://raw/orders` → `s3://mart/orders_clean`), OpenLineage `bi/report`
/// (`orders_clean` → `s3://bi/report`) and `etl/archive` (`s3://raw/orders` → `s3://cold/orders`).
async fn namespaces_graph(pool: TestDb) -> TestApp {
    let app = TestApp::new(pool);
    store_plan(
        &app,
        &simple_plan(21, &["s3://raw/orders"], "s3://mart/orders_clean"),
    )
    .await;
    let t = "2024-05-01T00:00:00Z";
    let bi = ol_event(
        "bi/report",
        t,
        vec![ol_dataset("s3://mart", "orders_clean")],
        vec![ol_dataset("s3://bi", "report")],
    );
    let archive = ol_event(
        "etl/archive",
        t,
        vec![ol_dataset("s3://raw", "orders")],
        vec![ol_dataset("s3://cold", "orders")],
    );
    send_event(&app, &bi).await;
    send_event(&app, &archive).await;
    app
}

fn all_edges() -> Vec<Triple> {
    vec![
        triple(RAW, "input", &job(21)),
        triple(&job(21), "output", CLEAN),
        triple(CLEAN, "input", BI_JOB),
        triple(BI_JOB, "output", BI_REPORT),
        triple(RAW, "input", ARCHIVE_JOB),
        triple(ARCHIVE_JOB, "output", ARCHIVE),
    ]
}

fn all_nodes() -> Vec<String> {
    let mut keys = strings(&[RAW, CLEAN, BI_REPORT, ARCHIVE, BI_JOB, ARCHIVE_JOB]);
    keys.push(job(21));
    keys
}

/// Downstream of `s3://raw/orders` with extra query parameters.
async fn from_raw(app: &TestApp, rest: &str) -> Value {
    lineage(app, &on(RAW, rest)).await
}

/// `kinds` keeps the listed kinds (and the root) and the edges between them.
#[rstest]
#[tokio::test]
async fn kinds_select_node_kinds(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let app = namespaces_graph(pool).await;
    let datasets = from_raw(&app, "&kinds=dataset").await;
    assert_graph(&datasets, &strings(&[RAW, CLEAN, BI_REPORT, ARCHIVE]), &[]);
    let jobs = from_raw(&app, "&kinds=job").await;
    let mut nodes = strings(&[RAW, BI_JOB, ARCHIVE_JOB]);
    nodes.push(job(21));
    assert_graph(
        &jobs,
        &nodes,
        &[
            triple(RAW, "input", &job(21)),
            triple(RAW, "input", ARCHIVE_JOB),
        ],
    );
    let both = from_raw(&app, "&kinds=dataset,job").await;
    assert_graph(&both, &all_nodes(), &all_edges());
    let response = app
        .get(&format!(
            "/api/v1/graph/lineage?{}",
            on(RAW, "&kinds=table")
        ))
        .await;
    response.assert_problem(StatusCode::BAD_REQUEST, "invalid-parameter", Some("kinds"));
}

/// `namespaces` keeps only nodes in the listed namespaces, and always the root.
#[rstest]
#[tokio::test]
async fn namespaces_keep_only_the_listed_namespaces(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let app = namespaces_graph(pool).await;
    let list = encode("s3://raw,s3://mart,spline");
    let kept = from_raw(&app, &format!("&namespaces={list}")).await;
    let mut nodes = strings(&[RAW, CLEAN]);
    nodes.push(job(21));
    assert_graph(
        &kept,
        &nodes,
        &[
            triple(RAW, "input", &job(21)),
            triple(&job(21), "output", CLEAN),
        ],
    );
    let other = from_raw(&app, &format!("&namespaces={}", encode("s3://bi"))).await;
    assert_graph(&other, &strings(&[RAW, BI_REPORT]), &[]);
}

/// `excludeNamespaces` drops the listed namespaces but never the root.
#[rstest]
#[tokio::test]
async fn exclude_namespaces_drops_the_listed_namespaces_but_not_the_root(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = namespaces_graph(pool).await;
    let dropped = from_raw(
        &app,
        &format!("&excludeNamespaces={}", encode("bi,s3://cold")),
    )
    .await;
    let mut nodes = strings(&[RAW, CLEAN, BI_REPORT, ARCHIVE_JOB]);
    nodes.push(job(21));
    let edges = [
        triple(RAW, "input", &job(21)),
        triple(&job(21), "output", CLEAN),
        triple(RAW, "input", ARCHIVE_JOB),
    ];
    assert_graph(&dropped, &nodes, &edges);
    let root = from_raw(&app, &format!("&excludeNamespaces={}", encode("s3://raw"))).await;
    assert_graph(&root, &all_nodes(), &all_edges());
    let combined = from_raw(&app, "&kinds=job&excludeNamespaces=etl").await;
    let mut nodes = strings(&[RAW, BI_JOB]);
    nodes.push(job(21));
    assert_graph(&combined, &nodes, &[triple(RAW, "input", &job(21))]);
}

/// A node without a namespace (a Spline operation on the way from an attribute) is dropped by
/// `namespaces` and kept by `excludeNamespaces`.
#[rstest]
#[tokio::test]
async fn nodes_without_a_namespace_fail_namespaces_and_pass_exclusions(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = namespaces_graph(pool).await;
    let (attr, read) = (
        format!("attr:{}:attr-1", plan_id(21)),
        format!("op:{}:op-1", plan_id(21)),
    );
    let only = lineage(&app, &on(&attr, "&namespaces=spline")).await;
    assert_graph(&only, &[attr.clone(), job(21)], &[]);
    let except = lineage(&app, &on(&attr, "&excludeNamespaces=bi")).await;
    let nodes = [
        attr.clone(),
        read.clone(),
        job(21),
        CLEAN.to_owned(),
        BI_REPORT.to_owned(),
    ];
    let edges = [
        triple(&read, "produces", &attr),
        triple(&job(21), "has_operation", &read),
        triple(&job(21), "output", CLEAN),
    ];
    assert_graph(&except, &nodes, &edges);
}

/// `maxNodes` caps the answer, and the frontier names the nodes whose neighbours were cut.
#[rstest]
#[tokio::test]
async fn max_nodes_truncates_and_reports_the_frontier(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = namespaces_graph(pool).await;
    let l = from_raw(&app, "&maxNodes=3").await;
    let mut nodes = strings(&[RAW, ARCHIVE_JOB]);
    nodes.push(job(21));
    assert_graph(
        &l,
        &nodes,
        &[
            triple(RAW, "input", &job(21)),
            triple(RAW, "input", ARCHIVE_JOB),
        ],
    );
    assert_eq!(l["truncated"], true);
    assert_eq!(l["frontier"], json!([job(21), ARCHIVE_JOB]));
    let whole = from_raw(&app, "&maxNodes=7").await;
    assert_eq!(
        (whole["truncated"].clone(), whole["frontier"].clone()),
        (json!(false), json!([]))
    );
    assert_eq!(node_keys(&whole), sorted(all_nodes()));
}

/// `depth` cuts too, and the frontier names where.
#[rstest]
#[tokio::test]
async fn depth_cuts_report_the_frontier(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let app = namespaces_graph(pool).await;
    let l = from_raw(&app, "&depth=1").await;
    let mut nodes = strings(&[RAW, CLEAN, ARCHIVE, ARCHIVE_JOB]);
    nodes.push(job(21));
    assert_eq!(node_keys(&l), sorted(nodes));
    assert_eq!(l["truncated"], true);
    assert_eq!(l["frontier"], json!([CLEAN]));
}

/// (source, kind, target, properties) of each edge, sorted.
fn edges_with_properties(answer: &Value) -> Vec<(String, String, String, String)> {
    let edges = answer["edges"].as_array().unwrap();
    let text = |e: &Value, k: &str| e[k].as_str().unwrap().to_owned();
    sorted(edges.iter().map(|e| {
        (
            text(e, "source"),
            text(e, "kind"),
            text(e, "target"),
            e["properties"].to_string(),
        )
    }))
}

fn flow(source: &str, target: &str, jobs: &[&str]) -> (String, String, String, String) {
    (
        source.to_owned(),
        "flows_to".to_owned(),
        target.to_owned(),
        json!({"jobs": jobs}).to_string(),
    )
}

/// `collapseJobs` replaces jobs by dataset-to-dataset `flows_to` edges naming the jobs.
#[rstest]
#[tokio::test]
async fn collapse_jobs_leaves_dataset_to_dataset_flows(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = namespaces_graph(pool).await;
    let l = from_raw(&app, "&collapseJobs=true").await;
    assert_eq!(
        node_keys(&l),
        sorted(strings(&[RAW, CLEAN, BI_REPORT, ARCHIVE]))
    );
    let spline_job = job(21);
    let expected = sorted([
        flow(CLEAN, BI_REPORT, &[BI_JOB]),
        flow(RAW, ARCHIVE, &[ARCHIVE_JOB]),
        flow(RAW, CLEAN, &[&spline_job]),
    ]);
    assert_eq!(edges_with_properties(&l), expected);
}

/// A job at the root survives collapsing, with its own edges; other jobs collapse.
#[rstest]
#[tokio::test]
async fn collapse_jobs_keeps_a_job_at_the_root(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let app = namespaces_graph(pool).await;
    let l = lineage(&app, &on(&job(21), "&direction=both&collapseJobs=true")).await;
    let mut nodes = strings(&[RAW, CLEAN, BI_REPORT]);
    nodes.push(job(21));
    let edges = [
        triple(RAW, "input", &job(21)),
        triple(&job(21), "output", CLEAN),
        triple(CLEAN, "flows_to", BI_REPORT),
    ];
    assert_graph(&l, &nodes, &edges);
}

// ---------------------------------------------------------------------------------------------
// Export
// ---------------------------------------------------------------------------------------------

/// The lineage URI of the namespaces graph downstream of `s3://raw/orders`, with `rest`.
fn export_uri(rest: &str) -> String {
    format!("/api/v1/graph/lineage?{}", on(RAW, rest))
}

/// GETs an export; asserts a 200 with a Content-Type starting with `media_type`.
async fn export(app: &TestApp, rest: &str, accept: &str, media_type: &str) -> String {
    let response = get_accepting(app, &export_uri(rest), accept).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    assert!(
        content_type(&response).starts_with(media_type),
        "{:?} for {rest} / {accept}",
        response.headers
    );
    response.text()
}

/// Renders DOT with Graphviz; panics when `dot` is missing or rejects the input.
fn render_svg(dot: &str) -> String {
    let mut child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("Graphviz `dot` must be installed (apt-get install graphviz) to check DOT exports");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(dot.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "dot rejected the export: {stderr}\n{dot}"
    );
    String::from_utf8(output.stdout).unwrap()
}

/// DOT renders with Graphviz: every node and edge is drawn.
#[rstest]
#[tokio::test]
async fn dot_export_renders_with_graphviz(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let app = namespaces_graph(pool).await;
    let dot = export(&app, "&format=dot", "*/*", "text/vnd.graphviz").await;
    assert!(dot.starts_with("digraph"), "{dot}");
    let svg = render_svg(&dot);
    assert!(svg.contains("<svg"), "{svg}");
    assert_eq!(svg.matches("class=\"node\"").count(), 7, "{svg}");
    assert_eq!(svg.matches("class=\"edge\"").count(), 6, "{svg}");
    for key in all_nodes() {
        assert!(
            svg.contains(&format!("<title>{}</title>", key.replace('-', "&#45;"))),
            "{key} missing from {svg}"
        );
    }
}

/// Mermaid is a flowchart with one line per node and per edge.
#[rstest]
#[tokio::test]
async fn mermaid_export_is_a_flowchart(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let app = namespaces_graph(pool).await;
    let text = export(&app, "&format=mermaid", "*/*", "text/vnd.mermaid").await;
    assert!(text.starts_with("flowchart"), "{text}");
    let body: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(
        body.iter().filter(|l| l.contains("-->")).count(),
        6,
        "{text}"
    );
    assert_eq!(
        body.iter().filter(|l| !l.contains("-->")).count(),
        7,
        "{text}"
    );
    assert!(
        text.contains("-->|input|") && text.contains("-->|output|"),
        "{text}"
    );
}

/// Checks XML well-formedness structurally: one root, every tag closed in order, quotes
/// balanced in tags, no raw `<` or `&` outside markup; returns the element names in order.
fn xml_elements(xml: &str) -> Vec<String> {
    let body = xml
        .strip_prefix("<?xml")
        .and_then(|r| r.split_once("?>"))
        .map(|(_, r)| r)
        .expect("XML declaration");
    let (mut stack, mut names, mut rest) = (Vec::<String>::new(), Vec::new(), body);
    while let Some(open) = rest.find('<') {
        check_text(&rest[..open]);
        let close = rest[open..].find('>').expect("unclosed tag") + open;
        let tag = &rest[open + 1..close];
        assert_eq!(
            tag.matches('"').count() % 2,
            0,
            "unbalanced quotes in <{tag}>"
        );
        xml_tag(tag, &mut stack, &mut names);
        assert!(
            !stack.is_empty() || rest[close + 1..].trim().is_empty(),
            "content after the root"
        );
        rest = &rest[close + 1..];
    }
    assert!(stack.is_empty(), "unclosed elements: {stack:?}");
    names
}

/// Text between tags: entity references only.
fn check_text(text: &str) {
    for (i, _) in text.match_indices('&') {
        let entity = &text[i..text[i..].find(';').expect("unterminated entity") + i + 1];
        let known = ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"].contains(&entity)
            || entity.starts_with("&#");
        assert!(known, "bad entity {entity}");
    }
}

fn xml_tag(tag: &str, stack: &mut Vec<String>, names: &mut Vec<String>) {
    let name = |t: &str| {
        t.split_whitespace()
            .next()
            .unwrap_or_default()
            .trim_end_matches('/')
            .to_owned()
    };
    if let Some(closing) = tag.strip_prefix('/') {
        assert_eq!(
            stack.pop().as_deref(),
            Some(closing.trim()),
            "mismatched </{closing}>"
        );
    } else if tag.ends_with('/') {
        names.push(name(tag));
    } else {
        names.push(name(tag));
        stack.push(name(tag));
    }
}

/// GraphML is well-formed XML with one `node` per node and one `edge` per edge, keys as data.
#[rstest]
#[tokio::test]
async fn graphml_export_is_well_formed_xml(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let app = namespaces_graph(pool).await;
    let xml = export(&app, "&format=graphml", "*/*", "application/graphml+xml").await;
    let elements = xml_elements(&xml);
    assert_eq!(
        elements.first().map(String::as_str),
        Some("graphml"),
        "{xml}"
    );
    assert_eq!(
        elements.iter().filter(|e| *e == "graph").count(),
        1,
        "{xml}"
    );
    assert_eq!(elements.iter().filter(|e| *e == "node").count(), 7, "{xml}");
    assert_eq!(elements.iter().filter(|e| *e == "edge").count(), 6, "{xml}");
    for key in all_nodes() {
        assert!(
            xml.contains(&format!("<data key=\"node_key\">{key}</data>")),
            "{key}: {xml}"
        );
    }
}

/// The `Accept` header picks the format when `format` is absent; `format` wins over it.
#[rstest]
#[tokio::test]
async fn the_accept_header_negotiates_the_format(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let app = namespaces_graph(pool).await;
    let dot = export(&app, "", "text/vnd.graphviz", "text/vnd.graphviz").await;
    render_svg(&dot);
    let mermaid = export(&app, "", "text/vnd.mermaid", "text/vnd.mermaid").await;
    assert!(mermaid.starts_with("flowchart"), "{mermaid}");
    let xml = export(
        &app,
        "",
        "application/graphml+xml",
        "application/graphml+xml",
    )
    .await;
    xml_elements(&xml);
    let json = export(
        &app,
        "&format=json",
        "text/vnd.graphviz",
        "application/json",
    )
    .await;
    let json: Value = serde_json::from_str(&json).unwrap();
    assert_graph(&json, &all_nodes(), &all_edges());
    export(&app, "", "*/*", "application/json").await;
}

/// An unknown format is a 400 at `format`.
#[rstest]
#[tokio::test]
async fn an_unknown_format_is_rejected(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let app = namespaces_graph(pool).await;
    let response = app.get(&export_uri("&format=svg")).await;
    response.assert_problem(StatusCode::BAD_REQUEST, "invalid-parameter", Some("format"));
}
