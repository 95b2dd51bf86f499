//! The Marquez-compatible read API over hand-written OpenLineage events and Spline plans:
//! table lineage (shapes, depth, node ids with schemes and ports, dataset/job/run data, Spline
//! jobs in the same graph), column lineage (Marquez's edge quirk, upstream by default),
//! namespace, dataset, job and run listings with paging, search, the raw event listing, and the
//! problem documents for bad parameters and unknown nodes.

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use rstest::rstest;

use crate::helpers::{Backend, Postgres, Sqlite, TestDb};
use crate::helpers::{
    TestApp, encode, get_json, minimal_plan, send_event, sorted, store_spline_events,
};

const RUN_URL: &str = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent";
const JOB_URL: &str = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/JobEvent";
const DATASET_URL: &str = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetEvent";
const PRODUCER: &str = "https://example.com/headwater-marquez-tests";
const FACET_URL: &str = "https://openlineage.io/spec/facets/1-0-0/Facet.json";
const T1: &str = "2024-10-16T17:00:00Z";
const T2: &str = "2024-10-16T17:05:00Z";
const T3: &str = "2024-10-16T17:10:00Z";
const T4: &str = "2024-10-16T17:15:00Z";
const PLAN: &str = "00000000-0000-4000-8000-000000000001";
/// A Spline event timestamp; Spline keys its run `<planId>:lhq160w0` (base 36).
const RUN_TS: i64 = 1_684_226_827_008;
const BUCKET: &str = "s3://bucket";
const HDFS: &str = "hdfs://nn:8020";
const CODE_URL: &str = "https://github.com/example/etl/blob/main/orders.py";

// --- building and posting data -------------------------------------------------------------

fn run_id(n: usize) -> String {
    format!("01929600-0000-7000-8000-{n:012}")
}

/// A dataset reference `{namespace, name}`.
fn ds(namespace: &str, name: &str) -> Value {
    json!({"namespace": namespace, "name": name})
}

/// The dataset with these facets.
fn with_facets(mut dataset: Value, facets: Value) -> Value {
    dataset["facets"] = facets;
    dataset
}

/// A facet body with the `_producer` and `_schemaURL` every facet carries.
fn facet(mut body: Value) -> Value {
    body["_producer"] = json!(PRODUCER);
    body["_schemaURL"] = json!(FACET_URL);
    body
}

/// A RunEvent of `job` (namespace, name) reading `inputs` and writing `outputs`.
fn run_event(
    run: &str,
    kind: &str,
    time: &str,
    job: (&str, &str),
    inputs: &[Value],
    outputs: &[Value],
) -> Value {
    json!({
        "eventTime": time,
        "eventType": kind,
        "producer": PRODUCER,
        "schemaURL": RUN_URL,
        "run": {"runId": run},
        "job": {"namespace": job.0, "name": job.1},
        "inputs": inputs,
        "outputs": outputs
    })
}

/// A JobEvent: the job and its datasets, without a run.
fn job_event(time: &str, job: (&str, &str), inputs: &[Value], outputs: &[Value]) -> Value {
    json!({
        "eventTime": time,
        "producer": PRODUCER,
        "schemaURL": JOB_URL,
        "job": {"namespace": job.0, "name": job.1},
        "inputs": inputs,
        "outputs": outputs
    })
}

/// A DatasetEvent naming one dataset.
fn dataset_event(time: &str, dataset: Value) -> Value {
    json!({"eventTime": time, "producer": PRODUCER, "schemaURL": DATASET_URL, "dataset": dataset})
}

/// A COMPLETE event of run `n` at `time`.
async fn complete(
    app: &TestApp,
    n: usize,
    time: &str,
    job: (&str, &str),
    io: (&[Value], &[Value]),
) {
    send_event(
        app,
        &run_event(&run_id(n), "COMPLETE", time, job, io.0, io.1),
    )
    .await;
}

/// Stores the minimal plan [`PLAN`] reading `inputs` and writing `output`.
async fn store_plan(app: &TestApp, inputs: &[&str], output: &str) {
    let plan = minimal_plan(PLAN, inputs, output, "Amount");
    crate::helpers::store_plan(app, &plan).await;
}

/// Stores a Spline execution event of [`PLAN`]; `patch` adds fields (durationNs, error).
async fn store_spline_event(app: &TestApp, timestamp: i64, patch: Value) {
    let mut event = json!({"planId": PLAN, "timestamp": timestamp});
    for (key, value) in patch.as_object().into_iter().flatten() {
        event[key] = value.clone();
    }
    store_spline_events(app, &json!([event])).await;
}

// --- reading answers ---------------------------------------------------------------------------

/// `GET /api/v1/lineage` around `node` (depth left to the default when `None`).
async fn lineage(app: &TestApp, node: &str, depth: Option<u32>) -> Value {
    let depth = depth.map(|d| format!("&depth={d}")).unwrap_or_default();
    get_json(
        app,
        &format!("/api/v1/lineage?nodeId={}{depth}", encode(node)),
    )
    .await
}

/// `GET /api/v1/column-lineage` with a raw query after the node id.
async fn column_lineage(app: &TestApp, node: &str, rest: &str) -> Value {
    let uri = format!("/api/v1/column-lineage?nodeId={}{rest}", encode(node));
    get_json(app, &uri).await
}

/// Node ids of a graph, in answer order.
fn ids(graph: &Value) -> Vec<String> {
    let nodes = graph["graph"].as_array().expect("a graph array");
    nodes
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The node with this id.
#[track_caller]
fn node<'a>(graph: &'a Value, id: &str) -> &'a Value {
    let nodes = graph["graph"].as_array().expect("a graph array");
    nodes
        .iter()
        .find(|n| n["id"] == id)
        .unwrap_or_else(|| panic!("no node {id} in {graph:#}"))
}

/// `{origin, destination}` edges.
fn edges(pairs: &[(&str, &str)]) -> Value {
    let edges: Vec<Value> = pairs
        .iter()
        .map(|(o, d)| json!({"origin": o, "destination": d}))
        .collect();
    json!(edges)
}

/// An edge list with its edges sorted, to compare where the order is not part of the contract.
fn sorted_edges(list: &Value) -> Value {
    let mut items = list.as_array().expect("an edge array").clone();
    items.sort_by_key(|e| (e["origin"].to_string(), e["destination"].to_string()));
    json!(items)
}

fn time(value: &Value) -> DateTime<Utc> {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("{value} is not a time"));
    text.parse()
        .unwrap_or_else(|e| panic!("{text} is not a time: {e}"))
}

fn t(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

fn dataset_id(namespace: &str, name: &str) -> String {
    format!("dataset:{namespace}:{name}")
}

fn job_id(namespace: &str, name: &str) -> String {
    format!("job:{namespace}:{name}")
}

/// The field `name` of each item of a list.
fn names(list: &Value) -> Vec<String> {
    let items = list.as_array().expect("a list");
    items
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_owned())
        .collect()
}

// --- table lineage: shapes and depth -----------------------------------------------------------

/// Jobs of the namespace `lab`: (job, input, output) with one-letter datasets.
const LAB: [(&str, &str, &str); 4] = [
    ("j", "a", "b"),
    ("k", "a", "c"),
    ("l", "c", "d"),
    ("m", "b", "e"),
];

/// `a → j → b`, `a → k → c` (k is j's sibling), `c → l → d`, `b → m → e`, all in `lab`.
async fn lab(pool: TestDb) -> TestApp {
    let app = TestApp::new(pool);
    for (n, (job, input, output)) in LAB.into_iter().enumerate() {
        let io: (&[Value], &[Value]) = (&[ds("lab", input)], &[ds("lab", output)]);
        complete(&app, n, T1, ("lab", job), io).await;
    }
    app
}

/// Sorted Marquez ids of the `lab` datasets and jobs named by these letters.
fn lab_ids(datasets: &str, jobs: &str) -> Vec<String> {
    let datasets = datasets.chars().map(|d| dataset_id("lab", &d.to_string()));
    let jobs = jobs.chars().map(|j| job_id("lab", &j.to_string()));
    sorted(datasets.chain(jobs))
}

/// The sorted `lab` edges into (`inbound`) or out of the node `id` whose far end is `inside`.
fn lab_edges(id: &str, inbound: bool, inside: &[String]) -> Value {
    let all = LAB.iter().flat_map(|(j, i, o)| {
        [
            (dataset_id("lab", i), job_id("lab", j)),
            (job_id("lab", j), dataset_id("lab", o)),
        ]
    });
    let chosen = sorted(all.filter(|(o, d)| match inbound {
        true => d == id && inside.contains(o),
        false => o == id && inside.contains(d),
    }));
    let pairs: Vec<(&str, &str)> = chosen
        .iter()
        .map(|(o, d)| (o.as_str(), d.as_str()))
        .collect();
    edges(&pairs)
}

/// Nodes are typed and sorted by id; edges point downstream, sorted, one per input/output.
#[rstest]
#[tokio::test]
async fn table_lineage_edges_point_downstream_and_nodes_are_sorted_by_id(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = lab(pool).await;
    let g = lineage(&app, "job:lab:j", None).await;
    let all = lab_ids("abcde", "jklm");
    assert_eq!(ids(&g), all, "{g:#}");
    for id in ids(&g) {
        let n = node(&g, &id);
        assert_eq!(n["inEdges"], lab_edges(&id, true, &all), "{id}");
        assert_eq!(n["outEdges"], lab_edges(&id, false, &all), "{id}");
        let kind = if id.starts_with("job:") {
            "JOB"
        } else {
            "DATASET"
        };
        assert_eq!(n["type"], kind, "{id}");
    }
}

/// The node ids around `start` at each depth from 0 to `max`.
async fn ids_by_depth(app: &TestApp, start: &str, max: u32) -> Vec<Vec<String>> {
    let mut all = Vec::new();
    for depth in 0..=max {
        all.push(ids(&lineage(app, start, Some(depth)).await));
    }
    all
}

/// From a job, depth counts job hops either way: siblings and readers are 1, its datasets 0.
#[rstest]
#[tokio::test]
async fn depth_from_a_job_counts_job_hops_in_either_direction(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = lab(pool).await;
    let expected = [
        lab_ids("ab", "j"),
        lab_ids("abce", "jkm"),
        lab_ids("abcde", "jklm"),
    ];
    assert_eq!(ids_by_depth(&app, "job:lab:j", 2).await, expected);
}

/// At any depth, edges join only nodes of the graph, and every edge between them is listed.
#[rstest]
#[tokio::test]
async fn edges_join_only_nodes_inside_the_graph(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let app = lab(pool).await;
    for start in ["job:lab:k", "dataset:lab:c"] {
        for depth in 0..=3 {
            let g = lineage(&app, start, Some(depth)).await;
            let inside = ids(&g);
            for id in &inside {
                let n = node(&g, id);
                let at = format!("{id} from {start} at depth {depth}");
                assert_eq!(n["inEdges"], lab_edges(id, true, &inside), "{at}");
                assert_eq!(n["outEdges"], lab_edges(id, false, &inside), "{at}");
            }
        }
    }
}

/// From a dataset, depth counts from the job that writes it, as Marquez resolves it.
#[rstest]
#[tokio::test]
async fn depth_from_a_dataset_counts_from_the_job_that_writes_it(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = lab(pool).await;
    let expected = [lab_ids("be", "m"), lab_ids("abe", "jm")];
    assert_eq!(ids_by_depth(&app, "dataset:lab:e", 1).await, expected);
}

/// A dataset no job reads or writes is a graph of itself alone.
#[rstest]
#[tokio::test]
async fn a_dataset_without_jobs_is_its_own_graph(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    send_event(&app, &dataset_event(T1, ds("lab", "lonely"))).await;
    let g = lineage(&app, "dataset:lab:lonely", None).await;
    assert_eq!(ids(&g), ["dataset:lab:lonely"]);
    let n = node(&g, "dataset:lab:lonely");
    assert_eq!((&n["inEdges"], &n["outEdges"]), (&json!([]), &json!([])));
    assert_eq!(n["data"]["id"], ds("lab", "lonely"));
}

// --- table lineage: node data --------------------------------------------------------------

/// Facets of the `postgres://db:5432` table `shop.public.orders`.
fn orders_facets() -> Value {
    json!({
        "schema": facet(json!({"fields": [
            {"name": "id", "type": "INTEGER", "description": "Order id."},
            {"name": "amount", "type": "DECIMAL"}
        ]})),
        "documentation": facet(json!({"description": "Orders as placed."})),
        "dataSource": facet(json!({"name": "analytics_db", "uri": "postgres://db:5432/shop"})),
        "lifecycleStateChange": facet(json!({"lifecycleStateChange": "OVERWRITE"}))
    })
}

/// `shop.public.orders` (postgres, with facets) → job `shop/load_orders` → `s3://bucket`
/// `clean/orders` (no facets), at [`T1`].
async fn shop(pool: TestDb) -> TestApp {
    let app = TestApp::new(pool);
    let orders = with_facets(
        ds("postgres://db:5432", "shop.public.orders"),
        orders_facets(),
    );
    let io: (&[Value], &[Value]) = (&[orders], &[ds(BUCKET, "clean/orders")]);
    complete(&app, 0, T1, ("shop", "load_orders"), io).await;
    app
}

const ORDERS: &str = "dataset:postgres://db:5432:shop.public.orders";

/// A namespace with a scheme and a port works in a node id, and the answer's ids keep it.
#[rstest]
#[tokio::test]
async fn namespaces_with_schemes_and_ports_work_in_node_ids(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = shop(pool).await;
    let expected = [
        ORDERS,
        "dataset:s3://bucket:clean/orders",
        "job:shop:load_orders",
    ];
    for start in expected {
        let g = lineage(&app, start, None).await;
        assert_eq!(ids(&g), expected, "from {start}: {g:#}");
    }
    let g = lineage(&app, ORDERS, None).await;
    let job = node(&g, "job:shop:load_orders");
    assert_eq!(job["inEdges"], edges(&[(ORDERS, "job:shop:load_orders")]));
}

/// Dataset data takes its source, fields, description and lifecycle state from its facets.
#[rstest]
#[tokio::test]
async fn dataset_data_comes_from_the_dataset_facets(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let app = shop(pool).await;
    let g = lineage(&app, ORDERS, None).await;
    let data = &node(&g, ORDERS)["data"];
    let expected_fields = json!([
        {"name": "id", "type": "INTEGER", "tags": [], "description": "Order id."},
        {"name": "amount", "type": "DECIMAL", "tags": [], "description": null}
    ]);
    assert_eq!(data["id"], ds("postgres://db:5432", "shop.public.orders"));
    assert_eq!(data["type"], "DB_TABLE");
    assert_eq!(data["name"], "shop.public.orders");
    assert_eq!(data["physicalName"], "shop.public.orders");
    assert_eq!(data["namespace"], "postgres://db:5432");
    assert_eq!(data["sourceName"], "analytics_db");
    assert_eq!(data["fields"], expected_fields);
    assert_eq!(data["tags"], json!([]));
    assert_eq!(data["description"], "Orders as placed.");
    assert_eq!(data["lastLifecycleState"], "OVERWRITE");
    assert_eq!(data["facets"], orders_facets());
    assert_eq!(
        (time(&data["createdAt"]), time(&data["updatedAt"])),
        (t(T1), t(T1))
    );
}

/// A dataset without facets is sourced from its namespace, with no fields or description.
#[rstest]
#[tokio::test]
async fn a_dataset_without_facets_is_sourced_from_its_namespace(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = shop(pool).await;
    let id = "dataset:s3://bucket:clean/orders";
    let g = lineage(&app, id, None).await;
    let data = &node(&g, id)["data"];
    assert_eq!(data["id"], ds(BUCKET, "clean/orders"));
    assert_eq!(data["sourceName"], BUCKET);
    assert_eq!(data["fields"], json!([]));
    assert_eq!(data["description"], Value::Null);
    assert_eq!(data["lastLifecycleState"], Value::Null);
    assert_eq!(data["facets"], json!({}));
}

/// Job facets of `etl/orders_daily`: a streaming job with its code location and description.
fn streaming_facets() -> Value {
    json!({
        "jobType": facet(json!({
            "processingType": "STREAMING", "integration": "FLINK", "jobType": "JOB"
        })),
        "sourceCodeLocation": facet(json!({"type": "git", "url": CODE_URL})),
        "documentation": facet(json!({"description": "Streams orders."}))
    })
}

/// The run facets of run 0: its nominal time.
fn nominal_facets() -> Value {
    json!({"nominalTime": facet(json!({"nominalStartTime": "2024-10-16T00:00:00Z"}))})
}

/// Run 0 of `etl/orders_daily` (START at [`T1`], COMPLETE at [`T2`]) reading `raw/orders` and
/// writing `clean/orders` in `s3://bucket`.
async fn streaming_job(app: &TestApp) {
    for (kind, time) in [("START", T1), ("COMPLETE", T2)] {
        let io = ([ds(BUCKET, "raw/orders")], [ds(BUCKET, "clean/orders")]);
        let mut e = run_event(
            &run_id(0),
            kind,
            time,
            ("etl", "orders_daily"),
            &io.0,
            &io.1,
        );
        e["job"]["facets"] = streaming_facets();
        e["run"]["facets"] = nominal_facets();
        send_event(app, &e).await;
    }
}

/// Job data: STREAMING is STREAM; location, description and datasets come from the events.
#[rstest]
#[tokio::test]
async fn job_data_comes_from_the_job_facets_and_its_datasets(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    streaming_job(&app).await;
    let g = lineage(&app, "job:etl:orders_daily", None).await;
    let data = &node(&g, "job:etl:orders_daily")["data"];
    assert_eq!(data["id"], ds("etl", "orders_daily"));
    assert_eq!(data["type"], "STREAM");
    assert_eq!(data["name"], "orders_daily");
    assert_eq!(data["simpleName"], "orders_daily");
    assert_eq!(data["namespace"], "etl");
    assert_eq!(data["inputs"], json!([ds(BUCKET, "raw/orders")]));
    assert_eq!(data["outputs"], json!([ds(BUCKET, "clean/orders")]));
    assert_eq!(data["location"], CODE_URL);
    assert_eq!(data["description"], "Streams orders.");
    assert_eq!(data["facets"], streaming_facets());
}

/// The latest run has its id, state, start, end, duration, nominal time and facets.
#[rstest]
#[tokio::test]
async fn a_job_carries_its_latest_run_with_timing(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    streaming_job(&app).await;
    let g = lineage(&app, "job:etl:orders_daily", None).await;
    let run = &node(&g, "job:etl:orders_daily")["data"]["latestRun"];
    assert_eq!(run["id"], run_id(0), "{run:#}");
    assert_eq!(run["state"], "COMPLETED");
    assert_eq!(time(&run["startedAt"]), t(T1));
    assert_eq!(time(&run["endedAt"]), t(T2));
    assert_eq!(run["durationMs"], 300_000);
    assert_eq!(time(&run["nominalStartTime"]), t("2024-10-16T00:00:00Z"));
    assert_eq!(run["facets"], nominal_facets());
}

/// A job without a jobType facet is BATCH; one known only from a JobEvent has no latest run.
#[rstest]
#[tokio::test]
async fn a_job_without_a_run_is_a_batch_job_without_a_latest_run(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    let e = job_event(T1, ("etl", "static"), &[ds(BUCKET, "raw/orders")], &[]);
    send_event(&app, &e).await;
    let g = lineage(&app, "job:etl:static", None).await;
    let data = &node(&g, "job:etl:static")["data"];
    assert_eq!(data["type"], "BATCH");
    assert_eq!(data["latestRun"], Value::Null);
    assert_eq!(data["location"], Value::Null);
    assert_eq!(data["description"], Value::Null);
    assert_eq!(data["inputs"], json!([ds(BUCKET, "raw/orders")]));
    assert_eq!(data["outputs"], json!([]));
}

/// Without a parent job, Marquez's simple name is the whole job name, dots and all.
#[rstest]
#[tokio::test]
async fn a_job_without_a_parent_keeps_its_whole_name_as_simple_name(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    complete(
        &app,
        0,
        T1,
        ("etl", "orders.daily"),
        (&[], &[ds(BUCKET, "x")]),
    )
    .await;
    let g = lineage(&app, "job:etl:orders.daily", None).await;
    let data = &node(&g, "job:etl:orders.daily")["data"];
    assert_eq!(data["name"], "orders.daily");
    assert_eq!(data["parentJobName"], Value::Null);
    assert_eq!(data["simpleName"], "orders.daily", "{data:#}");
}

/// OpenLineage event types map onto Marquez run states as Marquez maps them.
#[rstest]
#[tokio::test]
async fn latest_run_states_follow_the_openlineage_event_type(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    let cases = [
        ("START", "RUNNING"),
        ("RUNNING", "RUNNING"),
        ("COMPLETE", "COMPLETED"),
        ("FAIL", "FAILED"),
        ("ABORT", "ABORTED"),
        ("OTHER", "RUNNING"),
    ];
    for (n, (kind, _)) in cases.iter().enumerate() {
        let job = format!("state_{kind}");
        send_event(
            &app,
            &run_event(&run_id(n), kind, T1, ("etl", &job), &[], &[ds(BUCKET, "x")]),
        )
        .await;
    }
    for (kind, state) in cases {
        let id = job_id("etl", &format!("state_{kind}"));
        let g = lineage(&app, &id, Some(0)).await;
        assert_eq!(node(&g, &id)["data"]["latestRun"]["state"], state, "{kind}");
    }
}

/// A run whose events say START then FAIL, in any arrival order, ends FAILED with both times.
#[rstest]
#[tokio::test]
async fn a_run_state_follows_its_latest_event_whatever_the_arrival_order(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    for (kind, time) in [("FAIL", T2), ("START", T1)] {
        send_event(
            &app,
            &run_event(
                &run_id(0),
                kind,
                time,
                ("etl", "flaky"),
                &[],
                &[ds(BUCKET, "x")],
            ),
        )
        .await;
    }
    let g = lineage(&app, "job:etl:flaky", Some(0)).await;
    let run = &node(&g, "job:etl:flaky")["data"]["latestRun"];
    assert_eq!(run["state"], "FAILED", "{run:#}");
    assert_eq!(
        (time(&run["startedAt"]), time(&run["endedAt"])),
        (t(T1), t(T2))
    );
    assert_eq!(run["durationMs"], 300_000);
}

/// Runs 1 (T1–T2) and 2 (T3–T4) of `etl/orders`, posted newest first.
async fn two_runs(app: &TestApp) {
    let job = ("etl", "orders");
    let out = [ds(BUCKET, "clean/orders")];
    for (n, kind, time) in [
        (2, "START", T3),
        (2, "FAIL", T4),
        (1, "START", T1),
        (1, "COMPLETE", T2),
    ] {
        send_event(app, &run_event(&run_id(n), kind, time, job, &[], &out)).await;
    }
}

/// The latest run is the latest by event time, not the last to arrive.
#[rstest]
#[tokio::test]
async fn the_latest_run_is_the_latest_by_event_time(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    two_runs(&app).await;
    let g = lineage(&app, "job:etl:orders", None).await;
    let run = &node(&g, "job:etl:orders")["data"]["latestRun"];
    assert_eq!(run["id"], run_id(2), "{run:#}");
    assert_eq!(run["state"], "FAILED");
}

// --- table lineage: errors ---------------------------------------------------------------------

/// Unknown datasets and jobs, and field or run ids, are 404 problems.
#[rstest]
#[tokio::test]
async fn unknown_and_unsupported_node_ids_are_not_found(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = shop(pool).await;
    let run = format!("run:{}", run_id(0));
    let missing = [
        "dataset:lab:nowhere",
        "job:lab:nobody",
        "dataset:s3://bucket:missing",
        "datasetField:postgres://db:5432:shop.public.orders:id",
        run.as_str(),
    ];
    for id in missing {
        let uri = format!("/api/v1/lineage?nodeId={}", encode(id));
        println!("GET {uri}");
        app.get(&uri)
            .await
            .assert_problem(StatusCode::NOT_FOUND, "not-found", None);
    }
}

/// Node ids that aren't `<type>:<namespace>:<name>`, or a missing one, are 400 on `nodeId`.
#[rstest]
#[tokio::test]
async fn malformed_node_ids_are_bad_requests(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let app = shop(pool).await;
    let bad = [
        "orders",
        "dataset:orders",
        "table:shop:orders",
        "dataset::orders",
        "",
    ];
    for id in bad {
        let uri = format!("/api/v1/lineage?nodeId={}", encode(id));
        println!("GET {uri}");
        app.get(&uri).await.assert_problem(
            StatusCode::BAD_REQUEST,
            "invalid-parameter",
            Some("nodeId"),
        );
    }
    app.get("/api/v1/lineage?depth=1").await.assert_problem(
        StatusCode::BAD_REQUEST,
        "invalid-parameter",
        Some("nodeId"),
    );
}

/// Depth above 50, negative or not a number is 400 on `depth`; 50 is allowed.
#[rstest]
#[tokio::test]
async fn depth_beyond_fifty_is_a_bad_request(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let app = shop(pool).await;
    let node = format!("nodeId={}", encode(ORDERS));
    for depth in ["51", "-1", "deep"] {
        let uri = format!("/api/v1/lineage?{node}&depth={depth}");
        app.get(&uri).await.assert_problem(
            StatusCode::BAD_REQUEST,
            "invalid-parameter",
            Some("depth"),
        );
    }
    let g = get_json(&app, &format!("/api/v1/lineage?{node}&depth=50")).await;
    assert_eq!(ids(&g).len(), 3);
}

// --- Spline in the Marquez graph -------------------------------------------------------------

/// Spline plan [`PLAN`] writes `hdfs://nn:8020/data/x` from `.../data/raw`; the OpenLineage
/// job `etl/publish` reads (`hdfs://nn:8020`, `/data/x`) and writes `s3://bucket` `published/x`.
async fn mixed(pool: TestDb) -> TestApp {
    let app = TestApp::new(pool);
    store_plan(&app, &["hdfs://nn:8020/data/raw"], "hdfs://nn:8020/data/x").await;
    let io: (&[Value], &[Value]) = (&[ds(HDFS, "/data/x")], &[ds(BUCKET, "published/x")]);
    complete(&app, 0, T1, ("etl", "publish"), io).await;
    app
}

fn spline_job() -> String {
    job_id("spline", PLAN)
}

/// The graph of [`mixed`], sorted.
fn mixed_ids() -> Vec<String> {
    sorted([
        dataset_id(HDFS, "/data/raw"),
        dataset_id(HDFS, "/data/x"),
        dataset_id(BUCKET, "published/x"),
        job_id("etl", "publish"),
        spline_job(),
    ])
}

/// A Spline-written dataset read by an OpenLineage job joins both jobs in one graph.
#[rstest]
#[tokio::test]
async fn spline_and_openlineage_jobs_meet_in_one_marquez_graph(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = mixed(pool).await;
    let shared = dataset_id(HDFS, "/data/x");
    for start in [job_id("etl", "publish"), spline_job(), shared.clone()] {
        let g = lineage(&app, &start, None).await;
        assert_eq!(ids(&g), mixed_ids(), "from {start}: {g:#}");
        let x = node(&g, &shared);
        assert_eq!(x["inEdges"], edges(&[(&spline_job(), &shared)]));
        assert_eq!(x["outEdges"], edges(&[(&shared, "job:etl:publish")]));
        assert_eq!(x["data"]["id"], ds(HDFS, "/data/x"));
        assert_eq!(x["data"]["name"], "/data/x");
    }
}

/// A Spline job shows under the namespace `spline`, named by its plan id, with its datasets.
#[rstest]
#[tokio::test]
async fn a_spline_job_is_rendered_under_the_spline_namespace(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = mixed(pool).await;
    let g = lineage(&app, &spline_job(), None).await;
    let data = &node(&g, &spline_job())["data"];
    assert_eq!(data["id"], ds("spline", PLAN));
    assert_eq!(
        (&data["namespace"], &data["name"]),
        (&json!("spline"), &json!(PLAN))
    );
    assert_eq!(data["type"], "BATCH");
    assert_eq!(data["inputs"], json!([ds(HDFS, "/data/raw")]));
    assert_eq!(data["outputs"], json!([ds(HDFS, "/data/x")]));
    assert_eq!(data["latestRun"], Value::Null);
}

/// A Spline event is a COMPLETED run ending at its timestamp after `durationNs`.
#[rstest]
#[tokio::test]
async fn a_spline_event_is_the_latest_run_of_its_job(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let app = mixed(pool).await;
    store_spline_event(&app, RUN_TS, json!({"durationNs": 2_500_000_000_i64})).await;
    let g = lineage(&app, &spline_job(), None).await;
    let run = &node(&g, &spline_job())["data"]["latestRun"];
    let ended = DateTime::from_timestamp_millis(RUN_TS).unwrap();
    assert_eq!(run["id"], format!("{PLAN}:lhq160w0"), "{run:#}");
    assert_eq!(run["state"], "COMPLETED");
    assert_eq!(run["durationMs"], 2_500);
    assert_eq!(time(&run["endedAt"]), ended);
    assert_eq!(
        time(&run["startedAt"]),
        ended - chrono::Duration::milliseconds(2_500)
    );
}

/// A later Spline event with an `error` makes the latest run FAILED.
#[rstest]
#[tokio::test]
async fn a_spline_event_with_an_error_is_a_failed_run(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = mixed(pool).await;
    store_spline_event(&app, RUN_TS, json!({"durationNs": 1_000_000})).await;
    let error = json!({"durationNs": 3_000_000_000_i64, "error": {"message": "boom"}});
    store_spline_event(&app, RUN_TS + 60_000, error).await;
    let g = lineage(&app, &spline_job(), None).await;
    let run = &node(&g, &spline_job())["data"]["latestRun"];
    assert_eq!(run["state"], "FAILED", "{run:#}");
    assert_eq!(run["durationMs"], 3_000);
}

/// A Spline source without a URI authority is in the namespace `spline`, graph and listing.
#[rstest]
#[tokio::test]
async fn a_spline_dataset_without_an_authority_lives_in_the_spline_namespace(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    store_plan(&app, &["table3"], "s3://bucket/out").await;
    let g = lineage(&app, "dataset:spline:table3", None).await;
    assert!(ids(&g).contains(&spline_job()), "{g:#}");
    let listed = get_json(&app, "/api/v1/namespaces/spline/datasets").await;
    assert_eq!(names(&listed["datasets"]), ["table3"], "{listed:#}");
    assert_eq!(listed["totalCount"], 1);
}

// --- column lineage --------------------------------------------------------------------------

const F_ID: &str = "datasetField:s3://bucket:clean/orders:id";
const F_EUR: &str = "datasetField:s3://bucket:clean/orders:amount_eur";
const F_ID_IN: &str = "datasetField:s3://bucket:raw/orders:id";
const F_AMOUNT: &str = "datasetField:s3://bucket:raw/orders:amount";
const F_RATE: &str = "datasetField:s3://bucket:raw/rates:rate";
const F_TOTAL: &str = "datasetField:s3://bucket:report:total";

fn schema(fields: &[(&str, &str)]) -> Value {
    let fields: Vec<Value> = fields
        .iter()
        .map(|(name, kind)| json!({"name": name, "type": kind}))
        .collect();
    facet(json!({"fields": fields}))
}

fn multiply() -> Value {
    json!([{
        "type": "DIRECT", "subtype": "TRANSFORMATION", "description": "amount * rate",
        "masking": false
    }])
}

/// An input field of a columnLineage facet, in `s3://bucket`.
fn input(dataset: &str, field: &str, transformations: Option<Value>) -> Value {
    let mut i = json!({"namespace": BUCKET, "name": dataset, "field": field});
    if let Some(t) = transformations {
        i["transformations"] = t;
    }
    i
}

/// `clean/orders`: `id` is `raw/orders.id` (deprecated IDENTITY form) and `amount_eur` is
/// `raw/orders.amount * raw/rates.rate` (1-2-0 transformations).
fn clean_orders() -> Value {
    let lineage = json!({"fields": {
        "id": {"inputFields": [input("raw/orders", "id", None)],
               "transformationDescription": "identical", "transformationType": "IDENTITY"},
        "amount_eur": {"inputFields": [
            input("raw/orders", "amount", Some(multiply())),
            input("raw/rates", "rate", Some(multiply()))
        ]}
    }});
    let facets = json!({
        "schema": schema(&[("id", "INTEGER"), ("amount_eur", "DECIMAL")]),
        "columnLineage": facet(lineage)
    });
    with_facets(ds(BUCKET, "clean/orders"), facets)
}

/// `report.total` aggregates `clean/orders.amount_eur`.
fn report() -> Value {
    let lineage = json!({"fields": {"total": {
        "inputFields": [input("clean/orders", "amount_eur", None)],
        "transformationType": "AGGREGATION"
    }}});
    let facets =
        json!({"schema": schema(&[("total", "DECIMAL")]), "columnLineage": facet(lineage)});
    with_facets(ds(BUCKET, "report"), facets)
}

/// `etl/enrich` reads `raw/orders` (schema), `raw/rates` and `raw/notes` (no schema) and writes
/// [`clean_orders`]; `etl/report` reads `clean/orders` and writes [`report`].
async fn columns(pool: TestDb) -> TestApp {
    let app = TestApp::new(pool);
    let orders = with_facets(
        ds(BUCKET, "raw/orders"),
        json!({"schema": schema(&[("id", "INTEGER"), ("amount", "DECIMAL")])}),
    );
    let inputs = [orders, ds(BUCKET, "raw/rates"), ds(BUCKET, "raw/notes")];
    complete(&app, 0, T1, ("etl", "enrich"), (&inputs, &[clean_orders()])).await;
    let io: (&[Value], &[Value]) = (&[ds(BUCKET, "clean/orders")], &[report()]);
    complete(&app, 1, T2, ("etl", "report"), io).await;
    app
}

/// The node's data with `inputFields` sorted by field, so input order doesn't matter.
fn field_data(graph: &Value, id: &str) -> Value {
    let mut data = node(graph, id)["data"].clone();
    let mut inputs = data["inputFields"].as_array().expect("inputFields").clone();
    inputs.sort_by_key(|i| i["field"].to_string());
    data["inputFields"] = json!(inputs);
    data
}

/// An input field as column lineage renders it.
fn input_data(dataset: &str, field: &str, kind: Value, transformations: Value) -> Value {
    json!({"namespace": BUCKET, "dataset": dataset, "datasetVersion": null, "field": field,
           "transformationDescription": null, "transformationType": kind,
           "transformations": transformations})
}

/// By default a field's lineage is upstream only, each node with its type and inputs.
#[rstest]
#[tokio::test]
async fn column_lineage_of_a_field_is_upstream_by_default(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = columns(pool).await;
    let g = column_lineage(&app, F_EUR, "").await;
    assert_eq!(ids(&g), sorted([F_EUR, F_AMOUNT, F_RATE]), "{g:#}");
    assert!(
        g["graph"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["type"] == "DATASET_FIELD")
    );
    let expected = json!({
        "namespace": BUCKET, "dataset": "clean/orders", "datasetVersion": null,
        "field": "amount_eur", "fieldType": "DECIMAL",
        "transformationDescription": null, "transformationType": "DIRECT",
        "inputFields": [
            input_data("raw/orders", "amount", json!("DIRECT"), multiply()),
            input_data("raw/rates", "rate", json!("DIRECT"), multiply())
        ]
    });
    assert_eq!(field_data(&g, F_EUR), expected);
}

/// Marquez's quirk: inEdges go from the field to its inputs, outEdges to what derives from it.
#[rstest]
#[tokio::test]
async fn column_lineage_in_edges_point_from_a_field_to_its_inputs(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = columns(pool).await;
    let g = column_lineage(&app, F_EUR, "").await;
    let eur = node(&g, F_EUR);
    let inputs = edges(&[(F_EUR, F_AMOUNT), (F_EUR, F_RATE)]);
    assert_eq!(sorted_edges(&eur["inEdges"]), inputs, "{g:#}");
    assert_eq!(
        eur["outEdges"],
        json!([]),
        "downstream is not walked by default"
    );
    let amount = node(&g, F_AMOUNT);
    assert_eq!(amount["inEdges"], json!([]));
    assert_eq!(amount["outEdges"], edges(&[(F_AMOUNT, F_EUR)]));
}

/// `withDownstream=true` adds the fields derived from the start, with their edges.
#[rstest]
#[tokio::test]
async fn with_downstream_adds_the_fields_derived_from_the_start(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = columns(pool).await;
    let g = column_lineage(&app, F_EUR, "&withDownstream=true").await;
    assert_eq!(ids(&g), sorted([F_EUR, F_AMOUNT, F_RATE, F_TOTAL]), "{g:#}");
    assert_eq!(node(&g, F_EUR)["outEdges"], edges(&[(F_EUR, F_TOTAL)]));
    let total = node(&g, F_TOTAL);
    assert_eq!(total["inEdges"], edges(&[(F_TOTAL, F_EUR)]));
    assert_eq!(total["data"]["transformationType"], "AGGREGATION");
    assert_eq!(total["data"]["fieldType"], "DECIMAL");
    let explicit = column_lineage(&app, F_EUR, "&withDownstream=false").await;
    assert_eq!(ids(&explicit), sorted([F_EUR, F_AMOUNT, F_RATE]));
}

/// A dataset id starts from all its columns, and a job id from the columns of its outputs.
#[rstest]
#[tokio::test]
async fn dataset_and_job_ids_start_from_their_columns(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = columns(pool).await;
    let expected = sorted([F_ID, F_EUR, F_ID_IN, F_AMOUNT, F_RATE]);
    for start in ["dataset:s3://bucket:clean/orders", "job:etl:enrich"] {
        let g = column_lineage(&app, start, "").await;
        assert_eq!(ids(&g), expected, "from {start}: {g:#}");
    }
}

/// The deprecated per-column description and type are reported on the field and its input.
#[rstest]
#[tokio::test]
async fn deprecated_transformation_fields_are_reported(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = columns(pool).await;
    let g = column_lineage(&app, F_ID, "").await;
    let data = field_data(&g, F_ID);
    assert_eq!(data["transformationType"], "IDENTITY", "{data:#}");
    assert_eq!(data["transformationDescription"], "identical");
    let input = &data["inputFields"][0];
    assert_eq!(
        (&input["dataset"], &input["field"]),
        (&json!("raw/orders"), &json!("id"))
    );
    assert_eq!(input["transformationType"], "IDENTITY");
    assert_eq!(input["transformationDescription"], "identical");
}

/// A pure input has no inputs of its own; a column without a schema type has fieldType "".
#[rstest]
#[tokio::test]
async fn input_only_fields_have_no_inputs_and_untyped_fields_an_empty_type(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = columns(pool).await;
    let g = column_lineage(&app, F_EUR, "").await;
    let amount = field_data(&g, F_AMOUNT);
    assert_eq!(amount["fieldType"], "DECIMAL");
    assert_eq!(amount["inputFields"], json!([]));
    assert_eq!(amount["transformationType"], Value::Null);
    let rate = field_data(&g, F_RATE);
    assert_eq!(rate["fieldType"], "", "raw/rates has no schema facet");
    assert_eq!(
        (&rate["dataset"], &rate["namespace"]),
        (&json!("raw/rates"), &json!(BUCKET))
    );
}

/// Depth counts derivation hops from the start field.
#[rstest]
#[tokio::test]
async fn column_lineage_depth_counts_derivation_hops(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let app = columns(pool).await;
    let cases = [
        (0, vec![F_TOTAL]),
        (1, vec![F_TOTAL, F_EUR]),
        (2, vec![F_TOTAL, F_EUR, F_AMOUNT, F_RATE]),
    ];
    for (depth, expected) in cases {
        let g = column_lineage(&app, F_TOTAL, &format!("&depth={depth}")).await;
        assert_eq!(ids(&g), sorted(expected), "depth {depth}: {g:#}");
    }
}

/// A dataset without columns, an unknown node or field is 404; bad parameters are 400.
#[rstest]
#[tokio::test]
async fn column_lineage_rejects_nodes_without_columns_and_bad_parameters(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = columns(pool).await;
    let missing = [
        "dataset:s3://bucket:raw/notes",
        "dataset:s3://bucket:nowhere",
        "datasetField:s3://bucket:clean/orders:nothing",
    ];
    for id in missing {
        let uri = format!("/api/v1/column-lineage?nodeId={}", encode(id));
        app.get(&uri)
            .await
            .assert_problem(StatusCode::NOT_FOUND, "not-found", None);
    }
    let node = format!("nodeId={}", encode(F_EUR));
    let bad = [
        ("nodeId=orders".to_owned(), "nodeId"),
        (format!("{node}&depth=51"), "depth"),
        (format!("{node}&withDownstream=maybe"), "withDownstream"),
    ];
    for (query, path) in bad {
        app.get(&format!("/api/v1/column-lineage?{query}"))
            .await
            .assert_problem(StatusCode::BAD_REQUEST, "invalid-parameter", Some(path));
    }
}

// --- namespaces, datasets, jobs, runs ------------------------------------------------------------

/// Namespaces of every dataset and job, `spline` among them, by name, with Marquez's fields.
#[rstest]
#[tokio::test]
async fn namespaces_list_every_namespace_by_name(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let app = mixed(pool).await;
    let io: (&[Value], &[Value]) = (&[], &[ds(BUCKET, "published/x")]);
    complete(&app, 1, T3, ("etl", "publish"), io).await;
    let list = get_json(&app, "/api/v1/namespaces").await;
    let expected = ["etl", HDFS, BUCKET, "spline"];
    assert_eq!(names(&list["namespaces"]), expected, "{list:#}");
    let etl = &list["namespaces"][0];
    assert_eq!(
        (time(&etl["createdAt"]), time(&etl["updatedAt"])),
        (t(T1), t(T3))
    );
    assert_eq!(etl["ownerName"], "anonymous");
    assert_eq!(etl["description"], Value::Null);
    assert_eq!(etl["isHidden"], false);
}

/// `limit` and `offset` page the namespaces.
#[rstest]
#[tokio::test]
async fn namespaces_page_with_limit_and_offset(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let app = mixed(pool).await;
    let page = get_json(&app, "/api/v1/namespaces?limit=2&offset=1").await;
    assert_eq!(names(&page["namespaces"]), [HDFS, BUCKET]);
    let past = get_json(&app, "/api/v1/namespaces?offset=10").await;
    assert_eq!(past["namespaces"], json!([]));
}

/// Datasets `a`, `b`, `c` in `s3://bucket` and `z` in `s3://other`, written by `etl/write`.
async fn three_datasets(pool: TestDb) -> TestApp {
    let app = TestApp::new(pool);
    let outputs = [
        ds(BUCKET, "c"),
        ds(BUCKET, "a"),
        ds("s3://other", "z"),
        ds(BUCKET, "b"),
    ];
    complete(&app, 0, T1, ("etl", "write"), (&[], &outputs)).await;
    app
}

/// A URL-encoded namespace lists its datasets by name, rendered as in the lineage graph.
#[rstest]
#[tokio::test]
async fn datasets_of_an_encoded_namespace_are_listed_by_name(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = three_datasets(pool).await;
    let list = get_json(&app, "/api/v1/namespaces/s3%3A%2F%2Fbucket/datasets").await;
    assert_eq!(names(&list["datasets"]), ["a", "b", "c"], "{list:#}");
    assert_eq!(list["totalCount"], 3);
    let a = &list["datasets"][0];
    assert_eq!(a["id"], ds(BUCKET, "a"));
    assert_eq!(
        (&a["type"], &a["sourceName"]),
        (&json!("DB_TABLE"), &json!(BUCKET))
    );
    let other = get_json(&app, "/api/v1/namespaces/s3%3A%2F%2Fother/datasets").await;
    assert_eq!(names(&other["datasets"]), ["z"]);
}

/// Pages of datasets carry the namespace's full count, even past the end.
#[rstest]
#[tokio::test]
async fn dataset_pages_carry_the_full_count(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let app = three_datasets(pool).await;
    let base = "/api/v1/namespaces/s3%3A%2F%2Fbucket/datasets";
    let cases = [
        ("limit=2", vec!["a", "b"]),
        ("limit=2&offset=2", vec!["c"]),
        ("offset=5", vec![]),
    ];
    for (query, expected) in cases {
        let page = get_json(&app, &format!("{base}?{query}")).await;
        assert_eq!(names(&page["datasets"]), expected, "{query}");
        assert_eq!(page["totalCount"], 3, "{query}");
    }
    let empty = get_json(&app, "/api/v1/namespaces/nowhere/datasets").await;
    assert_eq!(empty, json!({"datasets": [], "totalCount": 0}));
}

/// Jobs of a namespace are listed by name with their latest runs, paged with the full count.
#[rstest]
#[tokio::test]
async fn jobs_of_a_namespace_are_listed_by_name_with_latest_runs(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    for (n, (job, kind)) in [("c", "FAIL"), ("a", "COMPLETE"), ("b", "START")]
        .into_iter()
        .enumerate()
    {
        send_event(
            &app,
            &run_event(&run_id(n), kind, T1, ("etl", job), &[], &[ds(BUCKET, job)]),
        )
        .await;
    }
    complete(&app, 9, T1, ("elsewhere", "d"), (&[], &[ds(BUCKET, "d")])).await;
    let list = get_json(&app, "/api/v1/namespaces/etl/jobs").await;
    assert_eq!(names(&list["jobs"]), ["a", "b", "c"], "{list:#}");
    assert_eq!(list["totalCount"], 3);
    let states: Vec<&Value> = list["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| &j["latestRun"]["state"])
        .collect();
    assert_eq!(
        states,
        [&json!("COMPLETED"), &json!("RUNNING"), &json!("FAILED")]
    );
    assert_eq!(list["jobs"][0]["outputs"], json!([ds(BUCKET, "a")]));
    let page = get_json(&app, "/api/v1/namespaces/etl/jobs?limit=1&offset=1").await;
    assert_eq!(
        (names(&page["jobs"]), &page["totalCount"]),
        (vec!["b".to_owned()], &json!(3))
    );
    let past = get_json(&app, "/api/v1/namespaces/etl/jobs?offset=3").await;
    assert_eq!(past, json!({"jobs": [], "totalCount": 3}));
}

/// Spline jobs are listed under the namespace `spline`, and Spline datasets under their URI's.
#[rstest]
#[tokio::test]
async fn spline_jobs_and_datasets_are_listed_under_their_namespaces(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = mixed(pool).await;
    let jobs = get_json(&app, "/api/v1/namespaces/spline/jobs").await;
    assert_eq!(names(&jobs["jobs"]), [PLAN], "{jobs:#}");
    assert_eq!(jobs["totalCount"], 1);
    assert_eq!(jobs["jobs"][0]["outputs"], json!([ds(HDFS, "/data/x")]));
    let uri = format!("/api/v1/namespaces/{}/datasets", encode(HDFS));
    let datasets = get_json(&app, &uri).await;
    assert_eq!(
        names(&datasets["datasets"]),
        ["/data/raw", "/data/x"],
        "{datasets:#}"
    );
}

/// Runs of a job, latest first by event time, paged with the full count.
#[rstest]
#[tokio::test]
async fn runs_of_a_job_are_listed_latest_first(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    two_runs(&app).await;
    let runs = get_json(&app, "/api/v1/namespaces/etl/jobs/orders/runs").await;
    let ids: Vec<&Value> = runs["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["id"])
        .collect();
    assert_eq!(ids, [&json!(run_id(2)), &json!(run_id(1))], "{runs:#}");
    assert_eq!(runs["totalCount"], 2);
    let first = &runs["runs"][1];
    assert_eq!(first["state"], "COMPLETED");
    assert_eq!(
        (time(&first["startedAt"]), time(&first["endedAt"])),
        (t(T1), t(T2))
    );
    let page = get_json(
        &app,
        "/api/v1/namespaces/etl/jobs/orders/runs?limit=1&offset=1",
    )
    .await;
    assert_eq!(page["runs"][0]["id"], run_id(1));
    assert_eq!(page["totalCount"], 2);
    let past = get_json(&app, "/api/v1/namespaces/etl/jobs/orders/runs?offset=9").await;
    assert_eq!(past, json!({"runs": [], "totalCount": 2}));
}

/// Runs of an unknown job, or of a job under another namespace, are 404.
#[rstest]
#[tokio::test]
async fn runs_of_an_unknown_job_are_not_found(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    two_runs(&app).await;
    for uri in [
        "/api/v1/namespaces/etl/jobs/nobody/runs",
        "/api/v1/namespaces/other/jobs/orders/runs",
    ] {
        app.get(uri)
            .await
            .assert_problem(StatusCode::NOT_FOUND, "not-found", None);
    }
}

/// A Spline job's runs are its execution events, under the namespace `spline`, latest first.
#[rstest]
#[tokio::test]
async fn spline_job_runs_are_listed_under_the_spline_namespace(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = mixed(pool).await;
    store_spline_event(&app, RUN_TS, json!({"durationNs": 1_000_000})).await;
    store_spline_event(&app, RUN_TS + 60_000, json!({"error": {"message": "boom"}})).await;
    let runs = get_json(&app, &format!("/api/v1/namespaces/spline/jobs/{PLAN}/runs")).await;
    let states: Vec<&Value> = runs["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["state"])
        .collect();
    assert_eq!(states, [&json!("FAILED"), &json!("COMPLETED")], "{runs:#}");
    assert_eq!(runs["totalCount"], 2);
    assert_eq!(runs["runs"][1]["id"], format!("{PLAN}:lhq160w0"));
    assert_eq!(runs["runs"][1]["durationMs"], 1);
}

// --- search ------------------------------------------------------------------------------------

/// `etl/orders_daily` reads `raw/orders` and writes `clean/orders` at T1; DatasetEvents touch
/// `clean/orders` at T2 and `raw/orders` at T3; `warehouse` holds `customers`.
async fn searchable(pool: TestDb) -> TestApp {
    let app = TestApp::new(pool);
    let io: (&[Value], &[Value]) = (&[ds(BUCKET, "raw/orders")], &[ds(BUCKET, "clean/orders")]);
    complete(&app, 0, T1, ("etl", "orders_daily"), io).await;
    send_event(&app, &dataset_event(T2, ds(BUCKET, "clean/orders"))).await;
    send_event(&app, &dataset_event(T3, ds(BUCKET, "raw/orders"))).await;
    send_event(&app, &dataset_event(T1, ds("warehouse", "customers"))).await;
    app
}

/// GETs a search; asserts 200 and that totalCount is the number of results.
async fn search(app: &TestApp, query: &str) -> Value {
    let found = get_json(app, &format!("/api/v1/search?{query}")).await;
    let count = found["results"].as_array().expect("results").len();
    assert_eq!(found["totalCount"], count, "{query}: {found:#}");
    found
}

/// Search finds datasets and jobs whose names hold the text, sorted by name.
#[rstest]
#[tokio::test]
async fn search_finds_datasets_and_jobs_by_name(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let app = searchable(pool).await;
    let found = search(&app, "q=ORDERS").await;
    assert_eq!(
        names(&found["results"]),
        ["clean/orders", "orders_daily", "raw/orders"],
        "{found:#}"
    );
    let results = found["results"].as_array().unwrap();
    let (clean, job) = (&results[0], &results[1]);
    assert_eq!(clean["type"], "DATASET");
    assert_eq!(clean["namespace"], BUCKET);
    assert_eq!(clean["nodeId"], "dataset:s3://bucket:clean/orders");
    assert_eq!(time(&clean["updatedAt"]), t(T2));
    assert_eq!(
        (&job["type"], &job["namespace"]),
        (&json!("JOB"), &json!("etl"))
    );
    assert_eq!(job["nodeId"], "job:etl:orders_daily");
}

/// `filter`, `namespace` and `limit` narrow the results; `sort=updated_at` is latest first.
#[rstest]
#[tokio::test]
async fn search_filters_by_type_and_namespace_and_sorts_by_update(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = searchable(pool).await;
    let cases = [
        (
            "q=orders&filter=dataset",
            vec!["clean/orders", "raw/orders"],
        ),
        ("q=orders&filter=JOB", vec!["orders_daily"]),
        ("q=orders&namespace=etl", vec!["orders_daily"]),
        ("q=orders&limit=1", vec!["clean/orders"]),
        (
            "q=orders&sort=updated_at",
            vec!["raw/orders", "clean/orders", "orders_daily"],
        ),
        ("q=customers", vec!["customers"]),
        ("q=nothing", vec![]),
    ];
    for (query, expected) in cases {
        assert_eq!(
            names(&search(&app, query).await["results"]),
            expected,
            "{query}"
        );
    }
}

/// Search matches names only, like Marquez: a namespace's text alone finds nothing.
#[rstest]
#[tokio::test]
async fn search_matches_names_not_namespaces(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let app = searchable(pool).await;
    for q in ["bucket", "warehouse", "etl"] {
        let found = search(&app, &format!("q={q}")).await;
        assert_eq!(found["results"], json!([]), "q={q}: {found:#}");
    }
}

/// A missing or blank `q`, an unknown `filter` or `sort` are 400 on that parameter.
#[rstest]
#[tokio::test]
async fn bad_search_parameters_are_bad_requests(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let app = searchable(pool).await;
    let cases = [
        ("filter=dataset", "q"),
        ("q=%20%20", "q"),
        ("q=orders&filter=table", "filter"),
        ("q=orders&sort=size", "sort"),
    ];
    for (query, path) in cases {
        app.get(&format!("/api/v1/search?{query}"))
            .await
            .assert_problem(StatusCode::BAD_REQUEST, "invalid-parameter", Some(path));
    }
}

// --- raw events --------------------------------------------------------------------------------

/// Three events of `etl/orders`, at T1, T2 (written with a +02:00 offset) and T3, with facets
/// and a field Headwater doesn't model.
fn three_events() -> [Value; 3] {
    let job = ("etl", "orders");
    let mut first = run_event(&run_id(0), "START", T1, job, &[ds(BUCKET, "raw")], &[]);
    first["run"]["facets"] = nominal_facets();
    first["x-custom"] = json!({"kept": [1, 2, 3]});
    let second = run_event(
        &run_id(0),
        "RUNNING",
        "2024-10-16T19:05:00+02:00",
        job,
        &[],
        &[],
    );
    let third = run_event(&run_id(0), "COMPLETE", T3, job, &[], &[ds(BUCKET, "out")]);
    [first, second, third]
}

/// Stores [`three_events`] in the order second, third, first.
async fn events_app(pool: TestDb) -> (TestApp, [Value; 3]) {
    let app = TestApp::new(pool);
    let events = three_events();
    for i in [1, 2, 0] {
        send_event(&app, &events[i]).await;
    }
    (app, events)
}

/// GETs the event listing with a query; asserts 200.
async fn events(app: &TestApp, query: &str) -> Value {
    get_json(app, &format!("/api/v1/events/lineage?{query}")).await
}

/// Events are listed exactly as posted, latest event time first, with their count.
#[rstest]
#[tokio::test]
async fn lineage_events_are_listed_as_posted_latest_first(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let (app, [e1, e2, e3]) = events_app(pool).await;
    let listed = events(&app, "").await;
    assert_eq!(listed["events"], json!([e3, e2, e1]), "{listed:#}");
    assert_eq!(listed["totalCount"], 3);
    let asc = events(&app, "sortDirection=asc").await;
    assert_eq!(asc["events"], json!([e1, e2, e3]));
    let desc = events(&app, "sortDirection=DESC").await;
    assert_eq!(desc["events"], json!([e3, e2, e1]));
}

/// An event is listed as the bytes it was posted as: PostgreSQL's `jsonb` would write
/// `f64::MAX` out as 309 digits (which serde_json then refused, a 500 Schemathesis found),
/// and a parsed value would reorder the keys.
#[rstest]
#[tokio::test]
async fn lineage_events_are_listed_byte_for_byte(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    let event = three_events()[1].to_string();
    let facet = r#""zz_custom":{"_producer":"p","_schemaURL":"s","huge":1.7976931348623157e308,"b":1,"a":2}"#;
    let posted = event.replacen(
        r#""run":{"#,
        &format!(r#""run":{{"facets":{{{facet}}},"#),
        1,
    );
    assert_ne!(posted, event, "the facet went in");
    let sent = app
        .post(
            "/api/v1/lineage",
            Some("application/json"),
            &[],
            posted.clone(),
        )
        .await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.text());
    let listed = app.get("/api/v1/events/lineage").await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text());
    assert_eq!(
        listed.text(),
        format!(r#"{{"events":[{posted}],"totalCount":1}}"#)
    );
}

/// `after` and `before` bound the window inclusively, by instant, and the count is the window's.
#[rstest]
#[tokio::test]
async fn before_and_after_bound_the_event_window(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let (app, [e1, e2, e3]) = events_app(pool).await;
    let cases = [
        (format!("after={T2}"), json!([e3, e2])),
        (format!("before={T2}"), json!([e2, e1])),
        (format!("after={T2}&before={T2}"), json!([e2])),
        (format!("after={T4}"), json!([])),
    ];
    for (query, expected) in cases {
        let listed = events(&app, &query).await;
        let count = expected.as_array().unwrap().len();
        assert_eq!(listed["events"], expected, "{query}");
        assert_eq!(listed["totalCount"], count, "{query}");
    }
}

/// `limit` and `offset` page the events; the count stays the window's.
#[rstest]
#[tokio::test]
async fn event_pages_carry_the_full_count(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let (app, [e1, e2, _]) = events_app(pool).await;
    let page = events(&app, "limit=1&offset=1").await;
    assert_eq!(page["events"], json!([e2]));
    assert_eq!(page["totalCount"], 3);
    let asc = events(&app, "sortDirection=asc&limit=1").await;
    assert_eq!(asc["events"], json!([e1]));
    let past = events(&app, "offset=10").await;
    assert_eq!(
        (&past["events"], &past["totalCount"]),
        (&json!([]), &json!(3))
    );
}

/// Spline plans and events are not OpenLineage events and are not listed.
#[rstest]
#[tokio::test]
async fn spline_payloads_are_not_listed_as_lineage_events(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = mixed(pool).await;
    store_spline_event(&app, RUN_TS, json!({})).await;
    let listed = events(&app, "").await;
    let only = run_event(
        &run_id(0),
        "COMPLETE",
        T1,
        ("etl", "publish"),
        &[ds(HDFS, "/data/x")],
        &[ds(BUCKET, "published/x")],
    );
    assert_eq!(listed["events"], json!([only]), "{listed:#}");
    assert_eq!(listed["totalCount"], 1);
}

/// A bad `sortDirection`, time or limit is 400 on that parameter.
#[rstest]
#[tokio::test]
async fn bad_event_listing_parameters_are_bad_requests(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let (app, _) = events_app(pool).await;
    let cases = [
        ("sortDirection=sideways", "sortDirection"),
        ("before=yesterday", "before"),
        ("after=2024-13-01", "after"),
        ("limit=1001", "limit"),
    ];
    for (query, path) in cases {
        app.get(&format!("/api/v1/events/lineage?{query}"))
            .await
            .assert_problem(StatusCode::BAD_REQUEST, "invalid-parameter", Some(path));
    }
}
