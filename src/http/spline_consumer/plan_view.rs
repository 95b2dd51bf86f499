//! One Spline plan's operations and attributes as stored (`op:` and `attr:` nodes), seen the
//! way Spline's consumer API shows them: operations in reading order (inputs before the
//! operations that consume them), each operation's inputs, and the schema each one outputs.
//!
//! Pure: built from nodes already loaded, so the ordering and schema rules are unit-tested.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use serde_json::Value;

use crate::model::{Node, NodeKind};

/// A plan's operations and attributes, indexed by their ids within the plan (`op-1`, `attr-3`).
pub(super) struct PlanView<'a> {
    /// The plan's UUID.
    pub plan_id: &'a str,
    /// Operations, every one after its inputs; reads first, the write last.
    pub operations: Vec<&'a Node>,
    attributes: Vec<&'a Node>,
    operation_by_id: HashMap<&'a str, &'a Node>,
    attribute_by_id: HashMap<&'a str, &'a Node>,
    /// Shared: a schema passed down a chain of operations is held once, not once per
    /// operation (50,000 operations passing on 200,000 attributes would be 10^10 copies).
    schemas: HashMap<&'a str, Arc<[&'a str]>>,
}

/// A string property of a node.
pub(super) fn text<'a>(node: &'a Node, name: &str) -> Option<&'a str> {
    node.properties.get(name).and_then(Value::as_str)
}

/// The id of an operation or attribute within its plan (its `id` property).
pub(super) fn local_id(node: &Node) -> &str {
    text(node, "id").unwrap_or_default()
}

/// A list-of-ids property (`childIds`, `output`); `None` when absent.
fn id_list<'a>(node: &'a Node, name: &str) -> Option<Vec<&'a str>> {
    let list = node.properties.get(name)?.as_array()?;
    Some(list.iter().filter_map(Value::as_str).collect())
}

/// Ids sort naturally: `op-2` before `op-10`.
fn natural(id: &str) -> (usize, &str) {
    (id.len(), id)
}

impl<'a> PlanView<'a> {
    /// Picks the members of plan `plan_id` among `members` and orders them.
    pub fn new(plan_id: &'a str, members: impl IntoIterator<Item = &'a Node>) -> Self {
        let mine = members
            .into_iter()
            .filter(|n| text(n, "planId") == Some(plan_id));
        let (mut operations, mut attributes): (Vec<&Node>, Vec<&Node>) =
            mine.partition(|n| n.kind == NodeKind::Operation);
        attributes.sort_by(|a, b| natural(local_id(a)).cmp(&natural(local_id(b))));
        operations.sort_by_key(|op| (kind_rank(op), natural(local_id(op))));
        let operations = reading_order(operations);
        let mut view = PlanView {
            plan_id,
            operation_by_id: operations.iter().map(|o| (local_id(o), *o)).collect(),
            attribute_by_id: attributes.iter().map(|a| (local_id(a), *a)).collect(),
            operations,
            attributes,
            schemas: HashMap::new(),
        };
        view.schemas = view.infer_schemas();
        view
    }

    /// The operation with this id within the plan.
    pub fn operation(&self, id: &str) -> Option<&'a Node> {
        self.operation_by_id.get(id).copied()
    }

    /// The attribute with this id within the plan.
    pub fn attribute(&self, id: &str) -> Option<&'a Node> {
        self.attribute_by_id.get(id).copied()
    }

    /// Every attribute, by id.
    pub fn attributes(&self) -> &[&'a Node] {
        &self.attributes
    }

    /// The operations feeding `op`, in `childIds` order.
    pub fn inputs(&self, op: &Node) -> Vec<&'a Node> {
        let children = id_list(op, "childIds").unwrap_or_default();
        children
            .into_iter()
            .filter_map(|c| self.operation(c))
            .collect()
    }

    /// The plan's write: the root of its operation graph.
    pub fn write(&self) -> Option<&'a Node> {
        self.operations
            .iter()
            .copied()
            .find(|op| text(op, "type") == Some("Write"))
    }

    /// The ids of the attributes `op` outputs.
    pub fn schema(&self, op: &Node) -> &[&'a str] {
        self.schemas.get(local_id(op)).map_or(&[], |s| s)
    }

    /// Which operations carry each attribute in their output, found without comparing every
    /// schema with every attribute: operations passing a schema on share it, so each distinct
    /// schema is read once.
    pub fn carriers(&self) -> Carriers<'a> {
        let mut group_of: HashMap<*const [&str], usize> = HashMap::new();
        let mut groups: Vec<Vec<usize>> = Vec::new();
        let mut by_attribute: HashMap<&'a str, Vec<usize>> = HashMap::new();
        for (i, op) in self.operations.iter().enumerate() {
            let Some(schema) = self.schemas.get(local_id(op)) else {
                continue;
            };
            let group = *group_of.entry(Arc::as_ptr(schema)).or_insert_with(|| {
                for attr in schema.iter() {
                    by_attribute.entry(attr).or_default().push(groups.len());
                }
                groups.push(Vec::new());
                groups.len() - 1
            });
            groups[group].push(i);
        }
        Carriers {
            operations: self.operations.clone(),
            groups,
            by_attribute,
        }
    }

    /// An operation without an `output` outputs what its first input does (Spline rejects a
    /// plan where inputs disagree), so schemas are settled in reading order.
    fn infer_schemas(&self) -> HashMap<&'a str, Arc<[&'a str]>> {
        let mut schemas: HashMap<&str, Arc<[&str]>> = HashMap::new();
        for op in &self.operations {
            let schema = match id_list(op, "output") {
                Some(declared) => declared.into(),
                None => {
                    let first = self.inputs(op).into_iter().next();
                    let inherited = first.and_then(|input| schemas.get(local_id(input)));
                    inherited.cloned().unwrap_or_else(|| Arc::from([]))
                }
            };
            schemas.insert(local_id(op), schema);
        }
        schemas
    }
}

/// The operations carrying each attribute ([`PlanView::carriers`]).
pub(super) struct Carriers<'a> {
    operations: Vec<&'a Node>,
    /// Operations sharing one schema, by their position in reading order.
    groups: Vec<Vec<usize>>,
    /// The groups whose schema holds each attribute.
    by_attribute: HashMap<&'a str, Vec<usize>>,
}

impl<'a> Carriers<'a> {
    /// The operations whose output carries `attr`, in reading order.
    pub fn of(&self, attr: &str) -> Vec<&'a Node> {
        let mut positions: Vec<usize> = self
            .by_attribute
            .get(attr)
            .into_iter()
            .flatten()
            .flat_map(|&g| self.groups[g].iter().copied())
            .collect();
        positions.sort_unstable();
        positions.dedup();
        positions.into_iter().map(|i| self.operations[i]).collect()
    }
}

/// Reads come first and the write last among operations that are otherwise free to go.
fn kind_rank(op: &Node) -> u8 {
    match text(op, "type") {
        Some("Read") => 0,
        Some("Write") => 2,
        _ => 1,
    }
}

/// Orders operations so that each comes after its inputs (`childIds`), taking the earliest of
/// `ops`' order whenever several are ready: the order Spline's UI lays the graph out in.
fn reading_order(ops: Vec<&Node>) -> Vec<&Node> {
    let position: HashMap<&str, usize> = ops
        .iter()
        .enumerate()
        .map(|(i, op)| (local_id(op), i))
        .collect();
    let mut waiting = vec![0usize; ops.len()];
    let mut consumers: Vec<Vec<usize>> = vec![Vec::new(); ops.len()];
    for (i, op) in ops.iter().enumerate() {
        for child in id_list(op, "childIds").unwrap_or_default() {
            if let Some(&c) = position.get(child) {
                waiting[i] += 1;
                consumers[c].push(i);
            }
        }
    }
    let mut ready: BTreeSet<usize> = (0..ops.len()).filter(|&i| waiting[i] == 0).collect();
    let mut order = Vec::with_capacity(ops.len());
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &consumer in &consumers[i] {
            waiting[consumer] -= 1;
            if waiting[consumer] == 0 {
                ready.insert(consumer);
            }
        }
    }
    // Ingest rejects cycles; should one be stored anyway, its operations still appear.
    let placed: BTreeSet<usize> = order.iter().copied().collect();
    order.extend((0..ops.len()).filter(|i| !placed.contains(i)));
    order.into_iter().map(|i| ops[i]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use serde_json::json;

    const PLAN: &str = "p";

    fn node(kind: NodeKind, props: Value) -> Node {
        let mut props = props;
        props["planId"] = json!(PLAN);
        let id = props["id"].as_str().unwrap().to_owned();
        Node {
            key: format!("x:{PLAN}:{id}"),
            kind,
            name: id,
            properties: props,
            first_seen: Utc::now(),
            last_seen: Utc::now(),
        }
    }

    fn op(id: &str, kind: &str, children: &[&str], output: Option<&[&str]>) -> Node {
        let mut props = json!({"id": id, "type": kind, "childIds": children});
        if let Some(out) = output {
            props["output"] = json!(out);
        }
        node(NodeKind::Operation, props)
    }

    /// The captured OpenMetadata plan: two reads → Union → Filter → Project → write.
    fn union_plan() -> Vec<Node> {
        vec![
            op("op-0", "Write", &["op-1"], None),
            op(
                "op-1",
                "Transformation",
                &["op-2"],
                Some(&["attr-4", "attr-5"]),
            ),
            op("op-2", "Transformation", &["op-3"], None),
            op(
                "op-3",
                "Transformation",
                &["op-4", "op-5"],
                Some(&["attr-4", "attr-5"]),
            ),
            op("op-4", "Read", &[], Some(&["attr-0", "attr-1"])),
            op("op-5", "Read", &[], Some(&["attr-2", "attr-3"])),
            node(NodeKind::Attribute, json!({"id": "attr-10"})),
            node(NodeKind::Attribute, json!({"id": "attr-2"})),
        ]
    }

    fn ids<'a>(nodes: &[&'a Node]) -> Vec<&'a str> {
        nodes.iter().map(|n| local_id(n)).collect()
    }

    #[test]
    fn operations_come_in_reading_order_reads_first_write_last() {
        let members = union_plan();
        let view = PlanView::new(PLAN, &members);
        assert_eq!(
            ids(&view.operations),
            ["op-4", "op-5", "op-3", "op-2", "op-1", "op-0"]
        );
        assert_eq!(view.write().map(local_id), Some("op-0"));
        assert_eq!(ids(view.attributes()), ["attr-2", "attr-10"]);
    }

    #[test]
    fn an_operation_without_output_outputs_its_first_inputs_schema() {
        let members = union_plan();
        let view = PlanView::new(PLAN, &members);
        let schema = |id| view.schema(view.operation(id).unwrap()).to_vec();
        assert_eq!(schema("op-2"), ["attr-4", "attr-5"]);
        assert_eq!(schema("op-0"), ["attr-4", "attr-5"]);
        assert_eq!(schema("op-5"), ["attr-2", "attr-3"]);
        let carriers = view.carriers();
        assert_eq!(
            ids(&carriers.of("attr-4")),
            ["op-3", "op-2", "op-1", "op-0"]
        );
        assert_eq!(ids(&carriers.of("attr-0")), ["op-4"]);
        assert!(carriers.of("attr-10").is_empty());
        assert_eq!(
            ids(&view.inputs(view.operation("op-3").unwrap())),
            ["op-4", "op-5"]
        );
    }

    #[test]
    fn members_of_other_plans_are_left_out_and_cycles_still_list_everything() {
        let mut members = vec![
            op("a", "Transformation", &["b"], None),
            op("b", "Transformation", &["a"], None),
        ];
        let mut other = op("c", "Read", &[], None);
        other.properties["planId"] = json!("q");
        members.push(other);
        let view = PlanView::new(PLAN, &members);
        assert_eq!(ids(&view.operations), ["a", "b"]);
        assert!(view.write().is_none());
    }
}
