//! Retention: `Store::prune` (what goes, what stays, dry runs, batches), a prune racing
//! ingest, the `headwater prune` command and the background schedule of `headwater serve`.

use std::process::Command;
use std::time::Duration;

use chrono::Utc;
use headwater::store::{PruneReport, PruneRequest};
use rstest::rstest;
use serde_json::{Value, json};

use crate::helpers::*;

/// Long before any cutoff the tests use.
const OLD: &str = "2020-01-01T00:00:00Z";

/// An OpenLineage COMPLETE event of job `etl/<job>`.
fn ol_event(job: &str, run: u32, at: &str, inputs: &[&str], output: &str) -> Value {
    let dataset = |name: &&str| json!({"namespace": "s3://b", "name": name});
    json!({
        "eventType": "COMPLETE", "eventTime": at,
        "run": {"runId": format!("0190a3c4-0000-7000-8000-{run:012}")},
        "job": {"namespace": "etl", "name": job},
        "inputs": inputs.iter().map(dataset).collect::<Vec<_>>(),
        "outputs": [{"namespace": "s3://b", "name": output, "facets": {"schema": {
            "_producer": "https://example.com/test",
            "_schemaURL": "https://openlineage.io/spec/facets/1-1-1/SchemaDatasetFacet.json",
            "fields": [{"name": "id", "type": "long"}]}}}],
        "producer": "https://example.com/test",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
    })
}

fn s3(name: &str) -> String {
    ds(&format!("s3://b/{name}"))
}

/// Makes everything stored so far look old: producer times, our write times, receipt times.
async fn age_everything(db: &TestDb) {
    let old = db.time(OLD);
    db.execute(&format!(
        "update node set first_seen = '{old}', last_seen = '{old}', updated_at = '{old}'"
    ))
    .await;
    db.execute(&format!("update raw_payload set received_at = '{old}'"))
        .await;
}

/// Old lineage nothing new needs (job `old`, Spline plan 1), one old plan (2) that runs again
/// now, and a new job that reads a dataset the old job wrote.
async fn history(app: &TestApp) {
    send_event(
        app,
        &ol_event("old", 1, OLD, &["old-in", "shared"], "old-out"),
    )
    .await;
    store_plan(
        app,
        &minimal_plan(&plan_id(1), &["hdfs://old/a"], "hdfs://old/b", "x"),
    )
    .await;
    store_spline_events(app, &json!([{"planId": plan_id(1), "timestamp": 1_000}])).await;
    store_plan(
        app,
        &minimal_plan(&plan_id(2), &["hdfs://p2/in"], "hdfs://p2/out", "y"),
    )
    .await;
    age_everything(&app.db).await;
    let now = Utc::now();
    let event = json!([{"planId": plan_id(2), "timestamp": now.timestamp_millis()}]);
    store_spline_events(app, &event).await;
    let at = now.to_rfc3339();
    send_event(app, &ol_event("new", 2, &at, &["shared"], "new-out")).await;
}

async fn exists(app: &TestApp, key: &str) -> bool {
    let response = app
        .get(&format!("/api/v1/graph/node?key={}", encode(key)))
        .await;
    match response.status.as_u16() {
        200 => true,
        404 => false,
        other => panic!("{key}: {other} {}", response.text()),
    }
}

fn thirty_days_ago(batch_size: u32, dry_run: bool) -> PruneRequest {
    PruneRequest {
        cutoff: Utc::now() - chrono::Duration::days(30),
        batch_size,
        dry_run,
    }
}

/// Keys that must survive a prune of [`history`], and keys that must go.
fn kept_and_gone() -> (Vec<String>, Vec<String>) {
    let p2 = plan_id(2);
    let kept = vec![
        format!("job:{p2}"),
        format!("op:{p2}:op-0"),
        format!("op:{p2}:op-1"),
        format!("attr:{p2}:attr-1"),
        ds("hdfs://p2/in"),
        ds("hdfs://p2/out"),
        "job:etl/new".to_owned(),
        s3("shared"),
        s3("new-out"),
        format!("field:{}#id", "s3://b/new-out"),
    ];
    let p1 = plan_id(1);
    let gone = vec![
        "job:etl/old".to_owned(),
        "run:0190a3c4-0000-7000-8000-000000000001".to_owned(),
        s3("old-in"),
        s3("old-out"),
        format!("field:{}#id", "s3://b/old-out"),
        format!("job:{p1}"),
        format!("op:{p1}:op-0"),
        format!("attr:{p1}:attr-1"),
        ds("hdfs://old/a"),
        ds("hdfs://old/b"),
    ];
    (kept, gone)
}

#[rstest]
#[tokio::test]
async fn prune_removes_old_runs_and_payloads_then_what_nothing_kept_needs(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let app = TestApp::new(TestDb::new(backend).await);
    history(&app).await;
    let (kept, gone) = kept_and_gone();
    for key in kept.iter().chain(&gone) {
        assert!(exists(&app, key).await, "{key} was stored");
    }
    let before = app.counts().await;

    let store = app.db.store();
    let preview = store.prune(&thirty_days_ago(2, true)).await.unwrap();
    assert_eq!(app.counts().await, before, "a dry run deletes nothing");
    let report = store.prune(&thirty_days_ago(2, false)).await.unwrap();

    assert_eq!(report, preview, "the dry run predicted the real run");
    for key in &kept {
        assert!(exists(&app, key).await, "{key} is kept");
    }
    for key in &gone {
        assert!(!exists(&app, key).await, "{key} is pruned");
    }
    let after = app.counts().await;
    assert_eq!(after.raw_payloads, 2, "the two payloads received now");
    assert_eq!(
        before.raw_payloads - after.raw_payloads,
        report.raw_payloads as i64
    );
    assert_eq!(before.nodes - after.nodes, report.node_total() as i64);
    assert_eq!(before.edges - after.edges, report.edges as i64);
    assert_eq!(report.nodes["run"], 2, "{report:?}");
    assert_eq!(report.nodes["job"], 2, "{report:?}");
    let lineage = app.lineage(&s3("new-out"), "upstream", 5).await;
    assert!(node_keys(&lineage).contains(&s3("shared")), "{lineage}");

    let again = store.prune(&thirty_days_ago(2, false)).await.unwrap();
    assert_eq!(
        again,
        PruneReport::default(),
        "pruning twice deletes nothing more"
    );
}

/// What every concurrent writer posts: plan `n` and its event, and an OpenLineage job that
/// reads a dataset the prune would otherwise delete.
async fn ingest_fresh(app: &TestApp, n: u32) {
    let plan = minimal_plan(
        &plan_id(100 + n),
        &["hdfs://old/a", &format!("hdfs://fresh/{n}")],
        &format!("hdfs://fresh/out-{n}"),
        "z",
    );
    store_plan(app, &plan).await;
    let now = Utc::now();
    let event = json!([{"planId": plan_id(100 + n), "timestamp": now.timestamp_millis()}]);
    store_spline_events(app, &event).await;
    let job = format!("fresh-{n}");
    let at = now.to_rfc3339();
    let output = format!("fresh-out-{n}");
    send_event(app, &ol_event(&job, 100 + n, &at, &["old-in"], &output)).await;
}

/// Ingest keeps working while a prune runs, and nothing it wrote is lost, even when it writes
/// to nodes the prune is deleting at that moment.
#[rstest]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn prune_running_beside_ingest_loses_nothing_it_should_keep(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let app = std::sync::Arc::new(TestApp::new(TestDb::new(backend).await));
    for n in 0..20 {
        let inputs = [format!("old-{n}"), "old-in".to_owned()];
        let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        send_event(
            &app,
            &ol_event(&format!("old-{n}"), 200 + n, OLD, &inputs, "old-out"),
        )
        .await;
    }
    history(&app).await;

    let store = app.db.store();
    let prune = tokio::spawn(async move { store.prune(&thirty_days_ago(1, false)).await });
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let app = app.clone();
            tokio::spawn(async move {
                for n in (w..24).step_by(4) {
                    ingest_fresh(&app, n).await;
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("every write succeeds");
    }
    prune.await.unwrap().expect("the prune succeeds");

    for n in 0..24 {
        let lineage = app
            .lineage(&ds(&format!("hdfs://fresh/out-{n}")), "upstream", 2)
            .await;
        let keys = node_keys(&lineage);
        assert!(keys.contains(&ds("hdfs://old/a")), "{n}: {keys:?}");
        assert!(
            keys.contains(&ds(&format!("hdfs://fresh/{n}"))),
            "{n}: {keys:?}"
        );
        let lineage = app
            .lineage(&s3(&format!("fresh-out-{n}")), "upstream", 2)
            .await;
        assert!(
            node_keys(&lineage).contains(&s3("old-in")),
            "{n}: {lineage}"
        );
        let runs = format!("/api/v1/graph/nodes?kind=run&q={}", plan_id(100 + n));
        let runs = get_json(&app, &runs).await;
        assert_eq!(runs["items"].as_array().unwrap().len(), 1, "{runs}");
    }
    let store = app.db.store();
    store.prune(&thirty_days_ago(1000, false)).await.unwrap();
    for n in 0..20 {
        assert!(
            !exists(&app, &format!("job:etl/old-{n}")).await,
            "old job {n}"
        );
        assert!(
            !exists(&app, &s3(&format!("old-{n}"))).await,
            "old input {n}"
        );
    }
    assert!(exists(&app, &s3("old-in")).await, "fresh jobs read it");
}

fn headwater(args: &[&str], database_url: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_headwater"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .env_remove("HEADWATER_CONFIG")
        .output()
        .expect("the binary runs")
}

#[rstest]
#[tokio::test]
async fn the_prune_command_reports_a_dry_run_then_deletes(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let app = TestApp::new(TestDb::new(backend).await);
    history(&app).await;
    let before = app.counts().await;
    let url = app.db.url().to_owned();

    let dry = headwater(&["prune", "--older-than", "30d", "--dry-run"], &url);
    assert!(dry.status.success(), "{dry:?}");
    let dry = String::from_utf8(dry.stdout).unwrap();
    assert!(dry.contains("would delete"), "{dry}");
    assert!(dry.contains("run=2"), "{dry}");
    assert_eq!(app.counts().await, before);

    let real = headwater(&["prune", "--older-than", "30d", "--batch-size", "3"], &url);
    assert!(real.status.success(), "{real:?}");
    let real = String::from_utf8(real.stdout).unwrap();
    assert!(real.contains("deleted"), "{real}");
    assert_eq!(
        dry.split_once("would delete").unwrap().1,
        real.split_once("deleted").unwrap().1,
        "the dry run said what the real one did"
    );
    assert!(!exists(&app, "job:etl/old").await);

    let bad = headwater(&["prune", "--older-than", "soon"], &url);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("older-than"));
}

/// `serve` prunes on a schedule when told to.
#[rstest]
#[tokio::test]
async fn serve_prunes_in_the_background_on_its_schedule(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let app = TestApp::new(TestDb::new(backend).await);
    history(&app).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_headwater"))
        .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", app.db.url())
        .env("HEADWATER_PRUNE_OLDER_THAN", "30d")
        .env("HEADWATER_PRUNE_INTERVAL", "1s")
        .env_remove("HEADWATER_CONFIG")
        .spawn()
        .expect("serve starts");
    let mut pruned = false;
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if !exists(&app, "job:etl/old").await {
            pruned = true;
            break;
        }
    }
    child.kill().ok();
    child.wait().ok();
    assert!(pruned, "the old job is pruned within 30 s");
    assert!(exists(&app, "job:etl/new").await);
}
