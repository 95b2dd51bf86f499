//! OpenLineage events as nodes and edges of the one graph model.
//!
//! Every node an event touches uses [`MergePolicy::Merge`] stamped with the event time, so the
//! events of one run may arrive in any order: facets accumulate, and where two events disagree
//! (the run's `state`) the later event time wins. Edges appear with the first event that names
//! them; nothing waits for COMPLETE.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::facets::{self, ColumnInputs, ColumnLineage, InputField, Parent, Schema, Symlinks};
use super::wire::{Dataset, DatasetEvent, EventType, Facets, Job, JobEvent, RunEvent};
use crate::error::Error;
use crate::model::{Alias, ChangeSet, EdgeKind, MergePolicy, NewEdge, NewNode, NodeKind};
use crate::naming;

/// Key of an OpenLineage job.
pub fn job_key(namespace: &str, name: &str) -> String {
    format!("job:{namespace}/{name}")
}

/// Key of an OpenLineage run.
pub fn run_key(run_id: &str) -> String {
    format!("run:{run_id}")
}

pub use crate::model::field_key;

type Result<T> = std::result::Result<T, Error>;

/// Collects the nodes and edges of one event, all stamped with its event time.
struct Builder {
    at: DateTime<Utc>,
    /// The namespace of the event's job (a dataset event's own): who says what it says.
    writer: String,
    out: ChangeSet,
}

/// Where a dataset sits in the event, for error paths and edge direction.
enum Role {
    Input,
    Output,
}

impl Builder {
    fn new(at: DateTime<Utc>, writer: &str) -> Self {
        Builder {
            at,
            writer: writer.to_owned(),
            out: ChangeSet::default(),
        }
    }

    fn node(&mut self, key: &str, kind: NodeKind, name: &str, properties: Value) {
        let properties = match properties {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        self.out.nodes.push(NewNode {
            key: key.to_owned(),
            kind,
            name: name.to_owned(),
            properties: properties.into(),
            policy: MergePolicy::Merge,
            seen_at: self.at,
            writer: Some(self.writer.clone()),
        });
    }

    fn edge(&mut self, source: &str, target: &str, kind: EdgeKind, properties: Value) {
        let properties = match properties {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        let (source, target) = (source.to_owned(), target.to_owned());
        self.out.edges.push(NewEdge {
            source,
            target,
            kind,
            properties,
            seen_at: self.at,
        });
    }

    fn job(&mut self, job: &Job) -> String {
        let key = job_key(&job.namespace, &job.name);
        let props = json!({"namespace": job.namespace, "name": job.name, "format": "openlineage",
                           "facets": job.facets.clone().unwrap_or_default()});
        self.node(&key, NodeKind::Job, &job.name, props);
        key
    }

    /// A dataset named by an event (or only by a column-lineage input): its node, its columns
    /// from the schema facet, and its aliases from the symlinks facet.
    fn dataset(
        &mut self,
        namespace: &str,
        name: &str,
        facets: Option<&Facets>,
        at: &str,
    ) -> Result<String> {
        let key = naming::dataset_key(namespace, name);
        let mut props = json!({"namespace": namespace, "name": name});
        if let Some(uri) = key.strip_prefix("dataset:").filter(|u| u.contains("://")) {
            props["uri"] = json!(uri);
        }
        if let Some(facets) = facets {
            props["facets"] = Value::Object(facets.clone());
        }
        self.node(&key, NodeKind::Dataset, name, props);
        let at = format!("{at}.facets");
        if let Some(schema) = facets::read::<Schema>(facets, "schema", &at)? {
            for (index, field) in schema.fields.iter().enumerate() {
                self.field(&key, &field.name, json!({"index": index}));
            }
        }
        if let Some(links) = facets::read::<Symlinks>(facets, "symlinks", &at)? {
            for id in links.identifiers {
                self.out.aliases.push(Alias {
                    key: naming::dataset_key(&id.namespace, &id.name),
                    canonical: key.clone(),
                    namespace: id.namespace,
                });
            }
        }
        Ok(key)
    }

    fn field(&mut self, dataset: &str, name: &str, link: Value) -> String {
        let key = field_key(dataset, name);
        self.node(
            &key,
            NodeKind::Field,
            name,
            json!({"name": name, "dataset": dataset}),
        );
        self.edge(dataset, &key, EdgeKind::HasField, link);
        key
    }

    fn io(&mut self, job: &str, inputs: &[InputSpec<'_>], outputs: &[InputSpec<'_>]) -> Result<()> {
        for (i, d) in inputs.iter().enumerate() {
            self.dataset_io(job, d, Role::Input, &format!("inputs[{i}]"))?;
        }
        for (i, d) in outputs.iter().enumerate() {
            self.dataset_io(job, d, Role::Output, &format!("outputs[{i}]"))?;
        }
        Ok(())
    }

    fn dataset_io(&mut self, job: &str, d: &InputSpec<'_>, role: Role, at: &str) -> Result<()> {
        let key = self.dataset(d.namespace, d.name, d.facets, at)?;
        match role {
            Role::Input => self.edge(
                &key,
                job,
                EdgeKind::Input,
                json!({"inputFacets": d.io_facets}),
            ),
            Role::Output => self.edge(
                job,
                &key,
                EdgeKind::Output,
                json!({"outputFacets": d.io_facets}),
            ),
        }
        let lineage =
            facets::read::<ColumnLineage>(d.facets, "columnLineage", &format!("{at}.facets"))?;
        if let Some(lineage) = lineage {
            self.column_lineage(&key, &lineage, &format!("{at}.facets"))?;
        }
        Ok(())
    }

    /// Field-to-field `derives` edges, with their transformations, and `affects` edges from
    /// the inputs that shape the whole dataset. Input datasets and columns are created if no
    /// event named them yet.
    fn column_lineage(&mut self, dataset: &str, lineage: &ColumnLineage, at: &str) -> Result<()> {
        for (column, inputs) in lineage.columns(at)? {
            let target = self.field(dataset, column, json!({}));
            for input in &inputs.input_fields {
                let source = self.input_field(input, at)?;
                self.edge(
                    &source,
                    &target,
                    EdgeKind::Derives,
                    derivation(input, &inputs),
                );
            }
        }
        for input in &lineage.dataset {
            let source = self.input_field(input, at)?;
            self.edge(
                &source,
                dataset,
                EdgeKind::Affects,
                json!({"transformations": input.transformations}),
            );
        }
        Ok(())
    }

    fn input_field(&mut self, input: &InputField, at: &str) -> Result<String> {
        let dataset = self.dataset(&input.namespace, &input.name, None, at)?;
        Ok(self.field(&dataset, &input.field, json!({})))
    }

    /// The parent facet links the job to its parent job (a task to its DAG) and the run to
    /// the parent run.
    fn parent(&mut self, job: &str, run: &str, parent: &Parent) {
        let parent_job = self.job(&Job {
            namespace: parent.job.namespace.clone(),
            name: parent.job.name.clone(),
            facets: None,
        });
        self.edge(&parent_job, job, EdgeKind::ParentOf, json!({}));
        let parent_run = run_key(&parent.run.run_id);
        let props = json!({"runId": parent.run.run_id, "format": "openlineage",
                           "job": {"namespace": parent.job.namespace, "name": parent.job.name}});
        self.node(&parent_run, NodeKind::Run, &parent.run.run_id, props);
        self.edge(&parent_run, &parent_job, EdgeKind::RunOf, json!({}));
        self.edge(&parent_run, run, EdgeKind::ParentOf, json!({}));
    }
}

/// What a derivation edge says about how the column was derived.
fn derivation(input: &InputField, column: &ColumnInputs) -> Value {
    let mut props = Map::new();
    if let Some(t) = &input.transformations {
        props.insert("transformations".into(), json!(t));
    }
    if let Some(d) = &column.transformation_description {
        props.insert("transformationDescription".into(), json!(d));
    }
    if let Some(t) = &column.transformation_type {
        props.insert("transformationType".into(), json!(t));
    }
    Value::Object(props)
}

/// An input or output dataset, whichever list it came from.
struct InputSpec<'a> {
    namespace: &'a str,
    name: &'a str,
    facets: Option<&'a Facets>,
    io_facets: Value,
}

fn inputs_of(inputs: &Option<Vec<super::wire::InputDataset>>) -> Vec<InputSpec<'_>> {
    let inputs = inputs.iter().flatten();
    inputs
        .map(|d| InputSpec {
            namespace: &d.namespace,
            name: &d.name,
            facets: d.facets.as_ref(),
            io_facets: json!(d.input_facets.clone().unwrap_or_default()),
        })
        .collect()
}

fn outputs_of(outputs: &Option<Vec<super::wire::OutputDataset>>) -> Vec<InputSpec<'_>> {
    let outputs = outputs.iter().flatten();
    outputs
        .map(|d| InputSpec {
            namespace: &d.namespace,
            name: &d.name,
            facets: d.facets.as_ref(),
            io_facets: json!(d.output_facets.clone().unwrap_or_default()),
        })
        .collect()
}

/// A RunEvent: its job, its run, their datasets and columns, and the parent links.
pub fn run_event(e: &RunEvent) -> Result<ChangeSet> {
    let mut b = Builder::new(e.event_time, &e.job.namespace);
    let job = b.job(&e.job);
    let run = run_key(&e.run.run_id);
    b.node(&run, NodeKind::Run, &e.run.run_id, run_properties(e));
    b.edge(&run, &job, EdgeKind::RunOf, json!({}));
    b.io(&job, &inputs_of(&e.inputs), &outputs_of(&e.outputs))?;
    if let Some(parent) = facets::read::<Parent>(e.run.facets.as_ref(), "parent", "run.facets")? {
        b.parent(&job, &run, &parent);
    }
    Ok(b.out)
}

/// The run's own properties. `state` is present only when the event carries an `eventType`,
/// so an event without one can't overwrite a known state; `startedAt`/`endedAt` come from the
/// START and terminal events and accumulate.
fn run_properties(e: &RunEvent) -> Value {
    let mut props = json!({
        "runId": e.run.run_id,
        "format": "openlineage",
        "job": {"namespace": e.job.namespace, "name": e.job.name},
        "facets": e.run.facets.clone().unwrap_or_default(),
        "eventTime": e.event_time,
    });
    if let Some(producer) = &e.producer {
        props["producer"] = json!(producer);
    }
    if let Some(kind) = e.event_type {
        props["state"] = json!(kind.as_str());
        if kind == EventType::Start {
            props["startedAt"] = json!(e.event_time);
        }
        if kind.is_terminal() {
            props["endedAt"] = json!(e.event_time);
        }
    }
    props
}

/// A JobEvent: the job and its datasets, without a run.
pub fn job_event(e: &JobEvent) -> Result<ChangeSet> {
    let mut b = Builder::new(e.event_time, &e.job.namespace);
    let job = b.job(&e.job);
    b.io(&job, &inputs_of(&e.inputs), &outputs_of(&e.outputs))?;
    Ok(b.out)
}

/// A DatasetEvent: the dataset, its columns and aliases.
pub fn dataset_event(e: &DatasetEvent) -> Result<ChangeSet> {
    let mut b = Builder::new(e.event_time, &e.dataset.namespace);
    let Dataset {
        namespace,
        name,
        facets,
    } = &e.dataset;
    let key = b.dataset(namespace, name, facets.as_ref(), "dataset")?;
    if let Some(lineage) =
        facets::read::<ColumnLineage>(facets.as_ref(), "columnLineage", "dataset.facets")?
    {
        b.column_lineage(&key, &lineage, "dataset.facets")?;
    }
    Ok(b.out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_keys_hang_off_the_dataset_uri() {
        assert_eq!(field_key("dataset:s3://b/t", "id"), "field:s3://b/t#id");
        assert_eq!(job_key("airflow", "dag.task"), "job:airflow/dag.task");
    }
}
