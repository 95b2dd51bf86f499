//! Attribute and expression references in operation parameters (`{"__attrId": "attr-3"}`,
//! `{"__exprId": "expr-7"}`), expanded into the expression trees Spline's operation details
//! show: the `_typeHint` shapes (`expr.AttrRef`, `expr.Alias`, `expr.Binary`, ...) its UI
//! renders as text.

use std::cell::Cell;
use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::plan_view::PlanView;

/// Deeper trees are cut off: this also stops reference cycles from looping.
const MAX_DEPTH: usize = 64;

/// Most references one expansion replaces by their trees. Expressions form a DAG and a tree
/// repeats what is shared, so 22 expressions each referencing the next twice expand to 4
/// million nodes; past this bound, references are left as they are stored
/// (`{"__exprId": ...}`), as they are past [`MAX_DEPTH`].
pub(super) const MAX_EXPANDED: usize = 50_000;

/// The function hints with a shape of their own; any other renders as `expr.Generic`.
const SHAPED: [&str; 5] = [
    "expr.Alias",
    "expr.Binary",
    "expr.UDF",
    "expr.GenericLeaf",
    "expr.UntypedExpression",
];

/// A plan's expressions and attributes, by id.
pub(super) struct Expressions<'a> {
    view: &'a PlanView<'a>,
    functions: HashMap<&'a str, &'a Value>,
    constants: HashMap<&'a str, &'a Value>,
    /// References an expansion may still replace.
    left: Cell<usize>,
}

/// The id a reference object points at: `Attr` or `Expr`.
enum Reference<'v> {
    Attr(&'v str),
    Expr(&'v str),
}

fn reference(map: &Map<String, Value>) -> Option<Reference<'_>> {
    if map.len() != 1 {
        return None;
    }
    let (key, id) = map.iter().next()?;
    match (key.as_str(), id.as_str()) {
        ("__attrId", Some(id)) => Some(Reference::Attr(id)),
        ("__exprId", Some(id)) => Some(Reference::Expr(id)),
        _ => None,
    }
}

fn by_id(list: Option<&Value>) -> HashMap<&str, &Value> {
    let items = list.and_then(Value::as_array).into_iter().flatten();
    items
        .filter_map(|e| Some((e.get("id")?.as_str()?, e)))
        .collect()
}

fn field(value: &Value, name: &str) -> Value {
    value.get(name).cloned().unwrap_or(Value::Null)
}

impl<'a> Expressions<'a> {
    /// Indexes the plan's `expressions` (kept on its job node) and its attributes.
    pub fn new(expressions: Option<&'a Value>, view: &'a PlanView<'a>) -> Self {
        let list = |name: &str| expressions.and_then(|e| e.get(name));
        Expressions {
            view,
            functions: by_id(list("functions")),
            constants: by_id(list("constants")),
            left: Cell::new(MAX_EXPANDED),
        }
    }

    /// A copy of `value` with every reference, however deeply nested, replaced by its tree:
    /// at most [`MAX_EXPANDED`] of them, the rest left as references.
    pub fn expand(&self, value: &Value) -> Value {
        self.left.set(MAX_EXPANDED);
        self.expand_at(value, 0)
    }

    /// Takes one reference from the allowance; false when none is left.
    fn take(&self) -> bool {
        let left = self.left.get();
        self.left.set(left.saturating_sub(1));
        left > 0
    }

    fn expand_at(&self, value: &Value, depth: usize) -> Value {
        match value {
            Value::Object(map) => match reference(map) {
                Some(r) if depth < MAX_DEPTH && self.take() => self.tree(r, depth),
                _ => map
                    .iter()
                    .map(|(k, v)| (k.clone(), self.expand_at(v, depth)))
                    .collect(),
            },
            Value::Array(items) => items.iter().map(|v| self.expand_at(v, depth)).collect(),
            other => other.clone(),
        }
    }

    fn tree(&self, reference: Reference<'_>, depth: usize) -> Value {
        match reference {
            Reference::Attr(id) => self.attribute(id),
            Reference::Expr(id) => match (self.functions.get(id), self.constants.get(id)) {
                (Some(f), _) => self.function(f, depth),
                (None, Some(c)) => literal(c),
                (None, None) => json!({"__exprId": id}),
            },
        }
    }

    /// `expr.AttrRef`: the attribute by its Spline id.
    fn attribute(&self, id: &str) -> Value {
        let attr = self.view.attribute(id);
        json!({
            "_typeHint": "expr.AttrRef",
            "dataTypeId": attr.map_or(Value::Null, |a| field(&a.properties, "dataType")),
            "name": attr.map(|a| a.name.clone()),
            "refId": format!("{}:{id}", self.view.plan_id),
        })
    }

    /// A function, shaped by its `extra._typeHint` as Spline's `NodeToExprAssemblyConverter`
    /// shapes it. An unknown or missing hint renders as `expr.Generic`.
    fn function(&self, f: &Value, depth: usize) -> Value {
        let extra = f.get("extra").unwrap_or(&Value::Null);
        let hint = extra.get("_typeHint").and_then(Value::as_str);
        let children = || -> Vec<Value> {
            let refs = f.get("childRefs").and_then(Value::as_array);
            refs.into_iter()
                .flatten()
                .map(|r| self.expand_at(r, depth + 1))
                .collect()
        };
        let hint = hint
            .filter(|h| SHAPED.contains(h))
            .unwrap_or("expr.Generic");
        // Built field by field: `json!` would copy each subtree again (it serializes what it
        // is given), which costs the tree's size times its depth.
        let mut tree = Map::new();
        tree.insert("_typeHint".into(), hint.into());
        tree.insert("dataTypeId".into(), field(f, "dataType"));
        tree.insert("name".into(), field(f, "name"));
        let mut put = |key: &str, value: Value| {
            tree.insert(key.to_owned(), value);
        };
        match hint {
            "expr.Alias" => {
                let alias = f.pointer("/params/name").cloned();
                put("alias", alias.unwrap_or_else(|| field(f, "name")));
                put(
                    "child",
                    children().into_iter().next().unwrap_or(Value::Null),
                );
            }
            "expr.Binary" => {
                put("symbol", field(extra, "symbol"));
                put("children", Value::Array(children()));
            }
            "expr.UDF" => put("children", Value::Array(children())),
            "expr.GenericLeaf" => {
                put("exprType", field(extra, "simpleClassName"));
                put("params", field(f, "params"));
            }
            _ => {
                let class = extra.get("simpleClassName").cloned();
                put("exprType", class.unwrap_or_else(|| field(f, "name")));
                put("params", field(f, "params"));
                put("children", Value::Array(children()));
            }
        }
        Value::Object(tree)
    }
}

/// `expr.Literal`: a constant (a literal has no name).
fn literal(c: &Value) -> Value {
    json!({
        "_typeHint": "expr.Literal",
        "dataTypeId": field(c, "dataType"),
        "name": Value::Null,
        "value": field(c, "value"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Node, NodeKind};
    use chrono::Utc;

    fn attr(id: &str, name: &str) -> Node {
        Node {
            key: format!("attr:p:{id}"),
            kind: NodeKind::Attribute,
            name: name.to_owned(),
            properties: json!({"id": id, "planId": "p", "dataType": "t-int"}),
            first_seen: Utc::now(),
            last_seen: Utc::now(),
        }
    }

    /// `c = a + 1`, as the Spark agent sends it.
    fn expressions() -> Value {
        json!({
            "functions": [
                {"id": "expr-0", "name": "c", "dataType": "t-int", "childRefs": [{"__exprId": "expr-1"}],
                 "params": {"name": "c"}, "extra": {"_typeHint": "expr.Alias", "simpleClassName": "Alias"}},
                {"id": "expr-1", "name": "add", "dataType": "t-int",
                 "childRefs": [{"__attrId": "attr-0"}, {"__exprId": "expr-2"}],
                 "extra": {"_typeHint": "expr.Binary", "symbol": "+", "simpleClassName": "Add"}},
                {"id": "expr-3", "name": "upper", "childRefs": [{"__attrId": "attr-0"}],
                 "extra": {"simpleClassName": "Upper"}},
                {"id": "loop", "name": "loop", "childRefs": [{"__exprId": "loop"}],
                 "extra": {"_typeHint": "expr.UDF"}}
            ],
            "constants": [{"id": "expr-2", "value": 1, "dataType": "t-int"}]
        })
    }

    #[test]
    fn references_in_params_become_splines_expression_trees() {
        let members = [attr("attr-0", "a")];
        let view = PlanView::new("p", &members);
        let exprs = expressions();
        let e = Expressions::new(Some(&exprs), &view);
        let params =
            json!({"projectList": [{"__exprId": "expr-0"}, {"__attrId": "attr-0"}], "n": 1});
        let a = json!({"_typeHint": "expr.AttrRef", "dataTypeId": "t-int", "name": "a", "refId": "p:attr-0"});
        assert_eq!(
            e.expand(&params),
            json!({"n": 1, "projectList": [
                {"_typeHint": "expr.Alias", "dataTypeId": "t-int", "name": "c", "alias": "c",
                 "child": {"_typeHint": "expr.Binary", "dataTypeId": "t-int", "name": "add", "symbol": "+",
                           "children": [a, {"_typeHint": "expr.Literal", "dataTypeId": "t-int", "name": null, "value": 1}]}},
                a
            ]})
        );
    }

    #[test]
    fn shared_expressions_expand_up_to_the_bound_and_stay_references_beyond() {
        let members = [attr("attr-0", "a")];
        let view = PlanView::new("p", &members);
        // e0 = e1 + e1, ..., e29 = a + a: 2^31 - 1 references as a tree.
        let functions: Vec<Value> = (0..30)
            .map(|i| {
                let child = match i < 29 {
                    true => json!({"__exprId": format!("e{}", i + 1)}),
                    false => json!({"__attrId": "attr-0"}),
                };
                json!({"id": format!("e{i}"), "name": "add", "childRefs": [child, child],
                       "extra": {"_typeHint": "expr.Binary", "symbol": "+"}})
            })
            .collect();
        let exprs = json!({"functions": functions});
        let e = Expressions::new(Some(&exprs), &view);
        let tree = e.expand(&json!({"projectList": [{"__exprId": "e0"}]}));
        let text = tree.to_string();
        let expanded = text.matches("expr.Binary").count() + text.matches("expr.AttrRef").count();
        assert_eq!(expanded, MAX_EXPANDED);
        assert!(
            text.contains(r#"{"__exprId":"e"#),
            "references stay beyond the bound"
        );
        // Each expansion has its own allowance.
        assert_eq!(e.expand(&json!({"__exprId": "e29"}))["symbol"], "+");
    }

    #[test]
    fn unknown_hints_are_generic_and_cycles_and_dangling_ids_stop() {
        let members = [attr("attr-0", "a")];
        let view = PlanView::new("p", &members);
        let exprs = expressions();
        let e = Expressions::new(Some(&exprs), &view);
        let upper = e.expand(&json!({"__exprId": "expr-3"}));
        assert_eq!(upper["_typeHint"], "expr.Generic");
        assert_eq!(upper["exprType"], "Upper");
        assert_eq!(upper["children"][0]["refId"], "p:attr-0");
        assert_eq!(
            e.expand(&json!({"__exprId": "nope"})),
            json!({"__exprId": "nope"})
        );
        let mut deepest = e.expand(&json!({"__exprId": "loop"}));
        let mut levels = 0;
        while let Some(child) = deepest.get("children").and_then(|c| c.get(0)).cloned() {
            deepest = child;
            levels += 1;
        }
        assert_eq!(levels, MAX_DEPTH);
        assert_eq!(deepest, json!({"__exprId": "loop"}));
    }
}
