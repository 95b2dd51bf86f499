//! What each fuzz target runs, and what every one checks once the code under test has
//! answered. The targets in `fuzz_targets/` only hand their input to these functions, so that
//! `tests/fuzz_corpus.rs` in the main crate replays the committed corpus through the same
//! checks on the stable toolchain, without cargo-fuzz.
//!
//! A target fails only on a panic, a hang or runaway memory (libFuzzer catches those), or on
//! one of these assertions: junk must be the sender's fault (a 4xx, never a 500 that a client
//! would retry for ever), and what a parser accepts must be writable as it stands.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use headwater::Error;
use headwater::http::body::gunzip;
use headwater::ingest::spline::ApiVersion;
use headwater::ingest::{openlineage, spline};
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
        Guard::PropertyEquals { .. } | Guard::PropertyUnchanged { .. } => None,
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

/// Spline execution plans, every producer API version (first byte), as
/// `POST /producer/execution-plans` parses them. The id answered for a re-post, read from the
/// body alone, must be the id the whole plan gives.
pub fn spline_plan(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    match spline::plan(spline_version(selector), body, received_at()) {
        Ok((id, changes)) => {
            assert_eq!(spline::plan_id(body), Some(id), "re-post id differs");
            assert_writable(&changes);
        }
        Err(err) => assert_client_error(&err),
    }
}

/// Spline execution-event arrays, every producer API version (first byte), as
/// `POST /producer/execution-events` parses them.
pub fn spline_events(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    match spline::events(spline_version(selector), body) {
        Ok(changes) => assert_writable(&changes),
        Err(err) => assert_client_error(&err),
    }
}

/// One OpenLineage event (RunEvent, JobEvent, DatasetEvent), as `POST /api/v1/lineage`
/// parses it.
pub fn openlineage_event(body: &[u8]) {
    match openlineage::event(body) {
        Ok(parsed) => assert_writable(&parsed.changes),
        Err(err) => assert_client_error(&err),
    }
}

/// An OpenLineage batch, as `POST /api/v1/lineage/batch` parses it: split into events, then
/// each event on its own, its errors pointing into the batch.
pub fn openlineage_batch(body: &[u8]) {
    let items = match openlineage::batch(body, 1000) {
        Ok(items) => items,
        Err(err) => return assert_client_error(&err),
    };
    for (index, item) in items.iter().enumerate() {
        match openlineage::batch_item(item.get(), index) {
            Ok(parsed) => assert_writable(&parsed.changes),
            Err(err) => {
                assert_client_error(&err);
                assert_points_into_item(&err, index);
            }
        }
    }
}

/// A failed event is reported by its index, so its path must start there.
fn assert_points_into_item(err: &Error, index: usize) {
    if let Error::BadRequest {
        path: Some(path), ..
    } = err
    {
        assert!(
            path.starts_with(&format!("[{index}]")),
            "{path} for item {index}"
        );
    }
}

/// Gzip request bodies: inflated under the size limit (first byte, in KiB) as every producer
/// endpoint inflates them, then parsed as an OpenLineage event and as a Spline plan.
pub fn gzip_body(data: &[u8]) {
    let Some((&kib, wire)) = data.split_first() else {
        return;
    };
    let limit = usize::from(kib) * 1024;
    match gunzip(wire, limit) {
        Ok(body) => {
            assert!(
                body.len() <= limit,
                "{} bytes over a {limit} limit",
                body.len()
            );
            if let Err(err) = openlineage::event(&body) {
                assert_client_error(&err);
            }
            if let Err(err) = spline::plan(spline::ApiVersion::V12, &body, received_at()) {
                assert_client_error(&err);
            }
        }
        Err(Error::PayloadTooLarge { limit: reported }) => assert_eq!(reported, limit),
        Err(err) => assert!(
            matches!(
                &err,
                Error::BadRequest {
                    code: "invalid-gzip",
                    ..
                }
            ),
            "{err:?}"
        ),
    }
}
