//! The path-query phase's questions: pairs of datasets, the second
//! downstream of the first, and what an answer to "how does data get from
//! one to the other" contained.

use std::collections::{HashMap, HashSet};

use anyhow::{Context, Result, bail};
use reqwest::{Client, StatusCode, Url};
use serde_json::Value;

use crate::generate::{Layer, Plan, Workload};
use crate::http::{endpoint, send};
use crate::rng::Rng;
use crate::rows;

/// The most paths asked for, and the longest path in edges.
pub const MAX_PATHS: usize = 10;
pub const MAX_LENGTH: usize = 10;

/// A path from a dataset to one `jobs` jobs downstream takes `2 * jobs`
/// edges (dataset → job → dataset …), so `to` is at most this many jobs on.
const MAX_JOBS: usize = MAX_LENGTH / 2;

/// The PRNG stream for choosing pairs, apart from every other stream.
const PAIR_STREAM: u64 = u64::MAX - 2;

/// One path question: `to` is downstream of `from`, its nearest path
/// `jobs` jobs long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    pub from: String,
    pub to: String,
    pub jobs: usize,
}

/// What a path answer contained; compared across the two sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathAnswer {
    /// Paths listed, at most `MAX_PATHS`.
    pub paths: usize,
    /// Edges on the shortest path.
    pub shortest: usize,
    /// More paths exist than were listed.
    pub truncated: bool,
    pub bytes: usize,
}

/// Readers of each dataset, in posting order.
fn readers(workload: &Workload) -> HashMap<&str, Vec<&Plan>> {
    let mut readers: HashMap<&str, Vec<&Plan>> = HashMap::new();
    for plan in &workload.plans {
        for input in &plan.inputs {
            readers.entry(input).or_default().push(plan);
        }
    }
    readers
}

/// The datasets downstream of `from`, by the fewest jobs between:
/// `rings[k]` holds those `k + 1` jobs on, in the order a breadth-first walk
/// over the plans (in posting order) meets them.
fn rings<'w>(from: &'w str, readers: &HashMap<&str, Vec<&'w Plan>>) -> Vec<Vec<&'w str>> {
    let mut seen = HashSet::from([from]);
    let mut rings: Vec<Vec<&str>> = Vec::new();
    let mut frontier = vec![from];
    while rings.len() < MAX_JOBS && !frontier.is_empty() {
        let mut next = Vec::new();
        for dataset in frontier {
            for plan in readers.get(dataset).into_iter().flatten() {
                if seen.insert(plan.output.as_str()) {
                    next.push(plan.output.as_str());
                }
            }
        }
        rings.push(next.clone());
        frontier = next;
    }
    rings
}

/// `count` pairs drawn with the seed: `from` uniformly among the datasets
/// some job reads (sources and every lake stage), then how many jobs
/// downstream `to` lies uniformly among 1 to `MAX_JOBS` (those the data
/// reaches), then `to` uniformly among the datasets that far. So near and
/// far pairs are equally common, and every pair has a path within
/// `MAX_LENGTH` edges.
pub fn choose_pairs(workload: &Workload, count: usize) -> Vec<Pair> {
    let mut rng = Rng::fork(workload.seed, PAIR_STREAM);
    let readers = readers(workload);
    let layers = std::iter::once(Layer::Source).chain(Layer::LAKE);
    let origins: Vec<&str> = layers
        .flat_map(|layer| workload.datasets(layer))
        .map(String::as_str)
        .filter(|uri| readers.contains_key(uri))
        .collect();
    if origins.is_empty() {
        return Vec::new();
    }
    (0..count)
        .map(|_| {
            let from = *rng.pick(&origins);
            let rings = rings(from, &readers);
            let reached: Vec<usize> = (0..rings.len()).filter(|k| !rings[*k].is_empty()).collect();
            let ring = *rng.pick(&reached);
            let to = rings[ring][rng.below(rings[ring].len())];
            Pair {
                from: rows::dataset_key(from),
                to: rows::dataset_key(to),
                jobs: ring + 1,
            }
        })
        .collect()
}

/// One `GET /api/v1/graph/paths`; anything but a 200 listing at least one
/// path is an error: every pair has one, and an empty answer would be fast
/// for the wrong reason.
pub async fn paths(client: &Client, base: &Url, pair: &Pair) -> Result<PathAnswer> {
    let mut url = endpoint(base, "api/v1/graph/paths");
    url.query_pairs_mut()
        .append_pair("from", &pair.from)
        .append_pair("to", &pair.to)
        .append_pair("maxPaths", &MAX_PATHS.to_string())
        .append_pair("maxLength", &MAX_LENGTH.to_string());
    let body = send(client.get(url.clone()), StatusCode::OK).await?;
    let json: Value =
        serde_json::from_slice(&body).with_context(|| format!("GET {url}: answer is not JSON"))?;
    let listed = json["paths"].as_array().map_or(&[][..], Vec::as_slice);
    // The service's own shortest path: the paths it lists are the first it
    // finds, which need not include one.
    let shortest = json["shortest"].as_array().map_or(0, Vec::len);
    if listed.is_empty() || shortest < 2 {
        bail!("GET {url} answered 200 with no path");
    }
    Ok(PathAnswer {
        paths: listed.len(),
        shortest: shortest - 1,
        truncated: json["truncated"].as_bool().unwrap_or(false),
        bytes: body.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::generate;

    #[test]
    fn pairs_repeat_and_lead_downstream() {
        let workload = generate(2000, 42);
        let pairs = choose_pairs(&workload, 100);
        assert_eq!(pairs, choose_pairs(&workload, 100));
        let readers = readers(&workload);
        for pair in &pairs {
            let from = pair.from.strip_prefix("dataset:").unwrap();
            let to = pair.to.strip_prefix("dataset:").unwrap();
            let rings = rings(from, &readers);
            assert!(rings[pair.jobs - 1].contains(&to), "{pair:?}");
            assert!(pair.jobs * 2 <= MAX_LENGTH);
        }
        // Near and far pairs alike, from sources and every lake layer.
        for jobs in 1..=MAX_JOBS {
            let n = pairs.iter().filter(|p| p.jobs == jobs).count();
            assert!((8..=35).contains(&n), "{n} pairs {jobs} jobs apart");
        }
        let from_layer = |prefix: &str| pairs.iter().any(|p| p.from.starts_with(prefix));
        assert!(from_layer("dataset:jdbc:") || from_layer("dataset:kafka:"));
        for layer in ["raw", "cleaned", "curated"] {
            assert!(
                from_layer(&format!("dataset:s3://lake/{layer}/")),
                "{layer}"
            );
        }
    }

    #[test]
    fn tiny_runs_have_pairs() {
        let workload = generate(3, 4);
        let pairs = choose_pairs(&workload, 4);
        assert_eq!(pairs.len(), 4);
        assert!(pairs.iter().all(|p| p.from != p.to && p.jobs >= 1));
    }
}
