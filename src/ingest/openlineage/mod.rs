//! OpenLineage: RunEvent, JobEvent and DatasetEvent, one at a time or in batches.
//!
//! Events are parsed to JSON once, their kind is recognised ([`wire::EventKind::of`]), and the
//! typed view is decoded from the parsed value, so error paths point into the request whether
//! the event came alone or as item `[i]` of a batch.

pub mod convert;
pub mod facets;
pub mod wire;

use serde_json::Value;
use serde_json::value::RawValue;

use crate::error::Error;
use crate::ingest::{json, lengths};
use crate::model::ChangeSet;
use wire::EventKind;

/// An event, understood.
#[derive(Debug)]
pub struct Parsed {
    /// Which kind of event it was.
    pub kind: EventKind,
    /// The spec version from `schemaURL` (e.g. `2-0-2`), or `unknown`.
    pub spec_version: String,
    /// What it changes in the graph.
    pub changes: ChangeSet,
    /// When it happened.
    pub event_time: chrono::DateTime<chrono::Utc>,
}

/// Parses one event from a request body.
pub fn event(body: &[u8]) -> Result<Parsed, Error> {
    json::reject_nul(body, "")?;
    let value: Value = json::decode(body)?;
    event_value(&value, "")
}

/// Splits a batch body into its events, each still raw (a bad event must not spoil the
/// others), refusing more than `max_events` as soon as one more begins: the events are never
/// all parsed before they are counted.
pub fn batch(body: &[u8], max_events: usize) -> Result<Vec<&RawValue>, Error> {
    json::bounded_array(body, max_events)?.ok_or_else(|| crate::ingest::too_many_events(max_events))
}

/// Parses event `index` of a [`batch`] (its text, `item.get()`); error paths start with
/// `[index]`.
///
/// Splitting checks the syntax of each event but neither its nesting depth nor its numbers'
/// range, so parsing it can still fail: the sender's fault, a 400 that points at the event.
pub fn batch_item(item: &str, index: usize) -> Result<Parsed, Error> {
    let at = format!("[{index}]");
    json::reject_nul(item.as_bytes(), &at)?;
    let value: Value = json::decode(item.as_bytes()).map_err(|err| match err {
        Error::BadRequest {
            code,
            detail,
            path: None,
        } => Error::BadRequest {
            code,
            detail: format!("{at}: {detail}"),
            path: Some(at.clone()),
        },
        other => other,
    })?;
    event_value(&value, &at)
}

/// Translates one parsed event; `at` is its location in the request (`""` or `[i]`).
pub fn event_value(value: &Value, at: &str) -> Result<Parsed, Error> {
    if !value.is_object() {
        let path = if at.is_empty() {
            "$".to_owned()
        } else {
            at.to_owned()
        };
        return Err(Error::bad_request(
            "invalid-field",
            "an OpenLineage event is a JSON object",
            Some(path),
        ));
    }
    let kind = EventKind::of(value);
    let (changes, event_time) = match kind {
        EventKind::Run => {
            let e: wire::RunEvent = json::decode_value(value, at)?;
            (convert::run_event(&e), e.event_time)
        }
        EventKind::Job => {
            let e: wire::JobEvent = json::decode_value(value, at)?;
            (convert::job_event(&e), e.event_time)
        }
        EventKind::Dataset => {
            let e: wire::DatasetEvent = json::decode_value(value, at)?;
            (convert::dataset_event(&e), e.event_time)
        }
    };
    let changes = changes.map_err(|e| relocate(e, at))?;
    lengths::check(&changes).map_err(|long| long.into_error(value, at))?;
    Ok(Parsed {
        kind,
        spec_version: spec_version(value),
        changes,
        event_time,
    })
}

/// Facet errors carry paths relative to the event; prefix them with its place in a batch.
fn relocate(err: Error, at: &str) -> Error {
    match err {
        Error::BadRequest {
            code,
            detail,
            path: Some(path),
        } if !at.is_empty() => Error::BadRequest {
            code,
            detail,
            path: Some(json::prefixed(at, &path)),
        },
        other => other,
    }
}

/// `https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent` → `2-0-2`.
fn spec_version(value: &Value) -> String {
    let url = value
        .get("schemaURL")
        .and_then(Value::as_str)
        .unwrap_or_default();
    url.split("/spec/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .filter(|v| !v.is_empty())
        .unwrap_or("unknown")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EdgeKind, NodeKind};
    use serde_json::json;

    fn run_event(extra: Value) -> Value {
        let mut event = json!({
            "eventTime": "2024-10-16T17:33:51.509Z",
            "eventType": "COMPLETE",
            "producer": "https://example.com/producer",
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
            "run": {"runId": "0192960e-4c5f-7c6a-8f5a-1d2e3f4a5b6c"},
            "job": {"namespace": "airflow", "name": "dag.task"},
            "inputs": [{"namespace": "hdfs://nn:8020", "name": "/data/in",
                        "facets": {"schema": {"fields": [{"name": "a"}, {"name": "b"}]}}}],
            "outputs": [{"namespace": "hdfs://nn:8020", "name": "/data/out", "facets": {
                "columnLineage": {"fields": {"c": {"inputFields": [
                    {"namespace": "hdfs://nn:8020", "name": "/data/in", "field": "a",
                     "transformations": [{"type": "DIRECT", "subtype": "TRANSFORMATION"}]}]}},
                    "dataset": [{"namespace": "hdfs://nn:8020", "name": "/data/in", "field": "b",
                                 "transformations": [{"type": "INDIRECT", "subtype": "FILTER"}]}]},
                "symlinks": {"identifiers": [{"namespace": "hive://metastore", "name": "db.out", "type": "TABLE"}]}}}]
        });
        event
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        event
    }

    fn has_edge(c: &ChangeSet, kind: EdgeKind, source: &str, target: &str) -> bool {
        c.edges
            .iter()
            .any(|e| e.kind == kind && e.source == source && e.target == target)
    }

    #[test]
    fn a_run_event_links_datasets_job_run_and_columns() {
        let parsed = event_value(&run_event(json!({})), "").unwrap();
        assert_eq!(
            (parsed.kind, parsed.spec_version.as_str()),
            (EventKind::Run, "2-0-2")
        );
        let c = &parsed.changes;
        let (input, output, job) = (
            "dataset:hdfs://nn:8020/data/in",
            "dataset:hdfs://nn:8020/data/out",
            "job:airflow/dag.task",
        );
        assert!(has_edge(c, EdgeKind::Input, input, job));
        assert!(has_edge(c, EdgeKind::Output, job, output));
        assert!(has_edge(
            c,
            EdgeKind::RunOf,
            "run:0192960e-4c5f-7c6a-8f5a-1d2e3f4a5b6c",
            job
        ));
        assert!(has_edge(
            c,
            EdgeKind::HasField,
            input,
            "field:hdfs://nn:8020/data/in#b"
        ));
        assert!(has_edge(
            c,
            EdgeKind::Derives,
            "field:hdfs://nn:8020/data/in#a",
            "field:hdfs://nn:8020/data/out#c"
        ));
        assert!(has_edge(
            c,
            EdgeKind::Affects,
            "field:hdfs://nn:8020/data/in#b",
            output
        ));
        assert_eq!(
            c.aliases,
            vec![crate::model::Alias {
                key: "dataset:hive://metastore/db.out".to_owned(),
                canonical: output.to_owned(),
                namespace: "hive://metastore".to_owned(),
            }]
        );
        assert_eq!(
            c.nodes.iter().filter(|n| n.kind == NodeKind::Field).count(),
            5
        );
    }

    #[test]
    fn the_parent_facet_links_job_and_run_to_their_parents() {
        let parent = json!({"run": {"facets": {"parent": {"run": {"runId": "p-1"}, "job": {"namespace": "airflow", "name": "dag"}}},
                                    "runId": "c-1"}});
        let c = event_value(&run_event(parent), "").unwrap().changes;
        assert!(has_edge(
            &c,
            EdgeKind::ParentOf,
            "job:airflow/dag",
            "job:airflow/dag.task"
        ));
        assert!(has_edge(&c, EdgeKind::ParentOf, "run:p-1", "run:c-1"));
        assert!(has_edge(&c, EdgeKind::RunOf, "run:p-1", "job:airflow/dag"));
    }

    #[test]
    fn bad_facets_are_reported_where_they_are_in_the_batch() {
        let broken = json!({"outputs": [{"namespace": "s3://b", "name": "k", "facets": {"schema": {"fields": [{"type": "int"}]}}}]});
        let err = event_value(&run_event(broken), "[2]").unwrap_err();
        let Error::BadRequest { path, .. } = err else {
            panic!("{err:?}")
        };
        assert_eq!(
            path.as_deref(),
            Some("[2].outputs[0].facets.schema.fields[0].name")
        );
    }

    #[test]
    fn static_events_need_no_run() {
        let job = json!({"eventTime": "2024-01-01T00:00:00+01:00", "job": {"namespace": "n", "name": "j"},
                         "outputs": [{"namespace": "s3://b", "name": "k"}]});
        let parsed = event_value(&job, "").unwrap();
        assert_eq!(parsed.kind, EventKind::Job);
        assert!(has_edge(
            &parsed.changes,
            EdgeKind::Output,
            "job:n/j",
            "dataset:s3://b/k"
        ));
        let dataset = json!({"eventTime": "2024-01-01T00:00:00Z", "dataset": {"namespace": "file", "name": "/tmp/x"}});
        let parsed = event_value(&dataset, "").unwrap();
        assert_eq!(parsed.changes.nodes[0].key, "dataset:file:///tmp/x");
    }

    /// Splitting a batch does not check nesting depth or number range; an event too deep or
    /// with a number out of range was a 500 ("retriable") before it was a 400 at its index.
    #[test]
    fn a_batch_event_too_deep_or_out_of_range_is_a_bad_request_at_its_index() {
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let items = [
            format!(r#"{{"eventTime":"2024-01-01T00:00:00Z","x":{deep}}}"#),
            r#"{"eventTime":"2024-01-01T00:00:00Z","x":1e400}"#.to_owned(),
        ];
        let body = format!("[{},{}]", items[0], items[1]);
        let split = batch(body.as_bytes(), 10).unwrap();
        assert_eq!(split.len(), 2, "the split accepts both");
        for (index, item) in split.iter().enumerate() {
            let err = batch_item(item.get(), index).unwrap_err();
            let Error::BadRequest { code, path, .. } = &err else {
                panic!("{err:?}")
            };
            assert_eq!(*code, "malformed-json");
            assert_eq!(path.as_deref(), Some(format!("[{index}]").as_str()));
        }
    }

    #[test]
    fn an_unknown_event_type_is_rejected_at_its_path() {
        let err = event_value(&run_event(json!({"eventType": "DONE"})), "").unwrap_err();
        let Error::BadRequest { path, .. } = err else {
            panic!("{err:?}")
        };
        assert_eq!(path.as_deref(), Some("eventType"));
    }
}
