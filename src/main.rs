//! The `natter` binary: parses the command line and hands over to [`natter::cli`].

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    natter::cli::main().await
}
