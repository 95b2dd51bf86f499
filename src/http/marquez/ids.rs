//! Marquez node ids (`dataset:<ns>:<name>`, `job:<ns>:<name>`,
//! `datasetField:<ns>:<dataset>:<field>`) and how they map onto Headwater keys.
//!
//! Namespaces hold `://` and `host:port`, so the namespace ends at the first `:` that is not
//! followed by `//` or a digit, the rule Marquez itself uses.

use crate::error::{Error, Result};
use crate::ingest::openlineage::convert::{field_key, job_key};
use crate::model::{Node, NodeKind};
use crate::naming;

/// The namespace Spline-fed jobs (and data sources without a URI authority) appear under.
pub const SPLINE_NAMESPACE: &str = "spline";

/// A parsed Marquez node id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarquezId {
    /// `dataset:<ns>:<name>`.
    Dataset { namespace: String, name: String },
    /// `job:<ns>:<name>`.
    Job { namespace: String, name: String },
    /// `datasetField:<ns>:<dataset>:<field>`.
    Field {
        namespace: String,
        dataset: String,
        field: String,
    },
    /// `run:<runId>`.
    Run { id: String },
}

impl MarquezId {
    /// Parses a node id; `param` names the query parameter for error paths.
    pub fn parse(id: &str, param: &str) -> Result<MarquezId> {
        let bad = || {
            let detail = format!(
                "`{id}` is not a node id such as dataset:<namespace>:<name> or job:<namespace>:<name>"
            );
            Error::bad_request("invalid-parameter", detail, Some(param.to_owned()))
        };
        let (kind, rest) = id.split_once(':').ok_or_else(bad)?;
        if kind == "run" && !rest.is_empty() {
            return Ok(MarquezId::Run {
                id: rest.to_owned(),
            });
        }
        let (namespace, name) = split_namespace(rest).ok_or_else(bad)?;
        let (namespace, name) = (namespace.to_owned(), name.to_owned());
        match kind {
            "dataset" => Ok(MarquezId::Dataset { namespace, name }),
            "job" => Ok(MarquezId::Job { namespace, name }),
            "datasetField" => {
                let (dataset, field) = name.rsplit_once(':').ok_or_else(bad)?;
                Ok(MarquezId::Field {
                    namespace,
                    dataset: dataset.to_owned(),
                    field: field.to_owned(),
                })
            }
            _ => Err(bad()),
        }
    }

    /// The Headwater key of the node the id names.
    pub fn key(&self) -> String {
        match self {
            MarquezId::Dataset { namespace, name } => dataset_key(namespace, name),
            MarquezId::Job { namespace, name } if namespace == SPLINE_NAMESPACE => {
                format!("job:{name}")
            }
            MarquezId::Job { namespace, name } => job_key(namespace, name),
            MarquezId::Field {
                namespace,
                dataset,
                field,
            } => field_key(&dataset_key(namespace, dataset), field),
            MarquezId::Run { id } => format!("run:{id}"),
        }
    }
}

fn dataset_key(namespace: &str, name: &str) -> String {
    match namespace == SPLINE_NAMESPACE {
        true => naming::dataset_key_from_uri(name),
        false => naming::dataset_key(namespace, name),
    }
}

/// Splits `<ns>:<rest>` at the first `:` that ends the namespace: not the one of `scheme://`,
/// and not a `:port` inside a URI authority.
fn split_namespace(rest: &str) -> Option<(&str, &str)> {
    let at = rest
        .char_indices()
        .filter(|&(_, c)| c == ':')
        .map(|(i, _)| i)
        .find(|&i| {
            let (before, after) = (&rest[..i], &rest[i + 1..]);
            !after.starts_with("//") && !is_port(before, after)
        })?;
    let (namespace, name) = (&rest[..at], &rest[at + 1..]);
    (!namespace.is_empty() && !name.is_empty()).then_some((namespace, name))
}

/// `host:5432` inside `scheme://host:5432`, followed by the end, a `/` or a `:`.
fn is_port(before: &str, after: &str) -> bool {
    let in_authority = before
        .split_once("://")
        .is_some_and(|(_, authority)| !authority.contains('/'));
    let digits = after.chars().take_while(char::is_ascii_digit).count();
    in_authority && digits > 0 && matches!(after[digits..].chars().next(), None | Some('/' | ':'))
}

/// The (namespace, name) a node shows under in the Marquez API.
pub fn reference(node: &Node) -> (String, String) {
    let prop = |k: &str| {
        node.properties
            .get(k)
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    let bare = node
        .key
        .split_once(':')
        .map_or(node.key.as_str(), |(_, rest)| rest)
        .to_owned();
    match node.kind {
        NodeKind::Job if prop("format").as_deref() != Some("openlineage") => {
            (SPLINE_NAMESPACE.to_owned(), bare)
        }
        NodeKind::Dataset | NodeKind::Job => match (prop("namespace"), prop("name")) {
            (Some(ns), Some(name)) => (ns, name),
            _ => dataset_reference(&node.key),
        },
        _ => (SPLINE_NAMESPACE.to_owned(), bare),
    }
}

/// The (namespace, name) of a dataset known only by key (e.g. a field's dataset).
pub fn dataset_reference(key: &str) -> (String, String) {
    let uri = key.strip_prefix("dataset:").unwrap_or(key);
    if let Some(pair) = naming::namespace_and_name(uri) {
        return pair;
    }
    match uri.split_once('/') {
        Some((ns, name)) if !uri.contains(':') => (ns.to_owned(), name.to_owned()),
        _ => (SPLINE_NAMESPACE.to_owned(), uri.to_owned()),
    }
}

/// The Marquez id of a dataset or job node.
pub fn node_id(node: &Node) -> String {
    let (ns, name) = reference(node);
    let kind = if node.kind == NodeKind::Job {
        "job"
    } else {
        "dataset"
    };
    format!("{kind}:{ns}:{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dataset(ns: &str, name: &str) -> MarquezId {
        MarquezId::Dataset {
            namespace: ns.to_owned(),
            name: name.to_owned(),
        }
    }

    #[test]
    fn namespaces_with_schemes_and_ports_survive_parsing() {
        assert_eq!(
            MarquezId::parse("dataset:postgres://host:5432:db.s.t", "nodeId").unwrap(),
            dataset("postgres://host:5432", "db.s.t")
        );
        assert_eq!(
            MarquezId::parse("dataset:food_delivery:public.orders", "nodeId").unwrap(),
            dataset("food_delivery", "public.orders")
        );
        assert_eq!(
            MarquezId::parse("dataset:hdfs://nn:8020:/data/x", "nodeId")
                .unwrap()
                .key(),
            "dataset:hdfs://nn:8020/data/x"
        );
    }

    #[test]
    fn field_ids_split_off_the_field() {
        let id = MarquezId::parse("datasetField:bigquery:proj.ds.t:col_a", "nodeId").unwrap();
        assert_eq!(id.key(), "field:bigquery/proj.ds.t#col_a");
    }

    #[test]
    fn spline_jobs_live_in_the_spline_namespace() {
        let id =
            MarquezId::parse("job:spline:8e3815c6-c3c8-4ad5-bda1-52020a8f864f", "nodeId").unwrap();
        assert_eq!(id.key(), "job:8e3815c6-c3c8-4ad5-bda1-52020a8f864f");
        assert_eq!(
            MarquezId::parse("run:abc", "nodeId").unwrap().key(),
            "run:abc"
        );
        assert!(MarquezId::parse("dataset:nocolon", "nodeId").is_err());
    }

    #[test]
    fn datasets_known_by_key_split_into_namespace_and_name() {
        assert_eq!(
            dataset_reference("dataset:food_delivery/public.orders"),
            ("food_delivery".into(), "public.orders".into())
        );
        assert_eq!(
            dataset_reference("dataset:file:///tmp/x"),
            ("file".into(), "/tmp/x".into())
        );
        assert_eq!(
            dataset_reference("dataset:table3"),
            ("spline".into(), "table3".into())
        );
    }
}
