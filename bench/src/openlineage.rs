//! The same platform as the Spline workload, told as OpenLineage run events.
//!
//! Most lineage reaches a store as OpenLineage, not Spline: Airflow tasks,
//! Spark applications, dbt models and hand-instrumented Python jobs each send
//! a few events per run. So this module turns every job of a
//! [`Workload`] and each of its runs into the events those integrations send
//! (`START`, for Spark often a `RUNNING`, then `COMPLETE`, or for about one
//! run in twenty `FAIL`), with the facets they carry, and works out the node
//! and edge rows Headwater's OpenLineage ingest stores because of them, so
//! the raw-SQL reference can write the same graph.
//!
//! The rows are not drawn from the generator's intent but read back from the
//! very events sent, by a mirror of the service's converter (`Graph`): what
//! one event contributes is exactly what `src/ingest/openlineage/convert.rs`
//! makes of it, keyed by the rules of `src/naming.rs`. The bench must not
//! depend on the service crate (it measures it), so the rules are restated
//! here; a real ingest compared kind by kind is what keeps them honest.
//!
//! Everything is a function of the workload seed: the same seed gives the
//! same bytes, run ids included (UUIDv7, as current integrations send, with
//! the random bits drawn from the seed).

use std::collections::BTreeMap;

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat};
use serde_json::{Map, Value, json};
use uuid::{Builder, Uuid};

use crate::generate::{DAY_MS, Layer, Plan, Workload};
use crate::rng::Rng;
use crate::rows::{EdgeRow, NodeRow, PlanRows};

/// Where the events go, under the service's base URL.
pub const LINEAGE_PATH: &str = "api/v1/lineage";

/// What every OpenLineage client sends them as.
pub const CONTENT_TYPE: &str = "application/json";

/// The spec version every event declares; it also tells the service the
/// event is a RunEvent without looking at its shape.
const RUN_EVENT_SCHEMA: &str = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent";

/// Share of runs that end in `FAIL` instead of `COMPLETE`.
const FAIL_ODDS: f64 = 0.05;

/// Odds that an output column with a same-named input column is that column
/// passed through, rather than computed afresh (as in the Spline workload).
const PASS_THROUGH: f64 = 0.6;

/// One job run: its events in the order a client sends them, and the rows
/// the service stores because of them.
#[derive(Debug, Clone)]
pub struct OlRun {
    /// Each event serialized on its own, ready to POST to [`LINEAGE_PATH`]
    /// with [`CONTENT_TYPE`]; send them in order.
    pub events: Vec<Bytes>,
    /// Per event, every node and edge it touches, shared ones (datasets, the
    /// job, the parent DAG and its run) included, as one reference
    /// transaction upserts them. `seen` is the event's time.
    pub rows: Vec<PlanRows>,
    /// Which integration sent the run.
    pub integration: Integration,
    /// Whether the run ended in `FAIL`.
    pub failed: bool,
}

/// The producers in the mix. Which one runs a job is drawn per job from odds
/// that follow the layer: Airflow operators and Spark load the raw layer,
/// Spark cleans, dbt models curate and publish, and a few jobs anywhere are
/// plain Python instrumented with the openlineage-python client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Integration {
    Airflow,
    Spark,
    Dbt,
    Python,
}

impl Integration {
    pub const ALL: [Integration; 4] = [
        Integration::Airflow,
        Integration::Spark,
        Integration::Dbt,
        Integration::Python,
    ];

    /// Relative odds of [`Integration::ALL`] for a job of `layer`.
    fn odds(layer: Layer) -> [u32; 4] {
        match layer {
            Layer::Source | Layer::Raw => [40, 50, 0, 10],
            Layer::Cleaned => [10, 70, 10, 10],
            Layer::Curated => [5, 35, 50, 10],
            Layer::Marts => [10, 10, 55, 25],
        }
    }

    fn choose(layer: Layer, rng: &mut Rng) -> Integration {
        Integration::ALL[rng.weighted(&Integration::odds(layer))]
    }

    /// The `producer` of the events and the `_producer` of their facets.
    fn producer(self) -> &'static str {
        match self {
            Integration::Airflow => {
                "https://github.com/apache/airflow/tree/providers-openlineage/1.14.0"
            }
            Integration::Spark => {
                "https://github.com/OpenLineage/OpenLineage/tree/1.23.0/integration/spark"
            }
            Integration::Dbt => {
                "https://github.com/OpenLineage/OpenLineage/tree/1.23.0/integration/dbt"
            }
            Integration::Python => {
                "https://github.com/OpenLineage/OpenLineage/tree/1.23.0/client/python"
            }
        }
    }

    /// Each integration names its jobs in its own namespace; the DAGs that
    /// schedule them all live in `airflow`.
    fn job_namespace(self) -> &'static str {
        match self {
            Integration::Airflow => "airflow",
            Integration::Spark => "spark",
            Integration::Dbt => "dbt",
            Integration::Python => "pipelines",
        }
    }

    /// `processing_engine`: name and version of what ran the job.
    fn engine(self) -> (&'static str, &'static str) {
        match self {
            Integration::Airflow => ("Airflow", "2.10.4"),
            Integration::Spark => ("spark", "3.5.1"),
            Integration::Dbt => ("dbt", "1.8.7"),
            Integration::Python => ("python", "3.11.9"),
        }
    }

    /// `jobType`: (integration, jobType), all batch.
    fn job_type(self) -> (&'static str, &'static str) {
        match self {
            Integration::Airflow => ("AIRFLOW", "TASK"),
            Integration::Spark => ("SPARK", "SQL_JOB"),
            Integration::Dbt => ("DBT", "MODEL"),
            Integration::Python => ("PYTHON", "JOB"),
        }
    }

    /// Odds of a `RUNNING` between start and end: the Spark listener sends
    /// one as jobs progress, a Python job sometimes reports progress, and
    /// Airflow and dbt never do.
    fn running_odds(self) -> f64 {
        match self {
            Integration::Spark => 0.7,
            Integration::Python => 0.2,
            Integration::Airflow | Integration::Dbt => 0.0,
        }
    }

    /// The column type names this producer reports in `schema`, indexed by
    /// [`TypeClass`].
    fn type_names(self) -> [&'static str; 6] {
        match self {
            Integration::Spark => [
                "string",
                "long",
                "integer",
                "decimal(18,2)",
                "timestamp",
                "boolean",
            ],
            Integration::Airflow | Integration::Dbt => [
                "varchar",
                "bigint",
                "integer",
                "numeric(18,2)",
                "timestamp",
                "boolean",
            ],
            Integration::Python => [
                "string",
                "int64",
                "int32",
                "decimal128(18, 2)",
                "timestamp[us]",
                "bool",
            ],
        }
    }

    /// `programmingLanguage` of a failure and its message, as each one
    /// typically fails.
    fn failure(self) -> (&'static str, &'static str) {
        match self {
            Integration::Spark => (
                "JAVA",
                "Job aborted due to stage failure: Task 3 in stage 7.0 failed 4 times, most recent failure: java.lang.OutOfMemoryError: Java heap space",
            ),
            Integration::Dbt => (
                "sql",
                "Database Error in model: division by zero; compiled code at target/run",
            ),
            Integration::Airflow | Integration::Python => (
                "python",
                "psycopg2.OperationalError: connection to server timed out; is the server accepting TCP/IP connections?",
            ),
        }
    }
}

/// Column types by kind; the workload's schemas fix each column's name,
/// and the name its kind, as the Spline workload's vocabulary does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TypeClass {
    Text = 0,
    Long = 1,
    Int = 2,
    Decimal = 3,
    Timestamp = 4,
    Boolean = 5,
}

/// The kind of a column of the workload's vocabulary; `None` for a name it
/// does not have (a test makes sure there is none).
fn type_class(column: &str) -> Option<TypeClass> {
    Some(match column {
        "id" | "customer_id" | "order_id" | "product_id" => TypeClass::Long,
        "amount" | "price" => TypeClass::Decimal,
        "quantity" => TypeClass::Int,
        "status" | "region" | "country" | "currency" | "email" | "category" => TypeClass::Text,
        "created_at" | "updated_at" => TypeClass::Timestamp,
        "is_active" => TypeClass::Boolean,
        _ => return None,
    })
}

fn class_of(column: &str) -> TypeClass {
    type_class(column).unwrap_or(TypeClass::Text)
}

/// Builds every job's runs, in posting order: a nightly batch, so all first
/// runs in stage order, then all second runs, and so on.
pub fn generate(workload: &Workload) -> Vec<OlRun> {
    let jobs: Vec<Job<'_>> = workload
        .plans
        .iter()
        .enumerate()
        .map(|(index, plan)| Job::new(workload, index, plan))
        .collect();
    let nights = workload.plans.iter().map(Plan::runs).max().unwrap_or(0);
    (0..nights)
        .flat_map(|run| {
            let jobs = &jobs;
            jobs.iter()
                .filter(move |job| run < job.plan.runs())
                .map(move |job| job.run(workload.seed, run))
        })
        .collect()
}

/// How the generated runs break down, for the report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mix {
    pub runs: usize,
    pub events: usize,
    /// Runs that ended in `FAIL`.
    pub failed: usize,
    /// `RUNNING` events (every run has one start and one end event).
    pub running: usize,
    /// Rows all runs' reference transactions write, shared ones again each time.
    pub rows: usize,
    /// Runs per integration, in [`Integration::ALL`] order.
    pub by_integration: Vec<(Integration, usize)>,
}

pub fn mix(runs: &[OlRun]) -> Mix {
    let by_integration = Integration::ALL
        .iter()
        .map(|&i| (i, runs.iter().filter(|r| r.integration == i).count()))
        .collect();
    Mix {
        runs: runs.len(),
        events: runs.iter().map(|r| r.events.len()).sum(),
        failed: runs.iter().filter(|r| r.failed).count(),
        running: runs.iter().map(|r| r.events.len() - 2).sum(),
        rows: runs.iter().flat_map(|r| &r.rows).map(PlanRows::count).sum(),
        by_integration,
    }
}

/// A dataset as OpenLineage names it, with its schema.
#[derive(Debug, Clone)]
struct Dataset {
    namespace: String,
    name: String,
    columns: Vec<&'static str>,
}

impl Dataset {
    fn of(workload: &Workload, uri: &str) -> Dataset {
        let (namespace, name) = openlineage_name(uri);
        Dataset {
            namespace,
            name,
            columns: workload.columns(uri),
        }
    }

    fn has(&self, column: &str) -> bool {
        self.columns.contains(&column)
    }

    /// A `columnLineage` input field: this dataset's `column`, used as
    /// `transformation` says.
    fn input_field(&self, column: &str, transformation: Value) -> Value {
        json!({
            "namespace": self.namespace,
            "name": self.name,
            "field": column,
            "transformations": [transformation],
        })
    }
}

/// The OpenLineage (namespace, name) of a workload URI, per the naming spec:
/// Postgres `postgres://host:5432` + `database.schema.table`, MySQL
/// `mysql://host:3306` + `database.table`, Kafka `kafka://host:9092` +
/// topic, object stores `s3://bucket` + key. The generator's source
/// systems are hosts whose database is named after them.
fn openlineage_name(uri: &str) -> (String, String) {
    let split = |rest: &str| -> (String, String) {
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        (host.to_owned(), path.to_owned())
    };
    if let Some(rest) = uri.strip_prefix("jdbc:postgresql://") {
        let (host, table) = split(rest);
        return (
            format!("postgres://{host}:5432"),
            format!("{host}.public.{table}"),
        );
    }
    if let Some(rest) = uri.strip_prefix("jdbc:mysql://") {
        let (host, table) = split(rest);
        return (format!("mysql://{host}:3306"), format!("{host}.{table}"));
    }
    if let Some(rest) = uri.strip_prefix("kafka://") {
        let (host, topic) = split(rest);
        return (format!("kafka://{host}:9092"), topic);
    }
    let (scheme, rest) = uri.split_once("://").unwrap_or(("file", uri));
    let (authority, path) = split(rest);
    (format!("{scheme}://{authority}"), path)
}

/// What stays the same from one run of a job to the next: who runs it, its
/// name, its datasets and how its columns derive.
struct Job<'w> {
    plan: &'w Plan,
    index: usize,
    integration: Integration,
    namespace: &'static str,
    name: String,
    /// The Airflow DAG that schedules the job: one per layer.
    dag: String,
    inputs: Vec<Dataset>,
    output: Dataset,
    /// The output's `columnLineage` facet, without `_producer`/`_schemaURL`.
    lineage: Value,
    query: String,
    overwrite: bool,
}

/// Stream tags, so the OpenLineage draws never disturb the Spline ones.
const JOB_STREAM: u64 = 0x4F4C_4A4F_4200_0000;
const RUN_STREAM: u64 = 0x4F4C_5255_4E00_0000;
const DAG_STREAM: u64 = 0x4F4C_4441_4700_0000;

impl<'w> Job<'w> {
    fn new(workload: &Workload, index: usize, plan: &'w Plan) -> Job<'w> {
        let mut rng = Rng::fork(workload.seed ^ JOB_STREAM, index as u64);
        let layer = plan.stage.layer;
        let integration = Integration::choose(layer, &mut rng);
        let inputs: Vec<Dataset> = plan
            .inputs
            .iter()
            .map(|uri| Dataset::of(workload, uri))
            .collect();
        let output = Dataset::of(workload, &plan.output);
        let aggregates = match layer {
            Layer::Marts => rng.chance(0.5),
            Layer::Curated => rng.chance(0.25),
            _ => false,
        };
        let lineage = column_lineage(&inputs, &output, integration, aggregates, &mut rng);
        let query = sql(&inputs, &output);
        Job {
            plan,
            index,
            integration,
            namespace: integration.job_namespace(),
            name: job_name(integration, plan, &output),
            dag: format!("lake_{}", layer.name()),
            inputs,
            output,
            lineage,
            query,
            overwrite: rng.chance(0.7),
        }
    }

    /// Run `run` of the job: its events and the rows they amount to.
    fn run(&self, seed: u64, run: usize) -> OlRun {
        let stream = (self.index as u64) << 8 | run as u64;
        let mut rng = Rng::fork(seed ^ RUN_STREAM, stream);
        let context = RunContext::new(self, seed, run, &mut rng);
        let events: Vec<Value> = context
            .phases
            .iter()
            .map(|phase| self.event(&context, *phase))
            .collect();
        // Each event is its own request and transaction, so the reference writes each event's
        // rows as its own transaction too.
        let rows = events
            .iter()
            .zip(&context.phases)
            .map(|(event, phase)| {
                let mut graph = Graph::default();
                graph.absorb(event);
                graph.into_rows(phase.at_ms as f64 / 1e3)
            })
            .collect();
        OlRun {
            events: events.iter().map(|e| Bytes::from(e.to_string())).collect(),
            rows,
            integration: self.integration,
            failed: context.failed,
        }
    }

    fn event(&self, run: &RunContext, phase: Phase) -> Value {
        let mut job = json!({"namespace": self.namespace, "name": self.name});
        if phase.kind != EventType::Running {
            job["facets"] = self.job_facets();
        }
        json!({
            "eventTime": rfc3339(phase.at_ms),
            "eventType": phase.kind.as_str(),
            "producer": self.integration.producer(),
            "schemaURL": RUN_EVENT_SCHEMA,
            "run": {"runId": run.id.to_string(), "facets": self.run_facets(run, phase)},
            "job": job,
            "inputs": self.inputs.iter().map(|d| self.input(d, phase)).collect::<Vec<_>>(),
            "outputs": [self.output(run, phase)],
        })
    }

    /// A facet as this job's producer writes it: its body plus `_producer`
    /// and the `_schemaURL` of its spec definition.
    fn facet(&self, spec: &str, body: Value) -> Value {
        let mut facet = body;
        facet["_producer"] = json!(self.integration.producer());
        facet["_schemaURL"] = json!(spec_url(spec));
        facet
    }

    fn job_facets(&self) -> Value {
        let (integration, job_type) = self.integration.job_type();
        let mut facets = json!({
            "jobType": self.facet("2-0-3/JobTypeJobFacet", json!({
                "processingType": "BATCH", "integration": integration, "jobType": job_type,
            })),
        });
        match self.integration {
            Integration::Spark | Integration::Dbt => {
                facets["sql"] = self.facet("1-1-0/SQLJobFacet", json!({"query": self.query}));
            }
            Integration::Airflow | Integration::Python => {
                facets["ownership"] = self.facet(
                    "1-0-1/OwnershipJobFacet",
                    json!({"owners": [{"name": "team-data-platform", "type": "MAINTAINER"}]}),
                );
            }
        }
        facets
    }

    /// `parent` and `processing_engine` on every event, as the integrations
    /// send them; what each integration adds about itself at the start; the
    /// error at a failure.
    fn run_facets(&self, run: &RunContext, phase: Phase) -> Value {
        let (engine, version) = self.integration.engine();
        let mut facets = json!({
            "parent": self.facet("1-0-1/ParentRunFacet", json!({
                "run": {"runId": run.parent.to_string()},
                "job": {"namespace": "airflow", "name": self.dag},
            })),
            "processing_engine": self.facet("1-1-1/ProcessingEngineRunFacet", json!({
                "name": engine, "version": version, "openlineageAdapterVersion": "1.23.0",
            })),
        });
        if phase.kind == EventType::Start {
            self.start_facets(run, &mut facets);
        }
        if phase.kind == EventType::Fail {
            let (language, message) = self.integration.failure();
            facets["errorMessage"] = self.facet(
                "1-0-1/ErrorMessageRunFacet",
                json!({"message": message, "programmingLanguage": language,
                       "stackTrace": format!("{message}\n\tat {}\n\tat scheduler.run", self.name)}),
            );
        }
        facets
    }

    fn start_facets(&self, run: &RunContext, facets: &mut Value) {
        let nominal = rfc3339(run.night_ms);
        facets["nominalTime"] = self.facet(
            "1-0-1/NominalTimeRunFacet",
            json!({"nominalStartTime": nominal}),
        );
        let task = self.plan.name.as_str();
        let custom = "2-0-2/OpenLineage.json#/$defs/RunFacet";
        match self.integration {
            Integration::Airflow => {
                facets["airflow"] = self.facet(custom, json!({
                    "dag": {"dag_id": self.dag, "owner": "data-platform", "schedule_interval": "@daily"},
                    "dagRun": {"dag_id": self.dag, "run_id": format!("scheduled__{nominal}"), "run_type": "scheduled"},
                    "task": {"task_id": task, "operator_class": "SQLExecuteQueryOperator", "retries": 2},
                    "taskInstance": {"try_number": 1, "pool": "default_pool"},
                }));
            }
            Integration::Spark => {
                facets["spark_properties"] = self.facet(
                    custom,
                    json!({
                        "properties": {"spark.master": "yarn", "spark.app.name": task},
                    }),
                );
            }
            Integration::Dbt => {
                facets["dbt_version"] = self.facet(custom, json!({"version": "1.8.7"}));
                facets["dbt_run"] =
                    self.facet(custom, json!({"invocation_id": run.id.to_string()}));
            }
            Integration::Python => {}
        }
    }

    /// The dataset facets every event carries: where it lives, and from the
    /// start (Spark) or at the end (the others) its schema.
    fn dataset_facets(&self, dataset: &Dataset, phase: Phase) -> Option<Value> {
        if phase.kind == EventType::Running {
            return None;
        }
        let mut facets = json!({
            "dataSource": self.facet("1-0-1/DatasourceDatasetFacet", json!({
                "name": dataset.namespace, "uri": dataset.namespace,
            })),
        });
        if phase.kind.is_terminal() || self.integration == Integration::Spark {
            facets["schema"] = self.schema(dataset);
        }
        Some(facets)
    }

    fn schema(&self, dataset: &Dataset) -> Value {
        let names = self.integration.type_names();
        let fields: Vec<Value> = dataset
            .columns
            .iter()
            .map(|c| json!({"name": c, "type": names[class_of(c) as usize]}))
            .collect();
        self.facet("1-1-1/SchemaDatasetFacet", json!({"fields": fields}))
    }

    fn input(&self, dataset: &Dataset, phase: Phase) -> Value {
        let mut input = json!({"namespace": dataset.namespace, "name": dataset.name});
        if let Some(facets) = self.dataset_facets(dataset, phase) {
            input["facets"] = facets;
            input["inputFacets"] = json!({});
        }
        input
    }

    /// The output; on completion with its column lineage, what the write
    /// did to the table (Spark) and how much it wrote.
    fn output(&self, run: &RunContext, phase: Phase) -> Value {
        let dataset = &self.output;
        let mut output = json!({"namespace": dataset.namespace, "name": dataset.name});
        let Some(mut facets) = self.dataset_facets(dataset, phase) else {
            return output;
        };
        let mut output_facets = json!({});
        if phase.kind == EventType::Complete {
            facets["columnLineage"] =
                self.facet("1-2-0/ColumnLineageDatasetFacet", self.lineage.clone());
            if self.overwrite && self.integration == Integration::Spark {
                facets["lifecycleStateChange"] = self.facet(
                    "1-0-1/LifecycleStateChangeDatasetFacet",
                    json!({"lifecycleStateChange": "OVERWRITE"}),
                );
            }
            output_facets["outputStatistics"] = self.facet(
                "1-0-2/OutputStatisticsOutputDatasetFacet",
                json!({"rowCount": run.rows_written, "size": run.rows_written * 96}),
            );
        }
        output["facets"] = facets;
        output["outputFacets"] = output_facets;
        output
    }
}

/// `https://openlineage.io/spec/facets/1-0-1/ParentRunFacet.json#/$defs/ParentRunFacet`
/// from `1-0-1/ParentRunFacet`; a spec path with its own `#` is taken as is.
fn spec_url(spec: &str) -> String {
    if spec.contains('#') {
        return format!("https://openlineage.io/spec/{spec}");
    }
    let name = spec.rsplit('/').next().unwrap_or(spec);
    format!("https://openlineage.io/spec/facets/{spec}.json#/$defs/{name}")
}

/// Job names as each integration forms them: Airflow `dag.task`, Spark
/// `app.action.output`, dbt `database.schema.project.model`, Python the
/// script's own name.
fn job_name(integration: Integration, plan: &Plan, output: &Dataset) -> String {
    let layer = plan.stage.layer.name();
    match integration {
        Integration::Airflow => format!("lake_{layer}.{}", plan.name),
        Integration::Spark => format!(
            "{}.execute_insert_into_hadoop_fs_relation_command.{}",
            plan.name,
            output.name.replace('/', "_")
        ),
        Integration::Dbt => format!("lake.{layer}.headwater.{}", plan.name),
        Integration::Python => plan.name.clone(),
    }
}

/// A plausible statement for the `sql` job facet: the output's columns from
/// the inputs joined in order.
fn sql(inputs: &[Dataset], output: &Dataset) -> String {
    let table = |d: &Dataset| d.name.replace('/', "_");
    let from: Vec<String> = inputs
        .iter()
        .enumerate()
        .map(|(i, d)| format!("{} AS t{i}", table(d)))
        .collect();
    format!(
        "INSERT OVERWRITE TABLE {} SELECT {} FROM {}",
        table(output),
        output.columns.join(", "),
        from.join(" JOIN ")
    )
}

/// The output's `columnLineage` (spec 1-2-0): every output column from its
/// input columns, and the inputs that shape the whole dataset (join keys,
/// filters, grouping) under `dataset`. Airflow's SQL parser also writes the
/// deprecated per-column `transformationDescription`/`transformationType`
/// and leaves `dataset` empty.
fn column_lineage(
    inputs: &[Dataset],
    output: &Dataset,
    integration: Integration,
    aggregates: bool,
    rng: &mut Rng,
) -> Value {
    let mut fields = Map::new();
    for column in &output.columns {
        let (input_fields, kind) = column_inputs(inputs, column, aggregates, rng);
        let mut entry = json!({"inputFields": input_fields});
        if integration == Integration::Airflow {
            entry["transformationDescription"] = json!(kind.to_lowercase());
            entry["transformationType"] = json!(kind);
        }
        fields.insert((*column).to_owned(), entry);
    }
    let dataset = match integration {
        Integration::Airflow => Vec::new(),
        _ => indirect_inputs(inputs, aggregates, rng),
    };
    json!({"fields": fields, "dataset": dataset})
}

/// The input fields of one output column and the kind of its derivation:
/// the same-named column of up to two inputs that have one, passed through,
/// or else an expression over one to three input columns, of the column's
/// type where any input has it.
fn column_inputs(
    inputs: &[Dataset],
    column: &str,
    aggregates: bool,
    rng: &mut Rng,
) -> (Vec<Value>, &'static str) {
    let same: Vec<&Dataset> = inputs.iter().filter(|d| d.has(column)).take(2).collect();
    if !same.is_empty() && rng.chance(PASS_THROUGH) {
        let identity = transformation("DIRECT", "IDENTITY", "");
        let fields = same
            .iter()
            .map(|d| d.input_field(column, identity.clone()))
            .collect();
        return (fields, "IDENTITY");
    }
    let sources = pick_sources(inputs, class_of(column), rng);
    let names: Vec<&str> = sources.iter().map(|(_, c)| *c).collect();
    let (subtype, description) = expression(class_of(column), &names, aggregates);
    let derived = transformation("DIRECT", subtype, &description);
    let fields = sources
        .iter()
        .map(|(d, c)| d.input_field(c, derived.clone()))
        .collect();
    (fields, subtype)
}

/// One to three distinct input columns of `class`, or of any type when no
/// input has one.
fn pick_sources<'d>(
    inputs: &'d [Dataset],
    class: TypeClass,
    rng: &mut Rng,
) -> Vec<(&'d Dataset, &'static str)> {
    let all: Vec<(&Dataset, &'static str)> = inputs
        .iter()
        .flat_map(|d| d.columns.iter().map(move |c| (d, *c)))
        .collect();
    let typed: Vec<(&Dataset, &'static str)> = all
        .iter()
        .copied()
        .filter(|(_, c)| class_of(c) == class)
        .collect();
    let mut pool = if typed.is_empty() { all } else { typed };
    let wanted = rng.between(1, 3.min(pool.len()));
    (0..wanted)
        .map(|_| pool.swap_remove(rng.below(pool.len())))
        .collect()
}

/// The transformation subtype and a description of an expression over
/// `columns` producing a column of `class`.
fn expression(class: TypeClass, columns: &[&str], aggregates: bool) -> (&'static str, String) {
    let list = columns.join(", ");
    let numeric = matches!(class, TypeClass::Decimal | TypeClass::Long | TypeClass::Int);
    if aggregates && numeric {
        return ("AGGREGATION", format!("sum({list})"));
    }
    let text = match class {
        TypeClass::Text => format!("upper(concat({list}))"),
        _ if numeric => columns.join(" * "),
        _ => format!("coalesce({list})"),
    };
    ("TRANSFORMATION", text)
}

/// The inputs that affect every row rather than one column: each join's key
/// on both sides, sometimes a filter column, and the grouping key of an
/// aggregation.
fn indirect_inputs(inputs: &[Dataset], aggregates: bool, rng: &mut Rng) -> Vec<Value> {
    let first = &inputs[0];
    let mut entries = Vec::new();
    for other in &inputs[1..] {
        let shared = first.columns.iter().find(|c| other.has(c));
        let (left, right) = match shared {
            Some(c) => (*c, *c),
            None => (first.columns[0], other.columns[0]),
        };
        let join = transformation("INDIRECT", "JOIN", "");
        entries.push(first.input_field(left, join.clone()));
        entries.push(other.input_field(right, join));
    }
    if rng.chance(0.6) {
        let dataset = rng.pick(inputs);
        let column = *rng.pick(&dataset.columns);
        let filter = transformation("INDIRECT", "FILTER", "");
        entries.push(dataset.input_field(column, filter));
    }
    if aggregates {
        let group = transformation("INDIRECT", "GROUP_BY", "");
        entries.push(first.input_field(first.columns[0], group));
    }
    entries
}

fn transformation(kind: &str, subtype: &str, description: &str) -> Value {
    json!({"type": kind, "subtype": subtype, "description": description, "masking": false})
}

/// The states a run reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EventType {
    Start,
    Running,
    Complete,
    Fail,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            EventType::Start => "START",
            EventType::Running => "RUNNING",
            EventType::Complete => "COMPLETE",
            EventType::Fail => "FAIL",
        }
    }

    fn is_terminal(self) -> bool {
        matches!(self, EventType::Complete | EventType::Fail)
    }
}

/// One event of a run: what it reports and when, epoch ms.
#[derive(Debug, Clone, Copy)]
struct Phase {
    kind: EventType,
    at_ms: i64,
}

/// What changes from one run to the next.
struct RunContext {
    id: Uuid,
    /// The DAG run the job ran in.
    parent: Uuid,
    /// Midnight of the night the run belongs to, epoch ms.
    night_ms: i64,
    phases: Vec<Phase>,
    failed: bool,
    rows_written: u64,
}

impl RunContext {
    /// The run starts when the workload says it ran and takes 5 s to 20 min;
    /// a `RUNNING`, if any, comes somewhere in between.
    fn new(job: &Job<'_>, seed: u64, run: usize, rng: &mut Rng) -> RunContext {
        let start = job.plan.run_timestamp_ms(run);
        let night = start.div_euclid(DAY_MS);
        let duration = rng.between(5_000, 1_200_000) as i64;
        let failed = rng.chance(FAIL_ODDS);
        let mut phases = vec![Phase {
            kind: EventType::Start,
            at_ms: start,
        }];
        if rng.chance(job.integration.running_odds()) {
            let at_ms = start + duration * rng.between(20, 80) as i64 / 100;
            phases.push(Phase {
                kind: EventType::Running,
                at_ms,
            });
        }
        let end = if failed {
            EventType::Fail
        } else {
            EventType::Complete
        };
        phases.push(Phase {
            kind: end,
            at_ms: start + duration,
        });
        RunContext {
            id: uuid_v7(start, rng),
            parent: dag_run_id(seed, job.plan.stage.layer, night),
            night_ms: night * DAY_MS,
            phases,
            failed,
            rows_written: rng.between(1_000, 5_000_000) as u64,
        }
    }
}

/// The run id of a layer's DAG on one night: every task of that layer that
/// night names it as parent, so the parent run (and DAG job) are shared.
fn dag_run_id(seed: u64, layer: Layer, night: i64) -> Uuid {
    let slot = Layer::LAKE.iter().position(|l| *l == layer).unwrap_or(0) as u64;
    let mut rng = Rng::fork(seed ^ DAG_STREAM, (night as u64) << 3 | slot);
    uuid_v7(night * DAY_MS, &mut rng)
}

/// A UUIDv7 (time-ordered, as Airflow and the Spark integration make run
/// ids) for `ms`, its random bits drawn from `rng` so that it is fixed by
/// the seed.
fn uuid_v7(ms: i64, rng: &mut Rng) -> Uuid {
    let mut random = [0u8; 10];
    random[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
    random[8..].copy_from_slice(&rng.next_u64().to_le_bytes()[..2]);
    Builder::from_unix_timestamp_millis(u64::try_from(ms).unwrap_or(0), &random).into_uuid()
}

/// `eventTime` as clients write it: RFC 3339, milliseconds, UTC.
fn rfc3339(ms: i64) -> String {
    let time = DateTime::from_timestamp_millis(ms).expect("event times are in range");
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The time as the service keeps it in a run's properties (chrono's own
/// serialization of the parsed `eventTime`).
fn stored_time(text: &str) -> String {
    DateTime::parse_from_rfc3339(text).map_or_else(
        |_| text.to_owned(),
        |t| t.to_utc().to_rfc3339_opts(SecondsFormat::AutoSi, true),
    )
}

/// The service's canonical dataset key for an OpenLineage namespace and
/// name (`src/naming.rs`): a namespace with a scheme is joined to the name
/// with one `/`, scheme and authority lower-cased, `s3a`/`s3n` read as
/// `s3`, a trailing `/` dropped; a namespace without one is kept as
/// `namespace/name`. (The `file` namespace rules are left out: nothing
/// here names local files.)
fn dataset_key(namespace: &str, name: &str) -> String {
    let namespace = namespace.trim();
    let Some((scheme, rest)) = namespace.split_once(':').filter(|(s, _)| is_scheme(s)) else {
        return format!("dataset:{namespace}/{name}");
    };
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "s3a" | "s3n" => "s3".to_owned(),
        other => other.to_owned(),
    };
    let joined = format!(
        "{}/{}",
        rest.trim_end_matches('/'),
        name.trim_start_matches('/')
    );
    let Some(hier) = joined.strip_prefix("//") else {
        return format!("dataset:{scheme}:{joined}");
    };
    let (authority, path) = hier.split_at(hier.find('/').unwrap_or(hier.len()));
    let path = match path.len() > 1 {
        true => path.strip_suffix('/').unwrap_or(path),
        false => path,
    };
    format!(
        "dataset:{scheme}://{}{path}",
        authority.to_ascii_lowercase()
    )
}

fn is_scheme(scheme: &str) -> bool {
    scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
}

/// A column's key: its dataset's key with `field:` for `dataset:`, `#`, the name.
fn field_key(dataset: &str, column: &str) -> String {
    let uri = dataset.strip_prefix("dataset:").unwrap_or(dataset);
    format!("field:{uri}#{column}")
}

/// A node being built: kind, name and properties.
type Node = (&'static str, String, Map<String, Value>);

/// The mirror of the service's converter: what a run's events make of the
/// graph, node and edge rows merged as the service merges them (properties
/// two levels deep, the later event winning).
#[derive(Default)]
struct Graph {
    nodes: BTreeMap<String, Node>,
    edges: BTreeMap<(String, &'static str, String), Map<String, Value>>,
}

impl Graph {
    fn node(&mut self, key: &str, kind: &'static str, name: &str, properties: Value) {
        let properties = into_map(properties);
        match self.nodes.get_mut(key) {
            Some(node) => {
                node.1 = name.to_owned();
                merge(&mut node.2, properties);
            }
            None => {
                self.nodes
                    .insert(key.to_owned(), (kind, name.to_owned(), properties));
            }
        }
    }

    fn edge(&mut self, source: &str, target: &str, kind: &'static str, properties: Value) {
        let id = (source.to_owned(), kind, target.to_owned());
        merge(self.edges.entry(id).or_default(), into_map(properties));
    }

    /// One RunEvent: the job, the run, the datasets and their columns, and
    /// the parent job and run.
    fn absorb(&mut self, event: &Value) {
        let job = self.job(&event["job"]);
        let run_id = str_of(&event["run"]["runId"]);
        let run = format!("run:{run_id}");
        self.node(&run, "run", run_id, run_properties(event));
        self.edge(&run, &job, "run_of", json!({}));
        for input in array(&event["inputs"]) {
            let key = self.dataset(input);
            let facets = object_or_empty(&input["inputFacets"]);
            self.edge(&key, &job, "input", json!({"inputFacets": facets}));
            self.lineage(&key, input);
        }
        for output in array(&event["outputs"]) {
            let key = self.dataset(output);
            let facets = object_or_empty(&output["outputFacets"]);
            self.edge(&job, &key, "output", json!({"outputFacets": facets}));
            self.lineage(&key, output);
        }
        let parent = &event["run"]["facets"]["parent"];
        if parent.is_object() {
            self.parent(&job, &run, parent);
        }
    }

    fn job(&mut self, job: &Value) -> String {
        let (namespace, name) = (str_of(&job["namespace"]), str_of(&job["name"]));
        let key = format!("job:{namespace}/{name}");
        let properties = json!({"namespace": namespace, "name": name, "format": "openlineage",
                                "facets": object_or_empty(&job["facets"])});
        self.node(&key, "job", name, properties);
        key
    }

    /// A dataset node, and its columns from the `schema` facet with their
    /// positions on `has_field`.
    fn dataset(&mut self, dataset: &Value) -> String {
        let key = self.dataset_node(dataset);
        let fields = array(&dataset["facets"]["schema"]["fields"]);
        for (index, field) in fields.iter().enumerate() {
            self.field(&key, str_of(&field["name"]), json!({"index": index}));
        }
        key
    }

    fn dataset_node(&mut self, dataset: &Value) -> String {
        let (namespace, name) = (str_of(&dataset["namespace"]), str_of(&dataset["name"]));
        let key = dataset_key(namespace, name);
        let mut properties = json!({"namespace": namespace, "name": name});
        if let Some(uri) = key.strip_prefix("dataset:").filter(|u| u.contains("://")) {
            properties["uri"] = json!(uri);
        }
        if let Some(facets) = dataset.get("facets").filter(|f| f.is_object()) {
            properties["facets"] = facets.clone();
        }
        self.node(&key, "dataset", name, properties);
        key
    }

    fn field(&mut self, dataset: &str, name: &str, link: Value) -> String {
        let key = field_key(dataset, name);
        let properties = json!({"name": name, "dataset": dataset});
        self.node(&key, "field", name, properties);
        self.edge(dataset, &key, "has_field", link);
        key
    }

    /// `derives` from every input field to its output column, `affects`
    /// from the dataset-wide inputs to the dataset.
    fn lineage(&mut self, dataset: &str, holder: &Value) {
        let lineage = &holder["facets"]["columnLineage"];
        for (column, inputs) in lineage["fields"].as_object().into_iter().flatten() {
            let target = self.field(dataset, column, json!({}));
            for input in array(&inputs["inputFields"]) {
                let source = self.input_field(input);
                self.edge(&source, &target, "derives", derivation(input, inputs));
            }
        }
        for input in array(&lineage["dataset"]) {
            let source = self.input_field(input);
            let properties = json!({"transformations": input.get("transformations")});
            self.edge(&source, dataset, "affects", properties);
        }
    }

    fn input_field(&mut self, input: &Value) -> String {
        let dataset =
            self.dataset_node(&json!({"namespace": input["namespace"], "name": input["name"]}));
        self.field(&dataset, str_of(&input["field"]), json!({}))
    }

    /// The parent job (the DAG) over the job, the parent run over the run.
    fn parent(&mut self, job: &str, run: &str, parent: &Value) {
        let parent_job = self.job(&json!({"namespace": parent["job"]["namespace"],
                                          "name": parent["job"]["name"]}));
        self.edge(&parent_job, job, "parent_of", json!({}));
        let run_id = str_of(&parent["run"]["runId"]);
        let parent_run = format!("run:{run_id}");
        let properties = json!({"runId": run_id, "format": "openlineage",
                                "job": {"namespace": parent["job"]["namespace"], "name": parent["job"]["name"]}});
        self.node(&parent_run, "run", run_id, properties);
        self.edge(&parent_run, &parent_job, "run_of", json!({}));
        self.edge(&parent_run, run, "parent_of", json!({}));
    }

    fn into_rows(self, seen: f64) -> PlanRows {
        let nodes = self
            .nodes
            .into_iter()
            .map(|(key, (kind, name, properties))| NodeRow {
                key,
                kind,
                name,
                properties: Value::Object(properties).to_string(),
            });
        let edges = self
            .edges
            .into_iter()
            .map(|((source, kind, target), properties)| EdgeRow {
                source,
                target,
                kind,
                properties: Value::Object(properties).to_string(),
            });
        PlanRows {
            nodes: nodes.collect(),
            edges: edges.collect(),
            seen,
        }
    }
}

/// What the service keeps about a run from one event: ids, facets, the
/// state it reports, and when it started or ended.
fn run_properties(event: &Value) -> Value {
    let time = stored_time(str_of(&event["eventTime"]));
    let mut properties = json!({
        "runId": event["run"]["runId"],
        "format": "openlineage",
        "job": {"namespace": event["job"]["namespace"], "name": event["job"]["name"]},
        "facets": object_or_empty(&event["run"]["facets"]),
        "eventTime": time,
        "producer": event["producer"],
        "state": event["eventType"],
    });
    match str_of(&event["eventType"]) {
        "START" => properties["startedAt"] = json!(time),
        "COMPLETE" | "FAIL" | "ABORT" => properties["endedAt"] = json!(time),
        _ => {}
    }
    properties
}

/// A `derives` edge's properties: the input's transformations, and the
/// column's deprecated description and type when sent.
fn derivation(input: &Value, column: &Value) -> Value {
    let mut properties = Map::new();
    let sent = [
        ("transformations", &input["transformations"]),
        (
            "transformationDescription",
            &column["transformationDescription"],
        ),
        ("transformationType", &column["transformationType"]),
    ];
    for (name, value) in sent {
        if !value.is_null() {
            properties.insert(name.to_owned(), value.clone());
        }
    }
    Value::Object(properties)
}

/// The merge rule for accumulating nodes and edges: keys of `newer` win,
/// and where both hold an object under one key, the two objects merge.
fn merge(older: &mut Map<String, Value>, newer: Map<String, Value>) {
    for (key, value) in newer {
        match (older.get_mut(&key), value) {
            (Some(Value::Object(old)), Value::Object(new)) => old.extend(new),
            (_, value) => {
                older.insert(key, value);
            }
        }
    }
}

fn into_map(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn object_or_empty(value: &Value) -> Value {
    match value {
        Value::Object(_) => value.clone(),
        _ => json!({}),
    }
}

fn array(value: &Value) -> &[Value] {
    value.as_array().map(Vec::as_slice).unwrap_or_default()
}

fn str_of(value: &Value) -> &str {
    value.as_str().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::*;
    use crate::generate::generate as workload;

    fn parsed(run: &OlRun) -> Vec<Value> {
        run.events
            .iter()
            .map(|e| serde_json::from_slice(e).expect("events are JSON"))
            .collect()
    }

    #[test]
    fn same_seed_same_bytes() {
        let (a, b) = (generate(&workload(80, 5)), generate(&workload(80, 5)));
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.events, y.events);
            for (p, q) in x.rows.iter().zip(&y.rows) {
                assert_eq!((&p.nodes, &p.edges), (&q.nodes, &q.edges));
            }
        }
        let c = generate(&workload(80, 6));
        assert_ne!(a[0].events, c[0].events);
    }

    #[test]
    fn every_event_has_the_required_fields() {
        let runs = generate(&workload(120, 1));
        let mut run_ids = HashSet::new();
        for run in &runs {
            let events = parsed(run);
            let id = str_of(&events[0]["run"]["runId"]).to_owned();
            assert!(Uuid::parse_str(&id).is_ok(), "{id}");
            assert!(run_ids.insert(id.clone()), "run id {id} twice");
            for event in &events {
                for path in [
                    "/eventTime",
                    "/eventType",
                    "/run/runId",
                    "/job/namespace",
                    "/job/name",
                    "/producer",
                    "/schemaURL",
                ] {
                    let value = event.pointer(path).and_then(Value::as_str);
                    assert!(value.is_some_and(|v| !v.is_empty()), "{path} in {event}");
                }
                assert!(DateTime::parse_from_rfc3339(str_of(&event["eventTime"])).is_ok());
                assert_eq!(event["run"]["runId"], json!(id));
            }
            let types: Vec<&str> = events.iter().map(|e| str_of(&e["eventType"])).collect();
            assert_eq!(types[0], "START");
            assert!(types[1..types.len() - 1].iter().all(|t| *t == "RUNNING"));
            let last = *types.last().unwrap();
            assert_eq!(last == "FAIL", run.failed);
            assert!(last == "COMPLETE" || last == "FAIL");
            let times: Vec<&str> = events.iter().map(|e| str_of(&e["eventTime"])).collect();
            assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
        }
    }

    #[test]
    fn runs_follow_the_workload_in_nightly_order() {
        let workload = workload(100, 3);
        let runs = generate(&workload);
        let expected: usize = workload.plans.iter().map(Plan::runs).sum();
        assert_eq!(runs.len(), expected);
        let first = parsed(&runs[0]);
        assert_eq!(
            first[0]["eventTime"],
            json!(rfc3339(workload.plans[0].timestamp_ms))
        );
        let m = mix(&runs);
        assert_eq!(m.runs, expected);
        assert_eq!(m.events, 2 * expected + m.running);
        assert!(m.running > 0);
        assert_eq!(
            m.by_integration.iter().map(|(_, n)| n).sum::<usize>(),
            expected
        );
        assert!(m.by_integration.iter().all(|(_, n)| *n > 0), "{m:?}");
    }

    #[test]
    fn about_one_run_in_twenty_fails() {
        let runs = generate(&workload(300, 42));
        let m = mix(&runs);
        let share = m.failed as f64 / m.runs as f64;
        assert!((0.03..0.07).contains(&share), "{share} of {} runs", m.runs);
        for run in runs.iter().filter(|r| r.failed) {
            let end = parsed(run).pop().unwrap();
            assert!(end["run"]["facets"]["errorMessage"]["message"].is_string());
        }
    }

    /// A run's rows over all its events, each node and edge once.
    fn merged(rows: &[PlanRows]) -> PlanRows {
        let mut nodes = std::collections::BTreeMap::new();
        let mut edges = std::collections::BTreeMap::new();
        for r in rows {
            for n in &r.nodes {
                nodes.entry(n.key.clone()).or_insert_with(|| n.clone());
            }
            for e in &r.edges {
                let id = (e.source.clone(), e.kind, e.target.clone());
                edges.entry(id).or_insert_with(|| e.clone());
            }
        }
        PlanRows {
            nodes: nodes.into_values().collect(),
            edges: edges.into_values().collect(),
            seen: 0.0,
        }
    }

    #[test]
    fn every_run_has_its_rows() {
        let runs = generate(&workload(60, 7));
        for run in &runs {
            let events = parsed(run);
            assert_eq!(run.rows.len(), events.len(), "one transaction per event");
            let all = merged(&run.rows);
            let kinds = |kind: &str| all.nodes.iter().filter(|n| n.kind == kind).count();
            let edges = |kind: &str| all.edges.iter().filter(|e| e.kind == kind).count();
            assert_eq!(kinds("job"), 2, "the job and its DAG");
            assert_eq!(kinds("run"), 2, "the run and its DAG run");
            let datasets = array(&events[0]["inputs"]).len() + 1;
            assert_eq!(kinds("dataset"), datasets);
            assert_eq!(edges("input"), datasets - 1);
            assert_eq!(
                (edges("output"), edges("run_of"), edges("parent_of")),
                (1, 2, 2)
            );
            assert_eq!(edges("has_field"), kinds("field"));
            assert!(kinds("field") > 0);
            assert_eq!(edges("derives") > 0, !run.failed);
            for (rows, event) in run.rows.iter().zip(&events) {
                let keys: HashSet<&str> = rows.nodes.iter().map(|n| n.key.as_str()).collect();
                for edge in &rows.edges {
                    assert!(
                        keys.contains(edge.source.as_str()) && keys.contains(edge.target.as_str())
                    );
                }
                let seen = DateTime::parse_from_rfc3339(str_of(&event["eventTime"]));
                assert_eq!(rows.seen, seen.unwrap().timestamp_millis() as f64 / 1e3);
            }
        }
    }

    /// Every input field of the column lineage is a column of an input's
    /// schema, and every output column has one.
    #[test]
    fn column_lineage_names_only_input_columns() {
        let runs = generate(&workload(200, 11));
        let mut checked = 0;
        for run in runs.iter().filter(|r| !r.failed) {
            let complete = parsed(run).pop().unwrap();
            let mut schemas: HashMap<(String, String), HashSet<String>> = HashMap::new();
            for input in array(&complete["inputs"]) {
                let columns = array(&input["facets"]["schema"]["fields"]).iter();
                let names = columns.map(|f| str_of(&f["name"]).to_owned()).collect();
                let id = (
                    str_of(&input["namespace"]).to_owned(),
                    str_of(&input["name"]).to_owned(),
                );
                schemas.insert(id, names);
            }
            let output = &complete["outputs"][0];
            let lineage = &output["facets"]["columnLineage"];
            let written: Vec<&str> = array(&output["facets"]["schema"]["fields"])
                .iter()
                .map(|f| str_of(&f["name"]))
                .collect();
            let fields = lineage["fields"].as_object().unwrap();
            assert_eq!(fields.len(), written.len());
            let mut used = array(&lineage["dataset"]).to_vec();
            for column in &written {
                let inputs = array(&fields[*column]["inputFields"]);
                assert!(!inputs.is_empty(), "{column}");
                used.extend(inputs.iter().cloned());
            }
            for field in &used {
                let id = (
                    str_of(&field["namespace"]).to_owned(),
                    str_of(&field["name"]).to_owned(),
                );
                assert!(schemas[&id].contains(str_of(&field["field"])), "{field}");
                assert!(
                    array(&field["transformations"])
                        .iter()
                        .all(|t| t["type"].is_string())
                );
                checked += 1;
            }
        }
        assert!(checked > 500, "{checked}");
    }

    #[test]
    fn every_column_has_a_known_type() {
        let workload = workload(300, 2);
        for plan in &workload.plans {
            for uri in plan.inputs.iter().chain([&plan.output]) {
                for column in workload.columns(uri) {
                    assert!(type_class(column).is_some(), "{column} of {uri}");
                }
            }
        }
    }

    #[test]
    fn names_follow_the_naming_spec_and_meet_spline_keys() {
        assert_eq!(
            openlineage_name("jdbc:postgresql://erp/orders_17"),
            (
                "postgres://erp:5432".to_owned(),
                "erp.public.orders_17".to_owned()
            )
        );
        assert_eq!(
            openlineage_name("jdbc:mysql://crm/customers_1"),
            ("mysql://crm:3306".to_owned(), "crm.customers_1".to_owned())
        );
        assert_eq!(
            openlineage_name("kafka://events/clickstream_2"),
            ("kafka://events:9092".to_owned(), "clickstream_2".to_owned())
        );
        let (namespace, name) = openlineage_name("s3://lake/cleaned/s2/ds_0042");
        assert_eq!(
            (namespace.as_str(), name.as_str()),
            ("s3://lake", "cleaned/s2/ds_0042")
        );
        // Lake datasets get the key the Spline workload gives them.
        assert_eq!(
            dataset_key(&namespace, &name),
            crate::rows::dataset_key("s3://lake/cleaned/s2/ds_0042")
        );
        // The service's own examples (src/naming.rs).
        assert_eq!(
            dataset_key("hdfs://nn:8020", "/data/x"),
            "dataset:hdfs://nn:8020/data/x"
        );
        assert_eq!(
            dataset_key("s3a://Bucket/", "dir/"),
            "dataset:s3://bucket/dir"
        );
        assert_eq!(
            dataset_key("bigquery", "proj.ds.table"),
            "dataset:bigquery/proj.ds.table"
        );
        assert_eq!(field_key("dataset:s3://b/t", "id"), "field:s3://b/t#id");
    }

    /// The mirror turns the service's own converter test event into the
    /// keys the service's test expects (src/ingest/openlineage/mod.rs).
    #[test]
    fn the_mirror_draws_what_the_converter_draws() {
        let event = json!({
            "eventTime": "2024-10-16T17:33:51.509Z", "eventType": "COMPLETE",
            "run": {"runId": "r-1", "facets": {"parent": {"run": {"runId": "p-1"}, "job": {"namespace": "airflow", "name": "dag"}}}},
            "job": {"namespace": "airflow", "name": "dag.task"},
            "inputs": [{"namespace": "hdfs://nn:8020", "name": "/data/in",
                        "facets": {"schema": {"fields": [{"name": "a"}, {"name": "b"}]}}}],
            "outputs": [{"namespace": "hdfs://nn:8020", "name": "/data/out", "facets": {
                "columnLineage": {"fields": {"c": {"inputFields": [
                    {"namespace": "hdfs://nn:8020", "name": "/data/in", "field": "a"}]}},
                    "dataset": [{"namespace": "hdfs://nn:8020", "name": "/data/in", "field": "b"}]}}}]
        });
        let mut graph = Graph::default();
        graph.absorb(&event);
        let rows = graph.into_rows(0.0);
        let has = |kind: &str, source: &str, target: &str| {
            rows.edges
                .iter()
                .any(|e| e.kind == kind && e.source == source && e.target == target)
        };
        let (input, output, job) = (
            "dataset:hdfs://nn:8020/data/in",
            "dataset:hdfs://nn:8020/data/out",
            "job:airflow/dag.task",
        );
        assert!(has("input", input, job));
        assert!(has("output", job, output));
        assert!(has("run_of", "run:r-1", job));
        assert!(has("has_field", input, "field:hdfs://nn:8020/data/in#b"));
        assert!(has(
            "derives",
            "field:hdfs://nn:8020/data/in#a",
            "field:hdfs://nn:8020/data/out#c"
        ));
        assert!(has("affects", "field:hdfs://nn:8020/data/in#b", output));
        assert!(has("parent_of", "job:airflow/dag", job));
        assert!(has("parent_of", "run:p-1", "run:r-1"));
        assert!(has("run_of", "run:p-1", "job:airflow/dag"));
        assert_eq!(rows.nodes.iter().filter(|n| n.kind == "field").count(), 3);
        assert_eq!(rows.nodes.len(), 3 + 2 + 2 + 2);
    }
}
