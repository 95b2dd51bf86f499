//! The JSON objects Spline's consumer API answers with, field for field as Spline's server
//! renders them (`ExecutionEventInfo`, `ExecutionPlanInfo`, `Operation`, ...), and how the
//! stored graph fills them.

use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use super::ids::spline_id;
use super::plan_view::{PlanView, local_id, text};
use crate::model::Node;
use crate::store::SplineEvent;

/// One execution event (or a data source described by its last write).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct ExecutionEventInfo {
    /// Event id: `<planId>:<timestamp in base 36>`.
    execution_event_id: Option<String>,
    /// The plan's UUID.
    execution_plan_id: Option<String>,
    /// `<framework> <version>`, e.g. `spark 3.3.2`.
    framework_name: Option<String>,
    /// The application (plan) name.
    application_name: Option<String>,
    /// The application id (`extra.appId`), e.g. `local-1684226801003`.
    application_id: Option<String>,
    /// When the execution finished, epoch ms.
    timestamp: Option<i64>,
    /// How long it took, in nanoseconds.
    duration_ns: Option<i64>,
    /// Last segment of the written data source's URI.
    data_source_name: Option<String>,
    /// The written data source's URI.
    data_source_uri: Option<String>,
    /// The write's destination type, e.g. `parquet` or `jdbc`.
    data_source_type: Option<String>,
    /// Append (true) or overwrite (false).
    append: Option<bool>,
    /// The failure (a stack trace) of a failed execution; null otherwise.
    #[schema(value_type = Option<Object>)]
    error: Option<Value>,
    /// The event's `extra` (`appId`, `user`, read and write metrics...).
    #[schema(value_type = Option<Object>)]
    extra: Option<Value>,
    /// The event's labels together with its plan's: name → values.
    #[schema(value_type = Option<Object>)]
    labels: Option<Value>,
}

impl From<SplineEvent> for ExecutionEventInfo {
    fn from(e: SplineEvent) -> Self {
        let labels = e
            .execution_event_id
            .as_ref()
            .map(|_| merged_labels(e.labels.as_ref(), e.plan_labels.as_ref()));
        ExecutionEventInfo {
            execution_event_id: e.execution_event_id,
            execution_plan_id: e.execution_plan_id,
            framework_name: e.framework_name,
            application_name: e.application_name,
            application_id: e.application_id,
            timestamp: e.timestamp,
            duration_ns: e.duration_ns,
            data_source_name: e.data_source_name,
            data_source_uri: e.data_source_uri,
            data_source_type: e.data_source_type,
            append: e.append,
            error: e.error,
            extra: e.extra,
            labels,
        }
    }
}

/// An event's labels with its plan's added: listings filter on both, so they show both.
fn merged_labels(event: Option<&Value>, plan: Option<&Value>) -> Value {
    let mut merged: Map<String, Value> = Map::new();
    for labels in [event, plan]
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
    {
        for (name, values) in labels {
            let entry = merged.entry(name.clone()).or_insert_with(|| json!([]));
            let (Some(list), Some(values)) = (entry.as_array_mut(), values.as_array()) else {
                continue;
            };
            for v in values {
                if !list.contains(v) {
                    list.push(v.clone());
                }
            }
        }
    }
    Value::Object(merged)
}

/// A data source a plan reads or writes.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct DataSourceInfo {
    /// Its URI, as the plan names it.
    source: String,
    /// `extra.sourceType` of the read, `extra.destinationType` of the write.
    source_type: Option<String>,
}

/// A plan, as Spline summarises it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct ExecutionPlanInfo {
    /// The plan's UUID.
    #[serde(rename = "_id")]
    id: String,
    /// The plan (application) name.
    name: String,
    /// The framework that ran it: `{"name": "spark", "version": "3.3.2"}`.
    #[schema(value_type = Object)]
    system_info: Value,
    /// The agent that captured it: `{"name": "spline", "version": "2.2.0"}`.
    #[schema(value_type = Option<Object>)]
    agent_info: Value,
    /// The plan's `extraInfo` (`appName`, `dataTypes`...) with its `attributes`.
    #[schema(value_type = Object)]
    extra: Value,
    /// What the reads read.
    inputs: Vec<DataSourceInfo>,
    /// What the write wrote.
    output: DataSourceInfo,
}

/// An attribute as schemas list it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct AttributeRef {
    /// `<planId>:attr-N`.
    id: String,
    /// Column name.
    name: Option<String>,
    /// Data type id (see `dataTypes`).
    #[schema(value_type = Option<Object>)]
    data_type_id: Value,
}

impl AttributeRef {
    /// The data type id, when it is one (not an inline type).
    pub fn data_type(&self) -> Option<&str> {
        self.data_type_id.as_str()
    }
}

/// Renders the attribute `id` of a plan.
pub(super) fn attribute_ref(view: &PlanView<'_>, id: &str) -> AttributeRef {
    let attr = view.attribute(id);
    AttributeRef {
        id: format!("{}:{id}", view.plan_id),
        name: attr.map(|a| a.name.clone()),
        data_type_id: attr
            .and_then(|a| a.properties.get("dataType").cloned())
            .unwrap_or(Value::Null),
    }
}

/// An operation of a plan.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Operation {
    /// `<planId>:op-N`.
    #[serde(rename = "_id")]
    pub id: String,
    /// `Read`, `Transformation` or `Write`.
    #[serde(rename = "_type")]
    pub kind: String,
    /// The Spark node name (its type when unnamed).
    pub name: String,
    /// Details: empty in a plan's graph; see `/consumer/operations/{id}`.
    #[schema(value_type = Object)]
    pub properties: Value,
}

impl Operation {
    /// An operation node with the given properties.
    pub fn new(op: &Node, properties: Value) -> Self {
        Operation {
            id: spline_id(&op.key).to_owned(),
            kind: text(op, "type").unwrap_or("Transformation").to_owned(),
            name: op.name.clone(),
            properties,
        }
    }
}

/// A directed edge between two ids, the way data flows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub(super) struct Transition {
    /// Where data comes from.
    pub source: String,
    /// Where it goes.
    pub target: String,
}

/// Summarises a plan: its job node and its operations and attributes.
pub(super) fn plan_info(job: &Node, view: &PlanView<'_>) -> ExecutionPlanInfo {
    let props = &job.properties;
    let mut extra = props
        .get("extraInfo")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let attributes: Vec<AttributeRef> = view
        .attributes()
        .iter()
        .map(|a| attribute_ref(view, local_id(a)))
        .collect();
    extra.insert("attributes".into(), json!(attributes));
    extra.entry("appName").or_insert_with(|| json!(job.name));
    ExecutionPlanInfo {
        id: view.plan_id.to_owned(),
        name: job.name.clone(),
        system_info: props.get("systemInfo").cloned().unwrap_or(Value::Null),
        agent_info: props.get("agentInfo").cloned().unwrap_or(Value::Null),
        extra: Value::Object(extra),
        inputs: inputs(view),
        output: output(job, view),
    }
}

fn source_type(op: &Node, key: &str) -> Option<String> {
    let kind = op.properties.pointer(&format!("/extra/{key}"))?;
    kind.as_str().map(str::to_owned)
}

/// Every source the reads name, once, in reading order.
fn inputs(view: &PlanView<'_>) -> Vec<DataSourceInfo> {
    let mut seen = Vec::new();
    let reads = view
        .operations
        .iter()
        .filter(|op| text(op, "type") == Some("Read"));
    for read in reads {
        let sources = read
            .properties
            .get("inputSources")
            .and_then(Value::as_array);
        for uri in sources.into_iter().flatten().filter_map(Value::as_str) {
            if !seen.iter().any(|s: &DataSourceInfo| s.source == uri) {
                seen.push(DataSourceInfo {
                    source: uri.to_owned(),
                    source_type: source_type(read, "sourceType"),
                });
            }
        }
    }
    seen
}

fn output(job: &Node, view: &PlanView<'_>) -> DataSourceInfo {
    let write = view.write();
    let source = write
        .and_then(|w| text(w, "outputSource"))
        .or_else(|| text(job, "output"));
    DataSourceInfo {
        source: source.unwrap_or_default().to_owned(),
        source_type: write.and_then(|w| source_type(w, "destinationType")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_labels_and_plan_labels_merge_without_repeats() {
        let event = json!({"env": ["prod"], "team": ["a"]});
        let plan = json!({"env": ["prod", "eu"], "owner": ["x"]});
        assert_eq!(
            merged_labels(Some(&event), Some(&plan)),
            json!({"env": ["prod", "eu"], "team": ["a"], "owner": ["x"]})
        );
        assert_eq!(merged_labels(None, Some(&Value::Null)), json!({}));
    }

    #[test]
    fn a_data_source_never_written_has_null_event_fields_and_no_labels() {
        let info = ExecutionEventInfo::from(SplineEvent {
            data_source_uri: Some("s3://b/x".into()),
            ..SplineEvent::default()
        });
        let json = serde_json::to_value(info).unwrap();
        assert_eq!(json["dataSourceUri"], "s3://b/x");
        assert_eq!(json["labels"], Value::Null);
        assert_eq!(json["executionEventId"], Value::Null);
    }
}
