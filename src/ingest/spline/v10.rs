//! Spline producer API v1.0 (`application/json`), sent by Spline 0.4–0.5 agents.
//!
//! v1.0 differs from v1.2 in ways that matter for the graph: operation names live in
//! `extra.name`, output schemas are `schema` id lists, attribute definitions sit in
//! `extraInfo.attributes`, and expressions are inlined in `params` as `_typeHint` trees. This
//! module lifts a v1.0 plan into the v1.2 shape, as Spline's own server does, so the rest of
//! the pipeline knows one shape only.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use super::wire::{
    Attribute, DataOperation, ExecutionEvent, ExecutionPlan, Expressions, FunctionalExpression, Id,
    Literal, NameAndVersion, Operations, RawObject, ReadOperation, Reference, WriteOperation,
};

/// A v1.0 execution plan.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionPlanV10 {
    /// Plan UUID; generated when absent.
    pub id: Option<Uuid>,
    /// The operation DAG.
    pub operations: OperationsV10,
    /// The framework that ran the plan.
    pub system_info: NameAndVersion,
    /// The agent that captured it.
    pub agent_info: Option<NameAndVersion>,
    /// `appName`, `attributes` and anything else.
    #[schema(value_type = Option<Object>)]
    pub extra_info: Option<Map<String, Value>>,
}

/// v1.0 operations.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OperationsV10 {
    /// The write.
    pub write: WriteOperationV10,
    /// The reads.
    pub reads: Option<Vec<ReadOperationV10>>,
    /// Everything else.
    pub other: Option<Vec<DataOperationV10>>,
}

/// A v1.0 write.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WriteOperationV10 {
    /// Written data source.
    pub output_source: String,
    /// Append or overwrite.
    pub append: bool,
    /// Operation id (an integer in v1.0).
    #[schema(value_type = String)]
    pub id: Id,
    /// Inputs.
    #[schema(value_type = Vec<String>)]
    pub child_ids: Vec<Id>,
    /// Output schema: a list of attribute ids.
    #[schema(value_type = Option<Object>)]
    pub schema: Option<Value>,
    /// Parameters.
    #[schema(value_type = Option<Object>)]
    pub params: Option<Map<String, Value>>,
    /// Extra metadata; `name` holds the operation name.
    #[schema(value_type = Option<Object>)]
    pub extra: Option<Map<String, Value>>,
}

/// A v1.0 read.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReadOperationV10 {
    /// Read data sources.
    pub input_sources: Vec<String>,
    /// Operation id.
    #[schema(value_type = String)]
    pub id: Id,
    /// Output schema: a list of attribute ids.
    #[schema(value_type = Option<Object>)]
    pub schema: Option<Value>,
    /// Parameters.
    #[schema(value_type = Option<Object>)]
    pub params: Option<Map<String, Value>>,
    /// Extra metadata; `name` holds the operation name.
    #[schema(value_type = Option<Object>)]
    pub extra: Option<Map<String, Value>>,
}

/// A v1.0 transformation.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataOperationV10 {
    /// Operation id.
    #[schema(value_type = String)]
    pub id: Id,
    /// Inputs.
    #[schema(value_type = Option<Vec<String>>)]
    pub child_ids: Option<Vec<Id>>,
    /// Output schema; absent means "same as the input".
    #[schema(value_type = Option<Object>)]
    pub schema: Option<Value>,
    /// Parameters with inlined expression trees.
    #[schema(value_type = Option<Object>)]
    pub params: Option<Map<String, Value>>,
    /// Extra metadata; `name` holds the operation name.
    #[schema(value_type = Option<Object>)]
    pub extra: Option<Map<String, Value>>,
}

/// A v1.0 execution event.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionEventV10 {
    /// The plan this run executed.
    pub plan_id: Uuid,
    /// When the execution finished, in epoch milliseconds.
    pub timestamp: i64,
    /// Present when the execution failed.
    #[schema(value_type = Option<Object>)]
    pub error: Option<Value>,
    /// Anything else; `durationNs` lives here in v1.0.
    #[schema(value_type = Option<Object>)]
    pub extra: Option<Map<String, Value>>,
}

impl From<ExecutionEventV10> for ExecutionEvent {
    fn from(e: ExecutionEventV10) -> Self {
        let duration_ns = e
            .extra
            .as_ref()
            .and_then(|x| x.get("durationNs"))
            .and_then(Value::as_i64);
        ExecutionEvent {
            plan_id: e.plan_id,
            labels: None,
            timestamp: e.timestamp,
            duration_ns,
            discriminator: None,
            error: e.error,
            extra: e.extra,
        }
    }
}

impl From<ExecutionPlanV10> for ExecutionPlan {
    fn from(plan: ExecutionPlanV10) -> Self {
        let mut lifter = Lifter::default();
        let mut attributes = declared_attributes(plan.extra_info.as_ref());
        let ops = plan.operations;
        let other: Vec<DataOperation> = ops
            .other
            .unwrap_or_default()
            .into_iter()
            .map(|op| lift_data_op(op, &mut attributes, &mut lifter))
            .collect();
        let name = plan
            .extra_info
            .as_ref()
            .and_then(|x| x.get("appName"))
            .and_then(Value::as_str);
        ExecutionPlan {
            id: plan.id,
            name: name.map(str::to_owned),
            discriminator: None,
            labels: None,
            operations: Operations {
                write: lift_write(ops.write),
                reads: ops
                    .reads
                    .map(|reads| reads.into_iter().map(lift_read).collect()),
                other: Some(other),
            },
            attributes: Some(attributes),
            expressions: Some(lifter.expressions),
            system_info: plan.system_info,
            agent_info: plan.agent_info,
            extra_info: plan.extra_info,
        }
    }
}

fn op_name(extra: Option<&Map<String, Value>>) -> Option<String> {
    extra?.get("name")?.as_str().map(str::to_owned)
}

fn schema_ids(schema: Option<&Value>) -> Option<Vec<Id>> {
    let items = schema?.as_array()?;
    items.iter().map(value_id).collect()
}

fn value_id(v: &Value) -> Option<Id> {
    match v {
        Value::String(s) => Some(Id(s.clone())),
        Value::Number(n) => Some(Id(n.to_string())),
        _ => None,
    }
}

fn lift_write(op: WriteOperationV10) -> WriteOperation {
    WriteOperation {
        name: op_name(op.extra.as_ref()),
        id: op.id,
        child_ids: op.child_ids,
        output_source: op.output_source,
        append: op.append,
        params: op.params.as_ref().map(RawObject::of),
        extra: op.extra,
    }
}

fn lift_read(op: ReadOperationV10) -> ReadOperation {
    ReadOperation {
        name: op_name(op.extra.as_ref()),
        output: schema_ids(op.schema.as_ref()),
        id: op.id,
        input_sources: op.input_sources,
        params: op.params.as_ref().map(RawObject::of),
        extra: op.extra,
    }
}

/// `extraInfo.attributes`: `[{id, name, dataTypeId}]`.
fn declared_attributes(extra_info: Option<&Map<String, Value>>) -> Vec<Attribute> {
    let Some(items) = extra_info
        .and_then(|x| x.get("attributes"))
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    items.iter().filter_map(declared_attribute).collect()
}

fn declared_attribute(item: &Value) -> Option<Attribute> {
    let obj = item.as_object()?;
    Some(Attribute {
        id: value_id(obj.get("id")?)?,
        name: obj.get("name")?.as_str()?.to_owned(),
        data_type: obj.get("dataTypeId").cloned(),
        child_refs: None,
        extra: None,
    })
}

/// Lifts a transformation, turning aliased expressions in its project or aggregate lists into
/// v1.2 expressions that the output attribute with the alias's name is computed from.
fn lift_data_op(
    op: DataOperationV10,
    attributes: &mut [Attribute],
    lifter: &mut Lifter,
) -> DataOperation {
    let output = schema_ids(op.schema.as_ref());
    if let (Some(params), Some(output)) = (op.params.as_ref(), output.as_ref()) {
        for list in ["projectList", "aggregateExpressions"] {
            for expr in params
                .get(list)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                lifter.derive_aliased(expr, output, attributes);
            }
        }
    }
    DataOperation {
        name: op_name(op.extra.as_ref()),
        id: op.id,
        child_ids: op.child_ids,
        output,
        params: op.params.as_ref().map(RawObject::of),
        extra: op.extra,
    }
}

/// Collects lifted expressions under synthetic ids (`v10-expr-N`), as Spline's converter does.
#[derive(Default)]
struct Lifter {
    expressions: Expressions,
    issued: usize,
}

impl Lifter {
    fn derive_aliased(&mut self, expr: &Value, output: &[Id], attributes: &mut [Attribute]) {
        if type_hint(expr) != Some("expr.Alias") {
            return;
        }
        let Some(alias) = expr.get("alias").and_then(Value::as_str) else {
            return;
        };
        let target = attributes
            .iter_mut()
            .find(|a| a.name == alias && output.contains(&a.id));
        if let Some(target) = target.filter(|t| t.child_refs.is_none()) {
            target.child_refs = Some(vec![self.lift(expr)]);
        }
    }

    fn lift(&mut self, expr: &Value) -> Reference {
        if type_hint(expr) == Some("expr.AttrRef")
            && let Some(id) = expr.get("refId").and_then(value_id)
        {
            return Reference::Attribute(id);
        }
        let id = Id(format!("v10-expr-{}", self.next_id()));
        if type_hint(expr) == Some("expr.Literal") {
            self.push_literal(id.clone(), expr);
        } else {
            self.push_function(id.clone(), expr);
        }
        Reference::Expression(id)
    }

    /// Ids are issued before operands are lifted, so they can't be derived from list lengths.
    fn next_id(&mut self) -> usize {
        self.issued += 1;
        self.issued - 1
    }

    fn push_literal(&mut self, id: Id, expr: &Value) {
        let literal = Literal {
            id,
            value: expr.get("value").cloned().unwrap_or(Value::Null),
            data_type: expr.get("dataTypeId").cloned(),
            extra: Some(extra_of(expr)),
        };
        self.expressions
            .constants
            .get_or_insert_with(Vec::new)
            .push(literal);
    }

    fn push_function(&mut self, id: Id, expr: &Value) {
        let children: Vec<&Value> = match (expr.get("children"), expr.get("child")) {
            (Some(Value::Array(items)), _) => items.iter().collect(),
            (_, Some(child)) => vec![child],
            _ => Vec::new(),
        };
        let child_refs = children.into_iter().map(|c| self.lift(c)).collect();
        let function = FunctionalExpression {
            id,
            name: function_name(expr),
            data_type: expr.get("dataTypeId").cloned(),
            child_refs: Some(child_refs),
            params: expr.get("params").and_then(Value::as_object).cloned(),
            extra: Some(extra_of(expr)),
        };
        self.expressions
            .functions
            .get_or_insert_with(Vec::new)
            .push(function);
    }
}

fn type_hint(expr: &Value) -> Option<&str> {
    expr.get("_typeHint").and_then(Value::as_str)
}

fn function_name(expr: &Value) -> String {
    ["alias", "name", "symbol", "_typeHint"]
        .iter()
        .find_map(|k| expr.get(*k).and_then(Value::as_str))
        .unwrap_or("expression")
        .to_owned()
}

/// Everything but the operands, so `_typeHint`, `symbol`, `exprType` survive.
fn extra_of(expr: &Value) -> Map<String, Value> {
    let mut extra = expr.as_object().cloned().unwrap_or_default();
    extra.remove("children");
    extra.remove("child");
    extra
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plan() -> ExecutionPlanV10 {
        serde_json::from_value(json!({
            "id": "8a9f1c2e-0000-4000-8000-000000000001",
            "operations": {
                "write": {"outputSource": "file:/out", "append": false, "id": 0, "childIds": [1],
                          "extra": {"name": "SaveIntoDataSourceCommand"}},
                "reads": [{"inputSources": ["file:/in"], "id": 2, "schema": [10, 11],
                           "extra": {"name": "LogicalRelation"}}],
                "other": [{"id": 1, "childIds": [2], "schema": [12],
                           "params": {"projectList": [{"_typeHint": "expr.Alias", "alias": "total",
                               "child": {"_typeHint": "expr.Binary", "symbol": "+", "children": [
                                   {"_typeHint": "expr.AttrRef", "refId": 10},
                                   {"_typeHint": "expr.Literal", "value": 1}]}}]},
                           "extra": {"name": "Project"}}]
            },
            "systemInfo": {"name": "spark", "version": "2.4.5"},
            "agentInfo": {"name": "spline", "version": "0.5.6"},
            "extraInfo": {"appName": "legacy job", "attributes": [
                {"id": 10, "name": "a", "dataTypeId": "t1"},
                {"id": 11, "name": "b", "dataTypeId": "t1"},
                {"id": 12, "name": "total", "dataTypeId": "t1"}]}
        }))
        .unwrap()
    }

    #[test]
    fn names_schemas_and_attributes_are_lifted() {
        let lifted = ExecutionPlan::from(plan());
        assert_eq!(lifted.name.as_deref(), Some("legacy job"));
        assert_eq!(
            lifted.operations.write.name.as_deref(),
            Some("SaveIntoDataSourceCommand")
        );
        let read = &lifted.operations.reads.as_ref().unwrap()[0];
        assert_eq!(read.output, Some(vec![Id("10".into()), Id("11".into())]));
        assert_eq!(lifted.attributes.as_ref().unwrap().len(), 3);
    }

    #[test]
    fn aliased_expressions_become_derivations() {
        let lifted = ExecutionPlan::from(plan());
        let total = &lifted.attributes.as_ref().unwrap()[2];
        let Some([Reference::Expression(alias_id)]) = total.child_refs.as_deref() else {
            panic!(
                "total should derive from one expression: {:?}",
                total.child_refs
            )
        };
        let exprs = lifted.expressions.unwrap();
        let functions = exprs.functions.unwrap();
        let alias = functions.iter().find(|f| &f.id == alias_id).unwrap();
        assert_eq!(alias.name, "total");
        let binary = functions.iter().find(|f| f.name == "+").unwrap();
        assert!(
            binary
                .child_refs
                .as_ref()
                .unwrap()
                .contains(&Reference::Attribute(Id("10".into())))
        );
        assert_eq!(exprs.constants.unwrap()[0].value, json!(1));
    }
}
