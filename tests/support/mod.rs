//! Plumbing for the tests that run `headwater serve` as a real process on real sockets:
//! starting, probing and killing it, scratch databases, and the answers clients got.
//!
//! Each test file that needs it says `mod support;`, so not every part is used by each.

#![allow(dead_code)]

pub mod clients;
pub mod cluster;
pub mod snapshot;
pub mod watch;
pub mod workload;

use std::future::Future;
use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::FutureExt;
use serde_json::Value;
use sqlx::Connection;
use sqlx::postgres::PgConnection;

/// The server the PostgreSQL tests create their databases on.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres:headwater@127.0.0.1:5432/postgres";

/// How long a service may take to get ready (cold caches, migrations on a fresh database).
pub const READY_DEADLINE: Duration = Duration::from_secs(90);

/// Per-request ceiling: far above any sane latency, it only turns a hang into a failure.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(60);

pub fn server_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_DATABASE_URL.to_owned())
}

pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(REQUEST_DEADLINE)
        .build()
        .unwrap()
}

/// A running `headwater serve`, killed when dropped (also when the test panics).
pub struct Service {
    pub addr: SocketAddr,
    child: Mutex<Child>,
    /// Its stdout and stderr (logs go to stdout), as read so far.
    output: Arc<Mutex<String>>,
}

impl Service {
    /// Starts `headwater serve` on `port` against `database_url`, with extra environment
    /// settings (`HEADWATER_...`).
    pub fn start(port: u16, database_url: &str, settings: &[(&str, &str)]) -> Service {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut child = Command::new(env!("CARGO_BIN_EXE_headwater"))
            .arg("serve")
            .arg("--addr")
            .arg(addr.to_string())
            .arg("--database-url")
            .arg(database_url)
            .env_remove("HEADWATER_CONFIG")
            .env("RUST_LOG", "headwater=info,tower_http=warn,sqlx=warn")
            .envs(settings.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting headwater serve");
        let output = Arc::new(Mutex::new(String::new()));
        // Drain both pipes, or a chatty child would block once a pipe buffer is full.
        drain(child.stdout.take().unwrap(), output.clone());
        drain(child.stderr.take().unwrap(), output.clone());
        Service {
            addr,
            child: Mutex::new(child),
            output,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.lock().unwrap().id()
    }

    /// What it logged, each line prefixed with its address.
    pub fn log(&self) -> String {
        let output = self.output.lock().unwrap();
        output
            .lines()
            .map(|l| format!("[{}] {l}", self.addr))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Polls `/health/ready` until it answers 200; panics with the log if the process exits
    /// first or never gets ready.
    pub async fn wait_ready(&self, http: &reqwest::Client) {
        let last = self.wait_for_readiness(http, 200, READY_DEADLINE).await;
        if let Err(last) = last {
            panic!(
                "{} not ready after {READY_DEADLINE:?} (last: {last}):\n{}",
                self.addr,
                self.log()
            );
        }
    }

    /// Polls `/health/ready` until it answers `status`; the last answer if it never did.
    pub async fn wait_for_readiness(
        &self,
        http: &reqwest::Client,
        status: u16,
        deadline: Duration,
    ) -> Result<(), String> {
        let until = Instant::now() + deadline;
        loop {
            if let Some(exit) = self.child.lock().unwrap().try_wait().unwrap() {
                panic!("{} exited ({exit}):\n{}", self.addr, self.log());
            }
            let last = match http.get(self.url("/health/ready")).send().await {
                Ok(r) if r.status() == status => return Ok(()),
                Ok(r) => format!("{} {}", r.status(), r.text().await.unwrap_or_default()),
                Err(e) => e.to_string(),
            };
            if Instant::now() > until {
                return Err(last);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGKILL: no shutdown, no flushing, requests in flight cut off.
    pub fn kill(&self) {
        let mut child = self.child.lock().unwrap();
        child.kill().expect("SIGKILL");
        child.wait().expect("reaping the killed service");
    }

    /// POSTs `body` and reads the whole answer.
    pub async fn post(
        &self,
        http: &reqwest::Client,
        path: &str,
        content_type: &str,
        body: String,
    ) -> Result<Answer, reqwest::Error> {
        let request = http.post(self.url(path));
        let request = request.header(reqwest::header::CONTENT_TYPE, content_type);
        Answer::of(request.body(body)).await
    }

    /// GETs `path` and reads the whole answer.
    pub async fn get(
        &self,
        http: &reqwest::Client,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<Answer, reqwest::Error> {
        Answer::of(http.get(self.url(path)).query(query)).await
    }

    /// The edges of the lineage one job hop upstream of `key`; panics unless it answers 200.
    pub async fn upstream_edges(&self, http: &reqwest::Client, key: &str) -> Vec<Value> {
        let query = [("node", key), ("direction", "upstream"), ("depth", "1")];
        let lineage = self.get_json(http, "/api/v1/graph/lineage", &query).await;
        lineage["edges"].as_array().unwrap().clone()
    }

    /// GETs JSON; panics unless it answers 200.
    pub async fn get_json(
        &self,
        http: &reqwest::Client,
        path: &str,
        query: &[(&str, &str)],
    ) -> Value {
        let answer = self
            .get(http, path, query)
            .await
            .unwrap_or_else(|e| panic!("GET {path} on {}: {e}", self.addr));
        assert_eq!(
            answer.status, 200,
            "GET {path} {query:?} on {}: {}",
            self.addr, answer.body
        );
        serde_json::from_str(&answer.body).unwrap()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let child = self.child.get_mut().unwrap_or_else(|e| e.into_inner());
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// An HTTP answer, fully read.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<String>,
    pub content_type: Option<String>,
    pub body: String,
    pub took: Duration,
}

impl Answer {
    /// Sends the request and reads the whole answer, timing both.
    pub async fn of(request: reqwest::RequestBuilder) -> Result<Answer, reqwest::Error> {
        let begun = Instant::now();
        let response = request.send().await?;
        let header = |name: reqwest::header::HeaderName| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let status = response.status().as_u16();
        let retry_after = header(reqwest::header::RETRY_AFTER);
        let content_type = header(reqwest::header::CONTENT_TYPE);
        let body = response.text().await?;
        Ok(Answer {
            status,
            retry_after,
            content_type,
            body,
            took: begun.elapsed(),
        })
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The problem document's `code`, if the answer is one.
    pub fn problem_code(&self) -> Option<String> {
        let problem: Value = serde_json::from_str(&self.body).ok()?;
        problem["code"].as_str().map(str::to_owned)
    }
}

/// Copies a pipe into `into` on a thread of its own, until the child closes it.
fn drain(mut pipe: impl Read + Send + 'static, into: Arc<Mutex<String>>) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n @ 1..) = pipe.read(&mut buf) {
            let text = String::from_utf8_lossy(&buf[..n]);
            into.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push_str(&text);
        }
    });
}

/// `n` distinct loopback ports that were free a moment ago (all bound at once, then let go).
pub fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: [TcpListener; N] =
        std::array::from_fn(|_| TcpListener::bind("127.0.0.1:0").expect("binding port 0"));
    listeners.map(|l| l.local_addr().unwrap().port())
}

/// `server_url` with its database replaced by `name`, query parameters kept.
pub fn with_database(server_url: &str, name: &str) -> String {
    let (url, params) = match server_url.split_once('?') {
        Some((url, params)) => (url, format!("?{params}")),
        None => (server_url, String::new()),
    };
    let scheme_end = url.find("://").map_or(0, |i| i + 3);
    let authority_end = url[scheme_end..]
        .find('/')
        .map_or(url.len(), |i| scheme_end + i);
    format!("{}/{name}{params}", &url[..authority_end])
}

/// Runs `scenario` with the URLs of `N` fresh databases on the PostgreSQL server at
/// `server_url`, and drops them afterwards, whether it passed or panicked.
pub async fn with_databases<const N: usize, F, Fut>(server_url: &str, prefix: &str, scenario: F)
where
    F: FnOnce([String; N]) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut admin = PgConnection::connect(server_url)
        .await
        .unwrap_or_else(|e| panic!("connecting to {server_url}: {e}"));
    let names: [String; N] =
        std::array::from_fn(|_| format!("{prefix}_{}", uuid::Uuid::new_v4().simple()));
    for name in &names {
        sqlx::query(&format!("create database {name}"))
            .execute(&mut admin)
            .await
            .expect("create database");
    }
    let urls = names.clone().map(|name| with_database(server_url, &name));
    let outcome = std::panic::AssertUnwindSafe(scenario(urls))
        .catch_unwind()
        .await;
    // The services are gone by now (their guards dropped inside the scenario).
    let mut dropped = Ok(());
    for name in &names {
        let result = sqlx::query(&format!("drop database {name} with (force)"))
            .execute(&mut admin)
            .await;
        dropped = dropped.and(result.map(|_| ()));
    }
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
    dropped.expect("drop database");
}

/// A folder removed when dropped.
pub struct ScratchDir(pub std::path::PathBuf);

impl ScratchDir {
    pub fn new(prefix: &str) -> ScratchDir {
        let dir = std::env::temp_dir().join(format!("{prefix}-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        ScratchDir(dir)
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn the_database_is_swapped_in_the_url() {
    assert_eq!(
        with_database("postgres://u:p@h:5432/postgres", "x"),
        "postgres://u:p@h:5432/x"
    );
    assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
    assert_eq!(
        with_database("postgres://h/db?sslmode=disable", "x"),
        "postgres://h/x?sslmode=disable"
    );
}
