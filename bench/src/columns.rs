//! The column-lineage phase's questions: which columns a mart column is
//! computed from, across jobs.

use anyhow::{Context, Result, bail};
use reqwest::{Client, StatusCode, Url};
use serde_json::Value;

use crate::generate::{Layer, Workload};
use crate::http::{endpoint, send};
use crate::query::Answer;
use crate::rng::Rng;
use crate::rows;

/// Derivation hops asked for: one hop is one column-to-column derivation,
/// so one job.
pub const DEPTH: u32 = 10;

/// The PRNG stream for choosing start columns, apart from every other one.
const COLUMN_STREAM: u64 = u64::MAX - 1;

/// One column-lineage question: a column of a dataset, walked upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// The dataset's key, as the service is asked.
    pub dataset: String,
    pub name: String,
}

impl Column {
    /// The column's node key, `field:<dataset uri>#<name>`, where the
    /// reference starts.
    pub fn key(&self) -> String {
        let uri = self
            .dataset
            .strip_prefix("dataset:")
            .unwrap_or(&self.dataset);
        rows::field_key(uri, &self.name)
    }
}

/// `count` columns drawn with the seed: a dataset uniformly among those of
/// the newest layer (marts, in any run of a few dozen plans or more), then
/// one of its columns uniformly. Every written column is computed from read
/// columns, so every start has upstream lineage; starts in late stages have
/// derivation chains longer than `DEPTH`.
pub fn choose_columns(workload: &Workload, count: usize) -> Vec<Column> {
    let mut rng = Rng::fork(workload.seed, COLUMN_STREAM);
    let last = Layer::LAKE
        .iter()
        .rev()
        .map(|layer| workload.datasets(*layer))
        .find(|datasets| !datasets.is_empty())
        .unwrap_or_default();
    if last.is_empty() {
        return Vec::new();
    }
    (0..count)
        .map(|_| {
            let uri = rng.pick(last);
            let columns = workload.columns(uri);
            Column {
                dataset: rows::dataset_key(uri),
                name: (*rng.pick(&columns)).to_owned(),
            }
        })
        .collect()
}

/// One `GET /api/v1/graph/column-lineage`, upstream; anything but a 200
/// with at least one derivation is an error, since every start column has
/// one and an empty answer would be fast for the wrong reason.
pub async fn lineage(client: &Client, base: &Url, column: &Column) -> Result<Answer> {
    let mut url = endpoint(base, "api/v1/graph/column-lineage");
    url.query_pairs_mut()
        .append_pair("node", &column.dataset)
        .append_pair("column", &column.name)
        .append_pair("direction", "upstream")
        .append_pair("depth", &DEPTH.to_string());
    let body = send(client.get(url.clone()), StatusCode::OK).await?;
    let json: Value =
        serde_json::from_slice(&body).with_context(|| format!("GET {url}: answer is not JSON"))?;
    let answer = Answer {
        nodes: json["nodes"].as_array().map_or(0, Vec::len),
        edges: json["edges"].as_array().map_or(0, Vec::len),
        depth_reached: json["depthReached"].as_i64(),
        truncated: json["truncated"].as_bool().unwrap_or(false),
        bytes: body.len(),
    };
    if answer.edges == 0 {
        bail!("GET {url} answered 200 with no derivation");
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::generate;

    #[test]
    fn columns_repeat_and_belong_to_marts() {
        let workload = generate(2000, 42);
        let columns = choose_columns(&workload, 100);
        assert_eq!(columns, choose_columns(&workload, 100));
        for column in &columns {
            let uri = column.dataset.strip_prefix("dataset:").unwrap();
            assert!(uri.starts_with("s3://lake/marts/"), "{uri}");
            assert!(workload.columns(uri).contains(&column.name.as_str()));
            assert_eq!(column.key(), format!("field:{uri}#{}", column.name));
        }
        let distinct: std::collections::HashSet<&str> =
            columns.iter().map(|c| c.name.as_str()).collect();
        assert!(distinct.len() > 8, "{distinct:?}");
    }

    #[test]
    fn tiny_runs_still_have_columns() {
        let workload = generate(1, 4);
        let columns = choose_columns(&workload, 3);
        assert_eq!(columns.len(), 3);
        assert!(columns[0].dataset.starts_with("dataset:s3://lake/raw/"));
    }
}
