//! `GET /consumer/operations/{operationId}`: one operation with its parameters (attribute and
//! expression references expanded), its input and output schemas and their data types.

use std::collections::HashSet;

use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::TAG;
use super::expressions::Expressions;
use super::ids;
use super::plan_view::PlanView;
use super::render::{AttributeRef, Operation, attribute_ref};
use crate::error::{Problem, Result};
use crate::http::AppState;
use crate::model::Node;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_operation))
}

/// An operation in detail.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct OperationDetails {
    /// The operation; `properties` holds `inputSources`, `outputSource`, `append` (null where
    /// they don't apply), then its params with references expanded, then its extra.
    operation: Operation,
    /// The data types the schemas use (from the plan's `extraInfo.dataTypes`), with the types
    /// their struct fields and array elements use.
    #[schema(value_type = Vec<Object>)]
    data_types: Vec<Value>,
    /// The input schemas, in input order, then the operation's own output schema.
    schemas: Vec<Vec<AttributeRef>>,
    /// Indexes of the input schemas in `schemas`.
    inputs: Vec<usize>,
    /// Index of the output schema in `schemas`.
    output: usize,
}

/// One operation in detail.
#[utoipa::path(
    get,
    path = "/consumer/operations/{operationId}",
    tag = TAG,
    operation_id = "spline.consumer.operations.get",
    params(("operationId" = String, Path, description = "`<planId>:<operation id>`, e.g. `<planId>:op-0`")),
    responses(
        (status = 200, description = "The operation", body = OperationDetails),
        (status = 400, description = "A bad parameter", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such operation", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn get_operation(
    State(state): State<AppState>,
    Path(operation_id): Path<String>,
) -> Result<Json<OperationDetails>> {
    let store = state.store.as_ref();
    let (_, op) = ids::operation(store, &operation_id).await?;
    let (plan_id, job) = ids::plan_of(store, &op).await?;
    let plan_id = plan_id.to_string();
    let members = store
        .spline_plan_members(std::slice::from_ref(&plan_id))
        .await?;
    let view = PlanView::new(&plan_id, members.iter().map(|(_, n)| n));
    Ok(Json(details(&job, &view, &op)))
}

fn details(job: &Node, view: &PlanView<'_>, op: &Node) -> OperationDetails {
    let inputs = view.inputs(op);
    let schemas: Vec<Vec<AttributeRef>> = inputs
        .iter()
        .copied()
        .chain([op])
        .map(|o| {
            view.schema(o)
                .iter()
                .map(|a| attribute_ref(view, a))
                .collect()
        })
        .collect();
    let used: HashSet<String> = schemas
        .iter()
        .flatten()
        .filter_map(|a| a.data_type().map(str::to_owned))
        .collect();
    let all_types = job.properties.pointer("/extraInfo/dataTypes");
    OperationDetails {
        operation: Operation::new(op, properties(job, view, op)),
        data_types: used_data_types(all_types, used),
        inputs: (0..inputs.len()).collect(),
        output: inputs.len(),
        schemas,
    }
}

/// `inputSources`, `outputSource` and `append`, then the params (references expanded), then
/// the extra, later keys winning: Spline's `MERGE`.
fn properties(job: &Node, view: &PlanView<'_>, op: &Node) -> Value {
    let props = &op.properties;
    let mut merged = Map::new();
    for key in ["inputSources", "outputSource", "append"] {
        merged.insert(key.into(), props.get(key).cloned().unwrap_or(Value::Null));
    }
    let expressions = Expressions::new(job.properties.get("expressions"), view);
    if let Some(Value::Object(params)) = props.get("params").map(|p| expressions.expand(p)) {
        merged.extend(params);
    }
    if let Some(Value::Object(extra)) = props.get("extra") {
        merged.extend(extra.clone());
    }
    Value::Object(merged)
}

/// The data types with ids in `used`, and those they are built from (struct fields, array
/// elements), in the plan's order.
fn used_data_types(all: Option<&Value>, mut used: HashSet<String>) -> Vec<Value> {
    let all: Vec<&Value> = all
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .collect();
    let id = |t: &Value| t.get("id").and_then(Value::as_str).map(str::to_owned);
    loop {
        let parts: Vec<String> = all
            .iter()
            .filter(|t| id(t).is_some_and(|i| used.contains(&i)))
            .flat_map(|t| parts_of(t))
            .filter(|p| !used.contains(p))
            .collect();
        if parts.is_empty() {
            break;
        }
        used.extend(parts);
    }
    all.into_iter()
        .filter(|t| id(t).is_some_and(|i| used.contains(&i)))
        .cloned()
        .collect()
}

/// The type ids a struct's fields or an array's elements have.
fn parts_of(t: &Value) -> Vec<String> {
    let fields = t
        .get("fields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    let field_types = fields.filter_map(|f| f.get("dataTypeId")?.as_str());
    let element = t.get("elementDataTypeId").and_then(Value::as_str);
    field_types.chain(element).map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn data_types_are_reduced_to_those_used_and_their_parts() {
        let all = json!([
            {"_typeHint": "dt.Simple", "id": "int", "name": "int", "nullable": true},
            {"_typeHint": "dt.Simple", "id": "str", "name": "string", "nullable": true},
            {"_typeHint": "dt.Struct", "id": "s", "fields": [{"name": "x", "dataTypeId": "int"}], "nullable": true},
            {"_typeHint": "dt.Array", "id": "arr", "elementDataTypeId": "s", "nullable": true},
            {"_typeHint": "dt.Simple", "id": "bool", "name": "boolean", "nullable": true}
        ]);
        let ids = |types: Vec<Value>| -> Vec<String> {
            types
                .iter()
                .map(|t| t["id"].as_str().unwrap().to_owned())
                .collect()
        };
        let used = HashSet::from(["arr".to_owned(), "str".to_owned()]);
        assert_eq!(
            ids(used_data_types(Some(&all), used)),
            ["int", "str", "s", "arr"]
        );
        assert!(used_data_types(None, HashSet::from(["x".to_owned()])).is_empty());
    }
}
