//! The `headwater` binary: read the settings, set up logging, run the command.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = headwater::config::load()?;
    headwater::telemetry::init(cli.log_format);
    headwater::commands::run(cli).await
}
