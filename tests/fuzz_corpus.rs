//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/`) through the fuzz targets'
//! checks, as an ordinary test on the stable toolchain: every seed and every input the fuzzers
//! once found worth keeping stays a regression test without cargo-fuzz. Fuzzing for new inputs
//! is `fuzz/run.sh` (see docs/development.md).

#[path = "../fuzz/src/lib.rs"]
#[allow(dead_code)]
mod checks;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

/// A fuzz target's name, and the check it runs on each input.
type Target = (&'static str, fn(&[u8]));

const TARGETS: [Target; 5] = [
    ("spline_plan", checks::spline_plan),
    ("spline_events", checks::spline_events),
    ("openlineage_event", checks::openlineage_event),
    ("openlineage_batch", checks::openlineage_batch),
    ("gzip_body", checks::gzip_body),
];

#[test]
fn every_committed_corpus_input_passes_its_targets_checks() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let mut failed = Vec::new();
    for (target, check) in TARGETS {
        let dir = corpus.join(target);
        let inputs: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.expect("a corpus entry").path())
            .collect();
        assert!(
            !inputs.is_empty(),
            "{target} has no corpus in {}",
            dir.display()
        );
        for input in inputs {
            let data = std::fs::read(&input).expect("a readable corpus file");
            if catch_unwind(AssertUnwindSafe(|| check(&data))).is_err() {
                failed.push(input.display().to_string());
            }
        }
    }
    assert!(
        failed.is_empty(),
        "inputs failing their target's checks: {failed:#?}"
    );
}

/// Every target `fuzz/Cargo.toml` declares is replayed here.
#[test]
fn every_fuzz_target_is_replayed() {
    let manifest = include_str!("../fuzz/Cargo.toml");
    let declared: Vec<&str> = manifest
        .lines()
        .filter_map(|l| l.strip_prefix("name = \""))
        .filter_map(|l| l.strip_suffix('"'))
        .filter(|name| *name != "headwater-fuzz")
        .collect();
    let replayed: Vec<&str> = TARGETS.iter().map(|(name, _)| *name).collect();
    assert_eq!(declared, replayed);
}
