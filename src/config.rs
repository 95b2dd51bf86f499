//! Command line and settings. Every flag can also come from an environment variable, which is
//! how containers are configured; `headwater <command> --help` lists them all.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use chrono::{DateTime, Utc};

use clap::{Args, Parser, Subcommand, ValueEnum};

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
    /// Print the effective settings (flags and environment), secrets redacted.
    Config(ServeArgs),
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
    /// Seconds a request may take before it answers 408.
    #[arg(long, env = "HEADWATER_REQUEST_TIMEOUT_SECS", default_value_t = 120)]
    pub request_timeout_secs: u64,
}

/// Where the database is, and how to pool connections to it.
#[derive(Args)]
pub struct DatabaseArgs {
    /// PostgreSQL URL, e.g. `postgres://user:password@host:5432/headwater`.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: String,
    /// Most connections to keep open.
    #[arg(long, env = "HEADWATER_DB_MAX_CONNECTIONS", default_value_t = 10)]
    pub db_max_connections: u32,
    /// Seconds a request waits for a free connection before answering 503.
    #[arg(long, env = "HEADWATER_DB_ACQUIRE_TIMEOUT_SECS", default_value_t = 5)]
    pub db_acquire_timeout_secs: u64,
}

/// The URL carries a password; keep it out of logs.
impl fmt::Debug for DatabaseArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseArgs")
            .field("database_url", &redact(&self.database_url))
            .field("db_max_connections", &self.db_max_connections)
            .field("db_acquire_timeout_secs", &self.db_acquire_timeout_secs)
            .finish()
    }
}

impl ServeArgs {
    /// The effective settings as `name = value` lines, the database password redacted.
    pub fn describe(&self, log_format: LogFormat) -> String {
        let db = &self.database;
        let log_format = log_format
            .to_possible_value()
            .map(|v| v.get_name().to_owned());
        [
            ("HEADWATER_LOG_FORMAT", log_format.unwrap_or_default()),
            ("HEADWATER_ADDR", self.addr.to_string()),
            ("HEADWATER_MAX_BODY_BYTES", self.max_body_bytes.to_string()),
            (
                "HEADWATER_REQUEST_TIMEOUT_SECS",
                self.request_timeout_secs.to_string(),
            ),
            ("DATABASE_URL", redact(&db.database_url)),
            (
                "HEADWATER_DB_MAX_CONNECTIONS",
                db.db_max_connections.to_string(),
            ),
            (
                "HEADWATER_DB_ACQUIRE_TIMEOUT_SECS",
                db.db_acquire_timeout_secs.to_string(),
            ),
        ]
        .iter()
        .map(|(name, value)| format!("{name} = {value}\n"))
        .collect()
    }
}

/// Replaces the password in `scheme://user:password@host` with `***`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((credentials, host)) = rest.rsplit_once('@') else {
        return url.to_owned();
    };
    match credentials.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://hw:s3cr3t@db:5432/hw"),
            "postgres://hw:***@db:5432/hw"
        );
        assert_eq!(redact("postgres://hw@db/hw"), "postgres://hw@db/hw");
    }

    #[test]
    fn config_prints_settings_without_the_password() {
        let cli = Cli::parse_from([
            "headwater",
            "config",
            "--database-url",
            "postgres://hw:s3cr3t@db/hw",
            "--addr",
            "0.0.0.0:9000",
        ]);
        let Command::Config(args) = cli.command else {
            panic!("not config");
        };
        let text = args.describe(cli.log_format);
        assert!(
            text.contains("DATABASE_URL = postgres://hw:***@db/hw"),
            "{text}"
        );
        assert!(text.contains("HEADWATER_ADDR = 0.0.0.0:9000"), "{text}");
        assert!(!text.contains("s3cr3t"), "{text}");
    }

    #[test]
    fn the_cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
