//! One OpenLineage event (RunEvent, JobEvent, DatasetEvent), as `POST /api/v1/lineage`
//! parses it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| headwater_fuzz::openlineage_event(data));
