//! One OpenLineage event (RunEvent, JobEvent, DatasetEvent), as `POST /api/v1/lineage`
//! parses it.
#![no_main]

use headwater::ingest::openlineage;
use headwater_fuzz::{assert_client_error, assert_writable};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    match openlineage::event(body) {
        Ok(parsed) => assert_writable(&parsed.changes),
        Err(err) => assert_client_error(&err),
    }
});
