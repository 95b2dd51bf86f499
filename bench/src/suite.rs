//! The whole benchmark: for each backend and scale, a fresh database and service, the ingest
//! phases against raw SQL, then the query phases against every reference; then the huge
//! plans on their own.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use reqwest::Client;

use crate::backend::{self, Backend, Fresh, Reference};
use crate::columns;
use crate::generate::{self, Workload};
use crate::in_memory::InMemory;
use crate::ingest;
use crate::layout::{self, LayoutReport};
use crate::marquez;
use crate::openlineage;
use crate::paths;
use crate::query::{self, Start};
use crate::report::{
    FixedAnswer, HugeReport, IngestReport, LineageReport, MarquezReport, PairReport, ScaleReport,
    Throughput, WorkloadFacts,
};
use crate::rss::Sampler;
use crate::scale::{self, Scale};
use crate::service::{Launch, Service};
use crate::validate;

/// Everything the suite needs to know.
#[derive(Debug, Clone)]
pub struct Plan {
    pub binary: PathBuf,
    pub admin_url: String,
    pub data_dir: PathBuf,
    pub log_dir: PathBuf,
    pub seed: u64,
    pub concurrency: usize,
    pub port: u16,
    pub backends: Vec<Backend>,
    pub scales: Vec<Scale>,
    pub queries: usize,
    pub marquez_queries: usize,
    pub marquez_timeout: Duration,
    pub fixed_queries: usize,
    pub huge_plans: usize,
    pub openlineage: bool,
    /// Leave the databases behind, for profiling by hand.
    pub keep: bool,
}

/// The lineage depth every query phase uses: the depth-10 questions.
pub const DEPTH: u32 = 10;

/// Schema the Marquez reference loads into, inside each PostgreSQL benchmark database.
const MARQUEZ_SCHEMA: &str = "bench_marquez";

fn progress(message: impl AsRef<str>) {
    eprintln!("headwater-bench: {}", message.as_ref());
}

/// Runs every scale, then the huge plans, of one backend.
pub async fn backend(plan: &Plan, backend: Backend) -> Result<(Vec<ScaleReport>, HugeReport)> {
    let client = crate::http::client()?;
    let mut scales = Vec::new();
    for scale in &plan.scales {
        progress(format!(
            "{} {}: {} plans",
            backend.name(),
            scale.name,
            scale.plans
        ));
        scales.push(one_scale(plan, &client, backend, scale).await?);
    }
    progress(format!("{}: huge plans", backend.name()));
    let huge = huge_plans(plan, &client, backend).await?;
    Ok((scales, huge))
}

async fn one_scale(
    plan: &Plan,
    client: &Client,
    backend: Backend,
    scale: &Scale,
) -> Result<ScaleReport> {
    let workload = Arc::new(generate::generate_with(scale.plans, scale.huge, plan.seed));
    validate::check_workload(&workload).map_err(|e| anyhow::anyhow!("invalid workload: {e}"))?;
    let name = format!("hwbench_{}_{}", backend.name(), scale.name.to_lowercase());
    let db = backend::fresh(backend, &name, &plan.admin_url, &plan.data_dir).await?;
    let service = start(plan, client, &db, 0, true, &name).await?;
    let reference = db.reference(plan.concurrency).await?;
    let (spline, memory) = spline_ingest(plan, client, &service, &reference, &workload).await?;
    let stored = reference.stored().await?;
    reference.analyze().await?;
    backend::settle().await;
    let unindexed = start(plan, client, &db, 1, false, &format!("{name}_noindex")).await?;
    let queries = Queries {
        plan,
        client,
        indexed: &service,
        unindexed: &unindexed,
        reference: &reference,
        workload: &workload,
    };
    let measured = queries.all().await;
    unindexed.stop().await?;
    service.stop().await?;
    reference.close().await;
    if !plan.keep {
        db.dispose().await?;
    }
    let (lineage, marquez, fixed, columns, paths, layout, build_ms) = measured?;
    let openlineage = match plan.openlineage {
        true => Some(openlineage_ingest(plan, client, backend, scale, &workload).await?),
        false => None,
    };
    Ok(ScaleReport {
        backend,
        scale: scale.name,
        plans: workload.plans.len(),
        huge_plans: scale.huge,
        runs: workload.plans.iter().map(|p| p.runs()).sum(),
        workload: WorkloadFacts::of(&workload),
        stored,
        spline,
        openlineage,
        ingest_memory: memory,
        in_memory_build_ms: build_ms,
        lineage,
        marquez,
        fixed,
        columns,
        paths,
        layout,
    })
}

async fn start(
    plan: &Plan,
    client: &Client,
    db: &Fresh,
    slot: u16,
    index: bool,
    log: &str,
) -> Result<Service> {
    let launch = Launch {
        binary: &plan.binary,
        database_url: &db.url,
        port: plan.port + slot,
        index,
        log: plan.log_dir.join(format!("{log}.log")),
    };
    Service::start(launch, client).await
}

/// Posts the Spline workload, watching the service's memory; then writes the same rows raw.
async fn spline_ingest(
    plan: &Plan,
    client: &Client,
    service: &Service,
    reference: &Reference,
    workload: &Arc<Workload>,
) -> Result<(IngestReport, crate::rss::MemoryProfile)> {
    let tasks = Arc::new(ingest::schedule(workload));
    progress(format!(
        "  Spline ingest: {} runs, {} clients",
        tasks.len(),
        plan.concurrency
    ));
    let sampler = Sampler::start(service.pid);
    let posted = ingest::spline(
        client,
        &service.url,
        Arc::clone(workload),
        Arc::clone(&tasks),
        plan.concurrency,
    )
    .await?;
    let memory = sampler.finish().await;
    let rows = Arc::new(ingest::reference_rows(workload, &tasks));
    progress("  reference ingest");
    let written = reference.ingest(rows, plan.concurrency).await?;
    let rows_total = written.timed.outputs.iter().sum();
    let counts = Counts {
        plans: workload.plans.len(),
        runs: tasks.len(),
        events: tasks.len(),
        requests: 2 * tasks.len(),
    };
    let report = IngestReport::new(
        Throughput::of(&counts, posted.wall, &posted.latencies, None),
        Throughput::of(
            &counts,
            written.timed.wall,
            &written.timed.latencies,
            Some(rows_total),
        ),
        written.rows_by_kind,
    );
    Ok((report, memory))
}

/// What one ingest phase sent.
pub struct Counts {
    pub plans: usize,
    pub runs: usize,
    pub events: usize,
    pub requests: usize,
}

/// The OpenLineage workload of the same platform, on a database of its own (its datasets
/// carry the same keys as the Spline ones, and would merge with them).
async fn openlineage_ingest(
    plan: &Plan,
    client: &Client,
    backend: Backend,
    scale: &Scale,
    workload: &Workload,
) -> Result<IngestReport> {
    let runs = Arc::new(openlineage::generate(workload));
    let mix = openlineage::mix(&runs);
    let name = format!(
        "hwbench_{}_{}_ol",
        backend.name(),
        scale.name.to_lowercase()
    );
    let db = backend::fresh(backend, &name, &plan.admin_url, &plan.data_dir).await?;
    let service = start(plan, client, &db, 2, true, &name).await?;
    let reference = db.reference(plan.concurrency).await?;
    progress(format!(
        "  OpenLineage ingest: {} runs, {} events",
        mix.runs, mix.events
    ));
    let rows: Vec<_> = runs.iter().flat_map(|r| r.rows.iter().cloned()).collect();
    let measured = async {
        let posted =
            ingest::openlineage(client, &service.url, Arc::clone(&runs), plan.concurrency).await?;
        let written = reference.ingest(Arc::new(rows), plan.concurrency).await?;
        Ok::<_, anyhow::Error>((posted, written))
    }
    .await;
    service.stop().await?;
    reference.close().await;
    if !plan.keep {
        db.dispose().await?;
    }
    let (posted, written) = measured?;
    let rows_total = written.timed.outputs.iter().sum();
    let counts = Counts {
        plans: workload.plans.len(),
        runs: mix.runs,
        events: mix.events,
        requests: mix.events,
    };
    Ok(IngestReport::new(
        Throughput::of(&counts, posted.wall, &posted.latencies, None),
        Throughput::of(
            &counts,
            written.timed.wall,
            &written.timed.latencies,
            Some(rows_total),
        ),
        written.rows_by_kind,
    ))
}

/// The query phases of one scale, over the same stored graph.
struct Queries<'a> {
    plan: &'a Plan,
    client: &'a Client,
    indexed: &'a Service,
    unindexed: &'a Service,
    reference: &'a Reference,
    workload: &'a Workload,
}

type Measured = (
    LineageReport,
    Option<MarquezReport>,
    FixedAnswer,
    PairReport,
    PairReport,
    LayoutReport,
    f64,
);

impl Queries<'_> {
    async fn all(&self) -> Result<Measured> {
        let layer = self.reference.lineage_layer().await?;
        let (memory, built) = InMemory::build(&layer);
        let starts = query::choose_starts(self.workload, self.plan.queries);
        progress(format!(
            "  {} lineage queries at depth {DEPTH}",
            starts.len()
        ));
        let lineage = self.lineage(&starts, &memory).await?;
        let fixed_starts =
            scale::fixed_size_starts(&memory, self.plan.fixed_queries, self.plan.seed);
        progress(format!("  {} fixed-size queries", fixed_starts.len()));
        let fixed = self.fixed(&fixed_starts, &memory).await?;
        let marquez = match self.reference.postgres() {
            Some(pool) => Some(self.marquez(pool, &starts, &fixed_starts).await?),
            None => None,
        };
        let columns = self.columns().await?;
        let paths = self.paths().await?;
        let rounds = (self.plan.queries / 4).max(5);
        progress(format!(
            "  {rounds} layouts of up to {} nodes",
            layout::MAX_NODES
        ));
        let layout = layout::measure(self.client, &self.indexed.url, self.workload, rounds).await?;
        Ok((
            lineage,
            marquez,
            fixed,
            columns,
            paths,
            layout,
            built.as_secs_f64() * 1e3,
        ))
    }

    /// Indexed service, service walking the database, recursive SQL, memory.
    async fn lineage(&self, starts: &[Start], memory: &InMemory) -> Result<LineageReport> {
        let sides = query::time_sides(starts, 4, async |side, start: &Start| match side {
            0 => query::lineage(self.client, &self.indexed.url, start, DEPTH).await,
            1 => query::lineage(self.client, &self.unindexed.url, start, DEPTH).await,
            2 => self.reference.lineage(start, DEPTH).await,
            _ => memory.lineage(start, DEPTH).context("start not in memory"),
        })
        .await?;
        Ok(LineageReport::of(starts, sides))
    }

    /// A fixed-size answer at every scale: latency should not grow with the graph.
    async fn fixed(&self, starts: &[Start], memory: &InMemory) -> Result<FixedAnswer> {
        let depth = scale::FIXED_DEPTH;
        let sides = query::time_sides(starts, 3, async |side, start: &Start| match side {
            0 => query::lineage(self.client, &self.indexed.url, start, depth).await,
            1 => self.reference.lineage(start, depth).await,
            _ => memory.lineage(start, depth).context("start not in memory"),
        })
        .await?;
        Ok(FixedAnswer::of(sides))
    }

    /// Marquez's SQL beside the service, on a few of the same starts (it is slow).
    async fn marquez(
        &self,
        pool: &sqlx::PgPool,
        starts: &[Start],
        fixed: &[Start],
    ) -> Result<MarquezReport> {
        let loaded = marquez::load(pool, MARQUEZ_SCHEMA).await?;
        let timeout = self.plan.marquez_timeout;
        let ask = async |depth: u32, side: usize, start: &Start| -> Result<Option<usize>> {
            match side {
                0 => Ok(Some(
                    query::lineage(self.client, &self.indexed.url, start, depth)
                        .await?
                        .nodes,
                )),
                _ => match marquez::lineage(pool, MARQUEZ_SCHEMA, &start.key, depth, timeout)
                    .await?
                {
                    marquez::Outcome::Answered { jobs, datasets, .. } => Ok(Some(jobs + datasets)),
                    marquez::Outcome::TimedOut => Ok(None),
                },
            }
        };
        let few = &starts[..self.plan.marquez_queries.min(starts.len())];
        progress(format!(
            "  {} Marquez queries (timeout {timeout:?})",
            few.len()
        ));
        let deep =
            query::time_sides(few, 2, async |side, s: &Start| ask(DEPTH, side, s).await).await?;
        let few_fixed = &fixed[..self.plan.marquez_queries.min(fixed.len())];
        let depth = scale::FIXED_DEPTH;
        let shallow = query::time_sides(few_fixed, 2, async |side, s: &Start| {
            ask(depth, side, s).await
        })
        .await?;
        marquez::drop(pool, MARQUEZ_SCHEMA).await?;
        Ok(MarquezReport::of(loaded, timeout, deep, shallow))
    }

    async fn columns(&self) -> Result<PairReport> {
        let chosen = columns::choose_columns(self.workload, self.plan.queries);
        let sides = query::time_sides(
            &chosen,
            2,
            async |side, column: &columns::Column| match side {
                0 => columns::lineage(self.client, &self.indexed.url, column).await,
                _ => self.reference.column_lineage(column, columns::DEPTH).await,
            },
        )
        .await?;
        Ok(PairReport::of(&sides[0], &sides[1], |a, b| {
            a.nodes == b.nodes
        }))
    }

    async fn paths(&self) -> Result<PairReport> {
        let pairs = paths::choose_pairs(self.workload, self.plan.queries);
        let sides = query::time_sides(&pairs, 2, async |side, pair: &paths::Pair| match side {
            0 => paths::paths(self.client, &self.indexed.url, pair).await,
            _ => {
                self.reference
                    .paths(pair, paths::MAX_PATHS, paths::MAX_LENGTH)
                    .await
            }
        })
        .await?;
        Ok(PairReport::of(&sides[0], &sides[1], |a, b| {
            a.shortest == b.shortest
        }))
    }
}

/// The huge plans alone on a fresh database: time to ingest each, and the service's peak
/// memory while it does; then the same rows raw.
async fn huge_plans(plan: &Plan, client: &Client, backend: Backend) -> Result<HugeReport> {
    let workload = generate::generate_with(scale::HUGE_HOST_PLANS, plan.huge_plans, plan.seed);
    let huge: Vec<&generate::Plan> = workload.plans.iter().filter(|p| p.huge).collect();
    ensure!(!huge.is_empty(), "no huge plan was generated");
    let name = format!("hwbench_{}_huge", backend.name());
    let db = backend::fresh(backend, &name, &plan.admin_url, &plan.data_dir).await?;
    let service = start(plan, client, &db, 3, true, &name).await?;
    let reference = db.reference(1).await?;
    let url = crate::http::endpoint(&service.url, "producer/execution-plans");
    let events = crate::http::endpoint(&service.url, "producer/execution-events");
    let sampler = Sampler::start(service.pid);
    let mut timed = Vec::new();
    for p in &huge {
        let begun = std::time::Instant::now();
        ingest::post(client, &url, ingest::SPLINE_V12, p.body.clone()).await?;
        ingest::post(client, &events, ingest::SPLINE_V12, p.events[0].clone()).await?;
        timed.push(begun.elapsed());
    }
    let memory = sampler.finish().await;
    let rows = Arc::new(
        huge.iter()
            .map(|p| crate::rows::rows_of(p))
            .collect::<Vec<_>>(),
    );
    let written = reference.ingest(rows, 1).await?;
    service.stop().await?;
    reference.close().await;
    if !plan.keep {
        db.dispose().await?;
    }
    Ok(HugeReport::of(
        &huge,
        &timed,
        &written.timed.latencies,
        memory,
        written.rows_by_kind,
    ))
}
