//! `headwater-bench`: measures Headwater's ingest throughput and lineage
//! query latency, and the same work done with raw SQL on the same machine,
//! so that results are published as ratios that survive noisy hardware.
//!
//! Phases, in order: generate and validate the workload; post it to the
//! service; write it again as the reference; query dataset lineage, column
//! lineage and paths on both sides, interleaved; report. See
//! `bench/README.md`.

mod columns;
mod generate;
mod http;
mod ingest;
mod paths;
mod query;
mod reference;
mod report;
mod rng;
mod rows;
mod stats;
mod validate;
mod workers;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, ensure};
use chrono::Utc;
use clap::Parser;
use reqwest::Url;
use sqlx::PgPool;

use crate::generate::Workload;
use crate::report::{Ingest, Lineage, Paths, Reference, Report, Settings, WorkloadFacts};

/// Benchmark Headwater against a raw-SQL reference on the same Postgres.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Base URL of the running Headwater service.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: Url,

    /// The service's Postgres, for the raw-SQL reference.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,

    /// Number of execution plans to generate and ingest.
    #[arg(long, default_value_t = 2000)]
    plans: usize,

    /// Plans (or reference transactions) in flight at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,

    /// Number of timed lineage queries, half downstream and half upstream.
    #[arg(long, default_value_t = 200)]
    queries: usize,

    /// Lineage depth in job hops.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=50))]
    depth: u32,

    /// Number of timed column-lineage queries [default: --queries].
    #[arg(long)]
    column_queries: Option<usize>,

    /// Number of timed path queries [default: --queries].
    #[arg(long)]
    path_queries: Option<usize>,

    /// Seed for the generated workload and the choice of start nodes.
    #[arg(long, default_value_t = 42)]
    seed: u64,

    /// Measure the service only; no database access at all.
    #[arg(long)]
    skip_reference: bool,

    /// Where the JSON report goes.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/results"))]
    results_dir: PathBuf,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    ensure!(args.plans > 0, "--plans must be at least 1");
    ensure!(args.concurrency > 0, "--concurrency must be at least 1");
    ensure!(args.queries > 0, "--queries must be at least 1");
    ensure!(
        args.column_queries != Some(0) && args.path_queries != Some(0),
        "--column-queries and --path-queries must be at least 1"
    );
    let database_url = match (&args.database_url, args.skip_reference) {
        (_, true) => None,
        (Some(url), false) => Some(url.as_str()),
        (None, false) => anyhow::bail!(
            "the reference needs --database-url (or DATABASE_URL); or pass --skip-reference"
        ),
    };

    let report = run(&args, database_url).await?;
    print!("{}", report.render());
    let path = report.write(&args.results_dir)?;
    println!("\nJSON report: {}", path.display());
    Ok(())
}

async fn run(args: &Args, database_url: Option<&str>) -> Result<Report> {
    let started = Utc::now();
    progress(format!(
        "generating {} plans (seed {})",
        args.plans, args.seed
    ));
    let workload = Arc::new(generate::generate(args.plans, args.seed));
    validate::check_workload(&workload)
        .map_err(|e| anyhow::anyhow!("generated workload is invalid: {e}"))?;

    let client = http::client()?;
    http::check_ready(&client, &args.url).await?;
    let pool = match database_url {
        Some(url) => Some(reference::connect(url, args.concurrency).await?),
        None => None,
    };

    progress(format!(
        "Headwater ingest, concurrency {}",
        args.concurrency
    ));
    let posted = ingest::run(&client, &args.url, Arc::clone(&workload), args.concurrency).await?;
    let service_ingest = Ingest::new(args.plans, posted.wall, &posted.latencies, None);
    let ids_not_echoed = posted.outputs.iter().filter(|p| !p.id_echoed).count();

    let reference_ingest = match &pool {
        Some(pool) => Some(reference_ingest(pool, &workload, args.concurrency).await?),
        None => None,
    };
    if let Some(pool) = &pool {
        reference::analyze(pool).await?;
    }

    let starts = query::choose_starts(&workload, args.queries);
    progress(format!(
        "{} lineage queries at depth {}",
        starts.len(),
        args.depth
    ));
    let queried = query::run(&client, &args.url, pool.as_ref(), &starts, args.depth).await?;

    let start_columns =
        columns::choose_columns(&workload, args.column_queries.unwrap_or(args.queries));
    progress(format!(
        "{} column-lineage queries at depth {}",
        start_columns.len(),
        columns::DEPTH
    ));
    let column_run = query::interleave(
        &start_columns,
        async |column| columns::lineage(&client, &args.url, column).await,
        pool.as_ref().map(|pool| {
            async move |column: &columns::Column| {
                reference::column_lineage(pool, column, columns::DEPTH).await
            }
        }),
        |i| i % 2 == 1,
    )
    .await?;

    let pairs = paths::choose_pairs(&workload, args.path_queries.unwrap_or(args.queries));
    progress(format!(
        "{} path queries (maxPaths {}, maxLength {})",
        pairs.len(),
        paths::MAX_PATHS,
        paths::MAX_LENGTH
    ));
    let path_run = query::interleave(
        &pairs,
        async |pair| paths::paths(&client, &args.url, pair).await,
        pool.as_ref().map(|pool| {
            async move |pair: &paths::Pair| {
                reference::paths(pool, pair, paths::MAX_PATHS, paths::MAX_LENGTH).await
            }
        }),
        |i| i % 2 == 1,
    )
    .await?;

    let reference = match (
        reference_ingest,
        &queried.reference,
        &column_run.reference,
        &path_run.reference,
    ) {
        (Some(written), Some(lineage), Some(column_side), Some(path_side)) => Some(Reference {
            tables: written.tables,
            ingest: written.ingest,
            rows_by_kind: written.rows_by_kind,
            lineage: Lineage::of(lineage),
            node_counts_agree: queried.agreeing(|a, b| a.nodes == b.nodes),
            truncation_agrees: queried.agreeing(|a, b| a.truncated == b.truncated),
            columns: Lineage::of(column_side),
            column_counts_agree: column_run.agreeing(|a, b| a.nodes == b.nodes),
            column_truncation_agrees: column_run.agreeing(|a, b| a.truncated == b.truncated),
            paths: Paths::of(path_side),
            shortest_agrees: path_run.agreeing(|a, b| a.shortest == b.shortest),
            path_counts_agree: path_run
                .agreeing(|a, b| a.paths == b.paths && a.truncated == b.truncated),
        }),
        _ => None,
    };
    Ok(Report {
        started,
        settings: Settings {
            url: args.url.to_string(),
            plans: args.plans,
            concurrency: args.concurrency,
            queries: args.queries,
            depth: args.depth,
            column_queries: start_columns.len(),
            path_queries: pairs.len(),
            seed: args.seed,
        },
        workload: WorkloadFacts::of(&workload),
        ingest: service_ingest,
        ids_not_echoed,
        lineage: Lineage::of(&queried.service),
        downstream_queries: report::count_downstream(&starts),
        columns: Lineage::of(&column_run.service),
        paths: Paths::of(&path_run.service),
        pairs_by_jobs: report::count_by_jobs(&pairs),
        reference,
    })
}

/// Writes the same plans as node/edge rows into fresh scratch tables,
/// counts the rows of each kind on both sides, and drops the tables again
/// whether or not that worked.
async fn reference_ingest(
    pool: &PgPool,
    workload: &Workload,
    concurrency: usize,
) -> Result<ReferenceIngest> {
    let tables = reference::create_tables(pool).await?;
    progress(format!("reference ingest, concurrency {concurrency}"));
    let rows: Vec<rows::PlanRows> = workload.plans.iter().map(rows::rows_of).collect();
    let written = match reference::ingest(pool, Arc::new(rows), concurrency).await {
        Ok(timed) => reference::rows_by_kind(pool)
            .await
            .map(|counts| (timed, counts)),
        Err(e) => Err(e),
    };
    let dropped = reference::drop_tables(pool).await;
    let (timed, rows_by_kind) = written?;
    dropped.context("the reference tables may need dropping by hand")?;
    let rows = timed.outputs.iter().sum();
    Ok(ReferenceIngest {
        tables,
        ingest: Ingest::new(
            workload.plans.len(),
            timed.wall,
            &timed.latencies,
            Some(rows),
        ),
        rows_by_kind,
    })
}

/// What the reference ingest phase found.
struct ReferenceIngest {
    tables: reference::TableOrigin,
    ingest: Ingest,
    rows_by_kind: Vec<reference::KindRows>,
}

/// Progress goes to stderr so stdout carries only the report.
fn progress(message: String) {
    eprintln!("headwater-bench: {message}");
}
