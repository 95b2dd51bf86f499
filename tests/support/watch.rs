//! Watching a running service from outside while something is done to it: its memory (RSS,
//! from `/proc/<pid>/status`) and whether `/health/live` keeps answering, probed every
//! [`PROBE_EVERY`] on a fresh connection each time, as a load balancer would.
//!
//! A service whose RSS grows past [`RSS_CEILING`] over its baseline is killed at once: the
//! cases this watches are attacks on memory, and a machine shared with other work must not be
//! driven out of memory to prove one.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use super::Service;

/// How often memory is sampled and `/health/live` probed.
pub const PROBE_EVERY: Duration = Duration::from_millis(100);
/// A probe still unanswered after this is recorded as lost (and the next ones go on).
pub const PROBE_GIVE_UP: Duration = Duration::from_secs(5);
/// Growth over the baseline at which the service is killed (see the module comment).
pub const RSS_CEILING: u64 = 1536 << 20;

const MIB: u64 = 1 << 20;

/// One `/health/live` probe: when it was sent (since the watch began), and its status and
/// latency, or why it got none.
#[derive(Debug, Clone)]
pub struct Probe {
    pub sent_after: Duration,
    /// When it got its answer or gave up, since the watch began.
    pub ended_after: Duration,
    pub answer: Result<(u16, Duration), String>,
}

/// What the service went through while a case ran.
#[derive(Debug)]
pub struct Observed {
    /// RSS just before the case, in bytes.
    pub rss_baseline: u64,
    /// The highest RSS during the case, in bytes (VmHWM reset at the start where the kernel
    /// allows, and every sample).
    pub rss_peak: u64,
    /// The RSS at which the service was killed for exceeding [`RSS_CEILING`], if it was.
    pub killed_at: Option<u64>,
    /// When the service was killed (for its memory or a missed deadline), since the watch
    /// began; probes cut off by the kill are not held against it.
    pub killed_after: Option<Duration>,
    pub probes: Vec<Probe>,
    /// How long the case ran (until its deadline if it did not finish).
    pub took: Duration,
    /// Whether the case finished within its deadline.
    pub finished: bool,
    pub deadline: Duration,
}

impl Observed {
    pub fn rss_growth(&self) -> u64 {
        self.rss_peak.saturating_sub(self.rss_baseline)
    }

    /// What went wrong against these bounds: RSS growth over `rss_bound`, a probe not
    /// answered 200 within `probe_bound`, the deadline missed. Empty when all held.
    pub fn failures(&self, rss_bound: u64, probe_bound: Duration) -> Vec<String> {
        let mut failures = Vec::new();
        if !self.finished {
            failures.push(format!(
                "did not finish within its {:?} deadline; the service was killed",
                self.deadline
            ));
        }
        if let Some(rss) = self.killed_at {
            failures.push(format!(
                "killed when its RSS reached {} MiB ({} MiB over the baseline)",
                rss / MIB,
                rss.saturating_sub(self.rss_baseline) / MIB
            ));
        }
        if self.rss_growth() > rss_bound {
            failures.push(format!(
                "RSS grew by {} MiB (from {} to {} MiB); the bound is {} MiB",
                self.rss_growth() / MIB,
                self.rss_baseline / MIB,
                self.rss_peak / MIB,
                rss_bound / MIB
            ));
        }
        let before_any_kill = |p: &&Probe| self.killed_after.is_none_or(|k| p.ended_after < k);
        let bad: Vec<&Probe> = self
            .probes
            .iter()
            .filter(before_any_kill)
            .filter(|p| !matches!(p.answer, Ok((200, took)) if took <= probe_bound))
            .collect();
        if !bad.is_empty() {
            let shown: Vec<String> = bad.iter().take(5).map(|p| format!("{p:?}")).collect();
            failures.push(format!(
                "{} of {} /health/live probes were not answered 200 within {probe_bound:?}, e.g. {}",
                bad.len(),
                self.probes.len(),
                shown.join(", ")
            ));
        }
        failures
    }

    /// One line for the test's output.
    pub fn summary(&self) -> String {
        let answered: Vec<Duration> = self
            .probes
            .iter()
            .filter_map(|p| p.answer.as_ref().ok().map(|(_, took)| *took))
            .collect();
        let slowest = answered.iter().max().copied().unwrap_or_default();
        format!(
            "took {:.1?}, RSS +{} MiB (baseline {} MiB), {} probes ({} unanswered), slowest \
             {slowest:.1?}",
            self.took,
            self.rss_growth() / MIB,
            self.rss_baseline / MIB,
            self.probes.len(),
            self.probes.len() - answered.len()
        )
    }
}

/// Runs `case` while watching `service`. Past `deadline` the case is dropped, the service
/// killed, and `None` returned; the observation says so.
pub async fn watched<T>(
    service: &Arc<Service>,
    deadline: Duration,
    case: impl Future<Output = T>,
) -> (Option<T>, Observed) {
    let watch = Watch::start(service.clone());
    let begun = Instant::now();
    let outcome = tokio::time::timeout(deadline, case).await.ok();
    let took = begun.elapsed();
    if outcome.is_none() {
        watch.kill();
    }
    let mut observed = watch.stop().await;
    observed.took = took;
    observed.finished = outcome.is_some();
    observed.deadline = deadline;
    (outcome, observed)
}

/// A running watch: a sampling loop, its probes in flight.
struct Watch {
    service: Arc<Service>,
    begun: Instant,
    stop: Arc<AtomicBool>,
    killed: Arc<Killed>,
    sampling: tokio::task::JoinHandle<Sampled>,
}

/// Whether and when the service was killed, shared by the watch and its sampler.
#[derive(Default)]
struct Killed {
    flag: AtomicBool,
    after: std::sync::Mutex<Option<Duration>>,
}

impl Killed {
    /// Kills the service unless that was done already; whether this call did.
    fn kill(&self, service: &Service, after: Duration) -> bool {
        if self.flag.swap(true, Ordering::SeqCst) {
            return false;
        }
        *self.after.lock().unwrap() = Some(after);
        service.kill();
        true
    }

    fn done(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    fn after(&self) -> Option<Duration> {
        *self.after.lock().unwrap()
    }
}

/// What the sampler gathered.
struct Sampled {
    baseline: u64,
    peak: u64,
    killed_at: Option<u64>,
    probes: Vec<Probe>,
}

impl Watch {
    fn start(service: Arc<Service>) -> Watch {
        let pid = service.pid();
        let baseline = memory(pid).map_or(0, |m| m.rss);
        // Resetting the peak lets VmHWM catch a spike between two samples. Where the kernel
        // refuses, VmHWM may hold an earlier peak, so only the samples count.
        let peak_reset = std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok();
        let begun = Instant::now();
        let stop = Arc::new(AtomicBool::new(false));
        let killed = Arc::new(Killed::default());
        let sampler = Sampler {
            service: service.clone(),
            begun,
            baseline,
            peak_reset,
            stop: stop.clone(),
            killed: killed.clone(),
        };
        Watch {
            service,
            begun,
            stop,
            killed,
            sampling: tokio::spawn(sampler.run()),
        }
    }

    fn kill(&self) {
        self.killed.kill(&self.service, self.begun.elapsed());
    }

    async fn stop(self) -> Observed {
        self.stop.store(true, Ordering::SeqCst);
        let sampled = self.sampling.await.expect("the sampler panicked");
        Observed {
            rss_baseline: sampled.baseline,
            rss_peak: sampled.peak,
            killed_at: sampled.killed_at,
            killed_after: self.killed.after(),
            probes: sampled.probes,
            took: Duration::ZERO,
            finished: false,
            deadline: Duration::ZERO,
        }
    }
}

/// Samples memory and sends a probe every [`PROBE_EVERY`] until told to stop; kills the
/// service past the ceiling. Probes in flight are awaited at the end (each gives up by itself).
struct Sampler {
    service: Arc<Service>,
    begun: Instant,
    baseline: u64,
    /// Whether VmHWM was reset at the start, and so is the peak during the case.
    peak_reset: bool,
    stop: Arc<AtomicBool>,
    killed: Arc<Killed>,
}

impl Sampler {
    async fn run(self) -> Sampled {
        let mut probes = JoinSet::new();
        let mut peak = self.baseline;
        let mut killed_at = None;
        let mut ticks = tokio::time::interval(PROBE_EVERY);
        loop {
            ticks.tick().await;
            // Read before sampling, so that a case shorter than one tick still gets a final
            // sample and probe.
            let last = self.stop.load(Ordering::SeqCst);
            if let (false, Some(m)) = (self.killed.done(), memory(self.service.pid())) {
                let hwm = if self.peak_reset { m.hwm } else { 0 };
                peak = peak.max(m.rss).max(hwm);
                let over = m.rss.saturating_sub(self.baseline) > RSS_CEILING;
                if over && self.killed.kill(&self.service, self.begun.elapsed()) {
                    killed_at = Some(m.rss);
                }
            }
            if !self.killed.done() {
                probes.spawn(probe(self.service.addr, self.begun));
            }
            if last {
                break;
            }
        }
        let mut probes = probes.join_all().await;
        probes.sort_by_key(|p| p.sent_after);
        Sampled {
            baseline: self.baseline,
            peak,
            killed_at,
            probes,
        }
    }
}

/// Resident and peak resident set size, in bytes.
struct Memory {
    rss: u64,
    hwm: u64,
}

/// `None` once the process is gone.
fn memory(pid: u32) -> Option<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        let kib: u64 = line[name.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kib * 1024)
    };
    Some(Memory {
        rss: field("VmRSS:")?,
        hwm: field("VmHWM:").unwrap_or(0),
    })
}

/// `GET /health/live` on a connection of its own: its status and how long the whole exchange
/// took, connecting included.
async fn probe(addr: SocketAddr, watch_begun: Instant) -> Probe {
    let sent_after = watch_begun.elapsed();
    let answer = exchange(addr).await;
    Probe {
        sent_after,
        ended_after: watch_begun.elapsed(),
        answer,
    }
}

async fn exchange(addr: SocketAddr) -> Result<(u16, Duration), String> {
    let begun = Instant::now();
    let talk = async {
        let mut stream = TcpStream::connect(addr).await?;
        let request =
            format!("GET /health/live HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await?;
        Ok::<_, std::io::Error>(answer)
    };
    let answer = match tokio::time::timeout(PROBE_GIVE_UP, talk).await {
        Err(_) => return Err(format!("no answer within {PROBE_GIVE_UP:?}")),
        Ok(Err(err)) => return Err(format!("{err} after {:.1?}", begun.elapsed())),
        Ok(Ok(answer)) => answer,
    };
    let took = begun.elapsed();
    let status_line = String::from_utf8_lossy(&answer[..answer.len().min(64)]).into_owned();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("not an HTTP answer: {status_line:?}"))?;
    Ok((status, took))
}
