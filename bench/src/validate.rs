//! Checks generated plans against the rules the service enforces.
//!
//! A generator bug would otherwise surface as thousands of 4xx answers in the
//! middle of a timed run (or, worse, as plans that are accepted but describe a
//! different graph than intended). Checking up front costs milliseconds.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use crate::generate::{Layer, Plan, Stage, Workload};

/// Every plan is structurally valid, reads only from earlier stages, and
/// writes exactly one dataset of its own stage that no other plan writes;
/// plans come in stage order, so every dataset is written before it is read.
pub fn check_workload(workload: &Workload) -> Result<(), String> {
    let stages = workload.stage_of();
    let mut written = HashSet::new();
    let mut last_stage = None;
    for plan in &workload.plans {
        let context = |e: String| format!("plan {} ({}): {e}", plan.name, plan.id);
        let body: Value = serde_json::from_slice(&plan.body).map_err(|e| context(e.to_string()))?;
        check_plan(&body).map_err(context)?;
        check_matches_body(plan, &body).map_err(context)?;
        check_layering(plan, &stages).map_err(context)?;
        check_columns(&body, workload).map_err(context)?;
        if last_stage > Some(plan.stage) {
            return Err(context("comes after a plan of a later stage".into()));
        }
        last_stage = Some(plan.stage);
        if !written.insert(plan.output.as_str()) {
            return Err(context(format!("{} is written twice", plan.output)));
        }
        check_event(plan).map_err(context)?;
    }
    Ok(())
}

/// The structural rules of a Spline execution plan: unique operation ids,
/// resolvable `childIds`, attribute and expression references, and an
/// operation graph that is a DAG in which every operation feeds the write.
pub fn check_plan(plan: &Value) -> Result<(), String> {
    let operations = all_operations(plan)?;
    let op_ids = ids_of(operations.iter().copied(), "operation")?;
    check_resolved(&operations, "childIds", &op_ids, "operation")?;
    let attributes = ids_of(array(&plan["attributes"]), "attribute")?;
    let expressions = &plan["expressions"];
    let expressions = ids_of(
        array(&expressions["functions"])
            .iter()
            .chain(array(&expressions["constants"])),
        "expression",
    )?;
    check_resolved(&operations, "output", &attributes, "attribute")?;
    check_references(plan, &attributes, &expressions)?;
    check_operation_graph(&operations)
}

fn all_operations(plan: &Value) -> Result<Vec<&Value>, String> {
    let ops = &plan["operations"];
    let write = &ops["write"];
    if !write["outputSource"].is_string() {
        return Err("write operation without outputSource".into());
    }
    let reads = ops["reads"]
        .as_array()
        .ok_or("operations.reads is not an array")?;
    for read in reads {
        if str_array(&read["inputSources"]).next().is_none() {
            return Err(format!("read {} has no inputSources", read["id"]));
        }
    }
    Ok(std::iter::once(write)
        .chain(reads)
        .chain(array(&ops["other"]))
        .collect())
}

/// The `id`s of `items`, which must be strings and unique.
fn ids_of<'a>(
    items: impl IntoIterator<Item = &'a Value>,
    what: &str,
) -> Result<HashSet<&'a str>, String> {
    let mut ids = HashSet::new();
    for item in items {
        let id = item["id"]
            .as_str()
            .ok_or_else(|| format!("{what} without a string id"))?;
        if !ids.insert(id) {
            return Err(format!("duplicate {what} id {id}"));
        }
    }
    Ok(ids)
}

/// Every id an operation lists in `field` is one of `known`.
fn check_resolved(
    operations: &[&Value],
    field: &str,
    known: &HashSet<&str>,
    what: &str,
) -> Result<(), String> {
    for op in operations {
        if let Some(id) = str_array(&op[field]).find(|id| !known.contains(id)) {
            return Err(format!("{field} {id} of {} names no {what}", op["id"]));
        }
    }
    Ok(())
}

fn array(value: &Value) -> &[Value] {
    value.as_array().map(Vec::as_slice).unwrap_or_default()
}

fn str_array(value: &Value) -> impl Iterator<Item = &str> {
    array(value).iter().filter_map(Value::as_str)
}

/// Walks the whole document, so a reference anywhere (childRefs, params,
/// projectList, …) is checked, not only the places the generator is known to
/// put them today.
fn check_references(
    value: &Value,
    attributes: &HashSet<&str>,
    expressions: &HashSet<&str>,
) -> Result<(), String> {
    match value {
        Value::Object(map) => {
            if let Some(id) = map.get("__attrId") {
                let id = id.as_str().ok_or("non-string __attrId")?;
                if !attributes.contains(id) {
                    return Err(format!("__attrId {id} does not resolve"));
                }
            }
            if let Some(id) = map.get("__exprId") {
                let id = id.as_str().ok_or("non-string __exprId")?;
                if !expressions.contains(id) {
                    return Err(format!("__exprId {id} does not resolve"));
                }
            }
            map.values()
                .try_for_each(|v| check_references(v, attributes, expressions))
        }
        Value::Array(items) => items
            .iter()
            .try_for_each(|v| check_references(v, attributes, expressions)),
        _ => Ok(()),
    }
}

/// Depth-first from the write: no cycles, and no operation left dangling.
fn check_operation_graph(operations: &[&Value]) -> Result<(), String> {
    let children: HashMap<&str, Vec<&str>> = operations
        .iter()
        .map(|op| {
            (
                op["id"].as_str().unwrap_or_default(),
                str_array(&op["childIds"]).collect(),
            )
        })
        .collect();
    let root = operations[0]["id"].as_str().unwrap_or_default();
    let mut done = HashSet::new();
    let mut on_path = HashSet::new();
    visit(root, &children, &mut on_path, &mut done)?;
    if done.len() != operations.len() {
        return Err(format!(
            "{} operations do not feed the write",
            operations.len() - done.len()
        ));
    }
    Ok(())
}

fn visit<'a>(
    id: &'a str,
    children: &HashMap<&'a str, Vec<&'a str>>,
    on_path: &mut HashSet<&'a str>,
    done: &mut HashSet<&'a str>,
) -> Result<(), String> {
    if done.contains(id) {
        return Ok(());
    }
    if !on_path.insert(id) {
        return Err(format!("operation cycle through {id}"));
    }
    for child in children.get(id).into_iter().flatten() {
        visit(child, children, on_path, done)?;
    }
    on_path.remove(id);
    done.insert(id);
    Ok(())
}

/// The summary fields other phases rely on agree with the posted JSON.
fn check_matches_body(plan: &Plan, body: &Value) -> Result<(), String> {
    if body["id"].as_str() != Some(plan.id.to_string().as_str()) {
        return Err("body id differs from plan id".into());
    }
    if body["operations"]["write"]["outputSource"].as_str() != Some(plan.output.as_str()) {
        return Err("write outputSource differs from plan output".into());
    }
    let sources: Vec<&str> = array(&body["operations"]["reads"])
        .iter()
        .flat_map(|read| str_array(&read["inputSources"]))
        .collect();
    if sources != plan.inputs.iter().map(String::as_str).collect::<Vec<_>>() {
        return Err(format!(
            "read sources {sources:?} differ from inputs {:?}",
            plan.inputs
        ));
    }
    Ok(())
}

/// Column lineage can run across jobs: each read outputs only columns every
/// one of its sources has, and the write writes exactly the columns of its
/// dataset, the names readers of that dataset will read.
fn check_columns(body: &Value, workload: &Workload) -> Result<(), String> {
    let names: HashMap<&str, &str> = array(&body["attributes"])
        .iter()
        .map(|a| (str_of(&a["id"]), str_of(&a["name"])))
        .collect();
    let names_of = |op: &Value| -> Vec<&str> {
        str_array(&op["output"])
            .map(|id| names.get(id).copied().unwrap_or_default())
            .collect()
    };
    let ops = &body["operations"];
    for read in array(&ops["reads"]) {
        for uri in str_array(&read["inputSources"]) {
            let columns = workload.columns(uri);
            if let Some(name) = names_of(read).into_iter().find(|n| !columns.contains(n)) {
                return Err(format!("reads column {name} that {uri} does not have"));
            }
        }
    }
    let write = &ops["write"];
    let child = str_array(&write["childIds"]).next().unwrap_or_default();
    let last = array(&ops["other"])
        .iter()
        .find(|op| str_of(&op["id"]) == child);
    let written = last.map(names_of).unwrap_or_default();
    let output = str_of(&write["outputSource"]);
    if written != workload.columns(output) {
        return Err(format!("writes columns {written:?}, not those of {output}"));
    }
    Ok(())
}

fn str_of(value: &Value) -> &str {
    value.as_str().unwrap_or_default()
}

/// The plan writes a dataset of its own stage and reads only distinct
/// datasets of earlier stages; source tables only if it is a raw job.
fn check_layering(plan: &Plan, stages: &HashMap<&str, Stage>) -> Result<(), String> {
    if stages.get(plan.output.as_str()) != Some(&plan.stage) {
        return Err(format!(
            "writes {} outside stage {}",
            plan.output, plan.stage
        ));
    }
    let mut seen = HashSet::new();
    for input in &plan.inputs {
        if !seen.insert(input) {
            return Err(format!("reads {input} twice"));
        }
        let stage = stages
            .get(input.as_str())
            .ok_or_else(|| format!("reads unknown dataset {input}"))?;
        let allowed =
            *stage < plan.stage && (stage.layer != Layer::Source || plan.stage.layer == Layer::Raw);
        if !allowed {
            return Err(format!("{} job reads {input} ({stage})", plan.stage));
        }
    }
    Ok(())
}

fn check_event(plan: &Plan) -> Result<(), String> {
    if plan.events.is_empty() {
        return Err("a plan that never ran".into());
    }
    for (run, body) in plan.events.iter().enumerate() {
        let events: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        let event = &events[0];
        if events.as_array().map(Vec::len) != Some(1)
            || event["planId"].as_str() != Some(&plan.id.to_string())
        {
            return Err(format!("event of run {run} is not one event for this plan"));
        }
        if event["timestamp"].as_i64() != Some(plan.run_timestamp_ms(run)) {
            return Err(format!("event timestamp of run {run} differs"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn minimal() -> Value {
        json!({
            "id": "00000000-0000-0000-0000-000000000001",
            "operations": {
                "write": {"id": "op-0", "outputSource": "s3://x", "childIds": ["op-1"]},
                "reads": [{"id": "op-2", "inputSources": ["s3://y"], "output": ["attr-0"]}],
                "other": [{"id": "op-1", "childIds": ["op-2"], "output": ["attr-1"],
                           "params": {"projectList": [{"__exprId": "expr-0"}]}}]
            },
            "attributes": [{"id": "attr-0"}, {"id": "attr-1", "childRefs": [{"__exprId": "expr-0"}]}],
            "expressions": {"functions": [{"id": "expr-0", "childRefs": [{"__attrId": "attr-0"}]}], "constants": []}
        })
    }

    #[test]
    fn accepts_a_minimal_plan() {
        check_plan(&minimal()).unwrap();
    }

    #[test]
    fn rejects_reads_that_break_the_staging() {
        let workload = crate::generate::generate(200, 3);
        let stages = workload.stage_of();
        let plan = workload.plans.last().unwrap();
        check_layering(plan, &stages).unwrap();
        let rejected = |change: &dyn Fn(&mut Plan), why: &str| {
            let mut broken = plan.clone();
            change(&mut broken);
            let error = check_layering(&broken, &stages).unwrap_err();
            assert!(error.contains(why), "{error}");
        };
        let same_stage = &workload.plans[workload.plans.len() - 2].output;
        rejected(&|p| p.inputs.push(same_stage.clone()), "marts/s1 job reads");
        let source = &workload.datasets(Layer::Source)[0];
        rejected(&|p| p.inputs = vec![source.clone()], "(source/s0)");
        let raw = &workload.plans[0].output;
        rejected(&|p| p.output = raw.clone(), "outside stage");
        rejected(&|p| p.inputs.push(p.inputs[0].clone()), "twice");
    }

    #[test]
    fn rejects_broken_plans() {
        let mut dup = minimal();
        dup["operations"]["reads"][0]["id"] = json!("op-1");
        assert!(check_plan(&dup).unwrap_err().contains("duplicate"));

        let mut dangling = minimal();
        dangling["operations"]["other"][0]["childIds"] = json!(["op-9"]);
        assert!(check_plan(&dangling).unwrap_err().contains("childId"));

        let mut unresolved = minimal();
        unresolved["attributes"][1]["childRefs"] = json!([{"__exprId": "expr-7"}]);
        assert!(check_plan(&unresolved).unwrap_err().contains("expr-7"));

        let mut orphan = minimal();
        orphan["operations"]["write"]["childIds"] = json!(["op-2"]);
        assert!(check_plan(&orphan).unwrap_err().contains("do not feed"));

        let mut cycle = minimal();
        cycle["operations"]["reads"][0]["childIds"] = json!(["op-1"]);
        assert!(check_plan(&cycle).unwrap_err().contains("cycle"));
    }

    #[test]
    fn rejects_columns_that_break_column_lineage() {
        let workload = crate::generate::generate(50, 3);
        let plan = workload.plans.last().unwrap();
        let body: Value = serde_json::from_slice(&plan.body).unwrap();
        check_columns(&body, &workload).unwrap();
        let renamed = |attribute: &str| {
            let mut broken = body.clone();
            let attributes = broken["attributes"].as_array_mut().unwrap();
            let found = attributes
                .iter_mut()
                .find(|a| a["id"] == attribute)
                .unwrap();
            found["name"] = json!("no_such_column");
            check_columns(&broken, &workload).unwrap_err()
        };
        let read = &body["operations"]["reads"][0]["output"][0];
        assert!(renamed(read.as_str().unwrap()).contains("reads column no_such_column"));
        let write_child = &body["operations"]["write"]["childIds"][0];
        let project = body["operations"]["other"]
            .as_array()
            .unwrap()
            .iter()
            .find(|op| &op["id"] == write_child)
            .unwrap();
        // A computed column: a passed-through one would fail as a read.
        let computed = str_array(&project["output"]).find(|id| {
            let attributes = array(&body["attributes"]);
            attributes
                .iter()
                .any(|a| a["id"] == *id && a.get("childRefs").is_some())
        });
        assert!(renamed(computed.unwrap()).contains("not those of"));
    }
}
