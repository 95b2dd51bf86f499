//! Shaping a subgraph for its reader: dropping node kinds or namespaces, and collapsing jobs
//! into dataset-to-dataset edges. Pure functions over loaded nodes and edges.

use std::collections::{BTreeMap, BTreeSet, HashSet};

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

/// Replaces every job by `flows_to` edges from each dataset it reads to each dataset it
/// writes (listing the jobs in between), and drops the jobs. The root stays even if a job.
pub fn collapse_jobs<P>(
    nodes: Vec<Node<P>>,
    edges: Vec<Edge>,
    root: &str,
) -> (Vec<Node<P>>, Vec<Edge>) {
    let jobs: HashSet<String> = nodes
        .iter()
        .filter(|n| n.kind == NodeKind::Job && n.key != root)
        .map(|n| n.key.clone())
        .collect();
    let mut flows: BTreeMap<(String, String), (BTreeSet<String>, Edge)> = BTreeMap::new();
    for input in edges
        .iter()
        .filter(|e| e.kind == EdgeKind::Input && jobs.contains(&e.target))
    {
        for output in edges
            .iter()
            .filter(|e| e.kind == EdgeKind::Output && e.source == input.target)
        {
            let entry = flows
                .entry((input.source.clone(), output.target.clone()))
                .or_insert_with(|| {
                    let edge = Edge {
                        source: input.source.clone(),
                        target: output.target.clone(),
                        kind: EdgeKind::FlowsTo,
                        ..input.clone()
                    };
                    (BTreeSet::new(), edge)
                });
            entry.0.insert(input.target.clone());
            entry.1.first_seen = entry.1.first_seen.min(output.first_seen);
            entry.1.last_seen = entry.1.last_seen.max(output.last_seen);
        }
    }
    let mut kept: Vec<Edge> = edges
        .into_iter()
        .filter(|e| !jobs.contains(&e.source) && !jobs.contains(&e.target))
        .collect();
    kept.extend(flows.into_values().map(|(via, mut edge)| {
        edge.properties = json!({"jobs": via});
        edge
    }));
    let nodes = nodes
        .into_iter()
        .filter(|n| !jobs.contains(&n.key))
        .collect();
    (nodes, kept)
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
        let (nodes, edges) = collapse_jobs(nodes, edges, "dataset:a");
        assert_eq!(nodes.len(), 3);
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
