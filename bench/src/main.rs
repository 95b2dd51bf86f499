//! `headwater-bench`: the benchmark suite. For each backend (PostgreSQL, SQLite) and scale
//! (S1, S2, S3: about 10k, 100k and 1M edges) it starts the release service on a fresh
//! database, ingests a generated data platform through HTTP (Spline, then OpenLineage), and
//! asks lineage questions; every figure is set against a reference measured in the same run:
//! raw SQL writing the same rows, a recursive SQL query doing the same walk, Marquez's lineage
//! SQL, and the same walk in memory. See `bench/README.md`.

mod backend;
mod chart;
mod columns;
mod generate;
mod http;
mod in_memory;
mod ingest;
mod layout;
mod marquez;
mod openlineage;
mod paths;
mod query;
mod reference;
mod reference_sqlite;
mod report;
mod rng;
mod rows;
mod rss;
mod scale;
mod service;
mod soak;
mod soak_report;
mod stats;
mod suite;
mod validate;
mod workers;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use chrono::Utc;
use clap::Parser;
use sqlx::Row;

use crate::backend::Backend;
use crate::report::{Machine, SuiteReport};

/// Benchmark Headwater against raw SQL, Marquez's SQL and an in-memory walk; or soak it.
#[derive(Debug, Parser)]
#[command(version, about, args_conflicts_with_subcommands = true)]
struct Args {
    #[command(subcommand)]
    mode: Option<Mode>,

    /// Every measurement, small: S1 and S2, fewer queries; under five minutes.
    #[arg(long)]
    quick: bool,

    /// Scales to run, comma-separated [default: S1,S2,S3; with --quick S1,S2].
    #[arg(long, value_delimiter = ',')]
    scales: Vec<String>,

    /// Backends to run, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "postgres,sqlite")]
    backends: Vec<Backend>,

    #[command(flatten)]
    common: Common,

    /// Concurrent clients during ingest.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,

    /// Timed queries per query phase and scale [default: 100; with --quick 20].
    #[arg(long)]
    queries: Option<usize>,

    /// Of those, how many also go to Marquez's SQL [default: 10; with --quick 4].
    #[arg(long)]
    marquez_queries: Option<usize>,

    /// Seconds before a Marquez query is cut off (counted at the timeout).
    #[arg(long, default_value_t = 10)]
    marquez_timeout_secs: u64,

    /// Huge plans in the huge-plan phase.
    #[arg(long, default_value_t = 3)]
    huge_plans: usize,

    /// Skip the OpenLineage ingest phase.
    #[arg(long)]
    no_openlineage: bool,

    /// Keep the benchmark databases afterwards (to profile queries by hand).
    #[arg(long)]
    keep_databases: bool,
}

/// Other things the harness does than the benchmark suite.
#[derive(Debug, clap::Subcommand)]
enum Mode {
    /// A bounded load test: mixed ingest and queries for a fixed time, watching for errors
    /// and for memory that keeps growing. Fails on either.
    Soak(soak::SoakArgs),
}

/// Settings the suite and the soak share.
#[derive(Debug, Clone, clap::Args)]
pub struct Common {
    /// The service binary (build it with `cargo build --release`).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/release/headwater"))]
    headwater: PathBuf,

    /// A PostgreSQL URL allowed to create databases; each measurement gets its own.
    #[arg(
        long,
        env = "BENCH_ADMIN_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    admin_url: String,

    /// Where reports, service logs and SQLite files go.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/results"))]
    results_dir: PathBuf,

    /// First of the ports the services listen on (soak: 0 picks a free one).
    #[arg(long, default_value_t = 18080)]
    port: u16,

    /// Workload and start-node seed.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    if let Some(Mode::Soak(soak)) = args.mode {
        return soak::run(soak).await;
    }
    ensure!(args.concurrency > 0, "--concurrency must be at least 1");
    ensure!(
        args.common.headwater.exists(),
        "{} is missing: run `cargo build --release -p headwater` (or bench/run.sh)",
        args.common.headwater.display()
    );
    let plan = plan_of(&args)?;
    let started = Utc::now();
    let machine = machine(&args.common.admin_url).await?;
    let (mut scales, mut huge) = (Vec::new(), Vec::new());
    for &backend in &plan.backends {
        let (measured, h) = suite::backend(&plan, backend).await?;
        scales.extend(measured);
        huge.push((backend, h));
    }
    let report = SuiteReport {
        started,
        finished: Utc::now(),
        quick: args.quick,
        seed: args.common.seed,
        concurrency: args.concurrency,
        machine,
        scales,
        huge,
    };
    let path = report.write(&args.common.results_dir)?;
    print!("{}", report.markdown("latest-scaling.png"));
    println!(
        "\nReport: {} (and latest.md, latest.json, latest-scaling.png)",
        path.display()
    );
    Ok(())
}

fn plan_of(args: &Args) -> Result<suite::Plan> {
    let names: Vec<String> = match (args.scales.is_empty(), args.quick) {
        (false, _) => args.scales.clone(),
        (true, true) => vec!["S1".into(), "S2".into()],
        (true, false) => vec!["S1".into(), "S2".into(), "S3".into()],
    };
    let scales = names
        .iter()
        .map(|n| scale::parse(n).with_context(|| format!("unknown scale {n}; use S1, S2 or S3")))
        .collect::<Result<Vec<_>>>()?;
    let pick = |value: Option<usize>, full: usize, quick: usize| {
        value.unwrap_or(if args.quick { quick } else { full })
    };
    let queries = pick(args.queries, 100, 20);
    Ok(suite::Plan {
        binary: args.common.headwater.clone(),
        admin_url: args.common.admin_url.clone(),
        data_dir: args.common.results_dir.join("data"),
        log_dir: args.common.results_dir.join("logs"),
        seed: args.common.seed,
        concurrency: args.concurrency,
        port: args.common.port,
        backends: args.backends.clone(),
        scales,
        queries,
        marquez_queries: pick(args.marquez_queries, 10, 4),
        marquez_timeout: Duration::from_secs(args.marquez_timeout_secs),
        fixed_queries: queries,
        huge_plans: if args.quick { 1 } else { args.huge_plans },
        openlineage: !args.no_openlineage,
        keep: args.keep_databases,
    })
    .inspect(|p| {
        let _ = std::fs::create_dir_all(&p.log_dir);
    })
}

/// What the machine is, read off `/proc` and the databases.
async fn machine(admin_url: &str) -> Result<Machine> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let kib: f64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let pool = sqlx::PgPool::connect(admin_url)
        .await
        .context("connecting to --admin-url")?;
    let row = sqlx::query(
        "select current_setting('server_version'), current_setting('shared_buffers'),
                current_setting('jit'), current_setting('synchronous_commit')",
    )
    .fetch_one(&pool)
    .await?;
    pool.close().await;
    let sqlite: String = {
        let lite = sqlx::SqlitePool::connect("sqlite::memory:").await?;
        let v = sqlx::query_scalar("select sqlite_version()")
            .fetch_one(&lite)
            .await?;
        lite.close().await;
        v
    };
    Ok(Machine {
        cpu,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        memory_gib: kib / 1048576.0,
        kernel: kernel.trim().to_owned(),
        postgres: format!("PostgreSQL {}", row.get::<String, _>(0)),
        postgres_settings: format!(
            "shared_buffers {}, jit {} (off for the references), synchronous_commit {}",
            row.get::<String, _>(1),
            row.get::<String, _>(2),
            row.get::<String, _>(3)
        ),
        sqlite,
    })
}
