//! What the suite measured: the JSON record, the Markdown tables, and the scaling chart.
//!
//! Every figure that claims something is a ratio against a reference measured minutes apart
//! on the same machine and data: absolute times on a shared 2-core machine move from run to
//! run, the ratios much less.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::backend::{Backend, Stored};
use crate::chart::{self, Chart, Series};
use crate::generate;
use crate::layout::{self, LayoutReport};
use crate::marquez::Loaded;
use crate::query::{Answer, Direction, Side, Start};
use crate::reference::KindRows;
use crate::rss::MemoryProfile;
use crate::stats::{Summary, ratio};
use crate::suite::Counts;

/// One ingest side's throughput.
#[derive(Debug, Clone, Serialize)]
pub struct Throughput {
    pub wall_s: f64,
    pub plans_per_s: f64,
    pub runs_per_s: f64,
    pub events_per_s: f64,
    pub requests_per_s: f64,
    pub rows_per_s: Option<f64>,
    /// Per run (all of its requests, or its reference transaction).
    pub latency: Summary,
}

fn per_second(count: usize, wall: Duration) -> f64 {
    match wall.as_secs_f64() {
        s if s > 0.0 => count as f64 / s,
        _ => 0.0,
    }
}

impl Throughput {
    pub fn of(
        counts: &Counts,
        wall: Duration,
        latencies: &[Duration],
        rows: Option<usize>,
    ) -> Self {
        Throughput {
            wall_s: wall.as_secs_f64(),
            plans_per_s: per_second(counts.plans, wall),
            runs_per_s: per_second(counts.runs, wall),
            events_per_s: per_second(counts.events, wall),
            requests_per_s: per_second(counts.requests, wall),
            rows_per_s: rows.map(|r| per_second(r, wall)),
            latency: Summary::of(latencies),
        }
    }
}

/// An ingest phase beside the raw-SQL reference writing the same rows.
#[derive(Debug, Clone, Serialize)]
pub struct IngestReport {
    pub service: Throughput,
    pub reference: Throughput,
    /// Service ÷ reference throughput; the goal is at least 0.5.
    pub ratio: Option<f64>,
    pub kinds_agree: usize,
    pub kinds: usize,
    /// Row kinds where the two sides stored different counts (the ratio is then suspect).
    pub differing: Vec<KindRows>,
}

impl IngestReport {
    pub fn new(service: Throughput, reference: Throughput, rows: Vec<KindRows>) -> Self {
        let kinds_agree = rows.iter().filter(|k| k.agrees()).count();
        IngestReport {
            ratio: ratio(service.runs_per_s, reference.runs_per_s),
            service,
            reference,
            kinds_agree,
            kinds: rows.len(),
            differing: rows.into_iter().filter(|k| !k.agrees()).collect(),
        }
    }
}

/// One side of a lineage phase.
#[derive(Debug, Clone, Serialize)]
pub struct SideStats {
    pub latency: Summary,
    pub mean_nodes: f64,
    pub mean_edges: f64,
    pub mean_bytes: f64,
    pub truncated: usize,
}

impl SideStats {
    fn of(side: &Side) -> Self {
        let n = side.answers.len().max(1) as f64;
        let mean = |f: fn(&Answer) -> usize| side.answers.iter().map(f).sum::<usize>() as f64 / n;
        SideStats {
            latency: Summary::of(&side.latencies),
            mean_nodes: mean(|a| a.nodes),
            mean_edges: mean(|a| a.edges),
            mean_bytes: mean(|a| a.bytes),
            truncated: side.answers.iter().filter(|a| a.truncated).count(),
        }
    }
}

/// Depth-10 lineage: the indexed service, the service walking the database, reference A
/// (recursive SQL) and reference C (the same walk in memory).
#[derive(Debug, Clone, Serialize)]
pub struct LineageReport {
    pub queries: usize,
    pub downstream: usize,
    pub service: SideStats,
    pub without_index: SideStats,
    pub sql: SideStats,
    pub memory: SideStats,
    /// Service p50 ÷ recursive SQL p50; the goal is at most 1.
    pub p50_vs_sql: Option<f64>,
    pub p99_vs_sql: Option<f64>,
    pub p50_vs_memory: Option<f64>,
    pub without_index_p50_vs_sql: Option<f64>,
    /// Per direction: (direction, service p50 ms, SQL p50 ms).
    pub by_direction: Vec<(String, f64, f64)>,
    /// Queries on which the service and each reference returned as many nodes.
    pub nodes_agree_sql: usize,
    pub nodes_agree_memory: usize,
    pub nodes_agree_without_index: usize,
}

impl LineageReport {
    pub fn of(starts: &[Start], sides: Vec<Side>) -> Self {
        let [service, without, sql, memory] = <[Side; 4]>::try_from(sides).expect("four sides");
        let same = |a: &Answer, b: &Answer| a.nodes == b.nodes && a.truncated == b.truncated;
        let stats = [&service, &without, &sql, &memory].map(SideStats::of);
        let [s, w, q, m] = stats;
        let by_direction = [Direction::Downstream, Direction::Upstream]
            .iter()
            .map(|d| {
                let pick = |side: &Side| -> Vec<Duration> {
                    side.latencies
                        .iter()
                        .zip(starts)
                        .filter(|(_, s)| s.direction == *d)
                        .map(|(l, _)| *l)
                        .collect()
                };
                let p50 = |side: &Side| Summary::of(&pick(side)).p50_ms;
                (d.as_str().to_owned(), p50(&service), p50(&sql))
            })
            .collect();
        LineageReport {
            queries: starts.len(),
            downstream: starts
                .iter()
                .filter(|s| s.direction == Direction::Downstream)
                .count(),
            p50_vs_sql: ratio(s.latency.p50_ms, q.latency.p50_ms),
            p99_vs_sql: ratio(s.latency.p99_ms, q.latency.p99_ms),
            p50_vs_memory: ratio(s.latency.p50_ms, m.latency.p50_ms),
            without_index_p50_vs_sql: ratio(w.latency.p50_ms, q.latency.p50_ms),
            by_direction,
            nodes_agree_sql: service.agreeing(&sql, same),
            nodes_agree_memory: service.agreeing(&memory, same),
            nodes_agree_without_index: service.agreeing(&without, same),
            service: s,
            without_index: w,
            sql: q,
            memory: m,
        }
    }
}

/// The fixed-size question at one scale: service, recursive SQL, memory.
#[derive(Debug, Clone, Serialize)]
pub struct FixedAnswer {
    pub queries: usize,
    pub service: SideStats,
    pub sql: SideStats,
    pub memory: SideStats,
}

impl FixedAnswer {
    pub fn of(sides: Vec<Side>) -> Self {
        let [service, sql, memory] = <[Side; 3]>::try_from(sides).expect("three sides");
        FixedAnswer {
            queries: service.answers.len(),
            service: SideStats::of(&service),
            sql: SideStats::of(&sql),
            memory: SideStats::of(&memory),
        }
    }
}

/// Marquez's lineage SQL on a few starts, beside the service on the same starts.
#[derive(Debug, Clone, Serialize)]
pub struct MarquezReport {
    pub load_ms: f64,
    pub jobs: u64,
    pub io_mappings: u64,
    pub timeout_ms: f64,
    /// The depth-10 starts.
    pub deep: MarquezSide,
    /// The fixed-size starts (depth 2, though Marquez counts depth its own, undirected way).
    pub fixed: MarquezSide,
}

/// Service and Marquez on the same starts.
#[derive(Debug, Clone, Serialize)]
pub struct MarquezSide {
    pub queries: usize,
    pub service_p50_ms: f64,
    /// Timed-out queries count at the timeout, so with timeouts this is a lower bound.
    pub marquez_p50_ms: f64,
    pub timeouts: usize,
    /// Marquez p50 ÷ service p50: how many times faster the service is (the goal is ≥ 10).
    pub speedup: Option<f64>,
    /// True when timeouts make `speedup` a lower bound.
    pub at_least: bool,
    pub mean_marquez_nodes: f64,
}

impl MarquezSide {
    fn of(sides: Vec<Side<Option<usize>>>) -> Self {
        let [service, marquez] = <[Side<Option<usize>>; 2]>::try_from(sides).expect("two sides");
        let timeouts = marquez.answers.iter().filter(|a| a.is_none()).count();
        let answered: Vec<usize> = marquez.answers.iter().flatten().copied().collect();
        let (s, m) = (
            Summary::of(&service.latencies).p50_ms,
            Summary::of(&marquez.latencies).p50_ms,
        );
        MarquezSide {
            queries: service.answers.len(),
            service_p50_ms: s,
            marquez_p50_ms: m,
            timeouts,
            speedup: ratio(m, s),
            at_least: timeouts > 0,
            mean_marquez_nodes: answered.iter().sum::<usize>() as f64
                / answered.len().max(1) as f64,
        }
    }
}

impl MarquezReport {
    pub fn of(
        loaded: Loaded,
        timeout: Duration,
        deep: Vec<Side<Option<usize>>>,
        fixed: Vec<Side<Option<usize>>>,
    ) -> Self {
        MarquezReport {
            load_ms: loaded.elapsed.as_secs_f64() * 1e3,
            jobs: loaded.jobs,
            io_mappings: loaded.io_mappings,
            timeout_ms: timeout.as_secs_f64() * 1e3,
            deep: MarquezSide::of(deep),
            fixed: MarquezSide::of(fixed),
        }
    }
}

/// A service-versus-SQL query phase (column lineage, paths).
#[derive(Debug, Clone, Serialize)]
pub struct PairReport {
    pub queries: usize,
    pub service: Summary,
    pub reference: Summary,
    pub p50_vs_sql: Option<f64>,
    pub p99_vs_sql: Option<f64>,
    pub agree: usize,
}

impl PairReport {
    pub fn of<A>(service: &Side<A>, reference: &Side<A>, same: impl Fn(&A, &A) -> bool) -> Self {
        let (s, r) = (
            Summary::of(&service.latencies),
            Summary::of(&reference.latencies),
        );
        PairReport {
            queries: service.answers.len(),
            p50_vs_sql: ratio(s.p50_ms, r.p50_ms),
            p99_vs_sql: ratio(s.p99_ms, r.p99_ms),
            agree: service.agreeing(reference, same),
            service: s,
            reference: r,
        }
    }
}

/// The shape of the generated platform.
#[derive(Debug, Clone, Serialize)]
pub struct WorkloadFacts {
    /// (layer, plans, stages).
    pub layers: Vec<(&'static str, usize, usize)>,
    /// Jobs on the longest lineage path: deeper than the depth-10 queries reach.
    pub longest_path_jobs: usize,
    pub mean_plan_kib: f64,
}

impl WorkloadFacts {
    pub fn of(workload: &generate::Workload) -> Self {
        let layers = generate::Layer::LAKE
            .iter()
            .map(|l| (l.name(), workload.plans_in(*l), workload.stages_in(*l)))
            .collect();
        WorkloadFacts {
            layers,
            longest_path_jobs: workload.longest_path(),
            mean_plan_kib: workload.total_body_bytes() as f64
                / workload.plans.len().max(1) as f64
                / 1024.0,
        }
    }
}

/// Everything measured at one scale on one backend.
#[derive(Debug, Clone, Serialize)]
pub struct ScaleReport {
    pub backend: Backend,
    pub scale: &'static str,
    pub plans: usize,
    pub huge_plans: usize,
    pub runs: usize,
    pub workload: WorkloadFacts,
    pub stored: Stored,
    pub spline: IngestReport,
    pub openlineage: Option<IngestReport>,
    /// The service's memory during the Spline ingest.
    pub ingest_memory: MemoryProfile,
    pub in_memory_build_ms: f64,
    pub lineage: LineageReport,
    pub marquez: Option<MarquezReport>,
    pub fixed: FixedAnswer,
    pub columns: PairReport,
    pub paths: PairReport,
    /// The explorer's layout of the largest subgraph up to `layout::MAX_NODES` nodes.
    pub layout: LayoutReport,
}

/// The huge plans posted alone.
#[derive(Debug, Clone, Serialize)]
pub struct HugeReport {
    pub plans: Vec<HugePlan>,
    /// Mean seconds per plan (plan and event POST), service and raw SQL.
    pub service_mean_s: f64,
    pub reference_mean_s: f64,
    /// Service ÷ reference time; lower is better.
    pub time_vs_sql: Option<f64>,
    pub memory: MemoryProfile,
    pub kinds_agree: usize,
    pub kinds: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct HugePlan {
    pub operations: usize,
    pub attributes: usize,
    pub mib: f64,
    pub seconds: f64,
}

impl HugeReport {
    pub fn of(
        plans: &[&generate::Plan],
        service: &[Duration],
        reference: &[Duration],
        memory: MemoryProfile,
        rows: Vec<KindRows>,
    ) -> Self {
        let mean = |d: &[Duration]| {
            d.iter().map(Duration::as_secs_f64).sum::<f64>() / d.len().max(1) as f64
        };
        let described = plans.iter().zip(service).map(|(p, d)| {
            let body: serde_json::Value = serde_json::from_slice(&p.body).unwrap_or_default();
            let count = |v: &serde_json::Value| v.as_array().map_or(0, Vec::len);
            let ops = &body["operations"];
            HugePlan {
                operations: count(&ops["reads"]) + count(&ops["other"]) + 1,
                attributes: count(&body["attributes"]),
                mib: p.body.len() as f64 / 1048576.0,
                seconds: d.as_secs_f64(),
            }
        });
        HugeReport {
            plans: described.collect(),
            service_mean_s: mean(service),
            reference_mean_s: mean(reference),
            time_vs_sql: ratio(mean(service), mean(reference)),
            memory,
            kinds_agree: rows.iter().filter(|k| k.agrees()).count(),
            kinds: rows.len(),
        }
    }
}

/// What the machine was, so a table explains itself.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub memory_gib: f64,
    pub kernel: String,
    pub postgres: String,
    pub postgres_settings: String,
    pub sqlite: String,
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct SuiteReport {
    pub started: DateTime<Utc>,
    pub finished: DateTime<Utc>,
    pub quick: bool,
    pub seed: u64,
    pub concurrency: usize,
    pub machine: Machine,
    pub scales: Vec<ScaleReport>,
    pub huge: Vec<(Backend, HugeReport)>,
}

impl SuiteReport {
    /// Writes `<stamp>.json`, `<stamp>.md` and `<stamp>-scaling.png` into `dir`, and copies
    /// them to `latest.*`. Returns the Markdown path.
    pub fn write(&self, dir: &Path) -> Result<PathBuf> {
        std::fs::create_dir_all(dir)?;
        let stamp = self.started.format("%Y%m%dT%H%M%SZ").to_string();
        let json = serde_json::to_string_pretty(self)?;
        let markdown = self.markdown(&format!("{stamp}-scaling.png"));
        let chart_path = dir.join(format!("{stamp}-scaling.png"));
        chart::line_chart(&chart_path, &self.scaling_chart())?;
        for (name, text) in [
            (format!("{stamp}.json"), &json),
            (format!("{stamp}.md"), &markdown),
        ] {
            std::fs::write(dir.join(&name), text).with_context(|| format!("writing {name}"))?;
        }
        std::fs::write(dir.join("latest.json"), &json)?;
        std::fs::write(dir.join("latest.md"), self.markdown("latest-scaling.png"))?;
        std::fs::copy(&chart_path, dir.join("latest-scaling.png"))?;
        Ok(dir.join(format!("{stamp}.md")))
    }

    fn scales_of(&self, backend: Backend) -> Vec<&ScaleReport> {
        self.scales
            .iter()
            .filter(|s| s.backend == backend)
            .collect()
    }

    fn backends(&self) -> Vec<Backend> {
        let mut seen = Vec::new();
        for s in &self.scales {
            if !seen.contains(&s.backend) {
                seen.push(s.backend);
            }
        }
        seen
    }

    /// p50 of the fixed-size question against stored edges, per side and backend.
    pub fn scaling_chart(&self) -> Chart {
        let mut series = Vec::new();
        for backend in self.backends() {
            let scales = self.scales_of(backend);
            let line = |label: &str, pick: fn(&ScaleReport) -> f64| Series {
                label: format!("{label} ({})", backend.name()),
                points: scales
                    .iter()
                    .map(|s| (s.stored.edges as f64, pick(s)))
                    .collect(),
            };
            series.push(line("Headwater", |s| s.fixed.service.latency.p50_ms));
            series.push(line("recursive SQL", |s| s.fixed.sql.latency.p50_ms));
            series.push(line("in-memory walk", |s| s.fixed.memory.latency.p50_ms));
            if backend == Backend::Postgres {
                series.push(Series {
                    label: "Marquez SQL (postgres)".to_owned(),
                    points: scales
                        .iter()
                        .filter_map(|s| {
                            s.marquez
                                .as_ref()
                                .map(|m| (s.stored.edges as f64, m.fixed.marquez_p50_ms))
                        })
                        .collect(),
                });
            }
        }
        Chart {
            title: "Lineage latency for a fixed-size answer as the graph grows (p50)".to_owned(),
            x_label: "edges stored".to_owned(),
            y_label: "milliseconds".to_owned(),
            series,
            log_x: true,
            log_y: true,
        }
    }

    /// The Markdown report: goals first, then the tables per backend.
    pub fn markdown(&self, chart: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# Headwater benchmark, {}",
            self.started.to_rfc3339_opts(SecondsFormat::Secs, true)
        );
        let _ = writeln!(out, "\n{}", self.machine_line());
        let mode = if self.quick { "quick" } else { "full" };
        let _ = writeln!(
            out,
            "Mode {mode}, seed {}, {} concurrent clients. Ratios are Headwater ÷ a reference measured in the same run on the same machine and database.\n",
            self.seed, self.concurrency
        );
        self.goals(&mut out);
        for backend in self.backends() {
            self.backend_table(&mut out, backend);
        }
        self.huge_table(&mut out);
        let _ = writeln!(
            out,
            "\n![Latency of a fixed-size answer against graph size]({chart})"
        );
        out
    }

    fn machine_line(&self) -> String {
        let m = &self.machine;
        format!(
            "Machine: {} ({} cores), {:.0} GiB, Linux {}; {} ({}); SQLite {}.",
            m.cpu, m.cores, m.memory_gib, m.kernel, m.postgres, m.postgres_settings, m.sqlite
        )
    }

    fn goals(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "## Goals\n\n| goal | backend | measured | met |\n|---|---|---|---|"
        );
        for s in &self.scales {
            let b = s.backend.name();
            let ingest = [
                ("Spline", Some(&s.spline)),
                ("OpenLineage", s.openlineage.as_ref()),
            ];
            for (format, report) in ingest {
                if let Some(r) = report {
                    goal(
                        out,
                        &format!("{} ingest ≥ 0.5× raw SQL", s.scale),
                        b,
                        &format!("{format} {}", x(r.ratio)),
                        r.ratio.is_some_and(|v| v >= 0.5),
                    );
                }
            }
            layout_goal(out, s);
            if s.scale == "S1" {
                continue;
            }
            let l = &s.lineage;
            goal(
                out,
                &format!("{} lineage p50 ≤ 1.0× recursive SQL", s.scale),
                b,
                &x(l.p50_vs_sql),
                l.p50_vs_sql.is_some_and(|v| v <= 1.0),
            );
            if let Some(m) = &s.marquez {
                let shown = format!(
                    "{}{} faster",
                    if m.deep.at_least { "≥ " } else { "" },
                    x(m.deep.speedup)
                );
                goal(
                    out,
                    &format!("{} lineage ≥ 10× faster than Marquez SQL", s.scale),
                    b,
                    &shown,
                    m.deep.speedup.is_some_and(|v| v >= 10.0),
                );
            }
        }
        for backend in self.backends() {
            let scales = self.scales_of(backend);
            if let (Some(first), Some(last)) = (scales.first(), scales.last())
                && scales.len() > 1
            {
                let growth = ratio(
                    last.fixed.service.latency.p50_ms,
                    first.fixed.service.latency.p50_ms,
                );
                let text = format!(
                    "{} → {}: {} for {}× the edges",
                    first.scale,
                    last.scale,
                    x(growth),
                    last.stored.edges / first.stored.edges.max(1)
                );
                goal(
                    out,
                    "fixed-size answer: latency flat as the graph grows (≤ 2×)",
                    backend.name(),
                    &text,
                    growth.is_some_and(|g| g <= 2.0),
                );
            }
            if let Some(s3) = scales.iter().find(|s| s.scale == "S3") {
                let peak = s3.ingest_memory.peak_mib;
                goal(
                    out,
                    "peak RSS during S3 ingest < 300 MB",
                    backend.name(),
                    &format!("{peak:.0} MiB"),
                    peak * 1.048576 < 300.0,
                );
            }
        }
        let _ = writeln!(out);
    }

    fn backend_table(&self, out: &mut String, backend: Backend) {
        let scales = self.scales_of(backend);
        let _ = writeln!(out, "## {}\n", backend.name());
        let header: Vec<&str> = scales.iter().map(|s| s.scale).collect();
        let _ = writeln!(
            out,
            "| | {} |\n|---|{}",
            header.join(" | "),
            "---|".repeat(header.len())
        );
        let row = |out: &mut String, label: &str, f: &dyn Fn(&ScaleReport) -> String| {
            let cells: Vec<String> = scales.iter().map(|s| f(s)).collect();
            let _ = writeln!(out, "| {label} | {} |", cells.join(" | "));
        };
        row(out, "plans (huge) / runs", &|s| {
            format!("{} ({}) / {}", s.plans, s.huge_plans, s.runs)
        });
        row(out, "longest path (jobs), mean plan KiB", &|s| {
            format!(
                "{}, {:.0}",
                s.workload.longest_path_jobs, s.workload.mean_plan_kib
            )
        });
        row(out, "edges / nodes stored", &|s| {
            format!("{} / {}", s.stored.edges, s.stored.nodes)
        });
        row(out, "Spline ingest: plans/s, events/s", &|s| {
            format!(
                "{:.0}, {:.0}",
                s.spline.service.plans_per_s, s.spline.service.events_per_s
            )
        });
        row(out, "Spline ingest ÷ raw SQL", &|s| {
            format!(
                "{} (rows agree on {}/{} kinds)",
                x(s.spline.ratio),
                s.spline.kinds_agree,
                s.spline.kinds
            )
        });
        row(out, "OpenLineage ingest: runs/s, events/s", &|s| {
            s.openlineage.as_ref().map_or("-".into(), |o| {
                format!("{:.0}, {:.0}", o.service.runs_per_s, o.service.events_per_s)
            })
        });
        row(out, "OpenLineage ingest ÷ raw SQL", &|s| {
            s.openlineage.as_ref().map_or("-".into(), |o| {
                format!("{} ({}/{} kinds)", x(o.ratio), o.kinds_agree, o.kinds)
            })
        });
        row(out, "peak RSS during Spline ingest", &|s| {
            format!("{:.0} MiB", s.ingest_memory.peak_mib)
        });
        row(out, "depth-10 lineage p50 / p99 ms", &|s| {
            format!(
                "{:.1} / {:.1}",
                s.lineage.service.latency.p50_ms, s.lineage.service.latency.p99_ms
            )
        });
        row(out, "mean answer: nodes, KiB", &|s| {
            format!(
                "{:.0}, {:.0}",
                s.lineage.service.mean_nodes,
                s.lineage.service.mean_bytes / 1024.0
            )
        });
        row(out, "÷ A recursive SQL, p50 / p99", &|s| {
            format!("{} / {}", x(s.lineage.p50_vs_sql), x(s.lineage.p99_vs_sql))
        });
        row(out, "÷ C in-memory walk, p50", &|s| {
            format!(
                "{} ({:.2} ms)",
                x(s.lineage.p50_vs_memory),
                s.lineage.memory.latency.p50_ms
            )
        });
        row(out, "without the index ÷ A, p50", &|s| {
            x(s.lineage.without_index_p50_vs_sql)
        });
        row(out, "B Marquez SQL ÷ Headwater, p50", &|s| {
            s.marquez.as_ref().map_or("-".into(), |m| {
                format!(
                    "{}{} ({} of {} timed out at {:.0} s)",
                    if m.deep.at_least { "≥ " } else { "" },
                    x(m.deep.speedup),
                    m.deep.timeouts,
                    m.deep.queries,
                    m.timeout_ms / 1e3
                )
            })
        });
        row(out, "answers agree with A / C", &|s| {
            format!(
                "{}/{} / {}/{}",
                s.lineage.nodes_agree_sql,
                s.lineage.queries,
                s.lineage.nodes_agree_memory,
                s.lineage.queries
            )
        });
        row(out, "fixed-size answer p50 ms: Headwater, A, C", &|s| {
            format!(
                "{:.2}, {:.2}, {:.3} ({:.0} nodes)",
                s.fixed.service.latency.p50_ms,
                s.fixed.sql.latency.p50_ms,
                s.fixed.memory.latency.p50_ms,
                s.fixed.service.mean_nodes
            )
        });
        row(out, "column lineage ÷ SQL, p50", &|s| {
            x(s.columns.p50_vs_sql)
        });
        row(out, "paths ÷ SQL, p50", &|s| x(s.paths.p50_vs_sql));
        row(
            out,
            "layout: nodes, layout p50 ms, answer ÷ lineage",
            &|s| {
                format!(
                    "{}, {:.1}, {}",
                    s.layout.nodes,
                    s.layout.layout.p50_ms,
                    x(s.layout.answer_ratio)
                )
            },
        );
        let _ = writeln!(out);
    }

    fn huge_table(&self, out: &mut String) {
        if self.huge.is_empty() {
            return;
        }
        let _ = writeln!(
            out,
            "## Huge plans, posted alone\n\n| backend | plans | mean s per plan | ÷ raw SQL | peak RSS |\n|---|---|---|---|---|"
        );
        for (backend, h) in &self.huge {
            let sizes: Vec<String> = h
                .plans
                .iter()
                .map(|p| format!("{} ops, {:.1} MiB", p.operations, p.mib))
                .collect();
            let _ = writeln!(
                out,
                "| {} | {} | {:.2} | {} | {:.0} MiB |",
                backend.name(),
                sizes.join("; "),
                h.service_mean_s,
                x(h.time_vs_sql),
                h.memory.peak_mib
            );
        }
    }
}

/// The explorer's goal: a layout of about `layout::MAX_NODES` nodes in under a second. A
/// scale whose graph is smaller says so instead of passing.
fn layout_goal(out: &mut String, s: &ScaleReport) {
    let l = &s.layout;
    let what = format!(
        "{} layout of a ~{}-node subgraph < {:.0} s",
        s.scale,
        layout::MAX_NODES,
        layout::GOAL_MS / 1e3
    );
    let measured = format!(
        "{} nodes: {:.1} ms (answer {} the lineage answer)",
        l.nodes,
        l.layout.p50_ms,
        x(l.answer_ratio)
    );
    match l.goal() {
        Some(met) => goal(out, &what, s.backend.name(), &measured, met),
        None => {
            let _ = writeln!(
                out,
                "| {what} | {} | {measured} | - (graph too small) |",
                s.backend.name()
            );
        }
    }
}

fn goal(out: &mut String, what: &str, backend: &str, measured: &str, met: bool) {
    let _ = writeln!(
        out,
        "| {what} | {backend} | {measured} | {} |",
        if met { "yes" } else { "**no**" }
    );
}

/// A ratio as `0.42×`, or `-` when there is none.
fn x(value: Option<f64>) -> String {
    value.map_or("-".to_owned(), |v| format!("{v:.2}×"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_print_with_two_decimals() {
        assert_eq!(x(Some(0.456)), "0.46×");
        assert_eq!(x(None), "-");
    }

    #[test]
    fn ingest_ratio_is_service_over_reference_runs() {
        let counts = Counts {
            plans: 10,
            runs: 40,
            events: 40,
            requests: 80,
        };
        let service = Throughput::of(&counts, Duration::from_secs(4), &[], None);
        let reference = Throughput::of(&counts, Duration::from_secs(2), &[], Some(1000));
        let report = IngestReport::new(service, reference, Vec::new());
        assert_eq!(report.ratio, Some(0.5));
        assert_eq!(report.reference.rows_per_s, Some(500.0));
    }
}
