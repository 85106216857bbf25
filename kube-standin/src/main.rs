//! `kube-standin`: starts the local Kubernetes API stand-in for a demo and serves until Ctrl-C.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use kube_standin::{Config, Standin};

/// A local stand-in for the Kubernetes API server (Jobs, Pods, Events) that runs each Job's
/// container as a local process.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Port on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Write a kubeconfig pointing at the server to FILE.
    #[arg(long, value_name = "FILE")]
    kubeconfig_out: Option<PathBuf>,
    /// The directory standing for every PersistentVolumeClaim.
    #[arg(long, value_name = "DIR")]
    pvc_dir: Option<PathBuf>,
    /// A JSON file with the rest of the configuration (the image map, faults, ...); the
    /// command-line options override its values.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let mut config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the configuration {}", path.display()))?;
            serde_json::from_str::<Config>(&text)
                .with_context(|| format!("configuration {}", path.display()))?
        }
        None => Config::default(),
    };
    config.port = args.port;
    if args.kubeconfig_out.is_some() {
        config.kubeconfig_out = args.kubeconfig_out;
    }
    if args.pvc_dir.is_some() {
        config.pvc_dir = args.pvc_dir;
    }
    let handle = Standin::start(config)
        .await
        .context("starting kube-standin")?;
    println!("kube-standin listening on {}", handle.url());
    if let Some(k) = handle.kubeconfig_path() {
        println!(
            "kubeconfig: {} (export KUBECONFIG={})",
            k.display(),
            k.display()
        );
    }
    println!("PVC directory: {}", handle.pvc_dir().display());
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    drop(handle);
    Ok(())
}
