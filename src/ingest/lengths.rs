//! Bounds on the length of what identifies a node: its key, its name and its namespace.
//!
//! PostgreSQL indexes node keys, alias keys and (kind, namespace, name), and refuses an index
//! row over about 2,700 bytes ("index row requires 11480 bytes"), while SQLite takes anything:
//! a million-character job name was a 500 on one backend and stored on the other. So every key
//! and name a payload sets is bounded here, before storage, the same for both backends, with a
//! 400 that names the field that made it long.
//!
//! Keys are composed (`dataset:<namespace>/<name>`, `field:<dataset>#<column>`), so the bound
//! applies to what is stored, and the field is found afterwards in the request: the longest
//! string of the request that the key or name contains.

use serde_json::Value;

use crate::error::Error;
use crate::model::{ChangeSet, NewProperties, Properties};

/// The most bytes (UTF-8) a node key, an alias, or a node's name and namespace together may
/// take: well under PostgreSQL's index-row limit of about 2,700 bytes, and far above any real
/// dataset URI, job name or column name.
pub const MAX_KEY_BYTES: usize = 2048;

/// Something over the bound: what it is and its text.
#[derive(Debug)]
pub struct TooLong {
    what: &'static str,
    text: String,
    bytes: usize,
}

/// Finds the first key, alias, edge end, or name with its namespace, over [`MAX_KEY_BYTES`].
pub fn check(changes: &ChangeSet) -> Result<(), TooLong> {
    for node in &changes.nodes {
        bounded("node key", &node.key, node.key.len())?;
        let room = MAX_KEY_BYTES.saturating_sub(node.name.len());
        let namespace = namespace_bytes(&node.properties, room);
        bounded("name", &node.name, node.name.len() + namespace)?;
    }
    for alias in &changes.aliases {
        bounded("alias", &alias.key, alias.key.len())?;
        bounded("node key", &alias.canonical, alias.canonical.len())?;
    }
    for edge in &changes.edges {
        bounded("node key", &edge.source, edge.source.len())?;
        bounded("node key", &edge.target, edge.target.len())?;
    }
    Ok(())
}

/// The length of the `namespace` property. Properties kept as text (a plan's operations, most
/// of its bytes) are only read when they are longer than `room`, the bytes the name leaves.
fn namespace_bytes(properties: &NewProperties, room: usize) -> usize {
    let namespace = match properties {
        NewProperties::Values(map) => map.namespace(),
        NewProperties::Text(raw) if raw.get().len() > room => raw.namespace(),
        NewProperties::Text(_) => None,
    };
    namespace.map_or(0, |ns| ns.len())
}

fn bounded(what: &'static str, text: &str, bytes: usize) -> Result<(), TooLong> {
    match bytes > MAX_KEY_BYTES {
        false => Ok(()),
        true => Err(TooLong {
            what,
            text: text.to_owned(),
            bytes,
        }),
    }
}

impl TooLong {
    /// The 400 it answers, pointing at the string of `request` that made it long; `at` is the
    /// request's own place (`[3]` for an event of a batch, else empty).
    pub fn into_error(self, request: &Value, at: &str) -> Error {
        let found = culprit(request, &self.text);
        let path = match &found {
            Some(path) => super::json::prefixed(at, path),
            None if at.is_empty() => "$".to_owned(),
            None => at.to_owned(),
        };
        let detail = format!(
            "{path}: too long: the {} `{}` takes {} bytes, and node keys, names with their \
             namespace, and aliases may take at most {MAX_KEY_BYTES}",
            self.what,
            preview(&self.text),
            self.bytes,
        );
        Error::bad_request("name-too-long", detail, Some(path))
    }
}

/// The first characters of a long text, enough to recognise it.
fn preview(text: &str) -> String {
    const SHOWN: usize = 48;
    match text.char_indices().nth(SHOWN) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// The path of the longest string (or object key) of `request` that `long` contains, compared
/// case-insensitively as well (canonical dataset URIs lower-case the host). A key joins at
/// most a few strings, so the one that made it long holds at least a quarter of it: shorter
/// strings aren't searched for, which keeps the search linear in the request.
fn culprit(request: &Value, long: &str) -> Option<String> {
    let mut candidates = Vec::new();
    strings(request, &mut Vec::new(), long.len() / 4, &mut candidates);
    candidates.sort_by_key(|(_, text)| std::cmp::Reverse(text.len()));
    let lower = long.to_lowercase();
    candidates
        .into_iter()
        .find(|(_, text)| long.contains(text) || lower.contains(&text.to_lowercase()))
        .map(|(path, _)| path)
}

/// A step of a path into the request.
enum Step<'a> {
    Field(&'a str),
    Index(usize),
}

/// Collects the strings of `value` at least `min` bytes long, each with its path; a long
/// object key is reported at its object (the key itself would make an unreadable path).
fn strings<'a>(
    value: &'a Value,
    at: &mut Vec<Step<'a>>,
    min: usize,
    out: &mut Vec<(String, &'a str)>,
) {
    match value {
        Value::String(text) if text.len() >= min => out.push((render(at), text)),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                at.push(Step::Index(i));
                strings(item, at, min, out);
                at.pop();
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                if key.len() >= min {
                    out.push((render(at), key));
                }
                at.push(Step::Field(key));
                strings(item, at, min, out);
                at.pop();
            }
        }
        _ => {}
    }
}

/// `outputs[0].facets.schema`, as the decoders' error paths are written; `$` for the root.
/// Keys longer than a path can usefully show are cut short.
fn render(steps: &[Step<'_>]) -> String {
    let mut out = String::new();
    for step in steps {
        match step {
            Step::Index(i) => out.push_str(&format!("[{i}]")),
            Step::Field(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(&preview(key));
            }
        }
    }
    if out.is_empty() { "$".to_owned() } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Alias, MergePolicy, NewNode, NodeKind};
    use serde_json::json;

    fn node(key: &str, name: &str, namespace: Option<&str>) -> NewNode {
        let mut properties = serde_json::Map::new();
        if let Some(ns) = namespace {
            properties.insert("namespace".into(), json!(ns));
        }
        NewNode {
            key: key.into(),
            kind: NodeKind::Job,
            name: name.into(),
            properties: properties.into(),
            policy: MergePolicy::Merge,
            seen_at: chrono::Utc::now(),
            writer: None,
        }
    }

    fn changes(nodes: Vec<NewNode>) -> ChangeSet {
        ChangeSet {
            nodes,
            ..ChangeSet::default()
        }
    }

    #[test]
    fn keys_names_and_namespaces_are_bounded_together() {
        let long = "n".repeat(MAX_KEY_BYTES);
        assert!(check(&changes(vec![node("job:a/b", &long, None)])).is_ok());
        let err = check(&changes(vec![node("job:a/b", &long, Some("a"))])).unwrap_err();
        assert_eq!((err.what, err.bytes), ("name", MAX_KEY_BYTES + 1));
        let key = format!("job:{long}");
        assert_eq!(
            check(&changes(vec![node(&key, "b", None)]))
                .unwrap_err()
                .what,
            "node key"
        );
        let mut aliased = changes(vec![]);
        aliased.aliases.push(Alias {
            key,
            canonical: "dataset:a/b".into(),
            namespace: "a".into(),
        });
        assert_eq!(check(&aliased).unwrap_err().what, "alias");
    }

    #[test]
    fn the_string_that_made_it_long_is_named() {
        let long = "x".repeat(3000);
        let request = json!({"job": {"namespace": "ns", "name": long},
                             "outputs": [{"namespace": "S3://BUCKET", "name": "t",
                                          "facets": {"columnLineage": {"fields": {long.clone(): {}}}}}]});
        let key = format!("job:ns/{long}");
        let err = check(&changes(vec![node(&key, "n", None)])).unwrap_err();
        let err = err.into_error(&request, "[2]");
        let Error::BadRequest { code, path, detail } = err else {
            panic!("{err:?}")
        };
        assert_eq!(
            (code, path.as_deref()),
            ("name-too-long", Some("[2].job.name"))
        );
        assert!(detail.len() < 400, "{detail}");
        assert!(
            detail.contains("3007 bytes") && detail.contains("2048"),
            "{detail}"
        );
        let upper = format!("dataset:s3://{}/t", "b".repeat(3000));
        let request =
            json!({"inputs": [{"namespace": format!("S3://{}", "B".repeat(3000)), "name": "t"}]});
        let err = check(&changes(vec![node(&upper, "t", None)])).unwrap_err();
        let Error::BadRequest { path, .. } = err.into_error(&request, "") else {
            panic!()
        };
        assert_eq!(path.as_deref(), Some("inputs[0].namespace"));
    }

    #[test]
    fn a_long_object_key_is_reported_at_its_object() {
        let long = "c".repeat(3000);
        let request = json!({"facets": {"columnLineage": {"fields": {long.clone(): {}}}}});
        let key = format!("field:s3://b/t#{long}");
        let err = check(&changes(vec![node(&key, "c", None)])).unwrap_err();
        let Error::BadRequest { path, .. } = err.into_error(&request, "") else {
            panic!()
        };
        assert_eq!(path.as_deref(), Some("facets.columnLineage.fields"));
    }
}
