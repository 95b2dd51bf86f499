//! The graph rows one plan and its event amount to, for the reference ingest.
//!
//! The reference must store the same graph the service stores, or the ingest
//! ratio would compare different amounts of work. So the rows mirror a full
//! Spline plan graph, not just its lineage: the job and its datasets, one
//! node per operation and per attribute, the run from the event, the columns
//! of the datasets read and written (`field` nodes), and the edges between
//! them (`input`/`output` for lineage, plus `reads_from`, `writes_to`,
//! `has_operation`, `data_flow`, `produces`, `derives` between attributes
//! and between columns, `has_field`, `run_of`). Properties carry the same
//! JSON the plan had, so row sizes match too. What the reference leaves out
//! is the service's own overhead: HTTP, parsing, validation, and keeping the
//! raw request bodies.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde_json::{Map, Value, json};

use crate::generate::Plan;

/// One node row, as the service's `node` table holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRow {
    pub key: String,
    pub kind: &'static str,
    pub name: String,
    pub properties: String,
}

/// One edge row, endpoints still as keys (ids exist only after the insert).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeRow {
    pub source: String,
    pub target: String,
    pub kind: &'static str,
    pub properties: String,
}

/// Everything one plan and its event contribute to the graph.
#[derive(Debug, Clone)]
pub struct PlanRows {
    /// Sorted by key. Every transaction upserts shared datasets in the same
    /// order, so concurrent plans wait on each other instead of deadlocking.
    pub nodes: Vec<NodeRow>,
    /// Sorted by (source, kind, target), unique.
    pub edges: Vec<EdgeRow>,
    /// Event time, epoch seconds: becomes first_seen/last_seen.
    pub seen: f64,
}

impl PlanRows {
    pub fn count(&self) -> usize {
        self.nodes.len() + self.edges.len()
    }
}

/// The contract's key for a dataset: `dataset:` and the URI as sent.
pub fn dataset_key(uri: &str) -> String {
    format!("dataset:{uri}")
}

/// The key of a dataset's column: `field:<dataset uri>#<column name>`.
pub fn field_key(uri: &str, column: &str) -> String {
    format!("field:{uri}#{column}")
}

fn job_key(plan: &Plan) -> String {
    format!("job:{}", plan.id)
}

fn op_key(plan: &Plan, op: &str) -> String {
    format!("op:{}:{op}", plan.id)
}

fn attr_key(plan: &Plan, attr: &str) -> String {
    format!("attr:{}:{attr}", plan.id)
}

/// Builds the rows of one generated plan (whose body is known to be valid).
pub fn rows_of(plan: &Plan) -> PlanRows {
    let body: Value = serde_json::from_slice(&plan.body).expect("generated plans are JSON");
    let mut rows = Rows::default();
    rows.job(plan, &body);
    rows.datasets(plan, &body);
    rows.operations(plan, &body);
    rows.attributes(plan, &body);
    rows.columns(plan, &body);
    rows.run(plan, 0);
    PlanRows {
        nodes: rows.nodes.into_values().collect(),
        edges: rows.edges.into_values().collect(),
        seen: plan.timestamp_ms as f64 / 1e3,
    }
}

/// The rows a later run of an already stored plan adds: its run node and `run_of` edge (the
/// re-posted plan is a duplicate and writes nothing).
pub fn run_rows(plan: &Plan, run: usize) -> PlanRows {
    let mut rows = Rows::default();
    rows.run(plan, run);
    PlanRows {
        nodes: rows.nodes.into_values().collect(),
        edges: rows.edges.into_values().collect(),
        seen: plan.run_timestamp_ms(run) as f64 / 1e3,
    }
}

/// Edge endpoints among `rows` that `known` doesn't know, sorted and unique.
pub fn missing_endpoints(rows: &PlanRows, known: impl Fn(&str) -> bool) -> Vec<String> {
    let ends = rows.edges.iter().flat_map(|e| [&e.source, &e.target]);
    let missing: BTreeSet<&String> = ends.filter(|k| !known(k)).collect();
    missing.into_iter().cloned().collect()
}

/// Rows keyed so that they come out sorted and without duplicates.
#[derive(Default)]
struct Rows {
    nodes: BTreeMap<String, NodeRow>,
    edges: BTreeMap<(String, &'static str, String), EdgeRow>,
}

impl Rows {
    fn node(&mut self, key: String, kind: &'static str, name: &str, properties: Value) {
        let row = NodeRow {
            key: key.clone(),
            kind,
            name: name.to_owned(),
            properties: properties.to_string(),
        };
        self.nodes.entry(key).or_insert(row);
    }

    fn edge(&mut self, source: String, target: String, kind: &'static str, properties: Value) {
        let row = EdgeRow {
            source: source.clone(),
            target: target.clone(),
            kind,
            properties: properties.to_string(),
        };
        self.edges.entry((source, kind, target)).or_insert(row);
    }

    /// The job keeps everything about the plan except what becomes nodes of
    /// its own (operations, attributes).
    fn job(&mut self, plan: &Plan, body: &Value) {
        let mut properties = body.as_object().cloned().unwrap_or_default();
        properties.remove("operations");
        properties.remove("attributes");
        properties.insert("format".into(), json!("spline"));
        properties.insert("inputs".into(), json!(plan.inputs));
        properties.insert("output".into(), json!(plan.output));
        properties.insert(
            "append".into(),
            body["operations"]["write"]["append"].clone(),
        );
        self.node(job_key(plan), "job", &plan.name, Value::Object(properties));
    }

    fn datasets(&mut self, plan: &Plan, body: &Value) {
        let job = job_key(plan);
        for uri in plan.inputs.iter().chain([&plan.output]) {
            let name = uri.rsplit('/').next().unwrap_or(uri);
            self.node(dataset_key(uri), "dataset", name, json!({"uri": uri}));
        }
        for uri in &plan.inputs {
            self.edge(dataset_key(uri), job.clone(), "input", json!({}));
        }
        let append = &body["operations"]["write"]["append"];
        self.edge(
            job,
            dataset_key(&plan.output),
            "output",
            json!({"append": append}),
        );
    }

    fn operations(&mut self, plan: &Plan, body: &Value) {
        let ops = &body["operations"];
        let write = &ops["write"];
        self.operation(plan, write, "Write");
        let write_key = op_key(plan, str_of(&write["id"]));
        self.edge(write_key, dataset_key(&plan.output), "writes_to", json!({}));
        for read in array(&ops["reads"]) {
            self.operation(plan, read, "Read");
            for uri in array(&read["inputSources"]) {
                let read_key = op_key(plan, str_of(&read["id"]));
                self.edge(dataset_key(str_of(uri)), read_key, "reads_from", json!({}));
            }
        }
        for op in array(&ops["other"]) {
            self.operation(plan, op, "Transformation");
        }
    }

    fn operation(&mut self, plan: &Plan, op: &Value, kind: &str) {
        let id = str_of(&op["id"]);
        let key = op_key(plan, id);
        let mut properties = op.as_object().cloned().unwrap_or_default();
        properties.insert("type".into(), json!(kind));
        properties.insert("planId".into(), json!(plan.id.to_string()));
        let name = op["name"].as_str().unwrap_or(kind);
        self.node(key.clone(), "operation", name, Value::Object(properties));
        self.edge(job_key(plan), key.clone(), "has_operation", json!({}));
        for (index, child) in array(&op["childIds"]).iter().enumerate() {
            self.edge(
                op_key(plan, str_of(child)),
                key.clone(),
                "data_flow",
                json!({"index": index}),
            );
        }
    }

    /// Attribute nodes, `produces` from the operation that introduces each
    /// attribute, and `derives` from the attributes its expression reads.
    fn attributes(&mut self, plan: &Plan, body: &Value) {
        let producers = schemas(body).producers;
        let expressions = Expressions::new(body);
        for attribute in array(&body["attributes"]) {
            let id = str_of(&attribute["id"]);
            let key = attr_key(plan, id);
            let mut properties = attribute.as_object().cloned().unwrap_or_default();
            properties.insert("planId".into(), json!(plan.id.to_string()));
            let name = str_of(&attribute["name"]);
            self.node(key.clone(), "attribute", name, Value::Object(properties));
            if let Some(op) = producers.get(id) {
                self.edge(op_key(plan, op), key.clone(), "produces", json!({}));
            }
            let Some(derivation) = expressions.derive(array(&attribute["childRefs"])) else {
                continue;
            };
            for source in derivation.sources {
                let properties = json!({"expression": derivation.expression});
                self.edge(attr_key(plan, source), key.clone(), "derives", properties);
            }
        }
    }

    /// The columns of the datasets read and written, and how the written
    /// columns derive from the read ones, as the service draws them: each
    /// read's output attributes are columns (`field` nodes, with a
    /// `has_field` edge from the dataset and the attribute's position as
    /// `index`) of every data source that read reads; the write's input
    /// schema is the columns of the dataset written; and each written column
    /// `derives` from the columns of the read attributes its attribute is
    /// computed from, following `childRefs` through expressions and
    /// intermediate attributes (an aggregate's, say). The edge carries the
    /// written attribute's own expression (`null` when it is a read column
    /// passed through) and the job.
    fn columns(&mut self, plan: &Plan, body: &Value) {
        let ops = &body["operations"];
        let expressions = Expressions::new(body);
        let mut read_columns: HashMap<&str, Vec<String>> = HashMap::new();
        for read in array(&ops["reads"]) {
            for uri in array(&read["inputSources"]) {
                for (index, attribute) in array(&read["output"]).iter().enumerate() {
                    let attribute = str_of(attribute);
                    let Some(name) = expressions.attribute_names.get(attribute) else {
                        continue;
                    };
                    let column = self.column(str_of(uri), name, index);
                    read_columns.entry(attribute).or_default().push(column);
                }
            }
        }
        let write = &ops["write"];
        let written = str_of(&write["outputSource"]);
        let outputs = schemas(body).outputs;
        let job = job_key(plan);
        let schema = inherited_schema(array(&write["childIds"]), &outputs);
        for (index, attribute) in schema.into_iter().enumerate() {
            let Some(name) = expressions.attribute_names.get(attribute) else {
                continue;
            };
            let target = self.column(written, name, index);
            let expression = expressions
                .derive(expressions.child_refs(attribute))
                .map(|d| d.expression);
            for origin in expressions.origins(attribute, &read_columns) {
                for source in &read_columns[origin] {
                    let properties = json!({"expression": expression, "job": job});
                    self.edge(source.clone(), target.clone(), "derives", properties);
                }
            }
        }
    }

    /// One column of the dataset at `uri`: its node and the dataset's
    /// `has_field` edge to it. Returns its key.
    fn column(&mut self, uri: &str, name: &str, index: usize) -> String {
        let dataset = dataset_key(uri);
        let key = field_key(uri, name);
        let properties = json!({"name": name, "dataset": dataset});
        self.node(key.clone(), "field", name, properties);
        self.edge(dataset, key.clone(), "has_field", json!({"index": index}));
        key
    }

    /// The execution event becomes a run node linked to its job.
    fn run(&mut self, plan: &Plan, run: usize) {
        let events: Value =
            serde_json::from_slice(&plan.events[run]).expect("generated events are JSON");
        let mut properties: Map<String, Value> = events[0].as_object().cloned().unwrap_or_default();
        properties.insert("status".into(), json!("succeeded"));
        let key = format!("run:{}:{}", plan.id, plan.run_timestamp_ms(run));
        let name = events[0]["extra"]["appId"]
            .as_str()
            .unwrap_or(&key)
            .to_owned();
        self.node(key.clone(), "run", &name, Value::Object(properties));
        self.edge(key, job_key(plan), "run_of", json!({}));
    }
}

fn array(value: &Value) -> &[Value] {
    value.as_array().map(Vec::as_slice).unwrap_or_default()
}

fn str_of(value: &Value) -> &str {
    value.as_str().unwrap_or_default()
}

/// The output schemas of a plan's operations, and which operation
/// introduces each attribute.
struct Schemas<'a> {
    /// Operation id → its output attributes: as declared, or else inherited
    /// from its inputs in order.
    outputs: HashMap<&'a str, Vec<&'a str>>,
    /// Attribute id → the first operation (reads first, then the others)
    /// whose output lists it while none of its inputs' outputs do.
    producers: HashMap<&'a str, &'a str>,
}

/// Reads come first; the generator lists the other operations
/// children-first, so one pass in document order sees inputs before users
/// (the service sorts them topologically, which comes to the same).
fn schemas(body: &Value) -> Schemas<'_> {
    let ops = &body["operations"];
    let mut outputs: HashMap<&str, Vec<&str>> = HashMap::new();
    let mut producers = HashMap::new();
    for read in array(&ops["reads"]) {
        let id = str_of(&read["id"]);
        let own: Vec<&str> = array(&read["output"]).iter().map(str_of).collect();
        for attribute in &own {
            producers.entry(*attribute).or_insert(id);
        }
        outputs.insert(id, own);
    }
    for op in array(&ops["other"]) {
        let id = str_of(&op["id"]);
        let inherited = inherited_schema(array(&op["childIds"]), &outputs);
        let own: Vec<&str> = match op["output"].as_array() {
            Some(declared) => declared.iter().map(str_of).collect(),
            None => inherited.clone(),
        };
        for attribute in own.iter().filter(|a| !inherited.contains(a)) {
            producers.entry(*attribute).or_insert(id);
        }
        outputs.insert(id, own);
    }
    Schemas { outputs, producers }
}

/// The attributes an operation receives from its inputs (`children`), in
/// order, without repeats.
fn inherited_schema<'a>(children: &[Value], outputs: &HashMap<&str, Vec<&'a str>>) -> Vec<&'a str> {
    let mut seen = HashSet::new();
    children
        .iter()
        .flat_map(|child| outputs.get(str_of(child)).into_iter().flatten())
        .filter(|attribute| seen.insert(**attribute))
        .copied()
        .collect()
}

/// Where an attribute comes from: the nearest attributes its expression
/// reads, and the expression as text.
struct Derivation<'a> {
    sources: BTreeSet<&'a str>,
    expression: String,
}

/// Expression lookup, to walk `childRefs` down to the attributes they read.
struct Expressions<'a> {
    functions: HashMap<&'a str, &'a Value>,
    constants: HashMap<&'a str, &'a Value>,
    attribute_names: HashMap<&'a str, &'a str>,
    attribute_refs: HashMap<&'a str, &'a [Value]>,
}

impl<'a> Expressions<'a> {
    fn new(body: &'a Value) -> Self {
        let by_id = |items: &'a Value| array(items).iter().map(|v| (str_of(&v["id"]), v)).collect();
        let attributes = array(&body["attributes"]);
        Self {
            functions: by_id(&body["expressions"]["functions"]),
            constants: by_id(&body["expressions"]["constants"]),
            attribute_names: attributes
                .iter()
                .map(|a| (str_of(&a["id"]), str_of(&a["name"])))
                .collect(),
            attribute_refs: attributes
                .iter()
                .map(|a| (str_of(&a["id"]), array(&a["childRefs"])))
                .collect(),
        }
    }

    /// The `childRefs` of an attribute; none for one not computed here.
    fn child_refs(&self, attribute: &str) -> &'a [Value] {
        self.attribute_refs
            .get(attribute)
            .copied()
            .unwrap_or_default()
    }

    /// Follows `refs` down to attributes; `None` when they reach none (a
    /// column computed from literals only derives from nothing).
    fn derive(&self, refs: &'a [Value]) -> Option<Derivation<'a>> {
        let mut sources = BTreeSet::new();
        let text: Vec<String> = refs
            .iter()
            .map(|r| self.render(r, &mut sources, 0))
            .collect();
        (!sources.is_empty()).then(|| Derivation {
            sources,
            expression: text.join(", "),
        })
    }

    /// The attributes among `reads` (read attributes) that `attribute` is
    /// ultimately computed from: itself if it is one, else those its
    /// derivation reaches through intermediate attributes. Iterative with a
    /// visited set, so a cyclic derivation cannot loop.
    fn origins<T>(&self, attribute: &'a str, reads: &HashMap<&str, T>) -> BTreeSet<&'a str> {
        let (mut found, mut seen, mut stack) = (BTreeSet::new(), HashSet::new(), vec![attribute]);
        while let Some(current) = stack.pop() {
            if !seen.insert(current) {
                continue;
            }
            if reads.contains_key(current) {
                found.insert(current);
                continue;
            }
            let derivation = self.derive(self.child_refs(current));
            stack.extend(derivation.into_iter().flat_map(|d| d.sources));
        }
        found
    }

    /// Renders a reference as text, collecting the attributes it reaches.
    fn render(
        &self,
        reference: &'a Value,
        sources: &mut BTreeSet<&'a str>,
        depth: usize,
    ) -> String {
        if depth > 64 {
            return "…".to_owned();
        }
        if let Some(id) = reference["__attrId"].as_str() {
            sources.insert(id);
            return self
                .attribute_names
                .get(id)
                .copied()
                .unwrap_or(id)
                .to_owned();
        }
        let id = str_of(&reference["__exprId"]);
        if let Some(constant) = self.constants.get(id) {
            return constant["value"].to_string();
        }
        let Some(function) = self.functions.get(id) else {
            return id.to_owned();
        };
        let args: Vec<String> = array(&function["childRefs"])
            .iter()
            .map(|child| self.render(child, sources, depth + 1))
            .collect();
        let name = str_of(&function["name"]);
        let extra = &function["extra"];
        match (
            extra["_typeHint"].as_str(),
            extra["symbol"].as_str(),
            args.as_slice(),
        ) {
            (Some("expr.Alias"), _, [child]) => format!("{child} AS {name}"),
            (_, Some(symbol), [left, right]) => format!("({left} {symbol} {right})"),
            _ => format!("{name}({})", args.join(", ")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::generate;

    fn count(rows: &PlanRows, kind: &str) -> usize {
        rows.edges.iter().filter(|e| e.kind == kind).count()
    }

    #[test]
    fn lineage_edges_follow_the_data_flow() {
        let workload = generate(40, 1);
        let plan = workload.plans.last().unwrap();
        let rows = rows_of(plan);
        let job = job_key(plan);
        assert_eq!(count(&rows, "input"), plan.inputs.len());
        assert_eq!(count(&rows, "output"), 1);
        for edge in &rows.edges {
            match edge.kind {
                "input" => assert_eq!(edge.target, job),
                "output" => assert_eq!(
                    (&edge.source, &edge.target),
                    (&job, &dataset_key(&plan.output))
                ),
                _ => {}
            }
        }
        assert!(rows.nodes.windows(2).all(|pair| pair[0].key < pair[1].key));
    }

    #[test]
    fn the_whole_plan_graph_is_there() {
        let workload = generate(40, 2);
        for plan in &workload.plans {
            let rows = rows_of(plan);
            let body: Value = serde_json::from_slice(&plan.body).unwrap();
            let ops = 1
                + array(&body["operations"]["reads"]).len()
                + array(&body["operations"]["other"]).len();
            let attributes = array(&body["attributes"]).len();
            let kinds = |kind: &str| rows.nodes.iter().filter(|n| n.kind == kind).count();
            assert_eq!(kinds("operation"), ops);
            assert_eq!(kinds("attribute"), attributes);
            assert_eq!(kinds("job"), 1);
            assert_eq!(kinds("run"), 1);
            assert_eq!(kinds("dataset"), plan.inputs.len() + 1);
            assert_eq!(count(&rows, "has_operation"), ops);
            // Every attribute is introduced by exactly one operation.
            assert_eq!(count(&rows, "produces"), attributes);
            let all_ops = std::iter::once(&body["operations"]["write"])
                .chain(array(&body["operations"]["reads"]))
                .chain(array(&body["operations"]["other"]));
            let child_links: usize = all_ops.map(|op| array(&op["childIds"]).len()).sum();
            assert_eq!(count(&rows, "data_flow"), child_links);
            let derived = array(&body["attributes"])
                .iter()
                .filter(|a| a.get("childRefs").is_some())
                .count();
            let between = |prefix: &str| {
                let of = |key: &str| key.starts_with(prefix);
                rows.edges
                    .iter()
                    .filter(|e| e.kind == "derives" && of(&e.source) && of(&e.target))
                    .count()
            };
            assert!(between("attr:") >= derived);
            // A column per read attribute and source it reads, and one per
            // column of the dataset written, each with its `has_field`.
            let read_columns: usize = array(&body["operations"]["reads"])
                .iter()
                .map(|r| array(&r["inputSources"]).len() * array(&r["output"]).len())
                .sum();
            let written = workload.columns(&plan.output);
            assert_eq!(kinds("field"), read_columns + written.len());
            assert_eq!(count(&rows, "has_field"), kinds("field"));
            // Every written column derives from at least one read column.
            let targets: HashSet<&str> = rows
                .edges
                .iter()
                .filter(|e| e.kind == "derives" && e.source.starts_with("field:"))
                .map(|e| e.target.as_str())
                .collect();
            let expected: HashSet<String> =
                written.iter().map(|c| field_key(&plan.output, c)).collect();
            assert_eq!(targets, expected.iter().map(String::as_str).collect());
            assert_eq!(
                between("field:") + between("attr:"),
                count(&rows, "derives")
            );
            // Every edge joins two nodes of the plan.
            let keys: HashSet<&str> = rows.nodes.iter().map(|n| n.key.as_str()).collect();
            for edge in &rows.edges {
                assert!(
                    keys.contains(edge.source.as_str()) && keys.contains(edge.target.as_str()),
                    "{edge:?}"
                );
            }
        }
    }

    #[test]
    fn derivations_render_their_expression() {
        let workload = generate(10, 3);
        let rows: Vec<PlanRows> = workload.plans.iter().map(rows_of).collect();
        let derives: Vec<&EdgeRow> = rows
            .iter()
            .flat_map(|r| &r.edges)
            .filter(|e| e.kind == "derives")
            .collect();
        assert!(!derives.is_empty());
        assert!(derives.iter().all(|e| e.properties.contains("expression")));
    }

    /// The written columns' positions are the dataset's schema, and a read
    /// of one source numbers its columns the same way.
    #[test]
    fn has_field_numbers_the_schema() {
        let workload = generate(60, 4);
        for plan in &workload.plans {
            let rows = rows_of(plan);
            for (index, name) in workload.columns(&plan.output).iter().enumerate() {
                let edge = rows
                    .edges
                    .iter()
                    .find(|e| e.kind == "has_field" && e.target == field_key(&plan.output, name))
                    .unwrap();
                assert_eq!(edge.source, dataset_key(&plan.output));
                let properties: Value = serde_json::from_str(&edge.properties).unwrap();
                assert_eq!(properties, json!({"index": index}));
            }
            let field = rows.nodes.iter().find(|n| n.kind == "field").unwrap();
            let properties: Value = serde_json::from_str(&field.properties).unwrap();
            assert_eq!(properties["name"], json!(field.name));
            let dataset = properties["dataset"].as_str().unwrap();
            let uri = dataset.strip_prefix("dataset:").unwrap();
            assert_eq!(field.key, field_key(uri, &field.name));
        }
    }

    /// The column derivations are exactly those the generator means the
    /// service to draw (worked out independently from the plan JSON), each
    /// naming its job, with the written attribute's expression, or `null`
    /// for a column passed through.
    #[test]
    fn column_derivations_match_the_generator() {
        let workload = generate(400, 42);
        let mut edges: Vec<(String, String)> = Vec::new();
        let (mut passed, mut computed) = (0, 0);
        for plan in &workload.plans {
            let rows = rows_of(plan);
            for edge in rows.edges.iter().filter(|e| e.kind == "derives") {
                if !edge.source.starts_with("field:") {
                    assert!(edge.target.starts_with("attr:"), "{edge:?}");
                    continue;
                }
                let properties: Value = serde_json::from_str(&edge.properties).unwrap();
                assert_eq!(properties["job"], json!(job_key(plan)));
                match &properties["expression"] {
                    Value::Null => passed += 1,
                    Value::String(text) => {
                        assert!(text.ends_with(')'), "{text}");
                        computed += 1;
                    }
                    other => panic!("expression {other}"),
                }
                let column = |key: &str| key.strip_prefix("field:").unwrap().to_owned();
                edges.push((column(&edge.source), column(&edge.target)));
            }
        }
        edges.sort();
        assert!(
            passed > 0 && computed > 0,
            "{passed} passed, {computed} computed"
        );
        assert_eq!(edges, crate::generate::tests::column_edges(&workload));
    }
}
