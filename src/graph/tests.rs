//! Traversal rules, checked on small hand-built graphs.

use chrono::Utc;
use serde_json::json;

use super::memory::MemoryGraph;
use super::*;

/// Datasets have ids below 100, jobs 100 and up, runs 200 and up.
fn edge(source: NodeId, target: NodeId, kind: EdgeKind) -> EdgeRecord {
    let now = Utc::now();
    EdgeRecord {
        source,
        target,
        kind,
        properties: json!({}),
        first_seen: now,
        last_seen: now,
    }
}

/// `job` reads `inputs` and writes `output`.
fn job(g: &mut MemoryGraph, job: NodeId, inputs: &[NodeId], output: NodeId) {
    for &i in inputs {
        g.add(edge(i, job, EdgeKind::Input));
    }
    g.add(edge(job, output, EdgeKind::Output));
}

/// 1 → [100] → 2 → [101] → 3 → [102] → 4, and 5 → [101].
fn chain() -> MemoryGraph {
    let mut g = MemoryGraph::default();
    job(&mut g, 100, &[1], 2);
    job(&mut g, 101, &[2, 5], 3);
    job(&mut g, 102, &[3], 4);
    g
}

fn limits(depth: u32) -> Limits {
    Limits {
        depth,
        max_nodes: 1000,
    }
}

fn sorted(t: &Traversal) -> Vec<NodeId> {
    let mut ids: Vec<_> = t.hops.keys().copied().collect();
    ids.sort();
    ids
}

async fn run(
    g: &MemoryGraph,
    start: NodeId,
    kind: NodeKind,
    dir: Direction,
    l: Limits,
) -> Traversal {
    lineage(g, start, kind, dir, l).await.unwrap()
}

#[tokio::test]
async fn depth_one_downstream_of_a_dataset_is_its_readers_and_their_outputs() {
    let t = run(
        &chain(),
        1,
        NodeKind::Dataset,
        Direction::Downstream,
        limits(1),
    )
    .await;
    assert_eq!(sorted(&t), vec![1, 2, 100]);
    assert_eq!(t.edges.len(), 2);
    assert_eq!(t.depth_reached, 1);
    assert!(t.truncated, "job 101 lies beyond depth 1");
}

#[tokio::test]
async fn a_deep_enough_walk_is_complete_and_not_truncated() {
    let t = run(
        &chain(),
        1,
        NodeKind::Dataset,
        Direction::Downstream,
        limits(10),
    )
    .await;
    assert_eq!(sorted(&t), vec![1, 2, 3, 4, 100, 101, 102]);
    assert_eq!(t.depth_reached, 3);
    assert!(!t.truncated);
}

#[tokio::test]
async fn upstream_walks_against_the_edges() {
    let t = run(
        &chain(),
        4,
        NodeKind::Dataset,
        Direction::Upstream,
        limits(2),
    )
    .await;
    assert_eq!(sorted(&t), vec![2, 3, 4, 5, 101, 102]);
    assert!(t.truncated);
}

#[tokio::test]
async fn a_job_start_counts_as_its_own_first_hop() {
    let t = run(
        &chain(),
        101,
        NodeKind::Job,
        Direction::Downstream,
        limits(1),
    )
    .await;
    assert_eq!(sorted(&t), vec![3, 101]);
    assert_eq!(t.depth_reached, 1);
    assert!(t.truncated);
}

#[tokio::test]
async fn both_directions_are_merged() {
    let t = run(&chain(), 3, NodeKind::Dataset, Direction::Both, limits(1)).await;
    assert_eq!(sorted(&t), vec![2, 3, 4, 5, 101, 102]);
    assert_eq!(t.edges.len(), 5);
}

#[tokio::test]
async fn cycles_do_not_loop_and_keep_the_closing_edge() {
    let mut g = chain();
    job(&mut g, 103, &[4], 1); // 4 → [103] → 1 closes the loop
    let t = run(&g, 1, NodeKind::Dataset, Direction::Downstream, limits(50)).await;
    assert_eq!(sorted(&t), vec![1, 2, 3, 4, 100, 101, 102, 103]);
    assert!(t.edges.iter().any(|e| e.source == 103 && e.target == 1));
    assert!(!t.truncated);
}

#[tokio::test]
async fn max_nodes_cuts_the_walk_and_says_so() {
    let t = run(
        &chain(),
        1,
        NodeKind::Dataset,
        Direction::Downstream,
        Limits {
            depth: 50,
            max_nodes: 3,
        },
    )
    .await;
    assert_eq!(t.hops.len(), 3);
    assert!(t.truncated);
    assert!(
        t.edges
            .iter()
            .all(|e| t.hops.contains_key(&e.source) && t.hops.contains_key(&e.target))
    );
}

#[tokio::test]
async fn depth_zero_is_the_start_alone() {
    let t = run(&chain(), 2, NodeKind::Dataset, Direction::Both, limits(0)).await;
    assert_eq!(sorted(&t), vec![2]);
    assert!(t.truncated);
}

#[tokio::test]
async fn runs_and_attributes_anchor_on_their_job() {
    let mut g = chain();
    g.add(edge(200, 101, EdgeKind::RunOf));
    g.add(edge(101, 300, EdgeKind::HasOperation));
    g.add(edge(300, 400, EdgeKind::Produces));
    let a = anchor(&g, 200, NodeKind::Run).await.unwrap().unwrap();
    assert_eq!((a.node, a.kind, a.path.len()), (101, NodeKind::Job, 1));
    let a = anchor(&g, 400, NodeKind::Attribute).await.unwrap().unwrap();
    assert_eq!((a.node, a.path.len()), (101, 2));
    assert_eq!(anchor(&g, 401, NodeKind::Attribute).await.unwrap(), None);
    let a = anchor(&g, 2, NodeKind::Dataset).await.unwrap().unwrap();
    assert_eq!((a.node, a.kind, a.path.len()), (2, NodeKind::Dataset, 0));
    g.add(edge(3, 500, EdgeKind::HasField));
    let a = anchor(&g, 500, NodeKind::Field).await.unwrap().unwrap();
    assert_eq!((a.node, a.kind), (3, NodeKind::Dataset));
}

#[tokio::test]
async fn both_directions_share_one_node_budget() {
    let t = run(
        &chain(),
        3,
        NodeKind::Dataset,
        Direction::Both,
        Limits {
            depth: 50,
            max_nodes: 3,
        },
    )
    .await;
    assert_eq!(t.hops.len(), 3);
    assert!(t.truncated);
}

#[tokio::test]
async fn the_neighbourhood_of_a_job_includes_siblings() {
    // Job 101 reads 2 and 5 and writes 3; its datasets are depth 0, jobs sharing them depth 1.
    let t = neighbourhood(&chain(), 101, limits(0)).await.unwrap();
    assert_eq!(sorted(&t), vec![2, 3, 5, 101]);
    let t = neighbourhood(&chain(), 101, limits(1)).await.unwrap();
    assert_eq!(sorted(&t), vec![1, 2, 3, 4, 5, 100, 101, 102]);
}

#[tokio::test]
async fn edge_hops_count_every_edge() {
    let mut g = MemoryGraph::default();
    g.add(edge(1, 2, EdgeKind::Derives));
    g.add(edge(2, 3, EdgeKind::Derives));
    let spec = Walk {
        kinds: &[EdgeKind::Derives],
        steps: &[Step::Forward],
        hops: HopRule::Edge,
        limits: limits(1),
    };
    let t = walk(&g, &[1], 0, spec).await.unwrap();
    assert_eq!(sorted(&t), vec![1, 2]);
    assert!(t.truncated);
}
