//! Gzip request bodies: inflated under the size limit (first byte, in KiB) as every producer
//! endpoint inflates them, then parsed as an OpenLineage event and as a Spline plan.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| headwater_fuzz::gzip_body(data));
