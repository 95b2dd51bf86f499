//! The one graph model that every wire format is translated into.
//!
//! Spline plans, Spline events and (later) OpenLineage events all become a [`ChangeSet`]: nodes and
//! edges to upsert, plus [`Guard`]s that must hold for the change to be accepted. Keeping this
//! vocabulary free of any format or storage detail is what lets a new producer protocol, or a new
//! storage backend, be added without touching the other side.
//!
//! # Node keys
//! Keys are stable and readable, so they can be typed into a URL:
//! - `dataset:<canonical uri>`: a data source, by the rules in [`crate::naming`];
//! - `field:<canonical uri>#<field>`: a column of a dataset (OpenLineage schema facet);
//! - `job:<planId>`: a Spline execution plan (one logical job version);
//! - `job:<namespace>/<name>`: an OpenLineage job;
//! - `run:<planId>:<timestamp base36>`: a Spline execution event, keyed as Spline keys it;
//! - `run:<runId>`: an OpenLineage run;
//! - `op:<planId>:<operationId>`: an operation inside a plan;
//! - `attr:<planId>:<attributeId>`: an attribute (column) produced inside a plan.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// Key of a dataset's column: the dataset's key without `dataset:`, `#`, the column name.
pub fn field_key(dataset_key: &str, column: &str) -> String {
    let uri = dataset_key.strip_prefix("dataset:").unwrap_or(dataset_key);
    format!("field:{uri}#{column}")
}

/// The dataset key and column name of a field key; `None` for other keys.
pub fn split_field_key(key: &str) -> Option<(String, &str)> {
    let (uri, column) = key.strip_prefix("field:")?.rsplit_once('#')?;
    Some((format!("dataset:{uri}"), column))
}

/// What a node stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum NodeKind {
    /// A data source: a table, a file, a topic.
    Dataset,
    /// A process that reads and writes datasets; a Spline execution plan.
    Job,
    /// One execution of a job; a Spline execution event.
    Run,
    /// A step inside a job's execution plan.
    Operation,
    /// A column produced by an operation inside a plan.
    Attribute,
    /// A column of a dataset.
    Field,
}

impl NodeKind {
    /// Every kind, in the order they are documented.
    pub const ALL: [NodeKind; 6] = [
        NodeKind::Dataset,
        NodeKind::Job,
        NodeKind::Run,
        NodeKind::Operation,
        NodeKind::Attribute,
        NodeKind::Field,
    ];

    /// The name used on the wire and in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeKind::Dataset => "dataset",
            NodeKind::Job => "job",
            NodeKind::Run => "run",
            NodeKind::Operation => "operation",
            NodeKind::Attribute => "attribute",
            NodeKind::Field => "field",
        }
    }

    /// Parses a stored or user-supplied kind name.
    pub fn parse(name: &str) -> Option<NodeKind> {
        NodeKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// What an edge means. Every edge points the way data (or ownership) flows.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum EdgeKind {
    /// dataset → job: the job reads the dataset.
    Input,
    /// job → dataset: the job writes the dataset.
    Output,
    /// run → job: the run is an execution of the job.
    RunOf,
    /// job → operation: the operation belongs to the job's plan.
    HasOperation,
    /// operation → operation: the first operation's output feeds the second.
    DataFlow,
    /// dataset → read operation.
    ReadsFrom,
    /// write operation → dataset.
    WritesTo,
    /// operation → attribute: the operation introduces the attribute.
    Produces,
    /// attribute → attribute, or field → field: the target is computed from the source.
    Derives,
    /// dataset → field: the field is a column of the dataset.
    HasField,
    /// field → dataset: the field shapes the whole dataset (a filter, join or grouping key).
    Affects,
    /// job → job, or run → run: the target runs inside the source (a task in a DAG).
    ParentOf,
    /// dataset → dataset: data flows from one to the other through jobs. Never stored; drawn
    /// when a lineage answer collapses jobs.
    FlowsTo,
}

impl EdgeKind {
    /// Every kind, in the order they are documented.
    pub const ALL: [EdgeKind; 13] = [
        EdgeKind::Input,
        EdgeKind::Output,
        EdgeKind::RunOf,
        EdgeKind::HasOperation,
        EdgeKind::DataFlow,
        EdgeKind::ReadsFrom,
        EdgeKind::WritesTo,
        EdgeKind::Produces,
        EdgeKind::Derives,
        EdgeKind::HasField,
        EdgeKind::Affects,
        EdgeKind::ParentOf,
        EdgeKind::FlowsTo,
    ];

    /// The edges that make up dataset-level lineage: the layer that lineage queries walk.
    pub const LINEAGE: [EdgeKind; 2] = [EdgeKind::Input, EdgeKind::Output];

    /// The name used on the wire and in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            EdgeKind::Input => "input",
            EdgeKind::Output => "output",
            EdgeKind::RunOf => "run_of",
            EdgeKind::HasOperation => "has_operation",
            EdgeKind::DataFlow => "data_flow",
            EdgeKind::ReadsFrom => "reads_from",
            EdgeKind::WritesTo => "writes_to",
            EdgeKind::Produces => "produces",
            EdgeKind::Derives => "derives",
            EdgeKind::HasField => "has_field",
            EdgeKind::Affects => "affects",
            EdgeKind::ParentOf => "parent_of",
            EdgeKind::FlowsTo => "flows_to",
        }
    }

    /// Parses a stored kind name.
    pub fn parse(name: &str) -> Option<EdgeKind> {
        EdgeKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// Which end of a lineage edge is the process (job). Crossing into a process is what
    /// lineage depth counts, so traversal needs to know it without loading node kinds.
    pub fn process_end(self) -> Option<End> {
        match self {
            EdgeKind::Input => Some(End::Target),
            EdgeKind::Output => Some(End::Source),
            _ => None,
        }
    }
}

/// One end of an edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Where the edge starts.
    Source,
    /// Where the edge points.
    Target,
}

/// How an upsert treats a node that already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergePolicy {
    /// The first version wins. Spline plans and events are immutable: a re-post is a no-op.
    Keep,
    /// Versions accumulate: properties merge two levels deep (top-level keys, and the keys of
    /// object-valued properties such as `facets`), and where both versions set a key the one
    /// seen later wins. Shared nodes (datasets) and OpenLineage runs, whose events arrive in
    /// any order, take this policy.
    Merge,
}

/// A node to create or update.
#[derive(Debug, Clone, PartialEq)]
pub struct NewNode {
    /// The stable, readable identity (see the module docs).
    pub key: String,
    /// What the node stands for.
    pub kind: NodeKind,
    /// A human-readable name, used for search.
    pub name: String,
    /// Everything the producer said about the node.
    pub properties: NewProperties,
    /// What to do when the node already exists.
    pub policy: MergePolicy,
    /// When the producer saw it (event time where there is one, else receipt time).
    pub seen_at: DateTime<Utc>,
    /// The namespace of the job whose event says this (a dataset event's own namespace), so
    /// that readers limited to other namespaces can be kept from what it said.
    pub writer: Option<String>,
}

/// A new node's properties: parsed values for nodes whose properties merge with what is
/// stored, or JSON text for immutable nodes, stored once as produced. A plan's operations are
/// most of its bytes, and as parsed values they take about ten times the memory of the text.
#[derive(Debug, Clone)]
pub enum NewProperties {
    /// Parsed: merged key by key ([`MergePolicy::Merge`]).
    Values(Map<String, Value>),
    /// A JSON object as text, for [`MergePolicy::Keep`] nodes.
    Text(RawProperties),
}

impl NewProperties {
    /// `value` (which must serialize to a JSON object) as text.
    pub fn text<T: Serialize>(value: &T) -> NewProperties {
        match serde_json::value::to_raw_value(value) {
            Ok(raw) if raw.get().starts_with('{') => NewProperties::Text(raw),
            _ => NewProperties::Values(Map::new()),
        }
    }

    /// The properties as values, parsing text when they are text.
    pub fn values(&self) -> std::borrow::Cow<'_, Map<String, Value>> {
        match self {
            NewProperties::Values(map) => std::borrow::Cow::Borrowed(map),
            NewProperties::Text(raw) => {
                std::borrow::Cow::Owned(serde_json::from_str(raw.get()).unwrap_or_default())
            }
        }
    }

    /// One property, parsed.
    pub fn get(&self, key: &str) -> Option<Value> {
        self.values().get(key).cloned()
    }
}

impl From<Map<String, Value>> for NewProperties {
    fn from(map: Map<String, Value>) -> Self {
        NewProperties::Values(map)
    }
}

/// Equal when they hold the same JSON, whichever form.
impl PartialEq for NewProperties {
    fn eq(&self, other: &Self) -> bool {
        self.values() == other.values()
    }
}

/// An edge to create or update. Edges are identified by (source, kind, target).
#[derive(Debug, Clone, PartialEq)]
pub struct NewEdge {
    /// Key of the node the edge starts at.
    pub source: String,
    /// Key of the node the edge points to.
    pub target: String,
    /// What the edge means.
    pub kind: EdgeKind,
    /// Details of the relation (index, expression, write mode...).
    pub properties: Map<String, Value>,
    /// When the producer saw it.
    pub seen_at: DateTime<Utc>,
}

/// A condition checked inside the write transaction, against what is already stored.
///
/// Guards keep format rules (an event needs its plan; a plan id must not be reused for a
/// different plan) out of storage code while still being checked atomically with the write.
#[derive(Debug, Clone, PartialEq)]
pub enum Guard {
    /// The node must exist (possibly created by this same change set).
    NodeExists {
        /// Stable error code for the client, e.g. `unknown-plan`.
        code: &'static str,
        /// The node that must exist.
        key: String,
        /// Where in the request the reference was made, as a JSON path.
        path: String,
        /// What to tell the client when it doesn't.
        message: String,
    },
    /// The stored node's string property must equal `expected` (absent equals `None`).
    PropertyEquals {
        /// The node to check.
        key: String,
        /// The top-level property to compare.
        property: String,
        /// The value the request carries.
        expected: Option<String>,
        /// Where in the request the value came from, as a JSON path.
        path: String,
        /// What to tell the client on a mismatch.
        message: String,
    },
    /// The stored node's string property, where it has one, must equal `expected`: for
    /// properties nodes have had only since some version, so older nodes are not judged.
    PropertyUnchanged {
        /// The node to check.
        key: String,
        /// The top-level property to compare.
        property: String,
        /// The value the request carries.
        expected: String,
        /// Where in the request the value comes from, as a JSON path.
        path: String,
        /// What to tell the client on a mismatch.
        message: String,
    },
}

impl Guard {
    /// The node the guard looks at.
    pub fn key(&self) -> &str {
        match self {
            Guard::NodeExists { key, .. }
            | Guard::PropertyEquals { key, .. }
            | Guard::PropertyUnchanged { key, .. } => key,
        }
    }

    /// The node the guard looks at, to resolve through aliases.
    pub fn key_mut(&mut self) -> &mut String {
        match self {
            Guard::NodeExists { key, .. }
            | Guard::PropertyEquals { key, .. }
            | Guard::PropertyUnchanged { key, .. } => key,
        }
    }
}

/// Everything one request wants to change, applied atomically or not at all.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChangeSet {
    /// Nodes to upsert.
    pub nodes: Vec<NewNode>,
    /// Edges to upsert; their endpoints must exist or be among `nodes`.
    pub edges: Vec<NewEdge>,
    /// Conditions that must hold, or nothing is written.
    pub guards: Vec<Guard>,
    /// Other keys that name the same node, e.g. a Hive table name for a warehouse path. Later
    /// references through an alias reach the canonical node.
    pub aliases: Vec<Alias>,
}

/// Another key naming a node: references through it reach the node.
///
/// An alias is a claim on a name, so it is held to what a node is held to: a writer limited to
/// some namespaces may only declare aliases in them, and a name that is already a node's own
/// key, or another node's alias, is never taken over (see [`crate::store`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alias {
    /// The other key, e.g. `dataset:hive://metastore/db.table`.
    pub key: String,
    /// Key of the node it names.
    pub canonical: String,
    /// The namespace the other name is in, as the producer gave it.
    pub namespace: String,
}

impl ChangeSet {
    /// Appends another change set, so a request carrying many items stays one transaction.
    pub fn extend(&mut self, other: ChangeSet) {
        self.nodes.extend(other.nodes);
        self.edges.extend(other.edges);
        self.guards.extend(other.guards);
        self.aliases.extend(other.aliases);
    }
}

/// The request body exactly as received (after gunzip), kept so the graph can be rebuilt.
#[derive(Debug, Clone)]
pub struct RawPayload {
    /// Which parser understands it, e.g. `spline.plan` or `spline.events`.
    pub format: String,
    /// The wire-format version, e.g. `1.2`.
    pub version: String,
    /// The request's `Content-Type`.
    pub content_type: String,
    /// The body, byte for byte, after gunzip.
    pub body: bytes::Bytes,
    /// Bytes on the wire, before gunzip.
    pub wire_bytes: usize,
    /// When Headwater received it.
    pub received_at: DateTime<Utc>,
    /// When the event it carries happened, for formats with one event per payload.
    pub event_time: Option<DateTime<Utc>>,
    /// Who sent it (a token's name; `None`: nobody in particular, such as an archive being
    /// replayed), for the audit log.
    pub received_by: Option<String>,
    /// The request that carried it, to find it in the server log.
    pub request_id: Option<String>,
}

// Properties are parsed JSON, or with `RawProperties` the JSON text the database returned:
// answers that only pass properties on (lineage subgraphs, mostly properties) skip parsing and
// printing them again.
/// A stored node as read back.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(bound = "")]
pub struct Node<P = Value> {
    /// Stable, readable identity.
    pub key: String,
    /// What the node stands for.
    pub kind: NodeKind,
    /// Human-readable name.
    pub name: String,
    /// Everything producers said about the node.
    #[schema(value_type = Object)]
    pub properties: P,
    /// Earliest time a producer reported it.
    pub first_seen: DateTime<Utc>,
    /// Latest time a producer reported it.
    pub last_seen: DateTime<Utc>,
}

/// Properties as JSON text, checked to be JSON but not parsed into values.
pub type RawProperties = Box<serde_json::value::RawValue>;

/// What shaping an answer needs of a node's properties, whichever form they are in.
pub trait Properties {
    /// The `namespace` property.
    fn namespace(&self) -> Option<String>;
    /// The namespace of the job a run belongs to (`job.namespace`).
    fn job_namespace(&self) -> Option<String>;
}

impl Properties for Value {
    fn namespace(&self) -> Option<String> {
        self.as_object()?.namespace()
    }

    fn job_namespace(&self) -> Option<String> {
        self.as_object()?.job_namespace()
    }
}

impl Properties for Map<String, Value> {
    fn namespace(&self) -> Option<String> {
        self.get("namespace")?.as_str().map(str::to_owned)
    }

    fn job_namespace(&self) -> Option<String> {
        self.get("job")?
            .get("namespace")?
            .as_str()
            .map(str::to_owned)
    }
}

/// The few properties shaping reads, picked out of JSON text without parsing the rest.
#[derive(serde::Deserialize)]
struct Picked {
    namespace: Option<Value>,
    job: Option<PickedJob>,
}

#[derive(serde::Deserialize)]
struct PickedJob {
    namespace: Option<Value>,
}

impl Picked {
    fn of(raw: &RawProperties) -> Option<Picked> {
        serde_json::from_str(raw.get()).ok()
    }
}

impl Properties for RawProperties {
    fn namespace(&self) -> Option<String> {
        Picked::of(self)?.namespace?.as_str().map(str::to_owned)
    }

    fn job_namespace(&self) -> Option<String> {
        Picked::of(self)?
            .job?
            .namespace?
            .as_str()
            .map(str::to_owned)
    }
}

/// A stored edge as read back, with node keys for endpoints.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Edge {
    /// Key of the node data flows from.
    pub source: String,
    /// Key of the node data flows to.
    pub target: String,
    /// What the edge means.
    pub kind: EdgeKind,
    /// Details of the relation.
    #[schema(value_type = Object)]
    pub properties: Value,
    /// Earliest time a producer reported it.
    pub first_seen: DateTime<Utc>,
    /// Latest time a producer reported it.
    pub last_seen: DateTime<Utc>,
}

/// Storage-internal node identity, used by traversal so hops don't carry text keys around.
pub type NodeId = i64;

/// A stored edge between internal node ids, as traversal sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct EdgeRecord {
    /// Node the edge starts at.
    pub source: NodeId,
    /// Node the edge points to.
    pub target: NodeId,
    /// What the edge means.
    pub kind: EdgeKind,
    /// Details of the relation.
    pub properties: Value,
    /// Earliest time a producer reported it.
    pub first_seen: DateTime<Utc>,
    /// Latest time a producer reported it.
    pub last_seen: DateTime<Utc>,
}

impl EdgeRecord {
    /// The identity of an edge: (source, kind, target).
    pub fn identity(&self) -> (NodeId, EdgeKind, NodeId) {
        (self.source, self.kind, self.target)
    }

    /// The edge as a walk sees it.
    pub fn link(&self) -> Link {
        Link {
            source: self.source,
            kind: self.kind,
            target: self.target,
        }
    }
}

/// An edge as a walk sees it: the nodes it joins and what it means, nothing else. Walks only
/// need this much, so an in-memory index can answer them without holding edge details; an
/// answer loads properties and sightings for the edges it keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Link {
    /// Node the edge starts at.
    pub source: NodeId,
    /// What the edge means.
    pub kind: EdgeKind,
    /// Node the edge points to.
    pub target: NodeId,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_round_trip() {
        for kind in NodeKind::ALL {
            assert_eq!(NodeKind::parse(kind.as_str()), Some(kind));
        }
        for kind in EdgeKind::ALL {
            assert_eq!(EdgeKind::parse(kind.as_str()), Some(kind));
            let json = serde_json::to_value(kind).unwrap();
            assert_eq!(json, Value::String(kind.as_str().to_owned()));
        }
        assert_eq!(NodeKind::parse("table"), None);
    }

    #[test]
    fn field_keys_split_back_into_dataset_and_column() {
        let key = field_key("dataset:s3://b/t#v1", "id");
        assert_eq!(key, "field:s3://b/t#v1#id");
        assert_eq!(
            split_field_key(&key),
            Some(("dataset:s3://b/t#v1".to_owned(), "id"))
        );
        assert_eq!(split_field_key("dataset:x"), None);
    }

    #[test]
    fn only_lineage_edges_have_a_process_end() {
        assert_eq!(EdgeKind::Input.process_end(), Some(End::Target));
        assert_eq!(EdgeKind::Output.process_end(), Some(End::Source));
        assert_eq!(EdgeKind::Derives.process_end(), None);
    }
}
