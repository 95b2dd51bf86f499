//! The `headwater` binary: parse the command line, set up logging, run the command.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = headwater::config::Cli::parse();
    headwater::telemetry::init(cli.log_format);
    headwater::commands::run(cli).await
}
