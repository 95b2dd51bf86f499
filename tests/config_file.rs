//! Settings from flags, environment variables and a TOML config file, as `headwater config`
//! prints them: flag > environment > file > default. Runs the binary; needs no database.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A config file in the temporary directory, removed when dropped.
struct ConfigFile(PathBuf);

impl ConfigFile {
    fn new(contents: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "headwater-config-file-{}-{}.toml",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, contents).unwrap();
        Self(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn arg(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for ConfigFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Runs `headwater ARGS` with only the environment variables `env`.
fn headwater(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_headwater"))
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

/// The `config` lines, after checking that it succeeded.
fn config(args: &[&str], env: &[(&str, &str)]) -> Vec<String> {
    let mut all = vec!["config"];
    all.extend_from_slice(args);
    let out = headwater(&all, env);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{:?}\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout.lines().map(str::to_owned).collect()
}

/// Asserts that `lines` has `NAME = value  # source`.
#[track_caller]
fn assert_line(lines: &[String], name: &str, value: &str, source: &str) {
    let expected = format!("{name} = {value}  # {source}");
    assert!(
        lines.contains(&expected),
        "no `{expected}` in:\n{}",
        lines.join("\n")
    );
}

/// The failure's stderr, after checking that it failed.
fn failure(args: &[&str], env: &[(&str, &str)]) -> String {
    let out = headwater(args, env);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!out.status.success(), "succeeded; stderr: {stderr}");
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    stderr
}

#[test]
fn flags_beat_the_environment_which_beats_the_file_which_beats_defaults() {
    let file = ConfigFile::new(
        r#"
        addr = "0.0.0.0:8081"
        max_body_bytes = 1024
        db_max_connections = 20
        database_url = "postgres://hw:s3cr3t@db:5432/hw"
        log_format = "json"
        prune_older_than = "30d"
        prune_interval = "2h"
        "#,
    );
    let lines = config(
        &["--config", file.arg(), "--addr", "127.0.0.1:9999"],
        &[
            ("HEADWATER_ADDR", "127.0.0.1:7777"),
            ("HEADWATER_DB_MAX_CONNECTIONS", "33"),
            ("HEADWATER_PRUNE_BATCH_SIZE", "250"),
            ("HEADWATER_HEADER_READ_TIMEOUT_SECS", "7"),
        ],
    );
    // flag over environment and file
    assert_line(&lines, "HEADWATER_ADDR", "127.0.0.1:9999", "flag");
    assert_line(&lines, "HEADWATER_CONFIG", file.arg(), "flag");
    // environment over file
    assert_line(&lines, "HEADWATER_DB_MAX_CONNECTIONS", "33", "env");
    // environment over default
    assert_line(&lines, "HEADWATER_PRUNE_BATCH_SIZE", "250", "env");
    // file over default
    assert_line(&lines, "HEADWATER_MAX_BODY_BYTES", "1024", "file");
    assert_line(&lines, "HEADWATER_LOG_FORMAT", "json", "file");
    assert_line(&lines, "HEADWATER_PRUNE_OLDER_THAN", "30days", "file");
    assert_line(&lines, "HEADWATER_PRUNE_INTERVAL", "2h", "file");
    assert_line(
        &lines,
        "DATABASE_URL",
        "postgres://hw:***@db:5432/hw",
        "file",
    );
    // defaults
    assert_line(&lines, "HEADWATER_REQUEST_TIMEOUT_SECS", "120", "default");
    assert_line(&lines, "HEADWATER_DB_ACQUIRE_TIMEOUT_SECS", "3", "default");
    assert_line(&lines, "HEADWATER_DATA_DIR", ".", "default");
    assert_line(&lines, "HEADWATER_LINEAGE_INDEX", "true", "default");
    assert_line(&lines, "HEADWATER_QUERY_TIMEOUT_SECS", "30", "default");
    assert_line(
        &lines,
        "HEADWATER_BODY_BUDGET_BYTES",
        "268435456",
        "default",
    );
    assert_line(&lines, "HEADWATER_ALLOWED_HOSTS", "(none)", "default");
    assert_line(&lines, "HEADWATER_HEADER_READ_TIMEOUT_SECS", "7", "env");
    assert_line(&lines, "HEADWATER_KEEP_ALIVE_TIMEOUT_SECS", "20", "default");
    assert_line(&lines, "HEADWATER_MAX_CONNECTIONS", "512", "default");
    assert!(!lines.join("\n").contains("s3cr3t"), "{lines:?}");
    assert_eq!(lines.len(), 32, "{lines:?}");
}

#[test]
fn the_file_can_be_named_by_the_environment() {
    let file = ConfigFile::new("request_timeout_secs = 30\nlog_format = \"json\"\n");
    let lines = config(
        &["--log-format", "text"],
        &[
            ("HEADWATER_CONFIG", file.arg()),
            ("HEADWATER_LOG_FORMAT", "json"),
        ],
    );
    assert_line(&lines, "HEADWATER_CONFIG", file.arg(), "env");
    assert_line(&lines, "HEADWATER_REQUEST_TIMEOUT_SECS", "30", "file");
    assert_line(&lines, "HEADWATER_LOG_FORMAT", "text", "flag");
}

#[test]
fn without_a_file_settings_come_from_flags_environment_and_defaults() {
    let lines = config(&[], &[("HEADWATER_DATA_DIR", "/srv/headwater")]);
    assert_line(&lines, "HEADWATER_CONFIG", "(none)", "default");
    assert_line(&lines, "HEADWATER_DATA_DIR", "/srv/headwater", "env");
    assert_line(
        &lines,
        "DATABASE_URL",
        "sqlite:///srv/headwater/headwater.db",
        "default",
    );
    assert_line(&lines, "HEADWATER_ADDR", "127.0.0.1:8080", "default");
    assert_line(&lines, "HEADWATER_PRUNE_OLDER_THAN", "(none)", "default");
    assert_line(&lines, "HEADWATER_PRUNE_INTERVAL", "1h", "default");
    assert_line(&lines, "HEADWATER_PRUNE_BATCH_SIZE", "1000", "default");

    let lines = config(
        &["--prune-older-than", "12h"],
        &[("DATABASE_URL", "postgres://hw:s3cr3t@db/hw")],
    );
    assert_line(&lines, "DATABASE_URL", "postgres://hw:***@db/hw", "env");
    assert_line(&lines, "HEADWATER_PRUNE_OLDER_THAN", "12h", "flag");
    assert!(!lines.join("\n").contains("s3cr3t"), "{lines:?}");
}

#[test]
fn a_bad_file_fails_naming_the_file_and_the_key() {
    let cases = [
        ("adr = \"0.0.0.0:8080\"\n", "unknown key `adr`"),
        (
            "db_max_connections = \"many\"\n",
            "key `db_max_connections`: expected an integer",
        ),
        ("addr = \"nowhere\"\n", "key `addr`"),
        ("prune_older_than = \"soon\"\n", "key `prune_older_than`"),
        ("prune_batch_size = 0\n", "key `prune_batch_size`"),
        ("addr = \n", "not valid TOML"),
    ];
    for (contents, expected) in cases {
        let file = ConfigFile::new(contents);
        let stderr = failure(&["config", "--config", file.arg()], &[]);
        assert!(stderr.contains(expected), "{contents:?}: {stderr}");
        assert!(stderr.contains(file.arg()), "{contents:?}: {stderr}");
    }
}

#[test]
fn a_missing_file_fails_for_every_command() {
    let file = ConfigFile::new("");
    let missing = file.path().with_extension("missing.toml");
    let missing = missing.to_str().unwrap();
    let stderr = failure(&["config", "--config", missing], &[]);
    assert!(stderr.contains(missing), "{stderr}");
    let stderr = failure(&["openapi"], &[("HEADWATER_CONFIG", missing)]);
    assert!(stderr.contains(missing), "{stderr}");
}

/// `?password=` and `?sslpassword=` were printed in clear: only the user information's
/// password was redacted.
#[test]
fn config_hides_the_secret_parameters_of_the_database_url() {
    let url = "postgres://hw:in-userinfo@db/hw?sslmode=require&password=in-query&sslpassword=key-passphrase";
    let redacted = "postgres://hw:***@db/hw?sslmode=require&password=***&sslpassword=***";
    let lines = config(&["--database-url", url], &[]);
    assert_line(&lines, "DATABASE_URL", redacted, "flag");
    let lines = config(&[], &[("DATABASE_URL", url)]);
    assert_line(&lines, "DATABASE_URL", redacted, "env");
    let file = ConfigFile::new(&format!("database_url = \"{url}\"\n"));
    let lines = config(&["--config", file.arg()], &[]);
    assert_line(&lines, "DATABASE_URL", redacted, "file");
    for secret in ["in-userinfo", "in-query", "key-passphrase"] {
        assert!(!lines.join("\n").contains(secret), "{secret}: {lines:?}");
    }
}
