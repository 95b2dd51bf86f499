//! Gzip request bodies: inflated under the size limit (first byte, in KiB) as every producer
//! endpoint inflates them, then parsed as an OpenLineage event and as a Spline plan.
#![no_main]

use headwater::Error;
use headwater::http::body::gunzip;
use headwater::ingest::{openlineage, spline};
use headwater_fuzz::{assert_client_error, received_at};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
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
});
