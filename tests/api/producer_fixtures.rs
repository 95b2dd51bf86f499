//! Spline's own generated payloads (`tests/data/spline/producer-v1.2-generated/`): every plan and
//! event line of every file is posted, and the stored graph is checked against what each plan,
//! parsed independently here, says.
//!
//! Note on the "chain" and "diamond" files: the chain/diamond shape is *inside* each plan (its
//! operation DAG). Across plans they share one dataset only: every plan writes
//! `file://splinegen/write.csv`, and no plan reads it. Multi-hop lineage is therefore exercised
//! by adding one hand-written plan that reads that shared output.

use std::collections::{BTreeMap, BTreeSet};

use axum::http::StatusCode;
use serde_json::{Value, json};

use headwater::http::{HttpSettings, QueryLimits};
use rstest::rstest;

use crate::helpers::{Backend, Postgres, Sqlite, TestDb};
use crate::helpers::{
    TestApp, V11, V12, base36, edge_triples, encode, fixture_lines, node_details, node_keys,
};

const CHAIN: &str = "spline/producer-v1.2-generated/spline-getting-started_chain-lineage-1-2001@50reads-3ops-4attr.json.txt";
const DIAMOND: &str = "spline/producer-v1.2-generated/spline-getting-started_diamond-lineage-1-1001@50reads-3ops-4attr.json.txt";
const TRIANGLE: &str = "spline/producer-v1.2-generated/spline-getting-started_triangle-lineage-5reads-3-10@10ops-4attr.json.txt";
const GENERATOR: &str = "spline/producer-v1.2-generated/spline_test-data-generator_triangle-lineage-3reads-20ops-3attr.json.txt";

/// Every fixture file with the Content-Type Spline's tooling posts it with: the test-data
/// generator's `send-plans-and-events.sh` uses v1.1, JMeter tests v1.2.
const FILES: [(&str, &str); 4] = [
    (CHAIN, V12),
    (DIAMOND, V12),
    (TRIANGLE, V12),
    (GENERATOR, V11),
];

/// The one dataset every generated plan writes.
const WRITE_CSV: &str = "dataset:file://splinegen/write.csv";

/// First plan of the chain file (read from the file: one read of one URI).
const CHAIN_FIRST_PLAN: &str = "e31543b6-e681-4aec-b096-41ba6d53339c";
const CHAIN_FIRST_READ: &str =
    "dataset:file://splinegen/read_80a4ed40-70bd-47a0-b979-df79ceebe44d_1.csv";
/// The two triangle plans: both read `read_1.csv`..`read_3.csv`.
const TRIANGLE_PLAN: &str = "8e3815c6-c3c8-4ad5-bda1-52020a8f864f";
const GENERATOR_PLAN: &str = "2e971a3c-840b-49cc-8195-cc24bbf3cd43";

/// A (source key, target key) pair of one edge kind.
type Pair = (String, String);

/// One plan line of a fixture file, with the version it was posted as.
struct Plan {
    json: Value,
    version: &'static str,
}

/// One event of an event line.
struct Event {
    plan_id: String,
    timestamp: i64,
    version: &'static str,
}

/// Everything posted from the fixture files.
#[derive(Default)]
struct Posted {
    plans: Vec<Plan>,
    events: Vec<Event>,
}

fn version_of(content_type: &str) -> &'static str {
    if content_type == V11 { "1.1" } else { "1.2" }
}

fn text(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
}

fn array(v: &Value) -> &[Value] {
    v.as_array().map_or(&[], Vec::as_slice)
}

impl Plan {
    fn id(&self) -> String {
        text(&self.json["id"])
    }

    fn job(&self) -> String {
        format!("job:{}", self.id())
    }

    fn op(&self, id: &Value) -> String {
        format!("op:{}:{}", self.id(), text(id))
    }

    fn attr(&self, id: &Value) -> String {
        format!("attr:{}:{}", self.id(), text(id))
    }

    fn write(&self) -> &Value {
        &self.json["operations"]["write"]
    }

    fn reads(&self) -> &[Value] {
        array(&self.json["operations"]["reads"])
    }

    fn others(&self) -> &[Value] {
        array(&self.json["operations"]["other"])
    }

    fn operations(&self) -> Vec<&Value> {
        let mut ops = vec![self.write()];
        ops.extend(self.reads());
        ops.extend(self.others());
        ops
    }

    fn attributes(&self) -> &[Value] {
        array(&self.json["attributes"])
    }

    fn output(&self) -> String {
        format!("dataset:{}", text(&self.write()["outputSource"]))
    }

    /// Keys of the dataset columns the plan names: each read's output attributes for each
    /// source it reads, and the write's input schema (its children's outputs) for its output.
    fn columns(&self) -> BTreeSet<String> {
        let names: BTreeMap<String, String> = self
            .attributes()
            .iter()
            .map(|a| (text(&a["id"]), text(&a["name"])))
            .collect();
        let outputs: BTreeMap<String, &[Value]> = self
            .reads()
            .iter()
            .chain(self.others())
            .map(|op| (text(&op["id"]), array(&op["output"])))
            .collect();
        let mut columns = BTreeSet::new();
        for read in self.reads() {
            for uri in array(&read["inputSources"]) {
                for attr in array(&read["output"]) {
                    columns.insert(format!("field:{}#{}", text(uri), names[&text(attr)]));
                }
            }
        }
        let written = text(&self.write()["outputSource"]);
        for child in array(&self.write()["childIds"]) {
            for attr in outputs.get(&text(child)).copied().unwrap_or_default() {
                columns.insert(format!("field:{written}#{}", names[&text(attr)]));
            }
        }
        columns
    }

    /// Keys of the distinct datasets the plan reads.
    fn inputs(&self) -> BTreeSet<String> {
        let uris = self.reads().iter().flat_map(|r| array(&r["inputSources"]));
        uris.map(|u| format!("dataset:{}", text(u))).collect()
    }

    fn reads_from(&self) -> BTreeSet<Pair> {
        let mut pairs = BTreeSet::new();
        for read in self.reads() {
            for uri in array(&read["inputSources"]) {
                pairs.insert((format!("dataset:{}", text(uri)), self.op(&read["id"])));
            }
        }
        pairs
    }

    /// child op → parent op, for every `childIds` entry.
    fn data_flow(&self) -> BTreeSet<Pair> {
        let mut pairs = BTreeSet::new();
        for op in self.operations() {
            for child in array(&op["childIds"]) {
                pairs.insert((self.op(child), self.op(&op["id"])));
            }
        }
        pairs
    }

    /// op → attribute, where the op lists the attribute in its output and none of its inputs do.
    fn produces(&self) -> BTreeSet<Pair> {
        let outputs: BTreeMap<String, &[Value]> = self
            .operations()
            .into_iter()
            .map(|op| (text(&op["id"]), array(&op["output"])))
            .collect();
        let mut pairs = BTreeSet::new();
        for op in self.operations() {
            let children = array(&op["childIds"]);
            for attr in array(&op["output"]) {
                let inherited = children
                    .iter()
                    .any(|c| outputs.get(&text(c)).is_some_and(|o| o.contains(attr)));
                if !inherited {
                    pairs.insert((self.op(&op["id"]), self.attr(attr)));
                }
            }
        }
        pairs
    }

    /// source attribute → derived attribute, following expressions down to attributes.
    fn derives(&self) -> BTreeSet<Pair> {
        let functions: BTreeMap<String, &Value> = array(&self.json["expressions"]["functions"])
            .iter()
            .map(|f| (text(&f["id"]), f))
            .collect();
        let mut pairs = BTreeSet::new();
        for attr in self.attributes() {
            let mut sources = BTreeSet::new();
            collect_attr_refs(array(&attr["childRefs"]), &functions, &mut sources, 0);
            for source in sources {
                pairs.insert((self.attr(&json!(source)), self.attr(&attr["id"])));
            }
        }
        pairs
    }
}

fn collect_attr_refs(
    refs: &[Value],
    functions: &BTreeMap<String, &Value>,
    out: &mut BTreeSet<String>,
    depth: usize,
) {
    assert!(depth < 32, "fixture expressions are shallow");
    for r in refs {
        if let Some(attr) = r.get("__attrId") {
            out.insert(text(attr));
        } else if let Some(f) = r.get("__exprId").and_then(|e| functions.get(&text(e))) {
            collect_attr_refs(array(&f["childRefs"]), functions, out, depth + 1);
        }
    }
}

impl Posted {
    /// Jobs that read `dataset`.
    fn readers(&self, dataset: &str) -> Vec<&Plan> {
        let plans = self.plans.iter();
        plans.filter(|p| p.inputs().contains(dataset)).collect()
    }

    /// Lineage one job hop downstream of a dataset: its readers and what they write.
    fn downstream_of(
        &self,
        dataset: &str,
    ) -> (BTreeSet<String>, BTreeSet<(String, String, String)>) {
        let mut nodes = BTreeSet::from([dataset.to_owned()]);
        let mut edges = BTreeSet::new();
        for reader in self.readers(dataset) {
            nodes.extend([reader.job(), reader.output()]);
            edges.insert((dataset.to_owned(), "input".to_owned(), reader.job()));
            edges.insert((reader.job(), "output".to_owned(), reader.output()));
        }
        (nodes, edges)
    }
}

/// Posts every line of `file` in order (plan, then its events), asserting 201 each time.
async fn post_file(app: &TestApp, file: &str, content_type: &str, posted: &mut Posted) {
    let version = version_of(content_type);
    for line in fixture_lines(file) {
        let json: Value = serde_json::from_str(&line).expect("fixture line is JSON");
        if let Some(events) = json.as_array() {
            let response = app.post_events(content_type, line.clone()).await;
            assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
            assert!(response.body.is_empty(), "events answer an empty body");
            posted.events.extend(events.iter().map(|e| Event {
                plan_id: text(&e["planId"]),
                timestamp: e["timestamp"].as_i64().unwrap(),
                version,
            }));
        } else {
            let response = app.post_plan(content_type, line.clone()).await;
            assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
            assert_eq!(response.json(), json["id"], "the plan's own id is answered");
            posted.plans.push(Plan { json, version });
        }
    }
}

async fn post_files(app: &TestApp, files: &[(&str, &str)]) -> Posted {
    let mut posted = Posted::default();
    for (file, content_type) in files {
        post_file(app, file, content_type, &mut posted).await;
    }
    posted
}

async fn lineage_with_max(app: &TestApp, node: &str, direction: &str, depth: u32) -> Value {
    let uri = format!(
        "/api/v1/graph/lineage?node={}&direction={direction}&depth={depth}&maxNodes=100000",
        encode(node)
    );
    let response = app.get(&uri).await;
    assert_eq!(
        response.status,
        StatusCode::OK,
        "{node}: {}",
        response.text()
    );
    response.json()
}

/// Edges of `details` of one kind, as (source, target) pairs.
fn pairs_of(details: &Value, kind: &str) -> BTreeSet<Pair> {
    let edges = array(&details["edges"])
        .iter()
        .filter(|e| e["kind"] == kind);
    edges
        .map(|e| (text(&e["source"]), text(&e["target"])))
        .collect()
}

/// Every stored edge of one kind, by node key.
async fn stored_pairs(pool: &TestDb, kind: &str) -> BTreeSet<Pair> {
    let sql = format!(
        "select s.key, t.key from edge e
         join node s on s.node_id = e.source_id
         join node t on t.node_id = e.target_id
         where e.kind = '{kind}'"
    );
    let rows = pool.text_rows(&sql).await;
    rows.into_iter()
        .map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap()))
        .collect()
}

/// Stored edges of one kind whose target belongs to `plan` (its op/attr/job keys).
fn of_plan(all: &BTreeSet<Pair>, plan: &Plan) -> BTreeSet<Pair> {
    let id = plan.id();
    let mine = |key: &str| key.split(':').nth(1) == Some(id.as_str());
    all.iter().filter(|(_, t)| mine(t)).cloned().collect()
}

async fn count_nodes(pool: &TestDb, kind: &str, like: &str) -> i64 {
    let sql = format!("select count(*) from node where kind = '{kind}' and key like '{like}'");
    pool.scalar(&sql).await
}

/// Asserts that `stored` carries every field `sent` had, with the same value (the service may
/// add explicit nulls for absent optional fields, but may not drop or change anything).
#[track_caller]
fn assert_carries(stored: &Value, sent: &Value, path: &str) {
    match (stored, sent) {
        (Value::Object(s), Value::Object(o)) => {
            for (k, v) in o {
                let inner = s.get(k).unwrap_or(&Value::Null);
                assert!(s.contains_key(k), "{path}.{k} is missing");
                assert_carries(inner, v, &format!("{path}.{k}"));
            }
        }
        (Value::Array(s), Value::Array(o)) => {
            assert_eq!(s.len(), o.len(), "{path} length");
            for (i, (a, b)) in s.iter().zip(o).enumerate() {
                assert_carries(a, b, &format!("{path}[{i}]"));
            }
        }
        _ => assert_eq!(stored, sent, "{path}"),
    }
}

/// The job node's name and properties keep the plan; its edges are exactly its reads and write.
async fn check_job_node(app: &TestApp, plan: &Plan) {
    let details = node_details(app, &plan.job()).await;
    let node = &details["node"];
    assert_eq!(node["kind"], "job");
    assert_eq!(node["name"], plan.json["name"]);
    let props = &node["properties"];
    assert_eq!(props["format"], "spline");
    assert_eq!(props["producerApiVersion"], plan.version, "{}", plan.id());
    assert_eq!(props["output"], plan.write()["outputSource"]);
    assert_eq!(props["append"], plan.write()["append"]);
    let inputs: BTreeSet<String> = array(&props["inputs"])
        .iter()
        .map(|u| format!("dataset:{}", text(u)))
        .collect();
    assert_eq!(inputs, plan.inputs());
    for field in ["name", "labels", "systemInfo", "extraInfo", "expressions"] {
        assert_carries(&props[field], &plan.json[field], field);
    }
    check_job_edges(&details, plan);
}

fn check_job_edges(details: &Value, plan: &Plan) {
    let job = plan.job();
    let outputs: Vec<&Value> = array(&details["edges"])
        .iter()
        .filter(|e| e["kind"] == "output")
        .collect();
    assert_eq!(outputs.len(), 1, "exactly one output edge: {}", plan.id());
    assert_eq!(outputs[0]["source"], job.as_str());
    assert_eq!(outputs[0]["target"], plan.output().as_str());
    assert_eq!(
        outputs[0]["properties"],
        json!({"append": plan.write()["append"]})
    );
    let inputs = pairs_of(details, "input");
    let expected: BTreeSet<Pair> = plan
        .inputs()
        .into_iter()
        .map(|d| (d, job.clone()))
        .collect();
    // The node page lists at most 500 edges per direction; incoming = inputs + one run_of.
    let capped = expected.len() + 1 > 500;
    assert_eq!(details["truncated"], capped, "{}", plan.id());
    if capped {
        assert_eq!(inputs.len(), 500);
        assert!(inputs.is_subset(&expected), "{}", plan.id());
    } else {
        assert_eq!(inputs, expected, "{}", plan.id());
    }
    let has_op = pairs_of(details, "has_operation");
    assert_eq!(has_op.len(), plan.operations().len(), "{}", plan.id());
}

/// Upstream of the job, one hop: the job and exactly its input datasets, whatever their number.
async fn check_job_inputs_by_lineage(app: &TestApp, plan: &Plan) {
    let lineage = lineage_with_max(app, &plan.job(), "upstream", 1).await;
    let mut expected = plan.inputs();
    expected.insert(plan.job());
    let nodes: BTreeSet<String> = node_keys(&lineage).into_iter().collect();
    assert_eq!(nodes, expected, "{}", plan.id());
    let edges: BTreeSet<_> = edge_triples(&lineage).into_iter().collect();
    let expected: BTreeSet<_> = plan
        .inputs()
        .into_iter()
        .map(|d| (d, "input".to_owned(), plan.job()))
        .collect();
    assert_eq!(edges, expected, "{}", plan.id());
    assert_eq!(lineage["truncated"], false);
}

/// Downstream of the plan's first input, one hop: computed from every posted plan.
async fn check_lineage_from_first_input(app: &TestApp, posted: &Posted, plan: &Plan) {
    let first = plan
        .inputs()
        .into_iter()
        .next()
        .expect("plan reads something");
    let lineage = lineage_with_max(app, &first, "downstream", 1).await;
    let (nodes, edges) = posted.downstream_of(&first);
    let got: BTreeSet<String> = node_keys(&lineage).into_iter().collect();
    assert_eq!(got, nodes, "downstream of {first}");
    let got: BTreeSet<_> = edge_triples(&lineage).into_iter().collect();
    assert_eq!(got, edges, "downstream of {first}");
    assert_eq!(lineage["depthReached"], 1);
}

/// Operation and attribute node counts, and the plan-internal edges, match the plan exactly.
async fn check_plan_internals(pool: &TestDb, plan: &Plan, stored: &BTreeMap<&str, BTreeSet<Pair>>) {
    let id = plan.id();
    let ops = count_nodes(pool, "operation", &format!("op:{id}:%")).await;
    assert_eq!(ops as usize, plan.operations().len(), "operations of {id}");
    let attrs = count_nodes(pool, "attribute", &format!("attr:{id}:%")).await;
    assert_eq!(
        attrs as usize,
        plan.attributes().len(),
        "attributes of {id}"
    );
    assert_eq!(
        of_plan(&stored["reads_from"], plan),
        plan.reads_from(),
        "{id}"
    );
    assert_eq!(
        of_plan(&stored["data_flow"], plan),
        plan.data_flow(),
        "{id}"
    );
    assert_eq!(of_plan(&stored["produces"], plan), plan.produces(), "{id}");
    let derives = plan.derives();
    assert!(
        !derives.is_empty(),
        "fixture attributes have childRefs: {id}"
    );
    assert_eq!(of_plan(&stored["derives"], plan), derives, "{id}");
    let write = plan.op(&plan.write()["id"]);
    assert!(
        stored["writes_to"].contains(&(write, plan.output())),
        "{id}"
    );
}

/// The run exists under Spline's event key and points at its job.
async fn check_run(app: &TestApp, event: &Event) {
    let event_key = format!("{}:{}", event.plan_id, base36(event.timestamp));
    let run_key = format!("run:{event_key}");
    let details = node_details(app, &run_key).await;
    let props = &details["node"]["properties"];
    assert_eq!(details["node"]["kind"], "run");
    assert_eq!(props["eventKey"], event_key.as_str());
    assert_eq!(props["timestamp"], event.timestamp);
    assert_eq!(props["planId"], event.plan_id.as_str());
    assert_eq!(props["status"], "succeeded");
    assert_eq!(props["producerApiVersion"], event.version);
    assert_eq!(props["labels"], json!({}));
    assert_eq!(props["extra"], json!({}));
    let job = format!("job:{}", event.plan_id);
    assert_eq!(
        pairs_of(&details, "run_of"),
        BTreeSet::from([(run_key, job)])
    );
}

/// All four files: every line answers 201 and every plan's job node and lineage match the plan.
#[rstest]
#[tokio::test]
async fn every_fixture_plan_is_stored_as_the_job_and_dataset_lineage_it_describes(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    let posted = post_files(&app, &FILES).await;
    assert_eq!(posted.plans.len(), 64);
    assert_eq!(posted.events.len(), 64);
    for plan in &posted.plans {
        check_job_node(&app, plan).await;
        check_job_inputs_by_lineage(&app, plan).await;
        check_lineage_from_first_input(&app, &posted, plan).await;
    }
}

/// All four files: each plan's operations, attributes and their edges, and each event's run.
#[rstest]
#[tokio::test]
async fn every_fixture_plan_keeps_its_operations_attributes_derivations_and_runs(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool.clone());
    let posted = post_files(&app, &FILES).await;
    let mut stored = BTreeMap::new();
    for kind in [
        "reads_from",
        "data_flow",
        "produces",
        "derives",
        "writes_to",
    ] {
        stored.insert(kind, stored_pairs(&pool, kind).await);
    }
    for plan in &posted.plans {
        check_plan_internals(&pool, plan, &stored).await;
    }
    for event in &posted.events {
        check_run(&app, event).await;
    }
}

async fn kind_counts(pool: &TestDb, table: &str) -> BTreeMap<String, i64> {
    let sql = format!("select kind, cast(count(*) as text) from {table} group by kind");
    let rows = pool.text_rows(&sql).await;
    let number = |n: &Option<String>| n.as_deref().unwrap().parse::<i64>().unwrap();
    rows.iter()
        .map(|r| (r[0].clone().unwrap(), number(&r[1])))
        .collect()
}

/// The totals over all four files, verified against the files with an independent script.
#[rstest]
#[tokio::test]
async fn all_fixtures_together_make_the_expected_number_of_nodes_and_edges(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool.clone());
    let posted = post_files(&app, &FILES).await;
    let datasets: BTreeSet<String> = posted
        .plans
        .iter()
        .flat_map(|p| p.inputs().into_iter().chain([p.output()]))
        .collect();
    assert_eq!(
        datasets.len(),
        51_568,
        "3 read URIs are shared, write.csv by all"
    );
    let columns: BTreeSet<String> = posted.plans.iter().flat_map(Plan::columns).collect();
    let nodes = kind_counts(&pool, "node").await;
    let expected = [
        ("attribute", 1_101),
        ("dataset", 51_568),
        ("field", columns.len() as i64),
        ("job", 64),
        ("operation", 407),
        ("run", 64),
    ];
    let expected: BTreeMap<String, i64> = expected.map(|(k, n)| (k.to_owned(), n)).into();
    assert_eq!(nodes, expected);
    let edges = kind_counts(&pool, "edge").await;
    assert_eq!(edges["input"], 51_570, "one per distinct URI per plan");
    assert_eq!(edges["output"], 64);
    assert_eq!(edges["run_of"], 64);
    assert_eq!(edges["has_operation"], 407);
    assert_eq!(edges["writes_to"], 64);
}

/// Hand-checked: the first chain plan reads one file and writes write.csv; depth 0 cuts it.
#[rstest]
#[tokio::test]
async fn the_first_chain_dataset_flows_through_its_job_into_write_csv(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    post_files(&app, &[(CHAIN, V12)]).await;
    let job = format!("job:{CHAIN_FIRST_PLAN}");
    let lineage = app.lineage(CHAIN_FIRST_READ, "downstream", 5).await;
    assert_eq!(
        node_keys(&lineage),
        [CHAIN_FIRST_READ, WRITE_CSV, job.as_str()]
    );
    let edges = edge_triples(&lineage);
    assert_eq!(edges.len(), 2, "{lineage}");
    assert!(edges.contains(&(CHAIN_FIRST_READ.into(), "input".into(), job.clone())));
    assert!(edges.contains(&(job.clone(), "output".into(), WRITE_CSV.into())));
    assert_eq!(lineage["depthReached"], 1);
    assert_eq!(lineage["truncated"], false);
    let cut = app.lineage(CHAIN_FIRST_READ, "downstream", 0).await;
    assert_eq!(node_keys(&cut), [CHAIN_FIRST_READ]);
    assert_eq!(cut["truncated"], true);
    assert_eq!(cut["depthReached"], 0);
}

/// Hand-checked: read_1.csv is read by both triangle plans, whose outputs are one shared node.
#[rstest]
#[tokio::test]
async fn both_triangle_plans_share_read_1_and_write_csv(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    post_files(&app, &[(TRIANGLE, V12), (GENERATOR, V11)]).await;
    let read_1 = "dataset:file://splinegen/read_1.csv";
    let lineage = app.lineage(read_1, "downstream", 1).await;
    let (triangle, generator) = (
        format!("job:{TRIANGLE_PLAN}"),
        format!("job:{GENERATOR_PLAN}"),
    );
    assert_eq!(
        node_keys(&lineage),
        [read_1, WRITE_CSV, generator.as_str(), triangle.as_str()]
    );
    let edges: BTreeSet<_> = edge_triples(&lineage).into_iter().collect();
    let expected = BTreeSet::from([
        (read_1.to_owned(), "input".to_owned(), triangle.clone()),
        (read_1.to_owned(), "input".to_owned(), generator.clone()),
        (triangle, "output".to_owned(), WRITE_CSV.to_owned()),
        (generator, "output".to_owned(), WRITE_CSV.to_owned()),
    ]);
    assert_eq!(edges, expected);
    let dataset = node_details(&app, read_1).await;
    assert_eq!(dataset["node"]["name"], "read_1.csv");
    assert_eq!(dataset["node"]["kind"], "dataset");
}

/// Hand-checked event keys: timestamps 1660049194971 and 1648216247966 in base 36.
#[rstest]
#[tokio::test]
async fn triangle_runs_are_keyed_by_plan_and_base36_timestamp(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    post_files(&app, &[(TRIANGLE, V12), (GENERATOR, V11)]).await;
    let runs = [
        (TRIANGLE_PLAN, "l6m6fgm3", 1_660_049_194_971_i64, "1.2"),
        (GENERATOR_PLAN, "l16hec9q", 1_648_216_247_966, "1.1"),
    ];
    for (plan, key, timestamp, version) in runs {
        let run = node_details(&app, &format!("run:{plan}:{key}")).await;
        let props = &run["node"]["properties"];
        assert_eq!(props["eventKey"], format!("{plan}:{key}"));
        assert_eq!(props["timestamp"], timestamp);
        assert_eq!(props["producerApiVersion"], version);
    }
}

/// Hand-checked: the diamond's join op has three data_flow inputs, each fed by the one read.
#[rstest]
#[tokio::test]
async fn the_first_diamond_plan_stores_its_operation_diamond(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    post_files(&app, &[(DIAMOND, V12)]).await;
    let plan = "73fcf741-784f-4187-9886-e620042fdc75";
    let op = |id: &str| format!("op:{plan}:{id}");
    let join = op("79cce30b-f957-445b-a193-50f7251003f9");
    let branches = [
        "75599261-328b-4fee-8bf2-00b820a36f43",
        "21b689a9-0a0c-4fee-a7d3-6d824e944b5a",
        "55d0bf83-bd25-45ae-9642-213a81ec658f",
    ];
    let details = node_details(&app, &join).await;
    let flows: BTreeMap<String, Value> = array(&details["edges"])
        .iter()
        .filter(|e| e["kind"] == "data_flow" && e["target"] == join.as_str())
        .map(|e| (text(&e["source"]), e["properties"]["index"].clone()))
        .collect();
    let expected: BTreeMap<String, Value> = branches
        .iter()
        .enumerate()
        .map(|(i, b)| (op(b), json!(i)))
        .collect();
    assert_eq!(flows, expected);
    let read = op("4265965e-14ec-404b-a6ae-46e31b08200e");
    for branch in branches {
        let details = node_details(&app, &op(branch)).await;
        assert!(pairs_of(&details, "data_flow").contains(&(read.clone(), op(branch))));
    }
}

/// Hand-checked derivation: `dummy_funcexpr("val_…", dummy_attr_4)` feeds one triangle column.
#[rstest]
#[tokio::test]
async fn a_triangle_attribute_derives_from_its_function_operand_with_the_rendered_expression(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    post_files(&app, &[(TRIANGLE, V12)]).await;
    let attr = |id: &str| format!("attr:{TRIANGLE_PLAN}:{id}");
    let derived = attr("0a57ec56-6a5c-4ab1-b229-26579ac54328");
    let source = attr("59d24fee-8255-49d9-840a-843b7e637d27");
    let details = node_details(&app, &derived).await;
    assert_eq!(
        details["node"]["name"],
        "dummy_attr_0a57ec56-6a5c-4ab1-b229-26579ac54328"
    );
    let derives: Vec<&Value> = array(&details["edges"])
        .iter()
        .filter(|e| e["kind"] == "derives" && e["target"] == derived.as_str())
        .collect();
    assert_eq!(derives.len(), 1, "{details}");
    assert_eq!(derives[0]["source"], source.as_str());
    assert_eq!(
        derives[0]["properties"]["expression"],
        "dummy_funcexpr(\"val_ba0e238b-f258-4e08-9be4-86674c1b31ec\", dummy_attr_4)"
    );
}

/// A hand-written plan that reads the shared write.csv: lineage from the first chain read
/// reaches its output two hops on, and depth 1 stops short with `truncated`.
#[rstest]
#[tokio::test]
async fn lineage_from_the_chain_continues_into_a_reader_of_write_csv_and_depth_cuts_it(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    post_files(&app, &[(CHAIN, V12), (DIAMOND, V12)]).await;
    let reader = r#"{"id":"00000000-0000-4000-8000-00000000c0de","name":"report",
      "operations":{"write":{"id":"w","outputSource":"file://splinegen/report.csv","append":true,"childIds":["r"]},
        "reads":[{"id":"r","inputSources":["file://splinegen/write.csv"]}]},
      "systemInfo":{"name":"spark","version":"3.5.0"}}"#;
    let response = app.post_plan(V12, reader).await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
    let report = "dataset:file://splinegen/report.csv";
    let deep = app.lineage(CHAIN_FIRST_READ, "downstream", 5).await;
    assert!(node_keys(&deep).contains(&report.to_owned()), "{deep}");
    assert_eq!(deep["depthReached"], 2);
    assert_eq!(deep["truncated"], false);
    assert_eq!(deep["nodes"].as_array().unwrap().len(), 5);
    let cut = app.lineage(CHAIN_FIRST_READ, "downstream", 1).await;
    assert!(node_keys(&cut).contains(&WRITE_CSV.to_owned()));
    assert!(!node_keys(&cut).contains(&report.to_owned()));
    assert_eq!(cut["truncated"], true);
    assert_eq!(cut["depthReached"], 1);
}

/// Upstream of write.csv is every chain and diamond job and all their inputs; maxNodes cuts it.
#[rstest]
#[tokio::test]
async fn upstream_of_write_csv_is_every_chain_and_diamond_job_with_its_inputs(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    // All 51,625 nodes with their edges are more than the default answer size
    // (HEADWATER_MAX_RESULT_BYTES); this asks for room, as a user wanting all of it would.
    let settings = HttpSettings {
        query: QueryLimits {
            max_result_bytes: 256 << 20,
            ..QueryLimits::default()
        },
        ..HttpSettings::default()
    };
    let app = TestApp::with_settings(TestDb::new(backend).await, settings);
    let posted = post_files(&app, &[(CHAIN, V12), (DIAMOND, V12)]).await;
    let lineage = lineage_with_max(&app, WRITE_CSV, "upstream", 1).await;
    let mut expected = BTreeSet::from([WRITE_CSV.to_owned()]);
    for plan in &posted.plans {
        expected.insert(plan.job());
        expected.extend(plan.inputs());
    }
    assert_eq!(expected.len(), 1 + 62 + 41_041 + 10_521);
    let nodes: BTreeSet<String> = node_keys(&lineage).into_iter().collect();
    assert_eq!(nodes, expected);
    assert_eq!(
        lineage["truncated"], false,
        "{}",
        lineage["truncatedReason"]
    );
    let capped = app.lineage(WRITE_CSV, "upstream", 1).await;
    assert_eq!(capped["truncated"], true, "the default maxNodes is 5000");
    assert!(capped["nodes"].as_array().unwrap().len() <= 5_000);
    let cut = app.lineage(WRITE_CSV, "upstream", 0).await;
    assert_eq!(node_keys(&cut), [WRITE_CSV]);
    assert_eq!(cut["truncated"], true);
}

/// The stored raw body of a plan and of its events is the file line, byte for byte.
#[rstest]
#[tokio::test]
async fn raw_payloads_of_fixture_lines_are_the_lines_byte_for_byte(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool.clone());
    post_files(&app, &[(TRIANGLE, V12), (GENERATOR, V11)]).await;
    let file = std::fs::read(crate::helpers::data_path(GENERATOR)).unwrap();
    for (path, content_type, version) in [(TRIANGLE, V12, "1.2"), (GENERATOR, V11, "1.1")] {
        let lines = fixture_lines(path);
        for (line, format) in lines.iter().zip(["spline.plan", "spline.events"]) {
            let raw = pool.raw_payload(line.as_bytes()).await;
            assert_eq!(raw.format, format, "{path}");
            assert_eq!(raw.body.as_ref(), line.as_bytes());
            assert_eq!(
                (raw.version.as_str(), raw.content_type.as_str()),
                (version, content_type)
            );
            assert_eq!(raw.wire_bytes, line.len());
        }
    }
    let plan_line = &fixture_lines(GENERATOR)[0];
    let needle = format!("\n{plan_line}\n");
    assert!(
        file.windows(needle.len()).any(|w| w == needle.as_bytes()),
        "the posted line is a whole line of the file"
    );
}
