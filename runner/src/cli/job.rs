//! `cortex-runner job --analyzer NAME JOB_FOLDER`: runs an existing Cortex job folder through the
//! scheduler (what a Cortex process-runner wrapper calls).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use cortex_job::JobFolder;

use super::Status;
use super::workers::WorkerArgs;

/// `job` arguments.
#[derive(Debug, Args)]
pub struct JobArgs {
    /// Where the configuration, policies and catalogs are.
    #[command(flatten)]
    pub workers: WorkerArgs,
    /// The worker to run (name, Cortex id such as FileInfo_8_0, or catalog name).
    #[arg(long, value_name = "NAME")]
    pub analyzer: String,
    /// The Cortex job folder (holding input/input.json).
    #[arg(value_name = "JOB_FOLDER")]
    pub folder: PathBuf,
}

/// Runs the job and prints the final report; the folder is left in place for Cortex to read.
/// SIGINT or SIGTERM cancels the job, which still leaves (and prints) its failure report.
pub fn run(args: JobArgs) -> Result<Status> {
    let folder = JobFolder::open(&args.folder)?;
    let setup = args.workers.setup()?;
    let scheduler = std::sync::Arc::new(setup.scheduler()?);
    let record = super::run::run_with_spinner(&scheduler, &args.analyzer, &folder)?;
    super::print_json(&record.finalised.report)?;
    Ok(if record.finalised.success {
        Status::Success
    } else {
        Status::ReportFailure
    })
}
