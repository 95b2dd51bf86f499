//! Spline execution plans, every producer API version (first byte), as
//! `POST /producer/execution-plans` parses them. The id answered for a re-post, read from the
//! body alone, must be the id the whole plan gives.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| headwater_fuzz::spline_plan(data));
