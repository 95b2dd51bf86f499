//! Namespace limits of tokens: which lineage a token may write, and which it may see.
//!
//! A token limited to some namespaces sees the graph as if nothing else were stored: the
//! datasets and jobs of its namespaces, and what belongs to them (a job's runs, operations and
//! attributes, a dataset's columns). A node outside answers 404, as a node that doesn't exist
//! does, and answers drop such nodes, their edges, and whatever was reached only through
//! them. Writes must keep within the namespaces too: a payload naming a dataset or job
//! elsewhere is refused whole, with 403.
//!
//! Unlimited tokens (and requests with authentication off) skip all of this at no cost.

use std::collections::{HashMap, HashSet, VecDeque};

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};

use super::graph;
use super::redact::{Editable, redact};
use crate::auth::Principal;
use crate::error::{Error, Result};
use crate::model::{ChangeSet, Edge, Node, NodeId, NodeKind, Properties, split_field_key};
use crate::store::Store;

/// The namespace of Spline-fed jobs (as the Marquez-compatible API lists them), and so of
/// their runs, operations and attributes.
pub const SPLINE_NAMESPACE: &str = "spline";

/// Refuses a change set that names a dataset, job or run outside the token's namespaces, that
/// declares an alias outside them, or that would write through a stored alias into a node the
/// token may not see. Columns, operations and attributes always come with the dataset or job
/// they belong to.
pub async fn check_writes(
    store: &dyn Store,
    principal: &Principal,
    changes: &ChangeSet,
) -> Result<()> {
    if !principal.is_limited() {
        return Ok(());
    }
    for node in &changes.nodes {
        let owned = matches!(node.kind, NodeKind::Dataset | NodeKind::Job | NodeKind::Run);
        if !owned {
            continue;
        }
        let namespace = own_namespace(node.kind, node.properties.values().as_ref());
        let namespace = namespace.as_deref().unwrap_or(SPLINE_NAMESPACE);
        if !principal.may_touch(namespace) {
            return Err(not_yours(principal, namespace, &node.key));
        }
    }
    // An alias claims a name: it is held to the namespace the name is in.
    for alias in &changes.aliases {
        if !principal.may_touch(&alias.namespace) {
            return Err(not_yours(principal, &alias.namespace, &alias.key));
        }
    }
    check_stored(store, principal, changes).await
}

fn not_yours(principal: &Principal, namespace: &str, key: &str) -> Error {
    Error::Forbidden(format!(
        "the token `{}` may not write to namespace `{namespace}` (node `{key}`)",
        principal.name
    ))
}

/// A key in the token's namespaces may still name a node outside them: through an alias
/// another writer recorded (a Hive table name of a warehouse path), or one stored under
/// another spelling of its namespace. What the token may not see, it may not write either.
async fn check_stored(store: &dyn Store, principal: &Principal, changes: &ChangeSet) -> Result<()> {
    let mut keys: Vec<&str> = changes
        .nodes
        .iter()
        .filter(|n| matches!(n.kind, NodeKind::Dataset | NodeKind::Job))
        .map(|n| n.key.as_str())
        .collect();
    keys.sort_unstable();
    keys.dedup();
    for key in keys {
        let Some((_, stored)) = store.node(key).await? else {
            continue;
        };
        if !may_see(store, principal, &stored).await? {
            return Err(Error::Forbidden(format!(
                "the token `{}` may not write to node `{key}`: it names a node outside the \
                 token's namespaces",
                principal.name
            )));
        }
    }
    Ok(())
}

/// The namespace a node carries itself: a dataset's or job's own, a run's job's.
fn own_namespace(kind: NodeKind, properties: &impl Properties) -> Option<String> {
    match kind {
        NodeKind::Dataset | NodeKind::Job => properties.namespace(),
        NodeKind::Run => properties.job_namespace(),
        _ => None,
    }
}

/// Where a node's namespace comes from.
enum Owner {
    /// Known from the node itself.
    Namespace(String),
    /// Its dataset's (a column).
    Dataset(String),
}

fn owner<P: Properties>(node: &Node<P>) -> Owner {
    if let Some(ns) = own_namespace(node.kind, &node.properties) {
        return Owner::Namespace(ns);
    }
    match (node.kind, split_field_key(&node.key)) {
        (NodeKind::Field, Some((dataset, _))) => Owner::Dataset(dataset),
        // Operations, attributes and runs without a job namespace come from Spline plans.
        _ => Owner::Namespace(SPLINE_NAMESPACE.to_owned()),
    }
}

/// Whether `principal` may see `node`; a column is looked up through its dataset.
pub async fn may_see<P: Properties>(
    store: &dyn Store,
    principal: &Principal,
    node: &Node<P>,
) -> Result<bool> {
    Ok(visible_keys(store, principal, std::slice::from_ref(node))
        .await?
        .contains(&node.key))
}

/// The keys of the nodes `principal` may see. Columns whose dataset is not among `nodes`
/// cost one lookup per such dataset.
pub async fn visible_keys<P: Properties>(
    store: &dyn Store,
    principal: &Principal,
    nodes: &[Node<P>],
) -> Result<HashSet<String>> {
    if !principal.is_limited() {
        return Ok(nodes.iter().map(|n| n.key.clone()).collect());
    }
    let mut known: HashMap<String, Option<String>> = nodes
        .iter()
        .filter(|n| n.kind == NodeKind::Dataset)
        .map(|n| (n.key.clone(), n.properties.namespace()))
        .collect();
    let mut visible = HashSet::new();
    for node in nodes {
        let namespace = match owner(node) {
            Owner::Namespace(ns) => Some(ns),
            Owner::Dataset(key) => dataset_namespace(store, &mut known, key).await?,
        };
        if namespace.is_some_and(|ns| principal.may_touch(&ns)) {
            visible.insert(node.key.clone());
        }
    }
    Ok(visible)
}

async fn dataset_namespace(
    store: &dyn Store,
    known: &mut HashMap<String, Option<String>>,
    key: String,
) -> Result<Option<String>> {
    if let Some(found) = known.get(&key) {
        return Ok(found.clone());
    }
    let namespace = store
        .node(&key)
        .await?
        .and_then(|(_, n)| n.properties.namespace());
    known.insert(key, namespace.clone());
    Ok(namespace)
}

/// Refuses a node the principal may not see as if it didn't exist.
pub async fn found<P: Properties>(
    store: &dyn Store,
    principal: &Principal,
    key: &str,
    node: &Node<P>,
) -> Result<()> {
    match may_see(store, principal, node).await? {
        true => Ok(()),
        false => Err(Error::NotFound(format!("no node with key `{key}`"))),
    }
}

/// Drops from an answer what the principal may not see: the nodes, their edges, and, when
/// `root` is given, whatever is no longer connected to it (reached only through them); and
/// from what is left, what names or comes from namespaces it may not see ([`redact`]).
pub async fn retain<P: Properties + Editable>(
    store: &dyn Store,
    principal: &Principal,
    nodes: Vec<Node<P>>,
    edges: Vec<Edge>,
    root: Option<&str>,
) -> Result<(Vec<Node<P>>, Vec<Edge>)> {
    if !principal.is_limited() {
        return Ok((nodes, edges));
    }
    let mut keep = visible_keys(store, principal, &nodes).await?;
    let edges: Vec<Edge> = edges
        .into_iter()
        .filter(|e| keep.contains(&e.source) && keep.contains(&e.target))
        .collect();
    if let Some(root) = root {
        keep = connected(root, &edges, &keep);
    }
    let mut nodes: Vec<Node<P>> = nodes
        .into_iter()
        .filter(|n| keep.contains(&n.key))
        .collect();
    let mut edges: Vec<Edge> = edges
        .into_iter()
        .filter(|e| keep.contains(&e.source))
        .collect();
    redact(store, principal, &mut nodes, &mut edges).await?;
    Ok((nodes, edges))
}

/// The kept nodes joined to `root` by kept edges, either way round.
fn connected(root: &str, edges: &[Edge], kept: &HashSet<String>) -> HashSet<String> {
    let mut next: HashMap<&str, Vec<&str>> = HashMap::new();
    for e in edges {
        next.entry(&e.source).or_default().push(&e.target);
        next.entry(&e.target).or_default().push(&e.source);
    }
    let mut seen: HashSet<String> = HashSet::new();
    let mut queue: VecDeque<&str> = VecDeque::new();
    if kept.contains(root) {
        seen.insert(root.to_owned());
        queue.push_back(root);
    }
    while let Some(at) = queue.pop_front() {
        for &far in next.get(at).into_iter().flatten() {
            if seen.insert(far.to_owned()) {
                queue.push_back(far);
            }
        }
    }
    seen
}

/// The store as one principal may see it: lookups of nodes outside its namespaces answer 404,
/// answers lose what it may not see.
#[derive(Clone, Copy)]
pub struct Reader<'a> {
    /// The store.
    pub store: &'a dyn Store,
    /// Who is reading.
    pub principal: &'a Principal,
}

impl<'a> Reader<'a> {
    /// `principal`'s view of `store`.
    pub fn new(store: &'a dyn Store, principal: &'a Principal) -> Self {
        Reader { store, principal }
    }

    /// Looks a node up by key ([`graph::find`]); 404 for one the principal may not see.
    pub async fn find(&self, key: &str) -> Result<(NodeId, Node)> {
        let (id, node) = graph::find(self.store, key).await?;
        found(self.store, self.principal, key, &node).await?;
        Ok((id, node))
    }

    /// [`Reader::find`], insisting the node had been seen by `as_of`: whether it may be seen
    /// is settled first, so a hidden node can't tell when it was first seen.
    pub async fn find_as_of(
        &self,
        key: &str,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<(NodeId, Node)> {
        let (id, node) = self.find(key).await?;
        graph::seen_by(key, &node, as_of)?;
        Ok((id, node))
    }

    /// [`retain`] for this principal.
    pub async fn retain<P: Properties + Editable>(
        &self,
        nodes: Vec<Node<P>>,
        edges: Vec<Edge>,
        root: Option<&str>,
    ) -> Result<(Vec<Node<P>>, Vec<Edge>)> {
        retain(self.store, self.principal, nodes, edges, root).await
    }

    /// Whether this principal is limited to some namespaces at all.
    pub fn is_limited(&self) -> bool {
        self.principal.is_limited()
    }
}

/// Middleware for the compatibility read APIs (Spline consumer, Marquez): their answers mirror
/// peers that know nothing of access by namespace, and carry names from every namespace in
/// places no filter reaches (a job's inputs, a raw event). A limited token is refused there
/// whole rather than served answers that might leak; the graph API serves it.
pub(super) async fn whole_graph_api(request: Request, next: Next) -> Response {
    let refused = request
        .extensions()
        .get::<Principal>()
        .map(|p| unlimited_only(p, "this compatibility API"));
    match refused {
        Some(Err(err)) => err.into_response(),
        _ => next.run(request).await,
    }
}

/// Refuses a limited token the use of what can't be limited by namespace.
pub fn unlimited_only(principal: &Principal, api: &str) -> Result<()> {
    match principal.is_limited() {
        false => Ok(()),
        true => Err(Error::Forbidden(format!(
            "the token `{}` is limited to some namespaces, and {api} cannot be limited by \
             namespace; use the graph API (/api/v1/graph) instead",
            principal.name
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use serde_json::{Value, json};

    fn node(key: &str, kind: NodeKind, properties: Value) -> Node {
        Node {
            key: key.into(),
            kind,
            name: key.into(),
            properties,
            first_seen: Utc::now(),
            last_seen: Utc::now(),
        }
    }

    fn edge(source: &str, target: &str) -> Edge {
        Edge {
            source: source.into(),
            target: target.into(),
            kind: crate::model::EdgeKind::Input,
            properties: json!({}),
            first_seen: Utc::now(),
            last_seen: Utc::now(),
        }
    }

    #[test]
    fn owners_follow_jobs_and_datasets() {
        let run = node(
            "run:1",
            NodeKind::Run,
            json!({"job": {"namespace": "airflow"}}),
        );
        assert!(matches!(owner(&run), Owner::Namespace(ns) if ns == "airflow"));
        let spline_run = node("run:p:1", NodeKind::Run, json!({"planId": "p"}));
        assert!(matches!(owner(&spline_run), Owner::Namespace(ns) if ns == SPLINE_NAMESPACE));
        let field = node("field:s3://b/t#c", NodeKind::Field, json!({}));
        assert!(matches!(owner(&field), Owner::Dataset(d) if d == "dataset:s3://b/t"));
    }

    #[test]
    fn what_is_reached_only_through_hidden_nodes_goes_too() {
        let kept: HashSet<String> = ["a", "b", "d"].iter().map(|s| s.to_string()).collect();
        // a - b, and d only through the hidden c.
        let edges = vec![edge("a", "b")];
        let reach = connected("a", &edges, &kept);
        assert!(reach.contains("a") && reach.contains("b") && !reach.contains("d"));
        assert!(connected("x", &edges, &kept).is_empty());
    }
}
