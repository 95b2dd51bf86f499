//! `kill -9` in the middle of a large ingest loses nothing that was acknowledged and leaves
//! nothing half-written.
//!
//! Concurrent producers post Spline plans (up to 40 reads wide), their events and OpenLineage
//! events to a real `headwater serve`, which is SIGKILLed once a share of them is
//! acknowledged, with requests in flight. Restarted on the same database, the graph must hold
//! every acknowledged request whole (its nodes, edges and raw payload, as a clean run of the
//! same requests stores them), and every request cut off either whole or not at all. Then the
//! producers send again what was not acknowledged, as they would, and the graph must equal the
//! clean run's. Once per backend.

mod support;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use support::clients::{self, Control, Outcome};
use support::snapshot::{GraphDb, Part, Snapshot};
use support::workload::Workload;
use support::{ScratchDir, Service, free_ports, http_client, server_url, with_databases};

/// Units of work (a plan with its event, or an OpenLineage event): about 330 requests.
const UNITS: usize = 200;
const CLIENTS: usize = 8;
/// The service is killed once this share of the requests is acknowledged.
const KILL_AT: f64 = 0.4;

#[tokio::test(flavor = "multi_thread")]
async fn postgres_keeps_every_acknowledged_request_whole_across_kill_9() {
    with_databases(&server_url(), "hw_crash", |[crashed, clean]| {
        scenario(crashed, clean)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_keeps_every_acknowledged_request_whole_across_kill_9() {
    let dir = ScratchDir::new("hw-crash");
    let url = |name: &str| format!("sqlite://{}/{name}.db", dir.0.display());
    scenario(url("crashed"), url("clean")).await;
}

async fn scenario(crashed_url: String, clean_url: String) {
    let workload = Arc::new(Workload::new(UNITS, 1));
    let clean = clean_run(&workload, &clean_url).await;
    let clean_parts = clean.parts(&workload);
    for (part, request) in clean_parts.iter().zip(&workload.requests) {
        assert!(
            part.is_whole(&request.kind),
            "{:?} stores {part:#?}",
            request.kind
        );
    }

    let [first, second] = free_ports::<2>();
    let service = Arc::new(Service::start(first, &crashed_url, &[]));
    service.wait_ready(&http_client()).await;
    let outcomes = ingest_until_killed(&service, &workload).await;
    let killed_log = service.log();
    drop(service);

    let service = Arc::new(Service::start(second, &crashed_url, &[]));
    service.wait_ready(&http_client()).await;
    let db = GraphDb::connect(&crashed_url).await;
    let parts = db.snapshot().await.parts(&workload);
    let tally = check_parts(&outcomes, &parts, &clean_parts);
    eprintln!(
        "kill -9 ({}): {} acknowledged, {} cut off ({} stored whole, {} absent), {} not sent",
        backend(&crashed_url),
        tally.acknowledged,
        tally.whole + tally.absent,
        tally.whole,
        tally.absent,
        tally.not_sent
    );
    assert!(
        tally.whole + tally.absent > 0,
        "the kill cut off no request in flight; the test proved nothing:\n{killed_log}"
    );
    check_through_the_api(&service, &workload, &outcomes).await;

    // The producers send what was not acknowledged again.
    let pending = |i: usize| !outcomes[i].acknowledged();
    let units = clients::units(&workload, pending);
    let control = Arc::new(Control::default());
    let resent = clients::post(service.clone(), workload.clone(), units, CLIENTS, control).await;
    let failed: Vec<_> = (0..resent.len())
        .filter(|&i| pending(i) && !resent[i].acknowledged())
        .map(|i| format!("{i}: {:?}", resent[i]))
        .collect();
    assert!(failed.is_empty(), "re-sent requests failed: {failed:#?}");

    let finished = db.snapshot().await;
    assert_eq!(db.duplicates().await, 0);
    db.close().await;
    let differences = finished.differences(&clean);
    assert!(
        differences.is_empty(),
        "the graph after the crash and the re-sends differs from a clean run's:\n{}",
        differences.join("\n")
    );
}

fn backend(url: &str) -> &'static str {
    match url.starts_with("sqlite:") {
        true => "SQLite",
        false => "PostgreSQL",
    }
}

/// Every request posted once to a service on a fresh database: what each should leave.
async fn clean_run(workload: &Arc<Workload>, url: &str) -> Snapshot {
    let [port] = free_ports::<1>();
    let service = Arc::new(Service::start(port, url, &[]));
    service.wait_ready(&http_client()).await;
    let units = clients::units(workload, |_| true);
    let control = Arc::new(Control::default());
    let outcomes = clients::post(service.clone(), workload.clone(), units, CLIENTS, control).await;
    let failed: Vec<_> = outcomes.iter().filter(|o| !o.acknowledged()).collect();
    assert!(failed.is_empty(), "the clean run failed: {failed:#?}");
    let db = GraphDb::connect(url).await;
    let snapshot = db.snapshot().await;
    db.close().await;
    snapshot
}

/// Posts the workload and SIGKILLs the service once [`KILL_AT`] of it is acknowledged.
async fn ingest_until_killed(service: &Arc<Service>, workload: &Arc<Workload>) -> Vec<Outcome> {
    let (control, posting) = clients::start(service, workload, CLIENTS);
    let kill_after = (workload.requests.len() as f64 * KILL_AT) as usize;
    while control.acknowledged.load(Ordering::SeqCst) < kill_after {
        assert!(!posting.is_finished(), "the ingest ended before the kill");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    service.kill();
    control.stop.store(true, Ordering::SeqCst);
    posting.await.expect("the clients panicked")
}

#[derive(Debug, Default)]
struct Tally {
    acknowledged: usize,
    whole: usize,
    absent: usize,
    not_sent: usize,
}

/// Acknowledged: stored exactly as the clean run stored it. Cut off: that, or nothing. Never
/// sent: nothing. Anything else is a partial write or a lost acknowledgement.
fn check_parts(outcomes: &[Outcome], parts: &[Part], clean: &[Part]) -> Tally {
    let mut tally = Tally::default();
    let mut broken = Vec::new();
    for (index, outcome) in outcomes.iter().enumerate() {
        let (part, expected) = (&parts[index], &clean[index]);
        assert!(
            !expected.is_empty() && expected.archived,
            "request {index} stores something"
        );
        let whole = part == expected;
        match outcome {
            Outcome::Answered { answer, .. } if answer.is_success() => {
                tally.acknowledged += 1;
                if !whole {
                    broken.push(format!("acknowledged request {index} is not whole"));
                }
            }
            Outcome::Answered { answer, .. } => {
                broken.push(format!("request {index} answered {answer:?}"));
            }
            Outcome::Lost { .. } if whole => tally.whole += 1,
            Outcome::Lost { .. } if part.is_empty() => tally.absent += 1,
            Outcome::Lost { error, .. } => {
                broken.push(format!(
                    "cut-off request {index} ({error}) is partly stored"
                ));
            }
            Outcome::NotSent if part.is_empty() => tally.not_sent += 1,
            Outcome::NotSent => broken.push(format!("request {index} was never sent but stored")),
        }
        if !whole && !part.is_empty() {
            broken.push(format!(
                "request {index}: stored {part:#?}\nexpected {expected:#?}"
            ));
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
    tally
}

/// The restarted service serves every acknowledged request, and its lineage index (loaded
/// fresh) walks them.
async fn check_through_the_api(service: &Service, workload: &Workload, outcomes: &[Outcome]) {
    let http = http_client();
    for r in &workload.requests {
        if !outcomes[r.index].acknowledged() {
            continue;
        }
        let key = r.landmark();
        let node = service
            .get(&http, "/api/v1/graph/node", &[("key", &key)])
            .await
            .unwrap();
        assert_eq!(node.status, 200, "{key}: {}", node.body);
        if key.starts_with("dataset:") {
            let edges = service.upstream_edges(&http, &key).await;
            let written = edges
                .iter()
                .any(|e| e["kind"] == "output" && e["target"] == key);
            assert!(written, "no job writes {key}: {edges:?}");
        }
    }
}
