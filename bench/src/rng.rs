//! A tiny seeded pseudo-random generator.
//!
//! The benchmark has to produce byte-identical workloads for a given seed on
//! every machine and every build, so that two runs (or two machines) measure
//! the same data. SplitMix64 is small enough to own outright, which keeps that
//! guarantee independent of any crate's algorithm choices between versions.

/// SplitMix64: fast, well mixed, and stable by construction.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator whose whole output sequence is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// An independent stream derived from this seed, so that adding draws to
    /// one part of the generator does not reshuffle every other part.
    pub fn fork(seed: u64, stream: u64) -> Self {
        let mut mixer = Self::new(seed ^ stream.wrapping_mul(0xA076_1D64_78BD_642F));
        Self::new(mixer.next_u64())
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`, from the top 53 bits.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[0, n)`; `n` must be positive.
    pub fn below(&mut self, n: usize) -> usize {
        assert!(n > 0, "Rng::below(0)");
        // Multiply-shift keeps the bias far below anything a benchmark notices.
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// Uniform in the inclusive range `[lo, hi]`.
    pub fn between(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// An index in `[0, n)` skewed towards 0, so that a few datasets become
    /// popular inputs the way shared dimension tables do in real platforms.
    pub fn skewed_below(&mut self, n: usize) -> usize {
        let index = (self.unit().powf(1.6) * n as f64) as usize;
        index.min(n - 1)
    }

    /// A uniformly chosen element; `items` must be non-empty.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// Picks an index from a table of relative weights.
    pub fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u32 = weights.iter().sum();
        let mut ticket = self.below(total as usize) as u32;
        for (index, weight) in weights.iter().enumerate() {
            if ticket < *weight {
                return index;
            }
            ticket -= weight;
        }
        weights.len() - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
    }

    #[test]
    fn bounded_draws_stay_in_range() {
        let mut rng = Rng::new(1);
        for _ in 0..10_000 {
            assert!(rng.below(5) < 5);
            assert!((3..=9).contains(&rng.between(3, 9)));
            assert!(rng.skewed_below(4) < 4);
            assert!(rng.weighted(&[1, 0, 3]) != 1);
            let unit = rng.unit();
            assert!((0.0..1.0).contains(&unit));
        }
    }

    #[test]
    fn forks_differ_from_each_other() {
        let mut a = Rng::fork(42, 1);
        let mut b = Rng::fork(42, 2);
        assert_ne!(a.next_u64(), b.next_u64());
    }
}
