//! The soak's figures and verdict: error rate, latency per request kind, throughput, and the
//! service's memory over time.
//!
//! **Errors.** Every request must succeed: a 5xx is the service failing under load, and a 4xx
//! means the load generator sent something wrong, so the figures would describe the wrong work.
//!
//! **Memory.** After the warm-up every job has run once and the service holds all it ever
//! needs (the lineage index of the whole platform, warm pools and allocator arenas); from then
//! on a bounded service stays on a plateau, up and down with the requests in flight, while a
//! leak adds a little per request, without end. The measured phase is cut in quarters and the
//! highest resident set of the last quarter is compared with that of the second: it may exceed
//! it by at most [`TOLERANCE_FLOOR_MIB`] or [`TOLERANCE_SHARE`] of it, whichever is more. The
//! first quarter is left out because the index and the allocator may still settle in it.
//!
//! Why 16 MiB: on a plateau the peak moves with the allocator's arenas and the large answers in
//! flight at once. Measured here, it stayed within 2 MiB of its level after the first quarter
//! (debug build, 60 s, 8 clients; release build, 600 s, 16 clients, 116 000 requests), so the
//! floor is eight times the noise. It still catches a leak of 16 MiB per half-run: about
//! 0.5 MiB/s in the 60 s CI form (a planted leak of 64 KiB per OpenLineage event, about
//! 1.6 MiB/s, failed it with +49 MiB), and about 3 MiB a minute in a 10-minute run. The
//! least-squares slope of the second half is reported beside the verdict, in MiB per minute, to
//! show which way the curve went.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::rss::MemoryProfile;
use crate::soak::SoakArgs;
use crate::stats::Summary;

/// Growth allowed between the second and the last quarter's peaks, at least.
pub const TOLERANCE_FLOOR_MIB: f64 = 16.0;
/// Growth allowed, as a share of the second quarter's peak, when that is more.
pub const TOLERANCE_SHARE: f64 = 0.10;

/// What a request was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    SplinePlan,
    SplineEvent,
    OpenLineage,
    Lineage,
    Nodes,
    ColumnLineage,
}

impl Kind {
    const ALL: [Kind; 6] = [
        Kind::SplinePlan,
        Kind::SplineEvent,
        Kind::OpenLineage,
        Kind::Lineage,
        Kind::Nodes,
        Kind::ColumnLineage,
    ];

    fn label(self) -> &'static str {
        match self {
            Kind::SplinePlan => "POST Spline plan",
            Kind::SplineEvent => "POST Spline event",
            Kind::OpenLineage => "POST OpenLineage event",
            Kind::Lineage => "GET lineage",
            Kind::Nodes => "GET nodes",
            Kind::ColumnLineage => "GET column lineage",
        }
    }
}

/// One request of the measured phase.
#[derive(Debug, Clone)]
pub struct Sample {
    pub kind: Kind,
    /// When it ended, seconds into the measured phase.
    pub at_secs: f64,
    pub latency: Duration,
    /// The HTTP status, or why there was none.
    pub outcome: Result<u16, String>,
}

impl Sample {
    pub fn ok(&self) -> bool {
        matches!(self.outcome, Ok(200..=299))
    }
}

/// The figures of one request kind.
#[derive(Debug, Clone, Serialize)]
pub struct KindFigures {
    pub kind: Kind,
    pub requests: usize,
    pub errors: usize,
    pub per_second: f64,
    pub latency: Summary,
}

/// One slice of the measured phase.
#[derive(Debug, Clone, Serialize)]
pub struct Window {
    pub from_secs: f64,
    pub to_secs: f64,
    pub requests: usize,
    pub errors: usize,
    pub p99_ms: f64,
    /// Highest resident set sampled in the window.
    pub rss_mib: f64,
}

/// The memory verdict's figures.
#[derive(Debug, Clone, Serialize)]
pub struct MemoryFigures {
    pub second_quarter_peak_mib: f64,
    pub last_quarter_peak_mib: f64,
    pub growth_mib: f64,
    pub tolerance_mib: f64,
    /// Least-squares slope of the resident set over the second half.
    pub second_half_slope_mib_per_min: f64,
    pub peak_mib: f64,
    pub bounded: bool,
    /// (seconds into the measured phase, MiB), about one a second.
    pub samples: Vec<(f64, f64)>,
}

/// Everything a soak measured.
#[derive(Debug, Clone, Serialize)]
pub struct SoakReport {
    pub started: DateTime<Utc>,
    pub binary: PathBuf,
    pub backend: String,
    pub duration_secs: u64,
    pub clients: usize,
    pub jobs: usize,
    pub seed: u64,
    pub service_log: PathBuf,
    pub requests: usize,
    pub errors: usize,
    pub error_rate: f64,
    pub server_errors: usize,
    pub per_second: f64,
    /// How often each status (or transport failure) came back.
    pub outcomes: BTreeMap<String, usize>,
    pub by_kind: Vec<KindFigures>,
    pub windows: Vec<Window>,
    pub memory: MemoryFigures,
}

impl SoakReport {
    pub fn new(
        args: &SoakArgs,
        started: DateTime<Utc>,
        service_log: PathBuf,
        samples: Vec<Sample>,
        memory: MemoryProfile,
    ) -> SoakReport {
        let duration = args.duration_secs.max(1) as f64;
        let errors = samples.iter().filter(|s| !s.ok()).count();
        let server_errors = samples
            .iter()
            .filter(|s| !matches!(s.outcome, Ok(..500)))
            .count();
        let mut outcomes = BTreeMap::new();
        for s in &samples {
            let key = match &s.outcome {
                Ok(status) => status.to_string(),
                Err(_) => "no answer".to_owned(),
            };
            *outcomes.entry(key).or_insert(0) += 1;
        }
        SoakReport {
            started,
            binary: args.common.headwater.clone(),
            backend: args.backend.name().to_owned(),
            duration_secs: args.duration_secs,
            clients: args.clients,
            jobs: args.jobs,
            seed: args.common.seed,
            service_log,
            requests: samples.len(),
            errors,
            error_rate: errors as f64 / samples.len().max(1) as f64,
            server_errors,
            per_second: samples.len() as f64 / duration,
            outcomes,
            by_kind: by_kind(&samples, duration),
            windows: windows(&samples, &memory.samples, duration),
            memory: memory_figures(&memory, duration),
        }
    }

    /// Fails on any error, or on memory that did not level off.
    pub fn verdict(&self) -> Result<()> {
        if self.errors > 0 {
            bail!(
                "{} of {} requests failed ({} without an answer or with a 5xx): {:?}; see {}",
                self.errors,
                self.requests,
                self.server_errors,
                self.outcomes,
                self.service_log.display()
            );
        }
        if self.requests == 0 {
            bail!("the soak sent no request");
        }
        let m = &self.memory;
        if !m.bounded {
            bail!(
                "memory grew by {:.1} MiB from the second quarter's peak ({:.1} MiB) to the \
                 last quarter's ({:.1} MiB), over the tolerance of {:.1} MiB",
                m.growth_mib,
                m.second_quarter_peak_mib,
                m.last_quarter_peak_mib,
                m.tolerance_mib
            );
        }
        Ok(())
    }

    /// Writes `soak-<time>.json` and `.md`, and the same as `soak-latest.*`; the Markdown path.
    pub fn write(&self, dir: &Path) -> Result<PathBuf> {
        std::fs::create_dir_all(dir)?;
        let stamp = self.started.format("%Y%m%dT%H%M%SZ").to_string();
        let json = serde_json::to_string_pretty(self)?;
        let markdown = self.markdown();
        for name in [format!("soak-{stamp}"), "soak-latest".to_owned()] {
            for (ext, text) in [("json", &json), ("md", &markdown)] {
                let path = dir.join(format!("{name}.{ext}"));
                std::fs::write(&path, text)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
        }
        Ok(dir.join(format!("soak-{stamp}.md")))
    }

    pub fn markdown(&self) -> String {
        let mut out = format!(
            "# Soak: {} s of mixed load, {} clients, {} jobs, {}\n\n\
             {} requests, {:.1} a second; {} failed (error rate {:.4} %), {} of them 5xx or \
             unanswered. Statuses: {:?}.\n\n",
            self.duration_secs,
            self.clients,
            self.jobs,
            self.backend,
            self.requests,
            self.per_second,
            self.errors,
            self.error_rate * 100.0,
            self.server_errors,
            self.outcomes
        );
        out.push_str("| request | count | errors | per s | p50 ms | p99 ms | max ms |\n");
        out.push_str("|---|---:|---:|---:|---:|---:|---:|\n");
        for k in &self.by_kind {
            out.push_str(&format!(
                "| {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} |\n",
                k.kind.label(),
                k.requests,
                k.errors,
                k.per_second,
                k.latency.p50_ms,
                k.latency.p99_ms,
                k.latency.max_ms
            ));
        }
        out.push_str("\n| seconds | requests | errors | p99 ms | RSS MiB (max) |\n");
        out.push_str("|---|---:|---:|---:|---:|\n");
        for w in &self.windows {
            out.push_str(&format!(
                "| {:.0}–{:.0} | {} | {} | {:.1} | {:.1} |\n",
                w.from_secs, w.to_secs, w.requests, w.errors, w.p99_ms, w.rss_mib
            ));
        }
        let m = &self.memory;
        out.push_str(&format!(
            "\nMemory: peak {:.1} MiB. Last quarter's peak {:.1} MiB vs the second quarter's \
             {:.1} MiB: {:+.1} MiB (tolerance {:.1} MiB): {}. Slope over the second half: \
             {:+.2} MiB/min.\n",
            m.peak_mib,
            m.last_quarter_peak_mib,
            m.second_quarter_peak_mib,
            m.growth_mib,
            m.tolerance_mib,
            if m.bounded { "bounded" } else { "GROWING" },
            m.second_half_slope_mib_per_min
        ));
        out
    }
}

fn by_kind(samples: &[Sample], duration: f64) -> Vec<KindFigures> {
    Kind::ALL
        .iter()
        .map(|&kind| {
            let of_kind: Vec<&Sample> = samples.iter().filter(|s| s.kind == kind).collect();
            let latencies: Vec<Duration> = of_kind.iter().map(|s| s.latency).collect();
            KindFigures {
                kind,
                requests: of_kind.len(),
                errors: of_kind.iter().filter(|s| !s.ok()).count(),
                per_second: of_kind.len() as f64 / duration,
                latency: Summary::of(&latencies),
            }
        })
        .filter(|k| k.requests > 0)
        .collect()
}

/// About a dozen slices, at least five seconds each.
fn windows(samples: &[Sample], rss: &[(f64, f64)], duration: f64) -> Vec<Window> {
    let width = (duration / 12.0).max(5.0).ceil();
    let count = (duration / width).ceil() as usize;
    (0..count)
        .map(|i| {
            let (from, to) = (i as f64 * width, ((i + 1) as f64 * width).min(duration));
            let inside: Vec<&Sample> = samples
                .iter()
                .filter(|s| s.at_secs >= from && (s.at_secs < to || i + 1 == count))
                .collect();
            let latencies: Vec<Duration> = inside.iter().map(|s| s.latency).collect();
            Window {
                from_secs: from,
                to_secs: to,
                requests: inside.len(),
                errors: inside.iter().filter(|s| !s.ok()).count(),
                p99_ms: Summary::of(&latencies).p99_ms,
                rss_mib: peak(rss, from, to),
            }
        })
        .collect()
}

/// The highest sample in `[from, to]`.
fn peak(rss: &[(f64, f64)], from: f64, to: f64) -> f64 {
    rss.iter()
        .filter(|(t, _)| (from..=to).contains(t))
        .map(|(_, mib)| *mib)
        .fold(0.0, f64::max)
}

fn memory_figures(memory: &MemoryProfile, duration: f64) -> MemoryFigures {
    let quarter = duration / 4.0;
    let second = peak(&memory.samples, quarter, 2.0 * quarter);
    let last = peak(&memory.samples, 3.0 * quarter, duration);
    let tolerance = TOLERANCE_FLOOR_MIB.max(second * TOLERANCE_SHARE);
    let half: Vec<(f64, f64)> = memory
        .samples
        .iter()
        .copied()
        .filter(|(t, _)| *t >= 2.0 * quarter)
        .collect();
    MemoryFigures {
        second_quarter_peak_mib: second,
        last_quarter_peak_mib: last,
        growth_mib: last - second,
        tolerance_mib: tolerance,
        second_half_slope_mib_per_min: slope(&half) * 60.0,
        peak_mib: memory.peak_mib,
        bounded: second > 0.0 && last - second <= tolerance,
        samples: memory.samples.clone(),
    }
}

/// Least-squares slope of y over x; 0 with fewer than two points.
fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if points.len() < 2 {
        return 0.0;
    }
    let (mx, my) = points
        .iter()
        .fold((0.0, 0.0), |(a, b), (x, y)| (a + x / n, b + y / n));
    let (num, den) = points.iter().fold((0.0, 0.0), |(num, den), (x, y)| {
        (num + (x - mx) * (y - my), den + (x - mx) * (x - mx))
    });
    if den == 0.0 { 0.0 } else { num / den }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(curve: impl Fn(f64) -> f64) -> MemoryProfile {
        let samples: Vec<(f64, f64)> = (0..=120).map(|t| (t as f64, curve(t as f64))).collect();
        MemoryProfile {
            peak_mib: samples.iter().map(|s| s.1).fold(0.0, f64::max),
            end_mib: samples.last().unwrap().1,
            samples,
        }
    }

    #[test]
    fn a_plateau_is_bounded_and_a_steady_leak_is_not() {
        // Warm-up growth in the first quarter, then noise of a few MiB.
        let plateau = profile(|t| 80.0 + (t.min(20.0)) + (t * 1.7).sin() * 4.0);
        let figures = memory_figures(&plateau, 120.0);
        assert!(figures.bounded, "{figures:?}");
        assert!(figures.second_half_slope_mib_per_min.abs() < 2.0);

        // 0.5 MiB a second: 30 MiB a minute.
        let leak = profile(|t| 80.0 + t * 0.5);
        let figures = memory_figures(&leak, 120.0);
        assert!(!figures.bounded, "{figures:?}");
        assert!((figures.second_half_slope_mib_per_min - 30.0).abs() < 0.1);
    }

    #[test]
    fn any_error_fails_and_windows_cover_the_run() {
        let sample = |at: f64, status: u16| Sample {
            kind: Kind::Lineage,
            at_secs: at,
            latency: Duration::from_millis(5),
            outcome: Ok(status),
        };
        let samples = vec![sample(1.0, 200), sample(59.9, 200), sample(30.0, 503)];
        let w = windows(&samples, &[(1.0, 50.0)], 60.0);
        assert_eq!(w.iter().map(|w| w.requests).sum::<usize>(), 3);
        assert_eq!(w.iter().map(|w| w.errors).sum::<usize>(), 1);
        assert!(!sample(0.0, 503).ok() && sample(0.0, 201).ok());
    }
}
