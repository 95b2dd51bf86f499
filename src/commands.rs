//! What each sub-command does.

use std::time::Duration;

use anyhow::Context;

use crate::archive::{self, Progress, TimeRange};
use crate::config::{
    Cli, Command, DatabaseArgs, ExportArgs, ImportArgs, ReplayArgs, ServeArgs, TimeRangeArgs,
    redact,
};
use crate::http::{self, AppState, HttpSettings};
use crate::store::postgres::{PgStore, PoolSettings};

/// How long start-up waits for the database (e.g. a container still booting) before giving up.
const STARTUP_WAIT: Duration = Duration::from_secs(30);

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
        Command::Config(args) => {
            print!("{}", args.describe(cli.log_format));
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
    let store = connect(&args.database)?;
    migrate(&store).await?;
    let mut progress = Progress::new("replay", PROGRESS_EVERY);
    let summary = archive::replay(&store, range(args.range), &mut progress).await?;
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
    let store = connect(&args.database)?;
    migrate(&store).await?;
    let mut out = archive::output(args.output.as_deref())?;
    let written = archive::export(&store, range(args.range), &mut out).await?;
    eprintln!("export: {written} payloads written");
    Ok(())
}

async fn import(args: ImportArgs) -> anyhow::Result<()> {
    let store = connect(&args.database)?;
    migrate(&store).await?;
    let mut progress = Progress::new("import", PROGRESS_EVERY);
    let summary = archive::import(&store, &args.files, &mut progress).await?;
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

fn connect(args: &DatabaseArgs) -> anyhow::Result<PgStore> {
    let settings = PoolSettings {
        max_connections: args.db_max_connections,
        acquire_timeout: Duration::from_secs(args.db_acquire_timeout_secs),
    };
    PgStore::connect_lazy(&args.database_url, settings).map_err(|e| anyhow::anyhow!("{e}"))
}

/// Applies migrations, retrying while the database is still coming up.
async fn migrate(store: &PgStore) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + STARTUP_WAIT;
    loop {
        match store.migrate().await {
            Ok(()) => return Ok(()),
            Err(err) if tokio::time::Instant::now() < deadline => {
                tracing::warn!(error = %err, "migrations failed; retrying");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            Err(err) => return Err(err.context("applying database migrations")),
        }
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let store = connect(&args.database)?;
    migrate(&store).await?;
    let settings = HttpSettings {
        max_body_bytes: args.max_body_bytes,
        request_timeout: Duration::from_secs(args.request_timeout_secs),
    };
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("binding {}", args.addr))?;
    tracing::info!(addr = %args.addr, database = %redact(&args.database.database_url), "headwater listening");
    http::serve(
        listener,
        AppState::new(store, settings),
        http::shutdown_signal(),
    )
    .await?;
    Ok(())
}
