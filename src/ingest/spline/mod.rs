//! The Spline producer API: execution plans and execution events, v1.0 to v1.2.
//!
//! The version is chosen by `Content-Type`, as the Spline server chooses it. Every version is
//! lifted into the v1.2 shape ([`wire`]), validated ([`validate`]) and translated into the
//! graph model ([`convert`]).

pub mod convert;
pub mod derive;
pub mod digest;
pub mod v10;
pub mod validate;
pub mod wire;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::Error;
use crate::ingest::{json, lengths};
use crate::model::ChangeSet;

/// Media type of producer API v1.0 (deprecated, still spoken by Spline 0.4–0.5 agents).
pub const MEDIA_TYPE_V10: &str = "application/json";
/// Media type of producer API v1.1.
pub const MEDIA_TYPE_V11: &str = "application/vnd.absa.spline.producer.v1.1+json";
/// Media type of producer API v1.2 (current).
pub const MEDIA_TYPE_V12: &str = "application/vnd.absa.spline.producer.v1.2+json";

/// A producer API version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiVersion {
    /// `application/json`.
    V10,
    /// `application/vnd.absa.spline.producer.v1.1+json`.
    V11,
    /// `application/vnd.absa.spline.producer.v1.2+json`.
    V12,
}

impl ApiVersion {
    /// Picks the version from a media type's essence (parameters such as charset stripped).
    pub fn from_media_type(essence: &str) -> Option<Self> {
        match essence.to_ascii_lowercase().as_str() {
            MEDIA_TYPE_V10 => Some(ApiVersion::V10),
            MEDIA_TYPE_V11 => Some(ApiVersion::V11),
            MEDIA_TYPE_V12 => Some(ApiVersion::V12),
            _ => None,
        }
    }

    /// The version number as the status endpoint advertises it.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiVersion::V10 => "1",
            ApiVersion::V11 => "1.1",
            ApiVersion::V12 => "1.2",
        }
    }
}

/// Namespace of ids given to plans posted without one. Spline picks a random UUID; deriving it
/// from the body instead keeps a retried id-less plan idempotent, and the id we answer with is
/// the one stored.
const GENERATED_ID_NAMESPACE: Uuid = Uuid::from_u128(0x6d0b_5a3e_2f4c_4e61_9a57_8c1d_0e3b_7f21);

/// Parses and validates a plan; returns its id (derived from the body when absent) and its
/// graph changes.
pub fn plan(
    version: ApiVersion,
    body: &[u8],
    received_at: DateTime<Utc>,
) -> Result<(Uuid, ChangeSet), Error> {
    json::reject_nul(body, "")?;
    let plan: wire::ExecutionPlan = match version {
        ApiVersion::V10 => json::decode_object::<v10::ExecutionPlanV10>(body)?.into(),
        ApiVersion::V11 | ApiVersion::V12 => json::decode_object(body)?,
    };
    validate::plan(&plan)?;
    let id = plan
        .id
        .unwrap_or_else(|| Uuid::new_v5(&GENERATED_ID_NAMESPACE, body));
    let changes = convert::plan_changes(&plan, id, version, received_at)?;
    check_lengths(&changes, body)?;
    Ok((id, changes))
}

/// The id a plan body stands for, reading nothing but its `id` (every version names it so):
/// what to answer when the very same body is stored already. `None` when the body is not a
/// JSON object with a valid id field.
pub fn plan_id(body: &[u8]) -> Option<Uuid> {
    #[derive(serde::Deserialize)]
    struct IdOnly {
        id: Option<Uuid>,
    }
    let only: IdOnly = serde_json::from_slice(body).ok()?;
    Some(
        only.id
            .unwrap_or_else(|| Uuid::new_v5(&GENERATED_ID_NAMESPACE, body)),
    )
}

/// Parses an event array into its graph changes.
pub fn events(version: ApiVersion, body: &[u8]) -> Result<ChangeSet, Error> {
    json::reject_nul(body, "")?;
    let events: Vec<wire::ExecutionEvent> = match version {
        ApiVersion::V10 => json::decode::<Vec<v10::ExecutionEventV10>>(body)?
            .into_iter()
            .map(Into::into)
            .collect(),
        ApiVersion::V11 | ApiVersion::V12 => json::decode(body)?,
    };
    let changes = convert::event_changes(&events, version);
    check_lengths(&changes, body)?;
    Ok(changes)
}

/// [`lengths::check`]; the body is parsed again only to name the field that is too long.
fn check_lengths(changes: &ChangeSet, body: &[u8]) -> Result<(), Error> {
    lengths::check(changes).map_err(|long| {
        let request = serde_json::from_slice(body).unwrap_or_default();
        long.into_error(&request, "")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EdgeKind, NodeKind};
    use serde_json::json;

    /// The shape the Spark agent sends: a read, a Project computing `c = a + 1`, a write.
    fn agent_plan() -> Vec<u8> {
        serde_json::to_vec(&json!({
            "id": "4d0d3b7a-5a2e-5c1b-9a37-000000000001", "name": "my app",
            "operations": {
                "write": {"outputSource": "hdfs://nn/out", "append": false, "id": "op-0",
                          "name": "InsertIntoHadoopFsRelationCommand", "childIds": ["op-1"]},
                "reads": [{"inputSources": ["hdfs://nn/in.csv"], "id": "op-2", "name": "LogicalRelation",
                           "output": ["attr-0", "attr-1"], "extra": {"sourceType": "csv"}}],
                "other": [{"id": "op-1", "name": "Project", "childIds": ["op-2"], "output": ["attr-2"],
                           "params": {"projectList": [{"__exprId": "expr-0"}]}}]},
            "attributes": [{"id": "attr-0", "dataType": "t", "name": "a"}, {"id": "attr-1", "dataType": "t", "name": "b"},
                           {"id": "attr-2", "dataType": "t", "childRefs": [{"__exprId": "expr-0"}], "name": "c"}],
            "expressions": {
                "functions": [
                    {"id": "expr-0", "name": "c", "childRefs": [{"__exprId": "expr-1"}], "extra": {"_typeHint": "expr.Alias"}},
                    {"id": "expr-1", "name": "add", "childRefs": [{"__attrId": "attr-0"}, {"__exprId": "expr-2"}],
                     "extra": {"_typeHint": "expr.Binary", "symbol": "+"}}],
                "constants": [{"id": "expr-2", "value": 1}]},
            "systemInfo": {"name": "spark", "version": "3.3.2"},
            "agentInfo": {"name": "spline", "version": "2.2.0"},
            "extraInfo": {"appName": "my app"}
        }))
        .unwrap()
    }

    fn count<T>(items: &[T], pred: impl Fn(&T) -> bool) -> usize {
        items.iter().filter(|i| pred(i)).count()
    }

    #[test]
    fn an_agent_plan_becomes_datasets_job_operations_and_attributes() {
        let (id, changes) = plan(ApiVersion::V12, &agent_plan(), Utc::now()).unwrap();
        assert_eq!(id.to_string(), "4d0d3b7a-5a2e-5c1b-9a37-000000000001");
        let nodes = &changes.nodes;
        assert_eq!(count(nodes, |n| n.kind == NodeKind::Dataset), 2);
        assert_eq!(count(nodes, |n| n.kind == NodeKind::Job), 1);
        assert_eq!(count(nodes, |n| n.kind == NodeKind::Operation), 3);
        assert_eq!(count(nodes, |n| n.kind == NodeKind::Attribute), 3);
        let edges = &changes.edges;
        let input = edges.iter().find(|e| e.kind == EdgeKind::Input).unwrap();
        assert_eq!(
            (input.source.as_str(), input.target.as_str()),
            (
                "dataset:hdfs://nn/in.csv",
                "job:4d0d3b7a-5a2e-5c1b-9a37-000000000001"
            )
        );
        assert_eq!(count(edges, |e| e.kind == EdgeKind::DataFlow), 2);
        assert_eq!(count(edges, |e| e.kind == EdgeKind::Produces), 3);
    }

    #[test]
    fn attribute_derivations_carry_the_rendered_expression() {
        let (_, changes) = plan(ApiVersion::V12, &agent_plan(), Utc::now()).unwrap();
        let derives = |prefix: &str| -> Vec<_> {
            let d = changes.edges.iter().filter(|e| e.kind == EdgeKind::Derives);
            d.filter(|e| e.source.starts_with(prefix)).collect()
        };
        let attrs = derives("attr:");
        assert_eq!(attrs.len(), 1);
        assert!(attrs[0].source.ends_with(":attr-0") && attrs[0].target.ends_with(":attr-2"));
        assert_eq!(attrs[0].properties["expression"], json!("(a + 1) AS c"));
        // The same derivation between the columns of the datasets read and written.
        let columns = derives("field:");
        assert_eq!(columns.len(), 1);
        assert_eq!(
            (columns[0].source.as_str(), columns[0].target.as_str()),
            ("field:hdfs://nn/in.csv#a", "field:hdfs://nn/out#c")
        );
        assert_eq!(columns[0].properties["expression"], json!("(a + 1) AS c"));
    }

    #[test]
    fn the_id_alone_is_the_id_the_whole_plan_gives() {
        let body = agent_plan();
        let (id, _) = plan(ApiVersion::V12, &body, Utc::now()).unwrap();
        assert_eq!(plan_id(&body), Some(id));
        let without =
            br#"{"operations":{"write":{"id":"w","outputSource":"x","append":true,"childIds":[]}},
                        "systemInfo":{"name":"spark","version":"3"}}"#;
        let (derived, _) = plan(ApiVersion::V11, without, Utc::now()).unwrap();
        assert_eq!(plan_id(without), Some(derived));
        assert_eq!(plan_id(b"[1]"), None);
    }

    #[test]
    fn a_plan_without_an_id_gets_one_derived_from_its_body() {
        let body =
            br#"{"operations":{"write":{"id":"w","outputSource":"x","append":true,"childIds":[]}},
                        "systemInfo":{"name":"spark","version":"3"}}"#;
        let (first, _) = plan(ApiVersion::V11, body, Utc::now()).unwrap();
        let (second, _) = plan(ApiVersion::V11, body, Utc::now()).unwrap();
        assert_eq!(first, second);
    }

    #[test]
    fn events_need_their_plan_and_its_discriminator() {
        let body = br#"[{"planId":"4d0d3b7a-5a2e-5c1b-9a37-000000000001","timestamp":1684226827008,"error":"boom"}]"#;
        let changes = events(ApiVersion::V12, body).unwrap();
        assert_eq!(
            changes.nodes[0].key,
            "run:4d0d3b7a-5a2e-5c1b-9a37-000000000001:lhq160w0"
        );
        assert_eq!(
            changes.nodes[0].properties.get("status"),
            Some(json!("failed"))
        );
        assert_eq!(changes.guards.len(), 2);
    }
}
