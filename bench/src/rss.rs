//! The service's memory, watched from outside through `/proc`.
//!
//! Sampling every few milliseconds catches the shape over time; the kernel's high-water mark
//! (`VmHWM`, reset at the start of each phase through `clear_refs`) catches a peak between two
//! samples. The reported peak is the larger of the two.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

const EVERY: Duration = Duration::from_millis(25);

/// Memory of one phase.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MemoryProfile {
    /// Largest resident set seen, MiB.
    pub peak_mib: f64,
    /// Resident set at the end of the phase, MiB.
    pub end_mib: f64,
    /// (seconds since the phase began, MiB), about one a second.
    pub samples: Vec<(f64, f64)>,
}

/// A sampler running beside a phase.
pub struct Sampler {
    pid: u32,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Vec<(f64, u64)>>,
}

impl Sampler {
    /// Starts watching `pid`, first resetting its high-water mark where the kernel allows.
    pub fn start(pid: u32) -> Sampler {
        // "5" resets the peak RSS (Linux ≥ 4.0); without permission the samples still count.
        let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let task = tokio::spawn(async move {
            let begun = Instant::now();
            let mut samples = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                if let Some(kib) = status_kib(pid, "VmRSS:") {
                    samples.push((begun.elapsed().as_secs_f64(), kib));
                }
                tokio::time::sleep(EVERY).await;
            }
            samples
        });
        Sampler { pid, stop, task }
    }

    /// Stops watching and summarises what was seen.
    pub async fn finish(self) -> MemoryProfile {
        self.stop.store(true, Ordering::Relaxed);
        let samples = self.task.await.unwrap_or_default();
        let sampled = samples.iter().map(|(_, kib)| *kib).max().unwrap_or(0);
        let hwm = status_kib(self.pid, "VmHWM:").unwrap_or(0);
        let end = status_kib(self.pid, "VmRSS:").unwrap_or(0);
        MemoryProfile {
            peak_mib: mib(sampled.max(hwm)),
            end_mib: mib(end),
            samples: thin(&samples),
        }
    }
}

/// One sample per second is plenty for a curve over minutes.
fn thin(samples: &[(f64, u64)]) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::new();
    for &(at, kib) in samples {
        if out.last().is_none_or(|(last, _)| at - last >= 1.0) {
            out.push(((at * 10.0).round() / 10.0, mib(kib)));
        }
    }
    out
}

fn mib(kib: u64) -> f64 {
    (kib as f64 / 1024.0 * 10.0).round() / 10.0
}

/// A `kB` line of `/proc/<pid>/status`.
fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn our_own_memory_is_seen() {
        let sampler = Sampler::start(std::process::id());
        let ballast = vec![7u8; 64 * 1024 * 1024];
        tokio::time::sleep(Duration::from_millis(100)).await;
        let profile = sampler.finish().await;
        assert!(ballast.iter().all(|b| *b == 7));
        assert!(profile.peak_mib >= 64.0, "{profile:?}");
        assert!(!profile.samples.is_empty());
    }

    #[test]
    fn samples_thin_to_one_a_second() {
        let samples: Vec<(f64, u64)> = (0..100).map(|i| (i as f64 * 0.05, 1024)).collect();
        assert_eq!(thin(&samples).len(), 5);
    }
}
