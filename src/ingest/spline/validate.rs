//! Consistency rules for a plan that parsed: ids unique, references resolvable, the operation
//! graph acyclic. A breach is a 422 naming the first offending value by JSON path.
//!
//! Spline rejects the same plans (duplicate ids, dangling or cyclic DAGs) with a 400; we answer
//! 422 because the JSON itself is fine, and a client can tell "fix your serializer" (400) from
//! "fix your plan" (422).

use std::collections::{HashMap, HashSet};

use petgraph::algo::toposort;
use petgraph::graph::DiGraph;

use super::wire::{ExecutionPlan, Id, Reference};
use crate::error::Error;

type Outcome = Result<(), Error>;

/// Checks every rule; the first breach wins.
pub fn plan(plan: &ExecutionPlan) -> Outcome {
    let ops = operation_index(plan)?;
    child_ids_resolve(plan, &ops)?;
    operations_are_acyclic(plan, &ops)?;
    sources_are_named(plan)?;
    let attrs = unique_ids(
        plan.attributes
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, a)| (&a.id, format!("attributes[{i}].id"))),
        "attribute",
    )?;
    let exprs = expression_index(plan)?;
    outputs_resolve(plan, &attrs)?;
    references_resolve(plan, &attrs, &exprs)
}

fn unique_ids<'a>(
    ids: impl Iterator<Item = (&'a Id, String)>,
    what: &str,
) -> Result<HashSet<&'a Id>, Error> {
    let mut seen = HashSet::new();
    for (id, path) in ids {
        if !seen.insert(id) {
            return Err(Error::unprocessable(
                "duplicate-id",
                format!("duplicate {what} id `{id}`"),
                path,
            ));
        }
    }
    Ok(seen)
}

/// Every operation id with the JSON path of its declaration, in declaration order.
fn operation_paths(plan: &ExecutionPlan) -> Vec<(&Id, String)> {
    let ops = &plan.operations;
    let mut all = vec![(&ops.write.id, "operations.write.id".to_owned())];
    for (i, op) in ops.reads.iter().flatten().enumerate() {
        all.push((&op.id, format!("operations.reads[{i}].id")));
    }
    for (i, op) in ops.other.iter().flatten().enumerate() {
        all.push((&op.id, format!("operations.other[{i}].id")));
    }
    all
}

fn operation_index(plan: &ExecutionPlan) -> Result<HashSet<&Id>, Error> {
    unique_ids(operation_paths(plan).into_iter(), "operation")
}

/// Every (operation id, its childIds, JSON path of the childIds list).
fn child_lists(plan: &ExecutionPlan) -> Vec<(&Id, &[Id], String)> {
    let ops = &plan.operations;
    let mut all = vec![(
        &ops.write.id,
        ops.write.child_ids.as_slice(),
        "operations.write.childIds".to_owned(),
    )];
    for (i, op) in ops.other.iter().flatten().enumerate() {
        let children = op.child_ids.as_deref().unwrap_or_default();
        all.push((&op.id, children, format!("operations.other[{i}].childIds")));
    }
    all
}

fn child_ids_resolve(plan: &ExecutionPlan, ops: &HashSet<&Id>) -> Outcome {
    for (_, children, path) in child_lists(plan) {
        for (j, child) in children.iter().enumerate() {
            if !ops.contains(child) {
                let detail = format!(
                    "childIds refers to operation `{child}`, which the plan doesn't define"
                );
                return Err(Error::unprocessable(
                    "unknown-operation",
                    detail,
                    format!("{path}[{j}]"),
                ));
            }
        }
    }
    Ok(())
}

fn operations_are_acyclic(plan: &ExecutionPlan, ops: &HashSet<&Id>) -> Outcome {
    let mut graph = DiGraph::<&Id, ()>::with_capacity(ops.len(), ops.len());
    let index: HashMap<&Id, _> = operation_paths(plan)
        .into_iter()
        .map(|(id, _)| (id, graph.add_node(id)))
        .collect();
    for (op, children, _) in child_lists(plan) {
        for child in children {
            graph.add_edge(index[child], index[op], ());
        }
    }
    toposort(&graph, None).map(|_| ()).map_err(|cycle| {
        let id = graph[cycle.node_id()];
        let path = operation_paths(plan)
            .into_iter()
            .find(|(op, _)| *op == id)
            .map(|(_, p)| p);
        Error::unprocessable(
            "cyclic-operations",
            format!("the operation graph has a cycle through operation `{id}`"),
            path.unwrap_or_default(),
        )
    })
}

fn sources_are_named(plan: &ExecutionPlan) -> Outcome {
    let empty = |path: String| {
        Err(Error::unprocessable(
            "empty-source",
            "a data source URI is empty",
            path,
        ))
    };
    if plan.operations.write.output_source.trim().is_empty() {
        return empty("operations.write.outputSource".to_owned());
    }
    for (i, op) in plan.operations.reads.iter().flatten().enumerate() {
        if let Some(j) = op.input_sources.iter().position(|s| s.trim().is_empty()) {
            return empty(format!("operations.reads[{i}].inputSources[{j}]"));
        }
    }
    Ok(())
}

fn expression_index(plan: &ExecutionPlan) -> Result<HashSet<&Id>, Error> {
    let exprs = plan.expressions.as_ref();
    let functions = exprs
        .and_then(|e| e.functions.as_ref())
        .into_iter()
        .flatten();
    let constants = exprs
        .and_then(|e| e.constants.as_ref())
        .into_iter()
        .flatten();
    let ids = functions
        .enumerate()
        .map(|(i, f)| (&f.id, format!("expressions.functions[{i}].id")))
        .chain(
            constants
                .enumerate()
                .map(|(i, c)| (&c.id, format!("expressions.constants[{i}].id"))),
        );
    unique_ids(ids, "expression")
}

fn outputs_resolve(plan: &ExecutionPlan, attrs: &HashSet<&Id>) -> Outcome {
    let ops = &plan.operations;
    let reads = ops
        .reads
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, op)| (op.output.as_ref(), format!("operations.reads[{i}].output")));
    let other = ops
        .other
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, op)| (op.output.as_ref(), format!("operations.other[{i}].output")));
    for (output, path) in reads.chain(other) {
        for (j, id) in output.into_iter().flatten().enumerate() {
            if !attrs.contains(id) {
                let detail =
                    format!("output refers to attribute `{id}`, which the plan doesn't define");
                return Err(Error::unprocessable(
                    "unknown-attribute",
                    detail,
                    format!("{path}[{j}]"),
                ));
            }
        }
    }
    Ok(())
}

fn references_resolve(plan: &ExecutionPlan, attrs: &HashSet<&Id>, exprs: &HashSet<&Id>) -> Outcome {
    let attributes = plan
        .attributes
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, a)| (a.child_refs.as_ref(), format!("attributes[{i}].childRefs")));
    let functions = plan
        .expressions
        .as_ref()
        .and_then(|e| e.functions.as_ref())
        .into_iter()
        .flatten();
    let functions = functions.enumerate().map(|(i, f)| {
        (
            f.child_refs.as_ref(),
            format!("expressions.functions[{i}].childRefs"),
        )
    });
    for (refs, path) in attributes.chain(functions) {
        for (j, reference) in refs.into_iter().flatten().enumerate() {
            let (known, what, id) = match reference {
                Reference::Attribute(id) => (attrs.contains(id), "attribute", id),
                Reference::Expression(id) => (exprs.contains(id), "expression", id),
            };
            if !known {
                let detail = format!("reference to {what} `{id}`, which the plan doesn't define");
                return Err(Error::unprocessable(
                    "unknown-reference",
                    detail,
                    format!("{path}[{j}]"),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn base() -> Value {
        json!({
            "id": "0f0f0f0f-0000-4000-8000-000000000001",
            "operations": {
                "write": {"id": "op-0", "outputSource": "s3://b/out", "append": false, "childIds": ["op-1"]},
                "reads": [{"id": "op-2", "inputSources": ["s3://b/in"], "output": ["attr-0"]}],
                "other": [{"id": "op-1", "childIds": ["op-2"], "output": ["attr-1"]}]
            },
            "attributes": [{"id": "attr-0", "name": "a"},
                           {"id": "attr-1", "name": "b", "childRefs": [{"__exprId": "expr-0"}]}],
            "expressions": {"functions": [{"id": "expr-0", "name": "upper", "childRefs": [{"__attrId": "attr-0"}]}]},
            "systemInfo": {"name": "spark", "version": "3.5.0"}
        })
    }

    fn check(mutate: impl FnOnce(&mut Value)) -> Result<(), (String, String)> {
        let mut v = base();
        mutate(&mut v);
        let plan: ExecutionPlan = serde_json::from_value(v).unwrap();
        super::plan(&plan).map_err(|e| match e {
            Error::Unprocessable { code, path, .. } => (code.to_owned(), path.unwrap()),
            other => panic!("unexpected {other:?}"),
        })
    }

    fn failure(code: &str, path: &str) -> Result<(), (String, String)> {
        Err((code.to_owned(), path.to_owned()))
    }

    #[test]
    fn a_consistent_plan_passes() {
        assert_eq!(check(|_| {}), Ok(()));
    }

    #[test]
    fn duplicate_operation_ids_are_rejected() {
        let r = check(|v| v["operations"]["other"][0]["id"] = json!("op-2"));
        assert_eq!(r, failure("duplicate-id", "operations.other[0].id"));
    }

    #[test]
    fn dangling_child_ids_are_rejected() {
        let r = check(|v| v["operations"]["other"][0]["childIds"] = json!(["op-2", "op-9"]));
        assert_eq!(
            r,
            failure("unknown-operation", "operations.other[0].childIds[1]")
        );
    }

    #[test]
    fn cycles_are_rejected() {
        let r = check(|v| {
            v["operations"]["other"] = json!([
            {"id": "op-1", "childIds": ["op-3"]}, {"id": "op-3", "childIds": ["op-1"]}])
        });
        assert_eq!(r.unwrap_err().0, "cyclic-operations");
    }

    #[test]
    fn dangling_references_are_rejected() {
        let r = check(|v| v["attributes"][1]["childRefs"] = json!([{"__exprId": "expr-7"}]));
        assert_eq!(
            r,
            failure("unknown-reference", "attributes[1].childRefs[0]")
        );
        let r = check(|v| v["operations"]["reads"][0]["output"] = json!(["attr-0", "attr-9"]));
        assert_eq!(
            r,
            failure("unknown-attribute", "operations.reads[0].output[1]")
        );
    }

    #[test]
    fn empty_source_uris_are_rejected() {
        let r = check(|v| v["operations"]["reads"][0]["inputSources"] = json!(["s3://x", " "]));
        assert_eq!(
            r,
            failure("empty-source", "operations.reads[0].inputSources[1]")
        );
    }
}
