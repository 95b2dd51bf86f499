"""Sends one OpenLineage run (START, then COMPLETE) to Headwater with the real Python client.

Used by tests/e2e/openlineage_clients.sh. The client is configured the way a user would in
openlineage.yml: HTTP transport, `compression: gzip` and `auth: {type: api_key}`, so every
request carries `Content-Encoding: gzip` and `Authorization: Bearer <key>`. The job reads
s3://e2e-bucket/raw/events and writes s3://e2e-bucket/clean/events, with a schema facet on both
and a columnLineage facet on the output.

It fails (exit 1) if the client raises (its HTTP transport raises on any 4xx/5xx), if any
request did not get a 2xx or was not gzipped and authenticated as configured, or if anything
logged a warning or an error. On success it prints one JSON line:
{"runId": ..., "job": {"namespace": ..., "name": ...}, "requests": [...]}.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys
from typing import Any

import requests
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import column_lineage_dataset as cl
from openlineage.client.facet_v2 import schema_dataset
from openlineage.client.transport.http import HttpCompression, HttpConfig, HttpTransport
from openlineage.client.uuid import generate_new_uuid

PRODUCER = "https://github.com/headwater/tests/e2e/emit_events.py"
BUCKET = "s3://e2e-bucket"
RAW = "raw/events"
CLEAN = "clean/events"


class Captured(logging.Handler):
    """Keeps every record at WARNING or above, from any logger."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def schema(*columns: tuple[str, str]) -> schema_dataset.SchemaDatasetFacet:
    return schema_dataset.SchemaDatasetFacet(
        fields=[schema_dataset.SchemaDatasetFacetFields(name=n, type=t) for n, t in columns]
    )


def source(field: str, kind: str, subtype: str, description: str) -> cl.InputField:
    return cl.InputField(
        namespace=BUCKET,
        name=RAW,
        field=field,
        transformations=[cl.Transformation(type=kind, subtype=subtype, description=description)],
    )


def datasets() -> tuple[list[InputDataset], list[OutputDataset]]:
    raw = InputDataset(
        namespace=BUCKET,
        name=RAW,
        facets={
            "schema": schema(
                ("event_id", "STRING"), ("user_id", "BIGINT"), ("payload", "STRING"), ("ts", "TIMESTAMP")
            )
        },
    )
    lineage = cl.ColumnLineageDatasetFacet(
        fields={
            "event_id": cl.Fields(inputFields=[source("event_id", "DIRECT", "IDENTITY", "copied")]),
            "user_id": cl.Fields(inputFields=[source("user_id", "DIRECT", "IDENTITY", "copied")]),
            "event_date": cl.Fields(
                inputFields=[source("ts", "DIRECT", "TRANSFORMATION", "cast(ts as date)")]
            ),
        },
        dataset=[source("payload", "INDIRECT", "FILTER", "where payload is not null")],
    )
    clean = OutputDataset(
        namespace=BUCKET,
        name=CLEAN,
        facets={
            "schema": schema(("event_id", "STRING"), ("user_id", "BIGINT"), ("event_date", "DATE")),
            "columnLineage": lineage,
        },
    )
    return [raw], [clean]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="Headwater base URL, e.g. http://127.0.0.1:8080")
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--namespace", default="e2e-client")
    parser.add_argument("--job", default="events.clean")
    args = parser.parse_args()

    captured = Captured()
    logging.getLogger().addHandler(captured)
    logging.getLogger().setLevel(logging.INFO)

    # What a user would put under `transport:` in openlineage.yml.
    config = HttpConfig.from_dict(
        {
            "type": "http",
            "url": args.url,
            "endpoint": "api/v1/lineage",
            "timeout": 10,
            "compression": "gzip",
            "auth": {"type": "api_key", "apiKey": args.api_key},
        }
    )
    if config.compression is not HttpCompression.GZIP:
        print(f"emit_events: compression parsed as {config.compression!r}, not GZIP", file=sys.stderr)
        return 1

    # Record what actually went over the wire, through a response hook on the client's session.
    sent: list[dict[str, Any]] = []

    def record(response: requests.Response, *_: Any, **__: Any) -> None:
        request = response.request
        body = request.body if isinstance(request.body, bytes) else (request.body or "").encode()
        sent.append(
            {
                "method": request.method,
                "url": request.url,
                "status": response.status_code,
                "contentType": request.headers.get("Content-Type"),
                "contentEncoding": request.headers.get("Content-Encoding"),
                "authorization": request.headers.get("Authorization"),
                "gzipMagic": body[:2] == b"\x1f\x8b",
                "wireBytes": len(body),
                "response": response.text[:2000],
            }
        )

    session = requests.Session()
    session.hooks["response"].append(record)
    config.session = session
    client = OpenLineageClient(transport=HttpTransport(config))

    job = Job(namespace=args.namespace, name=args.job)
    run = Run(runId=str(generate_new_uuid()))
    inputs, outputs = datasets()
    started = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    events = [
        RunEvent(eventType=RunState.START, eventTime=started.isoformat(), run=run, job=job,
                 producer=PRODUCER, inputs=inputs, outputs=outputs),
        RunEvent(eventType=RunState.COMPLETE, eventTime=(started + dt.timedelta(seconds=2)).isoformat(),
                 run=run, job=job, producer=PRODUCER, inputs=inputs, outputs=outputs),
    ]
    for event in events:
        try:
            client.emit(event)
        except Exception as e:  # the HTTP transport raises on 4xx/5xx
            print(f"emit_events: the client raised on {event.eventType.value}: {e!r}", file=sys.stderr)
            for s in sent:
                print(f"emit_events: request/response: {json.dumps(s)}", file=sys.stderr)
            return 1
    client.close(timeout=10)

    problems: list[str] = []
    if len(sent) != len(events):
        problems.append(f"expected {len(events)} HTTP requests, saw {len(sent)}")
    for i, s in enumerate(sent):
        if not 200 <= s["status"] < 300:
            problems.append(f"request {i}: status {s['status']}: {s['response']}")
        if s["contentEncoding"] != "gzip" or not s["gzipMagic"]:
            problems.append(f"request {i}: body not gzipped (Content-Encoding {s['contentEncoding']!r})")
        if s["authorization"] != f"Bearer {args.api_key}":
            problems.append(f"request {i}: Authorization header is {s['authorization']!r}")
        if not s["url"].endswith("/api/v1/lineage"):
            problems.append(f"request {i}: posted to {s['url']}")
    for r in captured.records:
        problems.append(f"logged {r.levelname} from {r.name}: {r.getMessage()}")
    if problems:
        for p in problems:
            print(f"emit_events: {p}", file=sys.stderr)
        return 1

    for s in sent:
        s["authorization"] = "Bearer ***"
        s.pop("response")
    print(json.dumps({"runId": run.runId, "job": {"namespace": job.namespace, "name": job.name},
                      "requests": sent}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
