//! The archive commands: `replay`, `export`, `import` (through the library functions behind
//! them) and `config`, plus one run of the real binary.

use std::path::PathBuf;
use std::process::Command;

use chrono::{TimeZone, Utc};
use headwater::archive::{self, ImportSummary, Progress, TimeRange};
use headwater::store::Store;
use serde_json::{Value, json};

use rstest::rstest;

use crate::helpers::*;

const TRIANGLE: &str = "spline/producer-v1.2-generated/spline_test-data-generator_triangle-lineage-3reads-20ops-3attr.json.txt";

/// An OpenLineage run event reading `input` and writing `output`.
fn ol_event(run: &str, state: &str, at: &str, input: &str, output: &str) -> Value {
    json!({
        "eventType": state, "eventTime": at,
        "run": {"runId": run},
        "job": {"namespace": "etl", "name": "daily"},
        "inputs": [{"namespace": "s3://bucket", "name": input}],
        "outputs": [{"namespace": "s3://bucket", "name": output}],
        "producer": "https://example.com/test",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
    })
}

/// Posts a Spline generator file, a hand-written plan and two OpenLineage events.
async fn ingest_some(app: &TestApp) {
    for line in fixture_lines(TRIANGLE) {
        let response = match line.starts_with('[') {
            true => app.post_events(V12, line).await,
            false => app.post_plan(V12, line).await,
        };
        assert_eq!(response.status, 201, "{}", response.text());
    }
    store_plan(
        app,
        &minimal_plan(&plan_id(1), &["hdfs://in/a"], "hdfs://out/b", "x"),
    )
    .await;
    let run = "0190a3c4-0000-7000-8000-000000000001";
    send_event(
        app,
        &ol_event(run, "START", "2026-01-01T00:00:00Z", "raw", "clean"),
    )
    .await;
    send_event(
        app,
        &ol_event(run, "COMPLETE", "2026-01-01T00:05:00Z", "raw", "clean"),
    )
    .await;
}

/// Every node and edge with everything a producer determined (not our bookkeeping times),
/// JSON columns parsed so that key order doesn't matter.
async fn graph(db: &TestDb) -> (Vec<Vec<Value>>, Vec<Vec<Value>>) {
    let nodes = db
        .text_rows(
            "select key, kind, name, cast(properties as text), cast(property_times as text),
                    cast(first_seen as text), cast(last_seen as text)
             from node order by key",
        )
        .await;
    let edges = db
        .text_rows(
            "select s.key, e.kind, t.key, cast(e.properties as text), cast(e.first_seen as text),
                    cast(e.last_seen as text)
             from edge e join node s on s.node_id = e.source_id
             join node t on t.node_id = e.target_id
             order by s.key, e.kind, t.key",
        )
        .await;
    (parsed(nodes, &[3, 4]), parsed(edges, &[3]))
}

/// Rows of text with the columns at `json` parsed as JSON.
fn parsed(rows: Vec<Vec<Option<String>>>, json: &[usize]) -> Vec<Vec<Value>> {
    let cell = |(i, text): (usize, Option<String>)| match (json.contains(&i), text) {
        (true, Some(text)) => serde_json::from_str(&text).expect("a JSON column"),
        (_, text) => Value::from(text),
    };
    rows.into_iter()
        .map(|row| row.into_iter().enumerate().map(cell).collect())
        .collect()
}

async fn wipe_graph(db: &TestDb) {
    for table in ["edge", "node_alias", "node"] {
        db.execute(&format!("delete from {table}")).await;
    }
}

async fn wipe_all(db: &TestDb) {
    wipe_graph(db).await;
    db.execute("delete from raw_payload").await;
}

fn temp_file(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("headwater-test-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

async fn export_to(store: &dyn Store, path: &PathBuf) -> u64 {
    let mut out = std::fs::File::create(path).unwrap();
    archive::export(store, TimeRange::default(), &mut out)
        .await
        .unwrap()
}

async fn import(store: &dyn Store, files: &[PathBuf]) -> ImportSummary {
    archive::import(store, files, &mut Progress::quiet())
        .await
        .unwrap()
}

async fn replay(store: &dyn Store, range: TimeRange) -> archive::ReplaySummary {
    archive::replay(store, range, &mut Progress::quiet())
        .await
        .unwrap()
}

#[rstest]
#[tokio::test]
async fn export_then_import_into_an_empty_database_rebuilds_the_same_graph(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool.clone());
    ingest_some(&app).await;
    let (before, counts) = (graph(&pool).await, app.counts().await);
    let lineage = app.lineage(&ds("hdfs://out/b"), "both", 5).await;
    let store = pool.store();
    let path = temp_file("archive.jsonl");

    let written = export_to(&*store, &path).await;
    assert_eq!(written as i64, counts.raw_payloads);
    wipe_all(&pool).await;
    let summary = import(&*store, std::slice::from_ref(&path)).await;

    assert!(summary.rejects.is_empty(), "{:?}", summary.rejects);
    assert_eq!(summary.stored, written);
    assert_eq!(app.counts().await, counts);
    assert_eq!(graph(&pool).await, before);
    assert_eq!(app.lineage(&ds("hdfs://out/b"), "both", 5).await, lineage);

    let again = import(&*store, &[path]).await;
    assert_eq!(again.duplicates, written, "re-importing changes nothing");
    assert_eq!(graph(&pool).await, before);
}

#[rstest]
#[tokio::test]
async fn replay_rebuilds_the_graph_and_replaying_twice_changes_nothing(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool.clone());
    ingest_some(&app).await;
    let (before, counts) = (graph(&pool).await, app.counts().await);
    let store = pool.store();

    wipe_graph(&pool).await;
    let summary = replay(&*store, TimeRange::default()).await;
    assert!(summary.failed.is_empty(), "{:?}", summary.failed);
    assert_eq!(summary.replayed as i64, counts.raw_payloads);
    assert_eq!(graph(&pool).await, before);

    replay(&*store, TimeRange::default()).await;
    assert_eq!(graph(&pool).await, before);
    assert_eq!(app.counts().await, counts);
}

#[rstest]
#[tokio::test]
async fn replay_reports_payloads_the_parsers_reject_and_goes_on(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool.clone());
    store_plan(&app, &minimal_plan(&plan_id(1), &["a"], "b", "x")).await;
    pool.insert_raw_payload("spline.plan", "9.9", b"{}").await;
    wipe_graph(&pool).await;

    let summary = replay(&*pool.store(), TimeRange::default()).await;

    assert_eq!(summary.replayed, 1);
    assert_eq!(summary.failed.len(), 1, "{:?}", summary.failed);
    assert!(summary.failed[0].2.contains("9.9"), "{:?}", summary.failed);
}

#[rstest]
#[tokio::test]
async fn replay_can_be_limited_to_a_time_range(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool.clone());
    store_plan(
        &app,
        &minimal_plan(&plan_id(1), &["old-in"], "old-out", "x"),
    )
    .await;
    let old = pool.time("2020-01-01T00:00:00Z");
    pool.execute(&format!("update raw_payload set received_at = '{old}'"))
        .await;
    store_plan(
        &app,
        &minimal_plan(&plan_id(2), &["new-in"], "new-out", "x"),
    )
    .await;
    wipe_graph(&pool).await;

    let since = Utc.with_ymd_and_hms(2021, 1, 1, 0, 0, 0).unwrap();
    let range = TimeRange {
        since: Some(since),
        until: None,
    };
    let summary = replay(&*pool.store(), range).await;

    assert_eq!(summary.replayed, 1);
    let app = &app;
    let status = |key: String| {
        let uri = format!("/api/v1/graph/node?key={}", encode(&key));
        async move { app.get(&uri).await.status }
    };
    assert_eq!(status(ds("new-out")).await, 200);
    assert_eq!(status(ds("old-out")).await, 404);
}

#[rstest]
#[tokio::test]
async fn import_takes_openlineage_and_spline_files_and_reports_rejects_by_line(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool.clone());
    let store = pool.store();
    let run = "0190a3c4-0000-7000-8000-000000000002";
    let good = ol_event(run, "START", "2026-01-01T00:00:00Z", "raw", "clean");
    let mut missing_time = good.clone();
    missing_time.as_object_mut().unwrap().remove("eventTime");
    let lines = [
        "# OpenLineage file transport output".to_owned(),
        good.to_string(),
        String::new(),
        "{not json".to_owned(),
        missing_time.to_string(),
    ];
    let jsonl = temp_file("events.jsonl");
    std::fs::write(&jsonl, lines.join("\n")).unwrap();
    let pretty = temp_file("event.json");
    let complete = ol_event(run, "COMPLETE", "2026-01-01T00:05:00Z", "raw", "clean");
    std::fs::write(&pretty, serde_json::to_string_pretty(&complete).unwrap()).unwrap();
    let array = temp_file("batch.json");
    std::fs::write(&array, json!([good, {"eventType": 1}]).to_string()).unwrap();

    let summary = import(
        &*store,
        &[jsonl.clone(), pretty, array.clone(), data_path(TRIANGLE)],
    )
    .await;

    let places: Vec<_> = summary
        .rejects
        .iter()
        .map(|r| (r.file.clone(), r.line, r.item))
        .collect();
    assert_eq!(
        places,
        [
            (jsonl.clone(), 4, None),
            (jsonl, 5, None),
            (array, 1, Some(1))
        ],
        "{:?}",
        summary.rejects
    );
    assert!(summary.rejects[0].reason.contains("invalid JSON"));
    assert!(
        summary.rejects[1].reason.contains("eventTime"),
        "{}",
        summary.rejects[1]
    );
    let triangle_lines = fixture_lines(TRIANGLE).len() as u64;
    assert_eq!(summary.stored, 3 + triangle_lines);
    assert_eq!(summary.duplicates, 1, "the batch repeats the first line");
    let lineage = app.lineage(&ds("s3://bucket/clean"), "upstream", 5).await;
    assert!(
        node_keys(&lineage).contains(&ds("s3://bucket/raw")),
        "{lineage}"
    );
}

fn headwater(args: &[&str], database_url: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_headwater"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .output()
        .expect("the binary runs")
}

#[rstest]
#[tokio::test]
async fn the_binary_exports_imports_and_prints_its_config(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool.clone());
    ingest_some(&app).await;
    let (before, counts) = (graph(&pool).await, app.counts().await);
    let url = pool.url().to_owned();
    let path = temp_file("archive.jsonl");

    let export = headwater(&["export", "--output", path.to_str().unwrap()], &url);
    assert!(export.status.success(), "{export:?}");
    wipe_all(&pool).await;
    let import = headwater(&["import", path.to_str().unwrap()], &url);
    assert!(import.status.success(), "{import:?}");
    assert_eq!(app.counts().await, counts);
    assert_eq!(graph(&pool).await, before);

    let bad = temp_file("bad.jsonl");
    std::fs::write(&bad, "{\"eventType\": 1}\n").unwrap();
    let import = headwater(&["import", bad.to_str().unwrap()], &url);
    assert!(!import.status.success(), "a reject fails the import");
    let stderr = String::from_utf8_lossy(&import.stderr);
    assert!(stderr.contains("bad.jsonl:1"), "{stderr}");

    let config = headwater(&["config"], "postgres://hw:s3cr3t@db:5432/hw");
    let stdout = String::from_utf8_lossy(&config.stdout);
    assert!(config.status.success(), "{config:?}");
    assert!(
        stdout.contains("DATABASE_URL = postgres://hw:***@db:5432/hw"),
        "{stdout}"
    );
    assert!(
        stdout.contains("HEADWATER_ADDR = 127.0.0.1:8080"),
        "{stdout}"
    );
    assert!(!stdout.contains("s3cr3t"), "{stdout}");
}
