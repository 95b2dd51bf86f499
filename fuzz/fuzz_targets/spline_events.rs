//! Spline execution-event arrays, every producer API version (first byte), as
//! `POST /producer/execution-events` parses them.
#![no_main]

use headwater::ingest::spline;
use headwater_fuzz::{assert_client_error, assert_writable, spline_version};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    match spline::events(spline_version(selector), body) {
        Ok(changes) => assert_writable(&changes),
        Err(err) => assert_client_error(&err),
    }
});
