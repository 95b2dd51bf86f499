//! The README's first command starts Headwater with no `DATABASE_URL` and no database server:
//! it runs on an embedded SQLite file in the working directory and ingests a plan.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

/// The first command of the README's quick start.
fn readme_first_command() -> String {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md exists");
    let quick_start = readme
        .split("## Quick start")
        .nth(1)
        .expect("the README has a quick start");
    let block = quick_start
        .split("```sh")
        .nth(1)
        .expect("the quick start has a shell block");
    block
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .expect("the block has a command")
        .to_owned()
}

/// Kills the service when the test ends, passing or not.
struct Service(Child);

impl Drop for Service {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hw-first-command-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn wait_ready(client: &reqwest::Client, base: &str, service: &mut Service) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Some(status) = service.0.try_wait().unwrap() {
            panic!("headwater exited before it was ready: {status}");
        }
        let ready = client.get(format!("{base}/health/ready")).send().await;
        if ready.is_ok_and(|r| r.status() == 200) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("headwater was not ready within 60 s");
}

#[tokio::test]
async fn the_readme_first_command_serves_on_embedded_sqlite_and_ingests_a_plan() {
    let command = readme_first_command();
    assert_eq!(
        command, "cargo run --release -- serve",
        "the README changed"
    );
    let args: Vec<&str> = command.split_once(" -- ").unwrap().1.split(' ').collect();
    let dir = scratch_dir();
    let port = free_port();
    // A clean environment: no DATABASE_URL, no config file; only the port differs from the
    // README (8080 may be taken here), set the way a user would.
    let child = Command::new(env!("CARGO_BIN_EXE_headwater"))
        .args(&args)
        .current_dir(&dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HEADWATER_ADDR", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .spawn()
        .expect("headwater starts");
    let mut service = Service(child);
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    wait_ready(&client, &base, &mut service).await;

    let plan = json!({
        "id": "00000000-0000-4000-8000-00000000f157",
        "name": "first",
        "operations": {
            "write": {"id": "op-0", "outputSource": "file:/tmp/out", "append": false, "childIds": ["op-1"]},
            "reads": [{"id": "op-1", "inputSources": ["file:/tmp/in"]}]
        },
        "systemInfo": {"name": "spark", "version": "3.5.0"}
    });
    let stored = client
        .post(format!("{base}/producer/execution-plans"))
        .header(
            "content-type",
            "application/vnd.absa.spline.producer.v1.2+json",
        )
        .body(plan.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(stored.status(), 201, "{}", stored.text().await.unwrap());
    let lineage = client
        .get(format!("{base}/api/v1/graph/lineage"))
        .query(&[("node", "dataset:file:/tmp/out"), ("direction", "upstream")])
        .send()
        .await
        .unwrap();
    assert_eq!(lineage.status(), 200);
    let lineage: serde_json::Value = lineage.json().await.unwrap();
    let keys: Vec<&str> = lineage["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["key"].as_str())
        .collect();
    assert!(keys.contains(&"dataset:file:///tmp/in"), "{lineage}");
    assert!(
        dir.join("headwater.db").is_file(),
        "the data lives in ./headwater.db"
    );
    drop(service);
    std::fs::remove_dir_all(&dir).ok();
}
