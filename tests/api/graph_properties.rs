//! Property tests of the graph invariants (proptest), through the real parsers and the real
//! store, on both backends:
//! - the order payloads arrive in does not change the graph;
//! - storing everything again, or replaying the archive over it, changes nothing;
//! - after a prune, replaying the kept archive changes nothing, and rebuilding from it in a
//!   fresh database gives the pruned graph less exactly what retention keeps by design.
//!
//! Scenarios are small sets of Spline plans with events and OpenLineage events over a pool of
//! four datasets (two of them spelled differently by the two formats), three columns, two
//! jobs, three runs and four event times, so that payloads overlap, merge and tie.
//!
//! Payloads go through `archive::changes` (the parsers every entry point uses) and
//! `Store::apply` (the write every entry point uses), as `headwater import` does: HTTP ingest
//! stamps receipt with the wall clock, and a Spline plan's nodes take their time from its
//! receipt, so an order-independence claim has to fix each payload's receipt time.
//!
//! `PROPTEST_CASES` sets the cases per property (default 6, so the suite stays quick); e.g.
//! `PROPTEST_CASES=500 cargo test --test api graph_properties` for a long run.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};
use headwater::archive;
use headwater::model::RawPayload;
use headwater::store::PruneRequest;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};

use crate::helpers::*;

/// (OpenLineage namespace, name, the URI a Spline agent writes for the same dataset).
const DATASETS: [(&str, &str, &str); 4] = [
    ("s3://lake", "raw/orders", "s3a://lake/raw/orders"),
    ("s3://lake", "raw/customers", "s3://lake/raw/customers"),
    ("s3://lake", "marts/revenue", "s3://lake/marts/revenue/"),
    (
        "hdfs://nn:8020",
        "/data/events",
        "hdfs://nn:8020/data/events",
    ),
];
const COLUMNS: [&str; 3] = ["id", "amount", "name"];
const JOBS: [&str; 2] = ["daily", "hourly"];
const RUNS: [&str; 3] = [
    "0192960e-4c5f-7c6a-8f5a-000000000001",
    "0192960e-4c5f-7c6a-8f5a-000000000002",
    "0192960e-4c5f-7c6a-8f5a-000000000003",
];
const EVENT_TYPES: [&str; 4] = ["START", "RUNNING", "COMPLETE", "FAIL"];
/// Event times, seconds after [`epoch`]: few, so that events tie.
const TIMES: usize = 4;

fn epoch() -> DateTime<Utc> {
    "2026-01-01T00:00:00Z".parse().unwrap()
}

/// A Spline plan: what it reads and writes, and the columns its read produces.
#[derive(Debug, Clone)]
struct Plan {
    inputs: BTreeSet<usize>,
    output: usize,
    append: bool,
    columns: BTreeSet<usize>,
}

/// An OpenLineage RunEvent.
#[derive(Debug, Clone)]
struct OlEvent {
    job: usize,
    run: usize,
    event_type: usize,
    at: usize,
    /// Datasets read, with the columns their schema facet names.
    inputs: BTreeMap<usize, BTreeSet<usize>>,
    /// Datasets written, with columns; each derives from the same column of the first input.
    outputs: BTreeMap<usize, BTreeSet<usize>>,
    /// A custom run facet's value: events of one run disagree on it.
    mark: u8,
}

#[derive(Debug, Clone)]
enum Payload {
    /// Plan `i`: its body is a function of `i` within a scenario, as a plan id names one plan.
    Plan(usize),
    /// An execution event of plan `plan` at time `at`: its body is a function of both, as
    /// Spline identifies an event by them.
    SplineEvent {
        plan: usize,
        at: usize,
    },
    OpenLineage(OlEvent),
}

#[derive(Debug, Clone)]
struct Scenario {
    plans: Vec<Plan>,
    payloads: Vec<Payload>,
}

fn indices(max: usize, most: usize) -> impl Strategy<Value = BTreeSet<usize>> {
    prop::collection::btree_set(0..max, 1..=most)
}

fn plan() -> impl Strategy<Value = Plan> {
    (indices(4, 2), 0..4usize, any::<bool>(), indices(3, 3)).prop_map(
        |(inputs, output, append, columns)| Plan {
            inputs,
            output,
            append,
            columns,
        },
    )
}

fn ol_event() -> impl Strategy<Value = OlEvent> {
    let datasets = || prop::collection::btree_map(0..4usize, indices(3, 2), 0..=2);
    (
        (0..2usize, 0..3usize, 0..4usize, 0..TIMES),
        datasets(),
        datasets(),
        0..3u8,
    )
        .prop_map(
            |((job, run, event_type, at), inputs, outputs, mark)| OlEvent {
                job,
                run,
                event_type,
                at,
                inputs,
                outputs,
                mark,
            },
        )
}

fn payload() -> impl Strategy<Value = Payload> {
    prop_oneof![
        (0..2usize, 0..TIMES).prop_map(|(plan, at)| Payload::SplineEvent { plan, at }),
        ol_event().prop_map(Payload::OpenLineage),
        ol_event().prop_map(Payload::OpenLineage),
    ]
}

/// Two plans, and up to eight events; every plan an event names is posted too.
fn scenario() -> impl Strategy<Value = Scenario> {
    (
        prop::collection::vec(plan(), 2),
        prop::collection::vec(payload(), 1..=8),
    )
        .prop_map(|(plans, mut payloads)| {
            let mut named: Vec<usize> = payloads
                .iter()
                .filter_map(|p| match p {
                    Payload::SplineEvent { plan, .. } => Some(*plan),
                    _ => None,
                })
                .collect();
            named.sort_unstable();
            named.dedup();
            payloads.extend(named.into_iter().map(Payload::Plan));
            Scenario { plans, payloads }
        })
}

/// A random arrival order in which every plan comes before its events (an event of a plan not
/// yet stored is refused, by design).
fn arrival(len: usize) -> impl Strategy<Value = Vec<usize>> {
    Just((0..len).collect::<Vec<_>>()).prop_shuffle()
}

fn plan_id(plan: usize) -> String {
    format!("7a3f4f6e-8b1c-4e2a-9d4f-00000000000{plan}")
}

fn ol_dataset(d: usize, columns: &BTreeSet<usize>, facets: Value) -> Value {
    let (namespace, name, _) = DATASETS[d];
    let fields: Vec<Value> = columns
        .iter()
        .map(|c| json!({"name": COLUMNS[*c]}))
        .collect();
    let mut facets = facets;
    facets["schema"] = json!({"fields": fields});
    json!({"namespace": namespace, "name": name, "facets": facets})
}

fn column_lineage(e: &OlEvent, columns: &BTreeSet<usize>) -> Value {
    let Some(&source) = e.inputs.keys().next() else {
        return json!({});
    };
    let (namespace, name, _) = DATASETS[source];
    let fields: serde_json::Map<String, Value> = columns
        .iter()
        .map(|c| {
            let input = json!({"namespace": namespace, "name": name, "field": COLUMNS[*c]});
            (COLUMNS[*c].to_owned(), json!({"inputFields": [input]}))
        })
        .collect();
    json!({"columnLineage": {"fields": fields}})
}

impl Scenario {
    /// The body of payload `i`.
    fn body(&self, i: usize) -> String {
        match &self.payloads[i] {
            Payload::Plan(p) => self.plan_body(*p),
            Payload::SplineEvent { plan, at } => json!([{
                "planId": plan_id(*plan),
                "timestamp": (epoch() + Duration::seconds(*at as i64)).timestamp_millis(),
                "durationNs": 1_000 + at,
            }])
            .to_string(),
            Payload::OpenLineage(e) => Self::ol_body(e),
        }
    }

    fn plan_body(&self, p: usize) -> String {
        let plan = &self.plans[p];
        let attributes: Vec<Value> = plan
            .columns
            .iter()
            .map(|c| json!({"id": format!("attr-{c}"), "name": COLUMNS[*c]}))
            .collect();
        let ids: Vec<String> = plan.columns.iter().map(|c| format!("attr-{c}")).collect();
        let inputs: Vec<&str> = plan.inputs.iter().map(|d| DATASETS[*d].2).collect();
        json!({
            "id": plan_id(p), "name": format!("plan {p}"),
            "operations": {
                "write": {"id": "op-0", "outputSource": DATASETS[plan.output].2,
                          "append": plan.append, "childIds": ["op-1"]},
                "reads": [{"id": "op-1", "inputSources": inputs, "output": ids}]
            },
            "attributes": attributes,
            "systemInfo": {"name": "spark", "version": "3.5.0"}
        })
        .to_string()
    }

    fn ol_body(e: &OlEvent) -> String {
        let inputs: Vec<Value> = (e.inputs.iter())
            .map(|(d, c)| ol_dataset(*d, c, json!({})))
            .collect();
        let outputs: Vec<Value> = (e.outputs.iter())
            .map(|(d, c)| ol_dataset(*d, c, column_lineage(e, c)))
            .collect();
        let at = epoch() + Duration::seconds(e.at as i64);
        json!({
            "eventType": EVENT_TYPES[e.event_type], "eventTime": at.to_rfc3339(),
            "producer": "https://example.com/proptest",
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
            "run": {"runId": RUNS[e.run], "facets": {"mark": {"value": e.mark}}},
            "job": {"namespace": "etl", "name": JOBS[e.job]},
            "inputs": inputs, "outputs": outputs
        })
        .to_string()
    }

    /// Payload `i` as archived: a Spline one with its receipt time (the same for equal
    /// bodies: a payload and its receipt go together), an OpenLineage one with its event time.
    fn raw(&self, i: usize, received_at: DateTime<Utc>) -> RawPayload {
        let body = self.body(i);
        let (format, version, content_type) = match &self.payloads[i] {
            Payload::Plan(_) => (archive::SPLINE_PLAN, "1.2", V12),
            Payload::SplineEvent { .. } => (archive::SPLINE_EVENTS, "1.2", V12),
            Payload::OpenLineage(_) => (archive::OPENLINEAGE_EVENT, "2-0-2", "application/json"),
        };
        let event_time = match &self.payloads[i] {
            Payload::OpenLineage(e) => Some(epoch() + Duration::seconds(e.at as i64)),
            _ => None,
        };
        RawPayload {
            format: format.to_owned(),
            version: version.to_owned(),
            content_type: content_type.to_owned(),
            wire_bytes: body.len(),
            body: body.into_bytes().into(),
            received_at,
            event_time,
            received_by: None,
            request_id: None,
        }
    }

    /// `order` with every plan moved before the first of its events.
    fn plans_first(&self, order: &[usize]) -> Vec<usize> {
        let plan_of = |i: usize| match self.payloads[i] {
            Payload::SplineEvent { plan, .. } => Some(plan),
            _ => None,
        };
        let position = |plan: usize| {
            let is_it = |i: &usize| matches!(self.payloads[*i], Payload::Plan(p) if p == plan);
            order.iter().copied().find(is_it)
        };
        let mut placed = Vec::with_capacity(order.len());
        for &i in order {
            if let Some(plan) = plan_of(i).and_then(position)
                && !placed.contains(&plan)
            {
                placed.push(plan);
            }
            if !placed.contains(&i) {
                placed.push(i);
            }
        }
        placed
    }

    /// Receipt time of each payload: by first appearance of its body in the scenario.
    fn receipts(&self) -> Vec<DateTime<Utc>> {
        let mut first: HashMap<String, usize> = HashMap::new();
        (0..self.payloads.len())
            .map(|i| {
                let n = *first.entry(self.body(i)).or_insert(i);
                epoch() + Duration::hours(1) + Duration::seconds(n as i64)
            })
            .collect()
    }
}

/// The whole graph, as comparable rows: nodes with kind, name, properties, property times and
/// sightings; edges by their ends' keys with properties and sightings; aliases.
#[derive(Debug, Clone, PartialEq)]
struct Dump {
    nodes: BTreeMap<String, (String, String, Value, Value, String, String)>,
    edges: BTreeMap<(String, String, String), (Value, String, String)>,
    aliases: BTreeMap<String, String>,
}

fn json_of(text: &Option<String>) -> Value {
    serde_json::from_str(text.as_deref().unwrap_or("null")).expect("stored JSON parses")
}

fn text(cell: &Option<String>) -> String {
    cell.clone().unwrap_or_default()
}

async fn dump(db: &TestDb) -> Dump {
    let nodes = db
        .text_rows(
            "select key, kind, name, cast(properties as text), cast(property_times as text),
                    cast(first_seen as text), cast(last_seen as text) from node",
        )
        .await;
    let edges = db
        .text_rows(
            "select s.key, e.kind, t.key, cast(e.properties as text),
                    cast(e.first_seen as text), cast(e.last_seen as text)
             from edge e join node s on s.node_id = e.source_id join node t on t.node_id = e.target_id",
        )
        .await;
    let aliases = db
        .text_rows("select a.alias, n.key from node_alias a join node n on n.node_id = a.node_id")
        .await;
    Dump {
        nodes: nodes
            .iter()
            .map(|r| {
                let row = (text(&r[1]), text(&r[2]), json_of(&r[3]), json_of(&r[4]));
                (
                    text(&r[0]),
                    (row.0, row.1, row.2, row.3, text(&r[5]), text(&r[6])),
                )
            })
            .collect(),
        edges: edges
            .iter()
            .map(|r| {
                let id = (text(&r[0]), text(&r[1]), text(&r[2]));
                (id, (json_of(&r[3]), text(&r[4]), text(&r[5])))
            })
            .collect(),
        aliases: aliases.iter().map(|r| (text(&r[0]), text(&r[1]))).collect(),
    }
}

impl Dump {
    /// What differs, entry by entry: `Ok` when nothing does.
    fn same_as(&self, other: &Dump) -> Result<(), String> {
        let mut out = Vec::new();
        differences(&mut out, "node", &self.nodes, &other.nodes);
        differences(&mut out, "edge", &self.edges, &other.edges);
        differences(&mut out, "alias", &self.aliases, &other.aliases);
        match out.is_empty() {
            true => Ok(()),
            false => Err(out.join("\n")),
        }
    }
}

fn differences<K: Ord + std::fmt::Debug, V: PartialEq + std::fmt::Debug>(
    out: &mut Vec<String>,
    what: &str,
    left: &BTreeMap<K, V>,
    right: &BTreeMap<K, V>,
) {
    for key in left.keys().chain(right.keys()).collect::<BTreeSet<_>>() {
        let (l, r) = (left.get(key), right.get(key));
        if l != r {
            out.push(format!("{what} {key:?}:\n  {l:?}\n  {r:?}"));
        }
    }
}

/// Stores the payloads in `order`, each received at `receipts[i]`; every one must be stored.
async fn ingest(
    db: &TestDb,
    scenario: &Scenario,
    order: &[usize],
    receipts: &[DateTime<Utc>],
) -> Result<(), String> {
    let store = db.store();
    for &i in order {
        let raw = scenario.raw(i, receipts[i]);
        let refused = |e| format!("payload {i} ({:?}) refused: {e:?}", scenario.payloads[i]);
        let changes = archive::changes(&raw).map_err(refused)?;
        store.apply(&raw, changes).await.map_err(refused)?;
    }
    Ok(())
}

type Outcome = futures::future::LocalBoxFuture<'static, Result<(), String>>;

/// Runs `property` on `PROPTEST_CASES` cases (default 6), each in a runtime of its own, and
/// fails with the smallest failing case proptest finds.
fn check<S: Strategy>(strategy: S, property: impl Fn(S::Value) -> Outcome)
where
    S::Value: Clone + std::fmt::Debug + 'static,
{
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(6);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&strategy, |value| {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            runtime.block_on(property(value))
        }));
        match outcome {
            Ok(Ok(())) => Ok(()),
            Ok(Err(difference)) => Err(TestCaseError::fail(difference)),
            Err(panic) => Err(TestCaseError::fail(panic_message(&panic))),
        }
    });
    if let Err(err) = result {
        panic!("{err}");
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    let text = panic.downcast_ref::<String>().cloned();
    text.or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "panic".to_owned())
}

/// Two arrival orders of one scenario leave the same graph.
fn order_does_not_matter(backend: Backend) {
    let cases = scenario().prop_flat_map(|s| {
        let n = s.payloads.len();
        (Just(s), arrival(n), arrival(n))
    });
    check(cases, move |(scenario, first, second)| {
        Box::pin(async move {
            let receipts = scenario.receipts();
            let (a, b) = (TestDb::new(backend).await, TestDb::new(backend).await);
            ingest(&a, &scenario, &scenario.plans_first(&first), &receipts).await?;
            ingest(&b, &scenario, &scenario.plans_first(&second), &receipts).await?;
            dump(&a).await.same_as(&dump(&b).await)
        })
    });
}

#[test]
fn arrival_order_does_not_change_the_graph_postgres() {
    order_does_not_matter(Postgres);
}

#[test]
fn arrival_order_does_not_change_the_graph_sqlite() {
    order_does_not_matter(Sqlite);
}

/// Re-applies every archived change set, as `headwater replay` does; none may be refused.
async fn replay_all(db: &TestDb) -> Result<(), String> {
    let store = db.store();
    let mut progress = archive::Progress::quiet();
    let summary = archive::replay(store.as_ref(), archive::TimeRange::default(), &mut progress)
        .await
        .map_err(|e| format!("replay: {e:#}"))?;
    match summary.failed.is_empty() {
        true => Ok(()),
        false => Err(format!("replay refused {:?}", summary.failed)),
    }
}

/// Storing everything again changes nothing (a re-post is a no-op), and neither does replaying
/// the archive over it (every change set merged in a second time).
fn twice_is_once(backend: Backend) {
    let cases = scenario().prop_flat_map(|s| {
        let n = s.payloads.len();
        (Just(s), arrival(n))
    });
    check(cases, move |(scenario, order)| {
        Box::pin(async move {
            let (receipts, order) = (scenario.receipts(), scenario.plans_first(&order));
            let db = TestDb::new(backend).await;
            ingest(&db, &scenario, &order, &receipts).await?;
            let once = dump(&db).await;
            ingest(&db, &scenario, &order, &receipts).await?;
            let again = dump(&db).await.same_as(&once);
            again.map_err(|d| format!("stored again:\n{d}"))?;
            replay_all(&db).await?;
            let replayed = dump(&db).await.same_as(&once);
            replayed.map_err(|d| format!("replayed:\n{d}"))
        })
    });
}

#[test]
fn storing_or_replaying_everything_again_changes_nothing_postgres() {
    twice_is_once(Postgres);
}

#[test]
fn storing_or_replaying_everything_again_changes_nothing_sqlite() {
    twice_is_once(Sqlite);
}

/// Prune with a cutoff between two halves of the arrivals (received, as over HTTP, by the wall
/// clock; producer times all before the cutoff). Then:
/// - replaying the kept archive over the pruned graph changes nothing;
/// - rebuilding from the kept archive in a fresh database (`export`, then `import`) gives a
///   part of the pruned graph: every node and edge of it is there, of the same kind, seen no
///   later first and no earlier last, with no property the pruned graph lacks; and every node
///   the kept payloads wrote is in it. The difference is by design: retention keeps what kept
///   nodes need (an old plan whose runs are recent, with its operations, attributes, datasets
///   and columns; old datasets a kept job reads or writes), and the history pruned payloads
///   added to kept nodes (earlier sightings, properties only they set). The one payload kind
///   the rebuild refuses is an event of a plan whose payload was pruned (`unknown-plan`).
fn prune_then_replay(backend: Backend) {
    let cases = scenario().prop_flat_map(|s| {
        let n = s.payloads.len();
        (Just(s), arrival(n), 0..=n)
    });
    check(cases, move |(scenario, order, split)| {
        Box::pin(async move {
            let order = scenario.plans_first(&order);
            let db = TestDb::new(backend).await;
            let cutoff = ingest_around_a_cutoff(&db, &scenario, &order, split).await?;
            let request = PruneRequest {
                cutoff,
                batch_size: 3,
                dry_run: false,
            };
            db.store()
                .prune(&request)
                .await
                .map_err(|e| format!("prune: {e:?}"))?;
            let pruned = dump(&db).await;
            replay_all(&db).await?;
            let replayed = dump(&db).await.same_as(&pruned);
            replayed.map_err(|d| format!("replay after prune:\n{d}"))?;
            let fresh = TestDb::new(backend).await;
            let refused_plans = rebuild(&db, &fresh).await?;
            let rebuilt = dump(&fresh).await;
            part_of(&rebuilt, &pruned)?;
            kept_writes_are_rebuilt(&db, cutoff, &rebuilt, &refused_plans).await
        })
    });
}

/// Stores `order[..split]`, then (the cutoff between) the rest; returns the cutoff.
async fn ingest_around_a_cutoff(
    db: &TestDb,
    scenario: &Scenario,
    order: &[usize],
    split: usize,
) -> Result<DateTime<Utc>, String> {
    let (old, new) = order.split_at(split.min(order.len()));
    let now = || vec![Utc::now(); scenario.payloads.len()];
    let pause = || tokio::time::sleep(std::time::Duration::from_millis(5));
    ingest(db, scenario, old, &now()).await?;
    pause().await;
    let cutoff = Utc::now();
    pause().await;
    ingest(db, scenario, new, &now()).await?;
    Ok(cutoff)
}

/// Exports `from`'s archive and imports it into `into`; returns the plan ids of the events the
/// import refused, which must all be events of plans that are not in the archive.
async fn rebuild(from: &TestDb, into: &TestDb) -> Result<BTreeSet<String>, String> {
    let mut exported = Vec::new();
    let range = archive::TimeRange::default();
    archive::export(from.store().as_ref(), range, &mut exported)
        .await
        .map_err(|e| format!("export: {e:#}"))?;
    let file = std::env::temp_dir().join(format!("hw-proptest-{}.jsonl", uuid::Uuid::new_v4()));
    std::fs::write(&file, &exported).map_err(|e| e.to_string())?;
    let mut summary = archive::ImportSummary::default();
    let mut progress = archive::Progress::quiet();
    let store = into.store();
    let imported = archive::import_file(store.as_ref(), &file, &mut summary, &mut progress).await;
    std::fs::remove_file(&file).ok();
    imported.map_err(|e| format!("import: {e:#}"))?;
    let lines: Vec<Value> = String::from_utf8_lossy(&exported)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let archived_plans: BTreeSet<String> = (lines.iter())
        .filter(|r| r["format"] == archive::SPLINE_PLAN)
        .map(|r| r["body"]["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    let mut refused_plans = BTreeSet::new();
    for reject in &summary.rejects {
        let record = &lines[reject.line - 1];
        let plan = record["body"][0]["planId"].as_str().unwrap_or_default();
        if record["format"] != archive::SPLINE_EVENTS || archived_plans.contains(plan) {
            return Err(format!("the rebuild refused {reject}: {record}"));
        }
        refused_plans.insert(plan.to_owned());
    }
    Ok(refused_plans)
}

/// Every node and edge of `part` is in `whole`, of the same kind, seen no later first and no
/// earlier last, with no top-level property `whole` lacks.
fn part_of(part: &Dump, whole: &Dump) -> Result<(), String> {
    type Seen<'a> = (&'a Value, &'a str, &'a str);
    let within = |what: String, p: Seen<'_>, w: Option<Seen<'_>>| -> Result<(), String> {
        let Some(w) = w else {
            return Err(format!("{what} was rebuilt but is not in the pruned graph"));
        };
        let keys = |v: &Value| {
            v.as_object()
                .map(|o| o.keys().cloned().collect::<BTreeSet<_>>())
        };
        let properties = keys(p.0)
            .unwrap_or_default()
            .is_subset(&keys(w.0).unwrap_or_default());
        match properties && w.1 <= p.1 && w.2 >= p.2 {
            true => Ok(()),
            false => Err(format!("{what}: rebuilt {p:?}, pruned {w:?}")),
        }
    };
    for (key, n) in &part.nodes {
        let w = whole.nodes.get(key);
        if w.is_some_and(|w| w.0 != n.0) {
            return Err(format!("node {key} changed kind: {n:?} / {w:?}"));
        }
        within(
            format!("node {key}"),
            (&n.2, &n.4, &n.5),
            w.map(|w| (&w.2, &*w.4, &*w.5)),
        )?;
    }
    for (id, e) in &part.edges {
        let w = whole.edges.get(id).map(|w| (&w.0, &*w.1, &*w.2));
        within(format!("edge {id:?}"), (&e.0, &e.1, &e.2), w)?;
    }
    Ok(())
}

/// Every node a kept payload wrote (written at or after the cutoff) is rebuilt, but for the
/// runs of events the rebuild refused.
async fn kept_writes_are_rebuilt(
    db: &TestDb,
    cutoff: DateTime<Utc>,
    rebuilt: &Dump,
    refused_plans: &BTreeSet<String>,
) -> Result<(), String> {
    let sql = format!(
        "select key from node where updated_at >= '{}'",
        db.time(&cutoff.to_rfc3339())
    );
    for row in db.text_rows(&sql).await {
        let key = text(&row[0]);
        let refused = refused_plans
            .iter()
            .any(|p| key.starts_with(&format!("run:{p}:")));
        if !rebuilt.nodes.contains_key(&key) && !refused {
            return Err(format!(
                "{key} was written after the cutoff but not rebuilt"
            ));
        }
    }
    Ok(())
}

#[test]
fn after_a_prune_the_kept_archive_rebuilds_the_kept_graph_postgres() {
    prune_then_replay(Postgres);
}

#[test]
fn after_a_prune_the_kept_archive_rebuilds_the_kept_graph_sqlite() {
    prune_then_replay(Sqlite);
}

/// The smallest case the order property found: a START and a FAIL of one run at the same
/// instant, naming one dataset with different schemas. Whichever came last won the run's
/// state and the column's `has_field` index; now the same values win in either order.
#[rstest::rstest]
#[tokio::test]
async fn events_at_the_same_instant_merge_alike_in_either_order(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let event = |event_type: &str, columns: &[&str]| {
        let fields: Vec<Value> = columns.iter().map(|c| json!({"name": c})).collect();
        json!({"eventType": event_type, "eventTime": "2026-01-01T00:00:02Z",
               "run": {"runId": RUNS[0]}, "job": {"namespace": "etl", "name": "daily"},
               "inputs": [{"namespace": "s3://lake", "name": "raw/orders",
                           "facets": {"schema": {"fields": fields}}}]})
    };
    let (start, fail) = (
        event("START", &["id", "amount"]),
        event("FAIL", &["amount"]),
    );
    let mut dumps = Vec::new();
    for pair in [[&start, &fail], [&fail, &start]] {
        let app = TestApp::new(TestDb::new(backend).await);
        for e in pair {
            send_event(&app, e).await;
        }
        dumps.push(dump(&app.db).await);
    }
    dumps[0].same_as(&dumps[1]).unwrap();
    let run = &dumps[0].nodes[&format!("run:{}", RUNS[0])];
    assert_eq!(run.2["state"], "FAIL", "a terminal state wins a tie");
}
