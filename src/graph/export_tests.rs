//! Format negotiation, and rendering of graphs whose keys and names are hostile to every format.

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

use chrono::{DateTime, Utc};
use serde_json::json;

use super::*;

fn node(key: &str, kind: NodeKind, name: &str) -> Node {
    Node {
        key: key.to_owned(),
        kind,
        name: name.to_owned(),
        properties: json!({}),
        first_seen: DateTime::<Utc>::UNIX_EPOCH,
        last_seen: DateTime::<Utc>::UNIX_EPOCH,
    }
}

fn edge(source: &str, kind: EdgeKind, target: &str) -> Edge {
    Edge {
        source: source.to_owned(),
        target: target.to_owned(),
        kind,
        properties: json!({}),
        first_seen: DateTime::<Utc>::UNIX_EPOCH,
        last_seen: DateTime::<Utc>::UNIX_EPOCH,
    }
}

/// Keys (and names) with everything the three formats treat specially.
const NASTY: [&str; 6] = [
    "dataset:s3://bucket/dir with space/t#v1",
    "job:ns/\"quoted\" \\back\\slash\\",
    "run:ünïcödé:日本語:🦀\u{1}\t\r\nnext line",
    "op:<b>&amp;'apos'</b>:]]>:`tick`:%%{init: {\"theme\": \"dark\"}}%%",
    "attr:#quot;:#35;:style:x#35;y;:classDef c fill:#f00;",
    "field:ﬂ°lt¶ß:\u{2028}:\u{7f}:\u{FFFF}",
];

/// One node of every kind, keyed and named nastily, in a chain, plus an edge to a key that is
/// not in the node list.
fn nasty_graph() -> (Vec<Node>, Vec<Edge>) {
    let nodes: Vec<Node> = NASTY
        .iter()
        .zip(NodeKind::ALL)
        .map(|(key, kind)| node(key, kind, &format!("name of {key}")))
        .collect();
    let kinds = [
        EdgeKind::Input,
        EdgeKind::RunOf,
        EdgeKind::HasOperation,
        EdgeKind::Produces,
        EdgeKind::Derives,
    ];
    let mut edges: Vec<Edge> = NASTY
        .windows(2)
        .zip(kinds)
        .map(|(pair, kind)| edge(pair[0], kind, pair[1]))
        .collect();
    edges.push(edge(NASTY[1], EdgeKind::Output, "dataset:missing\"\\"));
    (nodes, edges)
}

/// A dataset read by a job that writes another dataset.
fn small_graph() -> (Vec<Node>, Vec<Edge>) {
    let nodes = vec![
        node("dataset:a", NodeKind::Dataset, "a"),
        node("job:j", NodeKind::Job, "j"),
        node("dataset:b", NodeKind::Dataset, "b"),
    ];
    let edges = vec![
        edge("dataset:a", EdgeKind::Input, "job:j"),
        edge("job:j", EdgeKind::Output, "dataset:b"),
    ];
    (nodes, edges)
}

// ---- Format names and negotiation ----

#[test]
fn format_names_parse_case_insensitively() {
    for format in Format::ALL {
        assert_eq!(Format::parse(format.name()), Some(format));
        assert_eq!(Format::parse(&format.name().to_uppercase()), Some(format));
    }
    assert_eq!(Format::parse("GraphML"), Some(Format::GraphMl));
    assert_eq!(Format::parse("svg"), None);
    assert_eq!(Format::parse(""), None);
    assert_eq!(Format::parse(" dot"), None);
}

#[test]
fn media_types_are_what_clients_ask_for() {
    assert_eq!(Format::Json.media_type(), "application/json");
    assert_eq!(Format::Dot.media_type(), "text/vnd.graphviz; charset=utf-8");
    assert_eq!(
        Format::Mermaid.media_type(),
        "text/vnd.mermaid; charset=utf-8"
    );
    assert_eq!(Format::GraphMl.media_type(), "application/graphml+xml");
    for format in Format::ALL {
        assert_eq!(Format::from_accept(format.media_type()), Some(format));
    }
}

#[test]
fn accept_names_each_format_exactly() {
    let cases = [
        ("application/json", Format::Json),
        ("text/vnd.graphviz", Format::Dot),
        ("text/vnd.mermaid", Format::Mermaid),
        ("text/x-mermaid", Format::Mermaid),
        ("application/graphml+xml", Format::GraphMl),
        ("Application/JSON", Format::Json),
        ("TEXT/VND.GRAPHVIZ;charset=UTF-8", Format::Dot),
    ];
    for (accept, format) in cases {
        assert_eq!(Format::from_accept(accept), Some(format), "{accept}");
    }
}

#[test]
fn accept_honours_q_values() {
    let cases = [
        ("application/json;q=0.5, text/vnd.graphviz", Format::Dot),
        (
            "text/vnd.graphviz;q=0.2, application/graphml+xml;q=0.9, text/x-mermaid;q=0.5",
            Format::GraphMl,
        ),
        (
            "text/vnd.graphviz ; Q=0.3 , application/json ; q=0.25",
            Format::Dot,
        ),
        ("text/vnd.mermaid;q=0.001, text/html", Format::Mermaid),
        ("application/json;q=1.000;level=1", Format::Json),
    ];
    for (accept, format) in cases {
        assert_eq!(Format::from_accept(accept), Some(format), "{accept}");
    }
}

#[test]
fn accept_q_zero_rules_a_format_out() {
    assert_eq!(Format::from_accept("text/vnd.graphviz;q=0"), None);
    assert_eq!(Format::from_accept("application/json;q=0.000"), None);
    // The most specific range decides, even against a broader range that allows it.
    assert_eq!(
        Format::from_accept("*/*, application/json;q=0"),
        Some(Format::Dot)
    );
    assert_eq!(
        Format::from_accept("text/*;q=0, */*;q=0.1, text/vnd.mermaid;q=0.5"),
        Some(Format::Mermaid)
    );
}

#[test]
fn accept_wildcards_fall_back_to_server_order() {
    let cases = [
        ("*/*", Format::Json),
        ("text/*", Format::Dot),
        ("application/*", Format::Json),
        ("text/html, */*;q=0.8", Format::Json),
        ("*/*;q=0.1, text/*;q=0.5", Format::Dot),
    ];
    for (accept, format) in cases {
        assert_eq!(Format::from_accept(accept), Some(format), "{accept}");
    }
}

#[test]
fn accept_prefers_exact_matches_then_client_order() {
    let cases = [
        ("text/*, text/vnd.mermaid", Format::Mermaid),
        ("*/*, application/graphml+xml", Format::GraphMl),
        ("text/vnd.mermaid, text/vnd.graphviz", Format::Mermaid),
        ("text/vnd.graphviz, text/vnd.mermaid", Format::Dot),
        // Quality still beats specificity.
        ("text/vnd.mermaid;q=0.4, text/*", Format::Dot),
    ];
    for (accept, format) in cases {
        assert_eq!(Format::from_accept(accept), Some(format), "{accept}");
    }
}

#[test]
fn accept_without_an_offered_type_is_none() {
    let cases = [
        "text/html",
        "image/png, text/plain;q=0.5",
        "application/xml",
        "garbage",
        "*/json",
        ",,",
        "text/vnd.graphviz;q=2",
        "text/vnd.graphviz;q=abc",
        "text/vnd.graphviz;q=0.5555",
        "text/vnd.graphviz;q=-0",
    ];
    for accept in cases {
        assert_eq!(Format::from_accept(accept), None, "{accept}");
    }
}

#[test]
fn malformed_ranges_are_skipped_not_fatal() {
    assert_eq!(
        Format::from_accept("garbage, text/vnd.graphviz;q=2, text/x-mermaid"),
        Some(Format::Mermaid)
    );
}

#[test]
fn blank_accept_means_anything() {
    assert_eq!(Format::from_accept(""), Some(Format::Json));
    assert_eq!(Format::from_accept("  "), Some(Format::Json));
}

// ---- DOT ----

#[test]
fn dot_renders_a_digraph_in_input_order() {
    let (nodes, edges) = small_graph();
    let expected = r#"digraph lineage {
  rankdir=LR;
  "dataset:a" [label="a\n(dataset)", shape=cylinder];
  "job:j" [label="j\n(job)", shape=box, style=rounded];
  "dataset:b" [label="b\n(dataset)", shape=cylinder];
  "dataset:a" -> "job:j" [label="input"];
  "job:j" -> "dataset:b" [label="output"];
}
"#;
    assert_eq!(dot(&nodes, &edges), expected);
}

#[test]
fn dot_tells_kinds_apart_and_counts_match() {
    let (nodes, edges) = nasty_graph();
    let text = dot(&nodes, &edges);
    let shapes = [
        "shape=cylinder]",
        "shape=box, style=rounded]",
        "shape=ellipse]",
        "shape=component]",
        "shape=hexagon]",
        "shape=parallelogram]",
    ];
    for shape in shapes {
        assert_eq!(text.matches(shape).count(), 1, "{shape}");
    }
    // Every node and edge is one line: no raw newline from a key leaks into the text.
    assert_eq!(
        text.lines().count(),
        2 + (nodes.len() + 1) + edges.len() + 1
    );
    assert_eq!(text.matches(" -> ").count(), edges.len());
}

#[test]
fn dot_escapes_quotes_backslashes_and_line_breaks() {
    let (nodes, edges) = nasty_graph();
    let text = dot(&nodes, &edges);
    assert!(text.contains(r#"  "job:ns/\"quoted\" \\back\\slash\\" [label="name of job:ns/\"quoted\" \\back\\slash\\\n(job)""#));
    assert!(text.contains("\"run:ünïcödé:日本語:🦀\u{FFFD}\t\\r\\nnext line\""));
    assert!(text.contains(
        r#"  "dataset:missing\"\\" [label="dataset:missing\"\\", shape=box, style=dashed];"#
    ));
    assert!(text.contains("\"field:ﬂ°lt¶ß:\u{2028}:\u{FFFD}:\u{FFFD}\""));
    assert_eq!(dot_string("a\\nb\nc"), r#""a\\nb\nc""#);
    assert_eq!(dot_string("\0"), "\"\u{FFFD}\"");
}

/// Runs an external program with `input` on stdin. Fails loudly, naming the Debian package,
/// when the program is missing: a skipped check would pass CI without checking anything.
fn run_tool(program: &str, args: &[&str], input: &str, package: &str) -> Output {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "this test needs `{program}`, which could not be started ({e}): \
                 install the Debian package `{package}` (apt-get install -y {package})"
            )
        });
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let input = input.to_owned();
    // Write from another thread so a tool that answers while reading cannot deadlock us.
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child.wait_with_output().expect("waiting for the tool");
    writer
        .join()
        .expect("writer thread")
        .expect("writing the tool's input");
    output
}

#[test]
fn graphviz_renders_the_dot_of_a_nasty_graph() {
    let (nodes, edges) = nasty_graph();
    let output = run_tool("dot", &["-Tsvg"], &dot(&nodes, &edges), "graphviz");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "dot -Tsvg failed: {stderr}");
    // Graphviz exits 0 on unknown shapes or attributes, but says so on stderr.
    assert!(stderr.is_empty(), "dot -Tsvg warned: {stderr}");
    let svg = String::from_utf8(output.stdout).expect("SVG is UTF-8");
    assert_eq!(svg.matches("class=\"node\"").count(), nodes.len() + 1);
    assert_eq!(svg.matches("class=\"edge\"").count(), edges.len());
    assert!(svg.contains("日本語:🦀"));
    // Graphviz copies label text into the SVG, so what XML cannot carry must not reach it.
    let invalid = |c: char| (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || c == '\u{FFFF}';
    assert!(!svg.contains(invalid), "SVG carries characters XML forbids");
}

// ---- Mermaid ----

#[test]
fn mermaid_renders_a_flowchart_with_positional_ids() {
    let (nodes, edges) = small_graph();
    let expected = r#"flowchart LR
  n0[("a<br>(dataset)")]
  n1(["j<br>(job)"])
  n2[("b<br>(dataset)")]
  n0 -->|input| n1
  n1 -->|output| n2
"#;
    assert_eq!(mermaid(&nodes, &edges), expected);
}

#[test]
fn mermaid_tells_kinds_apart_and_counts_match() {
    let (nodes, edges) = nasty_graph();
    let text = mermaid(&nodes, &edges);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1 + (nodes.len() + 1) + edges.len());
    let openings = [
        "n0[(\"", "n1([\"", "n2(\"", "n3[[\"", "n4{{\"", "n5[/\"", "n6[\"",
    ];
    for (line, opening) in lines[1..].iter().zip(openings) {
        assert!(line.starts_with(&format!("  {opening}")), "{line}");
    }
    assert_eq!(text.matches(" -->|").count(), edges.len());
    assert!(text.contains("  n1 -->|output| n6\n"));
}

#[test]
fn mermaid_labels_are_escaped() {
    let (nodes, edges) = nasty_graph();
    let text = mermaid(&nodes, &edges);
    for line in text.lines().skip(1).take(nodes.len() + 1) {
        let (_, rest) = line.split_once('"').expect("label is quoted");
        let (label, _) = rest.rsplit_once('"').expect("label is closed");
        assert!(!label.contains('"'), "raw quote in {label}");
        assert!(!label.contains("%%"), "directive marker in {label}");
        let markup = label.replace("<br>", "");
        assert!(!markup.contains(['<', '>']), "raw markup in {label}");
        // Every `#` must start one of our entity codes.
        for (i, _) in label.match_indices('#') {
            let code = label[i + 1..].split(';').next().unwrap();
            assert!(
                code == "quot" || code.parse::<u32>().is_ok(),
                "stray # in {label}"
            );
        }
    }
    assert!(text.contains(r#"name of job:ns/#quot;quoted#quot; \back\slash\<br>(job)"#));
    assert!(text.contains("op:#60;b#62;#38;amp;'apos'#60;/b#62;:]]#62;:#96;tick#96;:#37;#37;{init: {#quot;theme#quot;: #quot;dark#quot;}}#37;#37;"));
    assert!(text.contains(
        "attr#58;#35;quot;#58;#35;35;#58;style#58;x#35;35;y;#58;classDef c fill#58;#35;f00;"
    ));
    assert!(text.contains("field:#64258;°lt#182;ß:<br>:\u{FFFD}:\u{FFFD}"));
    assert!(text.contains("🦀\u{FFFD} <br>next line"));
}

#[test]
fn mermaid_guards_colons_only_where_style_rewrites_apply() {
    assert_eq!(mermaid_text("s3://b/t"), "s3://b/t");
    assert_eq!(mermaid_text("style:x#1;"), "style#58;x#35;1;");
    assert_eq!(mermaid_text("a\r\nb\nc"), "a<br>b<br>c");
}

// ---- GraphML ----

#[test]
fn graphml_declares_keys_and_numbers_nodes() {
    let (nodes, edges) = small_graph();
    let text = graphml(&nodes, &edges);
    assert!(text.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<graphml "));
    for declaration in [
        r#"<key id="node_key" for="node" attr.name="key" attr.type="string"/>"#,
        r#"<key id="node_kind" for="node" attr.name="kind" attr.type="string"/>"#,
        r#"<key id="node_name" for="node" attr.name="name" attr.type="string"/>"#,
        r#"<key id="edge_kind" for="edge" attr.name="kind" attr.type="string"/>"#,
    ] {
        assert!(text.contains(declaration), "{declaration}");
    }
    assert!(text.contains(r#"<node id="n1"><data key="node_key">job:j</data><data key="node_kind">job</data><data key="node_name">j</data></node>"#));
    assert!(text.contains(
        r#"<edge id="e1" source="n1" target="n2"><data key="edge_kind">output</data></edge>"#
    ));
    assert!(text.ends_with("  </graph>\n</graphml>\n"));
}

/// Reverses [`xml_escape`]: the five named entities and decimal character references.
fn xml_unescape(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let semi = rest[amp..].find(';').expect("entity is terminated") + amp;
        let entity = &rest[amp + 1..semi];
        let c = match entity {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let code = entity.strip_prefix('#').expect("known entity");
                char::from_u32(code.parse().expect("decimal reference")).expect("a char")
            }
        };
        out.push(c);
        rest = &rest[semi + 1..];
    }
    out.push_str(rest);
    out
}

/// The unescaped contents of every `<data key="{key}">`.
fn data_values(text: &str, key: &str) -> Vec<String> {
    let open = format!("<data key=\"{key}\">");
    text.split(&open)
        .skip(1)
        .map(|s| xml_unescape(s.split("</data>").next().unwrap()))
        .collect()
}

#[test]
fn graphml_escapes_text_and_keeps_keys_intact() {
    let (nodes, edges) = nasty_graph();
    let text = graphml(&nodes, &edges);
    assert_eq!(text.matches("<node ").count(), nodes.len() + 1);
    assert_eq!(text.matches("<edge ").count(), edges.len());
    // Escaped text carries no markup characters and no raw line breaks.
    for value in text.split("<data key=").skip(1) {
        let raw = value
            .split_once('>')
            .unwrap()
            .1
            .split("</data>")
            .next()
            .unwrap();
        assert!(!raw.contains(['<', '>', '"', '\'', '\r', '\n']), "{raw}");
    }
    let mut expected: Vec<String> = NASTY.iter().map(|k| xml_safe(k)).collect();
    expected.push("dataset:missing\"\\".to_owned());
    assert_eq!(data_values(&text, "node_key"), expected);
    let kinds: Vec<&str> = NodeKind::ALL.iter().map(|k| k.as_str()).collect();
    assert_eq!(data_values(&text, "node_kind"), kinds);
    assert_eq!(data_values(&text, "edge_kind")[5], "output");
}

/// What survives XML: characters it cannot carry become U+FFFD.
fn xml_safe(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => c,
            c if c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}' => '\u{FFFD}',
            c => c,
        })
        .collect()
}

#[test]
fn xmllint_finds_the_graphml_of_a_nasty_graph_well_formed() {
    let (nodes, edges) = nasty_graph();
    let text = graphml(&nodes, &edges);
    let output = run_tool("xmllint", &["--noout", "-"], &text, "libxml2-utils");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "xmllint rejected the GraphML: {stderr}\n{text}"
    );
    let count = |xpath: &str| {
        let output = run_tool("xmllint", &["--xpath", xpath, "-"], &text, "libxml2-utils");
        String::from_utf8(output.stdout).expect("UTF-8")
    };
    let nodes_xml = count("count(//*[local-name()='node'])");
    let edges_xml = count("count(//*[local-name()='edge'])");
    assert_eq!(nodes_xml.trim(), (nodes.len() + 1).to_string());
    assert_eq!(edges_xml.trim(), edges.len().to_string());
}

// ---- Shared rules ----

#[test]
fn empty_graphs_render() {
    let none: &[Node] = &[];
    assert_eq!(dot(none, &[]), "digraph lineage {\n  rankdir=LR;\n}\n");
    assert_eq!(mermaid(none, &[]), "flowchart LR\n");
    assert!(
        graphml(none, &[]).contains("<graph id=\"lineage\" edgedefault=\"directed\">\n  </graph>")
    );
}

#[test]
fn repeated_keys_are_drawn_once_and_blank_names_show_the_key() {
    let nodes = vec![
        node("dataset:a", NodeKind::Dataset, " "),
        node("dataset:a", NodeKind::Dataset, "again"),
    ];
    let edges = vec![edge("dataset:a", EdgeKind::Derives, "dataset:a")];
    assert_eq!(
        mermaid(&nodes, &edges),
        "flowchart LR\n  n0[(\"dataset:a<br>(dataset)\")]\n  n0 -->|derives| n0\n"
    );
    assert_eq!(dot(&nodes, &edges).matches("[label=").count(), 2);
    assert_eq!(graphml(&nodes, &edges).matches("<node ").count(), 1);
}
