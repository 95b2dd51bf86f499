#!/usr/bin/env bash
# Runs the whole benchmark suite with one command:
#   1. builds the service and the harness in release mode,
#   2. runs headwater-bench, which starts a fresh release service on a fresh database for each
#      backend and scale, measures it against its references, and stops it,
#   3. leaves the report in bench/results/ (latest.md, latest.json, latest-scaling.png).
#
# Extra arguments go to headwater-bench: `bench/run.sh --quick` (under 5 minutes),
# `bench/run.sh --scales S3 --backends postgres`, `bench/run.sh --help`.
#
# Environment: BENCH_ADMIN_URL, a PostgreSQL URL allowed to create databases
# (default postgres://postgres@127.0.0.1:5432/postgres).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here/.."

echo "run.sh: building (release)"
cargo build --release --locked -p headwater
cargo build --release --locked -p headwater-bench

exec target/release/headwater-bench "$@"
