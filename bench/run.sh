#!/usr/bin/env bash
# Runs the Headwater benchmark end to end:
#   1. recreates the database `headwater_bench` (dropping any old one),
#   2. builds and starts the service in release mode on it,
#   3. runs headwater-bench against it (extra arguments are passed through),
#   4. stops the service, however the script ends.
#
# Environment:
#   BENCH_ADMIN_URL      a Postgres URL with rights to create databases
#                        (default postgres://postgres@127.0.0.1:5432/postgres)
#   BENCH_ADDR           where the service listens (default 127.0.0.1:18080)
#   BENCH_START_TIMEOUT  seconds to wait for the service to answer (default 60)
#
# Needs psql and curl on PATH.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here/.."

admin_url="${BENCH_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
addr="${BENCH_ADDR:-127.0.0.1:18080}"
start_timeout="${BENCH_START_TIMEOUT:-60}"
db_name=headwater_bench

# Same server, other database: swap the last path segment, keep any ?query.
admin_base="${admin_url%%\?*}"
admin_query="${admin_url#"$admin_base"}"
db_url="${admin_base%/*}/${db_name}${admin_query}"

status_url="http://${addr}/producer/status"
log_dir="$here/results"
log_file="$log_dir/server.log"
server_pid=""

fail() {
    echo "run.sh: $*" >&2
    exit 1
}

stop_server() {
    [[ -n "$server_pid" ]] || return 0
    if kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$server_pid" 2>/dev/null || break
            sleep 0.2
        done
        if kill -0 "$server_pid" 2>/dev/null; then
            echo "run.sh: service did not stop on SIGTERM; killing it" >&2
            kill -KILL "$server_pid" 2>/dev/null || true
        fi
    fi
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
}
trap stop_server EXIT
trap 'exit 130' INT TERM

command -v psql >/dev/null || fail "psql is needed to create the benchmark database"
command -v curl >/dev/null || fail "curl is needed to wait for the service"

# Another process answering on the address would be benchmarked instead of
# the fresh service without anyone noticing.
if curl -s -o /dev/null --max-time 2 "$status_url"; then
    fail "something already answers on $addr; stop it or set BENCH_ADDR"
fi

echo "run.sh: recreating database $db_name"
psql "$admin_url" -X -q -v ON_ERROR_STOP=1 \
    -c "DROP DATABASE IF EXISTS $db_name WITH (FORCE)" \
    -c "CREATE DATABASE $db_name" ||
    fail "could not recreate $db_name via $admin_url"

echo "run.sh: building (release)"
# One package per build: a joint build unifies features differently, and the
# `cargo run`s below would then rebuild shared dependencies.
cargo build --release -p headwater
cargo build --release -p headwater-bench

mkdir -p "$log_dir"
echo "run.sh: starting the service on $addr (log: $log_file)"
cargo run --release -q -p headwater -- serve --addr "$addr" --database-url "$db_url" \
    >"$log_file" 2>&1 &
server_pid=$!

deadline=$((SECONDS + start_timeout))
until curl -sf -o /dev/null --max-time 2 "$status_url"; do
    if ! kill -0 "$server_pid" 2>/dev/null; then
        tail -n 30 "$log_file" >&2 || true
        fail "the service exited during start-up (log above)"
    fi
    if ((SECONDS >= deadline)); then
        tail -n 30 "$log_file" >&2 || true
        fail "no 200 from $status_url within ${start_timeout}s (log above)"
    fi
    sleep 0.5
done
echo "run.sh: service is up"

cargo run --release -q -p headwater-bench -- \
    --url "http://${addr}" --database-url "$db_url" "$@"
