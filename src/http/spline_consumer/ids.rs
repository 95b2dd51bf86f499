//! Spline's consumer ids and the Headwater keys they name.
//!
//! Spline's ids are kept as they are, and a Headwater key is the id behind a kind prefix: plan
//! `<uuid>` is `job:<uuid>`, event `<planId>:<timestamp base 36>` is `run:…`, operation
//! `<planId>:op-N` is `op:…` and attribute `<planId>:attr-N` is `attr:…`. Data sources have no
//! Spline-side id worth keeping (ArangoDB's own key), so they go by their dataset key.

use uuid::Uuid;

use crate::error::{Error, Result};
use crate::ingest::spline::convert::job_key;
use crate::model::{Node, NodeId, NodeKind};
use crate::store::Store;

/// The Spline id of a plan, event, operation or attribute: its key without the kind prefix.
pub(super) fn spline_id(key: &str) -> &str {
    key.split_once(':').map_or(key, |(_, id)| id)
}

/// A data source's URI, as Spline shows it: the dataset's canonical URI.
pub(super) fn data_source_uri(node: &Node) -> String {
    let uri = node.properties.get("uri").and_then(|u| u.as_str());
    let from_key = || spline_id(&node.key).to_owned();
    uri.map_or_else(from_key, str::to_owned)
}

/// Parses a plan id, naming the parameter it came from when it isn't a UUID.
pub(super) fn plan_id(text: &str, param: &str) -> Result<Uuid> {
    text.parse().map_err(|_| {
        let detail = format!("`{param}` must be an execution plan UUID, got `{text}`");
        Error::bad_request("invalid-parameter", detail, Some(param.to_owned()))
    })
}

async fn find(store: &dyn Store, key: &str, kind: NodeKind, what: &str) -> Result<(NodeId, Node)> {
    let found = store.node(key).await?.filter(|(_, n)| n.kind == kind);
    found.ok_or_else(|| Error::NotFound(format!("{what} '{}' not found", spline_id(key))))
}

/// A stored plan's job node; 404 when unknown.
pub(super) async fn plan(store: &dyn Store, id: &Uuid) -> Result<(NodeId, Node)> {
    find(store, &job_key(id), NodeKind::Job, "Execution plan ID").await
}

/// A stored Spline event's run node; 404 when unknown (OpenLineage runs are not events).
pub(super) async fn event(store: &dyn Store, id: &str) -> Result<(NodeId, Node)> {
    let (node_id, node) = find(store, &format!("run:{id}"), NodeKind::Run, "Event ID").await?;
    match node.properties.get("eventKey").is_some() {
        true => Ok((node_id, node)),
        false => Err(Error::NotFound(format!("Event ID '{id}' not found"))),
    }
}

/// A stored operation node; 404 when unknown.
pub(super) async fn operation(store: &dyn Store, id: &str) -> Result<(NodeId, Node)> {
    find(
        store,
        &format!("op:{id}"),
        NodeKind::Operation,
        "Operation ID",
    )
    .await
}

/// A stored attribute node; 404 when unknown.
pub(super) async fn attribute(store: &dyn Store, id: &str) -> Result<(NodeId, Node)> {
    find(
        store,
        &format!("attr:{id}"),
        NodeKind::Attribute,
        "Attribute ID",
    )
    .await
}

/// The plan an operation or attribute belongs to.
pub(super) async fn plan_of(store: &dyn Store, member: &Node) -> Result<(Uuid, Node)> {
    let plan = member.properties.get("planId").and_then(|p| p.as_str());
    let id: Uuid = plan
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("{} has no plan id", member.key))?;
    let (_, job) = self::plan(store, &id).await?;
    Ok((id, job))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spline_ids_are_keys_without_their_kind() {
        let plan = "3f784e72-5bf7-5704-8828-ae8464fe915b";
        assert_eq!(
            spline_id(&format!("run:{plan}:lhq160w0")),
            format!("{plan}:lhq160w0")
        );
        assert_eq!(
            spline_id(&format!("op:{plan}:op-4")),
            format!("{plan}:op-4")
        );
        assert_eq!(spline_id(&format!("job:{plan}")), plan);
    }

    #[test]
    fn a_plan_id_must_be_a_uuid() {
        assert!(plan_id("3f784e72-5bf7-5704-8828-ae8464fe915b", "execId").is_ok());
        let err = plan_id("nope", "execId").unwrap_err();
        assert_eq!(err.status_code(), axum::http::StatusCode::BAD_REQUEST);
    }
}
