//! Wire formats in, change sets out.
//!
//! Each producer protocol has its own submodule with serde types that mirror the protocol, and a
//! translation into a [`crate::model::ChangeSet`]. Parsing is pure and synchronous: no I/O, so
//! every rule can be unit-tested against captured payloads.

pub mod json;
pub mod lengths;
pub mod openlineage;
pub mod spline;

use crate::error::Error;
use crate::model::{ChangeSet, NodeKind};

/// Bounds on what one payload may hold, beyond its size in bytes: each keeps one request from
/// costing the service far more than its bytes suggest, and each is a 4xx that names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IngestLimits {
    /// Deepest nesting of JSON arrays and objects.
    pub max_json_depth: usize,
    /// Most operations in one Spline execution plan.
    pub max_plan_operations: usize,
    /// Most attributes in one Spline execution plan.
    pub max_plan_attributes: usize,
    /// Most events in one request (an OpenLineage batch, a Spline event array).
    pub max_batch_events: usize,
}

impl Default for IngestLimits {
    fn default() -> Self {
        IngestLimits {
            max_json_depth: 64,
            max_plan_operations: 50_000,
            max_plan_attributes: 200_000,
            max_batch_events: 1_000,
        }
    }
}

impl IngestLimits {
    /// Checks a Spline plan's operations and attributes, counted as the nodes they became.
    pub fn check_plan(&self, changes: &ChangeSet) -> Result<(), Error> {
        let count = |kind| changes.nodes.iter().filter(|n| n.kind == kind).count();
        over(
            count(NodeKind::Operation),
            self.max_plan_operations,
            "too-many-operations",
            "operations",
            "HEADWATER_MAX_PLAN_OPERATIONS",
        )?;
        over(
            count(NodeKind::Attribute),
            self.max_plan_attributes,
            "too-many-attributes",
            "attributes",
            "HEADWATER_MAX_PLAN_ATTRIBUTES",
        )
    }

    /// Refuses a body that is a JSON array of more than `max_batch_events` items, counting
    /// them without keeping any (see [`json::bounded_array`]): before the body is parsed for
    /// what it says. Anything but such an array passes, for the parser to judge.
    pub fn check_event_array(&self, body: &[u8]) -> Result<(), Error> {
        match json::bounded_array::<serde::de::IgnoredAny>(body, self.max_batch_events) {
            Ok(None) => Err(too_many_events(self.max_batch_events)),
            _ => Ok(()),
        }
    }

    /// Watches a body as it arrives (see [`json::ItemCounter`]) and stops it at event
    /// `max_batch_events + 1`, before the rest is inflated or read.
    pub fn event_array_watch(&self) -> impl FnMut(&[u8]) -> Result<(), Error> + Send + use<> {
        let max = self.max_batch_events;
        let mut counter = json::ItemCounter::default();
        move |bytes| match counter.feed(bytes) > max {
            true => Err(too_many_events(max)),
            false => Ok(()),
        }
    }

    /// Checks how many events one request carries.
    pub fn check_events(&self, events: usize) -> Result<(), Error> {
        over(
            events,
            self.max_batch_events,
            "too-many-events",
            "$",
            "HEADWATER_MAX_BATCH_EVENTS",
        )
    }
}

/// The answer to a request of more than `max` events, found before counting them all.
pub fn too_many_events(max: usize) -> Error {
    Error::OverLimit {
        code: "too-many-events",
        detail: format!(
            "more than {max} events in one request; at most {max} are accepted \
             (HEADWATER_MAX_BATCH_EVENTS)"
        ),
        path: Some("$".to_owned()),
    }
}

fn over(
    found: usize,
    max: usize,
    code: &'static str,
    path: &str,
    setting: &str,
) -> Result<(), Error> {
    if found <= max {
        return Ok(());
    }
    let what = code.trim_start_matches("too-many-");
    Err(Error::OverLimit {
        code,
        detail: format!("{found} {what} in one request; at most {max} are accepted ({setting})"),
        path: Some(path.to_owned()),
    })
}
