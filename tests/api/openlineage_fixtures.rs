//! Every OpenLineage example in `tests/data/openlineage/` is posted, and the graph it produces
//! is checked: keys, edges, columns, run state, and facets kept verbatim (custom ones too).
//!
//! How each file is treated, and why, is in `tests/data/openlineage/TREATMENT.md` and in
//! [`FILES`]:
//! - complete events (real captures and client/spec/Marquez fixtures) are posted byte for byte
//!   to `POST /api/v1/lineage` and must be accepted;
//! - the two dbt JSON arrays go through `POST /api/v1/lineage/batch`;
//! - test expectations with matcher placeholders are posted as-is (accepted when a placeholder
//!   only lands in free text such as a runId, rejected at the exact path when it lands in a
//!   validated field such as `eventTime`), then as a copy rendered by [`render`];
//! - facet-only spec fixtures are wrapped into a minimal RunEvent, the facet where it belongs.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use rstest::rstest;

use crate::helpers::{Backend, Postgres, Sqlite, TestDb};
use crate::helpers::{
    Counts, TestApp, TestResponse, data_path, edge_triples, encode, node_details, node_keys, triple,
};
use crate::openlineage_ingest::{
    BATCH, LINEAGE, edge, edges_around, instant, keys, post_batch, post_event, props, raw_versions,
    store_event, with,
};

/// What a fixture file is, and so how it is posted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Treatment {
    /// A complete, valid event: posted byte for byte, expect 201.
    AsIs,
    /// A JSON array of events with placeholders in free text: posted to the batch endpoint
    /// as-is, then rendered.
    Batch,
    /// One event with placeholders in validated fields: as-is is a 400, rendered is stored.
    Placeholders,
    /// A facet, not an event: as-is is a 400; wrapped into a RunEvent it is stored.
    FacetOnly,
}

use Treatment::{AsIs, Batch, FacetOnly, Placeholders};

/// Every file in `tests/data/openlineage/`, with its treatment (see TREATMENT.md).
const FILES: [(&str, Treatment); 24] = [
    ("airflow_01_dag_START.json", AsIs),
    ("airflow_02_task_START_parent.json", AsIs),
    ("airflow_03_task_COMPLETE_bigquery_columnLineage.json", AsIs),
    ("airflow_08_dag_COMPLETE.json", AsIs),
    ("dbt_postgres_artifact_events_ARRAY.json", Batch),
    ("dbt_postgres_structured_logs_failed_run_ARRAY.json", Batch),
    ("flink_FAIL_expected.json", Placeholders),
    ("flink_kafka_streaming_START_expected.json", Placeholders),
    ("fluentd_proxy_event_full.json", AsIs),
    ("marquez_test_JobEvent.json", AsIs),
    ("marquez_test_event_full.json", AsIs),
    ("python_client_DatasetEvent.json", AsIs),
    ("python_client_JobEvent.json", AsIs),
    ("python_client_example_full_event.json", AsIs),
    ("simple_run_event_COMPLETE.json", AsIs),
    (
        "spark_cll_03_COMPLETE_create_table_lifecycleStateChange.json",
        AsIs,
    ),
    ("spark_cll_08_COMPLETE_ctas_columnLineage_parent.json", AsIs),
    ("spark_dataproc_app_START.json", AsIs),
    ("spark_dataproc_bigquery_COMPLETE_columnLineage.json", AsIs),
    ("spark_dataproc_bigquery_RUNNING.json", AsIs),
    (
        "spark_dataproc_hdfs_COMPLETE_sql_columnLineage_symlinks.json",
        AsIs,
    ),
    ("spec_example_full_event.json", AsIs),
    (
        "spec_facet_test_ColumnLineageDatasetFacet_1.json",
        FacetOnly,
    ),
    ("spec_facet_test_ParentRunFacet_2.json", FacetOnly),
];

const AIRFLOW_01: &str = "airflow_01_dag_START.json";
const AIRFLOW_02: &str = "airflow_02_task_START_parent.json";
const AIRFLOW_03: &str = "airflow_03_task_COMPLETE_bigquery_columnLineage.json";
const AIRFLOW_08: &str = "airflow_08_dag_COMPLETE.json";
const CLL_03: &str = "spark_cll_03_COMPLETE_create_table_lifecycleStateChange.json";
const CLL_08: &str = "spark_cll_08_COMPLETE_ctas_columnLineage_parent.json";
const DATAPROC_APP: &str = "spark_dataproc_app_START.json";
const DATAPROC_HDFS: &str = "spark_dataproc_hdfs_COMPLETE_sql_columnLineage_symlinks.json";
const BQ_RUNNING: &str = "spark_dataproc_bigquery_RUNNING.json";
const BQ_COMPLETE: &str = "spark_dataproc_bigquery_COMPLETE_columnLineage.json";
const DBT_ARTIFACTS: &str = "dbt_postgres_artifact_events_ARRAY.json";
const DBT_LOGS: &str = "dbt_postgres_structured_logs_failed_run_ARRAY.json";
const FLINK_FAIL: &str = "flink_FAIL_expected.json";
const FLINK_KAFKA: &str = "flink_kafka_streaming_START_expected.json";
const COLUMN_FACET: &str = "spec_facet_test_ColumnLineageDatasetFacet_1.json";
const PARENT_FACET: &str = "spec_facet_test_ParentRunFacet_2.json";

const AIRFLOW_DAG_RUN: &str = "run:01936893-9751-7a91-a2a0-a51101a3970c";
const AIRFLOW_TASK_RUN: &str = "run:01936893-9751-7b3c-8f76-8ac6d0e5f8a3";
const AIRFLOW_OUTPUT: &str = "dataset:bigquery/mock-project.test.upload";

fn bytes(name: &str) -> Vec<u8> {
    std::fs::read(data_path(&format!("openlineage/{name}"))).expect("fixture exists")
}

fn load(name: &str) -> Value {
    serde_json::from_slice(&bytes(name)).expect("fixture is JSON")
}

/// POSTs a fixture file byte for byte to the single-event endpoint.
async fn post_file(app: &TestApp, name: &str) -> TestResponse {
    app.post(LINEAGE, Some("application/json"), &[], bytes(name))
        .await
}

/// POSTs a fixture file as-is; asserts 201.
async fn store_file(app: &TestApp, name: &str) {
    let response = post_file(app, name).await;
    assert_eq!(
        response.status,
        StatusCode::CREATED,
        "{name}: {}",
        response.text()
    );
}

fn field(dataset_key: &str, column: &str) -> String {
    format!("field:{}#{column}", &dataset_key["dataset:".len()..])
}

fn sorted<T: Ord>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    items
        .into_iter()
        .collect::<BTreeSet<T>>()
        .into_iter()
        .collect()
}

/// Asserts one derives edge per input column of a columnLineage facet, carrying its
/// transformations and the column's (deprecated) description and type verbatim. `names` maps
/// the facet's (namespace, name) pairs to the dataset keys expected for them.
async fn assert_derivations(
    app: &TestApp,
    output: &str,
    facet: &Value,
    names: &[(&str, &str, &str)],
) {
    let key_of = |namespace: &str, name: &str| {
        let found = names
            .iter()
            .find(|(ns, n, _)| *ns == namespace && *n == name);
        found
            .unwrap_or_else(|| panic!("no key given for ({namespace}, {name})"))
            .2
    };
    for (column, inputs) in facet["fields"].as_object().unwrap() {
        let target = field(output, column);
        let d = node_details(app, &target).await;
        for input in inputs["inputFields"].as_array().unwrap() {
            let dataset = key_of(
                input["namespace"].as_str().unwrap(),
                input["name"].as_str().unwrap(),
            );
            let source = field(dataset, input["field"].as_str().unwrap());
            let props = edge(&d, &source, "derives", &target);
            for (prop, expected) in [
                ("transformations", input.get("transformations")),
                (
                    "transformationDescription",
                    inputs.get("transformationDescription"),
                ),
                ("transformationType", inputs.get("transformationType")),
            ] {
                assert_eq!(props.get(prop), expected, "{source} -> {target}: {prop}");
            }
        }
    }
}

/// Asserts `dataset` has exactly these columns, by schema index.
async fn assert_columns(app: &TestApp, dataset: &str, columns: &[&str]) {
    let d = node_details(app, dataset).await;
    for (index, column) in columns.iter().enumerate() {
        let props = edge(&d, dataset, "has_field", &field(dataset, column));
        assert_eq!(props, json!({"index": index}), "{dataset}#{column}");
    }
    let fields = d["edges"].as_array().unwrap();
    let count = fields.iter().filter(|e| e["kind"] == "has_field").count();
    assert_eq!(count, columns.len(), "{dataset}");
}

// Coverage.

/// Every JSON file in the folder has a treatment here and a line in TREATMENT.md.
#[test]
fn every_fixture_file_has_a_treatment() {
    let dir = std::fs::read_dir(data_path("openlineage")).unwrap();
    let on_disk: Vec<String> = sorted(dir.filter_map(|entry| {
        let name = entry.unwrap().file_name().into_string().unwrap();
        name.ends_with(".json").then_some(name)
    }));
    let listed: Vec<String> = FILES.iter().map(|(name, _)| (*name).to_owned()).collect();
    assert_eq!(on_disk, listed);
    let treatment = std::fs::read_to_string(data_path("openlineage/TREATMENT.md")).unwrap();
    for (name, _) in FILES {
        assert!(
            treatment.contains(&format!("`{name}`")),
            "{name} missing from TREATMENT.md"
        );
    }
}

/// Every complete event file is accepted as-is, and posting them all again changes nothing.
#[rstest]
#[tokio::test]
async fn every_complete_event_file_is_accepted_as_is(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    let complete: Vec<&str> = FILES
        .iter()
        .filter(|(_, t)| *t == AsIs)
        .map(|(n, _)| *n)
        .collect();
    assert_eq!(complete.len(), 18);
    for name in &complete {
        store_file(&app, name).await;
    }
    let once = app.counts().await;
    assert_eq!(once.raw_payloads, 18);
    for name in &complete {
        store_file(&app, name).await;
    }
    assert_eq!(app.counts().await, once);
    let versions = raw_versions(&app).await;
    let expected = [
        ("1-0-1", 2),
        ("1-0-5", 3),
        ("2-0-0", 2),
        ("2-0-2", 10),
        ("unknown", 1),
    ];
    for (version, count) in expected {
        let n = versions.iter().filter(|v| *v == version).count();
        assert_eq!(n, count, "{version}: {versions:?}");
    }
}

// Airflow.

/// The Airflow DAG START, task START and COMPLETE, and DAG COMPLETE, posted in order, make the
/// DAG job the parent of the task job, and both runs COMPLETE with accumulated facets.
#[rstest]
#[tokio::test]
async fn airflow_events_in_order_make_the_dag_job_the_parent_of_the_task_job(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    for name in [AIRFLOW_01, AIRFLOW_02, AIRFLOW_03, AIRFLOW_08] {
        store_file(&app, name).await;
    }
    let (dag, task) = ("job:airflow/BQ", "job:airflow/BQ.upload");
    let d = node_details(&app, dag).await;
    edge(&d, dag, "parent_of", task);
    edge(&d, AIRFLOW_DAG_RUN, "run_of", dag);
    let t = node_details(&app, AIRFLOW_TASK_RUN).await;
    edge(&t, AIRFLOW_DAG_RUN, "parent_of", AIRFLOW_TASK_RUN);
    edge(&t, AIRFLOW_TASK_RUN, "run_of", task);
    assert_run(
        &app,
        AIRFLOW_DAG_RUN,
        "COMPLETE",
        "2024-11-26T13:05:23.809955Z",
        Some("2024-11-26T13:05:39.809127Z"),
    )
    .await;
    assert_run(
        &app,
        AIRFLOW_TASK_RUN,
        "COMPLETE",
        "2024-11-26T13:05:25.547948Z",
        Some("2024-11-26T13:05:29.606867Z"),
    )
    .await;
    assert_dag_facets_accumulated(&app).await;
    let l = app
        .lineage("dataset:gs://mock-bucket/test.csv", "downstream", 1)
        .await;
    assert!(node_keys(&l).contains(&AIRFLOW_OUTPUT.to_owned()), "{l:#}");
    assert_eq!(raw_versions(&app).await, ["2-0-2"; 4]);
}

/// The DAG run holds the run facets of the DAG START and COMPLETE, the DAG job its job facets,
/// verbatim.
async fn assert_dag_facets_accumulated(app: &TestApp) {
    let run = props(app, AIRFLOW_DAG_RUN).await;
    let start = load(AIRFLOW_01);
    assert_eq!(
        run["facets"]["airflowDagRun"],
        start["run"]["facets"]["airflowDagRun"]
    );
    assert_eq!(
        run["facets"]["airflowState"],
        load(AIRFLOW_08)["run"]["facets"]["airflowState"]
    );
    let facets: Vec<&String> = run["facets"].as_object().unwrap().keys().collect();
    assert_eq!(
        sorted(facets),
        [
            "airflowDagRun",
            "airflowState",
            "nominalTime",
            "processing_engine"
        ]
    );
    let job = props(app, "job:airflow/BQ").await;
    assert_eq!(job["facets"]["airflow"], start["job"]["facets"]["airflow"]);
    assert_eq!(
        job["facets"]["ownership"],
        start["job"]["facets"]["ownership"]
    );
}

/// Asserts a run's state and start and end times.
async fn assert_run(app: &TestApp, run: &str, state: &str, started: &str, ended: Option<&str>) {
    let p = props(app, run).await;
    assert_eq!(p["state"], state, "{run}: {p:#}");
    assert_eq!(instant(&p["startedAt"]), instant(&json!(started)), "{run}");
    match ended {
        Some(ended) => assert_eq!(instant(&p["endedAt"]), instant(&json!(ended)), "{run}"),
        None => assert!(p.get("endedAt").is_none(), "{run}: {p:#}"),
    }
}

/// The task COMPLETE alone: BigQuery output columns derive from both GCS inputs, with the
/// deprecated description and type kept; the empty dataset array makes no affects edge.
#[rstest]
#[tokio::test]
async fn the_airflow_task_completion_keeps_bigquery_column_lineage(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    store_file(&app, AIRFLOW_03).await;
    let event = load(AIRFLOW_03);
    let (copied, test) = (
        "dataset:gs://mock-bucket/copied.csv",
        "dataset:gs://mock-bucket/test.csv",
    );
    let names = [
        ("gs://mock-bucket", "copied.csv", copied),
        ("gs://mock-bucket", "test.csv", test),
    ];
    let facet = &event["outputs"][0]["facets"]["columnLineage"];
    assert_derivations(&app, AIRFLOW_OUTPUT, facet, &names).await;
    for dataset in [copied, test, AIRFLOW_OUTPUT] {
        assert_columns(&app, dataset, &["a", "b", "c", "d"]).await;
    }
    let out = node_details(&app, AIRFLOW_OUTPUT).await;
    assert!(
        !edge_triples(&out)
            .iter()
            .any(|(_, kind, _)| kind == "affects"),
        "{out:#}"
    );
    let p = &out["node"]["properties"];
    assert_eq!(p["facets"], event["outputs"][0]["facets"]);
    assert!(p.get("uri").is_none(), "bigquery has no URI form: {p:#}");
    let run = props(&app, AIRFLOW_TASK_RUN).await;
    assert_eq!(run["facets"], event["run"]["facets"]);
    let parent = props(&app, AIRFLOW_DAG_RUN).await;
    assert!(
        parent.get("state").is_none(),
        "only named as a parent: {parent:#}"
    );
}

// Spark.

/// CREATE TABLE: the file output keeps its lifecycleStateChange, symlinks, schema and
/// dataSource facets, and the run its spark.logicalPlan, all verbatim.
#[rstest]
#[tokio::test]
async fn spark_create_table_keeps_its_facets_and_logical_plan_verbatim(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    store_file(&app, CLL_03).await;
    let event = load(CLL_03);
    let table = "dataset:file:///tmp/cll_test/cll_source1";
    let p = props(&app, table).await;
    assert_eq!(p["facets"], event["outputs"][0]["facets"]);
    assert_eq!(
        (
            p["namespace"].as_str(),
            p["name"].as_str(),
            p["uri"].as_str()
        ),
        (
            Some("file"),
            Some("/tmp/cll_test/cll_source1"),
            Some("file:///tmp/cll_test/cll_source1")
        )
    );
    assert_columns(&app, table, &["a", "b"]).await;
    let job = "job:testColumnLevelLineage/open_lineage_integration_create_table.execute_create_table_command.cll_test_cll_source1";
    assert_eq!(
        edges_around(&app, table)
            .await
            .into_iter()
            .filter(|t| t.1 == "output")
            .collect::<Vec<_>>(),
        [triple(job, "output", table)]
    );
    let run = props(&app, "run:019127df-00a2-743c-b714-df7e6dcadb2b").await;
    assert_eq!(run["facets"], event["run"]["facets"]);
    assert_eq!(
        run["facets"]["spark.logicalPlan"],
        event["run"]["facets"]["spark.logicalPlan"]
    );
    assert_eq!(run["state"], "COMPLETE");
    assert!(run.get("startedAt").is_none(), "{run:#}");
    let parent = "job:testColumnLevelLineage/open_lineage_integration_create_table";
    edge(&node_details(&app, job).await, parent, "parent_of", job);
}

/// The Spark `file:/tmp/cll_test` symlinks are aliases of the warehouse paths: an event naming
/// one lands on the canonical dataset, and lookups by it, in either spelling, answer that node.
#[rstest]
#[tokio::test]
async fn spark_file_symlinks_resolve_to_the_warehouse_path(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    store_file(&app, CLL_03).await;
    let canonical = "dataset:file:///tmp/cll_test/cll_source1";
    let reader = with(
        wrapper("hive_reader"),
        json!({"inputs": [{"namespace": "file:/tmp/cll_test", "name": "default.cll_source1"}]}),
    );
    store_event(&app, &reader).await;
    let edges = edges_around(&app, canonical).await;
    assert!(
        edges.contains(&triple(canonical, "input", "job:wrapper/hive_reader")),
        "{edges:#?}"
    );
    assert_eq!(keys(&app, "dataset", "").await, [canonical]);
    let mut wrong = Vec::new();
    for alias in [
        "dataset:file:/tmp/cll_test/default.cll_source1",
        "dataset:file:///tmp/cll_test/default.cll_source1",
    ] {
        let uri = format!("/api/v1/graph/node?key={}", encode(alias));
        let response = app.get(&uri).await;
        let key =
            (response.status == StatusCode::OK).then(|| response.json()["node"]["key"].clone());
        if key != Some(json!(canonical)) {
            wrong.push(format!("{alias}: {} {}", response.status, response.text()));
        }
    }
    assert!(
        wrong.is_empty(),
        "aliases not resolved to {canonical}: {wrong:#?}"
    );
}

/// CTAS: each output column derives from the source columns with the transformations sent,
/// and the table written by the CREATE TABLE run feeds the CTAS job.
#[rstest]
#[tokio::test]
async fn spark_ctas_derives_output_columns_from_both_sources(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    store_file(&app, CLL_03).await;
    store_file(&app, CLL_08).await;
    let event = load(CLL_08);
    let (source1, source2, tbl1) = (
        "dataset:file:///tmp/cll_test/cll_source1",
        "dataset:file:///tmp/cll_test/cll_source2",
        "dataset:file:///tmp/cll_test/tbl1",
    );
    let names = [
        ("file", "/tmp/cll_test/cll_source1", source1),
        ("file", "/tmp/cll_test/cll_source2", source2),
    ];
    assert_derivations(
        &app,
        tbl1,
        &event["outputs"][0]["facets"]["columnLineage"],
        &names,
    )
    .await;
    assert_columns(&app, tbl1, &["ident", "trans", "agg"]).await;
    assert_columns(&app, source2, &["a", "c"]).await;
    let run = props(&app, "run:019127df-0850-72bc-b214-b255290588a6").await;
    assert_eq!(run["facets"], event["run"]["facets"]);
    let create = "job:testColumnLevelLineage/open_lineage_integration_create_table.execute_create_table_command.cll_test_cll_source1";
    let ctas = "job:testColumnLevelLineage/open_lineage_integration_create_table.execute_create_hive_table_as_select_command.default_tbl1";
    let l = app.lineage(create, "downstream", 2).await;
    assert_eq!(
        node_keys(&l),
        sorted([source1, tbl1, create, ctas])
            .iter()
            .map(|k| k.to_string())
            .collect::<Vec<_>>()
    );
    let edges = sorted(edge_triples(&l));
    assert!(
        edges.contains(&triple(source1, "input", ctas)),
        "{edges:#?}"
    );
    let parent = "job:testColumnLevelLineage/open_lineage_integration_create_table";
    let children = edges_around(&app, parent).await;
    assert!(
        children.contains(&triple(parent, "parent_of", create))
            && children.contains(&triple(parent, "parent_of", ctas))
    );
}

/// Dataproc: the application START stays START and is the parent of the Hive INSERT, job and
/// run; the INSERT keeps its sql job facet.
#[rstest]
#[tokio::test]
async fn dataproc_application_is_the_parent_of_its_hive_insert(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    store_file(&app, DATAPROC_APP).await;
    store_file(&app, DATAPROC_HDFS).await;
    let app_job = "job:default/cl_i_test_application";
    let insert = "job:default/cl_i_test_application.execute_insert_into_hive_table.warehouse_t2";
    edge(
        &node_details(&app, app_job).await,
        app_job,
        "parent_of",
        insert,
    );
    let app_run = "run:019299c5-12f5-7946-b5b2-c6abab662e20";
    let insert_run = "run:019299c5-73cf-7069-a70f-74eb8070b577";
    edge(
        &node_details(&app, app_run).await,
        app_run,
        "parent_of",
        insert_run,
    );
    let start = props(&app, app_run).await;
    assert_eq!(start["state"], "START");
    assert_eq!(start["facets"], load(DATAPROC_APP)["run"]["facets"]);
    let sql = &load(DATAPROC_HDFS)["job"]["facets"]["sql"];
    assert_eq!(props(&app, insert).await["facets"]["sql"], *sql);
}

/// Dataproc: the HDFS tables of the Hive INSERT are keyed by URI, reachable by their Hive
/// names, and linked column by column.
#[rstest]
#[tokio::test]
async fn dataproc_hive_tables_are_hdfs_paths_with_hive_aliases(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    store_file(&app, DATAPROC_HDFS).await;
    let t = |n: &str| format!("dataset:hdfs://dataproc-producer-test-m/user/hive/warehouse/{n}");
    for n in ["t1", "t2"] {
        let alias = format!("dataset:hive://dataproc-producer-test-m:9083/default.{n}");
        assert_eq!(node_details(&app, &alias).await["node"]["key"], t(n));
        assert_eq!(props(&app, &t(n)).await["uri"], t(n)["dataset:".len()..]);
    }
    let (t1, t2) = (t("t1"), t("t2"));
    let names = [(
        "hdfs://dataproc-producer-test-m",
        "/user/hive/warehouse/t1",
        t1.as_str(),
    )];
    let event = load(DATAPROC_HDFS);
    let facet = &event["outputs"][0]["facets"]["columnLineage"];
    assert_derivations(&app, &t2, facet, &names).await;
    assert_columns(&app, &t2, &["a", "b"]).await;
}

const BQ_RUNNING_JOB: &str = "job:default/shakespeare_on_spark.adaptive_spark_plan";
const BQ_COMPLETE_JOB: &str =
    "job:default/shakespeare_on_spark.adaptive_spark_plan.outputs_1729097570970";

/// BigQuery read by Spark: the RUNNING event adds no dataset edges, and both runs, and both
/// jobs, share their Spark application parent.
#[rstest]
#[tokio::test]
async fn spark_bigquery_running_and_complete_share_their_parent(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    store_file(&app, BQ_RUNNING).await;
    store_file(&app, BQ_COMPLETE).await;
    let running_run = "run:0192963f-c099-7dff-8d04-a90a16c16859";
    assert_eq!(props(&app, running_run).await["state"], "RUNNING");
    let around = edges_around(&app, BQ_RUNNING_JOB).await;
    let kinds: BTreeSet<String> = around.into_iter().map(|t| t.1).collect();
    assert_eq!(
        kinds,
        BTreeSet::from(["parent_of".to_owned(), "run_of".to_owned()])
    );
    let parent_job = "job:default/shakespeare_on_spark";
    let children = edges_around(&app, parent_job).await;
    for child in [BQ_RUNNING_JOB, BQ_COMPLETE_JOB] {
        let link = triple(parent_job, "parent_of", child);
        assert!(children.contains(&link), "{children:#?}");
    }
    let runs = edges_around(&app, "run:0192963f-929e-731b-a075-9bb14bf41d38").await;
    let child_runs = runs.iter().filter(|t| t.1 == "parent_of").count();
    assert_eq!(child_runs, 2, "{runs:#?}");
}

/// BigQuery read by Spark: the COMPLETE event reads a BigQuery table (no URI form) into a file,
/// with output statistics on the output edge and column lineage.
#[rstest]
#[tokio::test]
async fn spark_bigquery_completion_reads_a_table_into_a_file(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    store_file(&app, BQ_COMPLETE).await;
    let event = load(BQ_COMPLETE);
    let input = "dataset:bigquery/bigquery-public-data.samples.shakespeare";
    let output = "dataset:file:///tmp/outputs/1729097570970";
    let written = edge(
        &node_details(&app, output).await,
        BQ_COMPLETE_JOB,
        "output",
        output,
    );
    assert_eq!(written["outputFacets"], event["outputs"][0]["outputFacets"]);
    assert!(props(&app, input).await.get("uri").is_none());
    let names = [(
        "bigquery",
        "bigquery-public-data.samples.shakespeare",
        input,
    )];
    let facet = &event["outputs"][0]["facets"]["columnLineage"];
    assert_derivations(&app, output, facet, &names).await;
    assert_columns(&app, output, &["word", "sum(word_count)"]).await;
    let columns = ["word", "word_count", "corpus", "corpus_date"];
    assert_columns(&app, input, &columns).await;
}

// Small events.

/// The minimal consumer scenario: a run (id not a UUID) linking two BigQuery tables.
#[rstest]
#[tokio::test]
async fn the_minimal_consumer_scenario_links_two_bigquery_tables(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    store_file(&app, "simple_run_event_COMPLETE.json").await;
    let job = "job:job_namespace/job_name";
    let expected = BTreeSet::from([
        triple("dataset:bigquery/test.table.input", "input", job),
        triple(job, "output", "dataset:bigquery/test.table.output"),
        triple("run:run_id", "run_of", job),
    ]);
    assert_eq!(edges_around(&app, job).await, expected);
    let run = props(&app, "run:run_id").await;
    assert_eq!(
        (run["state"].as_str(), run["producer"].as_str()),
        (Some("COMPLETE"), Some("producer"))
    );
    assert_eq!(raw_versions(&app).await, ["1-0-5"]);
}

/// The spec example validates only as a RunEvent; its stray top-level dataset is ignored.
#[rstest]
#[tokio::test]
async fn the_spec_example_is_a_run_event_and_its_stray_dataset_is_ignored(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    store_file(&app, "spec_example_full_event.json").await;
    let event = load("spec_example_full_event.json");
    assert_eq!(
        props(&app, "job:food_delivery/dbt").await["facets"],
        event["job"]["facets"]
    );
    assert_eq!(
        props(&app, "run:f69a6e9b-9bac-3c9a-9cf6-eacb70ecc9a9").await["state"],
        "COMPLETE"
    );
    assert_eq!(keys(&app, "dataset", "").await, Vec::<String>::new());
    assert_eq!(
        app.counts().await,
        Counts {
            nodes: 2,
            edges: 1,
            raw_payloads: 1
        }
    );
}

/// A full event reading and writing one table, its parent being its own job.
async fn assert_full_event(app: &TestApp, name: &str) {
    store_file(app, name).await;
    let event = load(name);
    let (job, table) = (
        "job:my-scheduler-namespace/myjob.mytask",
        "dataset:my-datasource-namespace/instance.schema.table",
    );
    let run = props(app, "run:ea041791-68bc-4ae1-bd89-4c8106a157e4").await;
    assert_eq!(run["facets"], event["run"]["facets"], "{name}");
    assert_eq!(
        run["facets"]["additionalProp1"],
        event["run"]["facets"]["additionalProp1"]
    );
    assert_eq!(
        props(app, job).await["facets"],
        event["job"]["facets"],
        "{name}"
    );
    let d = node_details(app, table).await;
    assert_eq!(
        d["node"]["properties"]["facets"], event["inputs"][0]["facets"],
        "{name}"
    );
    assert_eq!(
        edge(&d, table, "input", job)["inputFacets"],
        event["inputs"][0]["inputFacets"]
    );
    assert_eq!(
        edge(&d, job, "output", table)["outputFacets"],
        event["outputs"][0]["outputFacets"]
    );
    assert_columns(app, table, &["column1"]).await;
    edge(&node_details(app, job).await, job, "parent_of", job);
    let parent_run = "run:3f5e83fa-3480-44ff-99c5-ff943904e5e8";
    edge(
        &node_details(app, parent_run).await,
        parent_run,
        "parent_of",
        "run:ea041791-68bc-4ae1-bd89-4c8106a157e4",
    );
}

/// Marquez's full event keeps every facet verbatim, custom additionalProp ones included.
#[rstest]
#[tokio::test]
async fn the_marquez_full_event_keeps_custom_facets_verbatim(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    assert_full_event(&app, "marquez_test_event_full.json").await;
    let job = props(&app, "job:my-scheduler-namespace/myjob.mytask").await;
    assert_eq!(job["facets"]["jobType"]["processingType"], "STREAMING");
    assert_eq!(raw_versions(&app).await, ["1-0-1"]);
}

/// The fluentd proxy's full event keeps every facet verbatim, custom ones included.
#[rstest]
#[tokio::test]
async fn the_fluentd_full_event_keeps_custom_facets_verbatim(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    assert_full_event(&app, "fluentd_proxy_event_full.json").await;
    assert_eq!(raw_versions(&app).await, ["1-0-5"]);
}

/// The Python client's full event has a non-spec schemaURL: a RunEvent by shape, version
/// unknown, with its tags, quality assertions and output statistics kept.
#[rstest]
#[tokio::test]
async fn the_python_client_full_event_is_a_run_event_by_shape(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    assert_full_event(&app, "python_client_example_full_event.json").await;
    let run = props(&app, "run:ea041791-68bc-4ae1-bd89-4c8106a157e4").await;
    assert_eq!(
        run["facets"]["tags"]["tags"][0]["key"],
        "openlineage_client_version"
    );
    assert_eq!(run["state"], "COMPLETE");
    assert_eq!(raw_versions(&app).await, ["unknown"]);
}

/// The Python client's DatasetEvent and JobEvent: a dataset with columns, a job with its
/// inputs and outputs, no run; the naive eventTime is UTC.
#[rstest]
#[tokio::test]
async fn the_python_client_static_events_make_a_dataset_and_a_job_without_runs(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    store_file(&app, "python_client_DatasetEvent.json").await;
    store_file(&app, "python_client_JobEvent.json").await;
    let dataset = "dataset:openlineage/name";
    let d = node_details(&app, dataset).await;
    assert_eq!(
        instant(&d["node"]["firstSeen"]),
        instant(&json!("2021-11-03T10:53:52.427343Z"))
    );
    assert_eq!(
        d["node"]["properties"]["facets"],
        load("python_client_DatasetEvent.json")["dataset"]["facets"]
    );
    assert_columns(&app, dataset, &["a", "b"]).await;
    let job = "job:openlineage/name";
    let expected = BTreeSet::from([
        triple("dataset:openlineage/dataset_a", "input", job),
        triple(job, "output", "dataset:openlineage/dataset_b"),
    ]);
    assert_eq!(edges_around(&app, job).await, expected);
    assert_eq!(keys(&app, "run", "").await, Vec::<String>::new());
    assert_eq!(raw_versions(&app).await, ["2-0-0", "2-0-0"]);
}

/// Marquez's JobEvent carries an eventType the spec doesn't define for it: ignored, no run;
/// its +10:00 eventTime is stored in UTC.
#[rstest]
#[tokio::test]
async fn the_marquez_job_event_makes_no_run_and_keeps_its_instant(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    store_file(&app, "marquez_test_JobEvent.json").await;
    let job = "job:my-scheduler-namespace/myjob";
    let d = node_details(&app, job).await;
    assert_eq!(
        instant(&d["node"]["firstSeen"]),
        instant(&json!("2020-12-28T09:52:00.001Z"))
    );
    let input = "dataset:my-datasource-namespace/instance.schema.input-1";
    edge(&d, input, "input", job);
    edge(
        &d,
        job,
        "output",
        "dataset:my-datasource-namespace/instance.schema.output-1",
    );
    let event = load("marquez_test_JobEvent.json");
    assert_eq!(
        props(&app, input).await["facets"],
        event["inputs"][0]["facets"]
    );
    assert_eq!(keys(&app, "run", "").await, Vec::<String>::new());
}

// Placeholders.

/// A matcher placeholder, as the expectation files spell them.
fn is_placeholder(text: &str) -> bool {
    text.contains("${json-unit.") || text.contains("{{")
}

/// A stable UUID for a job's run in a rendered file, so START and COMPLETE of one job share
/// it and a parent facet naming the job points at it.
fn run_id(namespace: &str, name: &str) -> String {
    Uuid::new_v5(
        &Uuid::NAMESPACE_URL,
        format!("{namespace}/{name}").as_bytes(),
    )
    .to_string()
}

/// Substitutes every placeholder of an expectation event with a concrete value: the runId
/// (and a parent's runId) by job, a missing or templated eventTime by `time`, versions and
/// other free text by fixed strings. Asserts that none is left.
fn render(mut event: Value, time: &str) -> Value {
    let runs = |job: &Value| {
        run_id(
            job["namespace"].as_str().unwrap(),
            job["name"].as_str().unwrap(),
        )
    };
    let own = runs(&event["job"]);
    if event
        .get("eventTime")
        .and_then(Value::as_str)
        .is_none_or(is_placeholder)
    {
        event["eventTime"] = json!(time);
    }
    event["run"]["runId"] = json!(own);
    let parent = event.pointer("/run/facets/parent/job").map(runs);
    let templated = event.pointer_mut("/run/facets/parent/run/runId");
    if let (Some(parent), Some(id)) = (parent, templated)
        && id.as_str().is_some_and(is_placeholder)
    {
        *id = json!(parent);
    }
    fill(&mut event, "");
    assert!(!is_placeholder(&event.to_string()), "left: {event:#}");
    event
}

fn fill(value: &mut Value, key: &str) {
    match value {
        Value::String(text) if is_placeholder(text) => {
            *text = match key {
                "version" => "1.19.1".to_owned(),
                "openlineageAdapterVersion" => "1.23.0".to_owned(),
                _ => format!("rendered-{key}"),
            }
        }
        Value::Object(map) => map.iter_mut().for_each(|(k, v)| fill(v, k)),
        Value::Array(items) => items.iter_mut().for_each(|v| fill(v, key)),
        _ => {}
    }
}

/// Each element of a JSON array fixture, rendered.
fn rendered_array(name: &str) -> Value {
    let events = load(name).as_array().unwrap().clone();
    Value::Array(events.into_iter().map(|e| render(e, "unused")).collect())
}

/// dbt artifact events as-is: placeholders only in runId and adapter version, so all ten are
/// accepted, and the templated runId makes one run of all five jobs.
#[rstest]
#[tokio::test]
async fn dbt_artifact_events_as_is_collapse_into_one_templated_run(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    let response = post_file(&app, DBT_ARTIFACTS).await;
    response.assert_problem(StatusCode::BAD_REQUEST, "invalid-field", Some("$"));
    let batch = load(DBT_ARTIFACTS);
    let result = post_batch(&app, &batch).await;
    assert_eq!(
        (
            result["status"].as_str(),
            result["summary"]["successful"].as_u64()
        ),
        (Some("success"), Some(10))
    );
    let templated = "run:{{ any(result) }}";
    assert_eq!(
        keys(&app, "run", "").await,
        ["run:f99310b4-3c3c-1a1a-2b2b-c1b95c24ff11", templated]
    );
    let runs_of = edges_around(&app, templated)
        .await
        .into_iter()
        .filter(|t| t.1 == "run_of")
        .count();
    assert_eq!(runs_of, 5, "one run claims every job");
}

/// The rendered dbt artifact events: five jobs, each with its own COMPLETE run under the dbt
/// job's run, reading and writing Postgres tables.
#[rstest]
#[tokio::test]
async fn dbt_artifact_events_rendered_make_five_runs_under_the_dbt_job(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    let result = post_batch(&app, &rendered_array(DBT_ARTIFACTS)).await;
    assert_eq!(result["status"], "success", "{result:#}");
    let models = [
        "stg_customers",
        "stg_orders",
        "stg_payments",
        "customers",
        "orders",
    ];
    let (parent_job, parent_run) = (
        "job:dbt/dbt-job-name",
        "run:f99310b4-3c3c-1a1a-2b2b-c1b95c24ff11",
    );
    let family = edges_around(&app, parent_run).await;
    for model in models {
        let name = format!("postgres.public.jaffle_shop.{model}");
        let (job, run) = (
            format!("job:job-namespace/{name}"),
            format!("run:{}", run_id("job-namespace", &name)),
        );
        assert_eq!(props(&app, &run).await["state"], "COMPLETE", "{model}");
        assert!(
            family.contains(&triple(parent_run, "parent_of", &run)),
            "{model}"
        );
        edge(
            &node_details(&app, &job).await,
            parent_job,
            "parent_of",
            &job,
        );
    }
    assert_eq!(keys(&app, "run", "").await.len(), 6);
    let table = |t: &str| format!("dataset:postgres://postgres_host:1234/postgres.public.{t}");
    let l = app.lineage(&table("customers"), "upstream", 1).await;
    let expected = sorted([
        table("customers"),
        table("stg_customers"),
        table("stg_orders"),
        table("stg_payments"),
        "job:job-namespace/postgres.public.jaffle_shop.customers".to_owned(),
    ]);
    assert_eq!(node_keys(&l), expected);
    let events = load(DBT_ARTIFACTS);
    let stats = &events[3]["outputs"][0]["outputFacets"];
    let written = edge(
        &node_details(&app, &table("customers")).await,
        "job:job-namespace/postgres.public.jaffle_shop.customers",
        "output",
        &table("customers"),
    );
    assert_eq!(
        written["outputFacets"], *stats,
        "START's statistics survive COMPLETE's empty outputFacets"
    );
}

/// dbt structured-log events as-is: every runId, parents' too, is one template, so the whole
/// hierarchy collapses into one run that is its own parent and ends FAIL.
#[rstest]
#[tokio::test]
async fn dbt_structured_log_events_as_is_collapse_into_one_templated_run(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    let result = post_batch(&app, &load(DBT_LOGS)).await;
    assert_eq!(
        (
            result["status"].as_str(),
            result["summary"]["successful"].as_u64()
        ),
        (Some("success"), Some(8))
    );
    let templated = "run:{{ any(result) }}";
    assert_eq!(keys(&app, "run", "").await, [templated]);
    assert!(edges_around(&app, templated).await.contains(&triple(
        templated,
        "parent_of",
        templated
    )));
    assert_eq!(props(&app, templated).await["state"], "FAIL");
}

/// The rendered dbt structured-log events: command → model → two queries, jobs and runs,
/// with the failed query and the failed model and command.
#[rstest]
#[tokio::test]
async fn dbt_structured_log_events_rendered_make_the_command_model_query_hierarchy(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    let events = rendered_array(DBT_LOGS);
    assert_eq!(post_batch(&app, &events).await["status"], "success");
    let ns = "dbt-test-namespace";
    let (command, model) = ("dbt-run-jaffle_shop", "model.jaffle_shop.orders");
    let (sql1, sql2) = (
        "model.jaffle_shop.orders.sql.1",
        "model.jaffle_shop.orders.sql.2",
    );
    let job = |n: &str| format!("job:{ns}/{n}");
    let run = |n: &str| format!("run:{}", run_id(ns, n));
    for (parent, child) in [(command, model), (model, sql1), (model, sql2)] {
        edge(
            &node_details(&app, &job(child)).await,
            &job(parent),
            "parent_of",
            &job(child),
        );
        edge(
            &node_details(&app, &run(child)).await,
            &run(parent),
            "parent_of",
            &run(child),
        );
    }
    for (name, state) in [
        (command, "FAIL"),
        (model, "FAIL"),
        (sql1, "COMPLETE"),
        (sql2, "FAIL"),
    ] {
        assert_eq!(props(&app, &run(name)).await["state"], state, "{name}");
    }
    let failed = props(&app, &run(sql2)).await;
    assert_eq!(
        failed["facets"]["errorMessage"],
        events[5]["run"]["facets"]["errorMessage"]
    );
    let orders = "dataset:postgres://postgres:5432/postgres.public.orders";
    assert_eq!(
        props(&app, orders).await["facets"]["documentation"],
        events[1]["outputs"][0]["facets"]["documentation"]
    );
    let l = app.lineage(orders, "upstream", 1).await;
    assert!(
        node_keys(&l)
            .contains(&"dataset:postgres://postgres:5432/postgres.public.stg_payments".to_owned())
    );
    assert_eq!(keys(&app, "run", "").await.len(), 4);
}

/// The Flink expectations as-is: one lacks eventTime, the other templates it; both are 400s at
/// `eventTime`, in a batch at `[i].eventTime`, and nothing is stored.
#[rstest]
#[tokio::test]
async fn flink_expectations_as_is_are_rejected_at_event_time(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    for name in [FLINK_FAIL, FLINK_KAFKA] {
        post_file(&app, name).await.assert_problem(
            StatusCode::BAD_REQUEST,
            "invalid-field",
            Some("eventTime"),
        );
    }
    let result = post_batch(&app, &json!([load(FLINK_FAIL), load(FLINK_KAFKA)])).await;
    assert_eq!(result["status"], "failure");
    let paths: Vec<&str> = result["failed_events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["[0].eventTime", "[1].eventTime"]);
    assert_eq!(app.counts().await, Counts::ZERO);
}

/// The Flink expectations rendered: a streaming Kafka job that has started, and a failed job
/// with its error message.
#[rstest]
#[tokio::test]
async fn flink_expectations_rendered_make_a_streaming_kafka_job_and_a_failed_run(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    let kafka = render(load(FLINK_KAFKA), "2024-11-22T15:00:00Z");
    let failed = render(load(FLINK_FAIL), "2024-11-22T16:00:00Z");
    store_event(&app, &kafka).await;
    store_event(&app, &failed).await;
    let job = "job:flink_job_namespace/flink_examples_stateful";
    assert_eq!(
        props(&app, job).await["facets"]["jobType"]["processingType"],
        "STREAMING"
    );
    let run = format!(
        "run:{}",
        run_id("flink_job_namespace", "flink_examples_stateful")
    );
    assert_run(&app, &run, "START", "2024-11-22T15:00:00Z", None).await;
    let topic =
        |t: &str| format!("dataset:kafka://kafka-cluster-prod:9092/io.openlineage.flink.kafka.{t}");
    let l = app.lineage(&topic("input1"), "downstream", 1).await;
    assert_eq!(
        node_keys(&l),
        [topic("input1"), topic("output"), job.to_owned()]
    );
    assert_columns(&app, &topic("input2"), &["id", "version"]).await;
    assert_columns(&app, &topic("output"), &["id", "version", "counter"]).await;
    let fail = props(
        &app,
        &format!("run:{}", run_id("flink_job_namespace", "flink_failed_job")),
    )
    .await;
    assert_eq!(fail["state"], "FAIL");
    assert_eq!(
        fail["facets"]["errorMessage"],
        failed["run"]["facets"]["errorMessage"]
    );
    assert_eq!(fail["facets"]["processing_engine"]["version"], "1.19.1");
}

// Facet-only fixtures.

/// A facet posted as if it were an event is a 400 at `eventTime`, the first thing it lacks.
#[rstest]
#[tokio::test]
async fn facet_only_fixtures_as_is_are_not_events(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    for name in [COLUMN_FACET, PARENT_FACET] {
        post_file(&app, name).await.assert_problem(
            StatusCode::BAD_REQUEST,
            "invalid-field",
            Some("eventTime"),
        );
    }
    assert_eq!(app.counts().await, Counts::ZERO);
}

/// A minimal COMPLETE RunEvent of job `wrapper/<name>`.
fn wrapper(name: &str) -> Value {
    json!({"eventTime": "2024-01-01T00:00:00Z", "eventType": "COMPLETE",
           "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
           "run": {"runId": "c0000000-0000-4000-8000-000000000001"},
           "job": {"namespace": "wrapper", "name": name}})
}

/// The spec's columnLineage facet on an output: DIRECT and INDIRECT transformations, subtypes,
/// masking and descriptions are kept on the derives edges. The file has no dataset-level
/// `dataset` array (despite SOURCES.md), so it makes no affects edge.
#[rstest]
#[tokio::test]
async fn the_spec_column_lineage_facet_keeps_transformations_on_derives_edges(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    let facets = load(COLUMN_FACET);
    assert!(facets["columnLineage"].get("dataset").is_none());
    let ns = "SnowflakeOpenLineage";
    let event = with(
        wrapper("discounts"),
        json!({
        "inputs": [{"namespace": ns, "name": "CUSTOMERS"}, {"namespace": ns, "name": "DISCOUNTS"}],
        "outputs": [{"namespace": ns, "name": "CUSTOMER_DISCOUNTS", "facets": facets}]}),
    );
    store_event(&app, &event).await;
    let output = "dataset:SnowflakeOpenLineage/CUSTOMER_DISCOUNTS";
    let names = [
        (ns, "CUSTOMERS", "dataset:SnowflakeOpenLineage/CUSTOMERS"),
        (ns, "DISCOUNTS", "dataset:SnowflakeOpenLineage/DISCOUNTS"),
    ];
    assert_derivations(&app, output, &facets["columnLineage"], &names).await;
    let name = node_details(&app, &field(output, "NAME")).await;
    let direct = edge(
        &name,
        "field:SnowflakeOpenLineage/CUSTOMERS#NAME",
        "derives",
        &field(output, "NAME"),
    );
    assert_eq!(
        direct["transformations"],
        json!([{"type": "DIRECT", "subtype": "IDENTITY", "masking": false}])
    );
    let d = node_details(&app, output).await;
    assert!(
        !edge_triples(&d)
            .iter()
            .any(|(_, kind, _)| kind == "affects")
    );
    let derived = edge_triples(&d)
        .iter()
        .filter(|(_, kind, _)| kind == "has_field")
        .count();
    assert_eq!(derived, 4, "NAME, AMOUNT_OFF, STARTS_AT, ENDS_AT");
    assert_eq!(d["node"]["properties"]["facets"], facets);
}

/// The spec's ParentRunFacet with `root`: the direct parent is linked, and the root is kept in
/// the facet verbatim.
#[rstest]
#[tokio::test]
async fn the_spec_parent_facet_with_a_root_links_the_parent_and_keeps_the_root(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    let facets = load(PARENT_FACET);
    store_event(
        &app,
        &with(wrapper("spark_app"), json!({"run": {"facets": facets}})),
    )
    .await;
    let (child_job, child_run) = (
        "job:wrapper/spark_app",
        "run:c0000000-0000-4000-8000-000000000001",
    );
    let (parent_job, parent_run) = (
        "job:airflow/my_dag.my_task",
        "run:f99310b4-3c3c-1a1a-2b2b-c1b95c24ff11",
    );
    edge(
        &node_details(&app, child_job).await,
        parent_job,
        "parent_of",
        child_job,
    );
    let d = node_details(&app, parent_run).await;
    edge(&d, parent_run, "parent_of", child_run);
    edge(&d, parent_run, "run_of", parent_job);
    let kept = props(&app, child_run).await;
    assert_eq!(kept["facets"]["parent"], facets["parent"]);
    assert_eq!(kept["facets"]["parent"]["root"]["job"]["name"], "my_dag");
}

/// All fixtures, each as treated, in one database: nothing collides, every posting is stored
/// once, and the nodes are listed by the native API.
#[rstest]
#[tokio::test]
async fn all_fixtures_together_are_stored_and_listed(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    for (name, treatment) in FILES {
        match treatment {
            AsIs => store_file(&app, name).await,
            Batch => {
                let result = post_batch(&app, &rendered_array(name)).await;
                assert_eq!(result["status"], "success", "{name}: {result:#}");
            }
            Placeholders => store_event(&app, &render(load(name), "2024-01-01T00:00:00Z")).await,
            FacetOnly => {
                let response = post_event(
                    &app,
                    &with(wrapper(name), json!({"run": {"facets": load(name)}})),
                )
                .await;
                assert_eq!(
                    response.status,
                    StatusCode::CREATED,
                    "{name}: {}",
                    response.text()
                );
            }
        }
    }
    assert_eq!(app.counts().await.raw_payloads, 18 + 10 + 8 + 2 + 2);
    let runs = keys(&app, "run", "").await;
    assert!(runs.contains(&AIRFLOW_DAG_RUN.to_owned()), "{runs:#?}");
    assert_eq!(keys(&app, "job", "wrapper/").await.len(), 2);
    let response = app
        .post(BATCH, Some("application/json"), &[], bytes(DBT_LOGS))
        .await;
    assert_eq!(
        response.status,
        StatusCode::OK,
        "the file itself is a valid batch body"
    );
}
