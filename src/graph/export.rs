//! Renders a lineage subgraph as Graphviz DOT, Mermaid or GraphML text.
//!
//! Lineage answers are JSON by default, but people want to *look* at them: paste DOT into
//! Graphviz, Mermaid into a Markdown page, GraphML into yEd or Gephi. Rendering is pure (text in,
//! text out) so HTTP handlers only pick a [`Format`] and set the Content-Type.
//!
//! Node keys are arbitrary text (`:`, `/`, `#`, quotes, backslashes, newlines, any Unicode), so
//! every format escapes by its own rules:
//! - DOT uses the keys themselves as node ids, quoted; DOT has no escape for a lone backslash,
//!   so ids keep backslashes doubled and newlines as `\n`, while labels show the real text.
//! - Mermaid and GraphML need identifier-shaped ids (GraphML's are XML `ID`s), so nodes become
//!   `n0`, `n1`, … in input order; GraphML carries the key in a `key` data field.
//!
//! | kind      | DOT shape           | Mermaid shape       |
//! |-----------|---------------------|---------------------|
//! | dataset   | cylinder            | `[(…)]` cylinder    |
//! | job       | rounded box         | `([…])` stadium     |
//! | run       | ellipse             | `(…)` rounded box   |
//! | operation | component           | `[[…]]` subroutine  |
//! | attribute | hexagon             | `{{…}}` hexagon     |
//! | field     | parallelogram       | `[/…/]` parallelogram |
//!
//! Output follows input order, so the same answer always renders to the same text. An edge
//! endpoint missing from the node list is still drawn (as a plain node labelled with its key),
//! so no edge is silently dropped; a key listed twice is drawn once, at its first position.

use std::cmp::Reverse;
use std::collections::HashMap;

use crate::model::{Edge, EdgeKind, Node, NodeKind};

/// Output formats a lineage subgraph can be rendered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// The service's native JSON (rendered by the handler with serde, not here).
    Json,
    /// Graphviz DOT.
    Dot,
    /// A Mermaid flowchart.
    Mermaid,
    /// GraphML, the XML graph exchange format.
    GraphMl,
}

impl Format {
    /// Every format, in the server's order of preference (the tie-breaker in negotiation).
    pub const ALL: [Format; 4] = [Format::Json, Format::Dot, Format::Mermaid, Format::GraphMl];

    /// The name used in the `format=` query parameter.
    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Dot => "dot",
            Format::Mermaid => "mermaid",
            Format::GraphMl => "graphml",
        }
    }

    /// From a `format=` query value (json|dot|mermaid|graphml, case-insensitive).
    pub fn parse(name: &str) -> Option<Format> {
        Format::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(name))
    }

    /// From an `Accept` header value, following RFC 9110 §12.5.1: the most specific matching
    /// media range sets a format's quality, `q=0` rules it out, and among equals the more
    /// specific match wins, then the range listed first, then [`Format::ALL`] order. A blank
    /// header accepts anything (JSON); `None` when nothing offered is acceptable.
    pub fn from_accept(accept: &str) -> Option<Format> {
        if accept.trim().is_empty() {
            return Some(Format::Json);
        }
        let ranges: Vec<MediaRange<'_>> = accept.split(',').filter_map(MediaRange::parse).collect();
        Format::ALL
            .into_iter()
            .filter_map(|f| Some((f, f.preference(&ranges)?)))
            .filter(|(_, p)| p.quality > 0)
            .min_by_key(|(_, p)| p.rank())
            .map(|(f, _)| f)
    }

    /// The Content-Type to answer with. Text types name their charset because `text/*`
    /// defaults to ASCII in older clients, and labels are UTF-8.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Dot => "text/vnd.graphviz; charset=utf-8",
            Format::Mermaid => "text/vnd.mermaid; charset=utf-8",
            Format::GraphMl => "application/graphml+xml",
        }
    }

    /// The media types a client may ask for this format by.
    fn accepted_types(self) -> &'static [&'static str] {
        match self {
            Format::Json => &["application/json"],
            Format::Dot => &["text/vnd.graphviz"],
            Format::Mermaid => &["text/vnd.mermaid", "text/x-mermaid"],
            Format::GraphMl => &["application/graphml+xml"],
        }
    }

    /// How much the client wants this format: set by the most specific range that matches it
    /// (the first such range on a tie), `None` when no range matches.
    fn preference(self, ranges: &[MediaRange<'_>]) -> Option<Preference> {
        ranges
            .iter()
            .enumerate()
            .filter_map(|(position, range)| {
                let specificity = self
                    .accepted_types()
                    .iter()
                    .filter_map(|t| range.specificity(t))
                    .max()?;
                Some(Preference {
                    quality: range.quality,
                    specificity,
                    position,
                })
            })
            .min_by_key(|p| (Reverse(p.specificity), p.position))
    }
}

/// How a format fared against an Accept header.
#[derive(Debug, Clone, Copy)]
struct Preference {
    /// q-value in thousandths.
    quality: u16,
    /// 2 for an exact media type, 1 for `type/*`, 0 for `*/*`.
    specificity: u8,
    /// Index of the deciding range in the header.
    position: usize,
}

impl Preference {
    /// Sort key: smallest is best.
    fn rank(self) -> (Reverse<u16>, Reverse<u8>, usize) {
        (
            Reverse(self.quality),
            Reverse(self.specificity),
            self.position,
        )
    }
}

/// One `type/subtype;params` element of an Accept header.
#[derive(Debug, Clone, Copy)]
struct MediaRange<'a> {
    kind: &'a str,
    subtype: &'a str,
    /// q-value in thousandths.
    quality: u16,
}

impl<'a> MediaRange<'a> {
    /// Parses one element; malformed ones (no `/`, a bad q-value) are ignored rather than
    /// failing the whole header, as a lenient server should.
    fn parse(element: &'a str) -> Option<MediaRange<'a>> {
        let mut parts = element.split(';');
        let (kind, subtype) = parts.next()?.trim().split_once('/')?;
        let (kind, subtype) = (kind.trim(), subtype.trim());
        if kind.is_empty() || subtype.is_empty() || (kind == "*" && subtype != "*") {
            return None;
        }
        let quality = match parts.find_map(q_param) {
            Some(q) => parse_quality(q)?,
            None => 1000,
        };
        Some(MediaRange {
            kind,
            subtype,
            quality,
        })
    }

    /// How specifically this range names `media_type`; `None` when it does not match.
    fn specificity(&self, media_type: &str) -> Option<u8> {
        let (kind, subtype) = media_type.split_once('/')?;
        if self.kind == "*" {
            Some(0)
        } else if !self.kind.eq_ignore_ascii_case(kind) {
            None
        } else if self.subtype == "*" {
            Some(1)
        } else {
            self.subtype.eq_ignore_ascii_case(subtype).then_some(2)
        }
    }
}

/// The value of a `q=` parameter.
fn q_param(param: &str) -> Option<&str> {
    let (name, value) = param.split_once('=')?;
    name.trim().eq_ignore_ascii_case("q").then(|| value.trim())
}

/// A q-value (`0`, `1`, or either with up to three decimals, RFC 9110 §12.4.2) in
/// thousandths; `None` when it breaks that grammar, so integer maths replaces float rounding.
fn parse_quality(value: &str) -> Option<u16> {
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = fraction.bytes().chain(std::iter::repeat(b'0')).take(3);
    let thousandths = digits.fold(0, |acc, b| acc * 10 + u16::from(b - b'0'));
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// What a renderer draws: every node once, plus edge endpoints missing from the node list,
/// with edges resolved to positions so ids can be positional.
struct Drawing<'a, P> {
    vertices: Vec<Vertex<'a, P>>,
    links: Vec<Link>,
}

/// A node to draw.
#[derive(Debug, Clone, Copy)]
enum Vertex<'a, P> {
    /// A node from the node list.
    Known(&'a Node<P>),
    /// An edge endpoint that the node list lacks: only its key is known.
    Dangling(&'a str),
}

/// An edge to draw, between positions in [`Drawing::vertices`].
#[derive(Debug, Clone, Copy)]
struct Link {
    source: usize,
    target: usize,
    kind: EdgeKind,
}

impl<'a, P> Drawing<'a, P> {
    fn new(nodes: &'a [Node<P>], edges: &'a [Edge]) -> Drawing<'a, P> {
        let mut drawing = Drawing {
            vertices: Vec::with_capacity(nodes.len()),
            links: Vec::with_capacity(edges.len()),
        };
        let mut positions = HashMap::with_capacity(nodes.len());
        for node in nodes {
            drawing.place(&mut positions, &node.key, Vertex::Known(node));
        }
        for edge in edges {
            let link = Link {
                source: drawing.place(&mut positions, &edge.source, Vertex::Dangling(&edge.source)),
                target: drawing.place(&mut positions, &edge.target, Vertex::Dangling(&edge.target)),
                kind: edge.kind,
            };
            drawing.links.push(link);
        }
        drawing
    }

    /// The position of `key`, adding `vertex` there if the key is new.
    fn place(
        &mut self,
        positions: &mut HashMap<&'a str, usize>,
        key: &'a str,
        vertex: Vertex<'a, P>,
    ) -> usize {
        *positions.entry(key).or_insert_with(|| {
            self.vertices.push(vertex);
            self.vertices.len() - 1
        })
    }
}

impl<P> Vertex<'_, P> {
    fn key(&self) -> &str {
        match self {
            Vertex::Known(node) => &node.key,
            Vertex::Dangling(key) => key,
        }
    }

    /// The text shown on the node: its name (its key when the name is blank) and, on a second
    /// line, its kind, since several kinds can share a name.
    fn label(&self) -> String {
        match self {
            Vertex::Known(node) if node.name.trim().is_empty() => {
                format!("{}\n({})", node.key, node.kind.as_str())
            }
            Vertex::Known(node) => format!("{}\n({})", node.name, node.kind.as_str()),
            Vertex::Dangling(key) => (*key).to_owned(),
        }
    }
}

/// Joins output lines, ending the text with a newline as text files should.
fn finish(lines: Vec<String>) -> String {
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

/// Characters no format here can carry, so every renderer shows U+FFFD instead: XML 1.0
/// forbids C0 controls and U+FFFE/U+FFFF (and Graphviz copies them into SVG, making it
/// invalid), Graphviz stops parsing at NUL, and C1 controls are invisible at best.
fn unprintable(c: char) -> bool {
    c.is_control() || matches!(c, '\u{FFFE}' | '\u{FFFF}')
}

/// Renders nodes and edges (edges reference nodes by key) as a Graphviz `digraph`.
pub fn dot<P>(nodes: &[Node<P>], edges: &[Edge]) -> String {
    let drawing = Drawing::new(nodes, edges);
    let mut lines = vec!["digraph lineage {".to_owned(), "  rankdir=LR;".to_owned()];
    lines.extend(drawing.vertices.iter().map(dot_node));
    lines.extend(drawing.links.iter().map(|link| {
        let source = dot_string(drawing.vertices[link.source].key());
        let target = dot_string(drawing.vertices[link.target].key());
        format!(
            "  {source} -> {target} [label={}];",
            dot_string(link.kind.as_str())
        )
    }));
    lines.push("}".to_owned());
    finish(lines)
}

/// One node statement: quoted key as id, label, and a shape telling the kinds apart.
fn dot_node<P>(vertex: &Vertex<'_, P>) -> String {
    let style = match vertex {
        Vertex::Known(node) => dot_shape(node.kind),
        Vertex::Dangling(_) => "shape=box, style=dashed",
    };
    let id = dot_string(vertex.key());
    format!("  {id} [label={}, {style}];", dot_string(&vertex.label()))
}

fn dot_shape(kind: NodeKind) -> &'static str {
    match kind {
        NodeKind::Dataset => "shape=cylinder",
        NodeKind::Job => "shape=box, style=rounded",
        NodeKind::Run => "shape=ellipse",
        NodeKind::Operation => "shape=component",
        NodeKind::Attribute => "shape=hexagon",
        NodeKind::Field => "shape=parallelogram",
    }
}

/// A DOT double-quoted string. Inside quotes DOT only unescapes `\"`, and a backslash before
/// the closing quote would swallow it, so backslashes are doubled (labels then show one).
/// Newlines become `\n`, which labels render as line breaks and ids keep distinct from a real
/// backslash-n (that one is `\\n`). Tabs are legal as they are; see [`unprintable`].
fn dot_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push('\t'),
            c if unprintable(c) => out.push(char::REPLACEMENT_CHARACTER),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Renders nodes and edges (edges reference nodes by key) as a left-to-right Mermaid flowchart.
pub fn mermaid<P>(nodes: &[Node<P>], edges: &[Edge]) -> String {
    let drawing = Drawing::new(nodes, edges);
    let mut lines = vec!["flowchart LR".to_owned()];
    lines.extend(drawing.vertices.iter().enumerate().map(|(i, vertex)| {
        let (open, close) = mermaid_shape(vertex);
        format!("  n{i}{open}\"{}\"{close}", mermaid_text(&vertex.label()))
    }));
    lines.extend(drawing.links.iter().map(|link| {
        let kind = link.kind.as_str();
        format!("  n{} -->|{kind}| n{}", link.source, link.target)
    }));
    finish(lines)
}

/// The brackets that give a node its shape.
fn mermaid_shape<P>(vertex: &Vertex<'_, P>) -> (&'static str, &'static str) {
    let Vertex::Known(node) = vertex else {
        return ("[", "]");
    };
    match node.kind {
        NodeKind::Dataset => ("[(", ")]"),
        NodeKind::Job => ("([", "])"),
        NodeKind::Run => ("(", ")"),
        NodeKind::Operation => ("[[", "]]"),
        NodeKind::Attribute => ("{{", "}}"),
        NodeKind::Field => ("[/", "/]"),
    }
}

/// Text for inside a quoted Mermaid label. Mermaid rewrites the whole source before parsing,
/// so besides `"` the escaping defuses those rewrites: `#…;` entity codes (hence `#` itself),
/// `%%{…}%%` directives, its own entity placeholders `ﬂ°`/`¶ß`, a backtick that would start a
/// Markdown string, HTML markup, and a `style…:…#…;` pattern that loses its last `;` (hence
/// `:` on lines that say `style` or `classDef`). Line breaks become `<br>`.
fn mermaid_text(text: &str) -> String {
    let text = text.replace("\r\n", "\n");
    let styled = text.contains("style") || text.contains("classDef");
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '#' => out.push_str("#35;"),
            '%' => out.push_str("#37;"),
            '&' => out.push_str("#38;"),
            '<' => out.push_str("#60;"),
            '>' => out.push_str("#62;"),
            '`' => out.push_str("#96;"),
            '¶' => out.push_str("#182;"),
            'ﬂ' => out.push_str("#64258;"),
            ':' if styled => out.push_str("#58;"),
            '\n' | '\r' | '\u{2028}' | '\u{2029}' => out.push_str("<br>"),
            '\t' => out.push(' '),
            c if unprintable(c) => out.push(char::REPLACEMENT_CHARACTER),
            c => out.push(c),
        }
    }
    out
}

/// Renders nodes and edges (edges reference nodes by key) as a GraphML document, with `key`,
/// `kind` and `name` data on nodes and `kind` on edges.
pub fn graphml<P>(nodes: &[Node<P>], edges: &[Edge]) -> String {
    let drawing = Drawing::new(nodes, edges);
    let mut lines: Vec<String> = GRAPHML_HEAD.iter().map(|l| (*l).to_owned()).collect();
    lines.extend(drawing.vertices.iter().enumerate().map(graphml_node));
    lines.extend(drawing.links.iter().enumerate().map(|(i, link)| {
        format!(
            "    <edge id=\"e{i}\" source=\"n{}\" target=\"n{}\">{}</edge>",
            link.source,
            link.target,
            graphml_data("edge_kind", link.kind.as_str())
        )
    }));
    lines.extend(["  </graph>".to_owned(), "</graphml>".to_owned()]);
    finish(lines)
}

/// The prolog, key declarations and opening of the graph.
const GRAPHML_HEAD: [&str; 7] = [
    r#"<?xml version="1.0" encoding="UTF-8"?>"#,
    r#"<graphml xmlns="http://graphml.graphdrawing.org/xmlns" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://graphml.graphdrawing.org/xmlns http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">"#,
    r#"  <key id="node_key" for="node" attr.name="key" attr.type="string"/>"#,
    r#"  <key id="node_kind" for="node" attr.name="kind" attr.type="string"/>"#,
    r#"  <key id="node_name" for="node" attr.name="name" attr.type="string"/>"#,
    r#"  <key id="edge_kind" for="edge" attr.name="kind" attr.type="string"/>"#,
    r#"  <graph id="lineage" edgedefault="directed">"#,
];

/// One `<node>`: a positional id, since keys are not valid XML `ID`s, and the key as data.
fn graphml_node<P>((i, vertex): (usize, &Vertex<'_, P>)) -> String {
    let mut data = graphml_data("node_key", vertex.key());
    if let Vertex::Known(node) = vertex {
        data.push_str(&graphml_data("node_kind", node.kind.as_str()));
        data.push_str(&graphml_data("node_name", &node.name));
    }
    format!("    <node id=\"n{i}\">{data}</node>")
}

fn graphml_data(key: &str, value: &str) -> String {
    format!("<data key=\"{key}\">{}</data>", xml_escape(value))
}

/// Text safe in XML content and attribute values. Tab, newline and carriage return become
/// character references so parsers neither normalise them away (`\r\n` → `\n`, attribute
/// whitespace → space) nor lose them.
fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if unprintable(c) => out.push(char::REPLACEMENT_CHARACTER),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
#[path = "export_tests.rs"]
mod tests;
