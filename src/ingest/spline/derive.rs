//! Attribute derivation: which attributes an attribute is computed from, and how.
//!
//! Spline links attributes to expressions (`childRefs`) and expressions to operands. Lineage
//! users want the short answer: "`total` comes from `price` and `qty` via `price * qty`". We
//! walk the expression tree down to the nearest attributes and render the tree as text.
//!
//! Expressions are a DAG, not a tree: one may be referenced by many, and a plan of 22
//! expressions each referencing the next twice is a tree of 4 million leaves. So the sources
//! of each expression are computed once and shared by everything that references it, and the
//! text of a derivation is cut at [`MAX_EXPRESSION_BYTES`] (the walk stops there too), ending
//! in a marker that says so. The whole tree is still kept, as the plan sent it, in its job's
//! `expressions` property.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::rc::Rc;

use serde_json::Value;

use super::wire::{ExecutionPlan, FunctionalExpression, Id, Literal, Reference};

/// Deeper trees are cut off (rendered as `…`): this also stops reference cycles from looping.
const MAX_DEPTH: usize = 64;

/// Longest derivation text kept, in bytes; a longer one is cut and ends in [`elided`]'s marker.
pub const MAX_EXPRESSION_BYTES: usize = 4096;

/// Most source attributes the expressions of one plan may hold in all while their sources
/// are worked out (each expression holds the attributes it reads): a chain of expressions
/// each reading one attribute more holds a number that grows with the square of its length.
/// A sum of 6,000 columns still fits.
pub const MAX_PLAN_SOURCES: usize = 20_000_000;

/// Most bytes the derivations of one plan may store: its `derives` edges, each counted as
/// its expression and [`EDGE_BYTES`]. An attribute derived from k attributes is k edges,
/// each with the expression, so a few expressions can make a great many bytes.
pub const MAX_PLAN_DERIVATION_BYTES: usize = 128 * 1024 * 1024;

/// What a `derives` edge costs besides its expression: keys, kind, a timestamp, a job key.
pub const EDGE_BYTES: usize = 200;

/// The marker ending a derivation text cut at [`MAX_EXPRESSION_BYTES`].
pub fn elided() -> String {
    format!("… (elided: longer than {MAX_EXPRESSION_BYTES} bytes)")
}

/// Sources as indices into the plan's attributes, sorted, without repeats; shared.
type Sources = Rc<[u32]>;

/// Lookup tables over one plan's attributes and expressions, and the sources worked out so
/// far.
pub struct Derivations<'a> {
    functions: HashMap<&'a Id, &'a FunctionalExpression>,
    constants: HashMap<&'a Id, &'a Literal>,
    attribute_names: HashMap<&'a Id, &'a str>,
    /// Every attribute id, by index, and back.
    attributes: Vec<&'a Id>,
    attribute_index: HashMap<&'a Id, u32>,
    /// Each expression's sources, once worked out.
    memo: RefCell<HashMap<&'a Id, Sources>>,
    /// Source entries held in all, against [`MAX_PLAN_SOURCES`].
    entries: Cell<usize>,
    /// Bytes of `derives` edges made, against [`MAX_PLAN_DERIVATION_BYTES`].
    bytes: Cell<usize>,
}

/// Where an attribute comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Derivation {
    /// The nearest attributes the expression reads.
    pub sources: BTreeSet<Id>,
    /// The expression as text, e.g. `(price * qty) AS total`, at most
    /// [`MAX_EXPRESSION_BYTES`] and the marker.
    pub expression: String,
}

/// The plan's derivations hold more sources than [`MAX_PLAN_SOURCES`], or take more bytes
/// than [`MAX_PLAN_DERIVATION_BYTES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManySources;

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
        let attributes: Vec<&Id> = plan.attributes.iter().flatten().map(|a| &a.id).collect();
        Derivations {
            functions: functions.map(|f| (&f.id, f)).collect(),
            constants: constants.map(|c| (&c.id, c)).collect(),
            attribute_names: plan
                .attributes
                .iter()
                .flatten()
                .map(|a| (&a.id, a.name.as_str()))
                .collect(),
            attribute_index: attributes
                .iter()
                .enumerate()
                .map(|(i, id)| (*id, i as u32))
                .collect(),
            attributes,
            memo: RefCell::new(HashMap::new()),
            entries: Cell::new(0),
            bytes: Cell::new(0),
        }
    }

    /// Follows `refs` down to attributes; `None` when they reach no attribute at all
    /// (a column computed from literals only has no upstream column).
    pub fn derive(&self, refs: &[Reference]) -> Option<Derivation> {
        let sources = self.sources(refs);
        if sources.is_empty() {
            return None;
        }
        let mut text = Text::default();
        for (i, r) in refs.iter().enumerate() {
            if i > 0 {
                text.push(", ");
            }
            self.render(r, 0, &mut text);
        }
        Some(Derivation {
            sources: sources
                .iter()
                .map(|&i| self.attributes[i as usize].clone())
                .collect(),
            expression: text.finish(),
        })
    }

    /// The nearest attributes `refs` read, as indices (see [`Derivations::attribute`]).
    pub fn sources(&self, refs: &[Reference]) -> Rc<[u32]> {
        let parts: Vec<Sources> = refs
            .iter()
            .map(|r| match r {
                Reference::Attribute(id) => self.attribute_only(id),
                Reference::Expression(id) => self.expression_sources(id),
            })
            .collect();
        self.union(parts)
    }

    /// The attribute with this index.
    pub fn attribute(&self, index: u32) -> &'a Id {
        self.attributes[index as usize]
    }

    /// The index of this attribute.
    pub fn index_of(&self, id: &Id) -> Option<u32> {
        self.attribute_index.get(id).copied()
    }

    /// Counts `n` more source entries held; an error once the plan holds too many.
    pub fn hold(&self, n: usize) -> Result<(), TooManySources> {
        let held = self.entries.get() + n;
        self.entries.set(held);
        match held > MAX_PLAN_SOURCES {
            true => Err(TooManySources),
            false => Ok(()),
        }
    }

    /// Counts `edges` more `derives` edges carrying `expression`; an error once the plan's
    /// derivations take too many bytes.
    pub fn store(&self, edges: usize, expression: Option<&str>) -> Result<(), TooManySources> {
        let each = EDGE_BYTES + expression.map_or(0, str::len);
        let bytes = self.bytes.get().saturating_add(edges.saturating_mul(each));
        self.bytes.set(bytes);
        match bytes > MAX_PLAN_DERIVATION_BYTES {
            true => Err(TooManySources),
            false => Ok(()),
        }
    }

    /// Whether the plan holds too many sources (work stops making new ones then).
    pub fn over(&self) -> bool {
        self.entries.get() > MAX_PLAN_SOURCES
    }

    fn attribute_only(&self, id: &Id) -> Sources {
        match self.attribute_index.get(id) {
            Some(&i) => Rc::from([i]),
            None => Rc::from([]),
        }
    }

    /// Sources of several parts: shared when one part holds them all, merged otherwise.
    pub fn union(&self, parts: Vec<Rc<[u32]>>) -> Rc<[u32]> {
        let mut parts: Vec<Sources> = parts.into_iter().filter(|p| !p.is_empty()).collect();
        parts.dedup_by(|a, b| Rc::ptr_eq(a, b) || a == b);
        match parts.len() {
            0 => Rc::from([]),
            1 => parts.pop().unwrap_or_else(|| Rc::from([])),
            _ if self.over() => Rc::from([]),
            _ => {
                let mut all: Vec<u32> = parts.iter().flat_map(|p| p.iter().copied()).collect();
                all.sort_unstable();
                all.dedup();
                // Over the bound, the plan is refused; the error is raised by the caller.
                let _ = self.hold(all.len());
                all.into()
            }
        }
    }

    /// The sources of an expression, worked out once for it and every expression below it:
    /// depth first without recursion, children before their parents. A reference back to an
    /// expression still being worked out (a cycle) adds nothing.
    fn expression_sources(&self, root: &Id) -> Sources {
        // Constants and unknown ids read no attribute; a function's id is the plan's own.
        let Some((&root, _)) = self.functions.get_key_value(root) else {
            return Rc::from([]);
        };
        if let Some(known) = self.memo.borrow().get(root) {
            return known.clone();
        }
        let mut stack: Vec<(&'a Id, bool)> = vec![(root, false)];
        let mut open: HashSet<&'a Id> = HashSet::new();
        while let Some((id, children_done)) = stack.pop() {
            if self.memo.borrow().contains_key(id) || (!children_done && open.contains(id)) {
                continue;
            }
            let refs = self.children(id);
            if !children_done {
                open.insert(id);
                stack.push((id, true));
                for r in refs {
                    if let Reference::Expression(child) = r
                        && !open.contains(child)
                    {
                        stack.push((child, false));
                    }
                }
                continue;
            }
            open.remove(id);
            let parts = refs
                .iter()
                .map(|r| match r {
                    Reference::Attribute(a) => self.attribute_only(a),
                    Reference::Expression(child) => self
                        .memo
                        .borrow()
                        .get(child)
                        .cloned()
                        .unwrap_or_else(|| Rc::from([])),
                })
                .collect();
            let sources = self.union(parts);
            self.memo.borrow_mut().insert(id, sources);
        }
        let memo = self.memo.borrow();
        memo.get(root).cloned().unwrap_or_else(|| Rc::from([]))
    }

    /// The references of a function (none for a constant or an unknown id).
    fn children(&self, id: &Id) -> &'a [Reference] {
        self.functions
            .get(id)
            .and_then(|f| f.child_refs.as_deref())
            .unwrap_or_default()
    }

    /// Renders a reference into `text`, stopping as soon as the text is full.
    fn render(&self, reference: &Reference, depth: usize, text: &mut Text) {
        if text.full {
            return;
        }
        if depth > MAX_DEPTH {
            text.push("…");
            return;
        }
        match reference {
            Reference::Attribute(id) => match self.attribute_names.get(id) {
                Some(name) => text.push(name),
                None => text.push(&id.to_string()),
            },
            Reference::Expression(id) => match (self.functions.get(id), self.constants.get(id)) {
                (Some(f), _) => self.render_function(f, depth, text),
                (None, Some(c)) => text.push(&render_literal(&c.value)),
                (None, None) => text.push(&id.to_string()),
            },
        }
    }

    fn render_function(&self, f: &FunctionalExpression, depth: usize, text: &mut Text) {
        let refs = f.child_refs.as_deref().unwrap_or_default();
        let extra = f.extra.as_ref();
        let hint = extra
            .and_then(|x| x.get("_typeHint"))
            .and_then(Value::as_str);
        let symbol = extra.and_then(|x| x.get("symbol")).and_then(Value::as_str);
        match (hint, symbol, refs) {
            (Some("expr.Alias"), _, [child]) => {
                self.render(child, depth + 1, text);
                text.push(" AS ");
                text.push(&f.name);
            }
            (_, Some(symbol), [left, right]) => {
                text.push("(");
                self.render(left, depth + 1, text);
                text.push(" ");
                text.push(symbol);
                text.push(" ");
                self.render(right, depth + 1, text);
                text.push(")");
            }
            _ => {
                text.push(&f.name);
                text.push("(");
                for (i, r) in refs.iter().enumerate() {
                    if i > 0 {
                        text.push(", ");
                    }
                    self.render(r, depth + 1, text);
                }
                text.push(")");
            }
        }
    }
}

/// A derivation's text as it is rendered, full at [`MAX_EXPRESSION_BYTES`].
#[derive(Default)]
struct Text {
    out: String,
    full: bool,
}

impl Text {
    fn push(&mut self, piece: &str) {
        if self.full {
            return;
        }
        let room = MAX_EXPRESSION_BYTES - self.out.len();
        if piece.len() <= room {
            self.out.push_str(piece);
            return;
        }
        let mut cut = room;
        while !piece.is_char_boundary(cut) {
            cut -= 1;
        }
        self.out.push_str(&piece[..cut]);
        self.full = true;
    }

    fn finish(mut self) -> String {
        if self.full {
            self.out.push_str(&elided());
        }
        self.out
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

    /// `e0 = e1 + e1`, `e1 = e2 + e2`, ..., `e{depth-1} = a + a`: a tree of 2^depth leaves.
    fn bomb(depth: usize) -> ExecutionPlan {
        let functions: Vec<Value> = (0..depth)
            .map(|i| {
                let child = match i + 1 < depth {
                    true => json!({"__exprId": format!("e{}", i + 1)}),
                    false => json!({"__attrId": "a0"}),
                };
                json!({"id": format!("e{i}"), "name": "add", "childRefs": [child, child],
                       "extra": {"_typeHint": "expr.Binary", "symbol": "+"}})
            })
            .collect();
        serde_json::from_value(json!({
            "operations": {"write": {"id": "op-0", "outputSource": "x", "append": false, "childIds": []}},
            "attributes": [{"id": "a0", "name": "a"}],
            "expressions": {"functions": functions},
            "systemInfo": {"name": "spark", "version": "3"}
        }))
        .unwrap()
    }

    #[test]
    fn shared_sub_expressions_are_worked_out_once_and_the_text_is_cut() {
        let plan = bomb(40);
        let derivations = Derivations::new(&plan);
        let d = derivations
            .derive(&[Reference::Expression(Id("e0".into()))])
            .unwrap();
        assert_eq!(d.sources, BTreeSet::from([Id("a0".into())]));
        assert!(d.expression.starts_with("((((("), "{}", d.expression);
        assert!(d.expression.ends_with(&elided()), "{}", d.expression);
        assert_eq!(d.expression.len(), MAX_EXPRESSION_BYTES + elided().len());
        assert_eq!(derivations.entries.get(), 0, "nothing was merged");
        // A short one is whole, without the marker.
        let plan = bomb(3);
        let d = Derivations::new(&plan)
            .derive(&[Reference::Expression(Id("e0".into()))])
            .unwrap();
        assert_eq!(d.expression, "(((a + a) + (a + a)) + ((a + a) + (a + a)))");
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
