//! Authentication as an operator meets it, through the real binary: `token new`, refusing to
//! serve a network address without tokens, and no secret in the log whatever is sent.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const SPLINE_V12: &str = "application/vnd.absa.spline.producer.v1.2+json";

/// Kills the service when the test ends, passing or not.
struct Service(Child);

impl Drop for Service {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

fn headwater() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_headwater"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    command
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hw-auth-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run(command: &mut Command) -> Output {
    command.output().expect("headwater runs")
}

/// `token new` prints the secret once and a block holding only its hash.
fn new_token(name: &str, scopes: &str) -> (String, String) {
    let out = run(headwater().args(["token", "new", "--name", name, "--scopes", scopes]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let secret = text
        .lines()
        .find_map(|l| l.strip_prefix("# ").filter(|s| s.starts_with("hw_")))
        .expect("the secret is printed")
        .to_owned();
    let block = text[text.find("[[token]]").expect("a [[token]] block")..].to_owned();
    assert!(
        !block.contains(&secret),
        "the block must hold the hash, not the secret"
    );
    (secret, block)
}

#[test]
fn a_network_address_without_tokens_is_refused_unless_insecure() {
    let dir = scratch_dir();
    let port = free_port();
    let out = run(headwater()
        .args(["serve", "--addr", &format!("0.0.0.0:{port}"), "--data-dir"])
        .arg(&dir));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("refusing to serve") && stderr.contains("HEADWATER_TOKENS_FILE"),
        "{stderr}"
    );
    let mut child = headwater()
        .args([
            "serve",
            "--insecure-no-auth",
            "--addr",
            &format!("0.0.0.0:{port}"),
            "--data-dir",
        ])
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(
            child.try_wait().unwrap().is_none(),
            "--insecure-no-auth must start"
        );
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "it never listened");
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().ok();
    child.wait().ok();
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_bad_tokens_file_stops_the_service_naming_the_problem() {
    let dir = scratch_dir();
    let tokens = dir.join("tokens.toml");
    std::fs::write(
        &tokens,
        "[[token]]\nname = \"a\"\nsha256 = \"xyz\"\nscopes = [\"producer\"]\n",
    )
    .unwrap();
    let out = run(headwater()
        .args(["serve", "--data-dir"])
        .arg(&dir)
        .arg("--tokens-file")
        .arg(&tokens));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("tokens.toml") && stderr.contains("sha256"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn secrets_never_reach_the_log() {
    let (secret, block) = new_token("etl", "producer,consumer");
    let dir = scratch_dir();
    let tokens = dir.join("tokens.toml");
    std::fs::write(&tokens, &block).unwrap();
    let port = free_port();
    let log = dir.join("headwater.log");
    let child = headwater()
        .args([
            "serve",
            "--addr",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(&dir)
        .env("HEADWATER_TOKENS_FILE", &tokens)
        .env("RUST_LOG", "trace")
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::create(dir.join("stderr.log")).unwrap())
        .spawn()
        .unwrap();
    let _service = Service(child);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    wait_ready(&client, &base).await;

    let wrong = "hw_wrong-secret-that-must-not-be-logged";
    let plan = serde_json::json!({
        "id": "00000000-0000-4000-8000-0000000a0001",
        "operations": {"write": {"id": "op-0", "outputSource": "file:/tmp/out", "append": false, "childIds": []}},
        "systemInfo": {"name": "spark", "version": "3.5.0"}
    });
    for (token, expected) in [(secret.as_str(), 201), (wrong, 401)] {
        let answer = client
            .post(format!("{base}/producer/execution-plans"))
            .bearer_auth(token)
            .header("content-type", SPLINE_V12)
            .body(plan.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), expected);
    }
    let grant = client
        .post(format!("{base}/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "etl"),
            ("client_secret", secret.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(grant.status(), 200);
    let unauthenticated = client
        .get(format!("{base}/api/v1/graph/nodes"))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
    let read = client
        .get(format!("{base}/api/v1/graph/nodes"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    drop(_service);

    let written = std::fs::read_to_string(&log).unwrap()
        + &std::fs::read_to_string(dir.join("stderr.log")).unwrap();
    assert!(
        written.contains("/producer/execution-plans"),
        "the log is written: {written}"
    );
    assert!(!written.contains(&secret), "the secret was logged");
    assert!(!written.contains(wrong), "a wrong secret was logged");
    std::fs::remove_dir_all(&dir).ok();
}

/// A database URL's `?password=` was logged by `serve` in its start-up line, and
/// `?sslpassword=` by the driver, which logs every parameter it doesn't know with its value.
#[tokio::test]
async fn database_url_secrets_never_reach_the_log() {
    use sqlx::Connection;
    let admin = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres:headwater@127.0.0.1:5432/postgres".to_owned());
    let name = format!("hw_redact_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .expect("PostgreSQL at DATABASE_URL");
    sqlx::query(&format!("create database {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let (base, _) = admin.rsplit_once('/').unwrap();
    // Trust authentication ignores the password; the driver can't use `sslpassword`.
    let url = format!("{base}/{name}?password=query-password-xyz&sslpassword=key-passphrase-xyz");
    let dir = scratch_dir();
    let port = free_port();
    let log = dir.join("headwater.log");
    let child = headwater()
        .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", &url)
        .env("RUST_LOG", "trace")
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::create(dir.join("stderr.log")).unwrap())
        .spawn()
        .unwrap();
    let service = Service(child);
    let client = reqwest::Client::new();
    wait_ready(&client, &format!("http://127.0.0.1:{port}")).await;
    drop(service);
    let written = std::fs::read_to_string(&log).unwrap()
        + &std::fs::read_to_string(dir.join("stderr.log")).unwrap();
    sqlx::query(&format!("drop database {name} with (force)"))
        .execute(&mut conn)
        .await
        .unwrap();
    assert!(written.contains("headwater listening"), "{written}");
    assert!(
        written.contains("password=***&sslpassword=***"),
        "{written}"
    );
    assert!(
        written.contains("sslpassword"),
        "the dropped parameter is named: {written}"
    );
    for secret in ["query-password-xyz", "key-passphrase-xyz"] {
        assert!(!written.contains(secret), "{secret} was logged: {written}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

async fn wait_ready(client: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let ready = client.get(format!("{base}/health/ready")).send().await;
        if ready.is_ok_and(|r| r.status() == 200) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("headwater was not ready within 60 s");
}
