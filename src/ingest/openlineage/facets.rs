//! The facets that shape the graph: parent, schema, columnLineage and symlinks.
//!
//! Every facet is stored verbatim; these typed views only read what becomes nodes and edges.
//! Fields the spec requires in them are required here too (a parent without a run id can't be
//! linked), and a breach is a 400 pointing into the facet. Everything else is optional.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::wire::Facets;
use crate::error::Error;
use crate::ingest::json;

/// `run.facets.parent`: the run (and job) this run is part of.
#[derive(Debug, Clone, Deserialize)]
pub struct Parent {
    /// The parent run.
    pub run: ParentRun,
    /// The parent job.
    pub job: JobRef,
}

/// The run part of a parent facet.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParentRun {
    /// The parent's run id.
    pub run_id: String,
}

/// A job named by namespace and name.
#[derive(Debug, Clone, Deserialize)]
pub struct JobRef {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
}

/// `facets.schema`: the dataset's columns.
#[derive(Debug, Clone, Deserialize)]
pub struct Schema {
    /// Columns, in order.
    #[serde(default)]
    pub fields: Vec<SchemaField>,
}

/// One column. Nested struct fields stay in the stored facet.
#[derive(Debug, Clone, Deserialize)]
pub struct SchemaField {
    /// Column name.
    pub name: String,
}

/// `facets.columnLineage`: where each output column comes from.
#[derive(Debug, Clone, Deserialize)]
pub struct ColumnLineage {
    /// Output column → its inputs.
    #[serde(default)]
    pub fields: Map<String, Value>,
    /// Inputs that affect the whole dataset (filters, joins, grouping), spec 1-2-0.
    #[serde(default)]
    pub dataset: Vec<InputField>,
}

/// The inputs of one output column.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ColumnInputs {
    /// Input columns.
    #[serde(default)]
    pub input_fields: Vec<InputField>,
    /// Deprecated in 1-2-0 in favour of per-input `transformations`; kept when sent.
    pub transformation_description: Option<String>,
    /// Deprecated in 1-2-0; kept when sent.
    pub transformation_type: Option<String>,
}

/// One input column of a derivation.
#[derive(Debug, Clone, Deserialize)]
pub struct InputField {
    /// Namespace of the input dataset.
    pub namespace: String,
    /// Name of the input dataset.
    pub name: String,
    /// The input column.
    pub field: String,
    /// How the column is used: DIRECT/INDIRECT with subtype, description, masking.
    pub transformations: Option<Vec<Value>>,
}

/// `facets.symlinks`: other names of the same dataset (e.g. its Hive table).
#[derive(Debug, Clone, Deserialize)]
pub struct Symlinks {
    /// The other names.
    #[serde(default)]
    pub identifiers: Vec<Identifier>,
}

/// One other name of a dataset.
#[derive(Debug, Clone, Deserialize)]
pub struct Identifier {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
}

/// Reads facet `name` from `facets` as `T`; `None` when absent or null. `at` is the location of
/// the facet map in the request, for error paths.
pub fn read<T: serde::de::DeserializeOwned>(
    facets: Option<&Facets>,
    name: &str,
    at: &str,
) -> Result<Option<T>, Error> {
    match facets.and_then(|f| f.get(name)) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => json::decode_value(value, &format!("{at}.{name}")).map(Some),
    }
}

impl ColumnLineage {
    /// Each output column with its inputs, in the facet's order.
    pub fn columns(&self, at: &str) -> Result<Vec<(&str, ColumnInputs)>, Error> {
        let at = format!("{at}.columnLineage.fields");
        self.fields
            .iter()
            .map(|(column, value)| {
                Ok((
                    column.as_str(),
                    json::decode_value(value, &format!("{at}.{column}"))?,
                ))
            })
            .collect()
    }
}
