//! OpenLineage events as producers send them (spec 1-0-x and 2-0-x).
//!
//! Faithful to the spec and no stricter: `eventType` and `producer` may be missing, facets are
//! kept verbatim whatever their name or shape (no `_producer`/`_schemaURL` required), and
//! `eventTime` takes any RFC 3339 offset. Only the few facets that shape the graph
//! ([`facets`](super::facets)) are read further.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// Facets: name → facet object, kept as sent.
pub type Facets = Map<String, Value>;

/// The three kinds of event the spec defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A run of a job changed state.
    Run,
    /// Static metadata about a dataset.
    Dataset,
    /// Static metadata about a job and its inputs and outputs.
    Job,
}

impl EventKind {
    /// Reads the kind from `schemaURL` (`…#/$defs/RunEvent`, or the pre-2.0
    /// `…#/definitions/RunEvent`), else from the event's shape: a `run` makes a RunEvent, a
    /// `job` without one a JobEvent, a lone `dataset` a DatasetEvent.
    pub fn of(event: &Value) -> EventKind {
        let url = event
            .get("schemaURL")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let declared = url.rsplit('/').next().unwrap_or_default();
        match declared {
            "RunEvent" => return EventKind::Run,
            "DatasetEvent" => return EventKind::Dataset,
            "JobEvent" => return EventKind::Job,
            _ => {}
        }
        match (event.get("run"), event.get("job"), event.get("dataset")) {
            (None, Some(_), _) => EventKind::Job,
            (None, None, Some(_)) => EventKind::Dataset,
            _ => EventKind::Run,
        }
    }
}

/// A RunEvent.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunEvent {
    /// When the event happened, RFC 3339 with any offset.
    #[serde(deserialize_with = "event_time")]
    pub event_time: DateTime<Utc>,
    /// START, RUNNING, COMPLETE, ABORT, FAIL or OTHER; optional.
    pub event_type: Option<EventType>,
    /// URI of the producer that emitted the event.
    pub producer: Option<String>,
    /// URL of the schema the event follows.
    #[serde(rename = "schemaURL")]
    pub schema_url: Option<String>,
    /// The run.
    pub run: Run,
    /// The job the run belongs to.
    pub job: Job,
    /// Datasets read.
    pub inputs: Option<Vec<InputDataset>>,
    /// Datasets written.
    pub outputs: Option<Vec<OutputDataset>>,
}

/// A JobEvent: static lineage, no run.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobEvent {
    /// When the event happened.
    #[serde(deserialize_with = "event_time")]
    pub event_time: DateTime<Utc>,
    /// URI of the producer.
    pub producer: Option<String>,
    /// URL of the schema.
    #[serde(rename = "schemaURL")]
    pub schema_url: Option<String>,
    /// The job.
    pub job: Job,
    /// Datasets the job reads.
    pub inputs: Option<Vec<InputDataset>>,
    /// Datasets the job writes.
    pub outputs: Option<Vec<OutputDataset>>,
}

/// A DatasetEvent: static metadata about one dataset.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DatasetEvent {
    /// When the event happened.
    #[serde(deserialize_with = "event_time")]
    pub event_time: DateTime<Utc>,
    /// URI of the producer.
    pub producer: Option<String>,
    /// URL of the schema.
    #[serde(rename = "schemaURL")]
    pub schema_url: Option<String>,
    /// The dataset.
    pub dataset: Dataset,
}

/// The state a RunEvent reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum EventType {
    /// The run started.
    Start,
    /// The run is going on.
    Running,
    /// The run finished successfully.
    Complete,
    /// The run was stopped.
    Abort,
    /// The run failed.
    Fail,
    /// Anything else.
    Other,
}

impl EventType {
    /// COMPLETE, ABORT and FAIL end a run.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            EventType::Complete | EventType::Abort | EventType::Fail
        )
    }

    /// The name used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Start => "START",
            EventType::Running => "RUNNING",
            EventType::Complete => "COMPLETE",
            EventType::Abort => "ABORT",
            EventType::Fail => "FAIL",
            EventType::Other => "OTHER",
        }
    }
}

/// A run.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Run {
    /// The run's id, a UUID chosen by the client.
    #[serde(deserialize_with = "non_empty")]
    pub run_id: String,
    /// Run facets.
    #[schema(value_type = Option<Object>)]
    pub facets: Option<Facets>,
}

/// A job, identified by namespace and name.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Job {
    /// The job's namespace, e.g. `airflow` or `dbt`.
    #[serde(deserialize_with = "non_empty")]
    pub namespace: String,
    /// The job's name, unique in its namespace.
    #[serde(deserialize_with = "non_empty")]
    pub name: String,
    /// Job facets.
    #[schema(value_type = Option<Object>)]
    pub facets: Option<Facets>,
}

/// A dataset, identified by namespace and name.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Dataset {
    /// The datasource, e.g. `postgres://db:5432` or `s3://bucket`.
    #[serde(deserialize_with = "non_empty")]
    pub namespace: String,
    /// The dataset's name in it, e.g. `db.schema.table` or a path.
    #[serde(deserialize_with = "non_empty")]
    pub name: String,
    /// Dataset facets.
    #[schema(value_type = Option<Object>)]
    pub facets: Option<Facets>,
}

/// A dataset a run reads.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InputDataset {
    /// The datasource.
    #[serde(deserialize_with = "non_empty")]
    pub namespace: String,
    /// The dataset's name.
    #[serde(deserialize_with = "non_empty")]
    pub name: String,
    /// Dataset facets.
    #[schema(value_type = Option<Object>)]
    pub facets: Option<Facets>,
    /// Facets about this read (e.g. data quality metrics).
    #[schema(value_type = Option<Object>)]
    pub input_facets: Option<Facets>,
}

/// A dataset a run writes.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutputDataset {
    /// The datasource.
    #[serde(deserialize_with = "non_empty")]
    pub namespace: String,
    /// The dataset's name.
    #[serde(deserialize_with = "non_empty")]
    pub name: String,
    /// Dataset facets.
    #[schema(value_type = Option<Object>)]
    pub facets: Option<Facets>,
    /// Facets about this write (e.g. output statistics).
    #[schema(value_type = Option<Object>)]
    pub output_facets: Option<Facets>,
}

/// Identity is (namespace, name); an empty one would collide with every other empty one.
fn non_empty<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let value = String::deserialize(deserializer)?;
    match value.trim().is_empty() {
        true => Err(serde::de::Error::custom("must not be empty")),
        false => Ok(value),
    }
}

/// RFC 3339 with any offset; a timestamp without an offset (which some producers send) is
/// taken as UTC rather than rejected.
fn event_time<'de, D: Deserializer<'de>>(deserializer: D) -> Result<DateTime<Utc>, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse_event_time(&text)
        .ok_or_else(|| serde::de::Error::custom(format!("`{text}` is not an RFC 3339 date-time")))
}

/// Parses an event time; see [`event_time`].
pub fn parse_event_time(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|t| t.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_kind_comes_from_the_schema_url_in_either_form() {
        let defs = json!({"schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/JobEvent", "run": {}});
        assert_eq!(EventKind::of(&defs), EventKind::Job);
        let old = json!({"schemaURL": "https://openlineage.io/spec/1-0-5/OpenLineage.json#/definitions/DatasetEvent"});
        assert_eq!(EventKind::of(&old), EventKind::Dataset);
    }

    #[test]
    fn without_a_schema_url_the_shape_decides() {
        assert_eq!(
            EventKind::of(&json!({"run": {}, "job": {}})),
            EventKind::Run
        );
        assert_eq!(EventKind::of(&json!({"job": {}})), EventKind::Job);
        assert_eq!(EventKind::of(&json!({"dataset": {}})), EventKind::Dataset);
        assert_eq!(
            EventKind::of(&json!({"schemaURL": "http://test.schema.url", "run": {}})),
            EventKind::Run
        );
    }

    #[test]
    fn event_times_take_any_offset() {
        let utc = parse_event_time("2024-10-16T17:33:51.509Z").unwrap();
        let plus = parse_event_time("2024-10-16T19:33:51.509+02:00").unwrap();
        assert_eq!(utc, plus);
        assert!(parse_event_time("2024-10-16T17:33:51.509").is_some());
        assert!(parse_event_time("2021-11-03").is_none());
    }
}
