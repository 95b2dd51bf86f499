//! The storage interface, and the PostgreSQL backend behind it.
//!
//! Handlers and ingest code only see [`Store`]; a backend decides how to keep nodes, edges and
//! raw payloads. What every backend needs the same way (collapsing duplicates inside one change
//! set, ordering rows so concurrent writers lock them in the same order) lives here.

pub mod audit;
mod open;
mod operations;
pub mod postgres;
pub mod retention;
mod rows;
pub mod sqlite;
mod write;

pub use audit::{AuditAction, AuditEntry, AuditQuery, AuditRecord, DeleteReport};
pub use open::Database;
pub use operations::{GraphCounts, PoolState, Readiness};
pub use retention::{PruneReport, PruneRequest};

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::error::Result;
use crate::graph::index::LinkFeed;
use crate::graph::{EdgeSource, Topology};
use crate::model::{
    ChangeSet, EdgeKind, EdgeRecord, Guard, Link, MergePolicy, NewEdge, NewNode, NewProperties,
    Node, NodeId, NodeKind, RawPayload, RawProperties, field_key, split_field_key,
};

/// What one write changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApplyOutcome {
    /// The exact same payload was stored before, so nothing was written.
    pub duplicate: bool,
    /// Nodes that did not exist before.
    pub nodes_created: u64,
    /// Edges that did not exist before.
    pub edges_created: u64,
}

/// A page request over nodes, ordered by key.
#[derive(Debug, Clone, Default)]
pub struct NodeQuery {
    /// Only nodes of this kind.
    pub kind: Option<NodeKind>,
    /// Case-insensitive substring of the key or the name.
    pub search: Option<String>,
    /// Only keys strictly after this one (keyset pagination).
    pub after: Option<String>,
    /// How many nodes at most.
    pub limit: u32,
    /// Only the nodes a reader limited to these namespaces may see (the rule of
    /// `http::scope`, in SQL, so that a page is filled from them); `None` for all.
    pub namespaces: Option<Vec<String>>,
}

/// Edges touching one node, capped per direction.
#[derive(Debug, Clone, Default)]
pub struct Adjacent {
    /// Edges into and out of the node.
    pub edges: Vec<EdgeRecord>,
    /// Whether either direction had more than the cap.
    pub truncated: bool,
}

/// Where lineage lives. One implementation per database.
///
/// Walks run on its [`Topology`] (links only) or on the in-memory index its [`LinkFeed`] keeps
/// current; answers then load the details of what they keep ([`Store::edges`]).
#[async_trait]
pub trait Store: EdgeSource + Topology + LinkFeed + Send + Sync + 'static {
    /// Checks that the database answers.
    async fn ping(&self) -> Result<()>;

    /// Stores the raw payload and applies the change set in one transaction: all of it, or
    /// nothing when a guard fails. A payload stored before is a no-op.
    async fn apply(&self, raw: &RawPayload, changes: ChangeSet) -> Result<ApplyOutcome>;

    /// Whether this exact body is archived already under `format`, so that a re-post (the
    /// Spline agent posts its plan on every run) can be answered without parsing it again.
    async fn has_payload(&self, format: &str, body: &[u8]) -> Result<bool>;

    /// Looks a node up by key.
    async fn node(&self, key: &str) -> Result<Option<(NodeId, Node)>>;

    /// Loads nodes by internal id, in no particular order; unknown ids are skipped.
    async fn nodes(&self, ids: &[NodeId]) -> Result<Vec<(NodeId, Node)>>;

    /// [`Store::nodes`] with the properties as the database's JSON text, for answers that pass
    /// them on unread.
    async fn node_texts(&self, ids: &[NodeId]) -> Result<Vec<(NodeId, Node<RawProperties>)>>;

    /// Loads the details of these edges, in no particular order; unknown ones are skipped.
    async fn edges(&self, links: &[Link]) -> Result<Vec<EdgeRecord>>;

    /// Lists nodes by key order.
    async fn list(&self, query: &NodeQuery) -> Result<Vec<Node>>;

    /// Edges into and out of a node, at most `limit` each way.
    async fn adjacent(&self, id: NodeId, limit: u32) -> Result<Adjacent>;

    /// Every dataset-level lineage edge (`input`, `output`): the whole lineage layer, for
    /// whole-graph questions such as cycles.
    async fn lineage_edges(&self) -> Result<Vec<EdgeRecord>>;

    /// Datasets at one end of the lineage layer, by key: `sources` are read but never written,
    /// otherwise written but never read. Also how many there are in all.
    async fn dataset_ends(&self, sources: bool, page: Page) -> Result<(Vec<String>, u64)>;

    /// Namespaces of datasets and jobs, by name.
    async fn namespaces(&self, page: Page) -> Result<Vec<Namespace>>;

    /// Nodes of `kind` whose `namespace` property is `namespace`, by name, and how many there
    /// are in all.
    async fn in_namespace(
        &self,
        kind: NodeKind,
        namespace: &str,
        page: Page,
    ) -> Result<(Vec<(NodeId, Node)>, u64)>;

    /// The runs of a job, latest first, and how many there are in all.
    async fn runs_of(&self, job: NodeId, page: Page) -> Result<(Vec<Node>, u64)>;

    /// The latest run of each of `jobs` that has one: (job, run).
    async fn latest_runs(&self, jobs: &[NodeId]) -> Result<Vec<(NodeId, Node)>>;

    /// Archived payloads of one format whose event time falls in a window, byte for byte, and
    /// how many there are in all.
    async fn raw_events(&self, query: &RawEventQuery) -> Result<(Vec<Box<RawValue>>, u64)>;

    /// One page of Spline execution events matching a consumer query, with the total.
    async fn spline_events(&self, query: &SplineEventQuery) -> Result<SplineEventPage>;

    /// One page of the data sources Spline plans read or write, each described by its latest
    /// write (null fields for one never written), filtered and sorted by that write.
    async fn spline_data_sources(&self, query: &SplineEventQuery) -> Result<SplineEventPage>;

    /// Spline plans with an event (whose timestamp, epoch ms, is at or before `as_at`), the
    /// latest stored first, and how many there are in all.
    async fn spline_plans(
        &self,
        as_at: Option<i64>,
        page: Page,
    ) -> Result<(Vec<(NodeId, Node)>, u64)>;

    /// The operation and attribute nodes of these Spline plans (by plan UUID).
    async fn spline_plan_members(&self, plan_ids: &[String]) -> Result<Vec<(NodeId, Node)>>;

    /// Spline runs by run node id; unknown or non-Spline ids are skipped.
    async fn spline_runs(&self, runs: &[NodeId]) -> Result<Vec<SplineRun>>;

    /// For each read, the successful writes of its data source that it may observe: those
    /// before it, from the last overwrite before it on. One list per read, in order.
    async fn spline_writes_before(&self, reads: &[DataSourceAt]) -> Result<Vec<Vec<SplineRun>>>;

    /// For each write, the runs that may observe it: readers of its data source after it, up to
    /// and including the next successful overwrite, and that overwrite. One list per write.
    async fn spline_reads_after(&self, writes: &[DataSourceAt]) -> Result<Vec<Vec<SplineRun>>>;

    /// Label names used on Spline plans and events, sorted.
    async fn spline_label_names(&self, query: &LabelQuery) -> Result<Vec<String>>;

    /// The values of one label on Spline plans and events, sorted.
    async fn spline_label_values(&self, name: &str, query: &LabelQuery) -> Result<Vec<String>>;

    /// One page of archived payloads in order of receipt (by id), for replay and export.
    async fn raw_payloads(&self, query: &RawPayloadQuery) -> Result<Vec<StoredPayload>>;

    /// Applies a change set in one transaction without archiving anything: replay re-applies
    /// the changes of payloads that are already archived, which `apply` would skip as
    /// duplicates.
    async fn reapply(&self, changes: ChangeSet) -> Result<ApplyOutcome>;

    /// Whether the schema matches this binary: which embedded migrations the database has not
    /// applied. An error means the database did not answer.
    async fn readiness(&self) -> Result<Readiness>;

    /// Deletes what is older than the cutoff and no longer needed (see [`retention`]), in
    /// batches; a dry run reports the same counts and deletes nothing.
    async fn prune(&self, request: &PruneRequest) -> Result<PruneReport>;

    /// Nodes and edges by kind, for the metrics scrape: one grouped count each.
    async fn graph_counts(&self) -> Result<GraphCounts>;

    /// Appends a record to the audit log (an ingest's is written by [`Store::apply`] itself).
    async fn record(&self, entry: &AuditEntry) -> Result<()>;

    /// A page of the audit log, newest first.
    async fn audit_log(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>>;

    /// Deletes the node keyed `key` and what belongs to it ([`audit::MEMBERS`]), with their
    /// edges, and records `entry` (its detail replaced by the report), in one transaction.
    /// `None` when no such node is stored.
    async fn delete_node(&self, key: &str, entry: AuditEntry) -> Result<Option<DeleteReport>>;

    /// The connection pool right now. No I/O, so a scrape can read it while the database is down.
    fn pool_state(&self) -> PoolState;

    /// Who set each property of these nodes, by node key: their [`WRITERS`] records
    /// (property path → namespace); nodes without any are left out.
    async fn property_writers(
        &self,
        keys: &[String],
    ) -> Result<HashMap<String, Map<String, Value>>>;

    /// The service's own secret called `name`, shared by every process on this database: the
    /// stored one, or `fresh`, stored now, when there is none yet (the first process to store
    /// one wins, and every process gets that one).
    async fn secret(&self, name: &str, fresh: &[u8]) -> Result<Vec<u8>>;
}

/// A page of the raw-payload archive, in order of receipt.
#[derive(Debug, Clone, Default)]
pub struct RawPayloadQuery {
    /// Only payloads with a larger id (keyset pagination); 0 for the first page.
    pub after_id: i64,
    /// Only payloads received at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only payloads received before this time.
    pub until: Option<DateTime<Utc>>,
    /// How many at most.
    pub limit: u32,
}

/// An archived payload and its place in the archive.
#[derive(Debug, Clone)]
pub struct StoredPayload {
    /// Its id: the order of receipt.
    pub id: i64,
    /// The payload as received.
    pub raw: RawPayload,
}

/// Offset paging, as the Marquez API does it.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    /// Most items.
    pub limit: u32,
    /// Items to skip.
    pub offset: u32,
}

/// A namespace and when anything in it was first and last seen.
#[derive(Debug, Clone, PartialEq)]
pub struct Namespace {
    /// Its name.
    pub name: String,
    /// First sighting of anything in it.
    pub first_seen: DateTime<Utc>,
    /// Latest sighting of anything in it.
    pub last_seen: DateTime<Utc>,
}

/// A window over archived events.
#[derive(Debug, Clone)]
pub struct RawEventQuery {
    /// Raw-payload format, e.g. `openlineage.event`.
    pub format: String,
    /// Only events at or after this time.
    pub after: Option<DateTime<Utc>>,
    /// Only events at or before this time.
    pub before: Option<DateTime<Utc>>,
    /// Oldest first when true.
    pub ascending: bool,
    /// Paging.
    pub page: Page,
}

/// What a Spline consumer listing (execution events, or data sources by their last write)
/// wants: Spline's filters, sort and page.
#[derive(Debug, Clone)]
pub struct SplineEventQuery {
    /// Only what was stored at or before this time, so paging is stable while events arrive;
    /// `None` for everything stored.
    pub as_at: Option<DateTime<Utc>>,
    /// Only events whose timestamp (epoch ms) is at or after this.
    pub timestamp_start: Option<i64>,
    /// Only events whose timestamp (epoch ms) is at or before this.
    pub timestamp_end: Option<i64>,
    /// All must hold: the event's or its plan's label `name` has one of `values`.
    pub labels: Vec<LabelFilter>,
    /// Case-insensitive substring of the framework, application name or id, or the data
    /// source's URI or type.
    pub search: Option<String>,
    /// Only writes in one of these modes (`true` = append); `None` = any mode.
    pub append: Option<Vec<bool>>,
    /// With `append`, also data sources that were never written.
    pub include_unwritten: bool,
    /// Only events whose `extra.appId` is this.
    pub application_id: Option<String>,
    /// Only writes of the data source with this (canonical) URI.
    pub data_source_uri: Option<String>,
    /// The order.
    pub sort: SplineEventSort,
    /// Which page.
    pub page: Page,
    /// Also report the earliest and latest timestamp of all matches, ignoring the time window.
    pub date_range: bool,
}

/// A label condition: the label `name` has one of `values`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelFilter {
    /// Label name.
    pub name: String,
    /// Accepted values.
    pub values: Vec<String>,
}

/// How a Spline consumer listing is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SplineEventSort {
    /// The field.
    pub field: SplineEventField,
    /// Smallest first when true.
    pub ascending: bool,
}

/// The fields of a Spline event listing that it can be sorted by: a closed set, so no sort
/// request ever reaches SQL as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplineEventField {
    /// `executionEventId`.
    ExecutionEventId,
    /// `executionPlanId`.
    ExecutionPlanId,
    /// `frameworkName`.
    FrameworkName,
    /// `applicationName`.
    ApplicationName,
    /// `applicationId`.
    ApplicationId,
    /// `timestamp`.
    Timestamp,
    /// `durationNs`.
    DurationNs,
    /// `dataSourceName`.
    DataSourceName,
    /// `dataSourceUri`.
    DataSourceUri,
    /// `dataSourceType`.
    DataSourceType,
    /// `append`.
    Append,
}

impl SplineEventField {
    /// Every field with its Spline name.
    pub const ALL: [(SplineEventField, &'static str); 11] = [
        (SplineEventField::ExecutionEventId, "executionEventId"),
        (SplineEventField::ExecutionPlanId, "executionPlanId"),
        (SplineEventField::FrameworkName, "frameworkName"),
        (SplineEventField::ApplicationName, "applicationName"),
        (SplineEventField::ApplicationId, "applicationId"),
        (SplineEventField::Timestamp, "timestamp"),
        (SplineEventField::DurationNs, "durationNs"),
        (SplineEventField::DataSourceName, "dataSourceName"),
        (SplineEventField::DataSourceUri, "dataSourceUri"),
        (SplineEventField::DataSourceType, "dataSourceType"),
        (SplineEventField::Append, "append"),
    ];

    /// Parses a Spline field name.
    pub fn parse(name: &str) -> Option<SplineEventField> {
        Self::ALL.iter().find(|(_, n)| *n == name).map(|(f, _)| *f)
    }
}

/// One row of a Spline listing: an execution event, or a data source with its latest write
/// (whose event fields are all `None` when it was never written).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SplineEvent {
    /// Spline's event key, `<planId>:<timestamp base 36>`.
    pub execution_event_id: Option<String>,
    /// The plan UUID.
    pub execution_plan_id: Option<String>,
    /// `<systemInfo.name> <systemInfo.version>`, e.g. `spark 3.3.2`.
    pub framework_name: Option<String>,
    /// The plan's (application's) name.
    pub application_name: Option<String>,
    /// The event's `extra.appId`.
    pub application_id: Option<String>,
    /// When the execution finished, epoch ms.
    pub timestamp: Option<i64>,
    /// How long it took.
    pub duration_ns: Option<i64>,
    /// Last segment of the written data source's URI.
    pub data_source_name: Option<String>,
    /// The written data source's (canonical) URI.
    pub data_source_uri: Option<String>,
    /// The write's `extra.destinationType`.
    pub data_source_type: Option<String>,
    /// Append (true) or overwrite.
    pub append: Option<bool>,
    /// The failure, for a failed run.
    pub error: Option<Value>,
    /// The event's `extra`.
    pub extra: Option<Value>,
    /// The event's labels.
    pub labels: Option<Value>,
    /// The plan's labels.
    pub plan_labels: Option<Value>,
}

/// A page of a Spline listing.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SplineEventPage {
    /// The rows.
    pub items: Vec<SplineEvent>,
    /// How many rows match in all.
    pub total: u64,
    /// Earliest and latest timestamp of the matches, when asked for and there are any.
    pub date_range: Option<(i64, i64)>,
}

/// A Spline run as the time-aware lineage walk sees it: when it ran, what its plan read and
/// wrote, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplineRun {
    /// The run node.
    pub run: NodeId,
    /// Its plan's job node.
    pub job: NodeId,
    /// When it finished, epoch ms.
    pub timestamp: i64,
    /// Whether its write appends (else it overwrites).
    pub append: bool,
    /// Whether it failed (it then wrote nothing anyone can observe).
    pub failed: bool,
    /// Dataset nodes its plan reads, sorted.
    pub reads: Vec<NodeId>,
    /// The dataset node its plan writes.
    pub writes: NodeId,
}

/// A moment in one data source's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataSourceAt {
    /// The dataset node.
    pub data_source: NodeId,
    /// Epoch ms.
    pub at: i64,
}

/// A page of label names or values.
#[derive(Debug, Clone, Default)]
pub struct LabelQuery {
    /// Case-insensitive substring.
    pub search: Option<String>,
    /// How many to skip.
    pub offset: u32,
    /// How many at most; `None` for all.
    pub limit: Option<u32>,
}

/// A node row ready to write: duplicates in a change set merged into one. Properties borrow
/// from the change set where nothing merged into them: a plan's operations are most of its
/// bytes, and copying them per write (and again per retry) was most of a large plan's memory.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeRow<'a> {
    /// Node key.
    pub key: String,
    /// Node kind.
    pub kind: NodeKind,
    /// Display name.
    pub name: String,
    /// Properties.
    pub properties: RowProperties<'a>,
    /// What to do with an existing row.
    pub policy: MergePolicy,
    /// For [`MergePolicy::Merge`]: when each property was last set (see [`merge_timed`]).
    pub times: Map<String, Value>,
    /// Earliest sighting in this change set.
    pub first_seen: DateTime<Utc>,
    /// Latest sighting in this change set.
    pub last_seen: DateTime<Utc>,
}

/// A row's properties as written: values (borrowed unless something merged into them), or the
/// JSON text an immutable node came with.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum RowProperties<'a> {
    /// Parsed.
    Values(Cow<'a, Map<String, Value>>),
    /// As text.
    Text(&'a serde_json::value::RawValue),
}

impl RowProperties<'_> {
    /// As values, parsing text.
    pub fn values(&self) -> Cow<'_, Map<String, Value>> {
        match self {
            RowProperties::Values(map) => Cow::Borrowed(map.as_ref()),
            RowProperties::Text(raw) => {
                Cow::Owned(serde_json::from_str(raw.get()).unwrap_or_default())
            }
        }
    }

    /// As values to change, parsing text first.
    fn to_mut(&mut self) -> &mut Map<String, Value> {
        if let RowProperties::Text(raw) = self {
            *self = RowProperties::Values(Cow::Owned(
                serde_json::from_str(raw.get()).unwrap_or_default(),
            ));
        }
        match self {
            RowProperties::Values(map) => map.to_mut(),
            RowProperties::Text(_) => unreachable!("text was parsed above"),
        }
    }
}

/// Equal when they hold the same JSON, whichever form.
impl PartialEq for RowProperties<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.values() == other.values()
    }
}

/// An edge row ready to write, identified by (source key, kind, target key).
#[derive(Debug, Clone, PartialEq)]
pub struct EdgeRow {
    /// Source node key.
    pub source: String,
    /// Edge kind.
    pub kind: EdgeKind,
    /// Target node key.
    pub target: String,
    /// Properties.
    pub properties: Map<String, Value>,
    /// Earliest sighting in this change set.
    pub first_seen: DateTime<Utc>,
    /// Latest sighting in this change set.
    pub last_seen: DateTime<Utc>,
}

/// A change set with duplicates merged and rows sorted by identity.
///
/// Databases refuse to upsert one row twice in a statement, and sorting makes concurrent
/// transactions lock shared rows (a popular dataset) in the same order, which avoids deadlocks.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Normalized<'a> {
    /// Nodes, sorted by key.
    pub nodes: Vec<NodeRow<'a>>,
    /// Edges, sorted by (source, kind, target).
    pub edges: Vec<EdgeRow>,
    /// Guards, keys resolved.
    pub guards: Vec<Guard>,
    /// Aliases, canonical keys resolved.
    pub aliases: Vec<(String, String)>,
}

/// Resolves keys through the known aliases (`known`, see [`known_aliases`]), merges
/// duplicates and sorts. The change set is only borrowed, so a retried write normalizes it
/// again without a copy of it.
pub fn normalize<'a>(changes: &'a ChangeSet, known: &HashMap<String, String>) -> Normalized<'a> {
    let resolve = |key: &str| resolved(key, known);
    let mut nodes: BTreeMap<String, NodeRow<'a>> = BTreeMap::new();
    for n in &changes.nodes {
        let key = resolve(&n.key);
        match nodes.get_mut(&key) {
            Some(row) => merge_node(row, n, known),
            None => {
                let row = node_row(n, key.clone(), known);
                nodes.insert(key, row);
            }
        }
    }
    let mut edges: BTreeMap<(String, EdgeKind, String), EdgeRow> = BTreeMap::new();
    for e in &changes.edges {
        let id = (resolve(&e.source), e.kind, resolve(&e.target));
        match edges.get_mut(&id) {
            Some(row) => merge_edge(row, e),
            None => {
                let row = edge_row(e, id.0.clone(), id.2.clone());
                edges.insert(id, row);
            }
        }
    }
    let guards = changes
        .guards
        .iter()
        .map(|g| {
            let mut g = g.clone();
            let key = g.key_mut();
            *key = resolve(key);
            g
        })
        .collect();
    // Only the declared aliases `known` took: one whose name is taken stays unrecorded.
    let aliases = changes
        .aliases
        .iter()
        .map(|a| (a.key.clone(), resolve(&a.canonical)))
        .filter(|(alias, canonical)| known.get(alias) == Some(canonical))
        .collect();
    Normalized {
        nodes: nodes.into_values().collect(),
        edges: edges.into_values().collect(),
        guards,
        aliases,
    }
}

/// The key a stored alias stands for, or the key itself; a column named through a dataset's
/// alias belongs to the canonical dataset.
fn resolved(key: &str, known: &HashMap<String, String>) -> String {
    if let Some(canonical) = known.get(key) {
        return canonical.clone();
    }
    match split_field_key(key) {
        Some((dataset, column)) if known.contains_key(&dataset) => {
            field_key(&known[&dataset], column)
        }
        _ => key.to_owned(),
    }
}

/// A node's properties, borrowed unless its `dataset` property (a column's) names an alias.
/// Text stays text for nodes that keep their first version; merged nodes need values.
fn resolved_properties<'a>(n: &'a NewNode, known: &HashMap<String, String>) -> RowProperties<'a> {
    let properties = match (&n.properties, n.policy) {
        (NewProperties::Text(raw), MergePolicy::Keep) => return RowProperties::Text(raw),
        (properties, _) => properties.values(),
    };
    let dataset = match properties.get("dataset") {
        Some(Value::String(dataset)) => resolved(dataset, known),
        _ => return RowProperties::Values(properties),
    };
    if properties.get("dataset").and_then(Value::as_str) == Some(dataset.as_str()) {
        return RowProperties::Values(properties);
    }
    let mut owned = properties.into_owned();
    owned.insert("dataset".to_owned(), Value::String(dataset));
    RowProperties::Values(Cow::Owned(owned))
}

fn node_row<'a>(n: &'a NewNode, key: String, known: &HashMap<String, String>) -> NodeRow<'a> {
    let times = match n.policy {
        MergePolicy::Merge => stamp(&n.properties.values(), n.seen_at, n.writer.as_deref()),
        MergePolicy::Keep => Map::new(),
    };
    NodeRow {
        key,
        kind: n.kind,
        name: n.name.clone(),
        properties: resolved_properties(n, known),
        policy: n.policy,
        times,
        first_seen: n.seen_at,
        last_seen: n.seen_at,
    }
}

fn merge_node(row: &mut NodeRow<'_>, n: &NewNode, known: &HashMap<String, String>) {
    if row.policy == MergePolicy::Merge {
        if name_wins((n.seen_at, &n.name), (row.last_seen, &row.name)) {
            row.name.clone_from(&n.name);
        }
        let newer = resolved_properties(n, known).values().into_owned();
        let times = stamp(&newer, n.seen_at, n.writer.as_deref());
        merge_timed(row.properties.to_mut(), &mut row.times, newer, &times);
    }
    row.first_seen = row.first_seen.min(n.seen_at);
    row.last_seen = row.last_seen.max(n.seen_at);
}

/// Whether a node's name seen at one time replaces one seen at another: the later, and at the
/// same time the first in text order, so that the order of arrival can't show.
pub fn name_wins(newer: (DateTime<Utc>, &str), older: (DateTime<Utc>, &str)) -> bool {
    (newer.0, std::cmp::Reverse(newer.1)) >= (older.0, std::cmp::Reverse(older.1))
}

/// Where property times keep who set each property: `{"@by": {"facets/documentation":
/// "airflow"}}` beside the times, the namespace of the job whose event set it (a dataset
/// event's own namespace; `spline` for Spline). A reader limited to some namespaces is not
/// shown what a writer outside them said of a node it may see. No property is called `@by`:
/// converters name every top-level property.
pub const WRITERS: &str = "@by";

/// When each property of a version was set: every top-level key, and every key inside an
/// object-valued property (as `outer/inner`), at `at` in microseconds; and by whom, when the
/// `writer` is known (under [`WRITERS`]).
pub fn stamp(
    properties: &Map<String, Value>,
    at: DateTime<Utc>,
    writer: Option<&str>,
) -> Map<String, Value> {
    let t = Value::from(at.timestamp_micros());
    let mut times = Map::new();
    for path in paths(properties) {
        times.insert(path, t.clone());
    }
    // An object's keys have writers of their own, the object as a whole none: merged, its
    // keys come from many versions.
    if let Some(writer) = writer {
        let by: Map<String, Value> = paths(properties)
            .filter(|p| !properties.get(p).is_some_and(Value::is_object))
            .map(|p| (p, Value::from(writer)))
            .collect();
        times.insert(WRITERS.to_owned(), Value::Object(by));
    }
    times
}

/// The paths properties are timed by: every top-level key, and `outer/inner` for every key of
/// an object-valued one.
fn paths(properties: &Map<String, Value>) -> impl Iterator<Item = String> + '_ {
    properties.iter().flat_map(|(key, value)| {
        let inner = value.as_object().into_iter().flat_map(|o| o.keys());
        std::iter::once(key.clone()).chain(inner.map(move |i| format!("{key}/{i}")))
    })
}

/// Who set the property at `path`, as recorded.
fn written_by<'t>(times: &'t Map<String, Value>, path: &str) -> Option<&'t Value> {
    times.get(WRITERS)?.get(path)
}

/// The writer to record for a value that won: its own, but where two writers set the same
/// value at the same time, the first of them in text order (an unknown one first), so that
/// the order of arrival can't show.
fn settled(tie: bool, old: Option<&Value>, new: Option<&Value>) -> Option<Value> {
    let text = |w: Option<&Value>| w.and_then(Value::as_str).map(str::to_owned);
    match tie {
        true => text(old).min(text(new)).map(Value::from),
        false => new.cloned(),
    }
}

/// Records who set the property at `path` (nobody known: the record goes).
fn set_writer(times: &mut Map<String, Value>, path: &str, writer: Option<&Value>) {
    let by = times
        .entry(WRITERS)
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(by) = by else {
        return;
    };
    match writer {
        Some(w) => by.insert(path.to_owned(), w.clone()),
        None => by.remove(path),
    };
}

/// The [`MergePolicy::Merge`] rule, as every backend applies it. Each property (and each key
/// of an object-valued property such as `facets`) keeps the value from the version that set it
/// last in producer time, whatever order versions arrive in; a tie goes to the value first in
/// [`json_order`], never to whichever arrived last, so the order of arrival can't show. Times
/// are tracked per key, so an event that doesn't mention `state` can't make an older `state`
/// win over a newer one. Who set a value ([`WRITERS`]) goes with it.
///
/// Returns whether any property's value changed (times may move without one).
pub fn merge_timed(
    props: &mut Map<String, Value>,
    times: &mut Map<String, Value>,
    newer: Map<String, Value>,
    newer_times: &Map<String, Value>,
) -> bool {
    let time = |times: &Map<String, Value>, k: &str| times.get(k).and_then(Value::as_i64);
    let by = newer_times.get(WRITERS).and_then(Value::as_object);
    let writer = |path: &str| by.and_then(|b| b.get(path));
    let mut changed = false;
    for (key, value) in newer {
        let new_t = time(newer_times, &key).unwrap_or(i64::MIN);
        match (props.get_mut(&key), value) {
            (Some(Value::Object(old)), Value::Object(new)) => {
                for (inner, v) in new {
                    let path = format!("{key}/{inner}");
                    let new_t = time(newer_times, &path).unwrap_or(new_t);
                    let old_t = time(times, &path).unwrap_or(i64::MIN);
                    if newer_wins((new_t, &v), (old_t, old.get(&inner))) {
                        let tie = new_t == old_t && old.get(&inner) == Some(&v);
                        let by = settled(tie, written_by(times, &path), writer(&path));
                        changed |= old.get(&inner) != Some(&v);
                        old.insert(inner, v);
                        times.insert(path.clone(), Value::from(new_t));
                        set_writer(times, &path, by.as_ref());
                    }
                }
                let latest = time(times, &key).unwrap_or(i64::MIN).max(new_t);
                times.insert(key, Value::from(latest));
            }
            (_, value) => {
                let old_t = time(times, &key).unwrap_or(i64::MIN);
                if newer_wins((new_t, &value), (old_t, props.get(&key))) {
                    let tie = new_t == old_t && props.get(&key) == Some(&value);
                    let mut one = Map::new();
                    one.insert(key.clone(), value.clone());
                    let at = DateTime::from_timestamp_micros(new_t).unwrap_or_default();
                    times.extend(stamp(&one, at, None));
                    // An object as a whole has no writer (see `stamp`), its keys each theirs.
                    for path in paths(&one) {
                        let whole = path == key && value.is_object();
                        let by = writer(&path).filter(|_| !whole);
                        let by = settled(tie, written_by(times, &path), by);
                        set_writer(times, &path, by.as_ref());
                    }
                    changed |= props.get(&key) != Some(&value);
                    props.insert(key, value);
                }
            }
        }
    }
    changed
}

/// Whether a value set at one time replaces one set at another: the later wins, and at the
/// same time the one first in [`json_order`] (so a run's terminal state, `COMPLETE` or `FAIL`,
/// wins over `START` or `RUNNING` sent at the same instant).
pub fn newer_wins<T: Ord>(newer: (T, &Value), older: (T, Option<&Value>)) -> bool {
    match (newer.0.cmp(&older.0), older.1) {
        (Ordering::Equal, Some(old)) => json_order(newer.1, old) != Ordering::Greater,
        (order, _) => order != Ordering::Less,
    }
}

/// A total order on JSON values that doesn't depend on how an object's keys are stored: null,
/// booleans, numbers, strings, arrays, then objects; strings by their text, arrays and objects
/// (by sorted key) item by item.
pub fn json_order(a: &Value, b: &Value) -> Ordering {
    let rank = |v: &Value| match v {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Number(_) => 2,
        Value::String(_) => 3,
        Value::Array(_) => 4,
        Value::Object(_) => 5,
    };
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Number(x), Value::Number(y)) => number_order(x, y),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => items_order(x.iter(), y.iter()),
        (Value::Object(x), Value::Object(y)) => map_order(x, y),
        _ => rank(a).cmp(&rank(b)),
    }
}

/// [`json_order`] of two objects.
fn map_order(x: &Map<String, Value>, y: &Map<String, Value>) -> Ordering {
    let (x, y): (BTreeMap<_, _>, BTreeMap<_, _>) = (x.iter().collect(), y.iter().collect());
    let keys = x.keys().cmp(y.keys());
    keys.then_with(|| items_order(x.into_values(), y.into_values()))
}

/// Whether an edge's sighting at one time counts as newer than one at another when their
/// properties merge: the later, and at the same time the properties first in [`json_order`].
/// (PostgreSQL breaks the tie by its own `jsonb` order, in SQL; either way the order of arrival
/// can't show.)
pub fn edge_newer_wins(
    newer: (DateTime<Utc>, &Map<String, Value>),
    older: (DateTime<Utc>, &Map<String, Value>),
) -> bool {
    match newer.0.cmp(&older.0) {
        Ordering::Equal => map_order(newer.1, older.1) != Ordering::Greater,
        order => order == Ordering::Greater,
    }
}

fn number_order(x: &serde_json::Number, y: &serde_json::Number) -> Ordering {
    let (fx, fy) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
    fx.total_cmp(&fy)
        .then_with(|| x.to_string().cmp(&y.to_string()))
}

fn items_order<'v>(
    x: impl Iterator<Item = &'v Value>,
    y: impl Iterator<Item = &'v Value>,
) -> Ordering {
    let (x, y): (Vec<_>, Vec<_>) = (x.collect(), y.collect());
    let mut pairs = x.iter().zip(&y).map(|(p, q)| json_order(p, q));
    pairs
        .find(|o| o.is_ne())
        .unwrap_or_else(|| x.len().cmp(&y.len()))
}

/// The [`MergePolicy::Merge`] rule, as every backend must apply it: keys of `newer` win, and
/// where both sides hold an object under the same key, those objects merge too.
pub fn merge_properties(
    older: Map<String, Value>,
    newer: Map<String, Value>,
) -> Map<String, Value> {
    let mut merged = older;
    for (key, value) in newer {
        match (merged.get_mut(&key), value) {
            (Some(Value::Object(old)), Value::Object(new)) => old.extend(new),
            (_, value) => {
                merged.insert(key, value);
            }
        }
    }
    merged
}

/// A character's lowercase by Unicode's simple (one character) mapping, as PostgreSQL's
/// `lower` (and so `ILIKE`) has it from the C library: `İ` is `i`, where Rust's full mapping
/// adds a dot. Every case-insensitive search folds by it, on either backend.
pub fn simple_lowercase(c: char) -> char {
    c.to_lowercase().next().unwrap_or(c)
}

/// Every node key a change set mentions, aliases included.
pub fn mentioned_keys(changes: &ChangeSet) -> impl Iterator<Item = &str> {
    let nodes = changes.nodes.iter().map(|n| n.key.as_str());
    let edges = changes
        .edges
        .iter()
        .flat_map(|e| [e.source.as_str(), e.target.as_str()]);
    let guards = changes.guards.iter().map(Guard::key);
    let aliases = changes.aliases.iter().map(|a| a.canonical.as_str());
    nodes.chain(edges).chain(guards).chain(aliases)
}

/// The dataset keys that columns in a change set belong to: a column named through a dataset's
/// alias belongs to the canonical dataset too.
pub fn column_owners(changes: &ChangeSet) -> Vec<String> {
    let keys = mentioned_keys(changes);
    keys.filter_map(|k| split_field_key(k).map(|(dataset, _)| dataset))
        .collect()
}

/// What a write must know of the names already stored before it resolves its keys.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoredNames {
    /// The stored aliases among the keys the change set mentions or declares as aliases:
    /// alias → canonical key. An alias whose name has since become a node's own key is not
    /// among them: a node's own key always names the node.
    pub aliases: HashMap<String, String>,
    /// The aliases the change set declares that are stored nodes' own keys.
    pub nodes: HashSet<String>,
}

/// Every alias a write must honour: the stored ones, and the ones the change set declares
/// (resolved through the stored ones, so aliases of aliases land on the canonical node).
///
/// A declared alias never takes a name that belongs to another node: a stored node's own key,
/// or a stored alias of another node, whoever writes. Such an alias is not recorded, and the
/// rest of the change set is written as if it hadn't been declared: symlinks are routine
/// (every Spark job on a Hive table declares one), and two producers naming one table two ways
/// must not cost either its lineage.
pub fn known_aliases(stored: StoredNames, changes: &ChangeSet) -> HashMap<String, String> {
    let mut known = stored.aliases;
    for alias in &changes.aliases {
        if stored.nodes.contains(&alias.key) {
            continue;
        }
        let canonical = known
            .get(&alias.canonical)
            .cloned()
            .unwrap_or_else(|| alias.canonical.clone());
        if alias.key != canonical {
            known.entry(alias.key.clone()).or_insert(canonical);
        }
    }
    known
}

fn edge_row(e: &NewEdge, source: String, target: String) -> EdgeRow {
    EdgeRow {
        source,
        kind: e.kind,
        target,
        properties: e.properties.clone(),
        first_seen: e.seen_at,
        last_seen: e.seen_at,
    }
}

fn merge_edge(row: &mut EdgeRow, e: &NewEdge) {
    let older_props = std::mem::take(&mut row.properties);
    let newer = e.properties.clone();
    row.properties = match edge_newer_wins((e.seen_at, &newer), (row.last_seen, &older_props)) {
        true => merge_properties(older_props, newer),
        false => merge_properties(newer, older_props),
    };
    row.first_seen = row.first_seen.min(e.seen_at);
    row.last_seen = row.last_seen.max(e.seen_at);
}

/// An archived event's body as the JSON it was posted as. Not parsed into a `Value`: the body
/// was accepted as it stands, and may hold what a `Value` can't (a number beyond `f64`, in a
/// facet the ingest skipped), nor should its key order change on the way out.
pub fn archived_event(body: Vec<u8>) -> Result<Box<RawValue>> {
    let text = String::from_utf8(body).map_err(|e| {
        crate::error::Error::Internal(anyhow::anyhow!("archived event is not UTF-8: {e}"))
    })?;
    RawValue::from_string(text).map_err(|e| {
        crate::error::Error::Internal(anyhow::anyhow!("archived event is not JSON: {e}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn node(key: &str, policy: MergePolicy, props: Value, at: i64) -> NewNode {
        NewNode {
            key: key.to_owned(),
            kind: NodeKind::Dataset,
            name: key.to_owned(),
            properties: props.as_object().unwrap().clone().into(),
            policy,
            seen_at: Utc.timestamp_opt(at, 0).unwrap(),
            writer: None,
        }
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(seconds, 0).unwrap()
    }

    /// Merges versions in the given arrival order; each is (time, properties).
    fn merged(versions: &[(i64, Value)]) -> Value {
        let (mut props, mut times) = (Map::new(), Map::new());
        for (t, v) in versions {
            let v = v.as_object().unwrap().clone();
            let stamped = stamp(&v, at(*t), None);
            merge_timed(&mut props, &mut times, v, &stamped);
        }
        Value::Object(props)
    }

    #[test]
    fn the_latest_setter_of_each_key_wins_in_any_arrival_order() {
        let start = (10, json!({"state": "START", "facets": {"owner": "first"}}));
        let running = (
            20,
            json!({"state": "RUNNING", "facets": {"owner": "second"}}),
        );
        let untyped = (30, json!({"facets": {"extra": 1}}));
        let orders = [
            [&start, &running, &untyped],
            [&start, &untyped, &running],
            [&untyped, &start, &running],
            [&untyped, &running, &start],
            [&running, &start, &untyped],
            [&running, &untyped, &start],
        ];
        for order in orders {
            let versions: Vec<_> = order.iter().map(|v| (*v).clone()).collect();
            let m = merged(&versions);
            assert_eq!(m["state"], "RUNNING", "{order:?}");
            assert_eq!(
                m["facets"],
                json!({"owner": "second", "extra": 1}),
                "{order:?}"
            );
        }
    }

    /// Merges versions in the given arrival order; each is (time, writer, properties). The
    /// properties and their times (writers included).
    fn merged_by(versions: &[(i64, &str, Value)]) -> (Value, Value) {
        let (mut props, mut times) = (Map::new(), Map::new());
        for (t, writer, v) in versions {
            let v = v.as_object().unwrap().clone();
            let stamped = stamp(&v, at(*t), Some(writer));
            merge_timed(&mut props, &mut times, v, &stamped);
        }
        (Value::Object(props), Value::Object(times))
    }

    #[test]
    fn who_set_each_property_last_is_kept_in_any_arrival_order() {
        let own = (
            10,
            "teamA",
            json!({"facets": {"schema": 1, "doc": "mine"}, "x": 1}),
        );
        let later = (20, "hidden", json!({"facets": {"doc": "theirs"}}));
        let same = (10, "b-writer", json!({"facets": {"schema": 1}, "x": 1}));
        let orders = [
            [&own, &later, &same],
            [&own, &same, &later],
            [&same, &own, &later],
            [&same, &later, &own],
            [&later, &own, &same],
            [&later, &same, &own],
        ];
        let first = merged_by(&[own.clone(), later.clone(), same.clone()]);
        for order in orders {
            let versions: Vec<_> = order.iter().map(|v| (*v).clone()).collect();
            assert_eq!(merged_by(&versions), first, "{order:?}");
        }
        let (props, times) = first;
        assert_eq!(
            props,
            json!({"facets": {"schema": 1, "doc": "theirs"}, "x": 1})
        );
        assert_eq!(
            times[WRITERS],
            json!({"facets/doc": "hidden", "facets/schema": "b-writer", "x": "b-writer"}),
            "the same value at the same time goes to the first writer in text order"
        );
    }

    /// Ties went to whichever version arrived last (found by the order property in
    /// tests/api/graph_properties.rs).
    #[test]
    fn a_tie_in_producer_time_merges_alike_in_either_order() {
        let start = (10, json!({"state": "START", "facets": {"schema": [1, 2]}}));
        let fail = (10, json!({"state": "FAIL", "facets": {"schema": [2]}}));
        let one = merged(&[start.clone(), fail.clone()]);
        assert_eq!(one, merged(&[fail, start]));
        assert_eq!(one, json!({"state": "FAIL", "facets": {"schema": [1, 2]}}));
        let (a, b) = (json!({"index": 0}), json!({"index": 1}));
        let (a, b) = (a.as_object().unwrap(), b.as_object().unwrap());
        assert!(edge_newer_wins((at(5), a), (at(5), b)));
        assert!(!edge_newer_wins((at(5), b), (at(5), a)));
        assert!(name_wins((at(5), "a"), (at(5), "b")) && !name_wins((at(5), "b"), (at(5), "a")));
    }

    #[test]
    fn duplicates_collapse_by_policy_and_rows_sort_by_key() {
        let changes = ChangeSet {
            nodes: vec![
                node("b", MergePolicy::Merge, json!({"x": 1}), 20),
                node("a", MergePolicy::Keep, json!({"v": 1}), 5),
                node("b", MergePolicy::Merge, json!({"y": 2}), 10),
                node("a", MergePolicy::Keep, json!({"v": 2}), 7),
            ],
            ..ChangeSet::default()
        };
        let n = normalize(&changes, &HashMap::new());
        assert_eq!(
            n.nodes.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(
            Value::Object(n.nodes[0].properties.values().into_owned()),
            json!({"v": 1})
        );
        assert_eq!(
            Value::Object(n.nodes[1].properties.values().into_owned()),
            json!({"x": 1, "y": 2})
        );
        assert_eq!(n.nodes[1].first_seen.timestamp(), 10);
        assert_eq!(n.nodes[1].last_seen.timestamp(), 20);
    }
}
