//! Spline execution plans, every producer API version (first byte), as
//! `POST /producer/execution-plans` parses them. The id answered for a re-post, read from the
//! body alone, must be the id the whole plan gives.
#![no_main]

use headwater::ingest::spline;
use headwater_fuzz::{assert_client_error, assert_writable, received_at, spline_version};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
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
});
