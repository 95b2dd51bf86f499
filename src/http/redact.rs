//! What a reader limited to some namespaces is not shown of the nodes it may see.
//!
//! A node in a visible namespace can still carry what belongs to others: a dataset's column
//! lineage names the columns it was computed from, a symlink another name of it, a run's parent
//! facet the job it ran under, a Spline plan the data sources it read; and any job that writes
//! a dataset may set its facets (a description, a schema). So, for a limited reader:
//!
//! - references to datasets and jobs in other namespaces are removed: column-lineage inputs,
//!   symlinks, parent (and root) jobs, a Spline plan's or operation's data sources, and the
//!   plan a column derivation came from;
//! - a property (or one facet) last set by a job in another namespace is removed whole: the
//!   store keeps who set each ([`crate::store::WRITERS`]). Properties stored before writers were
//!   kept have no writer on record, and are shown. What names the node itself (its namespace,
//!   name, URI, its dataset or job) is always shown.
//!
//! Free text can't be filtered this way: a job's SQL, or a Spline plan's expressions and
//! operation parameters, are its own, and shown to whoever may see the job.
//!
//! Every answer that renders nodes to a reader passes through [`redact`] (see
//! `scope::retain`).

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use super::scope::{SPLINE_NAMESPACE, may_see};
use crate::auth::Principal;
use crate::error::Result;
use crate::model::{Edge, Node, RawProperties};
use crate::naming;
use crate::store::Store;

/// Properties that name the node itself, shown whoever set them last.
const IDENTITY: [&str; 9] = [
    "namespace",
    "name",
    "uri",
    "dataset",
    "job",
    "runId",
    "format",
    "id",
    "planId",
];

/// Properties as JSON that can be edited, whichever form they are in.
pub trait Editable {
    /// Applies `edit` to the properties (a JSON object; anything else is left as it is).
    fn edit(&mut self, edit: impl FnOnce(&mut Map<String, Value>));
}

impl Editable for Value {
    fn edit(&mut self, edit: impl FnOnce(&mut Map<String, Value>)) {
        if let Value::Object(map) = self {
            edit(map);
        }
    }
}

impl Editable for RawProperties {
    fn edit(&mut self, edit: impl FnOnce(&mut Map<String, Value>)) {
        let Ok(mut map) = serde_json::from_str::<Map<String, Value>>(self.get()) else {
            return;
        };
        edit(&mut map);
        if let Ok(raw) = serde_json::value::to_raw_value(&map) {
            *self = raw;
        }
    }
}

/// Removes from `nodes` and `edges` (all of which the principal may see) what names or comes
/// from namespaces the principal may not see. Nothing for an unlimited principal.
pub async fn redact<P: Editable>(
    store: &dyn Store,
    principal: &Principal,
    nodes: &mut [Node<P>],
    edges: &mut [Edge],
) -> Result<()> {
    if !principal.is_limited() {
        return Ok(());
    }
    let keys: Vec<String> = nodes.iter().map(|n| n.key.clone()).collect();
    let writers = store.property_writers(&keys).await?;
    for node in nodes.iter_mut() {
        let by = writers.get(&node.key);
        node.properties.edit(|props| {
            if let Some(by) = by {
                drop_hidden_writers(props, by, principal);
            }
            drop_hidden_references(props, principal);
        });
    }
    drop_hidden_plans(store, principal, edges).await
}

/// Removes the properties (and facets) last set by a writer the principal may not see.
fn drop_hidden_writers(props: &mut Map<String, Value>, by: &Map<String, Value>, p: &Principal) {
    let hidden = |path: &str| {
        by.get(path)
            .and_then(Value::as_str)
            .is_some_and(|writer| !p.may_touch(writer))
    };
    props.retain(|key, value| {
        if IDENTITY.contains(&key.as_str()) {
            return true;
        }
        match value {
            Value::Object(inner) => {
                inner.retain(|i, _| {
                    let path = format!("{key}/{i}");
                    match by.contains_key(&path) {
                        true => !hidden(&path),
                        false => !hidden(key),
                    }
                });
                true
            }
            _ => !hidden(key),
        }
    });
}

/// Removes the references to datasets and jobs in namespaces the principal may not see.
fn drop_hidden_references(props: &mut Map<String, Value>, p: &Principal) {
    if let Some(Value::Object(facets)) = props.get_mut("facets") {
        drop_hidden_facet_references(facets, p);
    }
    // A Spline plan's job, and its read and write operations, name data sources by URI.
    for list in ["inputs", "inputSources"] {
        if let Some(Value::Array(uris)) = props.get_mut(list) {
            uris.retain(|uri| uri.as_str().is_some_and(|u| uri_visible(u, p)));
        }
    }
    for single in ["output", "outputSource"] {
        if props
            .get(single)
            .and_then(Value::as_str)
            .is_some_and(|u| !uri_visible(u, p))
        {
            props.remove(single);
        }
    }
}

fn drop_hidden_facet_references(facets: &mut Map<String, Value>, p: &Principal) {
    if let Some(Value::Object(lineage)) = facets.get_mut("columnLineage") {
        if let Some(Value::Object(fields)) = lineage.get_mut("fields") {
            for column in fields.values_mut() {
                if let Some(Value::Array(inputs)) = column.get_mut("inputFields") {
                    inputs.retain(|i| named_visible(i, p));
                }
            }
        }
        if let Some(Value::Array(inputs)) = lineage.get_mut("dataset") {
            inputs.retain(|i| named_visible(i, p));
        }
    }
    if let Some(Value::Array(ids)) = facets
        .get_mut("symlinks")
        .and_then(|s| s.get_mut("identifiers"))
    {
        ids.retain(|i| named_visible(i, p));
    }
    if let Some(parent) = facets.get_mut("parent") {
        let root_hidden = parent.get("root").is_some_and(|root| !job_visible(root, p));
        if root_hidden && let Some(parent) = parent.as_object_mut() {
            parent.remove("root");
        }
        if !job_visible(parent, p) {
            facets.remove("parent");
        }
    }
}

/// Whether `{namespace, name, ...}` names something in a namespace the principal may see.
fn named_visible(reference: &Value, p: &Principal) -> bool {
    reference
        .get("namespace")
        .and_then(Value::as_str)
        .is_some_and(|ns| p.may_touch(ns))
}

/// Whether a parent (or root) facet's `job` is in a namespace the principal may see.
fn job_visible(parent: &Value, p: &Principal) -> bool {
    parent.get("job").is_some_and(|job| named_visible(job, p))
}

/// Whether a data source named by URI is in a namespace the principal may see: the namespace
/// a Spline-fed dataset is listed under.
fn uri_visible(uri: &str, p: &Principal) -> bool {
    let canonical = naming::canonical_uri(uri);
    let namespace = naming::namespace_and_name(&canonical)
        .map_or_else(|| SPLINE_NAMESPACE.to_owned(), |(ns, _)| ns);
    p.may_touch(&namespace)
}

/// A Spline column derivation names the plan it came from (`job`): removed where the
/// principal may not see that plan.
async fn drop_hidden_plans(store: &dyn Store, p: &Principal, edges: &mut [Edge]) -> Result<()> {
    let named: HashSet<String> = edges
        .iter()
        .filter_map(|e| e.properties.get("job").and_then(Value::as_str))
        .map(str::to_owned)
        .collect();
    let mut seen: HashMap<String, bool> = HashMap::new();
    for key in named {
        let visible = match store.node(&key).await? {
            Some((_, job)) => may_see(store, p, &job).await?,
            None => false,
        };
        seen.insert(key, visible);
    }
    for edge in edges {
        let job = edge.properties.get("job").and_then(Value::as_str);
        if job.is_some_and(|k| !seen.get(k).copied().unwrap_or(false))
            && let Some(props) = edge.properties.as_object_mut()
        {
            props.remove("job");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeSet;

    fn team_a() -> Principal {
        Principal {
            name: "a".into(),
            scopes: BTreeSet::new(),
            namespaces: Some(["teamA".to_owned(), "s3://a".to_owned()].into()),
        }
    }

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn what_hidden_writers_set_goes_but_the_node_s_identity() {
        let mut props = object(json!({
            "namespace": "teamA", "name": "t",
            "facets": {"schema": {"fields": []}, "documentation": {"description": "secret"}},
            "state": "COMPLETE"
        }));
        let by = object(json!({
            "namespace": "hidden", "name": "hidden", "facets": "teamA",
            "facets/schema": "teamA", "facets/documentation": "hidden", "state": "hidden"
        }));
        drop_hidden_writers(&mut props, &by, &team_a());
        assert_eq!(
            Value::Object(props),
            json!({"namespace": "teamA", "name": "t", "facets": {"schema": {"fields": []}}})
        );
    }

    #[test]
    fn references_to_hidden_namespaces_go() {
        let mut props = object(json!({
            "facets": {
                "columnLineage": {
                    "fields": {"c": {"inputFields": [
                        {"namespace": "hidden", "name": "x", "field": "p"},
                        {"namespace": "teamA", "name": "y", "field": "q"}]}},
                    "dataset": [{"namespace": "hidden", "name": "x", "field": "p"}]},
                "symlinks": {"identifiers": [{"namespace": "hidden", "name": "z", "type": "TABLE"}]},
                "parent": {"job": {"namespace": "teamA", "name": "dag"},
                           "root": {"job": {"namespace": "hidden", "name": "root"}}}
            },
            "inputs": ["s3://a/in", "s3://hidden/in"],
            "output": "s3://hidden/out"
        }));
        drop_hidden_references(&mut props, &team_a());
        assert_eq!(
            Value::Object(props),
            json!({
                "facets": {
                    "columnLineage": {
                        "fields": {"c": {"inputFields": [
                            {"namespace": "teamA", "name": "y", "field": "q"}]}},
                        "dataset": []},
                    "symlinks": {"identifiers": []},
                    "parent": {"job": {"namespace": "teamA", "name": "dag"}}
                },
                "inputs": ["s3://a/in"]
            })
        );
        let mut hidden_parent = object(json!({"facets": {"parent": {"job": {"namespace": "x"}}}}));
        drop_hidden_references(&mut hidden_parent, &team_a());
        assert_eq!(Value::Object(hidden_parent), json!({"facets": {}}));
    }

    #[test]
    fn text_properties_are_edited_as_values() {
        let mut raw: RawProperties =
            serde_json::value::to_raw_value(&json!({"b": 1, "a": 2})).unwrap();
        raw.edit(|m| {
            m.remove("b");
        });
        assert_eq!(raw.get(), r#"{"a":2}"#);
    }
}
