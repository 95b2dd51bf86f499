//! The time-aware walk behind Spline's lineage and impact overviews, as pure code over runs
//! already loaded, so its rules are tested without a database.
//!
//! A run that reads a data source at time T *observes* the last successful overwrite of it
//! before T and the successful appends after that overwrite (and before T): what the data
//! source held when it was read. Lineage follows that relation from a run to the runs whose
//! writes it observed; impact follows it the other way, to the runs that observed its write.
//! A failed run wrote nothing anyone could observe. An observed write is always strictly
//! earlier than its reader, so the relation has no cycles.
//!
//! Depth counts runs along a path, the start run being 1. The walk goes breadth first and
//! expands each run once, at the smallest depth it is reached at (Spline memoises by event the
//! same way); runs at `maxDepth` are shown but not expanded. `depthComputed` is the longest
//! path of runs in the answer, at most `maxDepth`, and `-1` when nothing was walked
//! (`maxDepth` 0), which is how Spline renders a depth of 0.
//!
//! A data source appended to by thousands of runs makes every reader observe all of them, so
//! the walk takes at most `max_runs` runs and says when it left any out.

use std::collections::{HashMap, HashSet};

use crate::model::NodeId;
use crate::store::{DataSourceAt, SplineRun};

/// Which way the walk goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Direction {
    /// To the writes a run observed.
    Lineage,
    /// To the runs that observed a run's write.
    Impact,
}

/// The writes of `data_source` that a read at `read_at` observes: the last successful
/// overwrite before it, then the successful appends after that overwrite, oldest first.
pub(super) fn observed_writes(
    data_source: NodeId,
    read_at: i64,
    candidates: &[SplineRun],
) -> Vec<&SplineRun> {
    let writes = || {
        candidates
            .iter()
            .filter(move |r| r.writes == data_source && !r.failed && r.timestamp < read_at)
    };
    let overwrite = writes()
        .filter(|r| !r.append)
        .max_by_key(|r| (r.timestamp, r.run));
    let since = overwrite.map(|o| o.timestamp);
    let mut appends: Vec<&SplineRun> = writes()
        .filter(|r| r.append && since.is_none_or(|s| r.timestamp > s))
        .collect();
    appends.sort_by_key(|r| (r.timestamp, r.run));
    overwrite.into_iter().chain(appends).collect()
}

/// The runs that observe `write`: readers of its data source after it, up to and including
/// the moment of the next successful overwrite (a reader at that very moment still read what
/// was there before it). A failed write is observed by nobody.
pub(super) fn observing_reads<'a>(
    write: &SplineRun,
    candidates: &'a [SplineRun],
) -> Vec<&'a SplineRun> {
    if write.failed {
        return Vec::new();
    }
    let data_source = write.writes;
    let next_overwrite = candidates
        .iter()
        .filter(|r| r.writes == data_source && !r.append && !r.failed)
        .filter(|r| r.timestamp > write.timestamp)
        .map(|r| r.timestamp)
        .min();
    let mut readers: Vec<&SplineRun> = candidates
        .iter()
        .filter(|r| r.reads.contains(&data_source) && r.timestamp > write.timestamp)
        .filter(|r| next_overwrite.is_none_or(|until| r.timestamp <= until))
        .collect();
    readers.sort_by_key(|r| (r.timestamp, r.run));
    readers.dedup_by_key(|r| r.run);
    readers
}

/// A walk in progress: runs found so far and what to load next.
#[derive(Debug)]
pub(super) struct Walk {
    direction: Direction,
    max_depth: u32,
    runs: Vec<SplineRun>,
    depth: Vec<u32>,
    index: HashMap<NodeId, usize>,
    /// Per run, the runs the walk went on to from it.
    next: Vec<Vec<usize>>,
    /// Every (run, run it went on to), to keep `next` free of repeats in constant time.
    steps: HashSet<(usize, usize)>,
    /// Most runs to take.
    max_runs: usize,
    /// Runs were left out because of `max_runs`.
    truncated: bool,
    /// Runs still to expand.
    frontier: Vec<usize>,
    /// The requests handed out last, with the run each expands.
    pending: Vec<(usize, DataSourceAt)>,
}

/// What a finished walk found.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Walked {
    /// Every run reached, the start first, in the order reached; empty when `maxDepth` is 0.
    pub runs: Vec<SplineRun>,
    /// Spline's `depthComputed`.
    pub depth_computed: i64,
    /// Runs were left out because the walk took the most it may.
    pub truncated: bool,
}

impl Walk {
    /// A walk from `start` down to `max_depth` runs deep, taking at most `max_runs` runs.
    pub fn new(start: SplineRun, direction: Direction, max_depth: u32, max_runs: usize) -> Self {
        let mut walk = Walk {
            direction,
            max_depth,
            runs: Vec::new(),
            depth: Vec::new(),
            index: HashMap::new(),
            next: Vec::new(),
            steps: HashSet::new(),
            max_runs: max_runs.max(1),
            truncated: false,
            frontier: Vec::new(),
            pending: Vec::new(),
        };
        if max_depth > 0 {
            walk.visit(start, 1);
        }
        walk
    }

    /// The data-source moments to load candidates for next; empty once the walk is over.
    /// Lineage asks for the writes before each read, impact for the reads after each write.
    pub fn requests(&mut self) -> Vec<DataSourceAt> {
        let frontier = std::mem::take(&mut self.frontier);
        self.pending = frontier
            .into_iter()
            .flat_map(|i| self.requests_of(i))
            .collect();
        self.pending.iter().map(|(_, request)| *request).collect()
    }

    fn requests_of(&self, i: usize) -> Vec<(usize, DataSourceAt)> {
        let run = &self.runs[i];
        let at = |data_source| {
            (
                i,
                DataSourceAt {
                    data_source,
                    at: run.timestamp,
                },
            )
        };
        match self.direction {
            Direction::Lineage => run.reads.iter().map(|&ds| at(ds)).collect(),
            Direction::Impact if run.failed => Vec::new(),
            Direction::Impact => vec![at(run.writes)],
        }
    }

    /// Takes the candidates loaded for the last requests, one list per request, in order.
    pub fn advance(&mut self, loaded: Vec<Vec<SplineRun>>) {
        let pending = std::mem::take(&mut self.pending);
        for ((from, request), candidates) in pending.into_iter().zip(loaded) {
            let found: Vec<SplineRun> = match self.direction {
                Direction::Lineage => observed_writes(request.data_source, request.at, &candidates),
                Direction::Impact => observing_reads(&self.runs[from], &candidates),
            }
            .into_iter()
            .cloned()
            .collect();
            let depth = self.depth[from] + 1;
            for run in found {
                let Some(to) = self.visit(run, depth) else {
                    break;
                };
                if self.steps.insert((from, to)) {
                    self.next[from].push(to);
                }
            }
        }
    }

    /// Adds a run unless it is known, and queues it while it is shallower than `max_depth`;
    /// `None` when it is new and the walk has all the runs it may take.
    fn visit(&mut self, run: SplineRun, depth: u32) -> Option<usize> {
        if let Some(&i) = self.index.get(&run.run) {
            return Some(i);
        }
        if self.runs.len() >= self.max_runs {
            self.truncated = true;
            return None;
        }
        let i = self.runs.len();
        self.index.insert(run.run, i);
        self.runs.push(run);
        self.depth.push(depth);
        self.next.push(Vec::new());
        if depth < self.max_depth {
            self.frontier.push(i);
        }
        Some(i)
    }

    /// The runs reached and the depth computed.
    pub fn finish(self) -> Walked {
        let depth_computed = match self.runs.is_empty() {
            true => -1,
            false => i64::from(self.longest_path().min(self.max_depth)),
        };
        Walked {
            runs: self.runs,
            depth_computed,
            truncated: self.truncated,
        }
    }

    /// Runs on the longest path from the start, memoised per run. Every step goes back in time
    /// (lineage) or forward (impact), so runs in time order are settled before they're needed.
    fn longest_path(&self) -> u32 {
        let mut order: Vec<usize> = (0..self.runs.len()).collect();
        order.sort_by_key(|&i| self.runs[i].timestamp);
        if self.direction == Direction::Impact {
            order.reverse();
        }
        let mut longest = vec![1u32; self.runs.len()];
        let mut settled = HashSet::new();
        for i in order {
            let deepest = self.next[i]
                .iter()
                .filter(|j| settled.contains(*j))
                .map(|&j| longest[j])
                .max();
            longest[i] = 1 + deepest.unwrap_or(0);
            settled.insert(i);
        }
        longest[0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run of the job `job` at `timestamp` reading `reads` and writing `writes`.
    fn run(
        id: NodeId,
        timestamp: i64,
        reads: &[NodeId],
        writes: NodeId,
        append: bool,
    ) -> SplineRun {
        SplineRun {
            run: id,
            job: id + 1000,
            timestamp,
            append,
            failed: false,
            reads: reads.to_vec(),
            writes,
        }
    }

    fn failed(mut r: SplineRun) -> SplineRun {
        r.failed = true;
        r
    }

    fn ids(runs: &[&SplineRun]) -> Vec<NodeId> {
        runs.iter().map(|r| r.run).collect()
    }

    const DS: NodeId = 7;

    /// Writes of DS: append at 5, overwrite at 10, append at 15, failed overwrite at 20,
    /// append at 25, overwrite at 40.
    fn history() -> Vec<SplineRun> {
        vec![
            run(1, 5, &[], DS, true),
            run(2, 10, &[], DS, false),
            run(3, 15, &[], DS, true),
            failed(run(4, 20, &[], DS, false)),
            run(5, 25, &[], DS, true),
            run(6, 40, &[], DS, false),
            run(9, 12, &[], 8, false),
        ]
    }

    #[test]
    fn a_read_observes_the_last_overwrite_before_it_and_the_appends_after_it() {
        let h = history();
        assert_eq!(ids(&observed_writes(DS, 30, &h)), [2, 3, 5]);
        assert_eq!(
            ids(&observed_writes(DS, 15, &h)),
            [2],
            "a write at the read's moment is not seen"
        );
        assert_eq!(ids(&observed_writes(DS, 41, &h)), [6]);
        assert_eq!(
            ids(&observed_writes(DS, 8, &h)),
            [1],
            "no overwrite yet: every append"
        );
        assert_eq!(ids(&observed_writes(DS, 5, &h)), Vec::<NodeId>::new());
    }

    #[test]
    fn a_write_is_observed_until_the_next_successful_overwrite() {
        let mut h = history();
        h.extend([
            run(20, 12, &[DS], 50, false),
            run(21, 30, &[DS], 51, false),
            run(22, 40, &[DS], 52, false),
            run(23, 41, &[DS], 53, false),
            run(24, 9, &[DS], 54, false),
        ]);
        let overwrite = h[1].clone();
        assert_eq!(ids(&observing_reads(&overwrite, &h)), [20, 21, 22]);
        let append = h[2].clone();
        assert_eq!(ids(&observing_reads(&append, &h)), [21, 22]);
        assert!(observing_reads(&failed(overwrite), &h).is_empty());
    }

    /// Loads what the store would: every run writing (lineage) or touching (impact) the data
    /// source; the rules pick from the full history.
    fn load(all: &[SplineRun], walk: &mut Walk, direction: Direction) -> bool {
        let requests = walk.requests();
        let loaded = requests
            .iter()
            .map(|r| {
                let touches = |x: &&SplineRun| match direction {
                    Direction::Lineage => x.writes == r.data_source,
                    Direction::Impact => {
                        x.writes == r.data_source || x.reads.contains(&r.data_source)
                    }
                };
                all.iter().filter(touches).cloned().collect()
            })
            .collect();
        walk.advance(loaded);
        !requests.is_empty()
    }

    fn walk(all: &[SplineRun], start: usize, direction: Direction, depth: u32) -> Walked {
        let mut w = Walk::new(all[start].clone(), direction, depth, usize::MAX);
        while load(all, &mut w, direction) {}
        w.finish()
    }

    fn walked(w: &Walked) -> Vec<NodeId> {
        w.runs.iter().map(|r| r.run).collect()
    }

    /// d0 → C(10) → d1 → B(20) → d2 → A(30), plus a diamond: A also reads d3, written at 25 by
    /// D, which reads d1 too.
    fn chain() -> Vec<SplineRun> {
        vec![
            run(1, 30, &[2, 3], 4, false),
            run(2, 20, &[1], 2, false),
            run(3, 10, &[0], 1, false),
            run(4, 25, &[1], 3, false),
        ]
    }

    #[test]
    fn lineage_depth_counts_runs_and_renders_zero_as_minus_one() {
        let all = chain();
        let w = walk(&all, 0, Direction::Lineage, 5);
        assert_eq!(walked(&w), [1, 2, 4, 3]);
        assert_eq!(w.depth_computed, 3);
        let w = walk(&all, 0, Direction::Lineage, 2);
        assert_eq!((walked(&w), w.depth_computed), (vec![1, 2, 4], 2));
        let w = walk(&all, 0, Direction::Lineage, 1);
        assert_eq!((walked(&w), w.depth_computed), (vec![1], 1));
        let w = walk(&all, 0, Direction::Lineage, 0);
        assert_eq!((walked(&w), w.depth_computed), (vec![], -1));
    }

    #[test]
    fn a_run_reached_twice_is_walked_once() {
        let all = chain();
        let mut w = Walk::new(all[0].clone(), Direction::Lineage, 5, usize::MAX);
        let mut requests = 0;
        loop {
            let asked = w.requests();
            if asked.is_empty() {
                break;
            }
            requests += asked.len();
            let loaded = asked
                .iter()
                .map(|r| {
                    all.iter()
                        .filter(|x| x.writes == r.data_source)
                        .cloned()
                        .collect()
                })
                .collect();
            w.advance(loaded);
        }
        // A's two reads, B's and D's read of d1 (C reached twice, expanded once), C's read.
        assert_eq!(requests, 5);
        assert_eq!(walked(&w.finish()), [1, 2, 4, 3]);
    }

    #[test]
    fn a_walk_takes_at_most_its_runs_and_says_so() {
        // One reader observing 200 appends to the same data source.
        let mut all = vec![run(1, 1_000, &[DS], 8, false)];
        all.extend((0..200).map(|i| run(100 + i, 10 + i, &[], DS, true)));
        let mut w = Walk::new(all[0].clone(), Direction::Lineage, 5, 50);
        while load(&all, &mut w, Direction::Lineage) {}
        let walked = w.finish();
        assert_eq!((walked.runs.len(), walked.truncated), (50, true));
        let mut w = Walk::new(all[0].clone(), Direction::Lineage, 5, 1_000);
        while load(&all, &mut w, Direction::Lineage) {}
        let walked = w.finish();
        assert_eq!((walked.runs.len(), walked.truncated), (201, false));
    }

    #[test]
    fn impact_walks_forward_to_the_readers_that_saw_the_write() {
        let all = chain();
        let w = walk(&all, 2, Direction::Impact, 5);
        assert_eq!(walked(&w), [3, 2, 4, 1]);
        assert_eq!(w.depth_computed, 3);
        let w = walk(&all, 2, Direction::Impact, 2);
        assert_eq!((walked(&w), w.depth_computed), (vec![3, 2, 4], 2));
    }

    #[test]
    fn a_later_overwrite_hides_earlier_writes_from_later_readers() {
        // Job X overwrites d1 at 10, then appends at 20 and 30; job Y overwrites it at 40.
        // R reads d1 at 35: it sees X's three writes, not Y's.
        let all = vec![
            run(1, 35, &[1], 9, false),
            run(2, 10, &[], 1, false),
            run(3, 20, &[], 1, true),
            run(4, 30, &[], 1, true),
            run(5, 40, &[], 1, false),
            run(6, 50, &[1], 8, false),
        ];
        let w = walk(&all, 0, Direction::Lineage, 5);
        assert_eq!((walked(&w), w.depth_computed), (vec![1, 2, 3, 4], 2));
        let w = walk(&all, 1, Direction::Impact, 5);
        assert_eq!(
            walked(&w),
            [2, 1],
            "the reader at 50 sees Y's overwrite instead"
        );
    }
}
