//! What each sub-command does.

use std::time::Duration;

use anyhow::Context;

use crate::archive::{self, Progress, TimeRange};
use crate::config::{
    Cli, Command, DatabaseArgs, ExportArgs, ImportArgs, PruneArgs, ReplayArgs, ServeArgs,
    TimeRangeArgs, redact,
};
use crate::graph::index;
use crate::http::{self, AppState, HttpSettings};
use crate::store::postgres::PoolSettings;
use crate::store::{Database, PruneReport, PruneRequest, Store};

/// How long start-up waits for the database (e.g. a container still booting) before giving up.
const STARTUP_WAIT: Duration = Duration::from_secs(30);

/// How often the lineage index reads the change feed in the background, so a query after a
/// long ingest with no queries finds little left to read.
const INDEX_REFRESH: Duration = Duration::from_secs(1);

/// Runs the chosen command to completion.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Migrate(args) => migrate(&connect(&args)?).await,
        Command::Openapi => {
            println!("{}", http::api_doc().to_pretty_json()?);
            Ok(())
        }
        Command::Replay(args) => replay(args).await,
        Command::Export(args) => export(args).await,
        Command::Import(args) => import(args).await,
        Command::Prune(args) => prune(args).await,
        Command::Config(args) => {
            print!(
                "{}",
                args.describe(cli.log_format, cli.config.as_deref(), &cli.sources)
            );
            Ok(())
        }
    }
}

/// How often long-running archive commands report progress on stderr.
const PROGRESS_EVERY: Duration = Duration::from_secs(2);

fn range(args: TimeRangeArgs) -> TimeRange {
    TimeRange {
        since: args.since,
        until: args.until,
    }
}

async fn replay(args: ReplayArgs) -> anyhow::Result<()> {
    let store = open(&args.database).await?;
    let mut progress = Progress::new("replay", PROGRESS_EVERY);
    let summary = archive::replay(&*store, range(args.range), &mut progress).await?;
    for (id, format, reason) in &summary.failed {
        eprintln!("replay: payload {id} ({format}) failed: {reason}");
    }
    eprintln!(
        "replay: {} replayed, {} failed",
        summary.replayed,
        summary.failed.len()
    );
    Ok(())
}

async fn export(args: ExportArgs) -> anyhow::Result<()> {
    let store = open(&args.database).await?;
    let mut out = archive::output(args.output.as_deref())?;
    let written = archive::export(&*store, range(args.range), &mut out).await?;
    eprintln!("export: {written} payloads written");
    Ok(())
}

async fn import(args: ImportArgs) -> anyhow::Result<()> {
    let store = open(&args.database).await?;
    let mut progress = Progress::new("import", PROGRESS_EVERY);
    let summary = archive::import(&*store, &args.files, &mut progress).await?;
    for reject in &summary.rejects {
        eprintln!("import: rejected {reject}");
    }
    eprintln!(
        "import: {} stored ({} already stored), {} rejected",
        summary.stored,
        summary.duplicates,
        summary.rejects.len()
    );
    match summary.rejects.len() {
        0 => Ok(()),
        n => anyhow::bail!("{n} records rejected"),
    }
}

fn connect(args: &DatabaseArgs) -> anyhow::Result<Database> {
    let settings = PoolSettings {
        max_connections: args.db_max_connections,
        acquire_timeout: Duration::from_secs(args.db_acquire_timeout_secs),
    };
    Database::connect_lazy(&args.url(), settings).map_err(|e| anyhow::anyhow!("{e}"))
}

/// Connects and migrates: what every command that reads or writes the store starts with.
async fn open(args: &DatabaseArgs) -> anyhow::Result<std::sync::Arc<dyn Store>> {
    let database = connect(args)?;
    migrate(&database).await?;
    Ok(database.store())
}

/// Applies migrations, retrying while the database is still coming up.
async fn migrate(database: &Database) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + STARTUP_WAIT;
    loop {
        match database.migrate().await {
            Ok(()) => return Ok(()),
            Err(err) if tokio::time::Instant::now() < deadline => {
                tracing::warn!(error = %err, "migrations failed; retrying");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            Err(err) => return Err(err.context("applying database migrations")),
        }
    }
}

async fn prune(args: PruneArgs) -> anyhow::Result<()> {
    let store = open(&args.database).await?;
    let request = prune_request(args.older_than, args.batch_size, args.dry_run)?;
    let report = store.prune(&request).await?;
    let verb = if args.dry_run {
        "would delete"
    } else {
        "deleted"
    };
    println!("{}", describe_prune(&request, verb, &report));
    Ok(())
}

/// What goes: everything older than `older_than` before now.
fn prune_request(
    older_than: Duration,
    batch_size: u32,
    dry_run: bool,
) -> anyhow::Result<PruneRequest> {
    let age = chrono::Duration::from_std(older_than).context("--older-than is too large")?;
    let cutoff = chrono::Utc::now()
        .checked_sub_signed(age)
        .context("--older-than reaches before the start of time")?;
    Ok(PruneRequest {
        cutoff,
        batch_size,
        dry_run,
    })
}

/// One line a person can read and a script can parse.
fn describe_prune(request: &PruneRequest, verb: &str, report: &PruneReport) -> String {
    let kinds: Vec<String> = report
        .nodes
        .iter()
        .map(|(kind, n)| format!("{kind}={n}"))
        .collect();
    format!(
        "prune: cutoff {} {verb} raw_payloads={} nodes={} edges={} ({})",
        request.cutoff.to_rfc3339(),
        report.raw_payloads,
        report.node_total(),
        report.edges,
        kinds.join(" ")
    )
}

/// Prunes every `interval` in the background, when the service is configured to.
fn schedule_prune(store: std::sync::Arc<dyn Store>, args: &ServeArgs) {
    let Some(older_than) = args.prune_older_than else {
        return;
    };
    let (interval, batch_size) = (args.prune_interval, args.prune_batch_size);
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        loop {
            ticks.tick().await;
            let outcome = match prune_request(older_than, batch_size, false) {
                Ok(request) => store
                    .prune(&request)
                    .await
                    .map(|report| describe_prune(&request, "deleted", &report))
                    .map_err(anyhow::Error::from),
                Err(err) => Err(err),
            };
            match outcome {
                Ok(line) => tracing::info!("{line}"),
                Err(err) => tracing::warn!(error = %err, "scheduled prune failed"),
            }
        }
    });
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let database = connect(&args.database)?;
    migrate(&database).await?;
    let store = database.store();
    schedule_prune(store.clone(), &args);
    let settings = HttpSettings {
        max_body_bytes: args.max_body_bytes,
        request_timeout: Duration::from_secs(args.request_timeout_secs),
    };
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("binding {}", args.addr))?;
    tracing::info!(addr = %args.addr, backend = database.backend(), database = %redact(&args.database.url()), "headwater listening");
    let state = AppState::shared(store, settings, args.lineage_index);
    if let Some(index) = &state.index {
        index::keep_fresh(index.clone(), INDEX_REFRESH);
    }
    http::serve(listener, state, http::shutdown_signal()).await?;
    Ok(())
}
