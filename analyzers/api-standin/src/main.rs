//! `api-standin`: starts the stand-in of the AbuseIPDB, URLhaus and GreyNoise APIs, prints one
//! JSON line (`addr`, `ca_file`, `stats`, `proxy`) and serves until killed.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use api_standin::{ApiStandin, Options};
use clap::Parser;

/// A local HTTPS stand-in of the AbuseIPDB, URLhaus and GreyNoise APIs, with a CONNECT proxy to
/// itself. The test CA is generated at start and written to --ca-file.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Port on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Where to write the test CA (PEM); default: a file in a fresh temporary folder, removed
    /// when the stand-in ends normally.
    #[arg(long, value_name = "FILE")]
    ca_file: Option<PathBuf>,
    /// The `slow` key's delay, in milliseconds.
    #[arg(long, default_value_t = 1500)]
    slow_ms: u64,
    /// The pause between two bytes of the `trickle` key's body, in milliseconds.
    #[arg(long, default_value_t = 100)]
    trickle_ms: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let options = Options {
        port: args.port,
        slow_delay: Duration::from_millis(args.slow_ms),
        trickle_interval: Duration::from_millis(args.trickle_ms),
    };
    let running = ApiStandin::start(options)
        .await
        .context("starting api-standin")?;
    let (_temp, ca_file) = match args.ca_file {
        Some(path) => (None, path),
        None => {
            let dir = tempfile::Builder::new()
                .prefix("api-standin-")
                .tempdir()
                .context("creating a temporary folder for the CA")?;
            let path = dir.path().join("ca.pem");
            (Some(dir), path)
        }
    };
    std::fs::write(&ca_file, running.ca_pem())
        .with_context(|| format!("writing the CA to {}", ca_file.display()))?;
    let line = serde_json::json!({
        "addr": running.addr().to_string(),
        "ca_file": ca_file.display().to_string(),
        "stats": running.stats_url(),
        "proxy": running.proxy_url(),
    });
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")?;
    stdout.flush()?;
    drop(stdout);
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    Ok(())
}
