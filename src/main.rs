//! The `headwater` binary: read the settings, set up logging, run the command.

/// mimalloc gives memory freed after a large plan back to the system; glibc's per-thread
/// arenas keep it, and the service's footprint would stay at its ingest peak.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = headwater::config::load()?;
    headwater::telemetry::init(cli.log_format);
    headwater::commands::run(cli).await
}
