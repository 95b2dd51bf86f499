#!/usr/bin/env bash
# Schemathesis against the committed OpenAPI document (openapi/openapi.json): every operation,
# with generated valid and invalid requests, against a freshly built `headwater serve` on a
# throw-away database seeded with fixtures. Fails on any 5xx, and on any answer the document
# does not describe (status, content type, headers, body schema).
#
# Usage: tests/schemathesis/run.sh [MAX_EXAMPLES]   (default 25 per operation; CI runs fewer)
#
# Environment:
#   HEADWATER_SCHEMATHESIS_BACKEND  postgres (default) or sqlite
#   HEADWATER_SCHEMATHESIS_ADMIN_URL  PostgreSQL URL allowed to create and drop databases
#                                   (default: DATABASE_URL, else postgres://postgres@127.0.0.1:5432/postgres)
#   HEADWATER_SCHEMATHESIS_VENV     virtualenv cache (default <target dir>/schemathesis-venv)
#   HEADWATER_SCHEMATHESIS_SEED     Hypothesis seed, to replay a run (default: random, printed)
#   HEADWATER_SCHEMATHESIS_KEEP=1   keep the temp dir (server log, report) and the database
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$REPO/$TARGET_DIR" ;; esac
VENV="${HEADWATER_SCHEMATHESIS_VENV:-$TARGET_DIR/schemathesis-venv}"
REQUIREMENTS="$HERE/requirements.txt"

say() { printf 'schemathesis: %s\n' "$*"; }
fail() {
    printf 'schemathesis: FATAL: %s\n' "$*" >&2
    exit 1
}

for tool in cargo python3 sha256sum; do
    command -v "$tool" >/dev/null || fail "\`$tool\` is not on PATH"
done

# The virtualenv is rebuilt whenever the pins or the interpreter change.
stamp="$({ cat "$REQUIREMENTS"; python3 -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$VENV/.requirements.sha256" 2>/dev/null)" != "$stamp" ]; then
    if [ -e "$VENV" ]; then
        [ -f "$VENV/pyvenv.cfg" ] || fail "$VENV exists and is not a virtualenv"
        rm -rf "$VENV"
    fi
    say "installing the pinned Schemathesis into $VENV"
    python3 -m venv "$VENV"
    timeout 900 "$VENV/bin/pip" install --no-input --disable-pip-version-check -q \
        -r "$REQUIREMENTS" || { rm -rf "$VENV"; fail "pip install -r $REQUIREMENTS failed"; }
    printf '%s\n' "$stamp" >"$VENV/.requirements.sha256"
fi

# HEADWATER_BIN names a binary built already; without it, the script builds one.
if [ -n "${HEADWATER_BIN:-}" ]; then
    BIN="$HEADWATER_BIN"
else
    say "building headwater (cargo build --locked -p headwater)"
    (cd "$REPO" && cargo build --locked -p headwater)
    BIN="$TARGET_DIR/debug/headwater"
fi
[ -x "$BIN" ] || fail "no headwater binary at $BIN"

exec "$VENV/bin/python" "$HERE/run.py" --bin "$BIN" --repo "$REPO" \
    --schemathesis "$VENV/bin/schemathesis" --max-examples "${1:-25}"
