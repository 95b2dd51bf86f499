//! Spline execution-event arrays, every producer API version (first byte), as
//! `POST /producer/execution-events` parses them.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| headwater_fuzz::spline_events(data));
