//! Command-line interface: one module per subcommand, and the mapping from outcomes to exit codes.

mod analyzers;
mod bench;
mod catalog_export;
mod config_show;
mod exec;
mod explain;
mod interrupt;
mod job;
mod k8s;
mod network_args;
mod run;
mod serve;
mod submit;
mod terminal;
mod workers;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Runs Cortex analyzers and responders on Cortex job folders, sandboxed.
#[derive(Debug, Parser)]
#[command(name = "cortex-runner", version, about, max_term_width = 100)]
struct Cli {
    /// The subcommand to run.
    #[command(subcommand)]
    command: Command,
}

/// Every subcommand of `cortex-runner`.
#[derive(Debug, Subcommand)]
enum Command {
    /// Run one wasm module on an existing Cortex job folder in the sandbox, then finalise it.
    Exec(exec::ExecArgs),
    /// Run many jobs of one module through the full per-job path and print timing as JSON.
    Bench(bench::BenchArgs),
    /// Build a job folder as Cortex does and run it through the scheduler.
    Run(run::RunArgs),
    /// Run an existing Cortex job folder through the scheduler.
    Job(job::JobArgs),
    /// List every worker, its data types, the backend it would get and why.
    Analyzers(analyzers::AnalyzersArgs),
    /// Show the decision for one job, with its reason.
    Explain(explain::ExplainArgs),
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(config_show::ConfigCommand),
    /// The Kubernetes backend: `k8s manifest` prints the Job a job folder would run as (and its
    /// egress NetworkPolicy).
    #[command(subcommand)]
    K8s(k8s::K8sCommand),
    /// Serve the HTTP API that runs jobs for Cortex (`/v1/jobs`, `/v1/workers`, health, metrics).
    Serve(serve::ServeArgs),
    /// Hand an existing Cortex job folder to the runner service and wait for its report.
    Submit(submit::SubmitArgs),
    /// Cortex worker definitions for the workers the runner service runs.
    #[command(subcommand)]
    Catalog(catalog_export::CatalogCommand),
}

/// What a subcommand reports back, mapped to the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The final report says `success: true` (or the command has no report and succeeded).
    Success,
    /// The job ran and its final report is a failure.
    ReportFailure,
}

impl From<Status> for ExitCode {
    fn from(status: Status) -> ExitCode {
        match status {
            Status::Success => ExitCode::SUCCESS,
            Status::ReportFailure => ExitCode::from(1),
        }
    }
}

/// Exit code for usage, configuration and setup errors.
const EXIT_SETUP: u8 = 2;

/// A second SIGINT or SIGTERM while `run` or `job` waits for a cancelled job's report exits at
/// once with this plus the signal's number (130, 143), as a shell reports a process the signal
/// killed. The first one cancels the job, whose failure report gives exit code 1.
const EXIT_SIGNAL_BASE: i32 = 128;

/// Parses the command line, runs the subcommand and turns its result into an exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // clap prints help and version to stdout with success; real usage errors exit 2.
            let _ = err.print();
            return if err.use_stderr() {
                ExitCode::from(EXIT_SETUP)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    // `serve` sets up its own logging (text or JSON).
    if !matches!(cli.command, Command::Serve(_)) {
        init_logging();
    }
    let result = match cli.command {
        Command::Exec(args) => exec::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Run(args) => run::run(args),
        Command::Job(args) => job::run(args),
        Command::Analyzers(args) => analyzers::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Config(command) => config_show::run(command),
        Command::K8s(command) => k8s::run(command),
        Command::Serve(args) => serve::run(args),
        Command::Submit(args) => submit::run(args),
        Command::Catalog(command) => catalog_export::run(command),
    };
    match result {
        Ok(status) => status.into(),
        Err(err) => {
            // Errors quote paths, job folder contents and catalog text: escaped like reports.
            eprintln!("error: {}", terminal::escape(&error_chain(&err)));
            ExitCode::from(EXIT_SETUP)
        }
    }
}

/// The whole error chain on one line, "outer: inner: root", leaving out a cause whose text the
/// message before it already quotes (library errors often name their source in their own text).
pub fn error_chain(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

/// Logs go to stderr so that stdout carries only the report; `RUST_LOG` filters them.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Prints `value` as pretty JSON on stdout, with the characters a terminal would act on escaped
/// (see [`terminal::escape_json`]; the JSON value is unchanged). A closed pipe (`cortex-runner exec ... | head`) is
/// not an error: the reader has what it wanted and the job's outcome stands.
pub fn print_json(value: &serde_json::Value) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut text = terminal::escape_json(serde_json::to_string_pretty(value)?);
    text.push('\n');
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// Builds the multi-threaded tokio runtime every job-running subcommand uses.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
