//! `cortex-runner k8s ...`: the Kubernetes backend seen from the command line.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Result, bail};
use clap::{Args, Subcommand};

use super::Status;
use super::workers::WorkerArgs;
use cortex_job::JobFolder;
use cortex_runner::backend::kubernetes::spec::{JobParams, build_job, relative_folder};

/// `k8s` subcommands.
#[derive(Debug, Subcommand)]
pub enum K8sCommand {
    /// Print the Job a job folder would run as, in YAML, without creating it.
    Manifest(ManifestArgs),
}

/// `k8s manifest` arguments.
#[derive(Debug, Args)]
pub struct ManifestArgs {
    /// Where the configuration, policies and catalogs are.
    #[command(flatten)]
    pub workers: WorkerArgs,
    /// The worker (name, Cortex id such as FileInfo_8_0, or catalog name).
    #[arg(long, value_name = "NAME")]
    pub analyzer: String,
    /// The job folder, inside jobs.root (`cortex-job-<id>-<random>`, as Cortex made it).
    #[arg(value_name = "JOB_FOLDER")]
    pub folder: PathBuf,
}

/// Runs a `k8s` subcommand.
pub fn run(command: K8sCommand) -> Result<Status> {
    match command {
        K8sCommand::Manifest(args) => manifest(args),
    }
}

/// Prints the Job for the folder: the worker's full Kubernetes timeout as its deadline (a job
/// submitted now would have all of it).
fn manifest(args: ManifestArgs) -> Result<Status> {
    let setup = args.workers.setup()?;
    let Some(worker) = setup.table.get(&args.analyzer) else {
        bail!(
            "no worker named {} in the catalogs or policies (`cortex-runner analyzers` lists them)",
            args.analyzer
        );
    };
    let config = setup.config();
    let folder = JobFolder::open(&args.folder)?;
    let folder_rel = relative_folder(&config.jobs.root, folder.path())?;
    // The same no-follow look as the folder's other entries: a link named cacerts is not one.
    let has_cacerts = std::fs::symlink_metadata(folder.input_dir().join("cacerts"))
        .is_ok_and(|m| m.file_type().is_file());
    let timeout_s = worker
        .policy
        .as_ref()
        .map_or(config.kubernetes.timeout_s, |p| p.kubernetes.timeout_s);
    let job = build_job(&JobParams {
        worker,
        config: &config.kubernetes,
        folder_rel: &folder_rel,
        active_deadline: Duration::from_secs(timeout_s),
        has_cacerts,
    })?;
    let yaml = serde_yaml_ng::to_string(&job)?;
    match std::io::stdout().lock().write_all(yaml.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other?,
    }
    Ok(Status::Success)
}
