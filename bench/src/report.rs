//! Turns measurements into the printed report and the JSON record.
//!
//! The ratios come first in spirit: absolute figures from a shared 2-core
//! machine move from run to run, while the service-to-reference ratio,
//! measured minutes apart on the same box and data, is what stays comparable.

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::generate::{Layer, Workload};
use crate::paths::{self, Pair, PathAnswer};
use crate::query::{Answer, Direction, Side, Start};
use crate::reference::{KindRows, TableOrigin};
use crate::stats::{Summary, ratio, round3};

/// The run's settings, echoed so a JSON file explains itself.
#[derive(Debug, Clone)]
pub struct Settings {
    pub url: String,
    pub plans: usize,
    pub concurrency: usize,
    pub queries: usize,
    pub depth: u32,
    pub column_queries: usize,
    pub path_queries: usize,
    pub seed: u64,
}

/// One ingest phase. `rows` is known only for the reference, which writes
/// the rows itself.
#[derive(Debug, Clone)]
pub struct Ingest {
    pub plans: usize,
    pub wall: Duration,
    pub latency: Summary,
    pub rows: Option<usize>,
}

impl Ingest {
    pub fn new(plans: usize, wall: Duration, latencies: &[Duration], rows: Option<usize>) -> Self {
        Self {
            plans,
            wall,
            latency: Summary::of(latencies),
            rows,
        }
    }

    pub fn plans_per_s(&self) -> f64 {
        per_second(self.plans, self.wall)
    }

    pub fn rows_per_s(&self) -> Option<f64> {
        self.rows.map(|rows| per_second(rows, self.wall))
    }

    fn to_json(&self) -> Value {
        json!({
            "plans": self.plans,
            "wall_s": round3(self.wall.as_secs_f64()),
            "plans_per_s": round3(self.plans_per_s()),
            "rows": self.rows,
            "rows_per_s": self.rows_per_s().map(round3),
            "latency": self.latency.to_json(),
        })
    }
}

fn per_second(count: usize, wall: Duration) -> f64 {
    let seconds = wall.as_secs_f64();
    if seconds > 0.0 {
        count as f64 / seconds
    } else {
        0.0
    }
}

/// One side of the lineage phase.
#[derive(Debug, Clone)]
pub struct Lineage {
    pub latency: Summary,
    pub mean_nodes: f64,
    pub mean_edges: f64,
    pub mean_bytes: f64,
    pub max_depth_reached: Option<i64>,
    pub truncated: usize,
}

impl Lineage {
    pub fn of(side: &Side) -> Self {
        let count = side.answers.len().max(1) as f64;
        let mean =
            |f: fn(&Answer) -> usize| side.answers.iter().map(f).sum::<usize>() as f64 / count;
        Self {
            latency: Summary::of(&side.latencies),
            mean_nodes: mean(|a| a.nodes),
            mean_edges: mean(|a| a.edges),
            mean_bytes: mean(|a| a.bytes),
            max_depth_reached: side.answers.iter().filter_map(|a| a.depth_reached).max(),
            truncated: side.answers.iter().filter(|a| a.truncated).count(),
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "latency": self.latency.to_json(),
            "mean_nodes": round3(self.mean_nodes),
            "mean_edges": round3(self.mean_edges),
            "mean_answer_bytes": round3(self.mean_bytes),
            "max_depth_reached": self.max_depth_reached,
            "truncated_answers": self.truncated,
        })
    }
}

/// One side of the path phase.
#[derive(Debug, Clone)]
pub struct Paths {
    pub latency: Summary,
    pub mean_paths: f64,
    pub mean_shortest: f64,
    pub mean_bytes: f64,
    /// Answers that said more paths exist than were listed.
    pub truncated: usize,
}

impl Paths {
    pub fn of(side: &Side<PathAnswer>) -> Self {
        let count = side.answers.len().max(1) as f64;
        let mean =
            |f: fn(&PathAnswer) -> usize| side.answers.iter().map(f).sum::<usize>() as f64 / count;
        Self {
            latency: Summary::of(&side.latencies),
            mean_paths: mean(|a| a.paths),
            mean_shortest: mean(|a| a.shortest),
            mean_bytes: mean(|a| a.bytes),
            truncated: side.answers.iter().filter(|a| a.truncated).count(),
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "latency": self.latency.to_json(),
            "mean_paths": round3(self.mean_paths),
            "mean_shortest_edges": round3(self.mean_shortest),
            "mean_answer_bytes": round3(self.mean_bytes),
            "truncated_answers": self.truncated,
        })
    }
}

/// The reference side, when it ran.
#[derive(Debug, Clone)]
pub struct Reference {
    pub tables: TableOrigin,
    pub ingest: Ingest,
    /// Rows per node and edge kind, the service's next to the reference's:
    /// a check that the ingest ratio compares the same amount of work.
    pub rows_by_kind: Vec<KindRows>,
    pub lineage: Lineage,
    /// Queries where both sides returned the same number of nodes: a cheap
    /// check that the two traversals really answer the same question.
    pub node_counts_agree: usize,
    /// Queries where both sides agreed on whether the depth cut nodes off.
    pub truncation_agrees: usize,
    pub columns: Lineage,
    /// Column queries where both sides returned the same number of columns,
    /// and agreed on truncation.
    pub column_counts_agree: usize,
    pub column_truncation_agrees: usize,
    pub paths: Paths,
    /// Path queries where both sides' shortest paths had the same length,
    /// listed as many paths, and agreed on whether there were more.
    pub shortest_agrees: usize,
    pub path_counts_agree: usize,
}

impl Reference {
    /// Kinds of which both sides stored as many rows.
    pub fn kinds_agreeing(&self) -> usize {
        self.rows_by_kind.iter().filter(|k| k.agrees()).count()
    }
}

/// Everything one run measured.
#[derive(Debug, Clone)]
pub struct Report {
    pub started: DateTime<Utc>,
    pub settings: Settings,
    pub workload: WorkloadFacts,
    pub ingest: Ingest,
    /// Plans whose 201 answer was not our plan id as a JSON string.
    pub ids_not_echoed: usize,
    pub lineage: Lineage,
    pub downstream_queries: usize,
    pub columns: Lineage,
    pub paths: Paths,
    /// How many path pairs are 1, 2, … jobs apart.
    pub pairs_by_jobs: Vec<usize>,
    pub reference: Option<Reference>,
}

/// The shape of the generated platform.
#[derive(Debug, Clone)]
pub struct WorkloadFacts {
    /// Layer name, plans, stages.
    pub per_layer: Vec<(&'static str, usize, usize)>,
    /// Jobs on the longest lineage path.
    pub longest_path: usize,
    pub source_datasets: usize,
    pub input_edges: usize,
    pub mean_plan_bytes: f64,
    pub mean_event_bytes: f64,
    /// Columns per dataset, over every dataset of the platform.
    pub mean_columns: f64,
}

impl WorkloadFacts {
    pub fn of(workload: &Workload) -> Self {
        let count = workload.plans.len().max(1) as f64;
        Self {
            per_layer: Layer::LAKE
                .iter()
                .map(|l| (l.name(), workload.plans_in(*l), workload.stages_in(*l)))
                .collect(),
            longest_path: workload.longest_path(),
            source_datasets: workload.datasets(Layer::Source).len(),
            input_edges: workload.plans.iter().map(|p| p.inputs.len()).sum(),
            mean_plan_bytes: workload.total_body_bytes() as f64 / count,
            mean_event_bytes: workload.plans.iter().map(|p| p.event.len()).sum::<usize>() as f64
                / count,
            mean_columns: {
                let layers = std::iter::once(Layer::Source).chain(Layer::LAKE);
                let datasets: Vec<&String> = layers.flat_map(|l| workload.datasets(l)).collect();
                let columns: usize = datasets.iter().map(|d| workload.columns(d).len()).sum();
                columns as f64 / datasets.len().max(1) as f64
            },
        }
    }
}

/// How many pairs are 1, 2, … `paths::MAX_LENGTH / 2` jobs apart.
pub fn count_by_jobs(pairs: &[Pair]) -> Vec<usize> {
    (1..=paths::MAX_LENGTH / 2)
        .map(|jobs| pairs.iter().filter(|p| p.jobs == jobs).count())
        .collect()
}

pub fn count_downstream(starts: &[Start]) -> usize {
    starts
        .iter()
        .filter(|s| s.direction == Direction::Downstream)
        .count()
}

/// Headwater ÷ reference. Throughput above 1 or latency below 1 would mean
/// the service beats hand-written SQL, which should make you suspicious.
#[derive(Debug, Clone, Copy)]
pub struct Ratios {
    pub ingest_plans_per_s: Option<f64>,
    pub lineage_p50: Option<f64>,
    pub lineage_p99: Option<f64>,
    pub column_lineage_p50: Option<f64>,
    pub column_lineage_p99: Option<f64>,
    pub paths_p50: Option<f64>,
    pub paths_p99: Option<f64>,
}

impl Report {
    pub fn ratios(&self) -> Option<Ratios> {
        let reference = self.reference.as_ref()?;
        let latency = |service: &Summary, reference: &Summary| {
            (
                ratio(service.p50_ms, reference.p50_ms),
                ratio(service.p99_ms, reference.p99_ms),
            )
        };
        let (column_lineage_p50, column_lineage_p99) =
            latency(&self.columns.latency, &reference.columns.latency);
        let (paths_p50, paths_p99) = latency(&self.paths.latency, &reference.paths.latency);
        Some(Ratios {
            ingest_plans_per_s: ratio(self.ingest.plans_per_s(), reference.ingest.plans_per_s()),
            lineage_p50: ratio(
                self.lineage.latency.p50_ms,
                reference.lineage.latency.p50_ms,
            ),
            lineage_p99: ratio(
                self.lineage.latency.p99_ms,
                reference.lineage.latency.p99_ms,
            ),
            column_lineage_p50,
            column_lineage_p99,
            paths_p50,
            paths_p99,
        })
    }

    pub fn to_json(&self) -> Value {
        let s = &self.settings;
        let w = &self.workload;
        json!({
            "format": 2,
            "started": self.started.to_rfc3339_opts(SecondsFormat::Secs, true),
            "settings": {
                "url": s.url, "plans": s.plans, "concurrency": s.concurrency,
                "queries": s.queries, "depth": s.depth, "seed": s.seed,
                "column_queries": s.column_queries, "column_depth": crate::columns::DEPTH,
                "path_queries": s.path_queries, "max_paths": paths::MAX_PATHS,
                "max_length": paths::MAX_LENGTH,
                "reference": self.reference.is_some(),
            },
            "machine": {
                "cpus": std::thread::available_parallelism().map(usize::from).ok(),
                "os": std::env::consts::OS,
                "arch": std::env::consts::ARCH,
            },
            "workload": {
                "plans_per_layer": w.per_layer.iter().map(|(l, n, _)| (l.to_string(), json!(n))).collect::<serde_json::Map<_, _>>(),
                "stages_per_layer": w.per_layer.iter().map(|(l, _, k)| (l.to_string(), json!(k))).collect::<serde_json::Map<_, _>>(),
                "longest_path_jobs": w.longest_path,
                "source_datasets": w.source_datasets,
                "input_edges": w.input_edges,
                "mean_plan_bytes": round3(w.mean_plan_bytes),
                "mean_event_bytes": round3(w.mean_event_bytes),
                "mean_columns_per_dataset": round3(w.mean_columns),
                "path_pairs_by_jobs": self.pairs_by_jobs,
            },
            "headwater": {
                "ingest": self.ingest.to_json(),
                "ids_not_echoed": self.ids_not_echoed,
                "lineage": self.lineage.to_json(),
                "downstream_queries": self.downstream_queries,
                "upstream_queries": s.queries - self.downstream_queries,
                "column_lineage": self.columns.to_json(),
                "paths": self.paths.to_json(),
            },
            "reference": self.reference.as_ref().map(|r| json!({
                "tables": r.tables.describe(),
                "ingest": r.ingest.to_json(),
                "rows_by_kind": r.rows_by_kind.iter().map(|k| json!({
                    "kind": k.kind, "headwater": k.service, "reference": k.reference,
                })).collect::<Vec<_>>(),
                "row_kinds_agree": r.kinds_agreeing(),
                "lineage": r.lineage.to_json(),
                "node_counts_agree": r.node_counts_agree,
                "truncation_agrees": r.truncation_agrees,
                "column_lineage": r.columns.to_json(),
                "column_counts_agree": r.column_counts_agree,
                "column_truncation_agrees": r.column_truncation_agrees,
                "paths": r.paths.to_json(),
                "shortest_agrees": r.shortest_agrees,
                "path_counts_agree": r.path_counts_agree,
            })),
            "ratios": self.ratios().map(|r| json!({
                "ingest_plans_per_s": r.ingest_plans_per_s.map(round3),
                "lineage_p50": r.lineage_p50.map(round3),
                "lineage_p99": r.lineage_p99.map(round3),
                "column_lineage_p50": r.column_lineage_p50.map(round3),
                "column_lineage_p99": r.column_lineage_p99.map(round3),
                "paths_p50": r.paths_p50.map(round3),
                "paths_p99": r.paths_p99.map(round3),
            })),
        })
    }

    /// Writes `<dir>/<UTC timestamp>.json`, never overwriting an earlier run.
    pub fn write(&self, dir: &Path) -> Result<PathBuf> {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let stem = self.started.format("%Y%m%dT%H%M%SZ").to_string();
        let text = serde_json::to_string_pretty(&self.to_json())? + "\n";
        for attempt in 0..100 {
            let name = match attempt {
                0 => format!("{stem}.json"),
                n => format!("{stem}-{n}.json"),
            };
            let path = dir.join(name);
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut file) => {
                    file.write_all(text.as_bytes())
                        .with_context(|| format!("writing {}", path.display()))?;
                    return Ok(path);
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e).with_context(|| format!("creating {}", path.display())),
            }
        }
        anyhow::bail!("100 reports for {stem} already exist in {}", dir.display())
    }

    /// The human-readable report.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.render_header(&mut out);
        self.render_ingest(&mut out);
        self.render_rows_by_kind(&mut out);
        self.render_lineage(&mut out);
        self.render_columns(&mut out);
        self.render_paths(&mut out);
        self.render_ratios(&mut out);
        out
    }

    fn render_header(&self, out: &mut String) {
        let s = &self.settings;
        let w = &self.workload;
        let layers: Vec<String> = w
            .per_layer
            .iter()
            .map(|(l, n, k)| format!("{l} {n} in {k} stage{}", if *k == 1 { "" } else { "s" }))
            .collect();
        line(
            out,
            format!(
                "Headwater benchmark, {}",
                self.started.to_rfc3339_opts(SecondsFormat::Secs, true)
            ),
        );
        line(out, format!("  service     {}", s.url));
        line(
            out,
            format!(
                "  workload    {} plans ({}), seed {}, {:.1} KB per plan, {} source datasets, {} input edges, longest path {} jobs, {:.1} columns per dataset",
                s.plans,
                layers.join(" / "),
                s.seed,
                w.mean_plan_bytes / 1024.0,
                w.source_datasets,
                w.input_edges,
                w.longest_path,
                w.mean_columns
            ),
        );
        line(
            out,
            format!(
                "  settings    concurrency {}, {} lineage queries at depth {} ({} downstream from raw, {} upstream from marts)",
                s.concurrency,
                s.queries,
                s.depth,
                self.downstream_queries,
                s.queries - self.downstream_queries
            ),
        );
        let apart: Vec<String> = self.pairs_by_jobs.iter().map(usize::to_string).collect();
        line(
            out,
            format!(
                "              {} column-lineage queries upstream from mart columns at depth {}; {} path queries (maxPaths {}, maxLength {}), pairs 1..{} jobs apart: {}",
                s.column_queries,
                crate::columns::DEPTH,
                s.path_queries,
                paths::MAX_PATHS,
                paths::MAX_LENGTH,
                self.pairs_by_jobs.len(),
                apart.join("/")
            ),
        );
        let reference = match &self.reference {
            Some(r) => format!("on; scratch tables {}", r.tables.describe()),
            None => "skipped (--skip-reference)".into(),
        };
        line(out, format!("  reference   {reference}"));
        if self.ids_not_echoed > 0 {
            line(
                out,
                format!(
                    "  note        {} plan POSTs did not echo the plan id",
                    self.ids_not_echoed
                ),
            );
        }
    }

    fn render_ingest(&self, out: &mut String) {
        let rows: [Figure<Ingest>; 5] = [
            ("  plans/s", |i| fixed(i.plans_per_s())),
            ("  rows/s", |i| i.rows_per_s().map_or("-".into(), fixed)),
            ("  latency p50 ms", |i| fixed(i.latency.p50_ms)),
            ("  latency p99 ms", |i| fixed(i.latency.p99_ms)),
            ("  wall s", |i| fixed(i.wall.as_secs_f64())),
        ];
        let reference = self.reference.as_ref().map(|r| &r.ingest);
        comparison(out, "Ingest (plan + event)", &self.ingest, reference, &rows);
    }

    /// Stored rows per kind on both sides, differences marked.
    fn render_rows_by_kind(&self, out: &mut String) {
        let Some(reference) = &self.reference else {
            return;
        };
        line(out, String::new());
        line(
            out,
            format!(
                "{:<44}{:>10}{:>11}",
                "Stored rows by kind", "Headwater", "reference"
            ),
        );
        for kind in &reference.rows_by_kind {
            let mark = if kind.agrees() { "" } else { "   differs" };
            line(
                out,
                format!(
                    "  {:<42}{:>10}{:>11}{mark}",
                    kind.kind, kind.service, kind.reference
                ),
            );
        }
        let total =
            |side: fn(&KindRows) -> u64| reference.rows_by_kind.iter().map(side).sum::<u64>();
        line(
            out,
            format!(
                "  {:<42}{:>10}{:>11}",
                "all",
                total(|k| k.service),
                total(|k| k.reference)
            ),
        );
    }

    fn render_lineage(&self, out: &mut String) {
        let rows: [Figure<Lineage>; 7] = [
            ("  p50 ms", |l| fixed(l.latency.p50_ms)),
            ("  p99 ms", |l| fixed(l.latency.p99_ms)),
            ("  mean ms", |l| fixed(l.latency.mean_ms)),
            ("  mean nodes", |l| fixed(l.mean_nodes)),
            ("  mean edges", |l| fixed(l.mean_edges)),
            ("  max depth reached", |l| {
                l.max_depth_reached.map_or("-".into(), |d| d.to_string())
            }),
            ("  truncated answers", |l| l.truncated.to_string()),
        ];
        let title = format!("Lineage (depth {})", self.settings.depth);
        let reference = self.reference.as_ref().map(|r| &r.lineage);
        comparison(out, &title, &self.lineage, reference, &rows);
    }

    fn render_columns(&self, out: &mut String) {
        let rows: [Figure<Lineage>; 7] = [
            ("  p50 ms", |l| fixed(l.latency.p50_ms)),
            ("  p99 ms", |l| fixed(l.latency.p99_ms)),
            ("  mean ms", |l| fixed(l.latency.mean_ms)),
            ("  mean columns", |l| fixed(l.mean_nodes)),
            ("  mean derivations", |l| fixed(l.mean_edges)),
            ("  max depth reached", |l| {
                l.max_depth_reached.map_or("-".into(), |d| d.to_string())
            }),
            ("  truncated answers", |l| l.truncated.to_string()),
        ];
        let title = format!("Column lineage (depth {})", crate::columns::DEPTH);
        let reference = self.reference.as_ref().map(|r| &r.columns);
        comparison(out, &title, &self.columns, reference, &rows);
    }

    fn render_paths(&self, out: &mut String) {
        let rows: [Figure<Paths>; 6] = [
            ("  p50 ms", |p| fixed(p.latency.p50_ms)),
            ("  p99 ms", |p| fixed(p.latency.p99_ms)),
            ("  mean ms", |p| fixed(p.latency.mean_ms)),
            ("  mean paths listed", |p| fixed(p.mean_paths)),
            ("  mean shortest (edges)", |p| fixed(p.mean_shortest)),
            ("  more paths than listed", |p| p.truncated.to_string()),
        ];
        let reference = self.reference.as_ref().map(|r| &r.paths);
        comparison(out, "Paths", &self.paths, reference, &rows);
    }

    fn render_ratios(&self, out: &mut String) {
        let (Some(ratios), Some(reference)) = (self.ratios(), &self.reference) else {
            return;
        };
        let rows = [
            (
                "ingest plans/s",
                ratios.ingest_plans_per_s,
                "higher is better; 1.00 = as fast as raw SQL",
            ),
            (
                "lineage p50",
                ratios.lineage_p50,
                "lower is better; 1.00 = as fast as raw SQL",
            ),
            ("lineage p99", ratios.lineage_p99, "lower is better"),
            ("column p50", ratios.column_lineage_p50, "lower is better"),
            ("column p99", ratios.column_lineage_p99, "lower is better"),
            ("paths p50", ratios.paths_p50, "lower is better"),
            ("paths p99", ratios.paths_p99, "lower is better"),
        ];
        line(out, String::new());
        line(out, "Ratios (Headwater / reference)".into());
        for (label, ratio, meaning) in rows {
            let shown = ratio.map_or("n/a".into(), |r| format!("{r:.2}"));
            line(out, format!("  {label:<16}{shown:>8}   {meaning}"));
        }
        line(
            out,
            format!(
                "  stored rows agreed on {} of {} kinds",
                reference.kinds_agreeing(),
                reference.rows_by_kind.len()
            ),
        );
        line(
            out,
            format!(
                "  node counts agreed on {} of {} queries, truncation on {}",
                reference.node_counts_agree, self.settings.queries, reference.truncation_agrees
            ),
        );
        line(
            out,
            format!(
                "  column counts agreed on {} of {} queries, truncation on {}",
                reference.column_counts_agree,
                self.settings.column_queries,
                reference.column_truncation_agrees
            ),
        );
        line(
            out,
            format!(
                "  shortest path agreed on {} of {} pairs, paths listed on {}",
                reference.shortest_agrees, self.settings.path_queries, reference.path_counts_agree
            ),
        );
    }
}

/// One row of a comparison: its label, and how to show the figure of a side.
type Figure<T> = (&'static str, fn(&T) -> String);

/// A blank line, a heading naming the sides, then one row per figure, shown
/// for the service and (when it ran) the reference.
fn comparison<T>(
    out: &mut String,
    title: &str,
    service: &T,
    reference: Option<&T>,
    rows: &[Figure<T>],
) {
    line(out, String::new());
    table_row(
        out,
        title,
        "Headwater".into(),
        reference.map(|_| "reference".into()),
    );
    for (label, show) in rows {
        table_row(out, label, show(service), reference.map(show));
    }
}

fn line(out: &mut String, text: String) {
    out.push_str(&text);
    out.push('\n');
}

fn table_row(out: &mut String, label: &str, service: String, reference: Option<String>) {
    let reference = reference.map(|r| format!("{r:>12}")).unwrap_or_default();
    line(out, format!("{label:<26}{service:>12}{reference}"));
}

fn fixed(x: f64) -> String {
    format!("{x:.2}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::Answer;

    /// Four answers, the first of them cut off by the depth.
    fn side(ms: u64, nodes: usize) -> Side {
        let answer = |truncated| Answer {
            nodes,
            edges: nodes - 1,
            depth_reached: Some(3),
            truncated,
            bytes: 100,
        };
        Side {
            latencies: vec![Duration::from_millis(ms); 4],
            answers: vec![answer(true), answer(false), answer(false), answer(false)],
        }
    }

    /// Four path answers, the last of them with more paths than listed.
    fn path_side(ms: u64) -> Side<PathAnswer> {
        let answer = |truncated| PathAnswer {
            paths: if truncated { 10 } else { 2 },
            shortest: 4,
            truncated,
            bytes: 300,
        };
        Side {
            latencies: vec![Duration::from_millis(ms); 4],
            answers: vec![answer(false), answer(false), answer(false), answer(true)],
        }
    }

    fn report(reference: bool) -> Report {
        let workload = crate::generate::generate(20, 1);
        Report {
            started: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            settings: Settings {
                url: "http://127.0.0.1:8080".into(),
                plans: 20,
                concurrency: 2,
                queries: 4,
                depth: 10,
                column_queries: 4,
                path_queries: 4,
                seed: 1,
            },
            workload: WorkloadFacts::of(&workload),
            ingest: Ingest::new(
                20,
                Duration::from_secs(2),
                &[Duration::from_millis(5)],
                None,
            ),
            ids_not_echoed: 0,
            lineage: Lineage::of(&side(8, 5)),
            downstream_queries: 2,
            columns: Lineage::of(&side(3, 4)),
            paths: Paths::of(&path_side(9)),
            pairs_by_jobs: vec![1, 1, 1, 1, 0],
            reference: reference.then(|| Reference {
                tables: TableOrigin::DocumentedShape,
                ingest: Ingest::new(
                    20,
                    Duration::from_secs(1),
                    &[Duration::from_millis(2)],
                    Some(100),
                ),
                rows_by_kind: vec![
                    KindRows {
                        kind: "edge derives field → field".into(),
                        service: 7,
                        reference: 7,
                    },
                    KindRows {
                        kind: "node field".into(),
                        service: 9,
                        reference: 8,
                    },
                ],
                lineage: Lineage::of(&side(2, 5)),
                node_counts_agree: 4,
                truncation_agrees: 4,
                columns: Lineage::of(&side(1, 4)),
                column_counts_agree: 4,
                column_truncation_agrees: 3,
                paths: Paths::of(&path_side(3)),
                shortest_agrees: 4,
                path_counts_agree: 2,
            }),
        }
    }

    #[test]
    fn ratios_divide_service_by_reference() {
        let ratios = report(true).ratios().unwrap();
        assert_eq!(ratios.ingest_plans_per_s, Some(0.5));
        assert_eq!(ratios.lineage_p50, Some(4.0));
        assert_eq!(ratios.column_lineage_p50, Some(3.0));
        assert_eq!(ratios.column_lineage_p99, Some(3.0));
        assert_eq!(ratios.paths_p50, Some(3.0));
        assert_eq!(ratios.paths_p99, Some(3.0));
        assert!(report(false).ratios().is_none());
    }

    #[test]
    fn json_and_text_carry_the_ratios() {
        let report = report(true);
        let json = report.to_json();
        assert_eq!(json["ratios"]["lineage_p99"], json!(4.0));
        assert_eq!(json["reference"]["ingest"]["rows_per_s"], json!(100.0));
        assert_eq!(json["headwater"]["lineage"]["truncated_answers"], json!(1));
        assert_eq!(json["reference"]["truncation_agrees"], json!(4));
        assert!(json["workload"]["longest_path_jobs"].as_u64().unwrap() >= 1);
        assert_eq!(json["ratios"]["column_lineage_p50"], json!(3.0));
        assert_eq!(json["ratios"]["paths_p99"], json!(3.0));
        assert_eq!(json["headwater"]["paths"]["truncated_answers"], json!(1));
        assert_eq!(json["headwater"]["paths"]["mean_paths"], json!(4.0));
        assert_eq!(json["reference"]["column_truncation_agrees"], json!(3));
        assert_eq!(json["reference"]["path_counts_agree"], json!(2));
        assert_eq!(json["reference"]["row_kinds_agree"], json!(1));
        assert_eq!(
            json["reference"]["rows_by_kind"][1],
            json!({"kind": "node field", "headwater": 9, "reference": 8})
        );
        assert_eq!(
            json["workload"]["path_pairs_by_jobs"],
            json!([1, 1, 1, 1, 0])
        );
        let text = report.render();
        assert!(text.contains("Ratios"));
        assert!(text.contains("truncation on 4"));
        assert!(text.contains("Column lineage (depth 10)"));
        assert!(text.contains("column counts agreed on 4 of 4 queries, truncation on 3"));
        assert!(text.contains("shortest path agreed on 4 of 4 pairs, paths listed on 2"));
        assert!(text.contains("stored rows agreed on 1 of 2 kinds"));
        let field = text.lines().find(|l| l.starts_with("  node field"));
        assert_eq!(
            field.map(|l| l.split_whitespace().collect::<Vec<_>>()),
            Some(vec!["node", "field", "9", "8", "differs"])
        );
        assert!(
            text.lines()
                .any(|l| l.split_whitespace().eq(["all", "16", "15"]))
        );
        let paths_p50 = text.lines().find(|l| l.starts_with("  paths p50"));
        assert_eq!(
            paths_p50.map(|l| l.split_whitespace().nth(2)),
            Some(Some("3.00"))
        );
        let truncated = text.lines().find(|l| l.contains("truncated answers"));
        assert_eq!(
            truncated.map(|l| l.split_whitespace().collect::<Vec<_>>()),
            Some(vec!["truncated", "answers", "1", "1"])
        );
        assert!(!self::report(false).render().contains("Ratios"));
    }

    #[test]
    fn write_never_overwrites() {
        let dir = std::env::temp_dir().join(format!("headwater-bench-test-{}", std::process::id()));
        let report = report(false);
        let first = report.write(&dir).unwrap();
        let second = report.write(&dir).unwrap();
        assert_ne!(first, second);
        fs::remove_dir_all(&dir).unwrap();
    }
}
