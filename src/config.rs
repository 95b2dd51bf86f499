//! Command line and settings. Every setting comes from a flag, an environment variable (which
//! is how containers are configured) or a TOML config file (`--config FILE`), in that order of
//! precedence, before the built-in default; `headwater <command> --help` lists them all, and
//! `headwater config` prints the effective ones with where each came from.
//!
//! Keys in the config file are the environment variables' names in lower case, without the
//! `HEADWATER_` prefix: `addr = "0.0.0.0:8080"`, `database_url = "postgres://…"`,
//! `db_max_connections = 20`, `prune_older_than = "30d"`. Numbers are TOML integers, everything
//! else is a TOML string written as on the command line. An unknown key, a value of the wrong
//! type or one the flag would reject is an error that names the file and the key.

use std::any::TypeId;
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::anyhow;
use chrono::{DateTime, Utc};

use clap::parser::ValueSource;

pub use crate::redact::redact;
use clap::{Arg, ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

/// Headwater: data-lineage capture service.
#[derive(Debug, Parser)]
#[command(name = "headwater", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Log output: human-readable `text`, or `json` for log shippers.
    #[arg(long, env = "HEADWATER_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    /// TOML file with settings; flags and environment variables override it.
    #[arg(long, env = CONFIG_ENV, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
    /// Where each setting came from (filled in by [`load`] and [`load_from`]).
    #[arg(skip)]
    pub sources: Sources,
}

/// Sub-commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply migrations, then serve the HTTP API until SIGTERM or Ctrl-C.
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate(DatabaseArgs),
    /// Print the OpenAPI document to stdout.
    Openapi,
    /// Rebuild the graph from the raw-payload archive (e.g. after a parser fix). Idempotent.
    Replay(ReplayArgs),
    /// Write the raw-payload archive as JSON-lines, in the form `import` reads.
    Export(ExportArgs),
    /// Load Spline plans and events, OpenLineage events, or an export, from JSON or
    /// JSON-lines files. Exits non-zero if any record was rejected.
    Import(ImportArgs),
    /// Delete runs and raw payloads older than the cutoff, then the nodes and edges nothing
    /// references any more.
    Prune(PruneArgs),
    /// Print the effective settings (flags, environment, config file, defaults) and where
    /// each came from, secrets redacted.
    Config(ServeArgs),
    /// Make API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
}

/// `headwater token ...`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Print a fresh random secret, and the `[[token]]` block (with only its hash) to paste
    /// into the tokens file.
    New(NewTokenArgs),
}

/// Settings of `token new`.
#[derive(Debug, Args)]
pub struct NewTokenArgs {
    /// Who will hold the token; the audit log records it.
    #[arg(long)]
    pub name: String,
    /// What it allows, comma-separated: `producer`, `consumer`, `admin`.
    #[arg(long, value_delimiter = ',', required = true)]
    pub scopes: Vec<String>,
    /// Limit it to these dataset and job namespaces, comma-separated (default: all).
    #[arg(long, value_delimiter = ',')]
    pub namespaces: Vec<String>,
}

/// Which part of the archive, by time of receipt (RFC 3339, e.g. `2026-01-31T00:00:00Z`).
#[derive(Debug, Clone, Copy, Args)]
pub struct TimeRangeArgs {
    /// Only payloads received at or after this time.
    #[arg(long)]
    pub since: Option<DateTime<Utc>>,
    /// Only payloads received before this time.
    #[arg(long)]
    pub until: Option<DateTime<Utc>>,
}

/// Settings of `replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The database.
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Which payloads.
    #[command(flatten)]
    pub range: TimeRangeArgs,
}

/// Settings of `export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The database.
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Which payloads.
    #[command(flatten)]
    pub range: TimeRangeArgs,
    /// Write here instead of stdout.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

/// Settings of `import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The database.
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// JSON or JSON-lines files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// Settings of `prune`: deletes runs and raw payloads older than the cutoff, then the nodes
/// and edges nothing references any more.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// The database.
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Age cutoff, e.g. `30d` or `12h`: what was received longer ago than this goes.
    #[arg(long, value_parser = duration)]
    pub older_than: Duration,
    /// Report what would be deleted, and delete nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Rows deleted per transaction.
    #[arg(long, env = "HEADWATER_PRUNE_BATCH_SIZE", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    pub batch_size: u32,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    Text,
    /// One JSON object per event.
    Json,
}

/// Settings of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "HEADWATER_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// The database.
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Largest accepted request body in bytes, after gunzip; larger bodies get 413.
    #[arg(long, env = "HEADWATER_MAX_BODY_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Bytes all request bodies in memory may take together, on the wire and inflated; a body
    /// that can't get its share within 3 s answers 503 (with Retry-After), one that alone
    /// needs more answers 413.
    #[arg(long, env = "HEADWATER_BODY_BUDGET_BYTES", default_value_t = 256 * 1024 * 1024, value_parser = clap::value_parser!(u64).range(1..))]
    pub body_budget_bytes: u64,
    /// Seconds a request may take before it answers 408.
    #[arg(long, env = "HEADWATER_REQUEST_TIMEOUT_SECS", default_value_t = 120)]
    pub request_timeout_secs: u64,
    /// Prune in the background what is older than this (e.g. `30d`); unset: never.
    #[arg(long, env = "HEADWATER_PRUNE_OLDER_THAN", value_parser = duration)]
    pub prune_older_than: Option<Duration>,
    /// How often the background prune runs (with `--prune-older-than`).
    #[arg(long, env = "HEADWATER_PRUNE_INTERVAL", default_value = "1h", value_parser = duration)]
    pub prune_interval: Duration,
    /// Rows the background prune deletes per transaction.
    #[arg(long, env = "HEADWATER_PRUNE_BATCH_SIZE", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    pub prune_batch_size: u32,
    /// Keep the walkable edges in memory and answer lineage walks from there (`false`: walk
    /// the database hop by hop).
    #[arg(long, env = "HEADWATER_LINEAGE_INDEX", default_value_t = true, action = clap::ArgAction::Set)]
    pub lineage_index: bool,
    /// Who may call the API.
    #[command(flatten)]
    pub auth: AuthArgs,
    /// Which other web origins may call the API from a browser.
    #[command(flatten)]
    pub cors: CorsArgs,
    /// Bounds on everything that grows with input.
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Bounds on client connections.
    #[command(flatten)]
    pub connections: ConnectionArgs,
}

/// Authentication settings of `serve`.
#[derive(Debug, Clone, Args)]
pub struct AuthArgs {
    /// TOML file of API tokens (`[[token]]` entries: `name`, `sha256`, `scopes`, optional
    /// `namespaces`); `headwater token new` writes entries. Without one, authentication is
    /// off, which only a loopback address allows.
    #[arg(long, env = "HEADWATER_TOKENS_FILE", value_name = "FILE")]
    pub tokens_file: Option<PathBuf>,
    /// Serve without authentication on a non-loopback address (anyone who can reach the port
    /// can read, write and delete lineage).
    #[arg(long, env = "HEADWATER_INSECURE_NO_AUTH", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub insecure_no_auth: bool,
    /// Without authentication, the host names requests may name, comma-separated, beyond
    /// `localhost` and IP addresses (which are always answered); `*` for any. Refuses pages
    /// of other sites that reach the service through DNS rebinding.
    #[arg(long, env = "HEADWATER_ALLOWED_HOSTS", default_value = "")]
    pub allowed_hosts: String,
}

/// Cross-origin (CORS) settings of `serve`.
#[derive(Debug, Clone, Args)]
pub struct CorsArgs {
    /// Origins whose pages may read the API (`GET`), comma-separated, `*` for any, `none` for
    /// no cross-origin access at all.
    #[arg(long, env = "HEADWATER_CORS_ORIGINS", default_value = "*")]
    pub cors_origins: String,
    /// Also let those origins write (`POST`, `DELETE`): producers and admins in a browser.
    #[arg(long, env = "HEADWATER_CORS_ALLOW_WRITES", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub cors_allow_writes: bool,
}

/// Limits of `serve`: each has a default that lets every real producer through and keeps one
/// request from taking the service down; each answers a 4xx that names it.
#[derive(Debug, Clone, Args)]
pub struct LimitArgs {
    /// Deepest nesting of arrays and objects accepted in a JSON body.
    #[arg(long, env = "HEADWATER_MAX_JSON_DEPTH", default_value_t = 64, value_parser = clap::value_parser!(u32).range(2..=1000))]
    pub max_json_depth: u32,
    /// Most operations one Spline execution plan may hold.
    #[arg(long, env = "HEADWATER_MAX_PLAN_OPERATIONS", default_value_t = 50_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_plan_operations: u32,
    /// Most attributes one Spline execution plan may hold.
    #[arg(long, env = "HEADWATER_MAX_PLAN_ATTRIBUTES", default_value_t = 200_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_plan_attributes: u32,
    /// Most events in one request (an OpenLineage batch, a Spline event array).
    #[arg(long, env = "HEADWATER_MAX_BATCH_EVENTS", default_value_t = 1_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_batch_events: u32,
    /// Largest `depth` a lineage query may ask for.
    #[arg(long, env = "HEADWATER_MAX_QUERY_DEPTH", default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub max_query_depth: u32,
    /// Largest `maxNodes` a lineage query may ask for.
    #[arg(long, env = "HEADWATER_MAX_RESULT_NODES", default_value_t = 100_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_result_nodes: u32,
    /// Seconds a read may run (PostgreSQL's `statement_timeout` for queries) before it answers
    /// 422.
    #[arg(long, env = "HEADWATER_QUERY_TIMEOUT_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub query_timeout_secs: u64,
    /// Most steps a computation whose cost is not linear in its answer may take (a path
    /// search, a layout's crossing reduction); one cut short answers what it has.
    #[arg(long, env = "HEADWATER_MAX_QUERY_STEPS", default_value_t = 20_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_query_steps: u64,
    /// Most edges a lineage answer holds (collapsed `flows_to` edges included).
    #[arg(long, env = "HEADWATER_MAX_RESULT_EDGES", default_value_t = 100_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_result_edges: u32,
    /// Largest lineage answer, in bytes of JSON (estimated as it is built).
    #[arg(long, env = "HEADWATER_MAX_RESULT_BYTES", default_value_t = 32 * 1024 * 1024, value_parser = clap::value_parser!(u64).range(1024..))]
    pub max_result_bytes: u64,
}

/// Bounds on client connections, so that slow or idle clients can't hold them (and their
/// file descriptors) without end.
#[derive(Debug, Clone, Args)]
pub struct ConnectionArgs {
    /// Seconds a client has to send a request's headers, counted from when the connection
    /// starts waiting for them; slower connections are closed.
    #[arg(long, env = "HEADWATER_HEADER_READ_TIMEOUT_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub header_read_timeout_secs: u64,
    /// Seconds a kept-alive connection may sit idle between requests before it is closed.
    #[arg(long, env = "HEADWATER_KEEP_ALIVE_TIMEOUT_SECS", default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..))]
    pub keep_alive_timeout_secs: u64,
    /// Most client connections served at once; more wait in the listen queue until one closes.
    #[arg(long, env = "HEADWATER_MAX_CONNECTIONS", default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
}

/// Where the database is, and how to pool connections to it.
#[derive(Args)]
pub struct DatabaseArgs {
    /// Database URL, e.g. `postgres://user:password@host:5432/headwater`; unset: the embedded
    /// SQLite database `headwater.db` in the data directory.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// Directory of the embedded SQLite database (when no database URL is set).
    #[arg(long, env = "HEADWATER_DATA_DIR", default_value = ".")]
    pub data_dir: PathBuf,
    /// Most connections to keep open.
    #[arg(long, env = "HEADWATER_DB_MAX_CONNECTIONS", default_value_t = 10)]
    pub db_max_connections: u32,
    /// Seconds a request waits for a free connection before answering 503. Below the
    /// OpenLineage clients' own 5 s timeout, so that they get the 503 they retry rather than
    /// a timeout (which the Java client does not retry).
    #[arg(long, env = "HEADWATER_DB_ACQUIRE_TIMEOUT_SECS", default_value_t = 3)]
    pub db_acquire_timeout_secs: u64,
}

impl DatabaseArgs {
    /// The database to use: the URL if one is set (and not empty), else the embedded SQLite
    /// database, `sqlite://<data_dir>/headwater.db`.
    pub fn url(&self) -> String {
        match &self.database_url {
            Some(url) if !url.is_empty() => url.clone(),
            _ => format!(
                "sqlite://{}",
                self.data_dir.join("headwater.db").to_string_lossy()
            ),
        }
    }
}

/// The URL carries a password; keep it out of logs.
impl fmt::Debug for DatabaseArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseArgs")
            .field("database_url", &self.database_url.as_deref().map(redact))
            .field("data_dir", &self.data_dir)
            .field("db_max_connections", &self.db_max_connections)
            .field("db_acquire_timeout_secs", &self.db_acquire_timeout_secs)
            .finish()
    }
}

/// Parses a duration such as `30d`, `12h` or `1h 30m`.
fn duration(text: &str) -> Result<Duration, humantime::DurationError> {
    humantime::parse_duration(text)
}

/// Where a setting's effective value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Source {
    /// The command line.
    Flag,
    /// An environment variable.
    Env,
    /// The config file.
    File,
    /// The built-in default.
    #[default]
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Source::Flag => "flag",
            Source::Env => "env",
            Source::File => "file",
            Source::Default => "default",
        })
    }
}

/// Where each setting of the parsed command came from, by environment variable name.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    by_env: BTreeMap<String, Source>,
}

impl Sources {
    /// Where the setting with this environment variable (e.g. `HEADWATER_ADDR`,
    /// `DATABASE_URL`) came from; [`Source::Default`] for one the command doesn't take.
    pub fn of(&self, env: &str) -> Source {
        self.by_env.get(env).copied().unwrap_or_default()
    }
}

/// The environment variable naming the config file (also the `--config` flag).
const CONFIG_ENV: &str = "HEADWATER_CONFIG";

/// Parses the process's command line, environment and config file. A usage error, `--help`
/// or `--version` prints and exits as clap does; a bad config file is an error.
pub fn load() -> anyhow::Result<Cli> {
    load_from(std::env::args_os()).map_err(|err| match err.downcast::<clap::Error>() {
        Ok(clap) => clap.exit(),
        Err(err) => err,
    })
}

/// Parses `args` (the first is the program name) with the process's environment and the
/// config file that `--config` or `HEADWATER_CONFIG` names. Errors: clap's (downcast to
/// [`clap::Error`]) and the config file's, which name the file and the key.
pub fn load_from<I, T>(args: I) -> anyhow::Result<Cli>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    load_with(args, Cli::command)
}

/// [`load_from`] with the command built by `command`: the tests' one ignores the environment.
fn load_with<I, T>(args: I, command: impl Fn() -> clap::Command) -> anyhow::Result<Cli>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    // First pass: only to find the config file (and to report usage errors as clap does).
    let first = command().try_get_matches_from(&args)?;
    let file = first.get_one::<PathBuf>("config").cloned();

    let schema = Cli::command();
    let mut cmd = command();
    let mut from_file = BTreeSet::new();
    if let Some(path) = &file {
        for (setting, value) in read_file(&schema, path)? {
            // clap (without its `string` feature) takes only `'static` defaults; a config
            // file is read once per process, so its few values are leaked once.
            let value: &'static str = Box::leak(value.into_boxed_str());
            for (sub, id) in &setting.targets {
                cmd = match sub {
                    None => cmd.mut_arg(id, |arg| arg.default_value(value)),
                    Some(sub) => {
                        cmd.mut_subcommand(sub, |sc| sc.mut_arg(id, |arg| arg.default_value(value)))
                    }
                };
            }
            from_file.insert(setting.env);
        }
    }

    let matches = cmd.try_get_matches_from(&args)?;
    let mut cli = Cli::from_arg_matches(&matches)?;
    cli.sources = sources(&schema, &matches, &from_file);
    Ok(cli)
}

/// A setting the config file may set.
struct FileSetting {
    /// Its environment variable.
    env: String,
    /// The arguments carrying it: `(sub-command, id)`, `None` for a top-level one.
    targets: Vec<(Option<String>, String)>,
    /// One of them, to check values with.
    arg: Arg,
}

/// The config file's keys, from the environment variables of every argument that has one.
fn file_settings(schema: &clap::Command) -> BTreeMap<String, FileSetting> {
    let mut settings: BTreeMap<String, FileSetting> = BTreeMap::new();
    let top = schema.get_arguments().map(|arg| (None, arg));
    let subs = schema.get_subcommands().flat_map(|sc| {
        sc.get_arguments()
            .map(move |arg| (Some(sc.get_name().to_owned()), arg))
    });
    for (sub, arg) in top.chain(subs) {
        let Some(env) = arg.get_env().and_then(|env| env.to_str()) else {
            continue;
        };
        if env == CONFIG_ENV {
            continue;
        }
        let lower = env.to_ascii_lowercase();
        let key = lower
            .strip_prefix("headwater_")
            .unwrap_or(&lower)
            .to_owned();
        settings
            .entry(key)
            .or_insert_with(|| FileSetting {
                env: env.to_owned(),
                targets: Vec::new(),
                arg: arg.clone(),
            })
            .targets
            .push((sub, arg.get_id().as_str().to_owned()));
    }
    settings
}

/// Reads the config file: each setting it sets, with the value as it would be on the command
/// line, checked by the flag's own parser.
fn read_file(schema: &clap::Command, path: &Path) -> anyhow::Result<Vec<(FileSetting, String)>> {
    let fail = |what: String| anyhow!("config file {}: {what}", path.display());
    let text =
        std::fs::read_to_string(path).map_err(|err| fail(format!("cannot read it: {err}")))?;
    let table: toml::Table =
        toml::from_str(&text).map_err(|err| fail(format!("not valid TOML: {err}")))?;
    let mut settings = file_settings(schema);
    let mut out = Vec::new();
    for (key, value) in table {
        let Some(setting) = settings.remove(&key) else {
            let known: Vec<String> = file_settings(schema).into_keys().collect();
            return Err(fail(format!(
                "unknown key `{key}` (known keys: {})",
                known.join(", ")
            )));
        };
        let integer = is_integer(&setting.arg);
        let boolean = is_bool(&setting.arg);
        let value = match value {
            toml::Value::Integer(n) if integer => n.to_string(),
            toml::Value::Boolean(b) if boolean => b.to_string(),
            toml::Value::String(s) if !integer && !boolean => s,
            other => {
                let expected = match (integer, boolean) {
                    (true, _) => "an integer",
                    (_, true) => "a boolean",
                    _ => "a string",
                };
                return Err(fail(format!(
                    "key `{key}`: expected {expected}, found {}",
                    other.type_str()
                )));
            }
        };
        check(&setting.arg, &value).map_err(|err| fail(format!("key `{key}`: {err}")))?;
        out.push((setting, value));
    }
    Ok(out)
}

/// Whether the argument takes an integer (then the file must give a TOML integer).
fn is_integer(arg: &Arg) -> bool {
    let parsed = arg.get_value_parser().type_id();
    [
        TypeId::of::<u8>(),
        TypeId::of::<u16>(),
        TypeId::of::<u32>(),
        TypeId::of::<u64>(),
        TypeId::of::<usize>(),
        TypeId::of::<i8>(),
        TypeId::of::<i16>(),
        TypeId::of::<i32>(),
        TypeId::of::<i64>(),
        TypeId::of::<isize>(),
    ]
    .into_iter()
    .any(|id| parsed == id)
}

/// Whether the argument takes `true` or `false` (then the file must give a TOML boolean).
fn is_bool(arg: &Arg) -> bool {
    arg.get_value_parser().type_id() == TypeId::of::<bool>()
}

/// Parses `value` as the argument's flag would, so that a bad file value is reported as the
/// file's (and not as a bad default of the flag).
fn check(arg: &Arg, value: &str) -> Result<(), String> {
    let long = arg.get_long().unwrap_or_else(|| arg.get_id().as_str());
    let probe = clap::Command::new("headwater")
        .no_binary_name(true)
        .arg(arg.clone().env(None).global(false).required(false));
    match probe.try_get_matches_from([format!("--{long}={value}")]) {
        Ok(_) => Ok(()),
        Err(err) => {
            // clap's message without its `error: ` prefix and help hint, on one line.
            let rendered = err.render().to_string();
            let lines: Vec<&str> = rendered
                .lines()
                .map(str::trim)
                .filter(|line| !line.is_empty() && !line.starts_with("For more information"))
                .collect();
            let text = lines.join(" ");
            Err(text.strip_prefix("error: ").unwrap_or(&text).to_owned())
        }
    }
}

/// Where each setting (by environment variable) of the parsed command came from.
fn sources(schema: &clap::Command, matches: &ArgMatches, from_file: &BTreeSet<String>) -> Sources {
    let mut by_env = BTreeMap::new();
    let mut visit = |cmd: &clap::Command, matches: &ArgMatches| {
        for arg in cmd.get_arguments() {
            let Some(env) = arg.get_env().and_then(|env| env.to_str()) else {
                continue;
            };
            let source = match matches.value_source(arg.get_id().as_str()) {
                Some(ValueSource::CommandLine) => Source::Flag,
                Some(ValueSource::EnvVariable) => Source::Env,
                Some(ValueSource::DefaultValue) if from_file.contains(env) => Source::File,
                _ => Source::Default,
            };
            by_env.insert(env.to_owned(), source);
        }
    };
    visit(schema, matches);
    if let Some((name, sub_matches)) = matches.subcommand()
        && let Some(sub) = schema.find_subcommand(name)
    {
        visit(sub, sub_matches);
    }
    Sources { by_env }
}

impl ServeArgs {
    /// The effective settings, one `NAME = value  # source` line each (source: `flag`, `env`,
    /// `file` or `default`), the database password redacted. `config` is the config file
    /// (`Cli::config`), `sources` says where each value came from (`Cli::sources`).
    pub fn describe(
        &self,
        log_format: LogFormat,
        config: Option<&Path>,
        sources: &Sources,
    ) -> String {
        let db = &self.database;
        let log_format = log_format
            .to_possible_value()
            .map(|v| v.get_name().to_owned());
        let none = || "(none)".to_owned();
        [
            (
                CONFIG_ENV,
                config.map_or_else(none, |path| path.display().to_string()),
            ),
            ("HEADWATER_LOG_FORMAT", log_format.unwrap_or_default()),
            ("HEADWATER_ADDR", self.addr.to_string()),
            ("HEADWATER_MAX_BODY_BYTES", self.max_body_bytes.to_string()),
            (
                "HEADWATER_BODY_BUDGET_BYTES",
                self.body_budget_bytes.to_string(),
            ),
            (
                "HEADWATER_REQUEST_TIMEOUT_SECS",
                self.request_timeout_secs.to_string(),
            ),
            ("DATABASE_URL", redact(&db.url())),
            ("HEADWATER_DATA_DIR", db.data_dir.display().to_string()),
            (
                "HEADWATER_DB_MAX_CONNECTIONS",
                db.db_max_connections.to_string(),
            ),
            (
                "HEADWATER_DB_ACQUIRE_TIMEOUT_SECS",
                db.db_acquire_timeout_secs.to_string(),
            ),
            (
                "HEADWATER_PRUNE_OLDER_THAN",
                self.prune_older_than
                    .map_or_else(none, |d| humantime::format_duration(d).to_string()),
            ),
            (
                "HEADWATER_PRUNE_INTERVAL",
                humantime::format_duration(self.prune_interval).to_string(),
            ),
            (
                "HEADWATER_PRUNE_BATCH_SIZE",
                self.prune_batch_size.to_string(),
            ),
            ("HEADWATER_LINEAGE_INDEX", self.lineage_index.to_string()),
        ]
        .into_iter()
        .chain(self.auth.describe())
        .chain(self.cors.describe())
        .chain(self.limits.describe())
        .chain(self.connections.describe())
        .collect::<Vec<_>>()
        .iter()
        .map(|(name, value)| format!("{name} = {value}  # {}\n", sources.of(name)))
        .collect()
    }
}

impl AuthArgs {
    fn describe(&self) -> [(&'static str, String); 3] {
        let file = self.tokens_file.as_ref();
        [
            (
                "HEADWATER_TOKENS_FILE",
                file.map_or_else(|| "(none)".to_owned(), |p| p.display().to_string()),
            ),
            (
                "HEADWATER_INSECURE_NO_AUTH",
                self.insecure_no_auth.to_string(),
            ),
            (
                "HEADWATER_ALLOWED_HOSTS",
                match self.allowed_hosts.trim() {
                    "" => "(none)".to_owned(),
                    hosts => hosts.to_owned(),
                },
            ),
        ]
    }
}

impl CorsArgs {
    fn describe(&self) -> [(&'static str, String); 2] {
        [
            ("HEADWATER_CORS_ORIGINS", self.cors_origins.clone()),
            (
                "HEADWATER_CORS_ALLOW_WRITES",
                self.cors_allow_writes.to_string(),
            ),
        ]
    }
}

impl ConnectionArgs {
    fn describe(&self) -> [(&'static str, String); 3] {
        [
            (
                "HEADWATER_HEADER_READ_TIMEOUT_SECS",
                self.header_read_timeout_secs.to_string(),
            ),
            (
                "HEADWATER_KEEP_ALIVE_TIMEOUT_SECS",
                self.keep_alive_timeout_secs.to_string(),
            ),
            (
                "HEADWATER_MAX_CONNECTIONS",
                self.max_connections.to_string(),
            ),
        ]
    }
}

impl LimitArgs {
    fn describe(&self) -> [(&'static str, String); 10] {
        [
            ("HEADWATER_MAX_JSON_DEPTH", self.max_json_depth.to_string()),
            (
                "HEADWATER_MAX_PLAN_OPERATIONS",
                self.max_plan_operations.to_string(),
            ),
            (
                "HEADWATER_MAX_PLAN_ATTRIBUTES",
                self.max_plan_attributes.to_string(),
            ),
            (
                "HEADWATER_MAX_BATCH_EVENTS",
                self.max_batch_events.to_string(),
            ),
            (
                "HEADWATER_MAX_QUERY_DEPTH",
                self.max_query_depth.to_string(),
            ),
            (
                "HEADWATER_MAX_RESULT_NODES",
                self.max_result_nodes.to_string(),
            ),
            (
                "HEADWATER_QUERY_TIMEOUT_SECS",
                self.query_timeout_secs.to_string(),
            ),
            (
                "HEADWATER_MAX_QUERY_STEPS",
                self.max_query_steps.to_string(),
            ),
            (
                "HEADWATER_MAX_RESULT_EDGES",
                self.max_result_edges.to_string(),
            ),
            (
                "HEADWATER_MAX_RESULT_BYTES",
                self.max_result_bytes.to_string(),
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// The command without environment variables, so the tests don't depend on the
    /// environment they run in (e.g. a `DATABASE_URL` for the database tests).
    fn without_env() -> clap::Command {
        Cli::command()
            .mut_args(|arg| arg.env(None))
            .mut_subcommands(|sc| sc.mut_args(|arg| arg.env(None)))
    }

    fn parse(args: &[&str]) -> anyhow::Result<Cli> {
        load_with(
            std::iter::once("headwater").chain(args.iter().copied()),
            without_env,
        )
    }

    /// Writes `contents` to a new file in the temporary directory.
    fn config_file(contents: &str) -> PathBuf {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "headwater-config-unit-{}-{}.toml",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, contents).unwrap();
        path
    }

    /// `config` with the file, its settings and their sources.
    fn serve_args(contents: &str, flags: &[&str]) -> (ServeArgs, Sources) {
        let file = config_file(contents);
        let mut args = vec!["config", "--config", file.to_str().unwrap()];
        args.extend_from_slice(flags);
        let cli = parse(&args).unwrap();
        std::fs::remove_file(file).unwrap();
        let Command::Config(serve) = cli.command else {
            panic!("not config");
        };
        (serve, cli.sources)
    }

    fn file_error(contents: &str) -> String {
        let file = config_file(contents);
        let err = parse(&["config", "--config", file.to_str().unwrap()]).unwrap_err();
        std::fs::remove_file(&file).unwrap();
        let text = format!("{err:#}");
        assert!(text.contains(file.to_str().unwrap()), "{text}");
        text
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://hw:s3cr3t@db:5432/hw"),
            "postgres://hw:***@db:5432/hw"
        );
        assert_eq!(redact("postgres://hw@db/hw"), "postgres://hw@db/hw");
        assert_eq!(redact("sqlite://./headwater.db"), "sqlite://./headwater.db");
    }

    #[test]
    fn debug_output_redacts_the_password() {
        let cli = parse(&["migrate", "--database-url", "postgres://hw:s3cr3t@db/hw"]).unwrap();
        let text = format!("{cli:?}");
        assert!(text.contains("postgres://hw:***@db/hw"), "{text}");
        assert!(!text.contains("s3cr3t"), "{text}");
    }

    #[test]
    fn config_prints_settings_without_the_password() {
        let cli = parse(&[
            "config",
            "--database-url",
            "postgres://hw:s3cr3t@db/hw",
            "--addr",
            "0.0.0.0:9000",
        ])
        .unwrap();
        let Command::Config(args) = cli.command else {
            panic!("not config");
        };
        let text = args.describe(cli.log_format, cli.config.as_deref(), &cli.sources);
        assert!(
            text.contains("DATABASE_URL = postgres://hw:***@db/hw  # flag\n"),
            "{text}"
        );
        assert!(
            text.contains("HEADWATER_ADDR = 0.0.0.0:9000  # flag\n"),
            "{text}"
        );
        assert!(
            text.contains("HEADWATER_REQUEST_TIMEOUT_SECS = 120  # default\n"),
            "{text}"
        );
        assert!(
            text.contains("HEADWATER_PRUNE_OLDER_THAN = (none)  # default\n"),
            "{text}"
        );
        assert!(
            text.contains("HEADWATER_PRUNE_INTERVAL = 1h  # default\n"),
            "{text}"
        );
        assert!(
            text.contains("HEADWATER_CONFIG = (none)  # default\n"),
            "{text}"
        );
        assert!(
            text.contains("HEADWATER_LINEAGE_INDEX = true  # default\n"),
            "{text}"
        );
        assert!(
            text.contains("HEADWATER_TOKENS_FILE = (none)  # default\n"),
            "{text}"
        );
        assert!(
            text.contains("HEADWATER_MAX_JSON_DEPTH = 64  # default\n"),
            "{text}"
        );
        assert!(!text.contains("s3cr3t"), "{text}");
        assert_eq!(text.lines().count(), 32, "{text}");
    }

    #[test]
    fn the_cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn without_a_database_url_the_database_is_sqlite_in_the_data_dir() {
        let cli = parse(&["migrate", "--data-dir", "/var/lib/headwater"]).unwrap();
        let Command::Migrate(db) = cli.command else {
            panic!("not migrate");
        };
        assert_eq!(db.database_url, None);
        assert_eq!(db.url(), "sqlite:///var/lib/headwater/headwater.db");

        let cli = parse(&["migrate"]).unwrap();
        let Command::Migrate(db) = cli.command else {
            panic!("not migrate");
        };
        assert_eq!(db.data_dir, PathBuf::from("."));
        assert_eq!(db.url(), "sqlite://./headwater.db");

        let db = DatabaseArgs {
            database_url: Some("postgres://hw@db/hw".into()),
            data_dir: "/ignored".into(),
            db_max_connections: 1,
            db_acquire_timeout_secs: 1,
        };
        assert_eq!(db.url(), "postgres://hw@db/hw");
        let empty = DatabaseArgs {
            database_url: Some(String::new()),
            ..db
        };
        assert_eq!(empty.url(), "sqlite:///ignored/headwater.db");
    }

    #[test]
    fn durations_are_humantime() {
        let cli = parse(&["prune", "--older-than", "30d", "--dry-run"]).unwrap();
        let Command::Prune(prune) = cli.command else {
            panic!("not prune");
        };
        assert_eq!(prune.older_than, Duration::from_secs(30 * 24 * 3600));
        assert!(prune.dry_run);
        assert_eq!(prune.batch_size, 1000);

        let (serve, _) = serve_args(
            "",
            &["--prune-older-than", "12h", "--prune-interval", "15m"],
        );
        assert_eq!(serve.prune_older_than, Some(Duration::from_secs(12 * 3600)));
        assert_eq!(serve.prune_interval, Duration::from_secs(15 * 60));

        assert!(parse(&["prune", "--older-than", "30 fortnights"]).is_err());
        assert!(parse(&["prune"]).is_err(), "--older-than is required");
    }

    #[test]
    fn the_lineage_index_is_on_unless_switched_off() {
        let (serve, _) = serve_args("", &[]);
        assert!(serve.lineage_index);
        let (serve, sources) = serve_args("lineage_index = false\n", &[]);
        assert!(!serve.lineage_index);
        assert_eq!(sources.of("HEADWATER_LINEAGE_INDEX"), Source::File);
        let (serve, _) = serve_args("lineage_index = false\n", &["--lineage-index", "true"]);
        assert!(serve.lineage_index);
    }

    #[test]
    fn batch_sizes_are_at_least_one() {
        assert!(parse(&["prune", "--older-than", "1d", "--batch-size", "0"]).is_err());
        assert!(parse(&["serve", "--prune-batch-size", "0"]).is_err());
        let cli = parse(&["prune", "--older-than", "1d", "--batch-size", "1"]).unwrap();
        let Command::Prune(prune) = cli.command else {
            panic!("not prune");
        };
        assert_eq!(prune.batch_size, 1);
    }

    #[test]
    fn flags_beat_the_file_which_beats_defaults() {
        let (serve, sources) = serve_args(
            r#"
            addr = "0.0.0.0:8081"
            database_url = "postgres://hw:s3cr3t@db/hw"
            db_max_connections = 20
            prune_older_than = "30d"
            prune_batch_size = 50
            log_format = "json"
            "#,
            &["--addr", "127.0.0.1:9999", "--log-format", "text"],
        );
        assert_eq!(serve.addr, "127.0.0.1:9999".parse().unwrap());
        assert_eq!(sources.of("HEADWATER_ADDR"), Source::Flag);
        assert_eq!(sources.of("HEADWATER_LOG_FORMAT"), Source::Flag);
        assert_eq!(
            serve.database.database_url.as_deref(),
            Some("postgres://hw:s3cr3t@db/hw")
        );
        assert_eq!(sources.of("DATABASE_URL"), Source::File);
        assert_eq!(serve.database.db_max_connections, 20);
        assert_eq!(sources.of("HEADWATER_DB_MAX_CONNECTIONS"), Source::File);
        assert_eq!(
            serve.prune_older_than,
            Some(Duration::from_secs(30 * 86400))
        );
        assert_eq!(sources.of("HEADWATER_PRUNE_OLDER_THAN"), Source::File);
        assert_eq!(serve.prune_batch_size, 50);
        assert_eq!(serve.request_timeout_secs, 120);
        assert_eq!(
            sources.of("HEADWATER_REQUEST_TIMEOUT_SECS"),
            Source::Default
        );
        assert_eq!(serve.prune_interval, Duration::from_secs(3600));
        assert_eq!(sources.of("HEADWATER_PRUNE_INTERVAL"), Source::Default);
        assert_eq!(sources.of("HEADWATER_CONFIG"), Source::Flag);
    }

    #[test]
    fn the_file_sets_global_and_shared_settings() {
        let file =
            config_file("log_format = \"json\"\nprune_batch_size = 7\naddr = \"0.0.0.0:1\"\n");
        let path = file.to_str().unwrap();
        // Before or after the sub-command; `addr` doesn't apply to `prune` and is ignored.
        let cli = parse(&["--config", path, "prune", "--older-than", "1d"]).unwrap();
        assert_eq!(cli.log_format, LogFormat::Json);
        assert_eq!(cli.sources.of("HEADWATER_LOG_FORMAT"), Source::File);
        assert_eq!(cli.sources.of("HEADWATER_PRUNE_BATCH_SIZE"), Source::File);
        let Command::Prune(prune) = cli.command else {
            panic!("not prune");
        };
        assert_eq!(prune.batch_size, 7);

        let cli = parse(&[
            "prune",
            "--older-than",
            "1d",
            "--config",
            path,
            "--batch-size",
            "9",
        ])
        .unwrap();
        assert_eq!(cli.log_format, LogFormat::Json);
        assert_eq!(cli.sources.of("HEADWATER_PRUNE_BATCH_SIZE"), Source::Flag);
        let Command::Prune(prune) = cli.command else {
            panic!("not prune");
        };
        assert_eq!(prune.batch_size, 9);
        std::fs::remove_file(file).unwrap();
    }

    #[test]
    fn config_shows_file_values_and_their_source() {
        let file = config_file("data_dir = \"/srv/hw\"\nprune_interval = \"2h\"\n");
        let cli = parse(&["config", "--config", file.to_str().unwrap()]).unwrap();
        let Command::Config(args) = cli.command else {
            panic!("not config");
        };
        let text = args.describe(cli.log_format, cli.config.as_deref(), &cli.sources);
        std::fs::remove_file(&file).unwrap();
        assert!(
            text.contains("DATABASE_URL = sqlite:///srv/hw/headwater.db  # default\n"),
            "{text}"
        );
        assert!(
            text.contains("HEADWATER_DATA_DIR = /srv/hw  # file\n"),
            "{text}"
        );
        assert!(
            text.contains("HEADWATER_PRUNE_INTERVAL = 2h  # file\n"),
            "{text}"
        );
        assert!(
            text.contains(&format!("HEADWATER_CONFIG = {}  # flag\n", file.display())),
            "{text}"
        );
    }

    #[test]
    fn switches_take_a_bare_flag_an_environment_value_or_a_file_boolean() {
        let (serve, _) = serve_args("", &["--insecure-no-auth"]);
        assert!(serve.auth.insecure_no_auth);
        let (serve, sources) =
            serve_args("insecure_no_auth = true\ncors_allow_writes = true\n", &[]);
        assert!(serve.auth.insecure_no_auth && serve.cors.cors_allow_writes);
        assert_eq!(sources.of("HEADWATER_INSECURE_NO_AUTH"), Source::File);
        let (serve, _) = serve_args("", &[]);
        assert!(!serve.auth.insecure_no_auth && !serve.cors.cors_allow_writes);
        assert_eq!(serve.cors.cors_origins, "*");
    }

    #[test]
    fn limits_have_safe_defaults_and_refuse_nonsense() {
        let (serve, _) = serve_args("max_query_depth = 20\n", &[]);
        assert_eq!(serve.limits.max_query_depth, 20);
        assert_eq!(serve.limits.max_result_nodes, 100_000);
        assert_eq!(serve.limits.query_timeout_secs, 30);
        assert_eq!(serve.limits.max_query_steps, 20_000_000);
        assert_eq!(serve.limits.max_result_edges, 100_000);
        assert_eq!(serve.limits.max_result_bytes, 32 * 1024 * 1024);
        let (serve, sources) = serve_args("max_result_edges = 500\n", &["--max-query-steps=1000"]);
        assert_eq!(serve.limits.max_result_edges, 500);
        assert_eq!(sources.of("HEADWATER_MAX_RESULT_EDGES"), Source::File);
        assert_eq!(serve.limits.max_query_steps, 1000);
        assert_eq!(sources.of("HEADWATER_MAX_QUERY_STEPS"), Source::Flag);
        let text = file_error("max_result_bytes = 10\n");
        assert!(text.contains("key `max_result_bytes`"), "{text}");
        let text = file_error("max_json_depth = 1\n");
        assert!(text.contains("key `max_json_depth`"), "{text}");
    }

    #[test]
    fn file_keys_are_the_environment_variables() {
        let keys: Vec<String> = file_settings(&Cli::command()).into_keys().collect();
        assert_eq!(
            keys,
            [
                "addr",
                "allowed_hosts",
                "body_budget_bytes",
                "cors_allow_writes",
                "cors_origins",
                "data_dir",
                "database_url",
                "db_acquire_timeout_secs",
                "db_max_connections",
                "header_read_timeout_secs",
                "insecure_no_auth",
                "keep_alive_timeout_secs",
                "lineage_index",
                "log_format",
                "max_batch_events",
                "max_body_bytes",
                "max_connections",
                "max_json_depth",
                "max_plan_attributes",
                "max_plan_operations",
                "max_query_depth",
                "max_query_steps",
                "max_result_bytes",
                "max_result_edges",
                "max_result_nodes",
                "prune_batch_size",
                "prune_interval",
                "prune_older_than",
                "query_timeout_secs",
                "request_timeout_secs",
                "tokens_file",
            ]
        );
    }

    #[test]
    fn an_unknown_key_is_an_error_naming_it() {
        let text = file_error("adr = \"0.0.0.0:8080\"\n");
        assert!(text.contains("unknown key `adr`"), "{text}");
        assert!(text.contains("addr"), "{text}");
        let text = file_error("config = \"other.toml\"\n");
        assert!(text.contains("unknown key `config`"), "{text}");
        let text = file_error("[serve]\naddr = \"0.0.0.0:8080\"\n");
        assert!(text.contains("unknown key `serve`"), "{text}");
    }

    #[test]
    fn a_wrong_type_or_value_is_an_error_naming_the_key() {
        let text = file_error("db_max_connections = \"20\"\n");
        assert!(text.contains("key `db_max_connections`"), "{text}");
        assert!(text.contains("expected an integer, found string"), "{text}");

        let text = file_error("addr = 8080\n");
        assert!(
            text.contains("key `addr`: expected a string, found integer"),
            "{text}"
        );

        let text = file_error("lineage_index = \"off\"\n");
        assert!(
            text.contains("key `lineage_index`: expected a boolean, found string"),
            "{text}"
        );

        let text = file_error("db_max_connections = -1\n");
        assert!(text.contains("key `db_max_connections`"), "{text}");
        assert!(text.contains("-1"), "{text}");

        let text = file_error("addr = \"nowhere\"\n");
        assert!(text.contains("key `addr`"), "{text}");
        assert!(text.contains("nowhere"), "{text}");

        let text = file_error("prune_older_than = \"30 fortnights\"\n");
        assert!(text.contains("key `prune_older_than`"), "{text}");

        let text = file_error("prune_batch_size = 0\n");
        assert!(text.contains("key `prune_batch_size`"), "{text}");

        let text = file_error("log_format = \"xml\"\n");
        assert!(text.contains("key `log_format`"), "{text}");
        assert!(text.contains("text, json"), "{text}");
        assert!(!text.contains("--help"), "{text}");
    }

    #[test]
    fn bad_toml_and_missing_files_are_errors_naming_the_file() {
        let text = file_error("addr = \n");
        assert!(text.contains("not valid TOML"), "{text}");

        let missing = std::env::temp_dir().join("headwater-config-unit-missing.toml");
        let err = parse(&["config", "--config", missing.to_str().unwrap()]).unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains(missing.to_str().unwrap()), "{text}");
        assert!(text.contains("cannot read it"), "{text}");
    }

    #[test]
    fn usage_errors_stay_clap_errors() {
        let err = parse(&["serve", "--no-such-flag"]).unwrap_err();
        assert!(err.downcast_ref::<clap::Error>().is_some(), "{err}");
        let err = parse(&["--help"]).unwrap_err();
        let clap = err.downcast_ref::<clap::Error>().unwrap();
        assert_eq!(clap.kind(), clap::error::ErrorKind::DisplayHelp);
    }
}
