//! The lineage-query phase, and the timing all query phases share
//! ([`interleave`]: dataset lineage here, column lineage and paths too).
//!
//! Queries run one at a time: these phases measure latency, not throughput,
//! and a lone query is what a person clicking through a lineage view waits
//! for. When the reference is on, each question is asked of the service
//! and of the reference SQL back to back, so slow drift on a noisy machine
//! (another tenant, autovacuum, CPU boost) hits both sides alike.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use reqwest::{Client, StatusCode, Url};

use crate::generate::{Layer, Workload};
use crate::http::{endpoint, send};
use crate::rng::Rng;
use crate::rows;

/// Untimed queries before the timed ones, per side, to fill caches and
/// prepared-statement slots the way a service in use would have them.
const WARM_UP: usize = 10;

/// The PRNG stream for choosing start nodes, apart from the plan streams.
const START_STREAM: u64 = u64::MAX;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Downstream,
    Upstream,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Downstream => "downstream",
            Direction::Upstream => "upstream",
        }
    }
}

/// Where one lineage query starts and which way it walks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Start {
    pub key: String,
    pub direction: Direction,
}

/// What a lineage answer contained; compared across the two sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    pub nodes: usize,
    pub edges: usize,
    pub depth_reached: Option<i64>,
    pub truncated: bool,
    pub bytes: usize,
}

/// Alternates downstream-from-raw and upstream-from-marts, so half of the
/// queries go each way, start datasets drawn uniformly with the seed (from
/// every stage of the layer). The two directions stress different shapes:
/// downstream fans out from popular raw tables, upstream gathers the history
/// of a mart. Starts in early raw or late mart stages have paths longer than
/// the usual depth, so their answers are cut off (`truncated`).
pub fn choose_starts(workload: &Workload, count: usize) -> Vec<Start> {
    let mut rng = Rng::fork(workload.seed, START_STREAM);
    let raw = workload.datasets(Layer::Raw);
    // Small runs may have no marts; start from the newest layer that exists.
    let last = Layer::LAKE
        .iter()
        .rev()
        .map(|layer| workload.datasets(*layer))
        .find(|datasets| !datasets.is_empty())
        .unwrap_or(raw);
    (0..count)
        .map(|i| {
            let (pool, direction) = if i % 2 == 0 {
                (raw, Direction::Downstream)
            } else {
                (last, Direction::Upstream)
            };
            let uri: &String = rng.pick(pool);
            Start {
                key: rows::dataset_key(uri),
                direction,
            }
        })
        .collect()
}

/// Latencies and answers of one side, in question order.
#[derive(Debug)]
pub struct Side<A = Answer> {
    pub latencies: Vec<Duration>,
    pub answers: Vec<A>,
}

impl<A> Default for Side<A> {
    fn default() -> Self {
        Self {
            latencies: Vec::new(),
            answers: Vec::new(),
        }
    }
}

impl<A> Side<A> {
    fn record(&mut self, latency: Duration, answer: A) {
        self.latencies.push(latency);
        self.answers.push(answer);
    }

    /// On how many questions this side's answer and `other`'s were `same`.
    pub fn agreeing<B>(&self, other: &Side<B>, same: impl Fn(&A, &B) -> bool) -> usize {
        let pairs = self.answers.iter().zip(&other.answers);
        pairs.filter(|(a, b)| same(a, b)).count()
    }
}

/// Warms every side up with `WARM_UP` untimed questions, then asks every question of every
/// side, one at a time and back to back, so slow drift on a noisy machine (another tenant,
/// autovacuum, CPU boost) hits all sides alike. Which side goes first rotates from question
/// to question, so none always finds pages freshly cached by another. `ask(side, question)`.
pub async fn time_sides<Q, A>(
    questions: &[Q],
    sides: usize,
    ask: impl AsyncFn(usize, &Q) -> Result<A>,
) -> Result<Vec<Side<A>>> {
    for question in questions.iter().take(WARM_UP) {
        for side in 0..sides {
            ask(side, question).await?;
        }
    }
    let mut timed: Vec<Side<A>> = (0..sides).map(|_| Side::default()).collect();
    for (i, question) in questions.iter().enumerate() {
        for turn in 0..sides {
            let side = (i + turn) % sides;
            let begun = Instant::now();
            let answer = ask(side, question).await?;
            timed[side].record(begun.elapsed(), answer);
        }
    }
    Ok(timed)
}

/// The most nodes the service may return, its own ceiling: its default
/// (5000) would cut large runs' answers short where the reference is not
/// capped, and then `truncated` would no longer mean the depth limit alone.
const MAX_NODES: &str = "100000";

/// What the answer is checked for. The rest is checked to be JSON but not built into values:
/// the reference hands its answer over as text, and building a few megabytes of values in the
/// client would bill the service for the client's work.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Counted {
    nodes: Vec<serde::de::IgnoredAny>,
    edges: Vec<serde::de::IgnoredAny>,
    depth_reached: Option<i64>,
    truncated: bool,
}

/// One `GET /api/v1/graph/lineage`; anything but a 200 with at least one
/// node is an error, since an empty answer would be fast for the wrong reason.
pub async fn lineage(client: &Client, base: &Url, start: &Start, depth: u32) -> Result<Answer> {
    let mut url = endpoint(base, "api/v1/graph/lineage");
    url.query_pairs_mut()
        .append_pair("node", &start.key)
        .append_pair("direction", start.direction.as_str())
        .append_pair("depth", &depth.to_string())
        .append_pair("maxNodes", MAX_NODES);
    let body = send(client.get(url.clone()), StatusCode::OK).await?;
    let counted: Counted =
        serde_json::from_slice(&body).with_context(|| format!("GET {url}: answer is not JSON"))?;
    let answer = Answer {
        nodes: counted.nodes.len(),
        edges: counted.edges.len(),
        depth_reached: counted.depth_reached,
        truncated: counted.truncated,
        bytes: body.len(),
    };
    if answer.nodes == 0 {
        bail!("GET {url} answered 200 with no nodes");
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::*;
    use crate::generate::{Plan, generate};

    #[test]
    fn starts_alternate_and_repeat() {
        let workload = generate(200, 4);
        let starts = choose_starts(&workload, 20);
        assert_eq!(starts, choose_starts(&workload, 20));
        for (i, start) in starts.iter().enumerate() {
            let (direction, prefix) = if i % 2 == 0 {
                (Direction::Downstream, "dataset:s3://lake/raw/")
            } else {
                (Direction::Upstream, "dataset:s3://lake/marts/")
            };
            assert_eq!(start.direction, direction);
            assert!(start.key.starts_with(prefix), "{}", start.key);
        }
    }

    /// The most job hops any job reachable from `start` lies at, walking
    /// the generated plans the way the service walks lineage (every node
    /// visited once, at its fewest hops): a query is cut off by `depth`
    /// exactly when this exceeds it.
    fn farthest_job(workload: &Workload, start: &Start) -> usize {
        let mut readers: HashMap<&str, Vec<&Plan>> = HashMap::new();
        let mut writer: HashMap<&str, &Plan> = HashMap::new();
        for plan in &workload.plans {
            writer.insert(&plan.output, plan);
            for input in &plan.inputs {
                readers.entry(input).or_default().push(plan);
            }
        }
        let first = start.key.strip_prefix("dataset:").unwrap();
        let mut seen_datasets = HashSet::from([first]);
        let mut seen_jobs = HashSet::new();
        let mut frontier = vec![first];
        let (mut hops, mut farthest) = (0, 0);
        while !frontier.is_empty() {
            hops += 1;
            let mut next = Vec::new();
            for dataset in frontier {
                let jobs = match start.direction {
                    Direction::Downstream => readers.get(dataset).cloned().unwrap_or_default(),
                    Direction::Upstream => writer.get(dataset).copied().into_iter().collect(),
                };
                for job in jobs.into_iter().filter(|job| seen_jobs.insert(job.id)) {
                    farthest = hops;
                    let far_ends = match start.direction {
                        Direction::Downstream => std::slice::from_ref(&job.output),
                        Direction::Upstream => job.inputs.as_slice(),
                    };
                    next.extend(
                        far_ends
                            .iter()
                            .map(String::as_str)
                            .filter(|uri| seen_datasets.insert(uri)),
                    );
                }
            }
            frontier = next;
        }
        farthest
    }

    #[test]
    fn default_depth_cuts_off_deep_starts() {
        let workload = generate(2000, 42);
        let starts = choose_starts(&workload, 200);
        let cut_off = |direction: Direction| {
            starts
                .iter()
                .filter(|s| s.direction == direction && farthest_job(&workload, s) > 10)
                .count()
        };
        let (down, up) = (cut_off(Direction::Downstream), cut_off(Direction::Upstream));
        // Queries in each direction reach the depth limit, but not every
        // downstream one: the figures mix whole and cut-off subgraphs.
        assert!((1..100).contains(&down), "{down} of 100 downstream cut off");
        assert!((1..=100).contains(&up), "{up} of 100 upstream cut off");
    }

    #[test]
    fn tiny_runs_still_have_upstream_starts() {
        let workload = generate(2, 4);
        let starts = choose_starts(&workload, 4);
        assert!(starts[1].key.starts_with("dataset:s3://lake/cleaned/"));
    }
}
