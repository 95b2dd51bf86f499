//! The graph rows one plan and its event amount to, for the reference ingest.
//!
//! The reference must store the same graph the service stores, or the ingest
//! ratio would compare different amounts of work. So the rows mirror a full
//! Spline plan graph, not just its lineage: the job and its datasets, one
//! node per operation and per attribute, the run from the event, and the
//! edges between them (`input`/`output` for lineage, plus `reads_from`,
//! `writes_to`, `has_operation`, `data_flow`, `produces`, `derives`,
//! `run_of`). Properties carry the same JSON the plan had, so row sizes match
//! too. What the reference leaves out is the service's own overhead: HTTP,
//! parsing, validation, and keeping the raw request bodies.

use std::collections::{BTreeMap, HashMap, HashSet};

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
    rows.run(plan);
    PlanRows {
        nodes: rows.nodes.into_values().collect(),
        edges: rows.edges.into_values().collect(),
        seen: plan.timestamp_ms as f64 / 1e3,
    }
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
        let producers = introducing_operations(body);
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
            let mut sources = Vec::new();
            let text: Vec<String> = array(&attribute["childRefs"])
                .iter()
                .map(|r| expressions.render(r, &mut sources, 0))
                .collect();
            for source in sources {
                let properties = json!({"expression": text.join(", ")});
                self.edge(attr_key(plan, &source), key.clone(), "derives", properties);
            }
        }
    }

    /// The execution event becomes a run node linked to its job.
    fn run(&mut self, plan: &Plan) {
        let events: Value = serde_json::from_slice(&plan.event).expect("generated events are JSON");
        let mut properties: Map<String, Value> = events[0].as_object().cloned().unwrap_or_default();
        properties.insert("status".into(), json!("succeeded"));
        let key = format!("run:{}:{}", plan.id, plan.timestamp_ms);
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

/// Which operation first outputs each attribute without inheriting it from
/// a child. Reads come first; the generator lists the other operations
/// children-first, so one pass in document order sees inputs before users.
fn introducing_operations(body: &Value) -> HashMap<String, String> {
    let ops = &body["operations"];
    let mut outputs: HashMap<&str, HashSet<&str>> = HashMap::new();
    let mut producers = HashMap::new();
    for op in array(&ops["reads"]).iter().chain(array(&ops["other"])) {
        let id = str_of(&op["id"]);
        let inherited: HashSet<&str> = array(&op["childIds"])
            .iter()
            .flat_map(|child| outputs.get(str_of(child)).into_iter().flatten().copied())
            .collect();
        let own: HashSet<&str> = array(&op["output"]).iter().map(str_of).collect();
        for attribute in own.difference(&inherited) {
            producers
                .entry((*attribute).to_owned())
                .or_insert_with(|| id.to_owned());
        }
        outputs.insert(id, own);
    }
    producers
}

/// Expression lookup, to walk `childRefs` down to the attributes they read.
struct Expressions<'a> {
    functions: HashMap<&'a str, &'a Value>,
    constants: HashMap<&'a str, &'a Value>,
    attribute_names: HashMap<&'a str, &'a str>,
}

impl<'a> Expressions<'a> {
    fn new(body: &'a Value) -> Self {
        let by_id = |items: &'a Value| array(items).iter().map(|v| (str_of(&v["id"]), v)).collect();
        Self {
            functions: by_id(&body["expressions"]["functions"]),
            constants: by_id(&body["expressions"]["constants"]),
            attribute_names: array(&body["attributes"])
                .iter()
                .map(|a| (str_of(&a["id"]), str_of(&a["name"])))
                .collect(),
        }
    }

    /// Renders a reference as text, collecting the attributes it reaches.
    fn render(&self, reference: &Value, sources: &mut Vec<String>, depth: usize) -> String {
        if depth > 64 {
            return "…".to_owned();
        }
        if let Some(id) = reference["__attrId"].as_str() {
            if !sources.iter().any(|s| s == id) {
                sources.push(id.to_owned());
            }
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
        match function["extra"]["symbol"].as_str() {
            Some(symbol) if args.len() == 2 => format!("({} {symbol} {})", args[0], args[1]),
            _ => format!("{}({})", str_of(&function["name"]), args.join(", ")),
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
            assert!(count(&rows, "derives") >= derived);
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
}
