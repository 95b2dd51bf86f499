//! Writing a change set to SQLite: one `BEGIN IMMEDIATE` transaction per payload.
//!
//! The writer holds the database's only write lock for the whole transaction, so, unlike on
//! PostgreSQL, there is no concurrent writer to race: rows are looked up, merged in Rust with
//! the shared rules ([`crate::store::write`]) and written back, one prepared statement per row.
//! SQLite runs in-process, so a statement per row costs microseconds, not a round trip.

use std::borrow::Cow;
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool, Transaction};

use super::{json_list, ts, ts_opt};
use crate::error::{Error, Result};
use crate::model::{ChangeSet, Guard, MergePolicy, NodeId, RawPayload};
use crate::store::write::{
    self, StoredNode, alias_lookup_keys, alias_rows, declared_aliases, ensure_resolved, guard_keys,
    keyed_edges, merge_stored, missing_endpoints,
};
use crate::store::{
    ApplyOutcome, EdgeRow, NodeRow, RowProperties, StoredNames, edge_newer_wins, known_aliases,
    merge_properties, normalize,
};

type Tx = Transaction<'static, Sqlite>;

/// Stores the payload (when given) and writes its graph changes, all or nothing. A payload
/// stored before is a duplicate and writes nothing.
pub async fn apply(
    pool: &SqlitePool,
    raw: Option<&RawPayload>,
    changes: &ChangeSet,
) -> Result<ApplyOutcome> {
    let mut tx = pool.begin_with("begin immediate").await?;
    if let Some(raw) = raw
        && !insert_raw(&mut tx, raw).await?
    {
        tx.commit().await.map_err(Error::from_commit)?;
        return Ok(ApplyOutcome {
            duplicate: true,
            ..ApplyOutcome::default()
        });
    }
    let outcome = write_graph(&mut tx, changes).await?;
    tx.commit().await.map_err(Error::from_commit)?;
    Ok(outcome)
}

async fn write_graph(tx: &mut Tx, changes: &ChangeSet) -> Result<ApplyOutcome> {
    let known = known_aliases(stored_aliases(tx, changes).await?, changes);
    let changes = normalize(changes, &known);
    let (mut ids, nodes_created) = upsert_nodes(tx, &changes.nodes).await?;
    check_guards(tx, &changes.guards).await?;
    resolve_endpoints(tx, &changes.edges, &mut ids).await?;
    let edges_created = upsert_edges(tx, &changes.edges, &ids).await?;
    insert_aliases(tx, &changes.aliases, &ids).await?;
    Ok(ApplyOutcome {
        duplicate: false,
        nodes_created,
        edges_created,
    })
}

/// `false` when an identical payload is already stored.
/// Archives the payload and, when it is new, records who sent it; returns whether it was new.
async fn insert_raw(tx: &mut Tx, raw: &RawPayload) -> Result<bool> {
    let digest = Sha256::digest(&raw.body).to_vec();
    let inserted: Option<i64> = sqlx::query_scalar(
        "insert into raw_payload (format, version, content_type, sha256, body, wire_bytes, received_at, event_time)
         values ($1, $2, $3, $4, $5, $6, $7, $8)
         on conflict (format, sha256) do nothing
         returning raw_payload_id",
    )
    .bind(&raw.format)
    .bind(&raw.version)
    .bind(&raw.content_type)
    .bind(&digest)
    .bind(raw.body.as_ref())
    .bind(raw.wire_bytes as i64)
    .bind(ts(raw.received_at))
    .bind(ts_opt(raw.event_time))
    .fetch_optional(&mut **tx)
    .await?;
    let Some(id) = inserted else {
        return Ok(false);
    };
    super::audit::ingested(tx, raw, id, &digest).await?;
    Ok(true)
}

/// The stored aliases among the keys a change set mentions, and which aliases it declares are
/// nodes' own keys ([`StoredNames`]).
async fn stored_aliases(tx: &mut Tx, changes: &ChangeSet) -> Result<StoredNames> {
    let keys = alias_lookup_keys(changes);
    let rows = sqlx::query(
        "select a.alias, n.key from node_alias a join node n using (node_id)
         where a.alias in (select value from json_each($1))
           and not exists (select 1 from node m where m.key = a.alias)",
    )
    .bind(json_list(&keys))
    .fetch_all(&mut **tx)
    .await?;
    let declared = declared_aliases(changes);
    let nodes: Vec<String> =
        sqlx::query_scalar("select key from node where key in (select value from json_each($1))")
            .bind(json_list(&declared))
            .fetch_all(&mut **tx)
            .await?;
    Ok(StoredNames {
        aliases: rows
            .into_iter()
            .map(|r| (r.get("alias"), r.get("key")))
            .collect(),
        nodes: nodes.into_iter().collect(),
    })
}

/// The stored versions of these keys, by key.
async fn stored_nodes(tx: &mut Tx, keys: &[&str]) -> Result<HashMap<String, (NodeId, StoredNode)>> {
    let rows = sqlx::query(
        "select node_id, key, name, properties, property_times, first_seen, last_seen
         from node where key in (select value from json_each($1))",
    )
    .bind(json_list(keys))
    .fetch_all(&mut **tx)
    .await?;
    rows.iter()
        .map(|r| {
            let stored = StoredNode {
                name: r.try_get("name")?,
                properties: r.try_get("properties")?,
                times: r.try_get("property_times")?,
                first_seen: r.try_get("first_seen")?,
                last_seen: r.try_get("last_seen")?,
            };
            Ok((r.try_get("key")?, (r.try_get("node_id")?, stored)))
        })
        .collect()
}

/// Merges each row into its stored version in Rust, then writes every row with one upsert
/// statement reading a JSON array, which is much faster than a statement per row.
async fn upsert_nodes(tx: &mut Tx, rows: &[NodeRow<'_>]) -> Result<(HashMap<String, NodeId>, u64)> {
    if rows.is_empty() {
        return Ok((HashMap::new(), 0));
    }
    let keys: Vec<&str> = rows.iter().map(|r| r.key.as_str()).collect();
    let mut stored = stored_nodes(tx, &keys).await?;
    let created = rows.iter().filter(|r| !stored.contains_key(&r.key)).count() as u64;
    let now = ts(Utc::now());
    let versions: Vec<NodeRow<'_>> = rows
        .iter()
        .map(|row| match stored.remove(&row.key) {
            Some((_, version)) => next_version(version, row),
            None => row.clone(),
        })
        .collect();
    let mut ids = HashMap::with_capacity(versions.len());
    for chunk in versions.chunks(MAX_BINDS / 9) {
        let mut insert = QueryBuilder::<Sqlite>::new(
            "insert into node (key, kind, name, properties, property_times, first_seen,
                               last_seen, created_at, updated_at) ",
        );
        insert.push_values(chunk, |mut row, r| {
            row.push_bind(r.key.clone())
                .push_bind(r.kind.as_str())
                .push_bind(r.name.clone())
                .push_bind(json_text(&r.properties))
                .push_bind(json_text(&r.times))
                .push_bind(ts(r.first_seen))
                .push_bind(ts(r.last_seen))
                .push_bind(now.clone())
                .push_bind(now.clone());
        });
        insert.push(
            " on conflict (key) do update set
                 name = excluded.name, properties = excluded.properties,
                 property_times = excluded.property_times, first_seen = excluded.first_seen,
                 last_seen = excluded.last_seen, updated_at = excluded.updated_at
             returning node_id, key",
        );
        let written: Vec<(NodeId, String)> = insert.build_query_as().fetch_all(&mut **tx).await?;
        ids.extend(written.into_iter().map(|(id, key)| (key, id)));
    }
    Ok((ids, created))
}

/// SQLite binds at most this many values per statement (its default limit since 3.32), so
/// multi-row writes go in chunks.
const MAX_BINDS: usize = 32_766;

/// A JSON column's value as the text SQLite keeps.
fn json_text(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "{}".to_owned())
}

/// What a stored node becomes: immutable nodes only widen their sighting window, merged ones
/// take the new version by the shared rule.
fn next_version<'a>(stored: StoredNode, new: &NodeRow<'a>) -> NodeRow<'a> {
    match new.policy {
        MergePolicy::Merge => merge_stored(stored, new),
        MergePolicy::Keep => NodeRow {
            name: stored.name,
            properties: RowProperties::Values(Cow::Owned(object(stored.properties))),
            times: object(stored.times),
            first_seen: stored.first_seen.min(new.first_seen),
            last_seen: stored.last_seen.max(new.last_seen),
            ..new.clone()
        },
    }
}

fn object(value: Value) -> serde_json::Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}

async fn check_guards(tx: &mut Tx, guards: &[Guard]) -> Result<()> {
    if guards.is_empty() {
        return Ok(());
    }
    let keys = guard_keys(guards);
    let rows = sqlx::query(
        "select key, properties from node where key in (select value from json_each($1))",
    )
    .bind(json_list(&keys))
    .fetch_all(&mut **tx)
    .await?;
    let stored: HashMap<String, Value> = rows
        .into_iter()
        .map(|r| (r.get("key"), r.get("properties")))
        .collect();
    write::check_guards(guards, &stored)
}

async fn resolve_endpoints(
    tx: &mut Tx,
    edges: &[EdgeRow],
    ids: &mut HashMap<String, NodeId>,
) -> Result<()> {
    let missing = missing_endpoints(edges, ids);
    if missing.is_empty() {
        return Ok(());
    }
    let rows =
        sqlx::query("select node_id, key from node where key in (select value from json_each($1))")
            .bind(json_list(&missing))
            .fetch_all(&mut **tx)
            .await?;
    ids.extend(rows.into_iter().map(|r| (r.get("key"), r.get("node_id"))));
    ensure_resolved(&missing, ids)
}

/// Merges each edge into its stored version (the rule PostgreSQL's `headwater_merge`
/// applies, the later sighting winning), then writes them all with one upsert.
async fn upsert_edges(tx: &mut Tx, rows: &[EdgeRow], ids: &HashMap<String, NodeId>) -> Result<u64> {
    if rows.is_empty() {
        return Ok(0);
    }
    let keyed = keyed_edges(rows, ids);
    let mut stored = stored_edges(tx, &keyed).await?;
    let seq = tick_clock(tx).await?;
    let now = ts(Utc::now());
    let mut created = 0;
    let merged: Vec<(NodeId, &str, NodeId, EdgeRow)> = keyed
        .iter()
        .map(|(source, kind, target, row)| {
            let merged = match stored.remove(&(*source, kind.to_string(), *target)) {
                Some(version) => merge_edge(version, row),
                None => {
                    created += 1;
                    (*row).clone()
                }
            };
            (*source, *kind, *target, merged)
        })
        .collect();
    for chunk in merged.chunks(MAX_BINDS / 9) {
        let mut insert = QueryBuilder::<Sqlite>::new(
            "insert into edge (source_id, kind, target_id, properties, first_seen, last_seen,
                               created_at, updated_at, seq) ",
        );
        insert.push_values(chunk, |mut row, (source, kind, target, edge)| {
            row.push_bind(*source)
                .push_bind(kind.to_string())
                .push_bind(*target)
                .push_bind(json_text(&edge.properties))
                .push_bind(ts(edge.first_seen))
                .push_bind(ts(edge.last_seen))
                .push_bind(now.clone())
                .push_bind(now.clone())
                .push_bind(seq);
        });
        // A stored edge keeps its `seq`: the lineage index already holds it.
        insert.push(
            " on conflict (source_id, kind, target_id) do update set
                 properties = excluded.properties, first_seen = excluded.first_seen,
                 last_seen = excluded.last_seen, updated_at = excluded.updated_at",
        );
        insert.build().execute(&mut **tx).await?;
    }
    Ok(created)
}

/// Moves the commit clock of the lineage index's change feed on (see `feed_sql` in the
/// module above); the new value stamps this transaction's new edges.
async fn tick_clock(tx: &mut Tx) -> Result<i64> {
    Ok(
        sqlx::query_scalar("update graph_clock set clock = clock + 1 returning clock")
            .fetch_one(&mut **tx)
            .await?,
    )
}

type EdgeId = (NodeId, String, NodeId);

/// An edge's stored properties and sighting window.
type EdgeVersion = (Value, DateTime<Utc>, DateTime<Utc>);

async fn stored_edges(
    tx: &mut Tx,
    keyed: &[(NodeId, &str, NodeId, &EdgeRow)],
) -> Result<HashMap<EdgeId, EdgeVersion>> {
    let ids: Vec<Value> = keyed.iter().map(|(s, k, t, _)| json!([s, k, t])).collect();
    let rows = sqlx::query(
        // `cross join` keeps json_each outside, so each edge is one primary-key lookup (a
        // row-value `in` used only the key's first column: every edge of a hub dataset).
        "select e.source_id, e.kind, e.target_id, e.properties, e.first_seen, e.last_seen
         from json_each($1) j cross join edge e
         on e.source_id = j.value ->> 0 and e.kind = j.value ->> 1 and e.target_id = j.value ->> 2",
    )
    .bind(Value::Array(ids).to_string())
    .fetch_all(&mut **tx)
    .await?;
    rows.iter()
        .map(|r| {
            let id = (
                r.try_get("source_id")?,
                r.try_get("kind")?,
                r.try_get("target_id")?,
            );
            let version = (
                r.try_get("properties")?,
                r.try_get("first_seen")?,
                r.try_get("last_seen")?,
            );
            Ok((id, version))
        })
        .collect()
}

fn merge_edge((properties, first_seen, last_seen): EdgeVersion, new: &EdgeRow) -> EdgeRow {
    let properties = object(properties);
    let newer = edge_newer_wins((new.last_seen, &new.properties), (last_seen, &properties));
    let properties = match newer {
        true => merge_properties(properties, new.properties.clone()),
        false => merge_properties(new.properties.clone(), properties),
    };
    EdgeRow {
        properties,
        first_seen: first_seen.min(new.first_seen),
        last_seen: last_seen.max(new.last_seen),
        ..new.clone()
    }
}

async fn insert_aliases(
    tx: &mut Tx,
    aliases: &[(String, String)],
    ids: &HashMap<String, NodeId>,
) -> Result<()> {
    let now = ts(Utc::now());
    for (alias, id) in alias_rows(aliases, ids) {
        sqlx::query(
            "insert into node_alias (alias, node_id, created_at) values ($1, $2, $3)
             on conflict (alias) do nothing",
        )
        .bind(alias)
        .bind(id)
        .bind(&now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
