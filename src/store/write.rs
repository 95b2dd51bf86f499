//! The parts of a write that every backend does the same way: which keys to look up, how a
//! stored node and a new version merge, how guards are judged, which aliases to record.
//! Backends only move rows in and out of their database around these.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::{EdgeRow, NodeRow, column_owners, mentioned_keys, merge_timed, name_wins};
use crate::error::{Error, Result};
use crate::model::{ChangeSet, Guard, NodeId};

/// The keys whose stored aliases a change set needs: every key it mentions, the datasets its
/// columns belong to, and the aliases it declares (a name already taken is not taken again).
/// Sorted and unique.
pub fn alias_lookup_keys(changes: &ChangeSet) -> Vec<String> {
    let owners = column_owners(changes);
    let mut keys: Vec<String> = mentioned_keys(changes)
        .map(str::to_owned)
        .chain(owners)
        .chain(declared_aliases(changes))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// The aliases a change set declares, sorted and unique: whether they are nodes' own keys
/// already is looked up with the stored aliases.
pub fn declared_aliases(changes: &ChangeSet) -> Vec<String> {
    let mut keys: Vec<String> = changes.aliases.iter().map(|a| a.key.clone()).collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// A node as stored, before a new version merges into it.
#[derive(Debug, Clone)]
pub struct StoredNode {
    /// Display name.
    pub name: String,
    /// Properties (a JSON object).
    pub properties: Value,
    /// When each property was set (a JSON object), see [`merge_timed`].
    pub times: Value,
    /// First sighting.
    pub first_seen: DateTime<Utc>,
    /// Latest sighting.
    pub last_seen: DateTime<Utc>,
}

/// The stored node with a new version merged in: per-key latest-wins properties, the name of
/// the latest sighting, and the widened sighting window.
pub fn merge_stored<'a>(stored: StoredNode, new: &NodeRow<'a>) -> NodeRow<'a> {
    merge_stored_tracked(stored, new).0
}

/// [`merge_stored`], and whether the properties came out different from the stored ones. Most
/// sightings of a dataset repeat what is stored; writing its properties back unchanged would
/// rewrite (and re-TOAST) them for nothing.
pub fn merge_stored_tracked<'a>(stored: StoredNode, new: &NodeRow<'a>) -> (NodeRow<'a>, bool) {
    let object = |value: Value| match value {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    let (mut properties, mut times) = (object(stored.properties), object(stored.times));
    let changed = merge_timed(
        &mut properties,
        &mut times,
        new.properties.values().into_owned(),
        &new.times,
    );
    let row = NodeRow {
        name: match name_wins((new.last_seen, &new.name), (stored.last_seen, &stored.name)) {
            true => new.name.clone(),
            false => stored.name,
        },
        properties: super::RowProperties::Values(std::borrow::Cow::Owned(properties)),
        times,
        first_seen: stored.first_seen.min(new.first_seen),
        last_seen: stored.last_seen.max(new.last_seen),
        ..new.clone()
    };
    (row, changed)
}

/// The keys guards look at, sorted and unique (locking in key order avoids deadlocks).
pub fn guard_keys(guards: &[Guard]) -> Vec<&str> {
    let mut keys: Vec<&str> = guards.iter().map(Guard::key).collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// Judges every guard against the stored properties of the nodes they name.
pub fn check_guards(guards: &[Guard], stored: &HashMap<String, Value>) -> Result<()> {
    guards.iter().try_for_each(|g| evaluate(g, stored))
}

fn evaluate(guard: &Guard, stored: &HashMap<String, Value>) -> Result<()> {
    match guard {
        Guard::NodeExists {
            code,
            key,
            path,
            message,
        } if !stored.contains_key(key) => Err(Error::bad_request(
            code,
            message.clone(),
            Some(path.clone()),
        )),
        Guard::PropertyEquals {
            key,
            property,
            expected,
            path,
            message,
        } => {
            let actual = stored_text(stored, key, property);
            let differs = stored.contains_key(key) && actual != expected.as_deref();
            conflict_if(differs, message, path)
        }
        Guard::PropertyUnchanged {
            key,
            property,
            expected,
            path,
            message,
        } => {
            let differs = stored_text(stored, key, property).is_some_and(|a| a != expected);
            conflict_if(differs, message, path)
        }
        Guard::NodeExists { .. } => Ok(()),
    }
}

/// The text of a stored node's property, if the node and the property are there.
fn stored_text<'s>(
    stored: &'s HashMap<String, Value>,
    key: &str,
    property: &str,
) -> Option<&'s str> {
    stored.get(key)?.get(property)?.as_str()
}

/// The 409 a property guard answers when the stored value is not what the write expects.
fn conflict_if(differs: bool, message: &str, path: &str) -> Result<()> {
    match differs {
        true => Err(Error::Conflict {
            detail: message.to_owned(),
            path: Some(path.to_owned()),
        }),
        false => Ok(()),
    }
}

/// Edge endpoints the change set didn't write (e.g. an event's plan), sorted and unique.
pub fn missing_endpoints<'a>(edges: &'a [EdgeRow], ids: &HashMap<String, NodeId>) -> Vec<&'a str> {
    let mut missing: Vec<&str> = edges
        .iter()
        .flat_map(|e| [e.source.as_str(), e.target.as_str()])
        .filter(|k| !ids.contains_key(*k))
        .collect();
    missing.sort_unstable();
    missing.dedup();
    missing
}

/// Fails if an endpoint is still unknown after looking it up: the parsers guard every
/// reference, so this is our bug, not the producer's.
pub fn ensure_resolved(missing: &[&str], ids: &HashMap<String, NodeId>) -> Result<()> {
    match missing.iter().find(|k| !ids.contains_key(**k)) {
        Some(key) => Err(anyhow::anyhow!(
            "edge endpoint {key} is neither stored nor part of the change set"
        )
        .into()),
        None => Ok(()),
    }
}

/// The aliases to record, as (alias, node id) of the canonical node.
pub fn alias_rows<'a>(
    aliases: &'a [(String, String)],
    ids: &HashMap<String, NodeId>,
) -> Vec<(&'a str, NodeId)> {
    aliases
        .iter()
        .filter(|(alias, canonical)| alias != canonical)
        .filter_map(|(alias, canonical)| ids.get(canonical).map(|id| (alias.as_str(), *id)))
        .collect()
}

/// Edges keyed by stored ids, sorted so concurrent writers lock them in one order.
pub fn keyed_edges<'a>(
    rows: &'a [EdgeRow],
    ids: &HashMap<String, NodeId>,
) -> Vec<(NodeId, &'a str, NodeId, &'a EdgeRow)> {
    let mut keyed: Vec<_> = rows
        .iter()
        .map(|r| (ids[&r.source], r.kind.as_str(), ids[&r.target], r))
        .collect();
    keyed.sort_by_key(|(s, k, t, _)| (*s, *k, *t));
    keyed
}
