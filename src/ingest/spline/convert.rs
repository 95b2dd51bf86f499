//! A validated Spline plan or event batch, as nodes and edges of the one graph model.
//!
//! Everything the agent sent is kept as properties (params, extra, labels, systemInfo,
//! agentInfo, expressions, data types), so nothing is lost even where the graph has no edge
//! for it yet.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::ApiVersion;
use super::derive::{Derivations, MAX_PLAN_DERIVATION_BYTES, MAX_PLAN_SOURCES, TooManySources};
use super::digest;
use petgraph::algo::toposort;
use petgraph::graph::DiGraph;

use super::wire::{DataOperation, ExecutionEvent, ExecutionPlan, Id, Reference};
use crate::error::Error;
use crate::model::{
    ChangeSet, EdgeKind, Guard, MergePolicy, NewEdge, NewNode, NewProperties, NodeKind,
};
use crate::naming;

/// Who Spline's plans and events are written by: every Spline job is in this namespace.
const SPLINE_WRITER: &str = "spline";

/// Key of a Spline data source: `dataset:` and its URI, spelled canonically (see
/// [`crate::naming`]) so that OpenLineage producers naming the same location meet it.
pub fn dataset_key(uri: &str) -> String {
    naming::dataset_key_from_uri(uri)
}

/// Key of a plan's job node.
pub fn job_key(plan_id: &Uuid) -> String {
    format!("job:{plan_id}")
}

/// Spline's event key: `<planId>:<timestamp in base 36>`, as the Spline server stores it.
pub fn event_key(plan_id: &Uuid, timestamp: i64) -> String {
    format!("{plan_id}:{}", base36(timestamp))
}

fn op_key(plan_id: &Uuid, op: &Id) -> String {
    format!("op:{plan_id}:{op}")
}

fn attr_key(plan_id: &Uuid, attr: &Id) -> String {
    format!("attr:{plan_id}:{attr}")
}

/// Java's `Long.toString(n, 36)`.
fn base36(n: i64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut rest = n.unsigned_abs();
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(rest % 36) as usize]);
        rest /= 36;
        if rest == 0 {
            break;
        }
    }
    if n < 0 {
        out.push(b'-');
    }
    out.reverse();
    String::from_utf8(out).expect("ascii digits")
}

/// Spline names a data source after the last segment of its URI.
fn dataset_name(uri: &str) -> &str {
    uri.trim_end_matches('/')
        .rsplit('/')
        .next()
        .filter(|s| !s.is_empty())
        .unwrap_or(uri)
}

fn to_map<T: Serialize>(value: &T) -> Map<String, Value> {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

/// Builds change sets for one plan; `at` stamps first/last-seen times.
struct PlanBuilder<'a> {
    plan: &'a ExecutionPlan,
    id: Uuid,
    at: DateTime<Utc>,
    out: ChangeSet,
}

/// Translates a validated plan with its final id into nodes and edges. A plan whose
/// expressions make its columns derive from more attributes than
/// [`MAX_PLAN_SOURCES`](super::derive::MAX_PLAN_SOURCES) in all is refused (413).
pub fn plan_changes(
    plan: &ExecutionPlan,
    id: Uuid,
    version: ApiVersion,
    at: DateTime<Utc>,
) -> Result<ChangeSet, Error> {
    let content = digest::of(plan);
    let mut b = PlanBuilder {
        plan,
        id,
        at,
        out: ChangeSet::default(),
    };
    b.job(version, &content);
    b.datasets();
    b.operations();
    let derivations = Derivations::new(plan);
    b.attributes(&derivations)
        .and_then(|()| b.columns(&derivations))
        .and_then(|()| match derivations.over() {
            true => Err(TooManySources),
            false => Ok(()),
        })
        .map_err(|TooManySources| too_many_sources())?;
    b.out.guards.push(Guard::PropertyEquals {
        key: job_key(&id),
        property: "discriminator".to_owned(),
        expected: plan.discriminator.clone(),
        path: "discriminator".to_owned(),
        message: format!("execution plan {id} is already stored with a different discriminator"),
    });
    b.out.guards.push(Guard::PropertyUnchanged {
        key: job_key(&id),
        property: digest::PROPERTY.to_owned(),
        expected: content,
        path: "id".to_owned(),
        message: format!(
            "execution plan {id} is already stored with different content; a changed plan \
             needs an id of its own"
        ),
    });
    Ok(b.out)
}

fn too_many_sources() -> Error {
    Error::OverLimit {
        code: "too-many-derivations",
        detail: format!(
            "the plan's expressions reference each other so much that its derivations would \
             hold more than {MAX_PLAN_SOURCES} attributes while worked out, or take more than \
             {MAX_PLAN_DERIVATION_BYTES} bytes stored"
        ),
        path: Some("expressions".to_owned()),
    }
}

impl<'p> PlanBuilder<'p> {
    fn node(
        &mut self,
        key: String,
        kind: NodeKind,
        name: &str,
        properties: NewProperties,
        policy: MergePolicy,
    ) {
        let name = name.to_owned();
        self.out.nodes.push(NewNode {
            key,
            kind,
            name,
            properties,
            policy,
            seen_at: self.at,
            writer: Some(SPLINE_WRITER.to_owned()),
        });
    }

    fn edge(
        &mut self,
        source: String,
        target: String,
        kind: EdgeKind,
        properties: Map<String, Value>,
    ) {
        self.out.edges.push(NewEdge {
            source,
            target,
            kind,
            properties,
            seen_at: self.at,
        });
    }

    /// The properties of an operation or attribute: what the plan says of it, its `type`
    /// (operations) and its plan's id, as JSON text.
    fn member<T: Serialize>(&self, item: &T, kind: Option<&str>) -> NewProperties {
        #[derive(Serialize)]
        struct Member<'a, T> {
            #[serde(flatten)]
            item: &'a T,
            #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
            kind: Option<&'a str>,
            #[serde(rename = "planId")]
            plan_id: Uuid,
        }
        NewProperties::text(&Member {
            item,
            kind,
            plan_id: self.id,
        })
    }

    fn job(&mut self, version: ApiVersion, content: &str) {
        let p = self.plan;
        let app_name = p
            .extra_info
            .as_ref()
            .and_then(|x| x.get("appName"))
            .and_then(Value::as_str);
        let name = p
            .name
            .as_deref()
            .or(app_name)
            .map_or_else(|| self.id.to_string(), str::to_owned);
        // The plan's own fields but its operations and attributes, which become nodes of their
        // own: serialized one by one, so the operations are never turned into values here.
        let mut props = Map::new();
        props.insert("name".into(), json!(p.name));
        props.insert("discriminator".into(), json!(p.discriminator));
        props.insert("labels".into(), json!(p.labels));
        props.insert("expressions".into(), json!(p.expressions));
        props.insert("systemInfo".into(), json!(p.system_info));
        props.insert("agentInfo".into(), json!(p.agent_info));
        props.insert("extraInfo".into(), json!(p.extra_info));
        props.insert("id".into(), json!(self.id));
        props.insert("format".into(), json!("spline"));
        // Listed under this namespace by the Marquez-compatible API.
        props.insert("namespace".into(), json!("spline"));
        props.insert("producerApiVersion".into(), json!(version.as_str()));
        props.insert(digest::PROPERTY.into(), json!(content));
        props.insert("inputs".into(), json!(input_uris(p)));
        props.insert("output".into(), json!(p.operations.write.output_source));
        props.insert("append".into(), json!(p.operations.write.append));
        // Spline's consumer API lists every event with this (`dataSourceType`), and filters and
        // sorts by it; kept on the job so a listing doesn't have to find each plan's write.
        let write_extra = p.operations.write.extra.as_ref();
        if let Some(kind) = write_extra.and_then(|x| x.get("destinationType")) {
            props.insert("destinationType".into(), kind.clone());
        }
        self.node(
            job_key(&self.id),
            NodeKind::Job,
            &name,
            NewProperties::text(&props),
            MergePolicy::Keep,
        );
    }

    fn datasets(&mut self) {
        let job = job_key(&self.id);
        for uri in input_uris(self.plan) {
            self.dataset(uri);
            self.edge(dataset_key(uri), job.clone(), EdgeKind::Input, Map::new());
        }
        let write = &self.plan.operations.write;
        self.dataset(&write.output_source);
        let props = to_map(&json!({"append": write.append}));
        self.edge(
            job,
            dataset_key(&write.output_source),
            EdgeKind::Output,
            props,
        );
    }

    fn dataset(&mut self, uri: &str) {
        let canonical = naming::canonical_uri(uri);
        let mut props = to_map(&json!({"uri": canonical}));
        // Listed by namespace and name like OpenLineage datasets; a URI without an authority
        // (`table3`, `jdbc:...`) goes under the namespace `spline` with the URI as its name.
        let (namespace, name) = naming::namespace_and_name(&canonical)
            .unwrap_or_else(|| ("spline".to_owned(), canonical.clone()));
        props.insert("namespace".into(), json!(namespace));
        props.insert("name".into(), json!(name));
        self.node(
            dataset_key(uri),
            NodeKind::Dataset,
            dataset_name(uri),
            props.into(),
            MergePolicy::Merge,
        );
    }

    fn operations(&mut self) {
        let ops = &self.plan.operations;
        let write = &ops.write;
        let props = self.member(write, Some("Write"));
        self.operation(
            &write.id,
            write.name.as_deref(),
            "Write",
            props,
            &write.child_ids,
        );
        let write_key = op_key(&self.id, &write.id);
        self.edge(
            write_key,
            dataset_key(&write.output_source),
            EdgeKind::WritesTo,
            Map::new(),
        );
        for read in ops.reads.iter().flatten() {
            let props = self.member(read, Some("Read"));
            self.operation(&read.id, read.name.as_deref(), "Read", props, &[]);
            for uri in &read.input_sources {
                self.edge(
                    dataset_key(uri),
                    op_key(&self.id, &read.id),
                    EdgeKind::ReadsFrom,
                    Map::new(),
                );
            }
        }
        for op in ops.other.iter().flatten() {
            let props = self.member(op, Some("Transformation"));
            let children = op.child_ids.as_deref().unwrap_or_default();
            self.operation(
                &op.id,
                op.name.as_deref(),
                "Transformation",
                props,
                children,
            );
        }
    }

    fn operation(
        &mut self,
        id: &Id,
        name: Option<&str>,
        kind: &str,
        props: NewProperties,
        children: &[Id],
    ) {
        let key = op_key(&self.id, id);
        self.node(
            key.clone(),
            NodeKind::Operation,
            name.unwrap_or(kind),
            props,
            MergePolicy::Keep,
        );
        self.edge(
            job_key(&self.id),
            key.clone(),
            EdgeKind::HasOperation,
            Map::new(),
        );
        for (index, child) in children.iter().enumerate() {
            let props = to_map(&json!({"index": index}));
            self.edge(
                op_key(&self.id, child),
                key.clone(),
                EdgeKind::DataFlow,
                props,
            );
        }
    }

    fn attributes(&mut self, derivations: &Derivations<'p>) -> Result<(), TooManySources> {
        let producers = schemas(self.plan).producers;
        for attr in self.plan.attributes.iter().flatten() {
            let key = attr_key(&self.id, &attr.id);
            let props = self.member(attr, None);
            self.node(
                key.clone(),
                NodeKind::Attribute,
                &attr.name,
                props,
                MergePolicy::Keep,
            );
            if let Some(op) = producers.get(&attr.id) {
                self.edge(
                    op_key(&self.id, op),
                    key.clone(),
                    EdgeKind::Produces,
                    Map::new(),
                );
            }
            let refs = attr.child_refs.as_deref().unwrap_or_default();
            let Some(derivation) = derivations.derive(refs) else {
                continue;
            };
            let expression = Some(derivation.expression.as_str());
            derivations.store(derivation.sources.len(), expression)?;
            for source in &derivation.sources {
                let props = to_map(&json!({"expression": derivation.expression}));
                self.edge(
                    attr_key(&self.id, source),
                    key.clone(),
                    EdgeKind::Derives,
                    props,
                );
            }
        }
        Ok(())
    }

    /// Columns of the datasets, and how the written columns derive from the read ones, so
    /// column lineage crosses jobs and formats at the dataset level. A read operation's output
    /// attributes are columns of the datasets it reads; the write's input schema is the columns
    /// of the dataset it writes; the attribute derivations in between become `derives` edges
    /// between those columns.
    fn columns(&mut self, derivations: &Derivations<'p>) -> Result<(), TooManySources> {
        let schemas = schemas(self.plan);
        let read_columns = self.read_columns();
        let write = &self.plan.operations.write;
        let written = dataset_key(&write.output_source);
        let refs = attribute_refs(self.plan);
        let mut origins = Origins::new(derivations, &refs, &read_columns);
        let names = attribute_names(self.plan);
        let job = job_key(&self.id);
        for (index, attr) in inherited_schema(&write.child_ids, &schemas.outputs)
            .iter()
            .enumerate()
        {
            let Some(name) = names.get(attr) else {
                continue;
            };
            let target = self.column(&written, name, index);
            let own = refs.get(attr).copied().unwrap_or_default();
            let expression = derivations.derive(own).map(|d| d.expression);
            let from = origins.of(attr);
            let sources = from
                .iter()
                .flat_map(|&o| &read_columns[derivations.attribute(o)]);
            let sources: Vec<&String> = sources.collect();
            derivations.store(sources.len(), expression.as_deref())?;
            for source in sources {
                let props = to_map(&json!({"expression": expression, "job": job}));
                self.edge(source.clone(), target.clone(), EdgeKind::Derives, props);
            }
        }
        Ok(())
    }

    /// Read attribute → the columns it stands for (one per data source the read reads).
    fn read_columns(&mut self) -> HashMap<Id, Vec<String>> {
        let names = attribute_names(self.plan);
        let mut columns: HashMap<Id, Vec<String>> = HashMap::new();
        for read in self.plan.operations.reads.iter().flatten() {
            for uri in &read.input_sources {
                for (index, attr) in read.output.iter().flatten().enumerate() {
                    let Some(name) = names.get(attr) else {
                        continue;
                    };
                    let column = self.column(&dataset_key(uri), name, index);
                    columns.entry(attr.clone()).or_default().push(column);
                }
            }
        }
        columns
    }

    fn column(&mut self, dataset: &str, name: &str, index: usize) -> String {
        let key = crate::model::field_key(dataset, name);
        let props = to_map(&json!({"name": name, "dataset": dataset}));
        self.node(
            key.clone(),
            NodeKind::Field,
            name,
            props.into(),
            MergePolicy::Merge,
        );
        self.edge(
            dataset.to_owned(),
            key.clone(),
            EdgeKind::HasField,
            to_map(&json!({"index": index})),
        );
        key
    }
}

/// Each attribute's `childRefs`, by id.
fn attribute_refs(plan: &ExecutionPlan) -> HashMap<&Id, &[Reference]> {
    plan.attributes
        .iter()
        .flatten()
        .map(|a| (&a.id, a.child_refs.as_deref().unwrap_or_default()))
        .collect()
}

fn attribute_names(plan: &ExecutionPlan) -> HashMap<Id, String> {
    plan.attributes
        .iter()
        .flatten()
        .map(|a| (a.id.clone(), a.name.clone()))
        .collect()
}

/// The read attributes an attribute is ultimately computed from (itself, if it is one),
/// following derivations through intermediate attributes: worked out once per attribute and
/// shared, depth first without recursion, so a long chain costs its length, not its square,
/// and a malformed cyclic derivation can't loop.
struct Origins<'d, 'a> {
    derivations: &'d Derivations<'a>,
    refs: &'d HashMap<&'a Id, &'a [Reference]>,
    reads: &'d HashMap<Id, Vec<String>>,
    memo: HashMap<u32, Rc<[u32]>>,
}

impl<'d, 'a> Origins<'d, 'a> {
    fn new(
        derivations: &'d Derivations<'a>,
        refs: &'d HashMap<&'a Id, &'a [Reference]>,
        reads: &'d HashMap<Id, Vec<String>>,
    ) -> Self {
        Origins {
            derivations,
            refs,
            reads,
            memo: HashMap::new(),
        }
    }

    /// The origins of `attr`, as attribute indices.
    fn of(&mut self, attr: &Id) -> Rc<[u32]> {
        let Some(root) = self.derivations.index_of(attr) else {
            return Rc::from([]);
        };
        let mut stack = vec![(root, false)];
        let mut open = HashSet::new();
        while let Some((at, sources_done)) = stack.pop() {
            if self.memo.contains_key(&at) || (!sources_done && open.contains(&at)) {
                continue;
            }
            let id = self.derivations.attribute(at);
            if self.reads.contains_key(id) {
                self.memo.insert(at, Rc::from([at]));
                continue;
            }
            let own = self.refs.get(id).copied().unwrap_or_default();
            let sources = self.derivations.sources(own);
            if !sources_done {
                open.insert(at);
                stack.push((at, true));
                stack.extend(
                    sources
                        .iter()
                        .filter(|s| !open.contains(*s))
                        .map(|&s| (s, false)),
                );
                continue;
            }
            open.remove(&at);
            let parts = sources
                .iter()
                .filter_map(|s| self.memo.get(s).cloned())
                .collect();
            let origins = self.derivations.union(parts);
            self.memo.insert(at, origins);
        }
        self.memo
            .get(&root)
            .cloned()
            .unwrap_or_else(|| Rc::from([]))
    }
}

fn input_uris(plan: &ExecutionPlan) -> Vec<&str> {
    let mut seen = HashSet::new();
    let reads = plan.operations.reads.iter().flatten();
    reads
        .flat_map(|r| r.input_sources.iter().map(String::as_str))
        .filter(|u| seen.insert(*u))
        .collect()
}

/// Output schemas of a plan's operations, and which operation introduces each attribute.
/// Borrowed from the plan: a huge plan's output lists are most of its ids, and copying them
/// would cost more memory than the plan's own parse. An operation passing its input's schema
/// on shares it: 5,000 operations passing 20,000 attributes along are one schema, not
/// 100 million entries.
struct Schemas<'p> {
    /// Operation id → its output attributes, without repeats: declared, or inherited from its
    /// inputs in order.
    outputs: HashMap<&'p Id, Schema<'p>>,
    /// Attribute id → the first operation (reads first, then the rest in topological order)
    /// whose output lists it while none of its inputs' outputs do.
    producers: HashMap<&'p Id, &'p Id>,
}

/// A schema, shared by the operations that pass it on.
type Schema<'p> = Rc<[&'p Id]>;

fn schemas(plan: &ExecutionPlan) -> Schemas<'_> {
    let ops = &plan.operations;
    let mut outputs: HashMap<&Id, Schema<'_>> = HashMap::new();
    let mut producers = HashMap::new();
    for read in ops.reads.iter().flatten() {
        let out = distinct(read.output.iter().flatten());
        for attr in out.iter() {
            producers.entry(*attr).or_insert(&read.id);
        }
        outputs.insert(&read.id, out);
    }
    let others: HashMap<&Id, _> = ops.other.iter().flatten().map(|o| (&o.id, o)).collect();
    for id in topological(plan) {
        let Some(op) = others.get(id) else { continue };
        let inherited = inherited_schema(op.child_ids.as_deref().unwrap_or_default(), &outputs);
        let own = match &op.output {
            // Nothing new: every attribute is inherited.
            None => inherited,
            Some(declared) => {
                let known: HashSet<&Id> = inherited.iter().copied().collect();
                let own = distinct(declared.iter());
                for attr in own.iter().filter(|a| !known.contains(*a)) {
                    producers.entry(*attr).or_insert(&op.id);
                }
                own
            }
        };
        outputs.insert(&op.id, own);
    }
    Schemas { outputs, producers }
}

/// The ids in order, each once.
fn distinct<'p>(ids: impl Iterator<Item = &'p Id>) -> Schema<'p> {
    let mut seen = HashSet::new();
    ids.filter(|id| seen.insert(*id)).collect()
}

/// The attributes an operation receives from its inputs, in order, without repeats: the
/// input's own schema, shared, when all its inputs have that one.
fn inherited_schema<'p>(children: &[Id], outputs: &HashMap<&Id, Schema<'p>>) -> Schema<'p> {
    let mut schemas: Vec<&Schema<'p>> = children.iter().filter_map(|c| outputs.get(c)).collect();
    schemas.dedup_by(|a, b| Rc::ptr_eq(a, b));
    match schemas.as_slice() {
        [] => Rc::from([]),
        [one] => Rc::clone(one),
        several => distinct(several.iter().flat_map(|s| s.iter().copied())),
    }
}

/// Non-read operations ordered so that every operation comes after its inputs. Iterative
/// (petgraph's toposort), so a plan with a very long operation chain can't exhaust the stack.
fn topological(plan: &ExecutionPlan) -> Vec<&Id> {
    let others: Vec<&DataOperation> = plan.operations.other.iter().flatten().collect();
    let mut graph = DiGraph::<&Id, ()>::with_capacity(others.len(), others.len());
    let index: HashMap<&Id, _> = others
        .iter()
        .map(|o| (&o.id, graph.add_node(&o.id)))
        .collect();
    for op in &others {
        for child in op.child_ids.iter().flatten().filter_map(|c| index.get(c)) {
            graph.add_edge(*child, index[&op.id], ());
        }
    }
    // Validation rejected cycles; should one slip through, declaration order still terminates.
    match toposort(&graph, None) {
        Ok(order) => order.into_iter().map(|n| graph[n]).collect(),
        Err(_) => others.iter().map(|o| &o.id).collect(),
    }
}

/// Translates an event batch into run nodes. Each event needs its plan, stored earlier or in
/// the same transaction, with the same discriminator.
pub fn event_changes(events: &[ExecutionEvent], version: ApiVersion) -> ChangeSet {
    let mut out = ChangeSet::default();
    for (i, event) in events.iter().enumerate() {
        out.extend(one_event(i, event, version));
    }
    out
}

fn one_event(i: usize, event: &ExecutionEvent, version: ApiVersion) -> ChangeSet {
    let job = job_key(&event.plan_id);
    let key = event_key(&event.plan_id, event.timestamp);
    let at = Utc
        .timestamp_millis_opt(event.timestamp)
        .single()
        .unwrap_or_else(Utc::now);
    let mut props = to_map(event);
    props.insert("eventKey".into(), json!(key));
    props.insert("eventTime".into(), json!(at));
    props.insert(
        "status".into(),
        json!(if event.error.is_some() {
            "failed"
        } else {
            "succeeded"
        }),
    );
    props.insert("producerApiVersion".into(), json!(version.as_str()));
    let app_id = event
        .extra
        .as_ref()
        .and_then(|x| x.get("appId"))
        .and_then(Value::as_str);
    let name = app_id.unwrap_or(&key).to_owned();
    let run_key = format!("run:{key}");
    let node = NewNode {
        key: run_key.clone(),
        kind: NodeKind::Run,
        name,
        properties: props.into(),
        policy: MergePolicy::Keep,
        seen_at: at,
        writer: Some(SPLINE_WRITER.to_owned()),
    };
    let edge = NewEdge {
        source: run_key,
        target: job.clone(),
        kind: EdgeKind::RunOf,
        properties: Map::new(),
        seen_at: at,
    };
    let guards = vec![
        Guard::NodeExists {
            code: "unknown-plan",
            key: job.clone(),
            path: format!("[{i}].planId"),
            message: format!(
                "execution plan {} is not known; post the plan before its events",
                event.plan_id
            ),
        },
        Guard::PropertyEquals {
            key: job,
            property: "discriminator".to_owned(),
            expected: event.discriminator.clone(),
            path: format!("[{i}].discriminator"),
            message: format!(
                "the event's discriminator differs from execution plan {}'s",
                event.plan_id
            ),
        },
    ];
    ChangeSet {
        nodes: vec![node],
        edges: vec![edge],
        guards,
        aliases: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_keys_match_spline() {
        // Taken from a real Spline consumer response: timestamp 1684226827008 → `lhq160w0`.
        let plan: Uuid = "3f784e72-5bf7-5704-8828-ae8464fe915b".parse().unwrap();
        assert_eq!(
            event_key(&plan, 1684226827008),
            "3f784e72-5bf7-5704-8828-ae8464fe915b:lhq160w0"
        );
        assert_eq!(base36(0), "0");
        assert_eq!(base36(-35), "-z");
    }

    #[test]
    fn datasets_are_named_after_the_last_uri_segment() {
        assert_eq!(dataset_name("hdfs://nn/data/orders/"), "orders");
        assert_eq!(dataset_name("file://splinegen/read_1.csv"), "read_1.csv");
        assert_eq!(dataset_name("table3"), "table3");
    }
}
