#!/usr/bin/env python3
"""Rebuilds the committed seed corpora (fuzz/corpus/<target>/) from the fixtures in tests/data.

Seeds are the fixtures themselves, one payload per file: Spline plans and event arrays (one per
line of the generator files), OpenLineage events and batches, and gzipped copies for the gzip
target. Spline seeds start with the byte that selects the producer API version (ASCII 0, 1, 2
for v1.0, v1.1, v1.2), gzip seeds with the size limit in KiB. Payloads over MAX_SEED bytes are
left out: libFuzzer mutates big inputs slowly, and small ones reach the same code.

Run from anywhere: python3 fuzz/seed_corpus.py
"""

import gzip
import hashlib
import json
import shutil
from pathlib import Path

FUZZ = Path(__file__).resolve().parent
DATA = FUZZ.parent / "tests" / "data"
CORPUS = FUZZ / "corpus"
MAX_SEED = 16 * 1024

# Producer API v1.0 has no fixture file; these follow the shapes in tests/api/producer_versions.rs.
V10_PLAN = {
    "id": "4b1c2d3e-0000-4000-8000-000000000010",
    "operations": {
        "write": {"outputSource": "hdfs://nn/out", "append": False, "id": 0, "childIds": [1],
                  "schema": [13, 15], "extra": {"name": "InsertIntoHadoopFsRelationCommand"}},
        "reads": [{"inputSources": ["hdfs://nn/raw/orders"], "id": 2, "schema": [11, 12],
                   "extra": {"name": "LogicalRelation", "sourceType": "csv"}}],
        "other": [{"id": 1, "childIds": [2], "schema": [13, 15], "extra": {"name": "Project"},
                   "params": {"projectList": [
                       {"_typeHint": "expr.AttrRef", "refId": 13},
                       {"_typeHint": "expr.Alias", "alias": "total", "dataTypeId": "t-double",
                        "child": {"_typeHint": "expr.Binary", "symbol": "*",
                                  "children": [{"_typeHint": "expr.AttrRef", "refId": 11},
                                               {"_typeHint": "expr.AttrRef", "refId": 12}]}}]}}],
    },
    "systemInfo": {"name": "spark", "version": "2.4.5"},
    "agentInfo": {"name": "spline", "version": "0.5.6"},
    "extraInfo": {"appName": "totals", "attributes": [
        {"id": 11, "name": "price", "dataTypeId": "t-double"},
        {"id": 12, "name": "qty", "dataTypeId": "t-long"},
        {"id": 13, "name": "customer_id", "dataTypeId": "t-long"},
        {"id": 15, "name": "total", "dataTypeId": "t-double"}]},
}
V10_EVENTS = [{"planId": V10_PLAN["id"], "timestamp": 1700000000123,
               "extra": {"appId": "local-1", "durationNs": 8101352417}}]


def compact(value):
    return json.dumps(value, separators=(",", ":")).encode()


def spline_payloads():
    """(is_plan, bytes) for every payload line of the Spline fixtures."""
    for path in sorted((DATA / "spline").rglob("*")):
        if path.suffix not in (".txt", ".json") or "consumer" in path.parts[-2]:
            continue
        text = path.read_text()
        lines = [text] if path.suffix == ".json" else text.splitlines()
        for line in lines:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            value = json.loads(line)
            yield isinstance(value, dict), compact(value)


def openlineage_events():
    """Every OpenLineage event of the fixtures, compact, with the arrays they came in."""
    events, arrays = [], []
    for path in sorted((DATA / "openlineage").glob("*.json")):
        value = json.loads(path.read_text())
        if isinstance(value, list):
            arrays.append(compact(value))
            events.extend(compact(v) for v in value)
        else:
            events.append(compact(value))
    return events, arrays


def write(target, payloads):
    folder = CORPUS / target
    folder.mkdir(parents=True)
    kept = 0
    for payload in payloads:
        if len(payload) > MAX_SEED:
            continue
        name = hashlib.sha1(payload).hexdigest()
        (folder / name).write_bytes(payload)
        kept += 1
    print(f"{target}: {kept} seeds")


def main():
    shutil.rmtree(CORPUS, ignore_errors=True)
    spline = list(spline_payloads())
    plans = [p for is_plan, p in spline if is_plan] + [compact(V10_PLAN)]
    # The generator files hold hundreds of near-identical event arrays; a few cover them.
    event_arrays = [p for is_plan, p in spline if not is_plan][::10] + [compact(V10_EVENTS)]
    # Every version for every seed: v1.0 lifting sees v1.2 shapes, and the other way round.
    write("spline_plan", (v + p for p in plans for v in (b"0", b"1", b"2")))
    write("spline_events", (v + p for p in event_arrays for v in (b"0", b"2")))
    events, arrays = openlineage_events()
    write("openlineage_event", events)
    write("openlineage_batch", arrays + [b"[" + e + b"]" for e in events[:8]] + [b"[]"])
    small = [e for e in events if len(e) < 4096][:6] + plans[:2]
    bombs = [gzip.compress(b"\0" * (1 << 20)), gzip.compress(b"{}") * 3]
    write("gzip_body", [b"\x40" + gzip.compress(p) for p in small] + [b"\x01" + b for b in bombs])


if __name__ == "__main__":
    main()
