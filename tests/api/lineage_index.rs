//! The in-memory lineage index: it answers every graph question exactly as a walk over the
//! database does, and stays correct while other replicas write, commit late, or delete.

use std::sync::Arc;

use rstest::rstest;
use serde_json::{Value, json};
use sqlx::Connection;

use crate::helpers::*;

const LAYERS: usize = 5;
const WIDTH: usize = 4;

fn dataset(layer: usize, i: usize) -> String {
    format!("l{layer}/d{i}")
}

fn ol_dataset(name: &str, columns: Value) -> Value {
    json!({"namespace": "s3://b", "name": name, "facets": {
        "schema": {"_producer": "https://example.com/test",
                   "_schemaURL": "https://openlineage.io/spec/facets/1-1-1/SchemaDatasetFacet.json",
                   "fields": [{"name": "id", "type": "long"}, {"name": "amount", "type": "double"}]},
        "columnLineage": {"_producer": "https://example.com/test",
                   "_schemaURL": "https://openlineage.io/spec/facets/1-2-0/ColumnLineageDatasetFacet.json",
                   "fields": columns}}})
}

/// A job run reading `inputs` and writing `output`, `id` from the first input and `amount`
/// from all of them.
fn ol_job(job: &str, run: u32, inputs: &[String], output: &str) -> Value {
    let field =
        |name: &String, column: &str| json!({"namespace": "s3://b", "name": name, "field": column});
    let columns = json!({
        "id": {"inputFields": [field(&inputs[0], "id")]},
        "amount": {"inputFields": inputs.iter().map(|i| field(i, "amount")).collect::<Vec<_>>()},
    });
    json!({
        "eventType": "COMPLETE", "eventTime": "2026-11-30T10:00:00Z",
        "run": {"runId": format!("0190a3c4-0000-7000-8000-{run:012}")},
        "job": {"namespace": "etl", "name": job},
        "inputs": inputs.iter().map(|n| json!({"namespace": "s3://b", "name": n})).collect::<Vec<_>>(),
        "outputs": [ol_dataset(output, columns)],
        "producer": "https://example.com/test",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
    })
}

/// Layers of datasets, each written by a job reading two of the layer before; plus Spline
/// plans reading the last layer, so both formats meet in one graph.
async fn platform(app: &TestApp) {
    let mut run = 0;
    for layer in 1..LAYERS {
        for i in 0..WIDTH {
            run += 1;
            let inputs = [dataset(layer - 1, i), dataset(layer - 1, (i + 1) % WIDTH)];
            let job = format!("j_{layer}_{i}");
            send_event(app, &ol_job(&job, run, &inputs, &dataset(layer, i))).await;
        }
    }
    for i in 0..2 {
        let input = format!("s3://b/{}", dataset(LAYERS - 1, i));
        let plan = minimal_plan(
            &plan_id(i as u32 + 1),
            &[&input],
            &format!("s3://b/out{i}"),
            "id",
        );
        store_plan(app, &plan).await;
    }
}

fn key(name: &str) -> String {
    ds(&format!("s3://b/{name}"))
}

/// Every question the graph API answers by walking, asked of both replicas.
fn questions() -> Vec<String> {
    let mut uris = Vec::new();
    for layer in 0..LAYERS {
        for i in 0..WIDTH {
            let node = encode(&key(&dataset(layer, i)));
            for direction in ["upstream", "downstream", "both"] {
                for depth in [1, 2, 10] {
                    uris.push(format!(
                        "/api/v1/graph/lineage?node={node}&direction={direction}&depth={depth}"
                    ));
                }
                uris.push(format!(
                    "/api/v1/graph/column-lineage?node={node}&column=amount&direction={direction}&depth=10"
                ));
            }
            uris.push(format!("/api/v1/graph/impact?node={node}"));
            uris.push(format!("/api/v1/graph/impact?node={node}&column=id"));
            let marquez = encode(&format!("dataset:s3://b:{}", dataset(layer, i)));
            uris.push(format!("/api/v1/lineage?nodeId={marquez}&depth=2"));
            uris.push(format!(
                "/api/v1/column-lineage?nodeId={marquez}&withDownstream=true"
            ));
        }
    }
    let (from, to) = (encode(&key(&dataset(0, 0))), encode(&key("out0")));
    uris.push(format!("/api/v1/graph/paths?from={from}&to={to}"));
    uris.push(format!(
        "/api/v1/graph/lineage?node={}&collapseJobs=true&depth=10",
        encode(&key(&dataset(2, 1)))
    ));
    uris
}

#[rstest]
#[tokio::test]
async fn the_index_answers_every_walk_as_the_database_does(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let app = TestApp::new(TestDb::new(backend).await);
    platform(&app).await;
    let walking = app.replica(false);
    let questions = questions();
    for uri in &questions {
        let indexed = get_json(&app, uri).await;
        let walked = get_json(&walking, uri).await;
        assert_eq!(indexed, walked, "{uri}");
    }
    // The answers are not trivially empty: the deepest walk reaches every layer.
    let down = app.lineage(&key(&dataset(0, 0)), "downstream", 10).await;
    assert!(node_keys(&down).contains(&key("out0")), "{down}");
}

#[rstest]
#[tokio::test]
async fn a_write_through_another_replica_shows_in_the_next_answer(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let reader = TestApp::new(TestDb::new(backend).await);
    platform(&reader).await;
    let writer = reader.replica(true);
    let start = key(&dataset(LAYERS - 1, 3));
    let before = reader.lineage(&start, "downstream", 2).await;
    assert!(!node_keys(&before).contains(&key("late")));
    let inputs = [dataset(LAYERS - 1, 3)];
    send_event(&writer, &ol_job("late", 900, &inputs, "late")).await;
    let after = reader.lineage(&start, "downstream", 2).await;
    assert!(node_keys(&after).contains(&key("late")), "{after}");
}

/// Writers on one replica, a reader on another: as soon as a write is acknowledged, the
/// reader's next answer has it, whatever else is being written at the time.
#[rstest]
#[tokio::test]
async fn answers_keep_up_with_concurrent_writers_on_another_replica(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let reader = Arc::new(TestApp::new(TestDb::new(backend).await));
    platform(&reader).await;
    let writer = Arc::new(reader.replica(true));
    let tasks: Vec<_> = (0..4)
        .map(|w| {
            let (reader, writer) = (Arc::clone(&reader), Arc::clone(&writer));
            tokio::spawn(async move {
                for n in 0..6 {
                    let source = dataset(LAYERS - 1, w);
                    let output = format!("w{w}/n{n}");
                    let run = 1000 + w as u32 * 100 + n;
                    send_event(
                        &writer,
                        &ol_job(&output, run, std::slice::from_ref(&source), &output),
                    )
                    .await;
                    let seen = reader.lineage(&key(&source), "downstream", 1).await;
                    assert!(node_keys(&seen).contains(&key(&output)), "{output}: {seen}");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("writer and reader agree");
    }
    let walking = reader.replica(false);
    for uri in questions() {
        assert_eq!(
            get_json(&reader, &uri).await,
            get_json(&walking, &uri).await,
            "{uri}"
        );
    }
}

/// A transaction that began before the index last looked but commits after it: its links
/// must still arrive (the feed reads from the oldest transaction that was still running).
#[rstest]
#[tokio::test]
async fn a_transaction_that_commits_late_is_not_missed(#[values(Postgres)] backend: Backend) {
    let app = TestApp::new(TestDb::new(backend).await);
    platform(&app).await;
    let start = key(&dataset(LAYERS - 1, 0));
    app.lineage(&start, "downstream", 1).await;
    let mut slow = sqlx::PgConnection::connect(app.db.url()).await.unwrap();
    let mut tx = slow.begin().await.unwrap();
    sqlx::query(
        "insert into node (key, kind, name, first_seen, last_seen) values
             ('job:etl/slow', 'job', 'slow', now(), now()),
             ('dataset:s3://b/slow-out', 'dataset', 'slow-out', now(), now())",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query(
        "insert into edge (source_id, target_id, kind, first_seen, last_seen)
         select s.node_id, t.node_id, e.kind, now(), now()
         from (values ($1, 'job:etl/slow', 'input'), ('job:etl/slow', 'dataset:s3://b/slow-out', 'output'))
              as e(source, target, kind)
         join node s on s.key = e.source join node t on t.key = e.target",
    )
    .bind(&start)
    .execute(&mut *tx)
    .await
    .unwrap();
    // Meanwhile others commit, and the index catches up past them.
    let inputs = [dataset(LAYERS - 1, 0)];
    send_event(&app, &ol_job("quick", 901, &inputs, "quick")).await;
    let during = app.lineage(&start, "downstream", 1).await;
    assert!(node_keys(&during).contains(&key("quick")));
    assert!(!node_keys(&during).contains(&key("slow-out")));
    tx.commit().await.unwrap();
    let after = app.lineage(&start, "downstream", 1).await;
    assert!(node_keys(&after).contains(&key("slow-out")), "{after}");
}

/// Deleting links, by prune or by hand, cascaded from nodes or not, reloads the index.
#[rstest]
#[tokio::test]
async fn deleted_links_leave_the_index(#[values(Postgres, Sqlite)] backend: Backend) {
    let app = TestApp::new(TestDb::new(backend).await);
    platform(&app).await;
    let start = key(&dataset(0, 0));
    let before = app.lineage(&start, "downstream", 10).await;
    assert!(node_keys(&before).contains(&key(&dataset(2, 0))));
    // The only way from layer 1 to layer 2 at position 0 is through j_2_0 (and j_2_3).
    app.db
        .execute("delete from node where key in ('job:etl/j_2_0', 'job:etl/j_2_3')")
        .await;
    let after = app.lineage(&start, "downstream", 10).await;
    assert!(!node_keys(&after).contains(&key(&dataset(2, 0))), "{after}");
    assert_eq!(
        after,
        app.replica(false).lineage(&start, "downstream", 10).await
    );
    app.db.execute("delete from edge").await;
    let emptied = app.lineage(&start, "downstream", 10).await;
    assert_eq!(node_keys(&emptied), vec![start.clone()]);
}

#[rstest]
#[tokio::test]
async fn a_truncated_edge_table_reloads_the_index(#[values(Postgres)] backend: Backend) {
    let app = TestApp::new(TestDb::new(backend).await);
    platform(&app).await;
    let start = key(&dataset(0, 0));
    assert!(node_keys(&app.lineage(&start, "downstream", 10).await).len() > 1);
    app.db.execute("truncate edge").await;
    let emptied = app.lineage(&start, "downstream", 10).await;
    assert_eq!(node_keys(&emptied), vec![start]);
}
