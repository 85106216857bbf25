//! `cortex-runner k8s ...`: the Kubernetes backend seen from the command line.

use std::io::Write as _;
use std::time::Duration;

use anyhow::{Result, bail};
use clap::{Args, Subcommand};

use super::Status;
use super::job::JobArgs;
use super::workers::WorkerArgs;
use cortex_job::JobFolder;
use cortex_runner::adoption::{Adopted, adopt_orphans};
use cortex_runner::backend::kubernetes::egress;
use cortex_runner::backend::kubernetes::spec::{JobParams, build_job, relative_folder};

use super::terminal;

/// `k8s` subcommands.
#[derive(Debug, Subcommand)]
pub enum K8sCommand {
    /// Print the Job a job folder would run as, in YAML, without creating it; for a worker with
    /// `[wasm.network]`, its egress NetworkPolicy follows as a second document.
    Manifest(JobArgs),
    /// Adopt the Jobs an earlier runner left (it stopped or was killed with jobs running): wait
    /// for each and write its report, exactly once, without running any worker again.
    Adopt(AdoptArgs),
}

/// `k8s adopt` arguments.
#[derive(Debug, Args)]
pub struct AdoptArgs {
    /// Where the configuration, policies and catalogs are.
    #[command(flatten)]
    pub workers: WorkerArgs,
}

/// Runs a `k8s` subcommand.
pub fn run(command: K8sCommand) -> Result<Status> {
    match command {
        K8sCommand::Manifest(args) => manifest(args),
        K8sCommand::Adopt(args) => adopt(args),
    }
}

/// Prints the Job for the folder: the worker's full Kubernetes timeout as its deadline (a job
/// submitted now would have all of it); then the egress NetworkPolicy of a worker with a
/// network policy (without its owner reference: the Job has no uid before it is created).
fn manifest(args: JobArgs) -> Result<Status> {
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
    let mut yaml = serde_yaml_ng::to_string(&job)?;
    // A worker with a network policy: its egress NetworkPolicy as a second document, the hosts
    // resolved now (the runner resolves them again when it creates the Job).
    if let Some(rules) = worker.policy.as_ref().and_then(|p| p.wasm.network.as_ref()) {
        let pins = config.wasm.network.pins().map_err(anyhow::Error::msg)?;
        let dest =
            super::runtime()?.block_on(egress::resolve(rules, &pins, egress::RESOLVE_TIMEOUT))?;
        let name = job.metadata.name.as_deref().unwrap_or_default();
        let policy = egress::build(name, &config.kubernetes, &worker.name, &dest, None);
        yaml.push_str("---\n");
        yaml.push_str(&serde_yaml_ng::to_string(&policy)?);
    }
    match std::io::stdout().lock().write_all(yaml.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other?,
    }
    Ok(Status::Success)
}

/// Adopts every Job of this runner left in the namespace and prints one line per job: the job
/// folder, then its summary. Exit 0 when every adopted job's report is a success (or there was
/// none), 1 otherwise.
fn adopt(args: AdoptArgs) -> Result<Status> {
    let setup = args.workers.setup()?;
    let (scheduler, kubernetes) = setup.scheduler_with_kubernetes()?;
    let Some(kubernetes) = kubernetes else {
        bail!("nothing to adopt: kubernetes.enabled = false in the configuration");
    };
    let scheduler = std::sync::Arc::new(scheduler);
    let runtime = super::runtime()?;
    let all_succeeded = runtime.block_on(async {
        let adopted = adopt_orphans(&scheduler, &kubernetes)
            .await
            .map_err(anyhow::Error::msg)?;
        if adopted.is_empty() {
            eprintln!(
                "no Jobs of this runner in namespace {}",
                setup.config().kubernetes.namespace
            );
        }
        let mut all_succeeded = true;
        for adopted in adopted {
            match adopted {
                Adopted::Waiting { orphan, handle } => {
                    let folder =
                        terminal::escape(&orphan.folder.display().to_string()).into_owned();
                    match handle.await {
                        Ok(record) => {
                            all_succeeded &= record.finalised.success;
                            println!("{folder}\n{}", super::run::summary(&record));
                        }
                        Err(e) => {
                            all_succeeded = false;
                            println!("{folder}: {}", terminal::escape(&e.to_string()));
                        }
                    }
                }
                Adopted::Dropped { orphan, reason } => {
                    all_succeeded = false;
                    println!(
                        "{}: Job {} deleted: {}",
                        terminal::escape(&orphan.folder.display().to_string()),
                        orphan.job,
                        terminal::escape(&reason)
                    );
                }
            }
        }
        kubernetes.stop_watches();
        anyhow::Ok(all_succeeded)
    })?;
    Ok(if all_succeeded {
        Status::Success
    } else {
        Status::ReportFailure
    })
}
