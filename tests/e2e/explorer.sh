#!/usr/bin/env bash
# End-to-end tests of the explorer (/ui/): builds Headwater, starts `headwater serve` on a free
# loopback port with a throw-away SQLite data dir and authentication on (a tokens file with
# fresh secrets: one reader-and-producer, one producer only), seeds it with Spline and
# OpenLineage fixtures from tests/data, and runs explorer/explorer.test.mjs (node --test) in Debian's
# Chromium through playwright-core. Screenshots and exported files land in
# target/e2e-artifacts/explorer/. Exits non-zero on any failure; the server is stopped and the
# data dir removed however the run ends.
#
# Needs: cargo, node (20+) and npm, curl, and Chromium at HEADWATER_E2E_CHROMIUM
# (default /usr/bin/chromium: `apt-get install chromium`). npm is needed once, for
# `npm ci` of the pinned playwright-core (tests/e2e/explorer/package-lock.json).
#
# Environment:
#   HEADWATER_E2E_CHROMIUM    the Chromium binary (default /usr/bin/chromium)
#   HEADWATER_E2E_ARTIFACTS   where screenshots and exports go (default target/e2e-artifacts/explorer)
#   HEADWATER_E2E_KEEP=1      keep the data dir and the server log
set -euo pipefail

E2E_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$E2E_DIR/../.." && pwd)"
TESTS="$E2E_DIR/explorer"
TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$REPO/$TARGET_DIR" ;; esac
CHROMIUM="${HEADWATER_E2E_CHROMIUM:-/usr/bin/chromium}"
ARTIFACTS="${HEADWATER_E2E_ARTIFACTS:-$TARGET_DIR/e2e-artifacts/explorer}"
KEEP="${HEADWATER_E2E_KEEP:-0}"

# Bounds on every wait, in seconds.
BUILD_TIMEOUT=1800
NPM_TIMEOUT=300
STARTUP_TIMEOUT=60
SEED_TIMEOUT=120
TEST_TIMEOUT=300

TMP=""
SERVER_PID=""

log() { printf 'explorer e2e: %s\n' "$*"; }

die() {
    printf 'explorer e2e: FATAL: %s\n' "$*" >&2
    show_server_log
    exit 1
}

show_server_log() {
    if [ -n "$TMP" ] && [ -s "$TMP/server.log" ]; then
        printf -- '--- last lines of the Headwater log ---\n' >&2
        tail -n 40 "$TMP/server.log" >&2
    fi
}

cleanup() {
    local status=$?
    set +e
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID"
        for _ in $(seq 1 50); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.2
        done
        kill -0 "$SERVER_PID" 2>/dev/null && kill -KILL "$SERVER_PID"
        wait "$SERVER_PID" 2>/dev/null
    fi
    if [ -n "$TMP" ]; then
        if [ "$KEEP" = 1 ]; then log "kept $TMP"; else rm -rf "$TMP"; fi
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for tool in cargo node npm curl; do
    command -v "$tool" >/dev/null || die "$tool is not installed"
done
[ -x "$CHROMIUM" ] || die "no Chromium at $CHROMIUM (apt-get install chromium, or set HEADWATER_E2E_CHROMIUM)"

# playwright-core, pinned by the lock file; reinstalled only when the lock file changes.
STAMP="$TESTS/node_modules/.lock-sha256"
WANT="$(sha256sum "$TESTS/package-lock.json" | cut -d' ' -f1)"
if [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]; then
    log "npm ci (playwright-core)"
    (cd "$TESTS" && timeout "$NPM_TIMEOUT" npm ci --no-audit --no-fund --ignore-scripts) \
        || die "npm ci failed"
    echo "$WANT" > "$STAMP"
fi

# HEADWATER_BIN names a binary built already; without it, the script builds one.
if [ -n "${HEADWATER_BIN:-}" ]; then
    BIN="$HEADWATER_BIN"
else
    log "cargo build"
    timeout "$BUILD_TIMEOUT" cargo build --locked -p headwater --quiet || die "cargo build failed"
    BIN="$TARGET_DIR/debug/headwater"
fi
[ -x "$BIN" ] || die "no headwater binary at $BIN"

TMP="$(mktemp -d "${TMPDIR:-/tmp}/headwater-explorer.XXXXXX")"

# Fresh secrets for this run; the service knows only their SHA-256.
secret() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
sha256() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
TOKEN="$(secret)"
PRODUCER_TOKEN="$(secret)"
cat > "$TMP/tokens.toml" <<TOML
[[token]]
name = "explorer-e2e"
sha256 = "$(sha256 "$TOKEN")"
scopes = ["consumer", "producer"]
[[token]]
name = "explorer-e2e-producer"
sha256 = "$(sha256 "$PRODUCER_TOKEN")"
scopes = ["producer"]
TOML
PORT="$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')"
BASE_URL="http://127.0.0.1:$PORT"
env -u DATABASE_URL -u HEADWATER_CONFIG RUST_LOG="headwater=warn" \
    "$BIN" serve --addr "127.0.0.1:$PORT" --data-dir "$TMP/data" --tokens-file "$TMP/tokens.toml" \
    > "$TMP/server.log" 2>&1 &
SERVER_PID=$!
deadline=$((SECONDS + STARTUP_TIMEOUT))
until curl -fsS --max-time 2 -o /dev/null "$BASE_URL/health/ready" 2>/dev/null; do
    kill -0 "$SERVER_PID" 2>/dev/null || die "the server exited while starting"
    [ "$SECONDS" -lt "$deadline" ] || die "the server did not answer within ${STARTUP_TIMEOUT} s"
    sleep 0.2
done
log "Headwater at $BASE_URL"

HEADWATER_E2E_TOKEN="$PRODUCER_TOKEN" timeout "$SEED_TIMEOUT" node "$TESTS/seed.mjs" "$BASE_URL" \
    || die "seeding failed"

mkdir -p "$ARTIFACTS"
log "tests (screenshots in $ARTIFACTS)"
cd "$TESTS"
HEADWATER_E2E_TOKEN="$TOKEN" HEADWATER_E2E_PRODUCER_TOKEN="$PRODUCER_TOKEN" \
HEADWATER_URL="$BASE_URL" HEADWATER_E2E_CHROMIUM="$CHROMIUM" HEADWATER_E2E_ARTIFACTS="$ARTIFACTS" \
    timeout "$TEST_TIMEOUT" node --test --test-concurrency=1 explorer.test.mjs \
    || die "explorer tests failed"
