//! Headwater nodes rendered as Marquez's JSON objects (datasets, jobs, runs), field for field
//! as Marquez's UI and clients read them.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::ids::{dataset_reference, reference};
use crate::model::Node;

fn facets(node: &Node) -> Value {
    node.properties
        .get("facets")
        .cloned()
        .unwrap_or_else(|| json!({}))
}

fn at<'a>(value: &'a Value, path: &[&str]) -> &'a Value {
    path.iter()
        .fold(value, |v, key| v.get(key).unwrap_or(&Value::Null))
}

/// A dataset as Marquez's `DatasetData`/`Dataset`.
pub fn dataset(node: &Node) -> Value {
    let (namespace, name) = reference(node);
    let facets = facets(node);
    let fields: Vec<Value> = at(&facets, &["schema", "fields"])
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| json!({"name": f.get("name"), "type": f.get("type"), "tags": [], "description": f.get("description")}))
        .collect();
    let source = at(&facets, &["dataSource", "name"])
        .as_str()
        .unwrap_or(&namespace)
        .to_owned();
    json!({
        "id": {"namespace": namespace, "name": name},
        "type": "DB_TABLE",
        "name": name,
        "physicalName": name,
        "createdAt": node.first_seen,
        "updatedAt": node.last_seen,
        "namespace": namespace,
        "sourceName": source,
        "fields": fields,
        "tags": [],
        "lastModifiedAt": node.last_seen,
        "description": at(&facets, &["documentation", "description"]),
        "lastLifecycleState": at(&facets, &["lifecycleStateChange", "lifecycleStateChange"]),
        "facets": facets,
    })
}

/// What a job is linked to: its inputs, outputs, latest run and parent job.
#[derive(Debug, Default)]
pub struct JobLinks<'a> {
    /// Datasets it reads.
    pub inputs: Vec<&'a Node>,
    /// Datasets it writes.
    pub outputs: Vec<&'a Node>,
    /// Its latest run by event time.
    pub latest_run: Option<&'a Node>,
    /// The job it runs inside (a DAG), from the parent run facet.
    pub parent: Option<&'a Node>,
}

/// A job as Marquez's `JobData`/`Job`. As in Marquez, the simple name drops the parent's name
/// as a prefix; without a parent it is the whole name.
pub fn job(node: &Node, links: &JobLinks<'_>) -> Value {
    let (namespace, name) = reference(node);
    let facets = facets(node);
    let job_type = match at(&facets, &["jobType", "processingType"]).as_str() {
        Some("STREAMING") => "STREAM",
        Some("SERVICE") => "SERVICE",
        _ => "BATCH",
    };
    let refs = |nodes: &[&Node]| -> Vec<Value> {
        nodes
            .iter()
            .map(|n| reference(n))
            .map(|(ns, n)| json!({"namespace": ns, "name": n}))
            .collect()
    };
    let run = links.latest_run.map(run);
    let parent = links.parent.map(|p| reference(p).1);
    let simple = parent
        .as_ref()
        .and_then(|p| name.strip_prefix(&format!("{p}.")))
        .unwrap_or(&name)
        .to_owned();
    json!({
        "id": {"namespace": namespace, "name": name},
        "type": job_type,
        "name": name,
        "simpleName": simple,
        "parentJobName": parent,
        "parentJobUuid": Value::Null,
        "currentRunUuid": Value::Null,
        "createdAt": node.first_seen,
        "updatedAt": node.last_seen,
        "namespace": namespace,
        "inputs": refs(&links.inputs),
        "outputs": refs(&links.outputs),
        "location": at(&facets, &["sourceCodeLocation", "url"]),
        "description": at(&facets, &["documentation", "description"]),
        "latestRun": run,
        "facets": facets,
    })
}

/// A run as Marquez's `Run`. Spline runs (execution events) map their status and timing.
pub fn run(node: &Node) -> Value {
    let p = &node.properties;
    let facets = facets(node);
    let (id, state, started, ended) = match p.get("format").and_then(Value::as_str) {
        Some("openlineage") => (
            p.get("runId").cloned(),
            openlineage_state(p),
            time(p, "startedAt"),
            time(p, "endedAt"),
        ),
        _ => spline_timing(node),
    };
    let duration = started.zip(ended).map(|(s, e)| (e - s).num_milliseconds());
    json!({
        "id": id,
        "createdAt": node.first_seen,
        "updatedAt": node.last_seen,
        "nominalStartTime": at(&facets, &["nominalTime", "nominalStartTime"]),
        "nominalEndTime": at(&facets, &["nominalTime", "nominalEndTime"]),
        "state": state,
        "startedAt": started,
        "endedAt": ended,
        "durationMs": duration,
        "args": {},
        "jobVersion": Value::Null,
        "inputDatasetVersions": [],
        "outputDatasetVersions": [],
        "facets": facets,
    })
}

fn time(p: &Value, key: &str) -> Option<DateTime<Utc>> {
    p.get(key)
        .and_then(Value::as_str)
        .and_then(|t| t.parse().ok())
}

/// OpenLineage event types as Marquez run states.
fn openlineage_state(p: &Value) -> &'static str {
    match p.get("state").and_then(Value::as_str) {
        Some("COMPLETE") => "COMPLETED",
        Some("FAIL") => "FAILED",
        Some("ABORT") => "ABORTED",
        Some("START" | "RUNNING" | "OTHER") => "RUNNING",
        _ => "NEW",
    }
}

/// A run's id, Marquez state, start and end.
type RunTiming = (
    Option<Value>,
    &'static str,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
);

/// A Spline event is one finished execution: it ended at its timestamp after `durationNs`.
fn spline_timing(node: &Node) -> RunTiming {
    let p = &node.properties;
    let state = if p.get("status").and_then(Value::as_str) == Some("failed") {
        "FAILED"
    } else {
        "COMPLETED"
    };
    let ended = time(p, "eventTime");
    let duration = p
        .get("durationNs")
        .and_then(Value::as_i64)
        .map(chrono::Duration::nanoseconds);
    let started = ended.zip(duration).map(|(e, d)| e - d).or(ended);
    (p.get("eventKey").cloned(), state, started, ended)
}

/// A column as Marquez's column-lineage node data.
pub fn field(node: &Node, field_type: Value, inputs: &[(&Node, &Value)]) -> Value {
    let dataset_key = node
        .properties
        .get("dataset")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let (namespace, dataset) = dataset_reference(dataset_key);
    let input_fields: Vec<Value> = inputs
        .iter()
        .map(|(input, edge)| input_field(input, edge))
        .collect();
    let first = inputs.first().map(|(_, e)| *e);
    json!({
        "namespace": namespace,
        "dataset": dataset,
        "datasetVersion": Value::Null,
        "field": node.name,
        "fieldType": field_type,
        "transformationDescription": first.map_or(&Value::Null, |e| transformation_description(e)),
        "transformationType": first.map_or(Value::Null, transformation_type),
        "inputFields": input_fields,
    })
}

fn input_field(input: &Node, edge: &Value) -> Value {
    let dataset_key = input
        .properties
        .get("dataset")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let (namespace, dataset) = dataset_reference(dataset_key);
    json!({
        "namespace": namespace,
        "dataset": dataset,
        "datasetVersion": Value::Null,
        "field": input.name,
        "transformationDescription": transformation_description(edge),
        "transformationType": transformation_type(edge),
        "transformations": edge.get("transformations"),
    })
}

fn transformation_description(edge: &Value) -> &Value {
    edge.get("transformationDescription")
        .unwrap_or(&Value::Null)
}

/// The deprecated per-column type, else the first transformation's type (spec 1-2-0).
fn transformation_type(edge: &Value) -> Value {
    if let Some(t) = edge.get("transformationType") {
        return t.clone();
    }
    let first = edge.get("transformations").and_then(|t| t.get(0));
    first
        .and_then(|t| t.get("type"))
        .cloned()
        .unwrap_or(Value::Null)
}
