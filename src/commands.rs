//! What each sub-command does.

use std::time::Duration;

use anyhow::Context;

use crate::archive::{self, Progress, TimeRange};
use crate::auth::{self, Tokens};
use crate::config::{
    AuthArgs, Cli, Command, DatabaseArgs, ExportArgs, ImportArgs, NewTokenArgs, PruneArgs,
    ReplayArgs, ServeArgs, TimeRangeArgs, TokenCommand, redact,
};
use crate::graph::index;
use crate::http::{
    self, AllowedHosts, AppState, ConnectionLimits, CorsPolicy, HttpSettings, QueryLimits,
};
use crate::ingest::IngestLimits;
use crate::store::postgres::PoolSettings;
use crate::store::{AuditAction, AuditEntry, Database, PruneReport, PruneRequest, Store};

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
        Command::Token(TokenCommand::New(args)) => new_token(&args),
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
    let range = range(args.range);
    let summary = archive::replay(&*store, range, &mut progress).await?;
    let detail = serde_json::json!({"replayed": summary.replayed, "failed": summary.failed.len()});
    store
        .record(&command_entry(
            AuditAction::Replay,
            http::range_target(range),
            detail,
        ))
        .await?;
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
    connect_with(args, None)
}

/// [`connect`], with reads limited to `query_timeout` each.
fn connect_with(args: &DatabaseArgs, query_timeout: Option<Duration>) -> anyhow::Result<Database> {
    let settings = PoolSettings {
        max_connections: args.db_max_connections,
        acquire_timeout: Duration::from_secs(args.db_acquire_timeout_secs),
        query_timeout,
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
    if !args.dry_run {
        audit_prune(&*store, "cli:prune", &request, &report).await?;
    }
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
                Ok(request) => scheduled_prune(&*store, &request).await,
                Err(err) => Err(err),
            };
            match outcome {
                Ok(line) => tracing::info!("{line}"),
                Err(err) => tracing::warn!(error = %err, "scheduled prune failed"),
            }
        }
    });
}

async fn scheduled_prune(store: &dyn Store, request: &PruneRequest) -> anyhow::Result<String> {
    let report = store.prune(request).await?;
    audit_prune(store, "scheduled-prune", request, &report).await?;
    Ok(describe_prune(request, "deleted", &report))
}

/// Records a prune that deleted something; a prune that found nothing to do leaves no trace.
async fn audit_prune(
    store: &dyn Store,
    actor: &str,
    request: &PruneRequest,
    report: &PruneReport,
) -> anyhow::Result<()> {
    if report.raw_payloads == 0 && report.node_total() == 0 {
        return Ok(());
    }
    let detail = serde_json::json!({"rawPayloads": report.raw_payloads, "nodes": report.nodes, "edges": report.edges});
    let mut entry = command_entry(AuditAction::Prune, http::cutoff_target(request), detail);
    entry.actor = actor.to_owned();
    store.record(&entry).await?;
    Ok(())
}

/// An audit record of a command run by hand.
fn command_entry(action: AuditAction, target: String, detail: serde_json::Value) -> AuditEntry {
    AuditEntry {
        actor: format!("cli:{}", action.as_str()),
        action,
        target,
        request_id: None,
        detail,
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let tokens = authentication(&args.auth, args.addr)?;
    let cors = CorsPolicy::parse(&args.cors.cors_origins, args.cors.cors_allow_writes)?;
    let hosts = AllowedHosts::parse(&args.auth.allowed_hosts)?;
    let query_timeout = Duration::from_secs(args.limits.query_timeout_secs);
    let database = connect_with(&args.database, Some(query_timeout))?;
    migrate(&database).await?;
    let store = database.store();
    schedule_prune(store.clone(), &args);
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("binding {}", args.addr))?;
    tracing::info!(addr = %args.addr, backend = database.backend(), database = %redact(&args.database.url()), "headwater listening");
    let state = AppState::shared(store, http_settings(&args), args.lineage_index)
        .secured(tokens, cors)
        .with_allowed_hosts(hosts);
    if let Some(index) = &state.index {
        index::keep_fresh(index.clone(), INDEX_REFRESH);
    }
    http::serve(listener, state, http::shutdown_signal()).await?;
    Ok(())
}

fn http_settings(args: &ServeArgs) -> HttpSettings {
    let limits = &args.limits;
    let count = |n: u32| n as usize;
    HttpSettings {
        max_body_bytes: args.max_body_bytes,
        body_budget_bytes: usize::try_from(args.body_budget_bytes).unwrap_or(usize::MAX),
        request_timeout: Duration::from_secs(args.request_timeout_secs),
        ingest: IngestLimits {
            max_json_depth: count(limits.max_json_depth),
            max_plan_operations: count(limits.max_plan_operations),
            max_plan_attributes: count(limits.max_plan_attributes),
            max_batch_events: count(limits.max_batch_events),
        },
        query: QueryLimits {
            max_depth: limits.max_query_depth,
            max_nodes: limits.max_result_nodes,
            timeout: Duration::from_secs(limits.query_timeout_secs),
            max_steps: limits.max_query_steps,
            max_result_edges: count(limits.max_result_edges),
            max_result_bytes: usize::try_from(limits.max_result_bytes).unwrap_or(usize::MAX),
        },
        connections: ConnectionLimits {
            header_read_timeout: Duration::from_secs(args.connections.header_read_timeout_secs),
            keep_alive_timeout: Duration::from_secs(args.connections.keep_alive_timeout_secs),
            max_connections: args.connections.max_connections as usize,
        },
    }
}

/// The tokens to check, or `None` for no authentication, which only a loopback address (or
/// an explicit `--insecure-no-auth`) allows: a service reachable from the network without
/// tokens would let anyone rewrite or delete the lineage.
fn authentication(args: &AuthArgs, addr: std::net::SocketAddr) -> anyhow::Result<Option<Tokens>> {
    match (&args.tokens_file, args.insecure_no_auth) {
        (Some(_), true) => {
            anyhow::bail!("--insecure-no-auth and a tokens file contradict each other; drop one")
        }
        (Some(path), false) => {
            let tokens = Tokens::load(path)?;
            anyhow::ensure!(
                !tokens.is_empty(),
                "tokens file {} lists no [[token]]; nobody could use the API",
                path.display()
            );
            tracing::info!(tokens = tokens.len(), "authentication is on");
            Ok(Some(tokens))
        }
        (None, _) if addr.ip().is_loopback() => {
            tracing::info!("authentication is off: listening on loopback without a tokens file");
            Ok(None)
        }
        (None, true) => {
            tracing::warn!(%addr, "authentication is OFF on a network address (--insecure-no-auth)");
            Ok(None)
        }
        (None, false) => anyhow::bail!(
            "refusing to serve on {addr} without authentication: name a tokens file with \
             HEADWATER_TOKENS_FILE or --tokens-file (`headwater token new` makes tokens), \
             listen on a loopback address, or pass --insecure-no-auth"
        ),
    }
}

/// Prints a fresh secret once (it is stored nowhere), and the block for the tokens file.
fn new_token(args: &NewTokenArgs) -> anyhow::Result<()> {
    let scopes = auth::parse_scopes(&args.scopes)?;
    let secret = auth::new_secret()?;
    let block = auth::toml_block(&args.name, &secret, &scopes, &args.namespaces);
    println!(
        "# The secret, shown once; give it to `{}`:\n# {secret}\n",
        args.name
    );
    println!("# Append to the tokens file (HEADWATER_TOKENS_FILE):\n{block}");
    Ok(())
}
