//! An OpenLineage batch, as `POST /api/v1/lineage/batch` parses it: split into events, then
//! each event on its own, its errors pointing into the batch.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| headwater_fuzz::openlineage_batch(data));
