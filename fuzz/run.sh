#!/usr/bin/env bash
# Runs every cargo-fuzz target (or the ones named) for a bounded time each, and fails if any
# of them finds a crash: a panic, a failed assertion, an input slower than 10 s, or more than
# 2 GiB of memory. The input that did it is saved under fuzz/artifacts/<target>/.
#
# Usage: fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]    (default: 300 s, every target)
#
# Each target starts from its committed seeds (fuzz/corpus/<target>/, read-only) and keeps what
# it finds in fuzz/work/<target>/ (ignored by git), so later runs go on from there.
#
# Needs cargo-fuzz (`cargo install --locked cargo-fuzz@0.13.2`). Builds without a sanitizer by
# default: cargo fuzz then passes rustc no unstable flag, and the stable toolchain builds it.
# HEADWATER_FUZZ_SANITIZER=address adds AddressSanitizer, which needs nightly flags; on stable,
# RUSTC_BOOTSTRAP=1 (set here for it) lets them through. The code is `unsafe`-free, so ASan
# mostly checks dependencies.
set -euo pipefail
cd "$(dirname "$0")"

seconds="${1:-300}"
shift || true
sanitizer="${HEADWATER_FUZZ_SANITIZER:-none}"
[ "$sanitizer" = none ] || export RUSTC_BOOTSTRAP=1

command -v cargo-fuzz >/dev/null ||
    { echo "fuzz: cargo-fuzz is missing; cargo install --locked cargo-fuzz@0.13.2" >&2; exit 1; }

targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo fuzz list)

echo "fuzz: building ${#targets[@]} targets (sanitizer: $sanitizer)"
cargo fuzz build --sanitizer "$sanitizer"

passed=0
failed=()
for target in "${targets[@]}"; do
    mkdir -p "work/$target" "artifacts/$target"
    log="work/$target.log"
    echo "fuzz: $target for ${seconds}s"
    if cargo fuzz run --sanitizer "$sanitizer" "$target" "work/$target" "corpus/$target" -- \
        -max_total_time="$seconds" -dict=dict/lineage.dict -max_len=65536 -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
        passed=$((passed + 1))
        grep -E '^(#[0-9]+\s+DONE|stat::number_of_executed_units)' "$log" | sed "s/^/fuzz: $target: /"
    else
        failed+=("$target")
        tail -n 60 "$log" >&2
        echo "fuzz: $target FAILED; the input is in fuzz/artifacts/$target/, the log in fuzz/$log" >&2
    fi
done

echo "fuzz: ${passed} passed, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ]
