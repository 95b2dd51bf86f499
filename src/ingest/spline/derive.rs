//! Attribute derivation: which attributes an attribute is computed from, and how.
//!
//! Spline links attributes to expressions (`childRefs`) and expressions to operands. Lineage
//! users want the short answer: "`total` comes from `price` and `qty` via `price * qty`". We
//! walk the expression tree down to the nearest attributes and render the tree as text.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use super::wire::{ExecutionPlan, FunctionalExpression, Id, Literal, Reference};

/// Deeper trees are cut off: this also stops reference cycles from looping.
const MAX_DEPTH: usize = 64;

/// Lookup tables over one plan's attributes and expressions.
pub struct Derivations<'a> {
    functions: HashMap<&'a Id, &'a FunctionalExpression>,
    constants: HashMap<&'a Id, &'a Literal>,
    attribute_names: HashMap<&'a Id, &'a str>,
}

/// Where an attribute comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Derivation {
    /// The nearest attributes the expression reads.
    pub sources: BTreeSet<Id>,
    /// The expression as text, e.g. `(price * qty) AS total`.
    pub expression: String,
}

impl<'a> Derivations<'a> {
    /// Indexes a plan that passed validation.
    pub fn new(plan: &'a ExecutionPlan) -> Self {
        let exprs = plan.expressions.as_ref();
        let functions = exprs
            .and_then(|e| e.functions.as_ref())
            .into_iter()
            .flatten();
        let constants = exprs
            .and_then(|e| e.constants.as_ref())
            .into_iter()
            .flatten();
        Derivations {
            functions: functions.map(|f| (&f.id, f)).collect(),
            constants: constants.map(|c| (&c.id, c)).collect(),
            attribute_names: plan
                .attributes
                .iter()
                .flatten()
                .map(|a| (&a.id, a.name.as_str()))
                .collect(),
        }
    }

    /// Follows `refs` down to attributes; `None` when they reach no attribute at all
    /// (a column computed from literals only has no upstream column).
    pub fn derive(&self, refs: &[Reference]) -> Option<Derivation> {
        let mut sources = BTreeSet::new();
        let rendered: Vec<String> = refs.iter().map(|r| self.walk(r, 0, &mut sources)).collect();
        (!sources.is_empty()).then(|| Derivation {
            sources,
            expression: rendered.join(", "),
        })
    }

    fn walk(&self, reference: &Reference, depth: usize, sources: &mut BTreeSet<Id>) -> String {
        if depth > MAX_DEPTH {
            return "…".to_owned();
        }
        match reference {
            Reference::Attribute(id) => {
                sources.insert(id.clone());
                self.attribute_names
                    .get(id)
                    .map_or_else(|| id.to_string(), |n| (*n).to_owned())
            }
            Reference::Expression(id) => match (self.functions.get(id), self.constants.get(id)) {
                (Some(f), _) => self.render_function(f, depth, sources),
                (None, Some(c)) => render_literal(&c.value),
                (None, None) => id.to_string(),
            },
        }
    }

    fn render_function(
        &self,
        f: &FunctionalExpression,
        depth: usize,
        sources: &mut BTreeSet<Id>,
    ) -> String {
        let args: Vec<String> = f
            .child_refs
            .iter()
            .flatten()
            .map(|r| self.walk(r, depth + 1, sources))
            .collect();
        let extra = f.extra.as_ref();
        let hint = extra
            .and_then(|x| x.get("_typeHint"))
            .and_then(Value::as_str);
        let symbol = extra.and_then(|x| x.get("symbol")).and_then(Value::as_str);
        match (hint, symbol, args.as_slice()) {
            (Some("expr.Alias"), _, [child]) => format!("{child} AS {}", f.name),
            (_, Some(symbol), [left, right]) => format!("({left} {symbol} {right})"),
            _ => format!("{}({})", f.name, args.join(", ")),
        }
    }
}

fn render_literal(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plan() -> ExecutionPlan {
        serde_json::from_value(json!({
            "operations": {"write": {"id": "op-0", "outputSource": "x", "append": false, "childIds": []}},
            "attributes": [{"id": "a0", "name": "price"}, {"id": "a1", "name": "qty"}, {"id": "a2", "name": "total"}],
            "expressions": {
                "functions": [
                    {"id": "e0", "name": "total", "childRefs": [{"__exprId": "e1"}], "extra": {"_typeHint": "expr.Alias"}},
                    {"id": "e1", "name": "multiply", "childRefs": [{"__attrId": "a0"}, {"__exprId": "e2"}],
                     "extra": {"_typeHint": "expr.Binary", "symbol": "*"}},
                    {"id": "e2", "name": "coalesce", "childRefs": [{"__attrId": "a1"}, {"__exprId": "c0"}]},
                    {"id": "loop", "name": "loop", "childRefs": [{"__exprId": "loop"}]}
                ],
                "constants": [{"id": "c0", "value": 0}, {"id": "c1", "value": "x"}]
            },
            "systemInfo": {"name": "spark", "version": "3"}
        }))
        .unwrap()
    }

    #[test]
    fn walks_through_expressions_to_the_nearest_attributes() {
        let plan = plan();
        let d = Derivations::new(&plan)
            .derive(&[Reference::Expression(Id("e0".into()))])
            .unwrap();
        assert_eq!(
            d.sources,
            BTreeSet::from([Id("a0".into()), Id("a1".into())])
        );
        assert_eq!(d.expression, "(price * coalesce(qty, 0)) AS total");
    }

    #[test]
    fn literal_only_columns_have_no_derivation() {
        let plan = plan();
        assert_eq!(
            Derivations::new(&plan).derive(&[Reference::Expression(Id("c1".into()))]),
            None
        );
    }

    #[test]
    fn reference_cycles_terminate() {
        let plan = plan();
        assert_eq!(
            Derivations::new(&plan).derive(&[Reference::Expression(Id("loop".into()))]),
            None
        );
    }
}
