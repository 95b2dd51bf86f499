"""Runs Schemathesis against a `headwater serve` on a throw-away database; see run.sh.

Standard library only, so it runs in the Schemathesis virtualenv as it is. Every wait is
bounded; the server and the database go whatever happens (unless HEADWATER_SCHEMATHESIS_KEEP=1).
"""

import argparse
import hashlib
import json
import os
import random
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

V12 = "application/vnd.absa.spline.producer.v1.2+json"
SPLINE_FIXTURE = (
    "tests/data/spline/producer-v1.2-generated/"
    "spline_test-data-generator_triangle-lineage-3reads-20ops-3attr.json.txt"
)
STARTUP_SECONDS = 60
RUN_SECONDS = 1800


def say(message):
    print(f"schemathesis: {message}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The run authenticates as a token with every scope (the service refuses a request without
# one), so the checks also see each protected operation answer 401 to a request without it.
TOKEN = secrets.token_urlsafe(32)
AUTHORIZATION = f"Bearer {TOKEN}"


def write_tokens_file(tmp):
    """A tokens file naming TOKEN by its SHA-256, as `headwater token new` would print it."""
    path = Path(tmp) / "tokens.toml"
    digest = hashlib.sha256(TOKEN.encode()).hexdigest()
    path.write_text(
        '[[token]]\nname = "schemathesis"\n'
        f'sha256 = "{digest}"\nscopes = ["producer", "consumer", "admin"]\n'
    )
    return path


def request(url, body=None, content_type=None, timeout=30):
    """(status, body) of one request; HTTP errors are answers, not exceptions."""
    headers = {"Authorization": AUTHORIZATION}
    if content_type:
        headers["Content-Type"] = content_type
    req = urllib.request.Request(url, data=body, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


class Database:
    """A database of its own for the server: PostgreSQL, or SQLite in the temp dir."""

    def __init__(self, backend, tmp):
        self.backend, self.name = backend, None
        if backend == "sqlite":
            self.url = f"sqlite://{tmp}/headwater.db"
            return
        admin = os.environ.get("HEADWATER_SCHEMATHESIS_ADMIN_URL") or os.environ.get(
            "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"
        )
        self.admin = admin
        self.name = f"headwater_schemathesis_{os.getpid()}_{random.randrange(10**6)}"
        self.psql(f'create database "{self.name}"')
        parts = urllib.parse.urlsplit(admin)
        self.url = urllib.parse.urlunsplit(parts._replace(path=f"/{self.name}"))

    def psql(self, sql):
        done = subprocess.run(
            ["psql", self.admin, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql],
            capture_output=True, text=True, timeout=60,
        )
        if done.returncode != 0:
            raise SystemExit(f"schemathesis: FATAL: psql `{sql}`: {done.stderr.strip()}")

    def drop(self):
        if self.name:
            self.psql(f'drop database if exists "{self.name}" with (force)')


class Server:
    """`headwater serve` on a free loopback port, logging into the temp dir."""

    def __init__(self, binary, database_url, tmp):
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        self.log = Path(tmp) / "headwater.log"
        env = dict(os.environ, RUST_LOG="headwater=info,tower_http=info,sqlx=warn")
        tokens = write_tokens_file(tmp)
        self.process = subprocess.Popen(
            [binary, "serve", "--addr", f"127.0.0.1:{port}", "--database-url", database_url,
             "--tokens-file", str(tokens)],
            stdout=self.log.open("w"), stderr=subprocess.STDOUT, env=env,
        )

    def wait_ready(self):
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.fail("headwater exited during start-up")
            try:
                if request(f"{self.base}/health/ready", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.25)
        self.fail(f"/health/ready did not answer 200 within {STARTUP_SECONDS}s")

    def tail(self, lines=40):
        text = self.log.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def fail(self, message):
        print(f"--- last lines of the Headwater log ---\n{self.tail()}", file=sys.stderr)
        raise SystemExit(f"schemathesis: FATAL: {message}")

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def postable_openlineage(folder):
    """The OpenLineage fixtures that are events as they stand: `as-is` or `batch` in
    TREATMENT.md (the others are facets, or templates the tests render first)."""
    postable = []
    for row in (folder / "TREATMENT.md").read_text().splitlines():
        cells = [c.strip() for c in row.split("|")]
        if len(cells) > 3 and cells[2] in ("as-is", "batch"):
            postable.append(folder / cells[1].strip("`"))
    if not postable:
        raise SystemExit("schemathesis: FATAL: no postable fixture found in TREATMENT.md")
    return postable


def seed(server, repo):
    """Real data for reads to find: a Spline plan with its events, and every OpenLineage
    fixture. Each must be stored, or the run means less than it says."""
    posts = []
    for line in (repo / SPLINE_FIXTURE).read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            kind = "execution-plans" if line.lstrip().startswith("{") else "execution-events"
            posts.append((f"/producer/{kind}", line.encode(), V12))
    for path in postable_openlineage(repo / "tests/data/openlineage"):
        body = path.read_bytes()
        batch = json.loads(body) if body.lstrip().startswith(b"[") else None
        endpoint = "/api/v1/lineage/batch" if batch is not None else "/api/v1/lineage"
        posts.append((endpoint, body, "application/json"))
    for endpoint, body, content_type in posts:
        status, answer = request(server.base + endpoint, body, content_type)
        failed_items = endpoint.endswith("batch") and json.loads(answer)["summary"]["failed"]
        if status not in (200, 201) or failed_items:
            server.fail(f"seeding {endpoint} answered {status}: {answer[:500]!r}")
    say(f"seeded {len(posts)} payloads")


def schemathesis(args, server, tmp):
    seed_value = os.environ.get("HEADWATER_SCHEMATHESIS_SEED") or str(random.randrange(2**31))
    say(f"seed {seed_value} (HEADWATER_SCHEMATHESIS_SEED={seed_value} replays this run)")
    config = args.repo / "tests/schemathesis/schemathesis.toml"
    command = [
        args.schemathesis, "--config-file", str(config),
        "run", str(args.repo / "openapi/openapi.json"),
        "--url", server.base,
        "--header", f"Authorization: {AUTHORIZATION}",
        "--max-examples", str(args.max_examples),
        "--seed", seed_value,
        "--workers", "2",
        "--request-timeout", "30",
        "--report", "junit", "--report-dir", str(Path(tmp) / "report"),
    ]
    env = dict(os.environ, NO_COLOR="1")
    status, output = run_echoed(command, env, tmp)
    if status != 0 and CPYTHON_AST_BUG in output and not failures_of_ours(output):
        say(f"Schemathesis tripped over a CPython bug ({CPYTHON_AST_BUG!r}); running it again")
        status, _ = run_echoed(command, env, tmp)
    return status


# CPython 3.11 (3.11.7 on the project's machines) now and then raises this from ast.parse in a
# threaded program (python/cpython#106905 and reports like it). Hypothesis parses Schemathesis's own source to describe a lambda, so the run errors on an
# operation without having sent it anything; such a run says nothing about Headwater.
CPYTHON_AST_BUG = "AST constructor recursion depth mismatch"


def failures_of_ours(output):
    """Whether the run reported a failed check (Headwater's fault), beside any errors."""
    return "=== FAILURES ===" in output


def run_echoed(command, env, cwd):
    """Runs Schemathesis in the temp dir (where it leaves its cache), echoing and keeping its
    output."""
    process = subprocess.Popen(
        command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    kept = []
    # A run that hangs, printing nothing, is killed all the same.
    watchdog = threading.Timer(RUN_SECONDS, process.kill)
    watchdog.start()
    try:
        for line in process.stdout:
            sys.stdout.write(line)
            kept.append(line)
        status = process.wait()
    finally:
        timed_out = not watchdog.is_alive()
        watchdog.cancel()
    if timed_out:
        raise SystemExit(f"schemathesis: FATAL: the run took over {RUN_SECONDS}s")
    return status, "".join(kept)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--repo", required=True, type=Path)
    parser.add_argument("--schemathesis", required=True)
    parser.add_argument("--max-examples", type=int, default=25)
    args = parser.parse_args()
    backend = os.environ.get("HEADWATER_SCHEMATHESIS_BACKEND", "postgres")
    if backend not in ("postgres", "sqlite"):
        raise SystemExit(f"schemathesis: FATAL: unknown backend {backend}")
    keep = os.environ.get("HEADWATER_SCHEMATHESIS_KEEP") == "1"
    tmp = tempfile.mkdtemp(prefix="headwater-schemathesis.")
    database = Database(backend, tmp)
    server = None
    try:
        server = Server(args.bin, database.url, tmp)
        server.wait_ready()
        say(f"headwater on {server.base}, {backend} database")
        seed(server, args.repo)
        status = schemathesis(args, server, tmp)
        if server.process.poll() is not None:
            server.fail("headwater exited during the run")
        if status != 0:
            print(f"--- last lines of the Headwater log ---\n{server.tail()}", file=sys.stderr)
            say(f"FAILED (exit {status}); HEADWATER_SCHEMATHESIS_KEEP=1 keeps the log and report")
        return status
    finally:
        if server:
            server.stop()
        if keep:
            say(f"kept {tmp} and database {database.name or database.url}")
        else:
            database.drop()
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
