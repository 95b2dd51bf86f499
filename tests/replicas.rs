//! Two Headwater processes against one PostgreSQL database: both start (migrating the same
//! fresh database at once), take overlapping OpenLineage and Spline lineage concurrently (the
//! same runs, plans and datasets through both, some bodies through both at the same moment),
//! and then answer the same, complete graph. Nothing is stored twice, no request fails, and
//! neither replica hits a deadlock or a serialization failure. Replicas keep no state of their
//! own.
//!
//! Needs `DATABASE_URL` to point at a PostgreSQL server where it may create databases
//! (default: `postgres://postgres:headwater@127.0.0.1:5432/postgres`).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, TimeDelta, Utc};
use headwater::ingest::spline::convert::event_key;
use serde_json::{Value, json};
use support::snapshot::{GraphDb, Snapshot};
use support::{Answer, Service as Replica, free_ports, http_client, server_url, with_databases};
use uuid::Uuid;

const SPLINE_V12: &str = "application/vnd.absa.spline.producer.v1.2+json";
const RUN_SCHEMA: &str = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent";
const PRODUCER: &str = "https://example.com/headwater-replicas-test";

/// Concurrent writers, half of them on each replica, and how many rounds each writes.
const TASKS: usize = 8;
const ROUNDS: usize = 8;
/// OpenLineage jobs `replicas/step0..` (step k reads d{k} and writes d{k+1} and `audit`).
const STEPS: usize = 4;
/// Spline plans, the same ids posted by every writer (plan p reads d{p+1} and d0, writes
/// report/r{p}).
const PLANS: [&str; 3] = [
    "7a1c0c1e-0000-4000-8000-000000000001",
    "7a1c0c1e-0000-4000-8000-000000000002",
    "7a1c0c1e-0000-4000-8000-000000000003",
];

#[tokio::test(flavor = "multi_thread")]
async fn two_replicas_share_one_database() {
    let started = Instant::now();
    with_databases(&server_url(), "hw_replicas", |[url]| scenario(url)).await;
    eprintln!("two replicas: passed in {:.1?}", started.elapsed());
}

async fn scenario(database_url: String) {
    let begun = Instant::now();
    let ports = free_ports::<2>();
    let replicas = ports.map(|port| Replica::start(port, &database_url, &[]));
    let http = http_client();
    for replica in &replicas {
        replica.wait_ready(&http).await;
    }
    let replicas = Arc::new(replicas);
    let ready = begun.elapsed();

    // Write through both at once.
    let base = DateTime::parse_from_rfc3339("2026-01-05T08:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let writers: Vec<_> = (0..TASKS)
        .map(|task| {
            let (http, replicas) = (http.clone(), replicas.clone());
            tokio::spawn(async move { write(task, base, &http, &replicas).await })
        })
        .collect();
    let mut written = Written::default();
    let mut failures = Vec::new();
    for writer in writers {
        let (w, f) = writer.await.expect("a writer panicked");
        written.ol_runs.extend(w.ol_runs);
        written.spline_runs.extend(w.spline_runs);
        written.bodies.extend(w.bodies);
        written.requests += w.requests;
        failures.extend(f);
    }
    let wrote = begun.elapsed() - ready;
    let logs = replicas.iter().map(Replica::log).collect::<Vec<_>>();
    assert!(
        failures.is_empty(),
        "{} of {} requests failed:\n{}\n\nreplica logs:\n{}",
        failures.len(),
        written.requests,
        failures.join("\n"),
        logs.join("\n")
    );
    assert_no_conflicts_logged(&logs);

    let expected_runs = written.run_keys();
    assert_eq!(
        expected_runs.len(),
        2 * TASKS * ROUNDS,
        "run ids are unique"
    );

    // Read back through both: the same graph, all of it.
    let mut lineages = Vec::new();
    let mut runs = Vec::new();
    for replica in replicas.iter() {
        lineages.push(lineage(replica, &http, &dataset("d0")).await);
        runs.push(list_runs(replica, &http).await);
    }
    let (lineage, others) = lineages.split_first().unwrap();
    for other in others {
        assert_eq!(
            lineage.nodes, other.nodes,
            "the replicas disagree on lineage nodes"
        );
        assert_eq!(
            lineage.edges, other.edges,
            "the replicas disagree on lineage edges"
        );
    }
    let wanted = expected_lineage_nodes();
    let missing: Vec<_> = wanted.difference(&lineage.nodes).collect();
    assert!(
        missing.is_empty(),
        "lineage lacks {missing:?}; has {:?}",
        lineage.nodes
    );
    for k in 0..STEPS {
        let job = format!("job:replicas/step{k}");
        for edge in [
            (dataset(&format!("d{k}")), "input".to_owned(), job.clone()),
            (
                job.clone(),
                "output".to_owned(),
                dataset(&format!("d{}", k + 1)),
            ),
            (job.clone(), "output".to_owned(), dataset("audit")),
        ] {
            assert!(lineage.edges.contains(&edge), "no edge {edge:?}");
        }
    }

    let (listed, others) = runs.split_first().unwrap();
    for other in others {
        assert_eq!(listed, other, "the replicas list different runs");
    }
    let keys: BTreeSet<String> = listed.keys().cloned().collect();
    let extra: Vec<_> = keys.difference(&expected_runs).collect();
    let lost: Vec<_> = expected_runs.difference(&keys).collect();
    assert!(
        extra.is_empty() && lost.is_empty(),
        "runs not posted: {extra:?}; runs posted but not listed: {lost:?}"
    );
    // START went to one replica and COMPLETE to the other: every run ends complete.
    for id in &written.ol_runs {
        let state = &listed[&format!("run:{id}")]["state"];
        assert_eq!(state, "COMPLETE", "run {id}");
    }

    let db = GraphDb::connect(&database_url).await;
    assert_eq!(
        db.duplicates().await,
        0,
        "a key, edge or payload stored twice"
    );
    let stored = db.snapshot().await;
    db.close().await;
    assert_stored_once(&stored, &written);
    eprintln!(
        "two replicas: ready in {ready:.1?}, {} writes in {wrote:.1?}; {} runs, {} lineage \
         nodes and {} edges, the same on both; {} payloads, each once",
        written.requests,
        keys.len(),
        lineage.nodes.len(),
        lineage.edges.len(),
        stored.payloads.len()
    );
}

/// What the writers posted.
#[derive(Default)]
struct Written {
    /// OpenLineage run ids.
    ol_runs: Vec<Uuid>,
    /// Spline execution events: (plan id, timestamp in ms).
    spline_runs: Vec<(&'static str, i64)>,
    /// Every distinct body posted.
    bodies: BTreeSet<String>,
    requests: usize,
}

impl Written {
    fn run_keys(&self) -> BTreeSet<String> {
        let ol = self.ol_runs.iter().map(|id| format!("run:{id}"));
        let spline = self.spline_runs.iter().map(|(plan, ts)| {
            let plan: Uuid = plan.parse().unwrap();
            format!("run:{}", event_key(&plan, *ts))
        });
        ol.chain(spline).collect()
    }
}

/// One writer: each round, a run of a shared OpenLineage job (START through its own replica,
/// COMPLETE through both at once) and a shared Spline plan (posted again, through both at
/// once) with a new execution event. Returns what it wrote and the requests that did not
/// answer 2xx.
async fn write(
    task: usize,
    base: DateTime<Utc>,
    http: &reqwest::Client,
    replicas: &[Replica; 2],
) -> (Written, Vec<String>) {
    let (own, other) = (&replicas[task % 2], &replicas[(task + 1) % 2]);
    let mut written = Written::default();
    let mut failures = Vec::new();
    let mut check = |what: String, result: Result<Answer, reqwest::Error>| {
        written.requests += 1;
        match result {
            Ok(answer) if answer.is_success() => {}
            Ok(answer) => failures.push(format!("{what}: {} {}", answer.status, answer.body)),
            Err(err) => failures.push(format!("{what}: {err}")),
        }
    };
    let mut bodies = BTreeSet::new();
    for round in 0..ROUNDS {
        let n = (task * ROUNDS + round) as i64;
        let step = (task + round) % STEPS;
        let run = Uuid::new_v4();
        let start = base + TimeDelta::seconds(10 * n);
        let end = start + TimeDelta::seconds(5);
        let event = ol_event(step, run, "START", start).to_string();
        bodies.insert(event.clone());
        let result = own
            .post(http, "/api/v1/lineage", "application/json", event)
            .await;
        check(format!("task {task}: START {run} on {}", own.addr), result);
        let event = ol_event(step, run, "COMPLETE", end).to_string();
        bodies.insert(event.clone());
        let (first, second) = tokio::join!(
            other.post(http, "/api/v1/lineage", "application/json", event.clone()),
            own.post(http, "/api/v1/lineage", "application/json", event),
        );
        check(format!("task {task}: COMPLETE {run} on both"), first);
        check(format!("task {task}: COMPLETE {run} on both"), second);
        written.ol_runs.push(run);

        let p = (task + round) % PLANS.len();
        let plan = spline_plan(p).to_string();
        bodies.insert(plan.clone());
        let (first, second) = tokio::join!(
            own.post(http, "/producer/execution-plans", SPLINE_V12, plan.clone()),
            other.post(http, "/producer/execution-plans", SPLINE_V12, plan),
        );
        check(format!("task {task}: plan {} on both", PLANS[p]), first);
        check(format!("task {task}: plan {} on both", PLANS[p]), second);
        let timestamp = end.timestamp_millis() + task as i64;
        let events = json!([{
            "planId": PLANS[p],
            "timestamp": timestamp,
            "durationNs": 5_000_000_000_i64,
            "extra": {"appId": format!("app-{task}-{round}")}
        }])
        .to_string();
        bodies.insert(events.clone());
        let result = own
            .post(http, "/producer/execution-events", SPLINE_V12, events)
            .await;
        check(
            format!("task {task}: event of plan {} on {}", PLANS[p], own.addr),
            result,
        );
        written.spline_runs.push((PLANS[p], timestamp));
    }
    written.bodies = bodies;
    (written, failures)
}

/// In SQL: every distinct body archived once, and exactly the datasets, jobs and runs posted,
/// none under a second key.
fn assert_stored_once(stored: &Snapshot, written: &Written) {
    assert_eq!(
        stored.payloads.len(),
        written.bodies.len(),
        "archived payloads vs distinct bodies posted"
    );
    let of_kind = |kind: &str| -> BTreeSet<String> {
        let nodes = stored.nodes.iter().filter(|(_, (k, _, _))| k == kind);
        nodes.map(|(key, _)| key.clone()).collect()
    };
    let wanted = expected_lineage_nodes();
    let datasets = wanted.iter().filter(|k| k.starts_with("dataset:")).cloned();
    assert_eq!(of_kind("dataset"), datasets.collect());
    let jobs = wanted.iter().filter(|k| k.starts_with("job:")).cloned();
    assert_eq!(of_kind("job"), jobs.collect());
    assert_eq!(of_kind("run"), written.run_keys());
}

/// Lock conflicts are retried inside the store, so a client never sees one; this asks that
/// they do not happen at all: writers lock shared rows in key order. Errors fail the test.
fn assert_no_conflicts_logged(logs: &[String]) {
    let problems: Vec<&str> = logs
        .iter()
        .flat_map(|l| l.lines())
        .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
        .collect();
    if !problems.is_empty() {
        eprintln!("replica warnings and errors:\n{}", problems.join("\n"));
    }
    let conflict = |l: &&&str| {
        let l = l.to_lowercase();
        ["deadlock", "serializ", "lockconflict", "lock conflict"]
            .iter()
            .any(|w| l.contains(w))
    };
    let bad: Vec<&&str> = problems
        .iter()
        .filter(|l| l.contains(" ERROR ") || conflict(l))
        .collect();
    assert!(
        bad.is_empty(),
        "the replicas logged errors or lock conflicts: {bad:#?}"
    );
}

/// A RunEvent of `replicas/step{step}`: reads d{step}, writes d{step+1} and `audit`.
fn ol_event(step: usize, run: Uuid, event_type: &str, time: DateTime<Utc>) -> Value {
    let ds = |name: String| json!({"namespace": "s3://replicas", "name": name});
    json!({
        "eventTime": time.to_rfc3339(),
        "eventType": event_type,
        "producer": PRODUCER,
        "schemaURL": RUN_SCHEMA,
        "run": {"runId": run},
        "job": {"namespace": "replicas", "name": format!("step{step}")},
        "inputs": [ds(format!("d{step}"))],
        "outputs": [ds(format!("d{}", step + 1)), ds("audit".to_owned())]
    })
}

/// Spline plan `p`: reads d{p+1} and d0, writes report/r{p}.
fn spline_plan(p: usize) -> Value {
    let inputs = [uri(&format!("d{}", p + 1)), uri("d0")];
    json!({
        "id": PLANS[p],
        "name": format!("report-{p}"),
        "operations": {
            "write": {"id": "op-0", "outputSource": uri(&format!("report/r{p}")),
                      "append": false, "childIds": ["op-1"]},
            "reads": [{"id": "op-1", "inputSources": inputs, "output": ["attr-1"]}]
        },
        "attributes": [{"id": "attr-1", "name": "order_id"}],
        "systemInfo": {"name": "spark", "version": "3.5.0"}
    })
}

fn uri(name: &str) -> String {
    format!("s3://replicas/{name}")
}

fn dataset(name: &str) -> String {
    format!("dataset:{}", uri(name))
}

/// Every dataset and job written, all downstream of d0.
fn expected_lineage_nodes() -> BTreeSet<String> {
    let datasets = (0..=STEPS)
        .map(|k| format!("d{k}"))
        .chain(["audit".to_owned()])
        .chain((0..PLANS.len()).map(|p| format!("report/r{p}")))
        .map(|name| dataset(&name));
    let jobs = (0..STEPS)
        .map(|k| format!("job:replicas/step{k}"))
        .chain(PLANS.iter().map(|p| format!("job:{p}")));
    datasets.chain(jobs).collect()
}

/// The lineage subgraph as sets, to compare.
#[derive(Debug)]
struct Lineage {
    nodes: BTreeSet<String>,
    edges: BTreeSet<(String, String, String)>,
}

async fn lineage(replica: &Replica, http: &reqwest::Client, node: &str) -> Lineage {
    let query = [("node", node), ("direction", "both"), ("depth", "10")];
    let body = replica
        .get_json(http, "/api/v1/graph/lineage", &query)
        .await;
    assert_eq!(body["truncated"], false, "{body:#}");
    let text = |v: &Value| v.as_str().unwrap().to_owned();
    let items = |field: &str| body[field].as_array().unwrap().clone();
    Lineage {
        nodes: items("nodes").iter().map(|n| text(&n["key"])).collect(),
        edges: items("edges")
            .iter()
            .map(|e| (text(&e["source"]), text(&e["kind"]), text(&e["target"])))
            .collect(),
    }
}

/// Every run node, page by page: key → properties. Panics on a key listed twice.
async fn list_runs(replica: &Replica, http: &reqwest::Client) -> BTreeMap<String, Value> {
    let mut runs = BTreeMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut query = vec![("kind", "run"), ("limit", "1000")];
        if let Some(cursor) = &cursor {
            query.push(("cursor", cursor));
        }
        let page = replica.get_json(http, "/api/v1/graph/nodes", &query).await;
        for node in page["items"].as_array().unwrap() {
            let key = node["key"].as_str().unwrap().to_owned();
            let again = runs.insert(key.clone(), node["properties"].clone());
            assert!(again.is_none(), "{} lists run {key} twice", replica.addr);
        }
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return runs,
        }
    }
}
