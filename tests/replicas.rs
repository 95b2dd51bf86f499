//! Two Headwater processes against one PostgreSQL database: both start (migrating the same
//! fresh database at once), take overlapping OpenLineage and Spline lineage concurrently, and
//! then answer the same, complete graph. Replicas keep no state of their own.
//!
//! Needs `DATABASE_URL` to point at a PostgreSQL server where it may create databases
//! (default: `postgres://postgres:headwater@127.0.0.1:5432/postgres`).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use futures::FutureExt;
use serde_json::{Value, json};
use sqlx::Connection;
use sqlx::postgres::PgConnection;
use uuid::Uuid;

const DEFAULT_DATABASE_URL: &str = "postgres://postgres:headwater@127.0.0.1:5432/postgres";
const SPLINE_V12: &str = "application/vnd.absa.spline.producer.v1.2+json";
const RUN_SCHEMA: &str = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent";
const PRODUCER: &str = "https://example.com/headwater-replicas-test";
/// How long a replica may take to start (build caches cold, migrations on a fresh database).
const READY_DEADLINE: Duration = Duration::from_secs(90);

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
    let server_url =
        std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_DATABASE_URL.to_owned());
    let name = format!("hw_replicas_{}", Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&server_url)
        .await
        .unwrap_or_else(|e| panic!("connecting to DATABASE_URL ({server_url}): {e}"));
    sqlx::query(&format!("create database {name}"))
        .execute(&mut admin)
        .await
        .expect("create database");

    let outcome = std::panic::AssertUnwindSafe(scenario(with_database(&server_url, &name)))
        .catch_unwind()
        .await;

    // The replicas are gone by now (their guards dropped inside the scenario).
    let dropped = sqlx::query(&format!("drop database {name} with (force)"))
        .execute(&mut admin)
        .await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
    dropped.expect("drop database");
    eprintln!("two replicas: passed in {:.1?}", started.elapsed());
}

async fn scenario(database_url: String) {
    let begun = Instant::now();
    let ports = free_ports::<2>();
    let replicas = ports.map(|port| Replica::start(port, &database_url));
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
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
    report_log_problems(&logs);

    // Read back through both: the same graph, all of it.
    let expected_runs: BTreeSet<String> = written
        .ol_runs
        .iter()
        .map(|id| format!("run:{id}"))
        .chain(
            written
                .spline_runs
                .iter()
                .map(|(plan, ts)| format!("run:{plan}:{}", base36(*ts))),
        )
        .collect();
    assert_eq!(
        expected_runs.len(),
        2 * TASKS * ROUNDS,
        "run ids are unique"
    );

    let mut lineages = Vec::new();
    let mut runs = Vec::new();
    for replica in replicas.iter() {
        lineages.push(replica.lineage(&http, &dataset("d0")).await);
        runs.push(replica.runs(&http).await);
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
    assert_eq!(
        keys.len(),
        listed.len(),
        "a run is listed twice: {:?}",
        listed.keys().collect::<Vec<_>>()
    );
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
    eprintln!(
        "two replicas: ready in {ready:.1?}, {} writes in {wrote:.1?}; {} runs, {} lineage \
         nodes and {} edges, the same on both",
        written.requests,
        keys.len(),
        lineage.nodes.len(),
        lineage.edges.len()
    );
}

/// What the writers posted.
#[derive(Default)]
struct Written {
    /// OpenLineage run ids.
    ol_runs: Vec<Uuid>,
    /// Spline execution events: (plan id, timestamp in ms).
    spline_runs: Vec<(&'static str, i64)>,
    requests: usize,
}

/// One writer: each round, a run of a shared OpenLineage job (START through its own replica,
/// COMPLETE through the other) and a shared Spline plan (posted again) with a new execution
/// event. Returns what it wrote and the requests that did not answer 2xx.
async fn write(
    task: usize,
    base: DateTime<Utc>,
    http: &reqwest::Client,
    replicas: &[Replica; 2],
) -> (Written, Vec<String>) {
    let (own, other) = (&replicas[task % 2], &replicas[(task + 1) % 2]);
    let mut written = Written::default();
    let mut failures = Vec::new();
    let mut check = |what: String, result: Result<(u16, String), reqwest::Error>| {
        written.requests += 1;
        match result {
            Ok((status, _)) if (200..300).contains(&status) => {}
            Ok((status, body)) => failures.push(format!("{what}: {status} {body}")),
            Err(err) => failures.push(format!("{what}: {err}")),
        }
    };
    for round in 0..ROUNDS {
        let n = (task * ROUNDS + round) as i64;
        let step = (task + round) % STEPS;
        let run = Uuid::new_v4();
        let start = base + TimeDelta::seconds(10 * n);
        let end = start + TimeDelta::seconds(5);
        let event = ol_event(step, run, "START", start);
        let result = own
            .post(http, "/api/v1/lineage", "application/json", &event)
            .await;
        check(format!("task {task}: START {run} on {}", own.addr), result);
        let event = ol_event(step, run, "COMPLETE", end);
        let result = other
            .post(http, "/api/v1/lineage", "application/json", &event)
            .await;
        check(
            format!("task {task}: COMPLETE {run} on {}", other.addr),
            result,
        );
        written.ol_runs.push(run);

        let p = (task + round) % PLANS.len();
        let plan = spline_plan(p);
        let result = own
            .post(http, "/producer/execution-plans", SPLINE_V12, &plan)
            .await;
        check(
            format!("task {task}: plan {} on {}", PLANS[p], own.addr),
            result,
        );
        let timestamp = end.timestamp_millis() + task as i64;
        let events = json!([{
            "planId": PLANS[p],
            "timestamp": timestamp,
            "durationNs": 5_000_000_000_i64,
            "extra": {"appId": format!("app-{task}-{round}")}
        }]);
        let result = own
            .post(http, "/producer/execution-events", SPLINE_V12, &events)
            .await;
        check(
            format!("task {task}: event of plan {} on {}", PLANS[p], own.addr),
            result,
        );
        written.spline_runs.push((PLANS[p], timestamp));
    }
    (written, failures)
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

/// Java's `Long.toString(n, 36)` for n ≥ 0: Spline's run keys end with the event timestamp so.
fn base36(mut n: i64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap()
}

/// The lineage subgraph as sets, to compare.
#[derive(Debug)]
struct Lineage {
    nodes: BTreeSet<String>,
    edges: BTreeSet<(String, String, String)>,
}

/// A running `headwater serve`, killed when dropped (also when the test panics).
struct Replica {
    addr: SocketAddr,
    child: Mutex<Child>,
    /// Its stdout and stderr (logs go to stdout), as read so far.
    output: Arc<Mutex<String>>,
}

impl Replica {
    fn start(port: u16, database_url: &str) -> Replica {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut child = Command::new(env!("CARGO_BIN_EXE_headwater"))
            .arg("serve")
            .arg("--addr")
            .arg(addr.to_string())
            .arg("--database-url")
            .arg(database_url)
            .env("RUST_LOG", "headwater=info,tower_http=warn,sqlx=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting headwater serve");
        let output = Arc::new(Mutex::new(String::new()));
        // Drain both pipes, or a chatty child would block once a pipe buffer is full.
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        drain(stdout, output.clone());
        drain(stderr, output.clone());
        Replica {
            addr,
            child: Mutex::new(child),
            output,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// What it logged, each line prefixed with its address.
    fn log(&self) -> String {
        let output = self.output.lock().unwrap();
        output
            .lines()
            .map(|l| format!("[{}] {l}", self.addr))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Polls `/health/ready` until it answers 200; panics with the log if it exits first or
    /// never gets ready.
    async fn wait_ready(&self, http: &reqwest::Client) {
        let deadline = Instant::now() + READY_DEADLINE;
        loop {
            if let Some(status) = self.child.lock().unwrap().try_wait().unwrap() {
                panic!(
                    "replica {} exited ({status}) before it was ready:\n{}",
                    self.addr,
                    self.log()
                );
            }
            let last = match http.get(self.url("/health/ready")).send().await {
                Ok(r) if r.status() == 200 => return,
                Ok(r) => format!("{} {}", r.status(), r.text().await.unwrap_or_default()),
                Err(e) => e.to_string(),
            };
            if Instant::now() > deadline {
                panic!(
                    "replica {} not ready after {READY_DEADLINE:?} (last: {last}):\n{}",
                    self.addr,
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// POSTs `body`; the status and body text.
    async fn post(
        &self,
        http: &reqwest::Client,
        path: &str,
        content_type: &str,
        body: &Value,
    ) -> Result<(u16, String), reqwest::Error> {
        let response = http
            .post(self.url(path))
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body.to_string())
            .send()
            .await?;
        let status = response.status().as_u16();
        Ok((status, response.text().await?))
    }

    async fn get_json(&self, http: &reqwest::Client, path: &str, query: &[(&str, &str)]) -> Value {
        let response = http
            .get(self.url(path))
            .query(query)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path} on {}: {e}", self.addr));
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(status, 200, "GET {path} {query:?} on {}: {text}", self.addr);
        serde_json::from_str(&text).unwrap()
    }

    async fn lineage(&self, http: &reqwest::Client, node: &str) -> Lineage {
        let query = [("node", node), ("direction", "both"), ("depth", "10")];
        let body = self.get_json(http, "/api/v1/graph/lineage", &query).await;
        assert_eq!(body["truncated"], false, "{body:#}");
        let text = |v: &Value| v.as_str().unwrap().to_owned();
        Lineage {
            nodes: body["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| text(&n["key"]))
                .collect(),
            edges: body["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| (text(&e["source"]), text(&e["kind"]), text(&e["target"])))
                .collect(),
        }
    }

    /// Every run node, page by page: key → properties. Panics on a key listed twice.
    async fn runs(&self, http: &reqwest::Client) -> BTreeMap<String, Value> {
        let mut runs = BTreeMap::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut query = vec![("kind", "run"), ("limit", "1000")];
            if let Some(cursor) = &cursor {
                query.push(("cursor", cursor));
            }
            let page = self.get_json(http, "/api/v1/graph/nodes", &query).await;
            for node in page["items"].as_array().unwrap() {
                let key = node["key"].as_str().unwrap().to_owned();
                let again = runs.insert(key.clone(), node["properties"].clone());
                assert!(again.is_none(), "{} lists run {key} twice", self.addr);
            }
            match page["nextCursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return runs,
            }
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let child = self.child.get_mut().unwrap_or_else(|e| e.into_inner());
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Copies a pipe into `into` on a thread of its own, until the child closes it.
fn drain(mut pipe: impl Read + Send + 'static, into: Arc<Mutex<String>>) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n @ 1..) = pipe.read(&mut buf) {
            let text = String::from_utf8_lossy(&buf[..n]);
            into.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push_str(&text);
        }
    });
}

/// Warnings (e.g. writes retried after a deadlock) are shown; errors fail the test.
fn report_log_problems(logs: &[String]) {
    let problems: Vec<&str> = logs
        .iter()
        .flat_map(|l| l.lines())
        .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
        .collect();
    if !problems.is_empty() {
        eprintln!("replica warnings and errors:\n{}", problems.join("\n"));
    }
    let errors: Vec<&&str> = problems.iter().filter(|l| l.contains(" ERROR ")).collect();
    assert!(errors.is_empty(), "the replicas logged errors: {errors:#?}");
}

/// `n` distinct loopback ports that were free a moment ago (all bound at once, then let go).
fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: [TcpListener; N] =
        std::array::from_fn(|_| TcpListener::bind("127.0.0.1:0").expect("binding port 0"));
    listeners.map(|l| l.local_addr().unwrap().port())
}

/// `server_url` with its database replaced by `name`, query parameters kept.
fn with_database(server_url: &str, name: &str) -> String {
    let (url, params) = match server_url.split_once('?') {
        Some((url, params)) => (url, format!("?{params}")),
        None => (server_url, String::new()),
    };
    let scheme_end = url.find("://").map_or(0, |i| i + 3);
    let authority_end = url[scheme_end..]
        .find('/')
        .map_or(url.len(), |i| scheme_end + i);
    format!("{}/{name}{params}", &url[..authority_end])
}

#[test]
fn the_database_is_swapped_in_the_url() {
    assert_eq!(
        with_database("postgres://u:p@h:5432/postgres", "x"),
        "postgres://u:p@h:5432/x"
    );
    assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
    assert_eq!(
        with_database("postgres://h/db?sslmode=disable", "x"),
        "postgres://h/x?sslmode=disable"
    );
    assert_eq!(base36(1684226827008), "lhq160w0");
}
