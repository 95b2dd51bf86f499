//! The Spline producer API: execution plans and execution events, v1.0 to v1.2.
//!
//! The version is chosen by `Content-Type`, as the Spline server chooses it. Every version is
//! lifted into the v1.2 shape ([`wire`]), validated ([`validate`]) and translated into the
//! graph model ([`convert`]).

pub mod convert;
pub mod derive;
pub mod v10;
pub mod validate;
pub mod wire;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::Error;
use crate::ingest::json;
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
    let plan: wire::ExecutionPlan = match version {
        ApiVersion::V10 => json::decode::<v10::ExecutionPlanV10>(body)?.into(),
        ApiVersion::V11 | ApiVersion::V12 => json::decode(body)?,
    };
    validate::plan(&plan)?;
    let id = plan
        .id
        .unwrap_or_else(|| Uuid::new_v5(&GENERATED_ID_NAMESPACE, body));
    Ok((id, convert::plan_changes(&plan, id, version, received_at)))
}

/// Parses an event array into its graph changes.
pub fn events(version: ApiVersion, body: &[u8]) -> Result<ChangeSet, Error> {
    let events: Vec<wire::ExecutionEvent> = match version {
        ApiVersion::V10 => json::decode::<Vec<v10::ExecutionEventV10>>(body)?
            .into_iter()
            .map(Into::into)
            .collect(),
        ApiVersion::V11 | ApiVersion::V12 => json::decode(body)?,
    };
    Ok(convert::event_changes(&events, version))
}
