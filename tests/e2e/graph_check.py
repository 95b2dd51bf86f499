"""Assertions over Headwater consumer-API answers, for tests/e2e/openlineage_clients.sh.

The shell script fetches each answer with curl into a file; this script reads that file and
checks one thing about it. It prints what it found on success (some subcommands print a key
for the script to use next) and explains what is missing on failure, exiting 1.

Answers understood:
  /api/v1/graph/nodes    {"items": [node...], "nextCursor": ...}
  /api/v1/graph/lineage  {"nodes": [node...], "edges": [edge...], "truncated": ...}
  /api/v1/graph/node     {"node": node, "edges": [edge...], "neighbours": [node...]}

Subcommands:
  key FILE SUFFIX                  the one listed key ending with SUFFIX (printed)
  keys FILE PREFIX KEY...          the listed keys starting with PREFIX are exactly KEY...
  nodes FILE KEY...                every KEY is a node of the answer
  edge FILE SOURCE KIND TARGET     the answer has that edge
  via-job FILE SOURCE TARGET       a job J with SOURCE -input-> J -output-> TARGET (J printed)
  complete FILE                    the answer is not truncated
  run FILE JOB STATE               a run R with R -run_of-> JOB whose properties.state is STATE
                                   (R printed)
  prop FILE KEY PATH VALUE         node KEY has properties.PATH (dotted) equal to VALUE
"""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn


class CheckFailed(Exception):
    pass


def fail(message: str) -> NoReturn:
    raise CheckFailed(message)


def load(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        fail(f"cannot read JSON answer {path}: {e}")


def nodes_of(answer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for field in ("items", "nodes", "neighbours"):
        found.extend(answer.get(field) or [])
    if isinstance(answer.get("node"), dict):
        found.append(answer["node"])
    return {n["key"]: n for n in found}


def edges_of(answer: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(e["source"], e["kind"], e["target"]) for e in answer.get("edges") or []]


def listing(keys: Any) -> str:
    keys = sorted(keys)
    return "\n    ".join(keys) if keys else "(none)"


def cmd_key(answer: dict[str, Any], suffix: str) -> str:
    matches = [k for k in nodes_of(answer) if k.endswith(suffix)]
    if len(matches) != 1:
        fail(f"expected exactly one key ending with {suffix!r}, found {len(matches)}; "
             f"listed:\n    {listing(nodes_of(answer))}")
    return matches[0]


def cmd_keys(answer: dict[str, Any], prefix: str, *expected: str) -> str:
    got = {k for k in nodes_of(answer) if k.startswith(prefix)}
    want = set(expected)
    if got != want:
        fail(f"keys starting with {prefix!r} differ.\n  missing:\n    {listing(want - got)}"
             f"\n  unexpected:\n    {listing(got - want)}")
    return f"{len(got)} keys as expected"


def cmd_nodes(answer: dict[str, Any], *keys: str) -> str:
    have = nodes_of(answer)
    missing = [k for k in keys if k not in have]
    if missing:
        fail(f"missing nodes:\n    {listing(missing)}\n  the answer has:\n    {listing(have)}")
    return f"{len(keys)} nodes present"


def cmd_edge(answer: dict[str, Any], source: str, kind: str, target: str) -> str:
    edges = edges_of(answer)
    if (source, kind, target) not in edges:
        near = [f"{s} -{k}-> {t}" for s, k, t in edges if s == source or t == target]
        fail(f"no edge {source} -{kind}-> {target}\n  edges at either end:\n    {listing(near)}")
    return f"{source} -{kind}-> {target}"


def cmd_via_job(answer: dict[str, Any], source: str, target: str) -> str:
    nodes = nodes_of(answer)
    edges = edges_of(answer)
    readers = {t for s, k, t in edges if s == source and k == "input"}
    writers = {s for s, k, t in edges if t == target and k == "output"}
    jobs = sorted(j for j in readers & writers if nodes.get(j, {}).get("kind") == "job")
    if not jobs:
        fail(f"no job reads {source} and writes {target}\n  jobs reading the source:\n    "
             f"{listing(readers)}\n  jobs writing the target:\n    {listing(writers)}")
    return jobs[0]


def cmd_complete(answer: dict[str, Any]) -> str:
    if answer.get("truncated") is not False:
        fail(f"truncated is {answer.get('truncated')!r}, expected false")
    return "not truncated"


def cmd_run(answer: dict[str, Any], job: str, state: str) -> str:
    nodes = nodes_of(answer)
    runs = [s for s, k, t in edges_of(answer) if k == "run_of" and t == job]
    if not runs:
        fail(f"no run_of edge into {job}")
    states = {r: (nodes.get(r, {}).get("properties") or {}).get("state") for r in runs}
    matching = sorted(r for r, s in states.items() if s == state)
    if not matching:
        fail(f"no run of {job} has state {state}; runs and states: {states}")
    return matching[0]


def cmd_prop(answer: dict[str, Any], key: str, path: str, value: str) -> str:
    node = nodes_of(answer).get(key)
    if node is None:
        fail(f"no node {key} in the answer")
    current: Any = node.get("properties") or {}
    for part in path.split("."):
        if not isinstance(current, dict) or part not in current:
            fail(f"{key} has no properties.{path}; properties: {json.dumps(node.get('properties'))[:2000]}")
        current = current[part]
    if str(current) != value:
        fail(f"{key} properties.{path} is {current!r}, expected {value!r}")
    return f"{key} properties.{path} = {value}"


COMMANDS = {
    "key": (cmd_key, 1),
    "keys": (cmd_keys, 1),
    "nodes": (cmd_nodes, 1),
    "edge": (cmd_edge, 3),
    "via-job": (cmd_via_job, 2),
    "complete": (cmd_complete, 0),
    "run": (cmd_run, 2),
    "prop": (cmd_prop, 3),
}


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] not in COMMANDS:
        print(__doc__, file=sys.stderr)
        return 2
    command, min_args = COMMANDS[argv[0]]
    args = argv[2:]
    if len(args) < min_args:
        print(f"{argv[0]}: needs at least {min_args} arguments after FILE", file=sys.stderr)
        return 2
    try:
        print(command(load(argv[1]), *args))
    except CheckFailed as e:
        print(f"{argv[0]}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
