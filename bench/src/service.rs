//! The service under test, as a real process: started on a fresh database, probed until it
//! is ready, and stopped however the run ends.
//!
//! Running the release binary (not an in-process router) measures what users run, and gives
//! a process id whose memory can be watched from outside.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use reqwest::{Client, StatusCode, Url};
use tokio::process::{Child, Command};

use crate::http::{endpoint, send};

/// How long a start may take (migrations included) before the run fails.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// A running `headwater serve`.
pub struct Service {
    child: Child,
    pub url: Url,
    pub pid: u32,
    pub log: PathBuf,
}

/// How to start one.
#[derive(Debug, Clone)]
pub struct Launch<'a> {
    pub binary: &'a Path,
    pub database_url: &'a str,
    pub port: u16,
    /// The in-memory lineage index (`HEADWATER_LINEAGE_INDEX`).
    pub index: bool,
    pub log: PathBuf,
}

impl Service {
    /// Starts the service and waits until `/health/ready` answers 200.
    pub async fn start(launch: Launch<'_>, client: &Client) -> Result<Service> {
        let log = std::fs::File::create(&launch.log)
            .with_context(|| format!("creating {}", launch.log.display()))?;
        let child = Command::new(launch.binary)
            .arg("serve")
            .env("DATABASE_URL", launch.database_url)
            .env("HEADWATER_ADDR", format!("127.0.0.1:{}", launch.port))
            .env("HEADWATER_LINEAGE_INDEX", launch.index.to_string())
            .env_remove("HEADWATER_CONFIG")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", launch.binary.display()))?;
        let pid = child.id().context("the service exited at once")?;
        let url: Url = format!("http://127.0.0.1:{}", launch.port).parse()?;
        let mut service = Service {
            child,
            url,
            pid,
            log: launch.log,
        };
        service.wait_ready(client).await?;
        Ok(service)
    }

    async fn wait_ready(&mut self, client: &Client) -> Result<()> {
        let ready = endpoint(&self.url, "health/ready");
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "the service exited with {status} while starting; see {}",
                    self.log.display()
                );
            }
            if send(client.get(ready.clone()), StatusCode::OK)
                .await
                .is_ok()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "the service was not ready within {START_TIMEOUT:?}; see {}",
                    self.log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Asks the service to stop (SIGTERM, as a container runtime does) and waits for it.
    pub async fn stop(mut self) -> Result<()> {
        let terminated = std::process::Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status();
        if terminated.is_err() {
            self.child.start_kill()?;
        }
        match tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await {
            Ok(status) => {
                status?;
                Ok(())
            }
            Err(_) => {
                self.child.start_kill()?;
                bail!("the service did not stop within 30 s of SIGTERM")
            }
        }
    }
}
