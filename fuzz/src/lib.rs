//! What every fuzz target checks once the code under test has answered.
//!
//! A target fails only on a panic, a hang or runaway memory (libFuzzer catches those), or on
//! one of these assertions: junk must be the sender's fault (a 4xx, never a 500 that a client
//! would retry for ever), and what a parser accepts must be writable as it stands.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use headwater::Error;
use headwater::ingest::spline::ApiVersion;
use headwater::model::{ChangeSet, Guard};
use headwater::store::{known_aliases, normalize};

/// The receipt time handed to the Spline plan parser: any fixed time will do.
pub fn received_at() -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000, 0).expect("a valid time")
}

/// The producer API version a seed's first byte selects: ASCII `0`, `1` and `2` pick v1.0,
/// v1.1 and v1.2, so seeds stay readable (`2{"id":...}`).
pub fn spline_version(selector: u8) -> ApiVersion {
    match selector % 3 {
        0 => ApiVersion::V10,
        1 => ApiVersion::V11,
        _ => ApiVersion::V12,
    }
}

/// Rejecting input is fine; blaming ourselves for it is not.
#[track_caller]
pub fn assert_client_error(err: &Error) {
    assert!(
        err.status_code().is_client_error(),
        "input was answered as our fault ({}): {err:?}",
        err.status_code()
    );
}

/// Normalizes `changes` as a write does, and checks every edge's ends: each must be a node of
/// the change set or one a guard requires, or the write would fail as our bug (a 500).
#[track_caller]
pub fn assert_writable(changes: &ChangeSet) {
    let known = known_aliases(Default::default(), changes);
    let rows = normalize(changes, &known);
    let mut present: HashSet<&str> = rows.nodes.iter().map(|n| n.key.as_str()).collect();
    present.extend(rows.guards.iter().filter_map(|g| match g {
        Guard::NodeExists { key, .. } => Some(key.as_str()),
        Guard::PropertyEquals { .. } => None,
    }));
    for edge in &rows.edges {
        for end in [&edge.source, &edge.target] {
            assert!(
                present.contains(end.as_str()),
                "edge {} -{:?}-> {}: {end} is neither written nor guarded",
                edge.source,
                edge.kind,
                edge.target
            );
        }
    }
}
