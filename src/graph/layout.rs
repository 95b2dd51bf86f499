//! A layered (Sugiyama-style) drawing of a lineage subgraph, data flowing left to right.
//!
//! The explorer draws what this computes, so a drawing is the same in every browser, can be
//! tested here, and costs the browser nothing at 2,000 nodes. The steps are the classic ones:
//! cycles are broken by reversing a small feedback arc set (petgraph's greedy one), nodes get
//! layers by longest path and are then pulled right towards their successors, long edges are
//! split by virtual nodes so each edge joins adjacent layers, crossings are reduced by
//! barycenter sweeps and adjacent swaps (keeping the best order seen), and vertical positions
//! come from an order-preserving least-squares placement that pulls each node towards its
//! neighbours. Everything is deterministic: the same input always gives the same drawing.

use std::collections::HashMap;

use petgraph::algo::feedback_arc_set::greedy_feedback_arc_set;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;

use super::budget::Budget;

/// Horizontal space between the columns of two layers.
const LAYER_GAP: f64 = 90.0;
/// Vertical space between two nodes of a layer.
const NODE_GAP: f64 = 22.0;
/// Vertical space kept around the virtual nodes that carry long edges through a layer.
const VIRTUAL_GAP: f64 = 8.0;
/// Blank border around the drawing.
const MARGIN: f64 = 20.0;
/// Barycenter sweeps (each one down and one up) before giving up on improving.
const SWEEPS: usize = 12;
/// Passes of adjacent swaps after the sweeps.
const SWAP_PASSES: usize = 4;
/// Rounds of pulling nodes towards their neighbours' heights.
const PLACEMENT_ROUNDS: usize = 8;
/// Space between a group's frame and its members.
pub const GROUP_PAD: f64 = 12.0;
/// Room above a group's members for its title.
pub const GROUP_TITLE: f64 = 22.0;

/// The box a node is drawn in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Size {
    /// Horizontal extent.
    pub width: f64,
    /// Vertical extent.
    pub height: f64,
}

/// A point of the drawing; y grows downwards, as in SVG.
pub type Point = [f64; 2];

/// Where a node is drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placement {
    /// The column, 0 leftmost.
    pub layer: usize,
    /// The top-left corner.
    pub x: f64,
    /// The top-left corner.
    pub y: f64,
}

/// How an edge is drawn: from the right side of its source to the left side of its target,
/// through one point pair per layer it crosses.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// From the source's port to the target's port.
    pub points: Vec<Point>,
    /// True when the edge was turned around to break a cycle, so it runs right to left.
    pub reversed: bool,
}

/// The frame drawn around a group's members, with room for a title at the top. No other
/// node is inside it: they are moved above or below.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Frame {
    /// The group, as given in [`Graph::groups`].
    pub group: usize,
    /// The top-left corner.
    pub x: f64,
    /// The top-left corner.
    pub y: f64,
    /// Extent.
    pub width: f64,
    /// Extent.
    pub height: f64,
}

/// A whole drawing, in the order of the input.
#[derive(Debug, Clone, PartialEq)]
pub struct Drawing {
    /// One per input node.
    pub nodes: Vec<Placement>,
    /// One per input edge.
    pub edges: Vec<Route>,
    /// One per group, by group.
    pub groups: Vec<Frame>,
    /// Extent of the drawing, margins included.
    pub width: f64,
    /// Extent of the drawing, margins included.
    pub height: f64,
}

/// What to lay out: node sizes, edges as (source, target) indices into `sizes`, and an
/// optional group per node. Members of one group are kept next to each other in every
/// layer, so the group can be framed (a job shown with its operations).
#[derive(Debug, Clone, Copy)]
pub struct Graph<'a> {
    /// One per node.
    pub sizes: &'a [Size],
    /// (source, target), pointing the way data flows.
    pub edges: &'a [(usize, usize)],
    /// Empty, or one per node.
    pub groups: &'a [Option<usize>],
}

/// Lays a graph out. Self-loops and repeated edges are allowed.
pub fn draw(graph: Graph<'_>) -> Drawing {
    let drawing = draw_within(graph, usize::MAX, &mut Budget::unlimited());
    drawing.unwrap_or_else(|_| unreachable!("no bound on bends"))
}

/// Lays a graph out within bounds. An edge spanning k layers bends k - 1 times, and each
/// bend is a node to order and place and a pair of points in the answer, so a graph whose
/// edges need more than `max_bends` bends in all is not drawn: `Err` with how many it needs.
/// The crossing reduction and the placement spend steps from `budget` and, when it runs
/// out, stop improving the drawing they have (it stays a valid drawing, with more crossings
/// or less even spacing).
pub fn draw_within(
    graph: Graph<'_>,
    max_bends: usize,
    budget: &mut Budget,
) -> Result<Drawing, usize> {
    let n = graph.sizes.len();
    let structure = Structure::of(n, graph.edges);
    let layers = layers(n, &structure.arcs);
    let bends: usize = structure
        .arcs
        .iter()
        .map(|&(s, t)| layers[t].saturating_sub(layers[s] + 1))
        .sum();
    if bends > max_bends {
        return Err(bends);
    }
    let mut layered = Layered::new(graph.sizes, &layers, &structure.arcs, graph.groups);
    layered.order(budget);
    let xs = layered.columns();
    let ys = layered.place(budget);
    let groups = layered.frames(&xs, &ys);
    let nodes = (0..n)
        .map(|v| Placement {
            layer: layers[v],
            x: xs[layers[v]],
            y: ys[v] - graph.sizes[v].height / 2.0,
        })
        .collect::<Vec<_>>();
    let edges = graph
        .edges
        .iter()
        .map(|&(s, t)| layered.route(&structure, s, t, &xs, &ys))
        .collect();
    let (width, height) = extent(graph.sizes, &nodes, &groups, &xs);
    Ok(Drawing {
        nodes,
        edges,
        groups,
        width,
        height,
    })
}

fn extent(sizes: &[Size], nodes: &[Placement], frames: &[Frame], xs: &[f64]) -> (f64, f64) {
    let boxes = nodes
        .iter()
        .zip(sizes)
        .map(|(p, s)| (p.x + s.width, p.y + s.height))
        .chain(frames.iter().map(|f| (f.x + f.width, f.y + f.height)));
    let (mut right, mut bottom) = (xs.iter().copied().fold(0.0, f64::max), 0.0f64);
    for (r, b) in boxes {
        right = right.max(r);
        bottom = bottom.max(b);
    }
    (right + MARGIN, bottom + MARGIN)
}

/// The edges the layering sees: distinct, without self-loops, and acyclic (some turned
/// around). `arcs` are (from, to) with `from` drawn left of `to`.
struct Structure {
    arcs: Vec<(usize, usize)>,
    /// (source, target) of an input edge → its arc, and whether the arc runs against it.
    index: HashMap<(usize, usize), (usize, bool)>,
}

impl Structure {
    fn of(n: usize, edges: &[(usize, usize)]) -> Structure {
        let mut graph: DiGraph<(), ()> = DiGraph::with_capacity(n, edges.len());
        for _ in 0..n {
            graph.add_node(());
        }
        let mut seen = HashMap::new();
        for &(s, t) in edges {
            if s != t && !seen.contains_key(&(s, t)) {
                let e = graph.add_edge(NodeIndex::new(s), NodeIndex::new(t), ());
                seen.insert((s, t), e.index());
            }
        }
        let reversed: Vec<bool> = {
            let mut flags = vec![false; graph.edge_count()];
            for e in greedy_feedback_arc_set(&graph) {
                flags[e.id().index()] = true;
            }
            flags
        };
        let mut arcs = Vec::new();
        let mut arc_of: HashMap<(usize, usize), usize> = HashMap::new();
        let mut index = HashMap::new();
        for e in graph.edge_references() {
            let (s, t) = (e.source().index(), e.target().index());
            let turned = reversed[e.id().index()];
            let (from, to) = if turned { (t, s) } else { (s, t) };
            let arc = *arc_of.entry((from, to)).or_insert_with(|| {
                arcs.push((from, to));
                arcs.len() - 1
            });
            index.insert((s, t), (arc, turned));
        }
        Structure { arcs, index }
    }
}

/// Longest-path layers from the sources, then every node with successors moved as far right
/// as they allow, so sources sit next to what reads them rather than all in column 0.
fn layers(n: usize, arcs: &[(usize, usize)]) -> Vec<usize> {
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut indegree = vec![0usize; n];
    for &(s, t) in arcs {
        out[s].push(t);
        indegree[t] += 1;
    }
    let mut topo: Vec<usize> = (0..n).filter(|&v| indegree[v] == 0).collect();
    let mut i = 0;
    while i < topo.len() {
        let v = topo[i];
        for &w in &out[v] {
            indegree[w] -= 1;
            if indegree[w] == 0 {
                topo.push(w);
            }
        }
        i += 1;
    }
    let mut layer = vec![0usize; n];
    for &v in &topo {
        for &w in &out[v] {
            layer[w] = layer[w].max(layer[v] + 1);
        }
    }
    for &v in topo.iter().rev() {
        if let Some(first) = out[v].iter().map(|&w| layer[w]).min() {
            layer[v] = layer[v].max(first - 1);
        }
    }
    layer
}

/// The proper layered graph: real nodes, plus a chain of virtual nodes on every arc that
/// spans more than one layer.
struct Layered<'a> {
    sizes: &'a [Size],
    /// Real nodes first (same indices as the input), virtual ones after.
    layer: Vec<usize>,
    /// Neighbours in the layer to the left, and to the right.
    left: Vec<Vec<usize>>,
    right: Vec<Vec<usize>>,
    /// Nodes of each layer, in drawing order (top to bottom).
    ranks: Vec<Vec<usize>>,
    /// The virtual nodes of each arc, left to right.
    chains: Vec<Vec<usize>>,
    group: Vec<Option<usize>>,
}

impl<'a> Layered<'a> {
    fn new(
        sizes: &'a [Size],
        layers: &[usize],
        arcs: &[(usize, usize)],
        groups: &[Option<usize>],
    ) -> Self {
        let n = sizes.len();
        let depth = layers.iter().max().map_or(0, |m| m + 1);
        let mut g = Layered {
            sizes,
            layer: layers.to_vec(),
            left: vec![Vec::new(); n],
            right: vec![Vec::new(); n],
            ranks: vec![Vec::new(); depth],
            chains: Vec::with_capacity(arcs.len()),
            group: (0..n).map(|v| groups.get(v).copied().flatten()).collect(),
        };
        for &(s, t) in arcs {
            let mut chain = Vec::new();
            let mut at = s;
            let inner = g.group[s].filter(|_| g.group[s] == g.group[t]);
            for l in layers[s] + 1..layers[t] {
                let v = g.add_virtual(l, inner);
                g.join(at, v);
                chain.push(v);
                at = v;
            }
            g.join(at, t);
            g.chains.push(chain);
        }
        g.initial_order(n);
        g
    }

    fn add_virtual(&mut self, layer: usize, group: Option<usize>) -> usize {
        self.layer.push(layer);
        self.left.push(Vec::new());
        self.right.push(Vec::new());
        self.group.push(group);
        self.layer.len() - 1
    }

    fn join(&mut self, a: usize, b: usize) {
        self.right[a].push(b);
        self.left[b].push(a);
    }

    fn is_virtual(&self, v: usize) -> bool {
        v >= self.sizes.len()
    }

    /// Depth-first from the leftmost nodes in input order: a tree comes out uncrossed, and
    /// the sweeps start from something sensible.
    fn initial_order(&mut self, real: usize) {
        let mut placed = vec![false; self.layer.len()];
        let mut starts: Vec<usize> = (0..real).filter(|&v| self.left[v].is_empty()).collect();
        starts.extend(0..self.layer.len());
        for start in starts {
            let mut stack = vec![start];
            while let Some(v) = stack.pop() {
                if std::mem::replace(&mut placed[v], true) {
                    continue;
                }
                self.ranks[self.layer[v]].push(v);
                stack.extend(self.right[v].iter().rev().copied());
            }
        }
        let mut ranks = std::mem::take(&mut self.ranks);
        for rank in &mut ranks {
            self.keep_groups_together(rank);
        }
        self.ranks = ranks;
    }

    /// What one pass over the whole layered graph costs, in budget steps.
    fn size(&self) -> u64 {
        let arcs: usize = self.right.iter().map(Vec::len).sum();
        (self.layer.len() + arcs) as u64
    }

    /// Crossing reduction: barycenter sweeps, keeping the best order, then adjacent swaps.
    /// Each sweep spends the graph's size from `budget`; out of it, the best order so far
    /// stays.
    fn order(&mut self, budget: &mut Budget) {
        let mut position = self.positions();
        let mut best = (self.crossings(&position), self.ranks.clone());
        let mut stale = 0;
        for _ in 0..SWEEPS {
            if best.0 == 0 || stale >= 2 || budget.spend(2 * self.size()).is_err() {
                break;
            }
            for l in 1..self.ranks.len() {
                self.sort_layer(l, true, &mut position);
            }
            for l in (0..self.ranks.len().saturating_sub(1)).rev() {
                self.sort_layer(l, false, &mut position);
            }
            let crossings = self.crossings(&position);
            if crossings < best.0 {
                best = (crossings, self.ranks.clone());
                stale = 0;
            } else {
                stale += 1;
            }
        }
        self.ranks = best.1;
        self.swap_adjacent(budget);
    }

    fn positions(&self) -> Vec<usize> {
        let mut position = vec![0; self.layer.len()];
        for rank in &self.ranks {
            for (i, &v) in rank.iter().enumerate() {
                position[v] = i;
            }
        }
        position
    }

    /// Orders one layer by the mean position of each node's neighbours on one side; a node
    /// without any keeps its place.
    fn sort_layer(&mut self, l: usize, from_left: bool, position: &mut [usize]) {
        let mut keyed: Vec<(f64, usize)> = self.ranks[l]
            .iter()
            .map(|&v| {
                let near = if from_left {
                    &self.left[v]
                } else {
                    &self.right[v]
                };
                let key = match near.len() {
                    0 => position[v] as f64,
                    k => near.iter().map(|&u| position[u] as f64).sum::<f64>() / k as f64,
                };
                (key, v)
            })
            .collect();
        keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(position[a.1].cmp(&position[b.1])));
        let mut rank: Vec<usize> = keyed.into_iter().map(|(_, v)| v).collect();
        self.keep_groups_together(&mut rank);
        for (i, &v) in rank.iter().enumerate() {
            position[v] = i;
        }
        self.ranks[l] = rank;
    }

    /// Moves each group's members next to each other, where the group's first member is.
    fn keep_groups_together(&self, rank: &mut Vec<usize>) {
        if rank.iter().all(|&v| self.group[v].is_none()) {
            return;
        }
        let mut members: HashMap<usize, Vec<usize>> = HashMap::new();
        for &v in rank.iter() {
            if let Some(g) = self.group[v] {
                members.entry(g).or_default().push(v);
            }
        }
        let mut out = Vec::with_capacity(rank.len());
        for &v in rank.iter() {
            match self.group[v] {
                None => out.push(v),
                Some(g) => {
                    if let Some(all) = members.remove(&g) {
                        out.extend(all);
                    }
                }
            }
        }
        *rank = out;
    }

    /// Edge crossings between every pair of adjacent layers.
    fn crossings(&self, position: &[usize]) -> usize {
        (0..self.ranks.len().saturating_sub(1))
            .map(|l| self.crossings_between(l, position))
            .sum()
    }

    /// Crossings between layer `l` and `l + 1`: inversions among the edges' lower ends when
    /// they are sorted by their upper ends, counted with a Fenwick tree.
    fn crossings_between(&self, l: usize, position: &[usize]) -> usize {
        let mut ends: Vec<(usize, usize)> = self.ranks[l]
            .iter()
            .flat_map(|&v| {
                self.right[v]
                    .iter()
                    .map(move |&w| (position[v], position[w]))
            })
            .collect();
        ends.sort_unstable();
        let width = self.ranks[l + 1].len();
        let mut tree = vec![0usize; width + 1];
        let mut crossings = 0;
        for (seen, &(_, p)) in ends.iter().enumerate() {
            let mut at_most = 0;
            let mut i = p + 1;
            while i > 0 {
                at_most += tree[i];
                i &= i - 1;
            }
            crossings += seen - at_most;
            let mut i = p + 1;
            while i <= width {
                tree[i] += 1;
                i += i & i.wrapping_neg();
            }
        }
        crossings
    }

    /// Swaps neighbours in a layer while that removes crossings with the layers on both sides.
    /// Comparing two nodes costs the product of their degrees, spent from `budget`; out of
    /// it, the swaps stop.
    fn swap_adjacent(&mut self, budget: &mut Budget) {
        let mut position = self.positions();
        for _ in 0..SWAP_PASSES {
            let mut improved = false;
            for l in 0..self.ranks.len() {
                for i in 0..self.ranks[l].len().saturating_sub(1) {
                    let (u, v) = (self.ranks[l][i], self.ranks[l][i + 1]);
                    if self.group[u] != self.group[v] {
                        continue;
                    }
                    let cost = self.left[u].len() * self.left[v].len()
                        + self.right[u].len() * self.right[v].len();
                    if budget.spend(2 * cost as u64 + 1).is_err() {
                        return;
                    }
                    let now = self.pair_crossings(u, v, &position);
                    let swapped = self.pair_crossings(v, u, &position);
                    if swapped < now {
                        self.ranks[l].swap(i, i + 1);
                        position.swap(u, v);
                        improved = true;
                    }
                }
            }
            if !improved {
                break;
            }
        }
    }

    /// Crossings between the edges of `u` and of `v` when `u` is drawn just above `v`.
    fn pair_crossings(&self, u: usize, v: usize, position: &[usize]) -> usize {
        let count = |a: &[usize], b: &[usize]| {
            a.iter()
                .map(|&x| b.iter().filter(|&&y| position[x] > position[y]).count())
                .sum::<usize>()
        };
        count(&self.left[u], &self.left[v]) + count(&self.right[u], &self.right[v])
    }

    /// The left edge of every layer's column: each column is as wide as its widest node.
    fn columns(&self) -> Vec<f64> {
        let mut widths = vec![0.0f64; self.ranks.len()];
        for (v, size) in self.sizes.iter().enumerate() {
            widths[self.layer[v]] = widths[self.layer[v]].max(size.width);
        }
        let mut xs = Vec::with_capacity(widths.len());
        let mut x = MARGIN;
        for w in widths {
            xs.push(x);
            x += w + LAYER_GAP;
        }
        xs
    }

    fn height(&self, v: usize) -> f64 {
        match self.is_virtual(v) {
            true => 0.0,
            false => self.sizes[v].height,
        }
    }

    /// Least distance between the centres of `u` and `v` when `v` is drawn just below `u`.
    fn separation(&self, u: usize, v: usize) -> f64 {
        let gap = match self.is_virtual(u) || self.is_virtual(v) {
            true => VIRTUAL_GAP,
            false => NODE_GAP,
        };
        (self.height(u) + self.height(v)) / 2.0 + gap
    }

    /// Vertical centres: packed first, then pulled towards the neighbours' centres, layer by
    /// layer and alternately from each side, never changing the order or the gaps. Each round
    /// spends the graph's size from `budget`; out of it, the rounds stop.
    fn place(&self, budget: &mut Budget) -> Vec<f64> {
        let mut y = vec![0.0; self.layer.len()];
        for rank in &self.ranks {
            let Some(&first) = rank.first() else {
                continue;
            };
            let mut at = self.height(first) / 2.0;
            for (i, &v) in rank.iter().enumerate() {
                if i > 0 {
                    at += self.separation(rank[i - 1], v);
                }
                y[v] = at;
            }
        }
        for round in 0..PLACEMENT_ROUNDS {
            let last = round + 1 == PLACEMENT_ROUNDS;
            if budget.spend(2 * self.size()).is_err() {
                break;
            }
            for l in 0..self.ranks.len() {
                self.pull(l, &mut y, [true, last]);
            }
            for l in (0..self.ranks.len()).rev() {
                self.pull(l, &mut y, [last, true]);
            }
        }
        self.clear_groups(&mut y);
        let top = (0..self.layer.len())
            .map(|v| y[v] - self.height(v) / 2.0 - self.title_room(v))
            .fold(f64::INFINITY, f64::min);
        let shift = MARGIN - if top.is_finite() { top } else { 0.0 };
        y.iter().map(|c| c + shift).collect()
    }

    /// Room a node needs above it: a group member may be the top of its group's frame.
    fn title_room(&self, v: usize) -> f64 {
        match self.group[v] {
            Some(_) => GROUP_PAD + GROUP_TITLE,
            None => 0.0,
        }
    }

    /// Each group's members, and the layers they span.
    fn group_members(&self) -> Vec<(usize, Vec<usize>)> {
        let mut members: HashMap<usize, Vec<usize>> = HashMap::new();
        for (v, g) in self.group.iter().enumerate() {
            if let Some(g) = g {
                members.entry(*g).or_default().push(v);
            }
        }
        let mut members: Vec<(usize, Vec<usize>)> = members.into_iter().collect();
        members.sort_unstable();
        members
    }

    /// The band a group's frame covers vertically, and the layers it spans.
    fn band(&self, members: &[usize], y: &[f64]) -> (f64, f64, usize, usize) {
        let top = members
            .iter()
            .map(|&v| y[v] - self.height(v) / 2.0)
            .fold(f64::INFINITY, f64::min);
        let bottom = members
            .iter()
            .map(|&v| y[v] + self.height(v) / 2.0)
            .fold(f64::NEG_INFINITY, f64::max);
        let first = members.iter().map(|&v| self.layer[v]).min().unwrap_or(0);
        let last = members.iter().map(|&v| self.layer[v]).max().unwrap_or(0);
        (
            top - GROUP_PAD - GROUP_TITLE,
            bottom + GROUP_PAD,
            first,
            last,
        )
    }

    /// Moves every other node out of each group's band, in the layers the group spans: those
    /// ordered above the group's members go above it, the rest below, keeping their gaps.
    fn clear_groups(&self, y: &mut [f64]) {
        for (group, members) in self.group_members() {
            let (top, bottom, first, last) = self.band(&members, y);
            let middle = (top + bottom) / 2.0;
            for rank in &self.ranks[first..=last] {
                let inside = |v: usize| self.group[v] == Some(group);
                let split = match rank.iter().position(|&v| inside(v)) {
                    Some(at) => at,
                    None => rank.iter().take_while(|&&v| y[v] < middle).count(),
                };
                let mut limit = top - NODE_GAP;
                for &v in rank[..split].iter().rev().filter(|&&v| !inside(v)) {
                    y[v] = y[v].min(limit - self.height(v) / 2.0);
                    limit = y[v] - self.height(v) / 2.0 - NODE_GAP;
                }
                let mut limit = bottom + NODE_GAP;
                for &v in rank[split..].iter().filter(|&&v| !inside(v)) {
                    y[v] = y[v].max(limit + self.height(v) / 2.0);
                    limit = y[v] + self.height(v) / 2.0 + NODE_GAP;
                }
            }
        }
    }

    /// Each group's frame: around its members, with room for the title above.
    fn frames(&self, xs: &[f64], y: &[f64]) -> Vec<Frame> {
        self.group_members()
            .into_iter()
            .map(|(group, members)| {
                let (top, bottom, ..) = self.band(&members, y);
                let real = members.iter().filter(|&&v| !self.is_virtual(v));
                let (mut left, mut right) = (f64::INFINITY, f64::NEG_INFINITY);
                for &v in real {
                    left = left.min(xs[self.layer[v]]);
                    right = right.max(xs[self.layer[v]] + self.sizes[v].width);
                }
                Frame {
                    group,
                    x: left - GROUP_PAD,
                    y: top,
                    width: right - left + 2.0 * GROUP_PAD,
                    height: bottom - top,
                }
            })
            .collect()
    }

    /// Places layer `l` as close as the gaps allow to its neighbours (left and/or right).
    fn pull(&self, l: usize, y: &mut [f64], [use_left, use_right]: [bool; 2]) {
        let rank = &self.ranks[l];
        let targets: Vec<(f64, f64)> = rank
            .iter()
            .map(|&v| {
                let mut near: Vec<f64> = Vec::new();
                if use_left {
                    near.extend(self.left[v].iter().map(|&u| y[u]));
                }
                if use_right {
                    near.extend(self.right[v].iter().map(|&u| y[u]));
                }
                match near.len() {
                    0 => (y[v], 0.05),
                    k => {
                        let weight = if self.is_virtual(v) { 2.0 } else { 1.0 };
                        (near.iter().sum::<f64>() / k as f64, weight)
                    }
                }
            })
            .collect();
        let gaps: Vec<f64> = rank
            .windows(2)
            .map(|w| self.separation(w[0], w[1]))
            .collect();
        for (&v, placed) in rank.iter().zip(ordered_fit(&targets, &gaps)) {
            y[v] = placed;
        }
    }

    /// The points of the input edge `s → t`.
    fn route(&self, structure: &Structure, s: usize, t: usize, xs: &[f64], ys: &[f64]) -> Route {
        if s == t {
            return self.self_loop(s, xs, ys);
        }
        let (arc, reversed) = structure.index[&(s, t)];
        let (from, to) = structure.arcs[arc];
        let mut points = vec![[xs[self.layer[from]] + self.sizes[from].width, ys[from]]];
        for &v in &self.chains[arc] {
            let l = self.layer[v];
            let column = self.column_width(l, xs);
            points.push([xs[l], ys[v]]);
            points.push([xs[l] + column, ys[v]]);
        }
        points.push([xs[self.layer[to]], ys[to]]);
        if reversed {
            points.reverse();
        }
        Route { points, reversed }
    }

    fn column_width(&self, l: usize, xs: &[f64]) -> f64 {
        match xs.get(l + 1) {
            Some(next) => next - xs[l] - LAYER_GAP,
            None => 0.0,
        }
    }

    /// A loop above the node, out of its right side and back into its left.
    fn self_loop(&self, v: usize, xs: &[f64], ys: &[f64]) -> Route {
        let (x, y, size) = (xs[self.layer[v]], ys[v], self.sizes[v]);
        let above = y - size.height / 2.0 - NODE_GAP / 2.0;
        Route {
            points: vec![
                [x + size.width, y],
                [x + size.width, above],
                [x, above],
                [x, y],
            ],
            reversed: false,
        }
    }
}

/// Positions for items in a fixed order, each at least `gaps[i]` below the one before,
/// minimising the weighted squared distance to their (target, weight): an isotonic
/// regression (pool adjacent violators) on the targets with the gaps taken out.
fn ordered_fit(targets: &[(f64, f64)], gaps: &[f64]) -> Vec<f64> {
    let mut offsets = Vec::with_capacity(targets.len());
    let mut acc = 0.0;
    for i in 0..targets.len() {
        if i > 0 {
            acc += gaps[i - 1];
        }
        offsets.push(acc);
    }
    // Blocks of (weighted sum, weight, count), merged while out of order.
    let mut blocks: Vec<(f64, f64, usize)> = Vec::new();
    for (i, &(target, weight)) in targets.iter().enumerate() {
        blocks.push(((target - offsets[i]) * weight, weight, 1));
        while blocks.len() > 1 {
            let (s2, w2, c2) = blocks[blocks.len() - 1];
            let (s1, w1, c1) = blocks[blocks.len() - 2];
            if s1 / w1 <= s2 / w2 {
                break;
            }
            blocks.pop();
            let last = blocks.len() - 1;
            blocks[last] = (s1 + s2, w1 + w2, c1 + c2);
        }
    }
    let mut out = Vec::with_capacity(targets.len());
    for (sum, weight, count) in blocks {
        let level = sum / weight;
        for _ in 0..count {
            out.push(level + offsets[out.len()]);
        }
    }
    out
}

#[cfg(test)]
#[path = "layout_tests.rs"]
mod tests;
