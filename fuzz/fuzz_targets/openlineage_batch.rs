//! An OpenLineage batch, as `POST /api/v1/lineage/batch` parses it: split into events, then
//! each event on its own, its errors pointing into the batch.
#![no_main]

use headwater::Error;
use headwater::ingest::openlineage;
use headwater_fuzz::{assert_client_error, assert_writable};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
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
});

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
