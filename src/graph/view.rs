//! Shaping a subgraph for its reader: dropping node kinds or namespaces, and collapsing jobs
//! into dataset-to-dataset edges. Pure functions over loaded nodes and edges.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};

use serde::Serialize;
use serde_json::json;

use crate::model::{Edge, EdgeKind, Node, NodeKind, Properties};

/// Which nodes to keep.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Keep only these kinds (all when empty).
    pub kinds: Vec<NodeKind>,
    /// Keep only nodes in these namespaces (all when empty).
    pub namespaces: Vec<String>,
    /// Drop nodes in these namespaces.
    pub exclude_namespaces: Vec<String>,
}

impl Filter {
    fn keeps<P: Properties>(&self, node: &Node<P>, root: &str) -> bool {
        if node.key == root {
            return true;
        }
        if self.namespaces.is_empty() && self.exclude_namespaces.is_empty() {
            return self.kinds.is_empty() || self.kinds.contains(&node.kind);
        }
        let namespace = node.properties.namespace();
        let namespace = namespace.as_deref();
        let kind_ok = self.kinds.is_empty() || self.kinds.contains(&node.kind);
        let included = self.namespaces.is_empty()
            || namespace.is_some_and(|ns| self.namespaces.iter().any(|n| n == ns));
        let excluded = namespace.is_some_and(|ns| self.exclude_namespaces.iter().any(|n| n == ns));
        kind_ok && included && !excluded
    }
}

/// Keeps the nodes `filter` keeps (the root always), and the edges between kept nodes.
pub fn filter<P: Properties>(
    nodes: Vec<Node<P>>,
    edges: Vec<Edge>,
    filter: &Filter,
    root: &str,
) -> (Vec<Node<P>>, Vec<Edge>) {
    let nodes: Vec<Node<P>> = nodes
        .into_iter()
        .filter(|n| filter.keeps(n, root))
        .collect();
    let kept: HashSet<&str> = nodes.iter().map(|n| n.key.as_str()).collect();
    let edges = edges
        .into_iter()
        .filter(|e| kept.contains(e.source.as_str()) && kept.contains(e.target.as_str()))
        .collect();
    (nodes, edges)
}

/// How much an answer may grow by: edges, and bytes of JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Room {
    /// Most edges.
    pub edges: usize,
    /// Most bytes of JSON.
    pub bytes: usize,
}

/// Which bound cut an answer short.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// The most edges it may hold (the number).
    Edges(usize),
    /// The most bytes it may take (the number).
    Bytes(usize),
}

/// A shaped answer, and what cut it short if anything did.
#[derive(Debug, Clone)]
pub struct Shaped<P> {
    /// The nodes kept.
    pub nodes: Vec<Node<P>>,
    /// The edges kept.
    pub edges: Vec<Edge>,
    /// The bound that left edges out.
    pub cut: Option<Cut>,
}

/// What a `flows_to` edge costs in JSON besides its endpoints' keys and its job's: the kind,
/// two timestamps, the field names and punctuation (about 160 bytes), rounded up.
const FLOW_OVERHEAD: usize = 180;

/// Replaces every job by `flows_to` edges from each dataset it reads to each dataset it
/// writes (listing the jobs in between), and drops the jobs. The root stays even if a job.
///
/// A job reading m datasets and writing n becomes m × n edges, so collapsing can answer far
/// more than the walk found: it stops at `room` (new edges, and their estimated bytes), and
/// says so. Inputs are taken in the order given (sorted, for a stable answer).
pub fn collapse_jobs<P>(
    nodes: Vec<Node<P>>,
    edges: Vec<Edge>,
    root: &str,
    room: Room,
) -> Shaped<P> {
    let jobs: HashSet<String> = nodes
        .iter()
        .filter(|n| n.kind == NodeKind::Job && n.key != root)
        .map(|n| n.key.clone())
        .collect();
    let mut outputs: HashMap<&str, Vec<&Edge>> = HashMap::new();
    for output in edges
        .iter()
        .filter(|e| e.kind == EdgeKind::Output && jobs.contains(&e.source))
    {
        outputs.entry(&output.source).or_default().push(output);
    }
    let inputs = edges
        .iter()
        .filter(|e| e.kind == EdgeKind::Input && jobs.contains(&e.target));
    let mut flows = Flows::new(room);
    'inputs: for input in inputs {
        for output in outputs.get(input.target.as_str()).into_iter().flatten() {
            if let Err(cut) = flows.add(input, output) {
                flows.cut = Some(cut);
                break 'inputs;
            }
        }
    }
    let cut = flows.cut;
    let mut kept: Vec<Edge> = edges
        .iter()
        .filter(|e| !jobs.contains(&e.source) && !jobs.contains(&e.target))
        .cloned()
        .collect();
    kept.extend(flows.into_edges());
    let nodes = nodes
        .into_iter()
        .filter(|n| !jobs.contains(&n.key))
        .collect();
    Shaped {
        nodes,
        edges: kept,
        cut,
    }
}

/// The `flows_to` edges of a collapse, as they are found, within their room. Held as borrowed
/// keys until the end: a collapse reaches 100,000 flows, and owned keys and job sets for each
/// took several times the memory of the answer itself.
struct Flows<'e> {
    by_ends: BTreeMap<(&'e str, &'e str), Flow<'e>>,
    room: Room,
    bytes: usize,
    cut: Option<Cut>,
}

/// One `flows_to` edge being gathered: the jobs it passes through, and its times.
struct Flow<'e> {
    via: Vec<&'e str>,
    first_seen: DateTime<Utc>,
    last_seen: DateTime<Utc>,
}

impl<'e> Flows<'e> {
    fn new(room: Room) -> Self {
        Flows {
            by_ends: BTreeMap::new(),
            room,
            bytes: 0,
            cut: None,
        }
    }

    /// Adds the flow from `input`'s dataset through its job to `output`'s dataset.
    fn add(&mut self, input: &'e Edge, output: &'e Edge) -> Result<(), Cut> {
        let job = input.target.as_str();
        let ends = (input.source.as_str(), output.target.as_str());
        let cost = match self.by_ends.get(&ends) {
            Some(flow) if flow.via.contains(&job) => return Ok(()),
            Some(_) => job.len() + 3,
            None => ends.0.len() + ends.1.len() + job.len() + FLOW_OVERHEAD,
        };
        if self.bytes + cost > self.room.bytes {
            return Err(Cut::Bytes(self.room.bytes));
        }
        if !self.by_ends.contains_key(&ends) && self.by_ends.len() >= self.room.edges {
            return Err(Cut::Edges(self.room.edges));
        }
        self.bytes += cost;
        let flow = self.by_ends.entry(ends).or_insert_with(|| Flow {
            via: Vec::new(),
            first_seen: output.first_seen,
            last_seen: output.last_seen,
        });
        flow.via.push(job);
        flow.first_seen = flow.first_seen.min(output.first_seen);
        flow.last_seen = flow.last_seen.max(output.last_seen);
        Ok(())
    }

    fn into_edges(self) -> impl Iterator<Item = Edge> + 'e {
        self.by_ends
            .into_iter()
            .map(|((source, target), mut flow)| {
                flow.via.sort_unstable();
                Edge {
                    source: source.to_owned(),
                    target: target.to_owned(),
                    kind: EdgeKind::FlowsTo,
                    properties: json!({"jobs": flow.via}),
                    first_seen: flow.first_seen,
                    last_seen: flow.last_seen,
                }
            })
    }
}

/// Keeps an answer within `room`: the nodes, then as many edges as fit, in order. The nodes
/// are bounded by the walk (`maxNodes`) and never cut; when they alone take more than the
/// bytes allowed, the answer is refused with their size (`Err`).
pub fn cap<P: Serialize>(
    nodes: Vec<Node<P>>,
    mut edges: Vec<Edge>,
    room: Room,
) -> Result<Shaped<P>, usize> {
    let node_bytes: usize = nodes.iter().map(|n| json_len(n) + 1).sum();
    let Some(mut left) = room.bytes.checked_sub(node_bytes) else {
        return Err(node_bytes);
    };
    let mut cut = (edges.len() > room.edges).then_some(Cut::Edges(room.edges));
    edges.truncate(room.edges);
    let fit = edges.iter().position(|e| {
        let cost = json_len(e) + 1;
        let over = cost > left;
        left = left.saturating_sub(cost);
        over
    });
    if let Some(fit) = fit {
        edges.truncate(fit);
        cut = Some(Cut::Bytes(room.bytes));
    }
    Ok(Shaped { nodes, edges, cut })
}

/// The length of a value's JSON, without writing it anywhere.
pub fn json_len<T: Serialize>(value: &T) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    // Writing to a counter can't fail, and our values always serialize.
    let _ = serde_json::to_writer(&mut counter, value);
    counter.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use serde_json::Value;

    fn node(key: &str, kind: NodeKind, namespace: Option<&str>) -> Node {
        let now = Utc::now();
        let properties = namespace.map_or(json!({}), |ns| json!({"namespace": ns}));
        Node {
            key: key.into(),
            kind,
            name: key.into(),
            properties,
            first_seen: now,
            last_seen: now,
        }
    }

    fn edge(source: &str, kind: EdgeKind, target: &str) -> Edge {
        let now = Utc::now();
        Edge {
            source: source.into(),
            target: target.into(),
            kind,
            properties: Value::Null,
            first_seen: now,
            last_seen: now,
        }
    }

    fn graph() -> (Vec<Node>, Vec<Edge>) {
        let nodes = vec![
            node("dataset:a", NodeKind::Dataset, Some("lake")),
            node("dataset:b", NodeKind::Dataset, Some("lake")),
            node("dataset:c", NodeKind::Dataset, Some("mart")),
            node("job:j", NodeKind::Job, Some("etl")),
            node("job:k", NodeKind::Job, Some("etl")),
        ];
        let edges = vec![
            edge("dataset:a", EdgeKind::Input, "job:j"),
            edge("dataset:b", EdgeKind::Input, "job:j"),
            edge("job:j", EdgeKind::Output, "dataset:c"),
            edge("dataset:a", EdgeKind::Input, "job:k"),
            edge("job:k", EdgeKind::Output, "dataset:c"),
        ];
        (nodes, edges)
    }

    #[test]
    fn collapsing_jobs_leaves_dataset_to_dataset_edges_naming_the_jobs() {
        let (nodes, edges) = graph();
        let Shaped { nodes, edges, cut } = collapse_jobs(nodes, edges, "dataset:a", ROOMY);
        assert_eq!((nodes.len(), cut), (3, None));
        let flows: Vec<_> = edges
            .iter()
            .map(|e| (e.source.as_str(), e.target.as_str(), e.properties.clone()))
            .collect();
        assert_eq!(
            flows,
            vec![
                (
                    "dataset:a",
                    "dataset:c",
                    json!({"jobs": ["job:j", "job:k"]})
                ),
                ("dataset:b", "dataset:c", json!({"jobs": ["job:j"]})),
            ]
        );
    }

    const ROOMY: Room = Room {
        edges: usize::MAX,
        bytes: usize::MAX,
    };

    /// One job reading `n` datasets and writing `n`.
    fn fan(n: usize) -> (Vec<Node>, Vec<Edge>) {
        let mut nodes = vec![node("job:wide", NodeKind::Job, None)];
        let mut edges = Vec::new();
        for i in 0..n {
            let (input, output) = (format!("dataset:in{i:03}"), format!("dataset:out{i:03}"));
            nodes.push(node(&input, NodeKind::Dataset, None));
            nodes.push(node(&output, NodeKind::Dataset, None));
            edges.push(edge(&input, EdgeKind::Input, "job:wide"));
            edges.push(edge("job:wide", EdgeKind::Output, &output));
        }
        edges.sort_by(|a, b| (&a.source, &a.target).cmp(&(&b.source, &b.target)));
        (nodes, edges)
    }

    #[test]
    fn collapsing_stops_at_its_room_and_says_which_bound_cut_it() {
        let (nodes, edges) = fan(30);
        let all = collapse_jobs(nodes.clone(), edges.clone(), "dataset:in000", ROOMY);
        assert_eq!((all.edges.len(), all.cut), (900, None));
        let room = Room {
            edges: 100,
            bytes: usize::MAX,
        };
        let cut = collapse_jobs(nodes.clone(), edges.clone(), "dataset:in000", room);
        assert_eq!((cut.edges.len(), cut.cut), (100, Some(Cut::Edges(100))));
        // The first inputs, in order, keep every flow.
        assert!(
            cut.edges
                .iter()
                .all(|e| e.source.as_str() <= "dataset:in003")
        );
        let room = Room {
            edges: usize::MAX,
            bytes: 10_000,
        };
        let cut = collapse_jobs(nodes, edges, "dataset:in000", room);
        assert_eq!(cut.cut, Some(Cut::Bytes(10_000)));
        let bytes: usize = cut.edges.iter().map(|e| json_len(e) + 1).sum();
        assert!(bytes <= 10_000, "{bytes}");
    }

    #[test]
    fn capping_keeps_the_nodes_and_the_edges_that_fit() {
        let (nodes, edges) = fan(10);
        let node_bytes: usize = nodes.iter().map(|n| json_len(n) + 1).sum();
        let three: usize = edges[..3].iter().map(|e| json_len(e) + 1).sum();
        let room = |edges, bytes| Room { edges, bytes };
        let all = cap(nodes.clone(), edges.clone(), ROOMY).unwrap();
        assert_eq!((all.nodes.len(), all.edges.len(), all.cut), (21, 20, None));
        let few = cap(nodes.clone(), edges.clone(), room(5, usize::MAX)).unwrap();
        assert_eq!((few.edges.len(), few.cut), (5, Some(Cut::Edges(5))));
        let budget = node_bytes + three + 2;
        let small = cap(nodes.clone(), edges.clone(), room(100, budget)).unwrap();
        assert_eq!(
            (small.edges.len(), small.cut),
            (3, Some(Cut::Bytes(budget)))
        );
        assert_eq!(cap(nodes, edges, room(100, 100)).unwrap_err(), node_bytes);
    }

    #[test]
    fn filters_keep_the_root_and_edges_between_kept_nodes() {
        let (nodes, edges) = graph();
        let f = Filter {
            kinds: vec![NodeKind::Dataset],
            ..Filter::default()
        };
        let (nodes, edges) = filter(nodes, edges, &f, "job:j");
        assert_eq!(
            nodes.iter().map(|n| n.key.as_str()).collect::<Vec<_>>(),
            ["dataset:a", "dataset:b", "dataset:c", "job:j"]
        );
        assert_eq!(edges.len(), 3);
        let (nodes, _) = graph();
        let f = Filter {
            exclude_namespaces: vec!["etl".into()],
            ..Filter::default()
        };
        assert_eq!(filter(nodes, vec![], &f, "dataset:a").0.len(), 3);
    }
}
