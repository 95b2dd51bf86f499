//! Slow and idle clients over a real socket: a client trickling its headers is disconnected,
//! an idle keep-alive connection is closed, a request in flight is not idle, and connections
//! beyond the cap wait until one closes. No assertion depends on timing being tight: each
//! bound is many times the limit it checks.

use std::time::Duration;

use headwater::AppState;
use headwater::http::{self, ConnectionLimits, HttpSettings};
use rstest::rstest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

use crate::helpers::{Backend, Postgres, Sqlite, TestDb, V12, minimal_plan, plan_id};

/// Far beyond every limit set below: a connection still open after this was not closed.
const BOUND: Duration = Duration::from_secs(30);

struct Server {
    addr: std::net::SocketAddr,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    async fn start(db: &TestDb, connections: ConnectionLimits) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let settings = HttpSettings {
            connections,
            ..HttpSettings::default()
        };
        let state = AppState::shared(db.store(), settings, true);
        let task = tokio::spawn(http::serve(listener, state, async move {
            let _ = stopped.await;
        }));
        Server { addr, stop, task }
    }

    async fn connect(&self) -> TcpStream {
        TcpStream::connect(self.addr).await.unwrap()
    }

    /// Stops the server and asserts it finishes in time.
    async fn stop(self) {
        self.stop.send(()).unwrap();
        let finished = tokio::time::timeout(BOUND, self.task)
            .await
            .expect("the server stops in time");
        finished.unwrap().unwrap();
    }
}

fn limits(header_read: u64, keep_alive: u64, max_connections: usize) -> ConnectionLimits {
    ConnectionLimits {
        header_read_timeout: Duration::from_secs(header_read),
        keep_alive_timeout: Duration::from_secs(keep_alive),
        max_connections,
    }
}

const LIVE: &[u8] = b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

/// Reads one response whose body is `Content-Length` long; returns its head and body.
async fn read_response(stream: &mut TcpStream) -> String {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(BOUND, stream.read(&mut buf))
            .await
            .expect("an answer in time")
            .unwrap();
        assert!(
            n > 0,
            "closed before answering: {:?}",
            String::from_utf8_lossy(&bytes)
        );
        bytes.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap())
                })
                .unwrap_or(0);
            if bytes.len() >= end + 4 + length {
                return text;
            }
        }
    }
}

/// Waits until the server closes `stream` (end of file or a reset), reading and returning
/// whatever it sent before; panics if it is still open after [`BOUND`].
async fn closed_by_server(stream: &mut TcpStream) -> String {
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    let closed = tokio::time::timeout(BOUND, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "the connection is still open after {BOUND:?}"
    );
    String::from_utf8_lossy(&seen).into_owned()
}

/// A client sending one header byte per 200 ms never finishes its headers: without a header
/// deadline it held the connection (and a file descriptor) for as long as it liked.
#[tokio::test]
async fn a_client_trickling_its_headers_is_disconnected() {
    let db = TestDb::new(Sqlite).await;
    let server = Server::start(&db, limits(1, 3600, 64)).await;
    let stream = server.connect().await;
    let (mut reader, mut writer) = stream.into_split();
    // Headers that never end: the blank line never comes.
    let trickle = tokio::spawn(async move {
        let started = tokio::time::Instant::now();
        for byte in b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
            .iter()
            .chain([b'a'; 1000].iter())
        {
            if writer.write_all(&[*byte]).await.is_err() {
                return Some(started.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        None
    });
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    let closed = tokio::time::timeout(BOUND, async {
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "a trickling client is still connected after {BOUND:?}"
    );
    let seen = String::from_utf8_lossy(&seen);
    assert!(!seen.contains(" 200 "), "{seen}");
    trickle.abort();
    // The server still answers others.
    let mut other = server.connect().await;
    other.write_all(LIVE).await.unwrap();
    assert!(read_response(&mut other).await.starts_with("HTTP/1.1 200"));
    server.stop().await;
}

/// A kept-alive connection nobody uses is closed after the keep-alive timeout; before, it
/// stayed open for good.
#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let db = TestDb::new(Sqlite).await;
    // The header deadline is far off, so only the keep-alive timeout can close it.
    let server = Server::start(&db, limits(3600, 1, 64)).await;
    let mut stream = server.connect().await;
    for _ in 0..2 {
        stream.write_all(LIVE).await.unwrap();
        let answer = read_response(&mut stream).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    let after = closed_by_server(&mut stream).await;
    assert_eq!(after, "", "nothing more was sent");
    // A connection that never sends a byte is idle too.
    let mut silent = server.connect().await;
    closed_by_server(&mut silent).await;
    server.stop().await;
}

/// A request being answered is not idle, however long nothing moves: here the body comes
/// well after the keep-alive timeout, and is stored.
#[rstest]
#[tokio::test]
async fn a_request_in_flight_is_not_idle(#[values(Postgres, Sqlite)] backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = Server::start(&db, limits(3600, 1, 64)).await;
    let mut stream = server.connect().await;
    let plan = minimal_plan(&plan_id(1), &["s3://a/in"], "s3://a/out", "x").to_string();
    let head = format!(
        "POST /producer/execution-plans HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {V12}\r\nContent-Length: {}\r\n\r\n",
        plan.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // Three keep-alive timeouts with nothing on the wire, inside the request.
    tokio::time::sleep(Duration::from_secs(3)).await;
    stream.write_all(plan.as_bytes()).await.unwrap();
    let answer = read_response(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    server.stop().await;
}

/// With the cap at 2, a third connection is not served while two are open, and is once one
/// closes; after a flood of connections ends, `/health/live` answers.
#[tokio::test]
async fn connections_beyond_the_cap_wait_until_one_closes() {
    let db = TestDb::new(Sqlite).await;
    let server = Server::start(&db, limits(3600, 3600, 2)).await;
    let mut first = server.connect().await;
    first.write_all(LIVE).await.unwrap();
    assert!(read_response(&mut first).await.starts_with("HTTP/1.1 200"));
    let second = server.connect().await;
    // The kernel completes the handshake (the listen queue), but nothing reads the request.
    let mut third = server.connect().await;
    third.write_all(LIVE).await.unwrap();
    let mut buf = [0u8; 64];
    let waiting = tokio::time::timeout(Duration::from_secs(2), third.read(&mut buf)).await;
    assert!(
        waiting.is_err(),
        "the third connection was served: {waiting:?}"
    );
    drop(first);
    let answer = read_response(&mut third).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    drop((second, third));

    // A flood far beyond the cap, then gone.
    let mut flood = Vec::new();
    for _ in 0..300 {
        let connect = TcpStream::connect(server.addr);
        match tokio::time::timeout(Duration::from_secs(2), connect).await {
            Ok(Ok(stream)) => flood.push(stream),
            // The listen queue is full: the kernel refuses or drops further attempts.
            Ok(Err(_)) | Err(_) => break,
        }
    }
    assert!(flood.len() > 2, "{}", flood.len());
    drop(flood);
    let client = reqwest::Client::new();
    let live = tokio::time::timeout(
        BOUND,
        client
            .get(format!("http://{}/health/live", server.addr))
            .send(),
    )
    .await
    .expect("/health/live answers after the flood")
    .unwrap();
    assert_eq!(live.status(), 200);
    server.stop().await;
}

/// Shutdown closes idle connections at once and lets a request in flight finish.
#[tokio::test]
async fn shutdown_closes_idle_connections_and_finishes_requests_in_flight() {
    let db = TestDb::new(Sqlite).await;
    let server = Server::start(&db, limits(3600, 3600, 64)).await;
    let mut idle = server.connect().await;
    idle.write_all(LIVE).await.unwrap();
    assert!(read_response(&mut idle).await.starts_with("HTTP/1.1 200"));
    let mut busy = server.connect().await;
    let plan = minimal_plan(&plan_id(2), &["s3://a/in"], "s3://a/out", "x").to_string();
    let head = format!(
        "POST /producer/execution-plans HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {V12}\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        plan.len()
    );
    busy.write_all(head.as_bytes()).await.unwrap();
    // The handler asking for the body proves the request is in flight.
    let proceed = read_response(&mut busy).await;
    assert!(proceed.starts_with("HTTP/1.1 100"), "{proceed}");
    let Server { stop, task, .. } = server;
    stop.send(()).unwrap();
    closed_by_server(&mut idle).await;
    assert!(!task.is_finished(), "a request is still in flight");
    busy.write_all(plan.as_bytes()).await.unwrap();
    let answer = read_response(&mut busy).await;
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    tokio::time::timeout(BOUND, task)
        .await
        .expect("the server stops once the last request is answered")
        .unwrap()
        .unwrap();
}
