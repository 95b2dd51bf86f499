//! A PostgreSQL outage during ingest: producers get 503 with `Retry-After` (never a 500, never
//! a hang past the timeouts), readiness goes red, and when the database returns the same
//! process serves again, readiness green, without a restart. Nothing acknowledged is lost,
//! nothing answered `unavailable` is stored, and the lineage index walks what was written
//! after the outage.
//!
//! The database is a private cluster (see `support::cluster`), stopped with
//! `pg_ctl stop -m immediate` as a crash would stop it, and set to `synchronous_commit = off`:
//! the service must still not acknowledge a commit the crash can lose.

mod support;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use sqlx::Connection;
use sqlx::postgres::PgConnection;
use support::clients::{self, Control, Outcome};
use support::cluster::Cluster;
use support::snapshot::{GraphDb, Part};
use support::workload::{Kind, Workload};
use support::{Answer, Service, free_ports, http_client};

/// Units of work for the whole run; the clients stop long before they run out.
const UNITS: usize = 1500;
const CLIENTS: usize = 6;
/// Acknowledged requests before the database goes down.
const BEFORE: usize = 60;
/// How long the database stays down.
const DOWN_FOR: Duration = Duration::from_secs(6);
/// Acknowledged requests after readiness is green again.
const AFTER: usize = 60;
/// A hang guard: no answer may take longer, outage or not.
const SLOWEST: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread")]
async fn a_database_outage_answers_503_and_the_service_recovers_by_itself() {
    let cluster = Cluster::start(&["synchronous_commit = off"]);
    create_database(&cluster.url("postgres"), "headwater").await;
    let url = cluster.url("headwater");
    let [port] = free_ports::<1>();
    // The default acquire timeout: what producers get.
    let service = Arc::new(Service::start(port, &url, &[]));
    let http = http_client();
    service.wait_ready(&http).await;

    let workload = Arc::new(Workload::new(UNITS, 2));
    let (control, posting) = clients::start(&service, &workload, CLIENTS);
    wait_for_acks(&control, BEFORE).await;

    let down = Instant::now();
    cluster.stop_immediately();
    let during = probe_while_down(&service, &http).await;
    let remaining = DOWN_FOR.saturating_sub(down.elapsed());
    tokio::time::sleep(remaining).await;
    cluster.start_again();
    let up = Instant::now();
    let green = service
        .wait_for_readiness(&http, 200, Duration::from_secs(60))
        .await;
    assert!(
        green.is_ok(),
        "not ready after the database returned: {green:?}\n{}",
        service.log()
    );
    let ready = Instant::now();
    let acks_at_ready = control.acknowledged.load(Ordering::SeqCst);
    wait_for_acks(&control, acks_at_ready + AFTER).await;
    control.stop.store(true, Ordering::SeqCst);
    let outcomes = posting.await.expect("the clients panicked");

    eprintln!(
        "outage: readiness red {:.1?} after the stop, green {:.1?} after the start",
        during.red_after,
        ready - up
    );
    check_answers(&outcomes, down, ready);
    check_readiness_and_queries(&during);
    let db = GraphDb::connect(&url).await;
    let parts = db.snapshot().await.parts(&workload);
    db.close().await;
    check_stored(&workload, &outcomes, &parts, ready);
    check_index_recovered(&service, &workload, &outcomes, ready).await;
    assert_no_errors_logged(&service.log());
}

async fn create_database(admin_url: &str, name: &str) {
    let mut admin = PgConnection::connect(admin_url)
        .await
        .unwrap_or_else(|e| panic!("connecting to the private cluster: {e}"));
    sqlx::query(&format!("create database {name}"))
        .execute(&mut admin)
        .await
        .expect("create database");
}

async fn wait_for_acks(control: &Control, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while control.acknowledged.load(Ordering::SeqCst) < count {
        assert!(
            Instant::now() < deadline,
            "fewer than {count} requests acknowledged"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// What readiness and the consumer API answered while the database was down.
struct WhileDown {
    red_after: Duration,
    ready: Answer,
    status: Answer,
    lineage: Answer,
    nodes: Answer,
}

async fn probe_while_down(service: &Service, http: &reqwest::Client) -> WhileDown {
    let began = Instant::now();
    let red = service
        .wait_for_readiness(http, 503, Duration::from_secs(20))
        .await;
    assert!(red.is_ok(), "readiness never went red: {red:?}");
    let red_after = began.elapsed();
    let get = |path: &'static str, query: Vec<(&'static str, &'static str)>| async move {
        service.get(http, path, &query).await.expect(path)
    };
    let lineage_query = vec![
        ("node", "dataset:s3://faults/hubs/openlineage-0"),
        ("depth", "3"),
    ];
    WhileDown {
        red_after,
        ready: get("/health/ready", vec![]).await,
        status: get("/producer/status", vec![]).await,
        lineage: get("/api/v1/graph/lineage", lineage_query).await,
        nodes: get("/api/v1/graph/nodes", vec![("kind", "dataset")]).await,
    }
}

#[track_caller]
fn assert_503(answer: &Answer, what: &str) {
    assert_eq!(answer.status, 503, "{what}: {answer:?}");
    let seconds: u64 = answer
        .retry_after
        .as_deref()
        .unwrap_or_else(|| panic!("{what}: no Retry-After: {answer:?}"))
        .parse()
        .unwrap();
    assert!(seconds > 0, "{what}: {answer:?}");
    assert_eq!(
        answer.content_type.as_deref(),
        Some("application/problem+json"),
        "{what}"
    );
}

fn check_readiness_and_queries(during: &WhileDown) {
    assert_503(&during.ready, "readiness");
    assert_503(&during.status, "the Spline handshake");
    assert_503(&during.lineage, "a lineage query");
    assert_503(&during.nodes, "a node listing");
}

/// Every answer is a 2xx or a 503 problem with `Retry-After`; none took longer than the hang
/// guard; the outage was seen; after readiness turned green every request succeeded.
fn check_answers(outcomes: &[Outcome], down: Instant, ready: Instant) {
    let (mut refused, mut unknown, mut acknowledged) = (0, 0, 0);
    let mut slowest = Duration::ZERO;
    for (index, outcome) in outcomes.iter().enumerate() {
        let (answer, sent) = match outcome {
            Outcome::NotSent => continue,
            Outcome::Lost { error, .. } => panic!("request {index} got no answer: {error}"),
            Outcome::Answered { answer, sent } => (answer, *sent),
        };
        assert!(
            answer.took < SLOWEST,
            "request {index} took {:?}",
            answer.took
        );
        slowest = slowest.max(answer.took);
        if answer.is_success() {
            acknowledged += 1;
            continue;
        }
        assert_503(answer, &format!("request {index}"));
        let code = answer.problem_code();
        assert!(
            matches!(code.as_deref(), Some("unavailable" | "commit-unknown")),
            "request {index}: {answer:?}"
        );
        assert!(
            sent + answer.took >= down,
            "request {index} failed before the outage"
        );
        assert!(
            sent < ready,
            "request {index} failed after readiness was green: {answer:?}"
        );
        refused += 1;
        unknown += usize::from(code.as_deref() == Some("commit-unknown"));
    }
    eprintln!(
        "outage: {acknowledged} requests acknowledged, {refused} answered 503 ({unknown} of \
         them commit-unknown); the slowest answer took {slowest:.1?}"
    );
    assert!(refused > 0, "no request was answered 503 during the outage");
}

/// Acknowledged: whole. Answered `unavailable`: absent. `commit-unknown`: whole or absent.
fn check_stored(workload: &Workload, outcomes: &[Outcome], parts: &[Part], ready: Instant) {
    let mut acknowledged_after = 0;
    for (index, outcome) in outcomes.iter().enumerate() {
        let Outcome::Answered { answer, sent } = outcome else {
            continue;
        };
        let part = &parts[index];
        let whole = part.is_whole(&workload.requests[index].kind);
        match answer.problem_code().as_deref() {
            _ if answer.is_success() => {
                assert!(
                    whole,
                    "acknowledged request {index} is not whole: {part:#?}"
                );
                acknowledged_after += usize::from(*sent >= ready);
            }
            Some("commit-unknown") => {
                assert!(
                    whole || part.is_empty(),
                    "request {index} is partial: {part:#?}"
                )
            }
            _ => assert!(
                part.is_empty(),
                "request {index} answered {answer:?} yet stored {part:#?}"
            ),
        }
    }
    assert!(
        acknowledged_after >= AFTER,
        "{acknowledged_after} acknowledged after the outage"
    );
}

/// Answers after the outage come from the recovered lineage index: it walks the edges written
/// after the database returned.
async fn check_index_recovered(
    service: &Service,
    workload: &Workload,
    outcomes: &[Outcome],
    ready: Instant,
) {
    let http = http_client();
    let after = workload
        .requests
        .iter()
        .filter(|r| match &outcomes[r.index] {
            Outcome::Answered { answer, sent } => answer.is_success() && *sent >= ready,
            _ => false,
        });
    let mut walked = 0;
    for request in after.filter(|r| !matches!(r.kind, Kind::SplineEvent { .. })) {
        let key = request.landmark();
        let edges = service.upstream_edges(&http, &key).await;
        assert!(
            edges.iter().any(|e| e["kind"] == "input"),
            "lineage after the outage misses the input of {key}: {edges:?}"
        );
        walked += 1;
    }
    assert!(walked > 0, "no dataset written after the outage to walk");
}

/// Warnings are expected during an outage; errors (a 500's cause, a panic) are not.
fn assert_no_errors_logged(log: &str) {
    let errors: Vec<&str> = log.lines().filter(|l| l.contains(" ERROR ")).collect();
    assert!(
        errors.is_empty(),
        "the service logged errors:\n{}",
        errors.join("\n")
    );
}
