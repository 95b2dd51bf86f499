#!/usr/bin/env bash
# End-to-end test with REAL OpenLineage clients: dbt-ol (openlineage-dbt over dbt-duckdb) and
# the openlineage-python HTTP transport post to a Headwater server built from this tree, and the
# lineage they produce is read back through the consumer API.
#
# Needs: python3 (with venv), cargo, psql, curl, a PostgreSQL reachable at
# HEADWATER_E2E_ADMIN_URL, and PyPI for the first run. See tests/e2e/README.md.
#
# Environment:
#   HEADWATER_E2E_ADMIN_URL   PostgreSQL URL allowed to CREATE/DROP DATABASE
#                             (default postgres://postgres:headwater@127.0.0.1:5432/postgres)
#   HEADWATER_E2E_VENV        virtualenv cache (default <repo>/target/e2e-venv)
#   HEADWATER_E2E_PYTHON      interpreter that creates the virtualenv (default python3)
#   HEADWATER_E2E_KEEP=1      keep the temp dir and the database for inspection
set -euo pipefail

E2E_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$E2E_DIR/../.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$REPO/$TARGET_DIR" ;; esac

ADMIN_URL="${HEADWATER_E2E_ADMIN_URL:-postgres://postgres:headwater@127.0.0.1:5432/postgres}"
VENV="${HEADWATER_E2E_VENV:-$TARGET_DIR/e2e-venv}"
BASE_PYTHON="${HEADWATER_E2E_PYTHON:-python3}"
KEEP="${HEADWATER_E2E_KEEP:-0}"
REQUIREMENTS="$E2E_DIR/requirements.txt"

# Bounds on every wait, in seconds.
PIP_TIMEOUT=900
BUILD_TIMEOUT=1800
STARTUP_TIMEOUT=60
DBT_TIMEOUT=600
EMIT_TIMEOUT=120
CURL_TIMEOUT=30

PASSED=0
FAILED=0
TMP=""
DB_NAME=""
SERVER_PID=""
SERVER_LOG=""

log() { printf 'e2e: %s\n' "$*"; }

# The URL with its password replaced by ***.
redact() { printf '%s' "$1" | sed -E 's#(://[^/:@]+):[^@/]*@#\1:***@#'; }

summary() { printf 'e2e: %d passed, %d failed\n' "$PASSED" "$FAILED"; }

# A failure that stops the run: say why, print the summary, exit non-zero (the trap cleans up).
die() {
    printf '\ne2e: FATAL: %s\n' "$*" >&2
    FAILED=$((FAILED + 1))
    summary
    exit 1
}

show_server_log() {
    if [ -n "$SERVER_LOG" ] && [ -s "$SERVER_LOG" ]; then
        printf -- '--- last lines of the Headwater log (%s) ---\n' "$SERVER_LOG" >&2
        tail -n 40 "$SERVER_LOG" >&2
        printf -- '--- end of Headwater log ---\n' >&2
    fi
}

cleanup() {
    local status=$?
    set +e
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null
        for _ in $(seq 1 50); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.2
        done
        if kill -0 "$SERVER_PID" 2>/dev/null; then
            log "server $SERVER_PID did not stop on SIGTERM within 10 s; killing it"
            kill -KILL "$SERVER_PID" 2>/dev/null
        fi
        wait "$SERVER_PID" 2>/dev/null
    fi
    if [ "$KEEP" = 1 ]; then
        [ -n "$DB_NAME" ] && log "kept database $DB_NAME"
        [ -n "$TMP" ] && log "kept temp dir $TMP"
    else
        if [ -n "$DB_NAME" ]; then
            psql "$ADMIN_URL" -X -q -v ON_ERROR_STOP=1 \
                -c "DROP DATABASE IF EXISTS \"$DB_NAME\" WITH (FORCE)" >/dev/null 2>&1 ||
                log "warning: could not drop database $DB_NAME"
        fi
        [ -n "$TMP" ] && rm -rf "$TMP"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'die "interrupted"' INT TERM

# check DESCRIPTION COMMAND...: runs one assertion and counts it. Its output is shown on failure.
check() {
    local description=$1 out
    shift
    if out=$("$@" 2>&1); then
        PASSED=$((PASSED + 1))
        printf 'ok   %s\n' "$description"
    else
        FAILED=$((FAILED + 1))
        printf 'FAIL %s\n' "$description"
        printf '%s\n' "$out" | sed 's/^/     /'
    fi
}

# api OUT PATH [NAME=VALUE...]: GET a consumer-API path into file OUT; parameters are
# URL-encoded. A non-200 answer is reported with its body and fails the call.
api() {
    local out=$1 path=$2 status
    shift 2
    local params=()
    for p in "$@"; do params+=(--data-urlencode "$p"); done
    if ! status=$(curl -sS --max-time "$CURL_TIMEOUT" --get -o "$out" -w '%{http_code}' \
        "${params[@]}" "$BASE_URL$path"); then
        echo "GET $path $* failed (curl)" >&2
        return 1
    fi
    if [ "$status" != 200 ]; then
        echo "GET $path $* answered $status: $(head -c 2000 "$out")" >&2
        return 1
    fi
}

# gc SUBCOMMAND FILE ARGS...: one graph assertion (see graph_check.py).
gc() { "$PY" "$E2E_DIR/graph_check.py" "$@"; }

# lineage_statuses FROM_LINE: the HTTP statuses the server logged for POST /api/v1/lineage
# after line FROM_LINE of its log, one per line.
lineage_statuses() {
    tail -n "+$(($1 + 1))" "$SERVER_LOG" |
        grep -E 'method=POST path=/api/v1/lineage[ }]' |
        sed -nE 's/.* status=([0-9]+).*/\1/p'
}

all_2xx() {
    local statuses=$1 expected=$2 count bad
    count=$(printf '%s' "$statuses" | grep -c . || true)
    bad=$(printf '%s' "$statuses" | grep -v '^2' | sort | uniq -c | tr '\n' ' ' || true)
    if [ "$count" != "$expected" ]; then
        echo "the server logged $count POST /api/v1/lineage, expected $expected" >&2
        return 1
    fi
    if [ -n "$bad" ]; then
        echo "non-2xx answers (count status): $bad" >&2
        return 1
    fi
}

# --- prerequisites -----------------------------------------------------------------------------

for tool in cargo psql curl timeout sha256sum "$BASE_PYTHON"; do
    command -v "$tool" >/dev/null || die "\`$tool\` is not on PATH; the e2e test needs it"
done
[ -f "$REQUIREMENTS" ] || die "missing $REQUIREMENTS"

TMP="$(mktemp -d -t headwater-e2e.XXXXXX)" || die "cannot create a temp dir"
SERVER_LOG="$TMP/headwater.log"

# --- 1. virtualenv with the pinned clients -----------------------------------------------------

venv_stamp() {
    { cat "$REQUIREMENTS"; "$BASE_PYTHON" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1
}
STAMP="$(venv_stamp)"
PY="$VENV/bin/python"
if [ -x "$PY" ] && [ "$(cat "$VENV/.e2e-requirements.sha256" 2>/dev/null)" = "$STAMP" ]; then
    log "reusing virtualenv $VENV (pins unchanged)"
else
    if [ -e "$VENV" ]; then
        # Only ever delete something that is recognisably a virtualenv.
        [ -f "$VENV/pyvenv.cfg" ] ||
            die "$VENV exists and is not a virtualenv; remove it or set HEADWATER_E2E_VENV"
        log "pins changed or virtualenv incomplete: rebuilding $VENV"
        rm -rf "$VENV"
    fi
    log "creating virtualenv $VENV and installing $(grep -cvE '^\s*(#|$)' "$REQUIREMENTS") pinned packages"
    mkdir -p "$(dirname "$VENV")"
    "$BASE_PYTHON" -m venv "$VENV" >"$TMP/venv.log" 2>&1 ||
        { cat "$TMP/venv.log" >&2; die "could not create the virtualenv with $BASE_PYTHON -m venv"; }
    if ! timeout "$PIP_TIMEOUT" "$PY" -m pip install --no-input --disable-pip-version-check \
        -r "$REQUIREMENTS" >"$TMP/pip.log" 2>&1; then
        tail -n 40 "$TMP/pip.log" >&2
        rm -rf "$VENV"
        die "pip install -r tests/e2e/requirements.txt failed (or took over ${PIP_TIMEOUT}s); log above"
    fi
    printf '%s\n' "$STAMP" >"$VENV/.e2e-requirements.sha256"
fi
for exe in dbt dbt-ol; do
    [ -x "$VENV/bin/$exe" ] || die "$VENV/bin/$exe is missing; delete $VENV to rebuild it"
done
log "clients: $("$PY" -m pip list --disable-pip-version-check 2>/dev/null |
    grep -iE '^(openlineage-python|openlineage-dbt|dbt-core|dbt-duckdb|duckdb) ' | awk '{printf "%s %s; ", $1, $2}')"

# --- 2. build Headwater --------------------------------------------------------------------------

# HEADWATER_BIN names a binary built already (CI builds every target once, with one feature
# set); without it, the script builds one.
if [ -n "${HEADWATER_BIN:-}" ]; then
    BIN="$HEADWATER_BIN"
else
    log "building headwater (cargo build --locked -p headwater)"
    (cd "$REPO" && timeout "$BUILD_TIMEOUT" cargo build --locked -p headwater) ||
        die "cargo build --locked -p headwater failed"
    BIN="$TARGET_DIR/debug/headwater"
fi
[ -x "$BIN" ] || die "no headwater binary at $BIN"

# --- 3. a fresh database -----------------------------------------------------------------------

psql "$ADMIN_URL" -X -q -v ON_ERROR_STOP=1 -c 'select 1' >/dev/null 2>"$TMP/psql.log" ||
    { cat "$TMP/psql.log" >&2; die "cannot connect to PostgreSQL at $(redact "$ADMIN_URL") (HEADWATER_E2E_ADMIN_URL)"; }
DB_NAME="headwater_e2e_$(date +%s)_$$_${RANDOM}"
psql "$ADMIN_URL" -X -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$DB_NAME\"" >/dev/null 2>"$TMP/psql.log" ||
    { cat "$TMP/psql.log" >&2; DB_NAME=""; die "CREATE DATABASE failed"; }
DATABASE_URL="$("$PY" - "$ADMIN_URL" "$DB_NAME" <<'EOF'
import sys
from urllib.parse import urlsplit, urlunsplit
parts = urlsplit(sys.argv[1])
print(urlunsplit(parts._replace(path="/" + sys.argv[2])))
EOF
)"
log "database $DB_NAME created"

# --- 4. start Headwater ----------------------------------------------------------------------------

PORT="$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
BASE_URL="http://127.0.0.1:$PORT"
RUST_LOG="headwater=info,tower_http=info,sqlx=warn" "$BIN" serve --addr "127.0.0.1:$PORT" \
    --database-url "$DATABASE_URL" --log-format text >"$SERVER_LOG" 2>&1 &
SERVER_PID=$!
log "headwater started (pid $SERVER_PID) on $BASE_URL; waiting for GET /producer/status"
ready=0
for _ in $(seq 1 $((STARTUP_TIMEOUT * 4))); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        show_server_log
        die "headwater exited during start-up"
    fi
    status=$(curl -s --max-time 2 -o /dev/null -w '%{http_code}' "$BASE_URL/producer/status" || true)
    if [ "$status" = 200 ]; then
        ready=1
        break
    fi
    sleep 0.25
done
if [ "$ready" != 1 ]; then
    show_server_log
    die "GET /producer/status did not answer 200 within ${STARTUP_TIMEOUT}s (last status: ${status:-none})"
fi
log "headwater is ready"

# The real clients take their configuration from the environment: start from a clean slate.
for var in $(compgen -e | grep -E '^(OPENLINEAGE|DBT_)' || true); do unset "$var"; done
export DBT_SEND_ANONYMOUS_USAGE_STATS=false DO_NOT_TRACK=1
export PATH="$VENV/bin:$PATH" # dbt-ol runs `dbt` from PATH

# --- 5. dbt-ol ----------------------------------------------------------------------------------------

echo
log "dbt: dbt-ol run on tests/e2e/dbt_project (duckdb), OPENLINEAGE_NAMESPACE=e2e-dbt"
cp -R "$E2E_DIR/dbt_project" "$TMP/dbt_project"
DUCKDB_PATH="$TMP/e2e.duckdb"
DUCKDB_NS="duckdb://$DUCKDB_PATH"
DBT_NS="e2e-dbt"
PROJECT="headwater_e2e"
before=$(wc -l <"$SERVER_LOG")
dbt_status=0
(
    cd "$TMP/dbt_project"
    HEADWATER_E2E_DUCKDB_PATH="$DUCKDB_PATH" OPENLINEAGE_URL="$BASE_URL" OPENLINEAGE_NAMESPACE="$DBT_NS" \
        timeout --kill-after=10 "$DBT_TIMEOUT" dbt-ol run --project-dir . --profiles-dir .
) >"$TMP/dbt-ol.log" 2>&1 || dbt_status=$?
if [ "$dbt_status" != 0 ]; then
    tail -n 60 "$TMP/dbt-ol.log" >&2
    show_server_log
    [ "$dbt_status" = 124 ] && die "dbt-ol run did not finish within ${DBT_TIMEOUT}s"
    die "dbt-ol run exited with $dbt_status (log above)"
fi
emitted=$(sed -nE 's/.*Emitted ([0-9]+) OpenLineage events.*/\1/p' "$TMP/dbt-ol.log" | tail -n 1)
MODELS=(raw_orders raw_customers stg_orders stg_customers customer_orders)
# One wrapping START and COMPLETE, plus START and COMPLETE per model.
EXPECTED_EVENTS=$((2 * ${#MODELS[@]} + 2))

dbt_emitted_all() {
    if grep -E 'failed to emit|Traceback|\[(ERROR|WARNING|CRITICAL)\] \[openlineage' "$TMP/dbt-ol.log"; then
        echo "dbt-ol logged the problems above" >&2
        return 1
    fi
    [ "${emitted:-}" = "$EXPECTED_EVENTS" ] ||
        { echo "dbt-ol says it emitted '${emitted:-nothing}', expected $EXPECTED_EVENTS" >&2; return 1; }
}
check "dbt: dbt-ol emitted $EXPECTED_EVENTS events without a client error" dbt_emitted_all
check "dbt: headwater answered 2xx to each of dbt-ol's $EXPECTED_EVENTS POST /api/v1/lineage" \
    all_2xx "$(lineage_statuses "$before")" "$EXPECTED_EVENTS"

ds_key() { echo "dataset:$DUCKDB_NS/e2e.main.$1"; }
job_key() { echo "job:$DBT_NS/e2e.main.$PROJECT.$1"; }
field_key() { echo "field:$DUCKDB_NS/e2e.main.$1#$2"; }
WRAPPER="job:$DBT_NS/dbt-run-$PROJECT"

# The mart's dataset, found by search.
CO_KEY="$(ds_key customer_orders)"
mart_found() {
    api "$TMP/co.json" /api/v1/graph/nodes kind=dataset q=customer_orders || return 1
    local key
    key=$(gc key "$TMP/co.json" "/e2e.main.customer_orders") || return 1
    [ "$key" = "$CO_KEY" ] || { echo "found $key, expected $CO_KEY" >&2; return 1; }
}
check "dbt: customer_orders is found by search, as duckdb://<file>/<db>.main.<model>" mart_found

check "dbt: GET lineage upstream of customer_orders (depth 5)" \
    api "$TMP/up.json" /api/v1/graph/lineage "node=$CO_KEY" direction=upstream depth=5
check "dbt: upstream lineage has the stg and raw datasets" gc nodes "$TMP/up.json" \
    "$(ds_key stg_orders)" "$(ds_key stg_customers)" "$(ds_key raw_orders)" "$(ds_key raw_customers)"
check "dbt: upstream lineage is complete (not truncated)" gc complete "$TMP/up.json"
# via_job FILE SOURCE TARGET JOB: JOB is the job between the two datasets.
via_job() {
    local found
    found=$(gc via-job "$1" "$2" "$3") || return 1
    [ "$found" = "$4" ] || { echo "the job between them is $found, expected $4" >&2; return 1; }
}
for hop in "stg_orders customer_orders" "stg_customers customer_orders" \
    "raw_orders stg_orders" "raw_customers stg_customers"; do
    read -r from to <<<"$hop"
    check "dbt: $from -> job $to -> $to (model-to-model lineage)" \
        via_job "$TMP/up.json" "$(ds_key "$from")" "$(ds_key "$to")" "$(job_key "$to")"
done

# The dbt jobs, found by search in namespace e2e-dbt.
check "dbt: GET nodes kind=job q=e2e-dbt" api "$TMP/jobs.json" /api/v1/graph/nodes kind=job q="$DBT_NS" limit=100
expected_jobs=("$WRAPPER")
for m in "${MODELS[@]}"; do expected_jobs+=("$(job_key "$m")"); done
check "dbt: jobs in e2e-dbt are the dbt-run wrapper and one per model" \
    gc keys "$TMP/jobs.json" "job:$DBT_NS/" "${expected_jobs[@]}"
# run_state JOB STATE [RUN]: GET the job's node; a run of it (RUN, if given) has state STATE.
run_state() {
    local file="$TMP/job-$RANDOM.json" found
    api "$file" /api/v1/graph/node "key=$1" || return 1
    found=$(gc run "$file" "$1" "$2") || return 1
    [ -z "${3:-}" ] || [ "$found" = "$3" ] || { echo "the $2 run is $found, expected $3" >&2; return 1; }
}
for job in "${expected_jobs[@]}"; do
    check "dbt: a run of $job has state COMPLETE" run_state "$job" COMPLETE
done
check "dbt: GET node $WRAPPER" api "$TMP/wrapper.json" /api/v1/graph/node "key=$WRAPPER"
for m in "${MODELS[@]}"; do
    check "dbt: the dbt-run wrapper is the parent of the $m job (parent facet)" \
        gc edge "$TMP/wrapper.json" "$WRAPPER" parent_of "$(job_key "$m")"
done

# Column lineage: dbt-ol parses each model's SQL and sends a columnLineage facet.
check "dbt: GET node customer_orders.customer_name" \
    api "$TMP/col.json" /api/v1/graph/node "key=$(field_key customer_orders customer_name)"
check "dbt: customer_orders.customer_name derives from stg_customers.customer_name" \
    gc edge "$TMP/col.json" "$(field_key stg_customers customer_name)" derives "$(field_key customer_orders customer_name)"
check "dbt: GET node stg_customers.customer_name" \
    api "$TMP/col2.json" /api/v1/graph/node "key=$(field_key stg_customers customer_name)"
check "dbt: stg_customers.customer_name derives from raw_customers.name" \
    gc edge "$TMP/col2.json" "$(field_key raw_customers name)" derives "$(field_key stg_customers customer_name)"

# --- 6. openlineage-python, directly ----------------------------------------------------------------

echo
log "client: openlineage-python HttpTransport, compression=gzip, api_key auth"
API_KEY="e2e-$RANDOM$RANDOM"
before=$(wc -l <"$SERVER_LOG")
emit_status=0
(cd "$TMP" && timeout --kill-after=10 "$EMIT_TIMEOUT" "$PY" "$E2E_DIR/emit_events.py" \
    --url "$BASE_URL" --api-key "$API_KEY" --namespace e2e-client --job events.clean) \
    >"$TMP/emit.out" 2>"$TMP/emit.err" || emit_status=$?
emit_ok() {
    cat "$TMP/emit.err" >&2
    [ "$emit_status" = 0 ] || { echo "emit_events.py exited with $emit_status" >&2; return 1; }
    [ ! -s "$TMP/emit.err" ] || { echo "emit_events.py wrote to stderr" >&2; return 1; }
}
check "client: START and COMPLETE sent gzipped with Authorization: Bearer, no raise, nothing logged" emit_ok
check "client: headwater answered 2xx to both POST /api/v1/lineage" \
    all_2xx "$(lineage_statuses "$before")" 2
RUN_ID=$("$PY" -c 'import json, sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])["runId"])' \
    <"$TMP/emit.out" 2>/dev/null || echo unknown)

CJOB="job:e2e-client/events.clean"
RAW="dataset:s3://e2e-bucket/raw/events"
CLEAN="dataset:s3://e2e-bucket/clean/events"
cfield() { echo "field:s3://e2e-bucket/clean/events#$1"; }
rfield() { echo "field:s3://e2e-bucket/raw/events#$1"; }

check "client: GET nodes kind=job q=e2e-client" api "$TMP/cjobs.json" /api/v1/graph/nodes kind=job q=e2e-client
check "client: job $CJOB is listed" gc nodes "$TMP/cjobs.json" "$CJOB"
check "client: GET node $CJOB" api "$TMP/cjob.json" /api/v1/graph/node "key=$CJOB"
check "client: the job reads $RAW" gc edge "$TMP/cjob.json" "$RAW" input "$CJOB"
check "client: the job writes $CLEAN" gc edge "$TMP/cjob.json" "$CJOB" output "$CLEAN"
check "client: run run:$RUN_ID of the job has state COMPLETE" run_state "$CJOB" COMPLETE "run:$RUN_ID"
check "client: GET node run:$RUN_ID" api "$TMP/crun.json" /api/v1/graph/node "key=run:$RUN_ID"
check "client: the run node says state COMPLETE" gc prop "$TMP/crun.json" "run:$RUN_ID" state COMPLETE
check "client: GET node $CLEAN" api "$TMP/clean.json" /api/v1/graph/node "key=$CLEAN"
check "client: the output's schema columns are field nodes" gc nodes "$TMP/clean.json" \
    "$(cfield event_id)" "$(cfield user_id)" "$(cfield event_date)"
check "client: GET node $(cfield event_date)" api "$TMP/cfield.json" /api/v1/graph/node "key=$(cfield event_date)"
check "client: clean event_date derives from raw ts (columnLineage)" \
    gc edge "$TMP/cfield.json" "$(rfield ts)" derives "$(cfield event_date)"
check "client: GET node $(cfield event_id)" api "$TMP/cfield2.json" /api/v1/graph/node "key=$(cfield event_id)"
check "client: clean event_id derives from raw event_id" \
    gc edge "$TMP/cfield2.json" "$(rfield event_id)" derives "$(cfield event_id)"
check "client: GET node $(rfield payload)" api "$TMP/rfield.json" /api/v1/graph/node "key=$(rfield payload)"
check "client: raw payload affects the clean dataset (dataset-level columnLineage)" \
    gc edge "$TMP/rfield.json" "$(rfield payload)" affects "$CLEAN"
check "client: GET lineage upstream of $CLEAN" \
    api "$TMP/cup.json" /api/v1/graph/lineage "node=$CLEAN" direction=upstream depth=5
check "client: upstream of the clean dataset is the job, then the raw dataset" \
    via_job "$TMP/cup.json" "$RAW" "$CLEAN" "$CJOB"

# --- summary -----------------------------------------------------------------------------------------

echo
if [ "$FAILED" != 0 ]; then
    show_server_log
    if [ -s "$TMP/dbt-ol.log" ]; then
        printf -- '--- last lines of the dbt-ol log ---\n' >&2
        tail -n 20 "$TMP/dbt-ol.log" >&2
    fi
    [ "$KEEP" = 1 ] || log "rerun with HEADWATER_E2E_KEEP=1 to keep the temp dir, logs and database"
fi
summary
[ "$FAILED" = 0 ]
