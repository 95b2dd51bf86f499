//! The scales the suite runs at, and the fixed-size questions asked at every one of them.

use crate::in_memory::InMemory;
use crate::query::{Direction, Start};
use crate::rng::Rng;

/// One size of the platform. The plan counts are chosen so that the stored graph has about
/// the number of edges the name promises (every plan with its runs stores about 125 edges).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scale {
    pub name: &'static str,
    pub plans: usize,
    /// Huge plans among them.
    pub huge: usize,
    /// Edges the scale aims at.
    pub target_edges: usize,
}

pub const S1: Scale = Scale {
    name: "S1",
    plans: 80,
    huge: 0,
    target_edges: 10_000,
};

pub const S2: Scale = Scale {
    name: "S2",
    plans: 800,
    huge: 1,
    target_edges: 100_000,
};

pub const S3: Scale = Scale {
    name: "S3",
    plans: 8_000,
    huge: 3,
    target_edges: 1_000_000,
};

pub const ALL: [Scale; 3] = [S1, S2, S3];

/// Parses `S1`, `s2`, …
pub fn parse(name: &str) -> Option<Scale> {
    ALL.into_iter().find(|s| s.name.eq_ignore_ascii_case(name))
}

/// Plans generated to host the huge ones in the huge-plan phase (only the huge are posted).
pub const HUGE_HOST_PLANS: usize = 60;

/// Depth of the fixed-size questions.
pub const FIXED_DEPTH: u32 = 2;

/// Answer sizes (nodes) the fixed-size questions keep to.
pub const FIXED_BAND: std::ops::RangeInclusive<usize> = 12..=30;

/// The PRNG stream for the fixed-size starts, apart from the other choices.
const FIXED_STREAM: u64 = u64::MAX - 3;

/// Up to `count` datasets whose upstream answer at [`FIXED_DEPTH`] has a size in
/// [`FIXED_BAND`]: the same question, the same answer size, at every scale, so latency can
/// only grow with the graph around it.
pub fn fixed_size_starts(memory: &InMemory, count: usize, seed: u64) -> Vec<Start> {
    let mut keys: Vec<&str> = memory
        .keys()
        .filter(|k| k.starts_with("dataset:"))
        .collect();
    keys.sort_unstable();
    let mut fitting: Vec<Start> = keys
        .into_iter()
        .map(|key| Start {
            key: key.to_owned(),
            direction: Direction::Upstream,
        })
        .filter(|start| {
            memory
                .lineage(start, FIXED_DEPTH)
                .is_some_and(|a| FIXED_BAND.contains(&a.nodes))
        })
        .collect();
    let mut rng = Rng::fork(seed, FIXED_STREAM);
    let mut chosen = Vec::with_capacity(count.min(fitting.len()));
    while chosen.len() < count && !fitting.is_empty() {
        let at = rng.below(fitting.len());
        chosen.push(fitting.swap_remove(at));
    }
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_parse_by_name() {
        assert_eq!(parse("s2"), Some(S2));
        assert_eq!(parse("S3").map(|s| s.plans), Some(8_000));
        assert_eq!(parse("s4"), None);
    }
}
