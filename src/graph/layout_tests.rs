use super::*;

const BOX: Size = Size {
    width: 100.0,
    height: 30.0,
};

fn sizes(n: usize) -> Vec<Size> {
    vec![BOX; n]
}

fn drawn(n: usize, edges: &[(usize, usize)]) -> Drawing {
    draw(Graph {
        sizes: &sizes(n),
        edges,
        groups: &[],
    })
}

/// Crossings of the proper layered graph (virtual nodes included) after ordering.
fn crossings(n: usize, edges: &[(usize, usize)]) -> usize {
    let sizes = sizes(n);
    let structure = Structure::of(n, edges);
    let layers = layers(n, &structure.arcs);
    let mut layered = Layered::new(&sizes, &layers, &structure.arcs, &[]);
    layered.order(&mut Budget::unlimited());
    layered.crossings(&layered.positions())
}

/// Six sources each read by one job, in scrambled order, each job writing its own dataset:
/// a drawing without a crossing exists.
fn scrambled_matching() -> (usize, Vec<(usize, usize)>) {
    let perm = [3, 0, 5, 1, 4, 2];
    let mut edges = Vec::new();
    for (s, &j) in perm.iter().enumerate() {
        edges.push((s, 6 + j));
        edges.push((6 + j, 12 + (5 - j)));
    }
    (18, edges)
}

#[test]
fn graphs_that_can_be_drawn_without_crossings_are() {
    let tree = vec![(0, 1), (0, 2), (1, 3), (1, 4), (2, 5), (2, 6), (5, 7)];
    let diamond = vec![(0, 1), (0, 2), (1, 3), (2, 3), (3, 4)];
    // Two pipelines whose inputs are listed crosswise, with a long edge skipping a stage.
    let pipelines = vec![(0, 5), (1, 4), (4, 2), (5, 3), (2, 6), (3, 7), (0, 7)];
    let (n, matching) = scrambled_matching();
    for (name, n, edges) in [
        ("tree", 8, tree),
        ("diamond", 5, diamond),
        ("pipelines", 8, pipelines),
        ("matching", n, matching),
    ] {
        assert_eq!(crossings(n, &edges), 0, "{name}");
    }
}

#[test]
fn unavoidable_crossings_are_kept_to_the_minimum() {
    // K(2,2) between two layers crosses once however it is drawn; a third, separate chain
    // must not add any.
    let edges = vec![(0, 2), (0, 3), (1, 2), (1, 3), (4, 5)];
    assert_eq!(crossings(6, &edges), 1);
}

#[test]
fn layers_follow_the_direction_of_data() {
    let edges = vec![(0, 1), (1, 2), (0, 3), (3, 2), (2, 4), (5, 4)];
    let d = drawn(6, &edges);
    for &(s, t) in &edges {
        assert!(d.nodes[s].layer < d.nodes[t].layer, "{s} -> {t}");
        assert!(d.nodes[s].x < d.nodes[t].x, "{s} -> {t}");
    }
    // A source read late is pulled next to its reader, not left in column 0.
    assert_eq!(d.nodes[5].layer, d.nodes[4].layer - 1);
}

#[test]
fn cycles_are_broken_by_turning_as_few_edges_as_possible() {
    let edges = vec![(0, 1), (1, 2), (2, 0), (2, 3)];
    let d = drawn(4, &edges);
    let reversed: Vec<usize> = (0..edges.len()).filter(|&i| d.edges[i].reversed).collect();
    assert_eq!(reversed.len(), 1, "{:?}", d.edges);
    for (i, &(s, t)) in edges.iter().enumerate() {
        let (from, to) = if d.edges[i].reversed { (t, s) } else { (s, t) };
        assert!(d.nodes[from].layer < d.nodes[to].layer);
    }
}

#[test]
fn the_same_graph_gives_the_same_drawing() {
    let (n, edges) = scrambled_matching();
    assert_eq!(drawn(n, &edges), drawn(n, &edges));
}

#[test]
fn nodes_of_a_layer_never_overlap() {
    let (n, mut edges) = scrambled_matching();
    edges.extend([(0, 7), (1, 7), (2, 7), (0, 13)]);
    let d = drawn(n, &edges);
    for a in 0..n {
        for b in a + 1..n {
            let (p, q) = (d.nodes[a], d.nodes[b]);
            if p.layer == q.layer {
                let apart = (p.y - q.y).abs();
                assert!(
                    apart >= BOX.height + NODE_GAP - 1e-6,
                    "{a} and {b}: {apart}"
                );
            }
        }
    }
    assert!(d.width > 0.0 && d.height > 0.0);
}

#[test]
fn edges_run_from_the_right_side_of_the_source_to_the_left_side_of_the_target() {
    // 0 -> 3 skips two layers and passes through them on virtual nodes.
    let edges = vec![(0, 1), (1, 2), (2, 3), (0, 3)];
    let d = drawn(4, &edges);
    for (i, &(s, t)) in edges.iter().enumerate() {
        let points = &d.edges[i].points;
        let (src, dst) = (d.nodes[s], d.nodes[t]);
        assert_eq!(points[0], [src.x + BOX.width, src.y + BOX.height / 2.0]);
        assert_eq!(points[points.len() - 1], [dst.x, dst.y + BOX.height / 2.0]);
        assert!(points.windows(2).all(|w| w[0][0] <= w[1][0]), "{points:?}");
    }
    assert_eq!(d.edges[3].points.len(), 2 + 2 * 2);
}

#[test]
fn a_chain_is_drawn_straight() {
    let d = drawn(3, &[(0, 1), (1, 2)]);
    assert!(d.nodes.iter().all(|p| (p.y - d.nodes[0].y).abs() < 1e-6));
}

#[test]
fn group_members_stay_together_in_every_layer() {
    // Node 2 and 3 belong to one group (a job's operations); 1 would sit between them.
    let edges = vec![(0, 2), (0, 1), (0, 3), (2, 4), (1, 4), (3, 4)];
    let groups = [None, None, Some(7), Some(7), None];
    let d = draw(Graph {
        sizes: &sizes(5),
        edges: &edges,
        groups: &groups,
    });
    let (y1, y2, y3) = (d.nodes[1].y, d.nodes[2].y, d.nodes[3].y);
    assert!(!(y2.min(y3) < y1 && y1 < y2.max(y3)), "{y1} {y2} {y3}");
    // The frame holds both members and nothing else.
    let [frame] = d.groups[..] else {
        panic!("{:?}", d.groups)
    };
    assert_eq!(frame.group, 7);
    let inside = |p: &Placement| {
        p.x < frame.x + frame.width
            && p.x + BOX.width > frame.x
            && p.y < frame.y + frame.height
            && p.y + BOX.height > frame.y
    };
    let held: Vec<usize> = (0..5).filter(|&v| inside(&d.nodes[v])).collect();
    assert_eq!(held, vec![2, 3], "{frame:?} {:?}", d.nodes);
    assert!(frame.y + frame.height <= d.height && frame.y >= 0.0);
}

#[test]
fn self_loops_and_repeated_edges_are_drawn() {
    let edges = vec![(0, 1), (0, 1), (1, 1)];
    let d = drawn(2, &edges);
    assert_eq!(d.edges[0], d.edges[1]);
    assert_eq!(d.edges[2].points.len(), 4);
}

#[test]
fn an_empty_graph_is_an_empty_drawing() {
    let d = drawn(0, &[]);
    assert!(d.nodes.is_empty() && d.edges.is_empty());
}

#[test]
fn ordered_fit_meets_targets_it_can_and_keeps_the_gaps() {
    let free = ordered_fit(&[(0.0, 1.0), (100.0, 1.0)], &[10.0]);
    assert_eq!(free, vec![0.0, 100.0]);
    // Both want 50: they share the difference, 10 apart.
    let packed = ordered_fit(&[(50.0, 1.0), (50.0, 1.0)], &[10.0]);
    assert_eq!(packed, vec![45.0, 55.0]);
    let swapped = ordered_fit(&[(60.0, 1.0), (40.0, 1.0), (50.0, 1.0)], &[10.0, 10.0]);
    assert!(swapped[1] - swapped[0] >= 10.0 - 1e-9 && swapped[2] - swapped[1] >= 10.0 - 1e-9);
}

#[test]
fn a_two_thousand_node_lineage_graph_is_laid_out_whole() {
    // 20 stages of 50 datasets, each job reading two datasets of earlier stages.
    let (stages, width) = (20, 50);
    let mut edges = Vec::new();
    let dataset = |stage: usize, i: usize| stage * width + i;
    let jobs = stages * width;
    let mut n = jobs;
    for stage in 1..stages {
        for i in 0..width {
            let job = n;
            n += 1;
            let back = 1 + (i * 7 + stage) % stage.min(3);
            edges.push((dataset(stage - 1, (i * 13) % width), job));
            edges.push((dataset(stage - back, (i * 31 + 5) % width), job));
            edges.push((job, dataset(stage, i)));
        }
    }
    let d = drawn(n, &edges);
    assert_eq!(d.nodes.len(), n);
    assert!(n > 1900, "{n}");
    for (i, &(s, t)) in edges.iter().enumerate() {
        assert!(!d.edges[i].reversed);
        assert!(d.nodes[s].layer < d.nodes[t].layer);
    }
}

/// A chain of `n` nodes, and an edge from the first to every other: the edge to node k
/// spans k layers.
fn fan_over_a_chain(n: usize) -> Vec<(usize, usize)> {
    let mut edges: Vec<(usize, usize)> = (1..n).map(|v| (v - 1, v)).collect();
    edges.extend((2..n).map(|v| (0, v)));
    edges
}

#[test]
fn a_graph_needing_too_many_bends_is_not_drawn() {
    let edges = fan_over_a_chain(50);
    let graph = Graph {
        sizes: &sizes(50),
        edges: &edges,
        groups: &[],
    };
    // The edge to node k bends k - 1 times: 1 + 2 + ... + 48.
    let needed = 48 * 49 / 2;
    let refused = draw_within(graph, needed - 1, &mut Budget::unlimited());
    assert_eq!(refused.unwrap_err(), needed);
    let drawn = draw_within(graph, needed, &mut Budget::unlimited()).unwrap();
    assert_eq!(drawn.edges.len(), edges.len());
}

#[test]
fn out_of_steps_the_layout_stops_improving_but_still_draws_everything() {
    let edges = fan_over_a_chain(30);
    let graph = Graph {
        sizes: &sizes(30),
        edges: &edges,
        groups: &[],
    };
    let mut budget = Budget::new(0, None);
    let drawing = draw_within(graph, usize::MAX, &mut budget).unwrap();
    assert!(budget.exhausted().is_some());
    assert_eq!(drawing.nodes.len(), 30);
    assert_eq!(drawing.edges.len(), edges.len());
    // Layers still run left to right, and no two nodes of a layer overlap.
    for (s, t) in (1..30).map(|v| (v - 1, v)) {
        assert!(drawing.nodes[s].x < drawing.nodes[t].x);
    }
    let mut by_layer: HashMap<usize, Vec<f64>> = HashMap::new();
    for p in &drawing.nodes {
        by_layer.entry(p.layer).or_default().push(p.y);
    }
    for ys in by_layer.values_mut() {
        ys.sort_by(f64::total_cmp);
        assert!(ys.windows(2).all(|w| w[1] - w[0] >= BOX.height), "{ys:?}");
    }
}
