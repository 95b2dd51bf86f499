//! Spline producer API v1.1 and v1.2 payloads, as the Spark agent sends them.
//!
//! v1.1 is v1.2 without `labels`; one set of types reads both (Spline's own test-data generator
//! posts v1.2 bodies with the v1.1 content type, and Spline keeps what it understands).
//! Leniency follows Spline's Jackson setup: unknown fields are ignored, numbers are accepted
//! where ids are strings, and `params`/`extra` hold any JSON.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

/// A JSON object kept as text. Operation parameters are passed on as they came and never read
/// here; parsed into values, a large plan's took about ten times the memory of its text.
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct RawObject(Box<serde_json::value::RawValue>);

impl RawObject {
    /// An object already parsed (a v1.0 plan's, read on the way).
    pub fn of(map: &Map<String, Value>) -> RawObject {
        RawObject(serde_json::value::to_raw_value(map).expect("a map serializes"))
    }
}

impl<'de> Deserialize<'de> for RawObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<serde_json::value::RawValue>::deserialize(deserializer)?;
        match raw.get().trim_start().starts_with('{') {
            true => Ok(RawObject(raw)),
            false => Err(de::Error::invalid_type(
                de::Unexpected::Other(
                    raw.get()
                        .chars()
                        .next()
                        .map_or("nothing", |_| "a non-object"),
                ),
                &"a JSON object",
            )),
        }
    }
}

/// Labels attached by user filters: label name → values.
pub type Labels = BTreeMap<String, Vec<String>>;

/// An identifier that Spline accepts as a JSON string or number (Jackson coerces numbers).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Id(pub String);

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IdVisitor;
        impl Visitor<'_> for IdVisitor {
            type Value = Id;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an id (a string or a number)")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Id, E> {
                Ok(Id(v.to_owned()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Id, E> {
                Ok(Id(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Id, E> {
                Ok(Id(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Id, E> {
                Ok(Id(v.to_string()))
            }
        }
        deserializer.deserialize_any(IdVisitor)
    }
}

/// One execution plan: the logical plan of a Spark write action.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionPlan {
    /// Plan UUID. The agent derives it from the plan's content (UUIDv5), so a re-run of the same
    /// logical job re-posts the same id. Generated when absent.
    pub id: Option<Uuid>,
    /// Application (job) name.
    pub name: Option<String>,
    /// Guards against UUID collisions: a re-post must carry the same value.
    pub discriminator: Option<String>,
    /// User labels (v1.2).
    pub labels: Option<Labels>,
    /// The operation DAG; the write is its root.
    pub operations: Operations,
    /// Attributes (columns) the operations produce.
    pub attributes: Option<Vec<Attribute>>,
    /// Expressions that attributes and operation params refer to.
    pub expressions: Option<Expressions>,
    /// The framework that ran the plan, e.g. `spark 3.5.0`.
    pub system_info: NameAndVersion,
    /// The agent that captured it.
    pub agent_info: Option<NameAndVersion>,
    /// Anything else: the agent puts `appName` and `dataTypes` here.
    #[schema(value_type = Option<Object>)]
    pub extra_info: Option<Map<String, Value>>,
}

/// The operations of a plan. Ids are unique across all three lists.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Operations {
    /// The write: the root of the DAG.
    pub write: WriteOperation,
    /// Reads of data sources: the leaves.
    pub reads: Option<Vec<ReadOperation>>,
    /// Everything in between.
    pub other: Option<Vec<DataOperation>>,
}

/// The write at the root of a plan.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WriteOperation {
    /// Operation id, e.g. `op-0`.
    #[schema(value_type = String)]
    pub id: Id,
    /// Spark node name, e.g. `InsertIntoHadoopFsRelationCommand`.
    pub name: Option<String>,
    /// Inputs of this operation.
    #[schema(value_type = Vec<String>)]
    pub child_ids: Vec<Id>,
    /// URI of the written data source.
    pub output_source: String,
    /// Append (true) or overwrite (false).
    pub append: bool,
    /// Operation parameters; may contain attribute and expression references.
    #[schema(value_type = Option<Object>)]
    pub params: Option<RawObject>,
    /// Extra metadata, e.g. `destinationType`.
    #[schema(value_type = Option<Object>)]
    pub extra: Option<Map<String, Value>>,
}

/// A read of one or more data sources.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReadOperation {
    /// Operation id.
    #[schema(value_type = String)]
    pub id: Id,
    /// Spark node name, e.g. `LogicalRelation`.
    pub name: Option<String>,
    /// URIs of the data sources read.
    pub input_sources: Vec<String>,
    /// Attribute ids of the output schema.
    #[schema(value_type = Option<Vec<String>>)]
    pub output: Option<Vec<Id>>,
    /// Operation parameters.
    #[schema(value_type = Option<Object>)]
    pub params: Option<RawObject>,
    /// Extra metadata, e.g. `sourceType`.
    #[schema(value_type = Option<Object>)]
    pub extra: Option<Map<String, Value>>,
}

/// A transformation between reads and the write.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataOperation {
    /// Operation id.
    #[schema(value_type = String)]
    pub id: Id,
    /// Spark node name, e.g. `Project` or `Join`.
    pub name: Option<String>,
    /// Inputs of this operation.
    #[schema(value_type = Option<Vec<String>>)]
    pub child_ids: Option<Vec<Id>>,
    /// Attribute ids of the output schema; absent means "same as the input".
    #[schema(value_type = Option<Vec<String>>)]
    pub output: Option<Vec<Id>>,
    /// Operation parameters, e.g. `projectList`, `condition`.
    #[schema(value_type = Option<Object>)]
    pub params: Option<RawObject>,
    /// Extra metadata.
    #[schema(value_type = Option<Object>)]
    pub extra: Option<Map<String, Value>>,
}

/// A column.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Attribute {
    /// Attribute id, e.g. `attr-3`.
    #[schema(value_type = String)]
    pub id: Id,
    /// Column name.
    pub name: String,
    /// Data type id (see `extraInfo.dataTypes`) or an inline type.
    #[schema(value_type = Option<Object>)]
    pub data_type: Option<Value>,
    /// What the attribute is computed from.
    #[schema(value_type = Option<Vec<RawReference>>)]
    pub child_refs: Option<Vec<Reference>>,
    /// Extra metadata.
    #[schema(value_type = Option<Object>)]
    pub extra: Option<Map<String, Value>>,
}

/// The expressions of a plan.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Expressions {
    /// Function applications (Alias, Binary, UDF...).
    pub functions: Option<Vec<FunctionalExpression>>,
    /// Literals.
    pub constants: Option<Vec<Literal>>,
}

/// A function application.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FunctionalExpression {
    /// Expression id, e.g. `expr-0`.
    #[schema(value_type = String)]
    pub id: Id,
    /// Function name.
    pub name: String,
    /// Result data type.
    #[schema(value_type = Option<Object>)]
    pub data_type: Option<Value>,
    /// Operands.
    #[schema(value_type = Option<Vec<RawReference>>)]
    pub child_refs: Option<Vec<Reference>>,
    /// Parameters.
    #[schema(value_type = Option<Object>)]
    pub params: Option<Map<String, Value>>,
    /// Extra metadata: `simpleClassName`, `_typeHint`, `symbol`.
    #[schema(value_type = Option<Object>)]
    pub extra: Option<Map<String, Value>>,
}

/// A literal value.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Literal {
    /// Expression id.
    #[schema(value_type = String)]
    pub id: Id,
    /// The value; may be `null` but must be present.
    #[serde(deserialize_with = "present_value")]
    #[schema(value_type = Object)]
    pub value: Value,
    /// Data type.
    #[schema(value_type = Option<Object>)]
    pub data_type: Option<Value>,
    /// Extra metadata.
    #[schema(value_type = Option<Object>)]
    pub extra: Option<Map<String, Value>>,
}

/// Keeps `"value": null` (a legal literal) apart from a missing `value` (an error).
fn present_value<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
    Value::deserialize(deserializer)
}

/// A reference to an attribute or an expression: exactly one of `__attrId` / `__exprId`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawReference", into = "RawReference")]
pub enum Reference {
    /// `{"__attrId": "..."}`.
    Attribute(Id),
    /// `{"__exprId": "..."}`.
    Expression(Id),
}

/// The wire shape of a [`Reference`]: `{"__attrId": "attr-0"}` or `{"__exprId": "expr-1"}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = Reference)]
pub struct RawReference {
    /// Id of the referenced attribute.
    #[serde(rename = "__attrId", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    attr_id: Option<Id>,
    /// Id of the referenced expression.
    #[serde(rename = "__exprId", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    expr_id: Option<Id>,
}

impl TryFrom<RawReference> for Reference {
    type Error = String;
    fn try_from(raw: RawReference) -> Result<Self, String> {
        match (raw.attr_id, raw.expr_id) {
            (Some(a), None) => Ok(Reference::Attribute(a)),
            (None, Some(e)) => Ok(Reference::Expression(e)),
            _ => Err("a reference needs exactly one of `__attrId` and `__exprId`".to_owned()),
        }
    }
}

impl From<Reference> for RawReference {
    fn from(r: Reference) -> Self {
        match r {
            Reference::Attribute(a) => RawReference {
                attr_id: Some(a),
                expr_id: None,
            },
            Reference::Expression(e) => RawReference {
                attr_id: None,
                expr_id: Some(e),
            },
        }
    }
}

/// A name and a version, e.g. `{"name": "spark", "version": "3.5.0"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct NameAndVersion {
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
}

/// One execution of a plan, sent after the plan.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionEvent {
    /// The plan this run executed; it must have been posted first.
    pub plan_id: Uuid,
    /// User labels (v1.2).
    pub labels: Option<Labels>,
    /// When the execution finished, in epoch milliseconds. Part of the event's identity.
    pub timestamp: i64,
    /// How long it took, in nanoseconds.
    pub duration_ns: Option<i64>,
    /// Must equal the plan's discriminator.
    pub discriminator: Option<String>,
    /// Present when the execution failed (v1.2): usually a stack trace.
    #[schema(value_type = Option<Object>)]
    pub error: Option<Value>,
    /// Anything else: the agent puts `appId`, `user`, `readMetrics`, `writeMetrics` here.
    #[schema(value_type = Option<Object>)]
    pub extra: Option<Map<String, Value>>,
}
