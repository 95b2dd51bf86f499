//! Simple paths between two nodes, shortest first, within a budget.
//!
//! The number of simple paths grows exponentially with the graph (20 layers of 4 datasets hold
//! 4^19 of them), and so does a depth-first search that tries every prefix, most of which
//! never reach the target. So the search only walks nodes that can still reach the target
//! within the length it is looking for (their distance to it is known up front), which makes
//! every prefix it tries the start of a path, and it spends a step of its [`Budget`] on every
//! edge it tries, stopping with what it found when the budget runs out.

use std::collections::{HashMap, HashSet, VecDeque};

use petgraph::Direction::Incoming;
use petgraph::graphmap::DiGraphMap;

use super::budget::{Budget, Exhausted};
use crate::model::NodeId;

/// What a path search found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Found {
    /// A shortest path, empty when there is none within the length asked for.
    pub shortest: Vec<NodeId>,
    /// Simple paths, shortest first, then in node order; at most the number asked for.
    pub paths: Vec<Vec<NodeId>>,
    /// More paths exist than were asked for.
    pub more: bool,
    /// The budget ran out before the search was done: there may be more (or shorter-listed)
    /// paths than `paths` holds.
    pub stopped: Option<Exhausted>,
}

/// Why the depth-first search stopped early.
enum Stop {
    /// It has one path more than it may list: enough to say there are more.
    Full,
    /// The budget ran out.
    Exhausted(Exhausted),
}

/// A shortest path and up to `max_paths` simple paths of at most `max_length` edges from
/// `from` to `to` (shortest first), and whether there are more.
pub fn search(
    g: &DiGraphMap<NodeId, ()>,
    from: NodeId,
    to: NodeId,
    max_paths: usize,
    max_length: usize,
    budget: &mut Budget,
) -> Found {
    if !g.contains_node(from) || !g.contains_node(to) || from == to {
        return Found::default();
    }
    let distance = distances_to(g, to);
    let Some(&shortest_length) = distance.get(&from).filter(|d| **d <= max_length) else {
        return Found::default();
    };
    let search = Search::new(g, &distance, to);
    let mut found = Found {
        shortest: search.a_shortest_path(from),
        ..Found::default()
    };
    for length in shortest_length..=max_length {
        let mut dfs = Dfs {
            search: &search,
            length,
            path: vec![from],
            on_path: HashSet::from([from]),
            paths: &mut found.paths,
            max_paths,
            budget,
        };
        match dfs.extend(from) {
            Ok(()) => {}
            Err(Stop::Full) => {
                found.more = true;
                break;
            }
            Err(Stop::Exhausted(why)) => {
                found.stopped = Some(why);
                break;
            }
        }
    }
    found.paths.truncate(max_paths);
    found
}

/// Every node that can reach `to`, with the fewest edges it takes.
fn distances_to(g: &DiGraphMap<NodeId, ()>, to: NodeId) -> HashMap<NodeId, usize> {
    let mut distance = HashMap::from([(to, 0)]);
    let mut queue = VecDeque::from([to]);
    while let Some(v) = queue.pop_front() {
        let d = distance[&v];
        for u in g.neighbors_directed(v, Incoming) {
            distance.entry(u).or_insert_with(|| {
                queue.push_back(u);
                d + 1
            });
        }
    }
    distance
}

/// The graph cut down to what can reach the target, successors sorted so that answers are
/// the same however the graph was built.
struct Search<'a> {
    successors: HashMap<NodeId, Vec<NodeId>>,
    distance: &'a HashMap<NodeId, usize>,
    to: NodeId,
}

impl<'a> Search<'a> {
    fn new(g: &DiGraphMap<NodeId, ()>, distance: &'a HashMap<NodeId, usize>, to: NodeId) -> Self {
        let successors = distance
            .keys()
            .map(|&v| {
                let mut next: Vec<NodeId> = g
                    .neighbors(v)
                    .filter(|w| distance.contains_key(w))
                    .collect();
                next.sort_unstable();
                (v, next)
            })
            .collect();
        Search {
            successors,
            distance,
            to,
        }
    }

    /// Down the distances: each step to the first successor one edge closer.
    fn a_shortest_path(&self, from: NodeId) -> Vec<NodeId> {
        let mut path = vec![from];
        let mut at = from;
        while at != self.to {
            let closer = self.distance[&at] - 1;
            let next = self.successors[&at]
                .iter()
                .find(|w| self.distance[*w] == closer);
            let Some(&next) = next else { break };
            path.push(next);
            at = next;
        }
        path
    }
}

/// A depth-first search for the simple paths of exactly `length` edges.
struct Dfs<'s, 'a> {
    search: &'s Search<'a>,
    length: usize,
    path: Vec<NodeId>,
    on_path: HashSet<NodeId>,
    paths: &'s mut Vec<Vec<NodeId>>,
    max_paths: usize,
    budget: &'s mut Budget,
}

impl Dfs<'_, '_> {
    /// Extends the path (which ends at `at`) every way that can still reach the target in
    /// exactly the edges left. Recursion is as deep as the path is long (at most 50 edges).
    fn extend(&mut self, at: NodeId) -> Result<(), Stop> {
        let walked = self.path.len() - 1;
        if at == self.search.to {
            if walked == self.length {
                self.paths.push(self.path.clone());
                if self.paths.len() > self.max_paths {
                    return Err(Stop::Full);
                }
            }
            return Ok(());
        }
        let left = self.length - walked;
        for &next in &self.search.successors[&at] {
            self.budget.spend(1).map_err(Stop::Exhausted)?;
            if self.search.distance[&next] + 1 > left || self.on_path.contains(&next) {
                continue;
            }
            self.path.push(next);
            self.on_path.insert(next);
            let result = self.extend(next);
            self.on_path.remove(&next);
            self.path.pop();
            result?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 1 → 2 → 3 → 4 and 1 → 5 → 4, plus a cycle 4 → 1.
    fn graph() -> DiGraphMap<NodeId, ()> {
        [(1, 2), (2, 3), (3, 4), (1, 5), (5, 4), (4, 1)]
            .into_iter()
            .collect()
    }

    fn unbounded(
        g: &DiGraphMap<NodeId, ()>,
        from: NodeId,
        to: NodeId,
        n: usize,
        len: usize,
    ) -> Found {
        search(g, from, to, n, len, &mut Budget::unlimited())
    }

    #[test]
    fn the_shortest_and_all_simple_paths_are_found() {
        let found = unbounded(&graph(), 1, 4, 10, 10);
        assert_eq!(found.shortest, vec![1, 5, 4]);
        assert_eq!(found.paths, vec![vec![1, 5, 4], vec![1, 2, 3, 4]]);
        assert!(!found.more && found.stopped.is_none());
    }

    #[test]
    fn bounds_cut_paths_and_say_so() {
        let found = unbounded(&graph(), 1, 4, 1, 10);
        assert_eq!(found.paths.len(), 1);
        assert!(found.more);
        let found = unbounded(&graph(), 1, 4, 10, 2);
        assert_eq!(found.paths, vec![vec![1, 5, 4]]);
        assert!(unbounded(&graph(), 1, 4, 10, 1).shortest.is_empty());
    }

    #[test]
    fn no_path_is_an_empty_answer() {
        let mut g = graph();
        g.add_node(6);
        let found = unbounded(&g, 1, 6, 10, 10);
        assert_eq!((found.shortest.len(), found.paths.len()), (0, 0));
    }

    /// `layers` layers of `width` nodes, every node of one layer feeding every node of the
    /// next: width^(layers - 2) paths from the first node to the last.
    fn layered(layers: u64, width: u64) -> DiGraphMap<NodeId, ()> {
        let id = |layer: u64, i: u64| (layer * width + i) as NodeId;
        let mut g = DiGraphMap::new();
        for layer in 0..layers - 1 {
            for i in 0..width {
                for j in 0..width {
                    g.add_edge(id(layer, i), id(layer + 1, j), ());
                }
            }
        }
        // Dead ends hanging off every node: a search that walks them is exponential.
        for v in 0..layers * width {
            g.add_edge(v as NodeId, (10_000 + v) as NodeId, ());
        }
        g
    }

    #[test]
    fn paths_through_many_layers_are_found_in_steps_linear_in_what_is_listed() {
        let g = layered(30, 4);
        let last = (29 * 4) as NodeId;
        let mut budget = Budget::new(100_000, None);
        let found = search(&g, 0, last, 100, 50, &mut budget);
        assert_eq!(found.paths.len(), 100);
        assert!(found.more && found.stopped.is_none());
        assert!(found.paths.iter().all(|p| p.len() == 30));
        assert!(budget.spent() < 101 * 30 * 4, "{} steps", budget.spent());
    }

    #[test]
    fn a_search_that_runs_out_of_steps_keeps_what_it_found_and_says_so() {
        // The direct edge is found first; the 4^4 paths through the layers take more steps
        // than the budget holds.
        let mut g = layered(6, 4);
        let last = (5 * 4) as NodeId;
        g.add_edge(0, last, ());
        let mut budget = Budget::new(50, None);
        let found = search(&g, 0, last, 100, 50, &mut budget);
        assert_eq!(found.stopped, Some(Exhausted::Steps(50)));
        assert_eq!(found.paths.first(), Some(&vec![0, last]));
        assert_eq!(found.shortest, vec![0, last]);
    }
}
