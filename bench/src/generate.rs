//! Generates the synthetic data platform the benchmark ingests.
//!
//! The shape follows a typical lake: source systems feed `raw`, which feeds
//! `cleaned`, then `curated`, then `marts`. Each layer runs in stages
//! (`cleaned/s0`, `cleaned/s1`, …): the successive steps of its pipelines,
//! deduplicate, then conform, then enrich, say. Every plan is one Spark job
//! that writes exactly one dataset of its own stage and reads a few datasets
//! of earlier stages: mostly the stage just before its own, sometimes one or
//! two further back, rarely any older one (a mart joining a cleaned table
//! directly, say). So the lineage graph is a DAG about as deep as there are
//! stages, with a few popular "hub" inputs, and deep enough that bounded
//! lineage queries really are cut off by their depth. Plans carry realistic
//! bulk (joins, filters, projections with expressions) because parsing and
//! storing that bulk is part of the cost the benchmark is meant to measure.
//!
//! Every dataset has a fixed schema (see [`columns_of`]): its writer's final
//! projection produces exactly those columns, passing a read column of the
//! same name through or computing the column from read columns with an
//! expression, and every reader reads them under the same names. So column
//! lineage runs across jobs the way dataset lineage does.
//!
//! Everything is derived from the seed, so a run can be repeated exactly.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;

use bytes::Bytes;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::rng::Rng;

/// Where a dataset lives. `Source` datasets are outside the lake and are only
/// ever read (by `Raw` jobs); every other layer is written by its own jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Layer {
    Source,
    Raw,
    Cleaned,
    Curated,
    Marts,
}

impl Layer {
    /// The layers jobs write to, in data-flow order.
    pub const LAKE: [Layer; 4] = [Layer::Raw, Layer::Cleaned, Layer::Curated, Layer::Marts];

    pub fn name(self) -> &'static str {
        match self {
            Layer::Source => "source",
            Layer::Raw => "raw",
            Layer::Cleaned => "cleaned",
            Layer::Curated => "curated",
            Layer::Marts => "marts",
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// The verb in job names, so a job's purpose is readable in the graph.
    fn verb(self) -> &'static str {
        match self {
            Layer::Source => "extract",
            Layer::Raw => "ingest",
            Layer::Cleaned => "clean",
            Layer::Curated => "curate",
            Layer::Marts => "publish",
        }
    }
}

/// One step of a layer: `cleaned/s2` is stage 2 of `cleaned`. The sources
/// are a single stage 0. Ordered the way data flows: by layer, then index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Stage {
    pub layer: Layer,
    pub index: usize,
}

impl Stage {
    const SOURCES: Stage = Stage {
        layer: Layer::Source,
        index: 0,
    };
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/s{}", self.layer.name(), self.index)
    }
}

/// The most stages each lake layer is split into, in `Layer::LAKE` order.
/// Their sum bounds the longest lineage path, in jobs.
const MAX_STAGES: [usize; 4] = [3, 6, 6, 5];

/// The fewest plans a stage gets when its layer has more than one stage, so
/// small runs get fewer, fuller stages rather than many thin ones.
const MIN_STAGE_PLANS: usize = 10;

/// Relative odds that an input comes from 1, 2, 3 stages before the job's
/// own; every stage further back gets `LOOKBACK_TAIL`. Mostly one step keeps
/// paths long; the rare long reads are the shortcuts real platforms have.
const LOOKBACK_NEAR: [u32; 3] = [80, 12, 5];
const LOOKBACK_TAIL: u32 = 1;

/// One Spark job run: the plan as posted, its execution event, and the facts
/// the other phases need without re-parsing the JSON.
#[derive(Debug, Clone)]
pub struct Plan {
    pub id: Uuid,
    pub name: String,
    /// The stage (and so the layer) of the dataset the plan writes.
    pub stage: Stage,
    /// Every URI the plan reads, in read-operation order.
    pub inputs: Vec<String>,
    pub output: String,
    /// When the first run finished, epoch ms; later runs follow a day apart.
    pub timestamp_ms: i64,
    /// Serialized Spline v1.2 execution plan, ready to POST.
    pub body: Bytes,
    /// One serialized one-element event array per run, ready to POST: a
    /// scheduled job runs the same plan again and again.
    pub events: Vec<Bytes>,
    /// One of the few huge plans (thousands of operations, megabytes).
    pub huge: bool,
}

impl Plan {
    /// How many times the job ran.
    pub fn runs(&self) -> usize {
        self.events.len()
    }

    /// When run `run` (0-based) finished, epoch ms.
    pub fn run_timestamp_ms(&self, run: usize) -> i64 {
        self.timestamp_ms + run as i64 * DAY_MS
    }
}

/// Runs of one job are a day apart, as a nightly batch's are.
pub const DAY_MS: i64 = 86_400_000;

/// Relative odds of a job running 1, 2, … 8 times: most jobs ran a few
/// times, a few ran every night of the week.
const RUN_ODDS: [u32; 8] = [10, 15, 20, 20, 15, 10, 5, 5];

/// The whole generated platform.
#[derive(Debug, Clone)]
pub struct Workload {
    pub seed: u64,
    /// In posting order, stage by stage: all raw jobs first (`raw/s0`, then
    /// `raw/s1`, …), then cleaned, and so on, the way a nightly batch runs.
    pub plans: Vec<Plan>,
    datasets: [Vec<String>; 5],
    /// Every non-empty stage in data-flow order, sources first, with the
    /// range its datasets take in `datasets[layer]`.
    stages: Vec<(Stage, Range<usize>)>,
}

impl Workload {
    /// Dataset URIs of one layer, stage by stage, in index order.
    pub fn datasets(&self, layer: Layer) -> &[String] {
        &self.datasets[layer.index()]
    }

    /// Which stage each known URI belongs to.
    pub fn stage_of(&self) -> HashMap<&str, Stage> {
        self.stages
            .iter()
            .flat_map(|(stage, range)| {
                self.datasets[stage.layer.index()][range.clone()]
                    .iter()
                    .map(|uri| (uri.as_str(), *stage))
            })
            .collect()
    }

    pub fn plans_in(&self, layer: Layer) -> usize {
        self.plans
            .iter()
            .filter(|plan| plan.stage.layer == layer)
            .count()
    }

    pub fn stages_in(&self, layer: Layer) -> usize {
        self.stages
            .iter()
            .filter(|(stage, _)| stage.layer == layer)
            .count()
    }

    /// The columns of a dataset, as every plan reads and its writer writes
    /// them.
    pub fn columns(&self, uri: &str) -> Vec<&'static str> {
        columns_of(self.seed, uri)
            .into_iter()
            .map(|column| COLUMNS[column].0)
            .collect()
    }

    pub fn total_body_bytes(&self) -> usize {
        self.plans.iter().map(|plan| plan.body.len()).sum()
    }

    /// Jobs on the longest lineage path: the depth in job hops a lineage
    /// query needs to follow every path to its end.
    pub fn longest_path(&self) -> usize {
        // Plans come in stage order, so every writer is seen before its readers.
        let mut jobs_until: HashMap<&str, usize> = HashMap::new();
        for plan in &self.plans {
            let before = plan
                .inputs
                .iter()
                .filter_map(|uri| jobs_until.get(uri.as_str()))
                .max()
                .copied()
                .unwrap_or(0);
            jobs_until.insert(&plan.output, before + 1);
        }
        jobs_until.into_values().max().unwrap_or(0)
    }
}

/// Builds `count` plans deterministically from `seed`, none of them huge.
#[cfg(test)]
pub fn generate(count: usize, seed: u64) -> Workload {
    generate_with(count, 0, seed)
}

/// Builds `count` plans, `huge` of them huge ([`HUGE_OPS`] operations and more), spread
/// evenly over the curated layer, where wide joins of many sources live.
pub fn generate_with(count: usize, huge: usize, seed: u64) -> Workload {
    let counts = layer_counts(count);
    let mut datasets: [Vec<String>; 5] = Default::default();
    datasets[Layer::Source.index()] = source_uris(source_pool_size(counts[0]));
    let mut stages = vec![(Stage::SOURCES, 0..datasets[Layer::Source.index()].len())];
    for ((&layer, &plans), &most) in Layer::LAKE.iter().zip(&counts).zip(&MAX_STAGES) {
        let mut start = 0;
        for (index, size) in stage_sizes(plans, most).into_iter().enumerate() {
            let stage = Stage { layer, index };
            let range = start..start + size;
            datasets[layer.index()].extend(range.clone().map(|i| lake_uri(stage, i)));
            start = range.end;
            stages.push((stage, range));
        }
    }

    let huge_at = huge_indices(&stages, huge);
    let mut plans = Vec::with_capacity(count);
    for (at, (stage, range)) in stages.iter().enumerate().skip(1) {
        for position in range.clone() {
            let index = plans.len();
            let mut rng = Rng::fork(seed, index as u64);
            let huge = huge_at.contains(&index);
            let wanted = if huge { HUGE_INPUTS } else { 1 };
            let inputs = choose_many(at, &stages, &datasets, &mut rng, wanted);
            let output = datasets[stage.layer.index()][position].clone();
            let site = Site {
                index,
                stage: *stage,
                position,
                huge,
            };
            plans.push(build_plan(seed, site, inputs, output, &mut rng));
        }
    }
    Workload {
        seed,
        plans,
        datasets,
        stages,
    }
}

/// Operations of a huge plan, at least; the biggest plans users report carry a few thousand.
pub const HUGE_OPS: usize = 2_100;

/// Datasets a huge plan reads: a wide join whose attributes flow through every operation.
const HUGE_INPUTS: usize = 24;

/// Plan indices of the huge plans: evenly spaced over the curated layer's plans.
fn huge_indices(stages: &[(Stage, Range<usize>)], huge: usize) -> Vec<usize> {
    let mut index = 0;
    let mut curated = Vec::new();
    for (stage, range) in stages.iter().skip(1) {
        if stage.layer == Layer::Curated {
            curated.extend(index..index + range.len());
        }
        index += range.len();
    }
    let step = (curated.len() / huge.max(1)).max(1);
    curated.into_iter().step_by(step).take(huge).collect()
}

/// Distinct inputs until there are `wanted` (or the draws run dry), each drawn as
/// [`choose_inputs`] draws them; at least what one draw gives.
fn choose_many(
    at: usize,
    stages: &[(Stage, Range<usize>)],
    datasets: &[Vec<String>; 5],
    rng: &mut Rng,
    wanted: usize,
) -> Vec<String> {
    let mut inputs = choose_inputs(at, stages, datasets, rng);
    for _ in 0..wanted * 4 {
        if inputs.len() >= wanted {
            break;
        }
        for uri in choose_inputs(at, stages, datasets, rng) {
            if !inputs.contains(&uri) {
                inputs.push(uri);
            }
        }
    }
    inputs
}

/// Where a plan sits in the platform.
#[derive(Debug, Clone, Copy)]
struct Site {
    index: usize,
    stage: Stage,
    position: usize,
    huge: bool,
}

/// Splits `count` plans over the lake layers 4:3:2:1, handing any remainder
/// to the earliest layers so that small runs still start at `raw`.
pub fn layer_counts(count: usize) -> [usize; 4] {
    let shares = [4, 3, 2, 1];
    let mut counts = shares.map(|share| count * share / 10);
    let mut remainder = count - counts.iter().sum::<usize>();
    for slot in counts.iter_mut() {
        if remainder == 0 {
            break;
        }
        *slot += 1;
        remainder -= 1;
    }
    // 4:3:2:1 over ten can leave at most 3 over, which the loop has placed.
    debug_assert_eq!(counts.iter().sum::<usize>(), count);
    counts
}

/// Splits one layer's `plans` over at most `most` stages of at least
/// `MIN_STAGE_PLANS` each (a single stage when there are fewer), sizes
/// differing by at most one, the larger first. No plans, no stages.
pub fn stage_sizes(plans: usize, most: usize) -> Vec<usize> {
    if plans == 0 {
        return Vec::new();
    }
    let stages = (plans / MIN_STAGE_PLANS).clamp(1, most);
    (0..stages)
        .map(|k| plans / stages + usize::from(k < plans % stages))
        .collect()
}

/// Fewer source tables than raw jobs, so some tables feed several raw jobs.
fn source_pool_size(raw_jobs: usize) -> usize {
    (raw_jobs * 3 / 4).max(4)
}

const SOURCE_SYSTEMS: [(&str, &[&str]); 3] = [
    (
        "jdbc:postgresql://erp",
        &["orders", "order_lines", "invoices", "products", "suppliers"],
    ),
    (
        "jdbc:mysql://crm",
        &["customers", "contacts", "accounts", "campaigns"],
    ),
    (
        "kafka://events",
        &["clickstream", "payments", "shipments", "sessions"],
    ),
];

fn source_uris(count: usize) -> Vec<String> {
    (0..count)
        .map(|k| {
            let (system, tables) = SOURCE_SYSTEMS[k % SOURCE_SYSTEMS.len()];
            let table = tables[(k / SOURCE_SYSTEMS.len()) % tables.len()];
            format!("{system}/{table}_{k}")
        })
        .collect()
}

/// `s3://lake/cleaned/s2/ds_0042`; the index counts through the whole layer,
/// so the file name alone is unique within it.
fn lake_uri(stage: Stage, index: usize) -> String {
    format!("s3://lake/{stage}/ds_{index:04}")
}

/// Picks distinct inputs for a job of `stages[at]`: raw jobs read 1–3
/// datasets, other jobs 1–5. Each input comes from an earlier stage, how far
/// back drawn from the lookback odds. Only raw jobs read source tables.
fn choose_inputs(
    at: usize,
    stages: &[(Stage, Range<usize>)],
    datasets: &[Vec<String>; 5],
    rng: &mut Rng,
) -> Vec<String> {
    let (wanted, oldest) = if stages[at].0.layer == Layer::Raw {
        (1 + rng.weighted(&[70, 20, 10]), 0)
    } else {
        // Stage 0 is the sources, which only raw jobs read.
        (1 + rng.weighted(&[20, 30, 25, 15, 10]), 1)
    };
    let lookback = lookback_weights(at - oldest);
    let mut inputs: Vec<String> = Vec::with_capacity(wanted);
    // Bounded: duplicates are skipped, and tiny pools may not have `wanted`.
    // Every stage has datasets, so the first draw always succeeds.
    for _ in 0..wanted * 8 {
        if inputs.len() == wanted {
            break;
        }
        let (stage, range) = &stages[at - 1 - rng.weighted(&lookback)];
        let pool = &datasets[stage.layer.index()][range.clone()];
        let uri = &pool[rng.skewed_below(pool.len())];
        if !inputs.contains(uri) {
            inputs.push(uri.clone());
        }
    }
    inputs
}

/// Odds for reading 1, 2, … `reachable` stages back.
fn lookback_weights(reachable: usize) -> Vec<u32> {
    (0..reachable)
        .map(|back| LOOKBACK_NEAR.get(back).copied().unwrap_or(LOOKBACK_TAIL))
        .collect()
}

/// The most attributes a derived-column projection passes on.
const MAX_WIDTH: usize = 190;

/// Operations of a typical plan, fewest and most.
const TYPICAL_OPS: (usize, usize) = (10, 30);

/// Relative odds of each transformation: filter, derived columns, sort, repartition,
/// deduplicate.
const TRANSFORM_ODDS: [u32; 5] = [25, 35, 15, 10, 15];

/// Fixed base for event timestamps (2025-01-01T00:00:00Z) so that generated
/// bytes do not depend on the wall clock.
const EPOCH_MS: i64 = 1_735_689_600_000;

fn build_plan(seed: u64, site: Site, inputs: Vec<String>, output: String, rng: &mut Rng) -> Plan {
    let Site {
        index,
        stage,
        position,
        huge,
    } = site;
    let id = Uuid::new_v5(
        &Uuid::NAMESPACE_URL,
        format!("urn:headwater-bench:{seed}:{index}").as_bytes(),
    );
    let layer = stage.layer;
    let name = format!(
        "{}_{}_s{}_ds_{position:04}",
        layer.verb(),
        layer.name(),
        stage.index
    );
    let ops = match huge {
        true => HUGE_OPS + rng.below(200),
        false => rng.between(TYPICAL_OPS.0, TYPICAL_OPS.1),
    };
    let body = PlanBuilder::new(seed, rng).build(id, &name, layer, &inputs, &output, ops);
    let timestamp_ms = EPOCH_MS + index as i64 * 30_000 + rng.below(30_000) as i64;
    let runs = 1 + rng.weighted(&RUN_ODDS);
    let events = (0..runs)
        .map(|run| {
            let duration_ns =
                rng.between(5, 1_200) as u64 * 1_000_000_000 + rng.below(1_000_000_000) as u64;
            let event = json!([{
                "planId": id.to_string(),
                "timestamp": timestamp_ms + run as i64 * DAY_MS,
                "durationNs": duration_ns,
                "extra": {"appId": format!("app-{seed}-{index}-{run}")},
            }]);
            Bytes::from(event.to_string())
        })
        .collect();
    Plan {
        id,
        name,
        stage,
        inputs,
        output,
        timestamp_ms,
        body: Bytes::from(body.to_string()),
        events,
        huge,
    }
}

/// Spark type names with stable ids, listed in `extraInfo.dataTypes` the way
/// the Spline agent does.
const DATA_TYPES: [&str; 6] = [
    "string",
    "bigint",
    "int",
    "decimal(18,2)",
    "timestamp",
    "boolean",
];
const STRING: usize = 0;
const TIMESTAMP: usize = 4;
const BOOLEAN: usize = 5;

/// Column names and their data-type index: the vocabulary dataset schemas
/// are drawn from.
const COLUMNS: [(&str, usize); 16] = [
    ("id", 1),
    ("customer_id", 1),
    ("order_id", 1),
    ("product_id", 1),
    ("amount", 3),
    ("price", 3),
    ("quantity", 2),
    ("status", 0),
    ("region", 0),
    ("country", 0),
    ("currency", 0),
    ("email", 0),
    ("category", 0),
    ("created_at", 4),
    ("updated_at", 4),
    ("is_active", 5),
];

/// The fewest and most columns a dataset has.
const SCHEMA_WIDTH: (usize, usize) = (4, 8);

/// The columns of the dataset at `uri`, as indexes into `COLUMNS`: distinct,
/// in schema order. A function of the seed and the URI alone (not of which
/// plan asks), so the writer and every reader of a dataset agree on it.
pub fn columns_of(seed: u64, uri: &str) -> Vec<usize> {
    let mut rng = Rng::fork(seed, fnv1a(uri));
    let width = rng.between(SCHEMA_WIDTH.0, SCHEMA_WIDTH.1);
    let mut left: Vec<usize> = (0..COLUMNS.len()).collect();
    (0..width)
        .map(|_| left.swap_remove(rng.below(left.len())))
        .collect()
}

/// FNV-1a: a hash fixed by definition, unlike std's, so schemas stay the
/// same across builds and machines.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xCBF2_9CE4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

/// The odds that the final projection passes a read column of the wanted
/// name through, rather than computing the column afresh.
const PASS_THROUGH: f64 = 0.6;

/// Functions that compute a column from columns of its own type: name,
/// arity, and `symbol` for the binary operators Spline marks with one.
type Function = (&'static str, usize, Option<&'static str>);
const STRING_FUNCTIONS: [Function; 4] = [
    ("concat", 2, None),
    ("upper", 1, None),
    ("trim", 1, None),
    ("lower", 1, None),
];
const NUMBER_FUNCTIONS: [Function; 3] = [
    ("add", 2, Some("+")),
    ("multiply", 2, Some("*")),
    ("coalesce", 2, None),
];
const OTHER_FUNCTIONS: [Function; 1] = [("coalesce", 2, None)];
/// When no input has the column's type.
const CAST: Function = ("cast", 1, None);

const AGGREGATES: [&str; 4] = ["sum", "count", "avg", "max"];

/// The result of one logical operation: its id and output attribute ids.
struct Step {
    id: String,
    output: Vec<String>,
}

/// Accumulates the parts of one plan while its operations are chosen.
struct PlanBuilder<'r> {
    /// The workload seed, which fixes dataset schemas.
    seed: u64,
    rng: &'r mut Rng,
    next_op: usize,
    attributes: Vec<Value>,
    attribute_types: Vec<usize>,
    attribute_names: Vec<String>,
    functions: Vec<Value>,
    constants: Vec<Value>,
    reads: Vec<Value>,
    other: Vec<Value>,
}

impl<'r> PlanBuilder<'r> {
    fn new(seed: u64, rng: &'r mut Rng) -> Self {
        Self {
            seed,
            rng,
            // `op-0` is reserved for the write, as the Spline agent numbers it.
            next_op: 1,
            attributes: Vec::new(),
            attribute_types: Vec::new(),
            attribute_names: Vec::new(),
            functions: Vec::new(),
            constants: Vec::new(),
            reads: Vec::new(),
            other: Vec::new(),
        }
    }

    /// A plan of about `ops` operations: reads and joins, a chain of transformations to make
    /// up the number, an aggregate sometimes, the final projection and the write.
    fn build(
        mut self,
        id: Uuid,
        name: &str,
        layer: Layer,
        inputs: &[String],
        output: &str,
        ops: usize,
    ) -> Value {
        let mut step = self.read_all(inputs);
        let aggregate_odds = match layer {
            Layer::Marts => 0.6,
            Layer::Curated => 0.3,
            _ => 0.0,
        };
        let aggregate = self.rng.chance(aggregate_odds);
        // Still to come after the chain: the aggregate, the projection and the write.
        let after = usize::from(aggregate) + 2;
        while self.next_op + after <= ops {
            step = self.transform(step);
        }
        if aggregate {
            step = self.aggregate(step);
        }
        step = self.project(step, output);
        let write = self.write(step, output);
        self.finish(id, name, write)
    }

    fn op_id(&mut self) -> String {
        let id = format!("op-{}", self.next_op);
        self.next_op += 1;
        id
    }

    fn attribute(&mut self, name: &str, data_type: usize, child: Option<&str>) -> String {
        let id = format!("attr-{}", self.attributes.len());
        let mut attribute = json!({"id": id, "name": name, "dataType": format!("dt-{data_type}")});
        if let Some(expr) = child {
            attribute["childRefs"] = json!([{"__exprId": expr}]);
        }
        self.attributes.push(attribute);
        self.attribute_types.push(data_type);
        self.attribute_names.push(name.to_owned());
        id
    }

    fn expression_id(&self) -> String {
        format!("expr-{}", self.functions.len() + self.constants.len())
    }

    fn function(
        &mut self,
        name: &str,
        data_type: usize,
        children: Vec<Value>,
        extra: Value,
    ) -> String {
        let id = self.expression_id();
        self.functions.push(json!({
            "id": id,
            "name": name,
            "dataType": format!("dt-{data_type}"),
            "childRefs": children,
            "extra": extra,
        }));
        id
    }

    fn constant(&mut self, value: Value, data_type: usize) -> String {
        let id = self.expression_id();
        self.constants.push(json!({
            "id": id,
            "dataType": format!("dt-{data_type}"),
            "value": value,
            "extra": {"_typeHint": "expr.Literal"},
        }));
        id
    }

    fn type_of(&self, attribute: &str) -> usize {
        self.attribute_types[attribute_index(attribute)]
    }

    fn name_of(&self, attribute: &str) -> &str {
        &self.attribute_names[attribute_index(attribute)]
    }

    /// One read per input, except that lake inputs are sometimes read
    /// together (several paths in one relation, their shared columns), then
    /// joined left-deep.
    fn read_all(&mut self, inputs: &[String]) -> Step {
        let mut steps = Vec::new();
        let mut rest = inputs;
        while !rest.is_empty() {
            let together = rest.len() >= 2
                && rest[0].starts_with("s3://")
                && self.rng.chance(0.15)
                && self.shared_columns(&rest[..2]).len() >= 2;
            let (now, later) = rest.split_at(if together { 2 } else { 1 });
            steps.push(self.read(now));
            rest = later;
        }
        let mut steps = steps.into_iter();
        let first = steps.next().expect("at least one input");
        steps.fold(first, |left, right| self.join(left, right))
    }

    /// The columns every one of `sources` has, in the first one's order.
    fn shared_columns(&self, sources: &[String]) -> Vec<usize> {
        let schemas: Vec<Vec<usize>> = sources.iter().map(|s| columns_of(self.seed, s)).collect();
        let (first, others) = schemas.split_first().expect("at least one source");
        let shared = first
            .iter()
            .filter(|c| others.iter().all(|o| o.contains(c)));
        shared.copied().collect()
    }

    /// Reads the sources' columns, by the names their writers gave them.
    fn read(&mut self, sources: &[String]) -> Step {
        let id = self.op_id();
        let output: Vec<String> = self
            .shared_columns(sources)
            .into_iter()
            .map(|column| {
                let (name, data_type) = COLUMNS[column];
                self.attribute(name, data_type, None)
            })
            .collect();
        self.reads.push(json!({
            "id": id,
            "name": "LogicalRelation",
            "inputSources": sources,
            "output": output,
            "params": {"table": sources[0].rsplit('/').next()},
            "extra": {"sourceType": source_type(&sources[0])},
        }));
        Step { id, output }
    }

    fn join(&mut self, left: Step, right: Step) -> Step {
        let id = self.op_id();
        let on = self.function(
            "equalTo",
            BOOLEAN,
            vec![
                json!({"__attrId": left.output[0]}),
                json!({"__attrId": right.output[0]}),
            ],
            json!({"_typeHint": "expr.Binary", "symbol": "="}),
        );
        let join_type = *self.rng.pick(&["INNER", "LEFT OUTER", "INNER"]);
        let output: Vec<String> = left.output.iter().chain(&right.output).cloned().collect();
        self.other.push(json!({
            "id": id,
            "name": "Join",
            "childIds": [left.id, right.id],
            "output": output,
            "params": {"condition": {"__exprId": on}, "joinType": join_type},
        }));
        Step { id, output }
    }

    fn filter(&mut self, child: Step) -> Step {
        let id = self.op_id();
        let column = self.rng.pick(&child.output).clone();
        let threshold = self.rng.below(1_000);
        let limit = self.constant(json!(threshold), 2);
        let condition = self.function(
            "greaterThan",
            BOOLEAN,
            vec![json!({"__attrId": column}), json!({"__exprId": limit})],
            json!({"_typeHint": "expr.Binary", "symbol": ">"}),
        );
        self.other.push(json!({
            "id": id,
            "name": "Filter",
            "childIds": [child.id],
            "output": child.output,
            "params": {"condition": {"__exprId": condition}},
        }));
        Step {
            id,
            output: child.output,
        }
    }

    /// One step of the transformation chain, of the kinds Spark plans are full of.
    fn transform(&mut self, child: Step) -> Step {
        match self.rng.weighted(&TRANSFORM_ODDS) {
            0 => self.filter(child),
            1 => self.derive(child),
            2 => self.pass("Sort", child, "order"),
            3 => self.pass("RepartitionByExpression", child, "partitionExpressions"),
            _ => self.pass("Deduplicate", child, "keys"),
        }
    }

    /// An operation that keeps its input's attributes, with one of them as a parameter.
    fn pass(&mut self, name: &str, child: Step, param: &str) -> Step {
        let id = self.op_id();
        let column = self.rng.pick(&child.output).clone();
        self.other.push(json!({
            "id": id,
            "name": name,
            "childIds": [child.id],
            "output": child.output,
            "params": {param: [{"__attrId": column}]},
        }));
        Step {
            id,
            output: child.output,
        }
    }

    /// A projection that keeps every attribute and computes a few new ones from them, as
    /// `withColumn` does; later steps may compute from those in turn.
    fn derive(&mut self, child: Step) -> Step {
        let id = self.op_id();
        // Wide plans drop their oldest attributes as they go, as long pipelines select.
        let kept = &child.output[child.output.len().saturating_sub(MAX_WIDTH)..];
        let mut output = kept.to_vec();
        let mut list: Vec<Value> = kept.iter().map(|a| json!({"__attrId": a})).collect();
        for _ in 0..self.rng.between(2, 4) {
            let (name, data_type) = COLUMNS[self.rng.below(COLUMNS.len())];
            let derived = format!("{name}_{}", self.attributes.len());
            let (attribute, expr) = self.derived_column(&derived, data_type, &child.output);
            list.push(json!({"__exprId": expr}));
            output.push(attribute);
        }
        self.other.push(json!({
            "id": id,
            "name": "Project",
            "childIds": [child.id],
            "output": output,
            "params": {"projectList": list},
        }));
        Step { id, output }
    }

    fn aggregate(&mut self, child: Step) -> Step {
        let id = self.op_id();
        let keys = self.rng.between(1, 2.min(child.output.len()));
        let mut output: Vec<String> = child.output[..keys].to_vec();
        let mut aggregates: Vec<Value> = Vec::new();
        for _ in 0..self.rng.between(1, 3) {
            let function = *self.rng.pick(&AGGREGATES);
            let column = self.rng.pick(&child.output).clone();
            let expr = self.function(
                function,
                3,
                vec![json!({"__attrId": column})],
                json!({"_typeHint": "expr.AggregateExpression"}),
            );
            output.push(self.attribute(&format!("{function}_{}", output.len()), 3, Some(&expr)));
            aggregates.push(json!({"__exprId": expr}));
        }
        self.other.push(json!({
            "id": id,
            "name": "Aggregate",
            "childIds": [child.id],
            "output": output,
            "params": {
                "groupingExpressions": child.output[..keys].iter().map(|a| json!({"__attrId": a})).collect::<Vec<_>>(),
                "aggregateExpressions": aggregates,
            },
        }));
        Step { id, output }
    }

    /// The final projection: exactly the columns of the dataset written to
    /// (`output`), in its schema order. Each is a column of that name passed
    /// through from the input when there is one (and the odds say so), or
    /// else computed from input columns: an attribute whose `childRefs` name
    /// its expression.
    fn project(&mut self, child: Step, output: &str) -> Step {
        let id = self.op_id();
        let mut columns: Vec<String> = Vec::new();
        let mut list: Vec<Value> = Vec::new();
        for column in columns_of(self.seed, output) {
            let (name, data_type) = COLUMNS[column];
            let same = child.output.iter().find(|a| self.name_of(a) == name);
            match same.cloned() {
                Some(attribute) if self.rng.chance(PASS_THROUGH) => {
                    list.push(json!({"__attrId": attribute}));
                    columns.push(attribute);
                }
                _ => {
                    let (attribute, expr) = self.derived_column(name, data_type, &child.output);
                    list.push(json!({"__exprId": expr}));
                    columns.push(attribute);
                }
            }
        }
        self.other.push(json!({
            "id": id,
            "name": "Project",
            "childIds": [child.id],
            "output": columns,
            "params": {"projectList": list},
        }));
        Step {
            id,
            output: columns,
        }
    }

    /// A new attribute `name` of `data_type`, computed from `inputs` of the
    /// same type if there are any (else cast from any input), so that it
    /// always derives from at least one input column.
    fn derived_column(
        &mut self,
        name: &str,
        data_type: usize,
        inputs: &[String],
    ) -> (String, String) {
        let typed: Vec<String> = inputs
            .iter()
            .filter(|a| self.type_of(a) == data_type)
            .cloned()
            .collect();
        let (function, arity, symbol) = match (typed.is_empty(), data_type) {
            (true, _) => CAST,
            (false, STRING) => *self.rng.pick(&STRING_FUNCTIONS),
            (false, TIMESTAMP | BOOLEAN) => *self.rng.pick(&OTHER_FUNCTIONS),
            (false, _) => *self.rng.pick(&NUMBER_FUNCTIONS),
        };
        let pool = if typed.is_empty() { inputs } else { &typed };
        let mut children = vec![json!({"__attrId": self.rng.pick(pool)})];
        if arity == 2 {
            if self.rng.chance(0.3) {
                let value = literal(data_type, self.rng.below(100));
                let literal = self.constant(value, data_type);
                children.push(json!({"__exprId": literal}));
            } else {
                children.push(json!({"__attrId": self.rng.pick(pool)}));
            }
        }
        let extra = match symbol {
            Some(symbol) => json!({"_typeHint": "expr.Binary", "symbol": symbol}),
            None => json!({"_typeHint": "expr.Generic"}),
        };
        let expr = self.function(function, data_type, children, extra);
        let attribute = self.attribute(name, data_type, Some(&expr));
        (attribute, expr)
    }

    fn write(&mut self, child: Step, output: &str) -> Value {
        let append = self.rng.chance(0.3);
        json!({
            "id": "op-0",
            "name": "InsertIntoHadoopFsRelationCommand",
            "outputSource": output,
            "append": append,
            "childIds": [child.id],
            "params": {"path": output, "mode": if append { "Append" } else { "Overwrite" }},
            "extra": {"destinationType": "parquet"},
        })
    }

    fn finish(self, id: Uuid, name: &str, write: Value) -> Value {
        let data_types: Vec<Value> = DATA_TYPES
            .iter()
            .enumerate()
            .map(|(i, t)| json!({"_typeHint": "dt.Simple", "id": format!("dt-{i}"), "name": t, "nullable": true}))
            .collect();
        json!({
            "id": id.to_string(),
            "name": name,
            "operations": {"write": write, "reads": self.reads, "other": self.other},
            "attributes": self.attributes,
            "expressions": {"functions": self.functions, "constants": self.constants},
            "systemInfo": {"name": "spark", "version": "3.5.1"},
            "agentInfo": {"name": "spline", "version": "2.2.0"},
            "extraInfo": {"appName": name, "dataTypes": data_types},
        })
    }
}

/// The index in `PlanBuilder::attributes` of a generated attribute id.
fn attribute_index(attribute: &str) -> usize {
    attribute["attr-".len()..]
        .parse()
        .expect("generated attribute id")
}

/// A literal operand of `data_type` made from a small number.
fn literal(data_type: usize, n: usize) -> Value {
    match data_type {
        STRING => json!(format!("n/a-{n}")),
        TIMESTAMP => json!(format!("2025-01-{:02} 00:00:00", n % 28 + 1)),
        BOOLEAN => json!(n.is_multiple_of(2)),
        _ => json!(n),
    }
}

fn source_type(uri: &str) -> &'static str {
    if uri.starts_with("jdbc:") {
        "jdbc"
    } else if uri.starts_with("kafka:") {
        "kafka"
    } else {
        "parquet"
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::validate;

    #[test]
    fn same_seed_same_bytes() {
        let a = generate(300, 9);
        let b = generate(300, 9);
        assert_eq!(a.plans.len(), 300);
        for (x, y) in a.plans.iter().zip(&b.plans) {
            assert_eq!(x.id, y.id);
            assert_eq!(x.body, y.body);
            assert_eq!(x.events, y.events);
        }
    }

    /// Operations and attributes of a plan body.
    fn size(plan: &Plan) -> (usize, usize) {
        let body: Value = serde_json::from_slice(&plan.body).unwrap();
        let ops = &body["operations"];
        let count = |v: &Value| v.as_array().map_or(0, Vec::len);
        (
            count(&ops["reads"]) + count(&ops["other"]) + 1,
            count(&body["attributes"]),
        )
    }

    #[test]
    fn typical_plans_are_mid_sized_and_a_few_are_huge() {
        let workload = generate_with(400, 2, 42);
        let (huge, typical): (Vec<&Plan>, Vec<&Plan>) = workload.plans.iter().partition(|p| p.huge);
        assert_eq!(huge.len(), 2);
        for plan in huge {
            let (ops, _) = size(plan);
            assert!(ops >= 2_000, "{ops} operations");
            assert!(plan.body.len() > 5_000_000, "{} bytes", plan.body.len());
            assert_eq!(plan.stage.layer, Layer::Curated);
        }
        let sizes: Vec<(usize, usize)> = typical.iter().map(|p| size(p)).collect();
        assert!(
            sizes.iter().all(|(ops, _)| (10..=30).contains(ops)),
            "{sizes:?}"
        );
        let in_range = sizes.iter().filter(|(_, a)| (20..=80).contains(a)).count();
        assert!(
            in_range * 10 >= sizes.len() * 8,
            "{in_range} of {}",
            sizes.len()
        );
        let runs: usize = workload.plans.iter().map(Plan::runs).sum();
        assert!(runs > 3 * workload.plans.len(), "{runs} runs");
    }

    #[test]
    fn different_seed_different_plans() {
        let a = generate(50, 1);
        let b = generate(50, 2);
        assert_ne!(a.plans[0].id, b.plans[0].id);
        assert!(
            a.plans
                .iter()
                .zip(&b.plans)
                .any(|(x, y)| x.inputs != y.inputs)
        );
    }

    #[test]
    fn every_plan_is_valid_and_layered() {
        for count in [1, 2, 3, 7, 10, 500] {
            let workload = generate(count, 42);
            assert_eq!(workload.plans.len(), count);
            validate::check_workload(&workload).unwrap_or_else(|e| panic!("{count} plans: {e}"));
        }
    }

    #[test]
    fn layers_split_four_three_two_one() {
        assert_eq!(layer_counts(2000), [800, 600, 400, 200]);
        assert_eq!(layer_counts(1), [1, 0, 0, 0]);
        assert_eq!(layer_counts(13), [6, 4, 2, 1]);
        let workload = generate(2000, 3);
        assert_eq!(workload.plans_in(Layer::Marts), 200);
        assert_eq!(workload.datasets(Layer::Cleaned).len(), 600);
    }

    #[test]
    fn layers_split_into_stages() {
        assert_eq!(stage_sizes(800, 3), [267, 267, 266]);
        assert_eq!(stage_sizes(200, 5), [40; 5]);
        assert_eq!(stage_sizes(25, 6), [13, 12]);
        assert_eq!(stage_sizes(7, 6), [7]);
        assert!(stage_sizes(0, 6).is_empty());
        let workload = generate(2000, 42);
        let stages = Layer::LAKE.map(|layer| workload.stages_in(layer));
        assert_eq!(stages, MAX_STAGES);
        assert_eq!(
            workload.plans[0].output, "s3://lake/raw/s0/ds_0000",
            "posting starts with the first raw stage"
        );
        let places = workload.stage_of();
        for plan in &workload.plans {
            assert_eq!(places[plan.output.as_str()], plan.stage);
            assert!(
                plan.output
                    .starts_with(&format!("s3://lake/{}/ds_", plan.stage)),
                "{} writes {}",
                plan.name,
                plan.output
            );
        }
    }

    /// Every read as (job's stage, input's stage, how many stages back).
    fn lookbacks(workload: &Workload) -> Vec<(Stage, Stage, usize)> {
        let places = workload.stage_of();
        let mut order: Vec<Stage> = places.values().copied().collect();
        order.sort();
        order.dedup();
        let at = |stage: Stage| order.binary_search(&stage).unwrap();
        workload
            .plans
            .iter()
            .flat_map(|plan| {
                plan.inputs.iter().map(|input| {
                    let from = places[input.as_str()];
                    (plan.stage, from, at(plan.stage) - at(from))
                })
            })
            .collect()
    }

    #[test]
    fn inputs_lean_on_the_stage_just_before() {
        let workload = generate(2000, 42);
        let reads = lookbacks(&workload);
        let share = |pred: &dyn Fn(&(Stage, Stage, usize)) -> bool| {
            reads.iter().filter(|r| pred(r)).count() as f64 / reads.len() as f64
        };
        let previous = share(&|r| r.2 == 1);
        assert!((0.7..0.9).contains(&previous), "{previous} of reads");
        // Older stages of the job's own layer, and older layers, are read too:
        // later raw stages read sources, marts read cleaned tables.
        assert!(share(&|(job, input, back)| *back > 1 && job.layer == input.layer) > 0.02);
        assert!(share(&|(job, input, _)| input.layer == Layer::Source && job.index > 0) > 0.0);
        assert!(
            share(&|(job, input, _)| job.layer == Layer::Marts && input.layer == Layer::Cleaned)
                > 0.0
        );
    }

    #[test]
    fn longest_path_is_deeper_than_the_default_depth() {
        for seed in [42, 1, 2] {
            let workload = generate(2000, seed);
            // Jobs on the longest path starting at each job, walking readers
            // downstream; independent of `Workload::longest_path`, which walks
            // writers in posting order.
            let mut readers: HashMap<&str, Vec<usize>> = HashMap::new();
            for (index, plan) in workload.plans.iter().enumerate() {
                for input in &plan.inputs {
                    readers.entry(input).or_default().push(index);
                }
            }
            fn from(
                job: usize,
                plans: &[Plan],
                readers: &HashMap<&str, Vec<usize>>,
                memo: &mut HashMap<usize, usize>,
            ) -> usize {
                if let Some(&known) = memo.get(&job) {
                    return known;
                }
                let next = readers.get(plans[job].output.as_str());
                let after = next
                    .into_iter()
                    .flatten()
                    .map(|&reader| from(reader, plans, readers, memo))
                    .max()
                    .unwrap_or(0);
                memo.insert(job, after + 1);
                after + 1
            }
            let mut memo = HashMap::new();
            let longest = (0..workload.plans.len())
                .map(|job| from(job, &workload.plans, &readers, &mut memo))
                .max()
                .unwrap();
            assert!(longest > 10, "seed {seed}: longest path {longest} jobs");
            assert!((16..=24).contains(&longest), "seed {seed}: {longest}");
            assert_eq!(workload.longest_path(), longest);
        }
        assert_eq!(generate(1, 42).longest_path(), 1);
    }

    #[test]
    fn plans_have_realistic_bulk() {
        let workload = generate(400, 5);
        let average = workload.total_body_bytes() / workload.plans.len();
        assert!(
            (2_000..20_000).contains(&average),
            "average plan is {average} bytes"
        );
        for plan in &workload.plans {
            let input_count = plan.inputs.len();
            let allowed = if plan.stage.layer == Layer::Raw {
                1..=3
            } else {
                1..=5
            };
            assert!(
                allowed.contains(&input_count),
                "{} reads {input_count}",
                plan.name
            );
        }
    }

    /// The column-level `derives` edges the service draws from the plans,
    /// as (source, target) `uri#column` pairs: each written column from the
    /// read columns its attribute is computed from (through `childRefs` and
    /// expressions), a read attribute standing for that column of every
    /// source its read reads.
    pub(crate) fn column_edges(workload: &Workload) -> Vec<(String, String)> {
        let mut edges = Vec::new();
        for plan in &workload.plans {
            let body: Value = serde_json::from_slice(&plan.body).unwrap();
            let list = |v: &Value| v.as_array().cloned().unwrap_or_default();
            let text = |v: &Value| v.as_str().unwrap().to_owned();
            let attributes = list(&body["attributes"]);
            let name: HashMap<String, String> = attributes
                .iter()
                .map(|a| (text(&a["id"]), text(&a["name"])))
                .collect();
            let refs: HashMap<String, Vec<Value>> = attributes
                .iter()
                .chain(&list(&body["expressions"]["functions"]))
                .map(|x| (text(&x["id"]), list(&x["childRefs"])))
                .collect();
            let mut read: HashMap<String, Vec<String>> = HashMap::new();
            for op in list(&body["operations"]["reads"]) {
                for attribute in list(&op["output"]) {
                    let columns: Vec<String> = list(&op["inputSources"])
                        .iter()
                        .map(|uri| format!("{}#{}", text(uri), name[&text(&attribute)]))
                        .collect();
                    read.entry(text(&attribute)).or_default().extend(columns);
                }
            }
            let write_child = text(&body["operations"]["write"]["childIds"][0]);
            let project = list(&body["operations"]["other"])
                .into_iter()
                .find(|op| text(&op["id"]) == write_child)
                .unwrap();
            for attribute in list(&project["output"]) {
                let target = format!("{}#{}", plan.output, name[&text(&attribute)]);
                let mut stack = vec![attribute];
                while let Some(reference) = stack.pop() {
                    let id = reference
                        .as_str()
                        .or(reference["__attrId"].as_str())
                        .or(reference["__exprId"].as_str())
                        .unwrap()
                        .to_owned();
                    match read.get(&id) {
                        Some(columns) => {
                            edges.extend(columns.iter().map(|c| (c.clone(), target.clone())))
                        }
                        None => stack.extend(refs.get(&id).cloned().unwrap_or_default()),
                    }
                }
            }
        }
        edges.sort();
        edges.dedup();
        edges
    }

    #[test]
    fn column_lineage_runs_across_jobs() {
        let workload = generate(2000, 42);
        let edges = column_edges(&workload);
        let column = |key: &str| {
            let (uri, name) = key.rsplit_once('#').unwrap();
            (uri.to_owned(), name.to_owned())
        };
        // Every column read is one its dataset has (so, for lake datasets,
        // one its writer wrote under that name).
        for (source, target) in &edges {
            let (uri, name) = column(source);
            assert!(
                workload.columns(&uri).contains(&name.as_str()),
                "{source} → {target}"
            );
        }
        // Every column written is derived from at least one read column.
        let mut upstream: HashMap<&str, Vec<&str>> = HashMap::new();
        for (source, target) in &edges {
            upstream.entry(target).or_default().push(source);
        }
        for plan in &workload.plans {
            for name in workload.columns(&plan.output) {
                let key = format!("{}#{name}", plan.output);
                assert!(
                    upstream.contains_key(key.as_str()),
                    "{key} derives from nothing"
                );
            }
        }
        // Derivation chains are as long as dataset lineage paths: a mart
        // column goes back more derivations than the default depth.
        fn longest(
            key: &str,
            up: &HashMap<&str, Vec<&str>>,
            memo: &mut HashMap<String, usize>,
        ) -> usize {
            if let Some(&known) = memo.get(key) {
                return known;
            }
            let deepest = up
                .get(key)
                .into_iter()
                .flatten()
                .map(|s| 1 + longest(s, up, memo))
                .max();
            memo.insert(key.to_owned(), deepest.unwrap_or(0));
            deepest.unwrap_or(0)
        }
        let mut memo = HashMap::new();
        let deepest = upstream
            .keys()
            .map(|k| longest(k, &upstream, &mut memo))
            .max()
            .unwrap();
        assert!(deepest > 10, "longest derivation chain {deepest}");
        // Computed columns, not only renamed ones, carry the lineage.
        let computed = edges
            .iter()
            .filter(|(s, t)| column(s).1 != column(t).1)
            .count();
        assert!(
            computed * 5 > edges.len(),
            "{computed} of {} edges compute",
            edges.len()
        );
    }

    #[test]
    fn schemas_are_fixed_by_seed_and_uri() {
        let uri = "s3://lake/cleaned/s2/ds_0042";
        assert_eq!(columns_of(7, uri), columns_of(7, uri));
        let widths: Vec<usize> = (0..50)
            .map(|k| columns_of(7, &format!("{uri}{k}")).len())
            .collect();
        assert!(
            widths
                .iter()
                .all(|w| (SCHEMA_WIDTH.0..=SCHEMA_WIDTH.1).contains(w))
        );
        assert!(widths.iter().any(|w| *w != widths[0]));
        let mut columns = columns_of(7, uri);
        columns.sort();
        columns.dedup();
        assert_eq!(columns.len(), columns_of(7, uri).len());
    }

    #[test]
    fn some_read_ops_list_several_sources() {
        let workload = generate(500, 11);
        let several = workload.plans.iter().any(|plan| {
            let body: Value = serde_json::from_slice(&plan.body).unwrap();
            body["operations"]["reads"]
                .as_array()
                .unwrap()
                .iter()
                .any(|read| read["inputSources"].as_array().unwrap().len() > 1)
        });
        assert!(several);
    }
}
