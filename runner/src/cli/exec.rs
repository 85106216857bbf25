//! `cortex-runner exec`: one module, one existing job folder, the sandbox, finalisation.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;

use super::Status;
use cortex_runner::config::limits;
use cortex_runner::sandbox_run;

/// Arguments of `cortex-runner exec`.
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// The module to run: a WASI preview-1 module or a WASI 0.2 component (`.wasm`).
    #[arg(long, value_name = "PATH.wasm")]
    module: PathBuf,
    /// An existing Cortex job folder (`input/input.json`, `output/`).
    #[arg(long, value_name = "DIR")]
    job_dir: PathBuf,
    /// Wall-clock limit in seconds (1..=86400).
    #[arg(long, default_value_t = 60, value_name = "N",
          value_parser = clap::value_parser!(u64).range(limits::WASM_TIMEOUT_S))]
    timeout_s: u64,
    /// Linear-memory limit in MiB (1..=4096: a wasm32 guest addresses 4 GiB).
    #[arg(long, default_value_t = 256, value_name = "N",
          value_parser = clap::value_parser!(u64).range(limits::MEMORY_MIB))]
    memory_mib: u64,
    /// Optional instruction budget (wasmtime fuel units, 1..=10^15).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(limits::FUEL))]
    fuel: Option<u64>,
    /// Environment variable for the guest (repeatable); the guest sees nothing else.
    #[arg(long = "env", value_name = "K=V", value_parser = parse_env)]
    env: Vec<(String, String)>,
    /// Largest `output.json` finalisation will read, in bytes (1..=1073741824).
    #[arg(long, default_value_t = 16 * limits::MIB, value_name = "BYTES",
          value_parser = clap::value_parser!(u64).range(limits::MAX_OUTPUT_BYTES))]
    max_output_bytes: u64,
    #[command(flatten)]
    network: super::network_args::NetworkArgs,
}

/// Parses one `K=V` pair; the key must be non-empty.
pub fn parse_env(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("expected K=V, got `{s}`")),
    }
}

/// Runs the subcommand.
pub fn run(args: ExecArgs) -> Result<Status> {
    // Both errors below name the path and the fix themselves.
    let folder = cortex_job::JobFolder::open(&args.job_dir)?;
    let sandbox = wasm_host::Sandbox::new(wasm_host::SandboxConfig {
        // Metering costs every job some speed, so only a run that asks for a fuel limit pays it.
        fuel_metering: args.fuel.is_some(),
        ..wasm_host::SandboxConfig::default()
    })
    .context("starting the wasm sandbox")?;
    let module = sandbox.load(&args.module)?;
    // clap keeps --memory-mib within limits::MEMORY_MIB; the product is checked all the same.
    let memory_bytes = limits::mib_to_bytes(args.memory_mib)
        .with_context(|| format!("--memory-mib {} is too large", args.memory_mib))?;
    let limits = wasm_host::Limits {
        memory_bytes,
        timeout: Duration::from_secs(args.timeout_s),
        fuel: args.fuel,
        ..wasm_host::Limits::default()
    };
    let options = cortex_job::FinaliseOptions {
        max_output_bytes: args.max_output_bytes,
        ..cortex_job::FinaliseOptions::default()
    };
    let rt = super::runtime()?;
    let done = rt.block_on(sandbox_run::run_and_finalise(
        &sandbox,
        &module,
        &folder,
        args.env,
        limits,
        args.network.rules().as_ref(),
        &options,
    ))?;
    super::print_json(&done.finalised.report)?;
    Ok(if done.finalised.success {
        Status::Success
    } else {
        Status::ReportFailure
    })
}
