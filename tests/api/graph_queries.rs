//! The graph query API over small hand-written graphs: lineage walks by depth, direction and
//! size, starting from every node kind; listing, paging and searching nodes; node details; and
//! the problem documents for bad parameters and unknown keys.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use serde_json::{Value, json};

use rstest::rstest;

use crate::helpers::{Backend, Postgres, Sqlite, TestDb};
use crate::helpers::{
    TestApp, Triple, V12, edge_triples, encode, get_json, minimal_plan, node_details, node_keys,
    plan_id, sorted, store_plan, store_spline_events, triple,
};

/// Timestamp of the event posted for a run; Spline keys it `lhq160w0` (base 36).
const RUN_TS: i64 = 1_684_226_827_008;

fn uri(name: &str) -> String {
    format!("s3://lake/{name}")
}

fn ds(name: &str) -> String {
    format!("dataset:{}", uri(name))
}

fn job(n: u32) -> String {
    format!("job:{}", plan_id(n))
}

fn op(n: u32, id: &str) -> String {
    format!("op:{}:{id}", plan_id(n))
}

fn attr(n: u32, id: &str) -> String {
    format!("attr:{}:{id}", plan_id(n))
}

fn run(n: u32) -> String {
    format!("run:{}:lhq160w0", plan_id(n))
}

/// Stores plan `n` (the minimal plan, attribute "Amount"), reading the datasets named `inputs`
/// and writing the one named `output`.
async fn store(app: &TestApp, n: u32, inputs: &[&str], output: &str) {
    let inputs: Vec<String> = inputs.iter().map(|i| uri(i)).collect();
    let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let plan = minimal_plan(&plan_id(n), &inputs, &uri(output), "Amount");
    store_plan(app, &plan).await;
}

/// Stores a run of plan `n`, keyed [`run`]`(n)`.
async fn store_run(app: &TestApp, n: u32) {
    store_spline_events(app, &json!([{"planId": plan_id(n), "timestamp": RUN_TS}])).await;
}

/// `d0 → job 1 → d1 → job 2 → … → job n → dn`.
async fn chain(pool: TestDb, jobs: u32) -> TestApp {
    let app = TestApp::new(pool);
    for n in 1..=jobs {
        store(&app, n, &[&format!("d{}", n - 1)], &format!("d{n}")).await;
    }
    app
}

/// Sorted keys of the chain's datasets `d{first}..=d{last}` and jobs `first+1..=last`.
fn chain_keys(first: u32, last: u32) -> Vec<String> {
    let datasets = (first..=last).map(|d| ds(&format!("d{d}")));
    let jobs = (first + 1..=last).map(job);
    sorted(datasets.chain(jobs))
}

/// The chain's lineage edges between `d{first}` and `d{last}`, sorted.
fn chain_edges(first: u32, last: u32) -> Vec<Triple> {
    let edges = (first + 1..=last).flat_map(|n| {
        [
            triple(&ds(&format!("d{}", n - 1)), "input", &job(n)),
            triple(&job(n), "output", &ds(&format!("d{n}"))),
        ]
    });
    sorted(edges)
}

fn edges_of(lineage: &Value) -> Vec<Triple> {
    sorted(edge_triples(lineage))
}

/// Asserts the nodes (in key order), the depth reached and the truncation flag.
#[track_caller]
fn assert_walk(lineage: &Value, nodes: &[String], depth_reached: u32, truncated: bool) {
    assert_eq!(node_keys(lineage), nodes, "{lineage:#}");
    assert_eq!(lineage["depthReached"], depth_reached, "{lineage:#}");
    assert_eq!(lineage["truncated"], truncated, "{lineage:#}");
}

/// GETs a lineage query string; asserts a 200.
async fn lineage_query(app: &TestApp, query: &str) -> Value {
    get_json(app, &format!("/api/v1/graph/lineage?{query}")).await
}

/// Depth N downstream of the chain's head is the first N jobs and what they wrote.
#[rstest]
#[tokio::test]
async fn downstream_depth_counts_job_hops_along_a_chain(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = chain(pool, 4).await;
    for depth in 0..=6 {
        let reached = depth.min(4);
        let l = app.lineage(&ds("d0"), "downstream", depth).await;
        assert_walk(&l, &chain_keys(0, reached), reached, depth < 4);
        assert_eq!(edges_of(&l), chain_edges(0, reached), "depth {depth}");
        assert_eq!(l["root"], ds("d0"));
        assert_eq!(l["direction"], "downstream");
        assert_eq!(l["depthRequested"], depth);
    }
}

/// Depth N upstream of the chain's tail is the last N jobs and what they read.
#[rstest]
#[tokio::test]
async fn upstream_depth_counts_job_hops_along_a_chain(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = chain(pool, 4).await;
    for depth in 0..=6 {
        let reached = depth.min(4);
        let l = app.lineage(&ds("d4"), "upstream", depth).await;
        assert_walk(&l, &chain_keys(4 - reached, 4), reached, depth < 4);
        assert_eq!(edges_of(&l), chain_edges(4 - reached, 4), "depth {depth}");
        assert_eq!(l["direction"], "upstream");
    }
}

/// The ends of a chain have nothing further: upstream of the head, downstream of the tail.
#[rstest]
#[tokio::test]
async fn walking_off_the_end_of_a_chain_returns_only_the_start(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = chain(pool, 4).await;
    for (start, direction) in [("d0", "upstream"), ("d4", "downstream")] {
        let l = app.lineage(&ds(start), direction, 5).await;
        assert_walk(&l, &[ds(start)], 0, false);
        assert_eq!(l["edges"], json!([]));
    }
}

/// `both` from the middle of a chain walks the same depth up and down.
#[rstest]
#[tokio::test]
async fn both_directions_walk_each_way_from_the_middle_of_a_chain(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = chain(pool, 4).await;
    let expected = [(0, chain_keys(2, 2), true), (1, chain_keys(1, 3), true)];
    for (depth, nodes, truncated) in expected {
        let l = app.lineage(&ds("d2"), "both", depth).await;
        assert_walk(&l, &nodes, depth, truncated);
    }
    let l = app.lineage(&ds("d2"), "both", 2).await;
    assert_walk(&l, &chain_keys(0, 4), 2, false);
    assert_eq!(edges_of(&l), chain_edges(0, 4));
    assert_eq!(l["direction"], "both");
}

/// Without parameters a walk goes downstream five job hops.
#[rstest]
#[tokio::test]
async fn the_default_walk_is_downstream_five_job_hops(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = chain(pool, 6).await;
    let l = lineage_query(&app, &format!("node={}", encode(&ds("d0")))).await;
    assert_eq!(l["direction"], "downstream");
    assert_eq!(l["depthRequested"], 5);
    assert_walk(&l, &chain_keys(0, 5), 5, true);
}

/// A job as the start counts as hop 1, so depth 1 adds only its own inputs and outputs.
#[rstest]
#[tokio::test]
async fn a_job_as_the_start_counts_as_the_first_hop(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let app = chain(pool, 4).await;
    let cases = [
        ("downstream", 1, vec![job(2), ds("d2")], 1, true),
        (
            "downstream",
            2,
            vec![job(2), ds("d2"), job(3), ds("d3")],
            2,
            true,
        ),
        ("upstream", 1, vec![ds("d1"), job(2)], 1, true),
        (
            "upstream",
            2,
            vec![ds("d0"), job(1), ds("d1"), job(2)],
            2,
            false,
        ),
        ("both", 1, chain_keys(1, 2), 1, true),
    ];
    for (direction, depth, nodes, reached, truncated) in cases {
        let l = app.lineage(&job(2), direction, depth).await;
        assert_walk(&l, &sorted(nodes), reached, truncated);
        assert_eq!(l["root"], job(2));
    }
    let l = app.lineage(&job(2), "both", 0).await;
    assert_eq!(node_keys(&l), [job(2)], "depth 0 is the start only");
    assert_eq!(l["truncated"], true);
}

/// `d0 → a → d1`, `d0 → b → d2`, `d1 + d2 → c → d3`.
async fn diamond(pool: TestDb) -> TestApp {
    let app = TestApp::new(pool);
    store(&app, 1, &["d0"], "d1").await;
    store(&app, 2, &["d0"], "d2").await;
    store(&app, 3, &["d1", "d2"], "d3").await;
    app
}

/// Both sides of a diamond are reached, and the job joining them appears once.
#[rstest]
#[tokio::test]
async fn a_diamond_reaches_the_joining_job_once(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let app = diamond(pool).await;
    let all = sorted([
        ds("d0"),
        ds("d1"),
        ds("d2"),
        ds("d3"),
        job(1),
        job(2),
        job(3),
    ]);
    let down = app.lineage(&ds("d0"), "downstream", 2).await;
    assert_walk(&down, &all, 2, false);
    assert_eq!(down["edges"].as_array().unwrap().len(), 7, "{down:#}");
    let joined = [
        triple(&ds("d1"), "input", &job(3)),
        triple(&ds("d2"), "input", &job(3)),
    ];
    assert!(joined.iter().all(|e| edges_of(&down).contains(e)));
    let up = app.lineage(&ds("d3"), "upstream", 1).await;
    let near = sorted([ds("d1"), ds("d2"), ds("d3"), job(3)]);
    assert_walk(&up, &near, 1, true);
    assert_walk(&app.lineage(&ds("d3"), "upstream", 2).await, &all, 2, false);
}

/// A cycle `a → job 1 → b → job 2 → a` ends the walk and keeps the edge that closes it.
#[rstest]
#[tokio::test]
async fn a_cycle_terminates_and_includes_the_closing_edge(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    store(&app, 1, &["a"], "b").await;
    store(&app, 2, &["b"], "a").await;
    let nodes = sorted([ds("a"), ds("b"), job(1), job(2)]);
    let edges = sorted([
        triple(&ds("a"), "input", &job(1)),
        triple(&job(1), "output", &ds("b")),
        triple(&ds("b"), "input", &job(2)),
        triple(&job(2), "output", &ds("a")),
    ]);
    for direction in ["downstream", "upstream", "both"] {
        let l = app.lineage(&ds("a"), direction, 50).await;
        assert_walk(&l, &nodes, 2, false);
        assert_eq!(edges_of(&l), edges, "{direction}");
    }
}

/// `maxNodes` caps the answer, and only a cap that bites sets `truncated`.
#[rstest]
#[tokio::test]
async fn max_nodes_truncates_the_walk(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let app = chain(pool, 4).await;
    let start = encode(&ds("d0"));
    let cases = [
        (1, chain_keys(0, 0), true),
        (3, chain_keys(0, 1), true),
        (
            8,
            sorted(chain_keys(0, 3).into_iter().chain([job(4)])),
            true,
        ),
        (9, chain_keys(0, 4), false),
    ];
    for (max, nodes, truncated) in cases {
        let l = lineage_query(&app, &format!("node={start}&depth=50&maxNodes={max}")).await;
        assert_eq!(node_keys(&l), nodes, "maxNodes={max}");
        assert_eq!(l["truncated"], truncated, "maxNodes={max}");
    }
}

/// `maxNodes` is a cap on the whole answer, also when walking both ways.
#[rstest]
#[tokio::test]
async fn max_nodes_caps_the_answer_in_both_directions(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = chain(pool, 4).await;
    let query = format!(
        "node={}&direction=both&depth=50&maxNodes=3",
        encode(&ds("d2"))
    );
    let l = lineage_query(&app, &query).await;
    let count = l["nodes"].as_array().unwrap().len();
    assert!(count <= 3, "maxNodes=3 answered {count} nodes: {l:#}");
    assert_eq!(l["truncated"], true);
}

/// A run starts from the job it ran; the answer keeps the run and its `run_of` edge.
#[rstest]
#[tokio::test]
async fn a_run_starts_from_its_job(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let app = chain(pool, 4).await;
    store_run(&app, 2).await;
    let l = app.lineage(&run(2), "downstream", 1).await;
    assert_eq!(l["root"], run(2));
    assert_walk(&l, &sorted([ds("d2"), job(2), run(2)]), 1, true);
    let edges = sorted([
        triple(&run(2), "run_of", &job(2)),
        triple(&job(2), "output", &ds("d2")),
    ]);
    assert_eq!(edges_of(&l), edges);
}

/// An operation starts from the job whose plan holds it.
#[rstest]
#[tokio::test]
async fn an_operation_starts_from_its_job(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let app = chain(pool, 4).await;
    let start = op(2, "op-0");
    let l = app.lineage(&start, "upstream", 1).await;
    assert_eq!(l["root"], start);
    assert_walk(&l, &sorted([ds("d1"), job(2), start.clone()]), 1, true);
    let edges = sorted([
        triple(&job(2), "has_operation", &start),
        triple(&ds("d1"), "input", &job(2)),
    ]);
    assert_eq!(edges_of(&l), edges);
}

/// An attribute starts from the job of the operation producing it, via both linking edges.
#[rstest]
#[tokio::test]
async fn an_attribute_starts_from_the_job_of_its_operation(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = chain(pool, 4).await;
    let (start, read) = (attr(2, "attr-1"), op(2, "op-1"));
    let l = app.lineage(&start, "downstream", 2).await;
    assert_eq!(l["root"], start);
    let nodes = sorted([
        start.clone(),
        read.clone(),
        job(2),
        ds("d2"),
        job(3),
        ds("d3"),
    ]);
    assert_walk(&l, &nodes, 2, true);
    let edges = sorted([
        triple(&read, "produces", &start),
        triple(&job(2), "has_operation", &read),
        triple(&job(2), "output", &ds("d2")),
        triple(&ds("d2"), "input", &job(3)),
        triple(&job(3), "output", &ds("d3")),
    ]);
    assert_eq!(edges_of(&l), edges);
}

/// Every key a chain stores: its datasets and jobs, and each plan's operations and attribute.
fn all_chain_keys(jobs: u32) -> Vec<String> {
    let per_plan = (1..=jobs).flat_map(|n| [op(n, "op-0"), op(n, "op-1"), attr(n, "attr-1")]);
    // Each dataset has the column `Amount`: read by one plan, written by the one before.
    let columns = (0..=jobs).map(|d| format!("field:{}#Amount", uri(&format!("d{d}"))));
    sorted(
        chain_keys(0, jobs)
            .into_iter()
            .chain(per_plan)
            .chain(columns),
    )
}

/// GETs one page of `/api/v1/graph/nodes`; asserts a 200.
async fn page(app: &TestApp, query: &str) -> Value {
    get_json(app, &format!("/api/v1/graph/nodes?{query}")).await
}

fn item_keys(page: &Value) -> Vec<String> {
    let items = page["items"].as_array().unwrap();
    items
        .iter()
        .map(|n| n["key"].as_str().unwrap().to_owned())
        .collect()
}

/// Follows `nextCursor` from the first page to the last; returns each page's keys.
async fn all_pages(app: &TestApp, query: &str) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let after = cursor
            .map(|c| format!("&cursor={}", encode(&c)))
            .unwrap_or_default();
        let p = page(app, &format!("{query}{after}")).await;
        pages.push(item_keys(&p));
        assert!(pages.len() <= 100, "paging does not end");
        match p["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return pages,
        }
    }
}

/// Paging two at a time visits every node exactly once, in key order.
#[rstest]
#[tokio::test]
async fn paging_with_limit_two_visits_every_node_once_in_key_order(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = chain(pool, 4).await;
    let pages = all_pages(&app, "limit=2").await;
    let expected = all_chain_keys(4);
    assert_eq!(expected.len(), 26);
    assert_eq!(pages.len(), 13, "{pages:?}");
    assert!(pages[..12].iter().all(|p| p.len() == 2), "{pages:?}");
    assert_eq!(pages.concat(), expected);
}

/// A page that ends at the last node says so, rather than pointing at an empty page.
#[rstest]
#[tokio::test]
async fn an_exactly_full_last_page_has_no_next_cursor(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = chain(pool, 4).await;
    let pages = all_pages(&app, "kind=job&limit=2").await;
    assert_eq!(pages, [vec![job(1), job(2)], vec![job(3), job(4)]]);
    let whole = page(&app, "limit=26").await;
    assert_eq!(whole["nextCursor"], Value::Null);
    assert_eq!(item_keys(&whole), all_chain_keys(4));
}

/// The kind filter lists only nodes of that kind, and combines with paging.
#[rstest]
#[tokio::test]
async fn the_kind_filter_lists_only_that_kind(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let app = chain(pool, 4).await;
    store_run(&app, 3).await;
    let datasets = all_pages(&app, "kind=dataset&limit=2").await.concat();
    assert_eq!(
        datasets,
        chain_keys(0, 4)
            .into_iter()
            .filter(|k| k.starts_with("dataset:"))
            .collect::<Vec<_>>()
    );
    let attributes = page(&app, "kind=attribute").await;
    assert_eq!(
        item_keys(&attributes),
        (1..=4).map(|n| attr(n, "attr-1")).collect::<Vec<_>>()
    );
    assert!(
        attributes["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["kind"] == "attribute")
    );
    assert_eq!(item_keys(&page(&app, "kind=run").await), [run(3)]);
    let operations = page(&app, "kind=operation").await;
    assert_eq!(operations["items"].as_array().unwrap().len(), 8);
}

/// Search matches a case-insensitive substring of the key or of the name.
#[rstest]
#[tokio::test]
async fn search_is_a_case_insensitive_substring_of_key_or_name(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    store(&app, 1, &["Orders_2024"], "orders-archive").await;
    store(&app, 2, &["customers"], "ORDERS.parquet").await;
    let orders = sorted([
        ds("Orders_2024"),
        ds("orders-archive"),
        ds("ORDERS.parquet"),
    ]);
    for q in ["orders", "ORDERS", "oRdErS"] {
        assert_eq!(
            item_keys(&page(&app, &format!("q={q}&kind=dataset")).await),
            orders,
            "q={q}"
        );
    }
    let by_name = item_keys(&page(&app, "q=aMoUnT&kind=attribute").await);
    assert_eq!(
        by_name,
        [attr(1, "attr-1"), attr(2, "attr-1")],
        "attribute names"
    );
    let combined = item_keys(&page(&app, "q=orders&kind=dataset&limit=1").await);
    assert_eq!(combined, [orders[0].clone()]);
    assert_eq!(page(&app, "q=nothing-like-this").await["items"], json!([]));
}

/// `%` and `_` in a search are the characters themselves, not wildcards.
#[rstest]
#[tokio::test]
async fn percent_and_underscore_in_a_search_are_literal(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    store(&app, 1, &["50%off", "a_b"], "50pct").await;
    store(&app, 2, &["axb"], "a\\b").await;
    let cases = [
        ("%", vec![ds("50%off")]),
        ("50%", vec![ds("50%off")]),
        ("a_b", vec![ds("a_b")]),
        ("\\", vec![ds("a\\b")]),
    ];
    for (q, expected) in cases {
        let keys = item_keys(&page(&app, &format!("q={}&kind=dataset", encode(q))).await);
        assert_eq!(keys, expected, "q={q}");
    }
}

/// A plan whose projection `op-2` derives `attr-2` from the read's `attr-1`, so that its nodes
/// carry every edge kind.
fn projection_plan(id: &str, input: &str, output: &str) -> String {
    json!({
        "id": id,
        "operations": {
            "write": {"id": "op-0", "outputSource": uri(output), "append": true, "childIds": ["op-2"]},
            "reads": [{"id": "op-1", "inputSources": [uri(input)], "output": ["attr-1"]}],
            "other": [{"id": "op-2", "name": "Project", "childIds": ["op-1"], "output": ["attr-2"]}]
        },
        "attributes": [
            {"id": "attr-1", "name": "amount"},
            {"id": "attr-2", "name": "amount_eur", "childRefs": [{"__attrId": "attr-1"}]}
        ],
        "systemInfo": {"name": "spark", "version": "3.5.0"}
    })
    .to_string()
}

/// (sorted edge triples, neighbour keys) of one node's details.
async fn details(app: &TestApp, key: &str) -> (Vec<Triple>, Vec<String>) {
    let d = node_details(app, key).await;
    assert_eq!(d["node"]["key"], key);
    assert_eq!(d["truncated"], false);
    let neighbours = d["neighbours"].as_array().unwrap();
    let keys = neighbours
        .iter()
        .map(|n| n["key"].as_str().unwrap().to_owned())
        .collect();
    (edges_of(&d), keys)
}

/// Each node of [`projection_plan`] 1 (with a run) and the edges its details must list.
fn projection_edges() -> Vec<(String, Vec<Triple>)> {
    let (j, raw, clean) = (job(1), ds("raw"), ds("clean"));
    let (read, project, write) = (op(1, "op-1"), op(1, "op-2"), op(1, "op-0"));
    let (a1, a2) = (attr(1, "attr-1"), attr(1, "attr-2"));
    let job_edges = vec![
        triple(&raw, "input", &j),
        triple(&j, "output", &clean),
        triple(&j, "has_operation", &write),
        triple(&j, "has_operation", &read),
        triple(&j, "has_operation", &project),
        triple(&run(1), "run_of", &j),
    ];
    let read_edges = vec![
        triple(&j, "has_operation", &read),
        triple(&raw, "reads_from", &read),
        triple(&read, "data_flow", &project),
        triple(&read, "produces", &a1),
    ];
    let write_edges = vec![
        triple(&j, "has_operation", &write),
        triple(&project, "data_flow", &write),
        triple(&write, "writes_to", &clean),
    ];
    let attr_edges = vec![triple(&read, "produces", &a1), triple(&a1, "derives", &a2)];
    vec![
        (j, job_edges),
        (read, read_edges),
        (write, write_edges),
        (a1, attr_edges),
    ]
}

/// Node details list every edge into and out of the node, of every kind, with the far ends.
#[rstest]
#[tokio::test]
async fn node_details_list_edges_and_neighbours_of_every_kind(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    let response = app
        .post_plan(V12, projection_plan(&plan_id(1), "raw", "clean"))
        .await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
    store_run(&app, 1).await;
    for (key, edges) in projection_edges() {
        let far: BTreeSet<String> = edges
            .iter()
            .flat_map(|(s, _, t)| [s.clone(), t.clone()])
            .filter(|k| *k != key)
            .collect();
        let expected = (sorted(edges), far.into_iter().collect());
        assert_eq!(details(&app, &key).await, expected, "{key}");
    }
}

/// Node details list at most 500 edges each way, and say so when some were left out.
#[rstest]
#[tokio::test]
async fn node_details_cap_each_direction_at_500_edges(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    let names: Vec<String> = (0..501).map(|i| format!("in{i:03}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    store(&app, 1, &names[..500], "out1").await;
    store(&app, 2, &names, "out2").await;
    for (n, truncated) in [(1, false), (2, true)] {
        let d = node_details(&app, &job(n)).await;
        assert_eq!(d["truncated"], truncated, "job {n}");
        let edges = edges_of(&d);
        let inputs = edges.iter().filter(|(_, kind, _)| kind == "input").count();
        assert_eq!((inputs, edges.len()), (500, 503), "job {n}");
        assert_eq!(d["neighbours"].as_array().unwrap().len(), 503, "job {n}");
    }
}

/// A graph and what it answered before a bad query, which must leave it unchanged.
struct Before {
    app: TestApp,
    state: Value,
}

impl Before {
    async fn new(app: TestApp) -> Self {
        let state = Self::state(&app).await;
        Before { app, state }
    }

    /// Row counts and a lineage answer.
    async fn state(app: &TestApp) -> Value {
        let c = app.counts().await;
        let lineage = app.lineage(&ds("d0"), "both", 5).await;
        json!({"counts": [c.nodes, c.edges, c.raw_payloads], "lineage": lineage})
    }

    /// GETs `uri`; asserts the problem document and that the stored graph didn't change.
    async fn rejects(&self, uri: &str, status: StatusCode, code: &str, path: Option<&str>) {
        println!("GET {uri}");
        self.app.get(uri).await.assert_problem(status, code, path);
        assert_eq!(Self::state(&self.app).await, self.state);
    }
}

/// Out-of-range, unparsable or missing lineage parameters are named in the problem's path.
#[rstest]
#[tokio::test]
async fn bad_lineage_parameters_are_invalid_parameters(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let before = Before::new(chain(pool, 2).await).await;
    let node = format!("node={}", encode(&ds("d0")));
    let cases = [
        ("depth=51", "depth"),
        ("depth=abc", "depth"),
        ("depth=-1", "depth"),
        ("direction=sideways", "direction"),
        ("direction=", "direction"),
        ("maxNodes=0", "maxNodes"),
        ("maxNodes=100001", "maxNodes"),
        ("maxNodes=many", "maxNodes"),
    ];
    for (param, path) in cases {
        let uri = format!("/api/v1/graph/lineage?{node}&{param}");
        before
            .rejects(
                &uri,
                StatusCode::BAD_REQUEST,
                "invalid-parameter",
                Some(path),
            )
            .await;
    }
    let uri = "/api/v1/graph/lineage?depth=1";
    before
        .rejects(
            uri,
            StatusCode::BAD_REQUEST,
            "invalid-parameter",
            Some("node"),
        )
        .await;
    for param in ["depth=50", "depth=0", "maxNodes=1", "maxNodes=100000"] {
        lineage_query(&before.app, &format!("{node}&{param}")).await;
    }
}

/// Bad listing parameters and a missing node key are named in the problem's path.
#[rstest]
#[tokio::test]
async fn bad_listing_parameters_are_invalid_parameters(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let before = Before::new(chain(pool, 2).await).await;
    let cases = [
        ("/api/v1/graph/nodes?limit=0", "limit"),
        ("/api/v1/graph/nodes?limit=1001", "limit"),
        ("/api/v1/graph/nodes?limit=ten", "limit"),
        ("/api/v1/graph/nodes?kind=table", "kind"),
        ("/api/v1/graph/nodes?cursor=garbage", "cursor"),
        ("/api/v1/graph/nodes?cursor=!!", "cursor"),
        ("/api/v1/graph/node", "key"),
    ];
    for (uri, path) in cases {
        before
            .rejects(
                uri,
                StatusCode::BAD_REQUEST,
                "invalid-parameter",
                Some(path),
            )
            .await;
    }
    for query in ["limit=1", "limit=1000", "kind=run"] {
        page(&before.app, query).await;
    }
}

/// Unknown node keys and unknown routes are 404 problem documents.
#[rstest]
#[tokio::test]
async fn unknown_keys_and_routes_are_not_found(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let before = Before::new(chain(pool, 2).await).await;
    let missing = encode(&ds("nowhere"));
    let uris = [
        format!("/api/v1/graph/lineage?node={missing}"),
        format!("/api/v1/graph/node?key={missing}"),
        format!("/api/v1/graph/node?key={}", encode(&job(99))),
        "/api/v1/graph/nothing".to_owned(),
        "/api/v2/graph/lineage".to_owned(),
    ];
    for uri in uris {
        before
            .rejects(&uri, StatusCode::NOT_FOUND, "not-found", None)
            .await;
    }
}
