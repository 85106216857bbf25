//! `cortex-runner bench`: the full per-job path of one module, many times, as one JSON object.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::json;

use super::Status;
use cortex_runner::bench::{self, BenchOptions};
use cortex_runner::config::limits;

/// Arguments of `cortex-runner bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// The module to run: a WASI preview-1 module or a WASI 0.2 component (`.wasm`).
    #[arg(long, value_name = "PATH.wasm")]
    module: PathBuf,
    /// Number of jobs (1..=10000000).
    #[arg(long, default_value_t = 1000, value_name = "N",
          value_parser = clap::value_parser!(u64).range(limits::BENCH_JOBS))]
    jobs: u64,
    /// Jobs in flight at once (1..=1024).
    #[arg(long, default_value_t = 1, value_name = "C",
          value_parser = clap::value_parser!(u64).range(limits::CONCURRENCY))]
    concurrency: u64,
    /// Where job folders are created; defaults to `/dev/shm/cortex-runner-bench` (tmpfs) when
    /// `/dev/shm` exists, else the system temporary directory.
    #[arg(long, value_name = "DIR")]
    job_root: Option<PathBuf>,
    /// The observable of every job.
    #[arg(long, default_value = "8.8.8.8", value_name = "VALUE")]
    data: String,
    /// Its Cortex data type.
    #[arg(long, default_value = "ip", value_name = "TYPE")]
    data_type: String,
    /// A file observable (`dataType: "file"`) instead of `--data`, copied into every job folder.
    #[arg(long, value_name = "PATH", conflicts_with = "data")]
    file: Option<PathBuf>,
    /// The worker configuration of every job (`config` in `input.json`), a JSON object such as
    /// `'{"check_tlp": false}'`; some analyzers refuse to run without their keys.
    #[arg(long, value_name = "JSON", value_parser = parse_config)]
    config: Option<serde_json::Map<String, serde_json::Value>>,
    /// Also run the same jobs as one process per job, `PROGRAM [ARGS...] <job folder>` (Cortex's
    /// process-runner model), e.g. the natively built analyzer or `python3 analyzer.py`; the
    /// command is split on whitespace.
    #[arg(long, value_name = "COMMAND")]
    compare_process: Option<String>,
    /// Wall-clock limit of each job, seconds (1..=86400).
    #[arg(long, default_value_t = 60, value_name = "N",
          value_parser = clap::value_parser!(u64).range(limits::WASM_TIMEOUT_S))]
    timeout_s: u64,
    #[command(flatten)]
    network: super::network_args::NetworkArgs,
}

/// `--config`: a JSON object, or an error saying what was given instead.
fn parse_config(text: &str) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    match serde_json::from_str(text) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        Ok(other) => Err(format!(
            "expected a JSON object such as '{{\"check_tlp\": false}}', got {}",
            match other {
                serde_json::Value::Array(_) => "an array",
                serde_json::Value::String(_) => "a string",
                serde_json::Value::Number(_) => "a number",
                serde_json::Value::Bool(_) => "a boolean",
                _ => "null",
            }
        )),
        Err(e) => Err(format!("not valid JSON: {e}")),
    }
}

/// Runs the subcommand and prints the figures as one JSON object on stdout.
pub fn run(args: BenchArgs) -> Result<Status> {
    let job_root = args.job_root.clone().unwrap_or_else(|| {
        let shm = std::path::Path::new("/dev/shm");
        if shm.is_dir() {
            shm.join("cortex-runner-bench")
        } else {
            std::env::temp_dir().join("cortex-runner-bench")
        }
    });
    let opts = BenchOptions {
        // Within their ranges, both fit a usize.
        jobs: usize::try_from(args.jobs).context("--jobs does not fit this platform")?,
        concurrency: usize::try_from(args.concurrency)
            .context("--concurrency does not fit this platform")?,
        job_root: job_root.clone(),
        data: args.data.clone(),
        data_type: args.data_type.clone(),
        file: args.file.clone(),
        config: args.config.clone().unwrap_or_default(),
        limits: wasm_host::Limits {
            timeout: Duration::from_secs(args.timeout_s),
            ..wasm_host::Limits::default()
        },
        network: args.network.rules(),
    };
    let sandbox = wasm_host::Sandbox::new(wasm_host::SandboxConfig::default())
        .context("starting the wasm sandbox")?;
    let module = sandbox.load(&args.module)?;
    let rt = super::runtime()?;
    let wasm = rt.block_on(bench::run_sandbox(&sandbox, &module, &opts))?;
    let peak_rss = bench::peak_rss_bytes();
    let mut out = json!({
        "module": args.module,
        "job_root": job_root,
        "file_system": bench::file_system_of(&job_root),
        "jobs": wasm.jobs,
        "concurrency": wasm.concurrency,
        "wall_s": wasm.wall_s,
        "jobs_per_s": wasm.jobs_per_s,
        "latency_us": wasm.latency_us,
        "failures": wasm.failures,
        "phases_p50_us": wasm.phases_p50_us,
        "peak_rss_bytes": peak_rss,
    });
    if let Some(command) = &args.compare_process {
        let program: Vec<String> = command.split_whitespace().map(String::from).collect();
        if program.is_empty() {
            bail!("--compare-process needs a program");
        }
        let process = rt.block_on(bench::run_process(&program, &opts))?;
        let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        out["process"] = json!({
            "command": command,
            "wall_s": process.wall_s,
            "jobs_per_s": process.jobs_per_s,
            "latency_us": process.latency_us,
            "failures": process.failures,
            "phases_p50_us": process.phases_p50_us,
        });
        out["ratio"] = json!({
            "p50_process_over_wasm": ratio(process.latency_us.p50, wasm.latency_us.p50),
            "throughput_wasm_over_process": wasm.jobs_per_s / process.jobs_per_s,
        });
    }
    super::print_json(&out)?;
    Ok(Status::Success)
}
