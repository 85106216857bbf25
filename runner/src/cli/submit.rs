//! `cortex-runner submit --server URL --worker NAME JOB_FOLDER`: the bridge Cortex's process
//! runner calls (through the wrapper `catalog export` writes). It hands the job folder to the
//! runner service, waits for the job's final report and exits by it.
//!
//! Whatever goes wrong after the job folder is open ends with a failure report in the folder,
//! naming the service and the error, because Cortex shows the report and nothing else: a
//! service that cannot be reached after the retries, a `401` or `400`, a service lost while the
//! job runs, a `--timeout-s` exceeded. The report is written by [`cortex_job::finalise`] with a
//! [`WorkerEnd::failed`], so it has the shape of every other failure report (the input with its
//! secrets removed).

use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result};
use clap::Args;
use cortex_job::{FinaliseOptions, JobFolder, WorkerEnd};
use cortex_runner::client::{
    ClientError, JobState, JobStatus, Retry, ServiceClient, Submitted, Token,
};
use cortex_runner::service::claims::{self, Claim, ClaimState};
use serde::Deserialize;
use tokio::time::Instant;

use super::Status;
use super::interrupt::{Interrupt, Interrupts};

/// How long one long-poll asks the service to hold the answer.
const POLL: Duration = Duration::from_secs(30);
/// After a cancellation (interrupt or `--timeout-s`), how long the service has to write the
/// cancelled job's report before this process writes its own.
const CANCEL_GRACE: Duration = Duration::from_secs(15);

/// `submit` arguments.
#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// The runner service, e.g. http://127.0.0.1:9980.
    #[arg(long, value_name = "URL")]
    pub server: String,
    /// The worker to run (as the service names it).
    #[arg(long, value_name = "NAME")]
    pub worker: String,
    /// A file holding the service's API token.
    #[arg(long, value_name = "FILE", env = "CORTEX_RUNNER_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// Give up waiting after this many seconds: the job is cancelled and ends with a failure
    /// report (default: wait until the service reports the job done).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=604_800))]
    pub timeout_s: Option<u64>,
    /// Attempts per request before the service counts as unreachable (1..=20).
    #[arg(long, value_name = "N", default_value_t = 6,
          value_parser = clap::value_parser!(u32).range(1..=20))]
    pub attempts: u32,
    /// The delay before the first retry, in milliseconds; each next one doubles (with jitter),
    /// up to 8 s.
    #[arg(long, value_name = "MS", default_value_t = 250,
          value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub backoff_ms: u64,
    /// The Cortex job folder (absolute, as Cortex passes it; inside the service's job root).
    #[arg(value_name = "JOB_FOLDER")]
    pub folder: PathBuf,
}

/// How the wait ended.
enum Outcome {
    /// The service reports the job done: its report should be in the folder.
    Done(JobStatus),
    /// No report will come from the service, for this reason.
    Failed(String),
}

/// Submits, waits, and exits by the report in the job folder.
pub fn run(args: SubmitArgs) -> Result<Status> {
    let path = args
        .folder
        .canonicalize()
        .with_context(|| format!("job folder {}", args.folder.display()))?;
    let folder = JobFolder::open(&path)?;
    let rt = super::runtime()?;
    let outcome = match connect(&args) {
        Ok(client) => rt.block_on(drive(&client, &args, &path)),
        Err(cause) => Outcome::Failed(cause),
    };
    let status = match outcome {
        Outcome::Done(job) => match read_success(&folder) {
            Ok(success) => {
                let backend = job.backend.as_deref().unwrap_or("no backend");
                let verdict = if success { "success" } else { "failure" };
                eprintln!(
                    "job {} ({}, {backend}): {verdict}",
                    job.id,
                    super::terminal::escape(&args.worker)
                );
                return Ok(if success {
                    Status::Success
                } else {
                    Status::ReportFailure
                });
            }
            Err(problem) => format!(
                "the cortex-runner service at {} reports job {} done, but {problem}",
                args.server, job.id
            ),
        },
        Outcome::Failed(cause) => cause,
    };
    fail(&folder, &status)
}

/// The client for `args`, or the failure report's cause.
fn connect(args: &SubmitArgs) -> Result<ServiceClient, String> {
    let token = match &args.token_file {
        Some(path) => Some(Token::from_file(path).map_err(|e| e.to_string())?),
        None => None,
    };
    let retry = Retry {
        attempts: args.attempts,
        first_backoff: Duration::from_millis(args.backoff_ms),
        ..Retry::default()
    };
    ServiceClient::new(&args.server, token, retry).map_err(|e| e.to_string())
}

/// Submits the folder and waits for the job, cancelling it on SIGINT, SIGTERM (Cortex's own
/// timeout stops its process runner's child with SIGTERM) or `--timeout-s`.
async fn drive(client: &ServiceClient, args: &SubmitArgs, path: &Path) -> Outcome {
    let Some(folder) = path.to_str() else {
        return Outcome::Failed(format!(
            "the job folder {} is not valid UTF-8, which the service's JSON API cannot carry",
            path.display()
        ));
    };
    let mut interrupts = match Interrupts::install() {
        Ok(interrupts) => Some(interrupts),
        Err(e) => {
            tracing::warn!("{e:#}: SIGINT and SIGTERM will not cancel the job");
            None
        }
    };
    let deadline = args
        .timeout_s
        .map(|s| Instant::now() + Duration::from_secs(s));
    let mut job = match submit(client, &args.worker, folder).await {
        Ok(job) => job,
        Err(cause) => return Outcome::Failed(cause),
    };
    let mut resubmitted = 0;
    loop {
        if job.state == JobState::Done {
            return Outcome::Done(job);
        }
        let poll = match deadline {
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    let seconds = args.timeout_s.unwrap_or_default();
                    let why = format!("timed out after {seconds} s (--timeout-s)");
                    return cancel(client, &job, why).await;
                }
                left.min(POLL)
            }
            None => POLL,
        };
        let waited = match interrupts.as_mut() {
            Some(interrupts) => match interrupts.before(client.wait(&job.id, poll)).await {
                Ok(waited) => waited,
                Err(interrupt) => return cancel(client, &job, interrupted(interrupt)).await,
            },
            None => client.wait(&job.id, poll).await,
        };
        job = match waited {
            Ok(next) => next,
            // The service forgot the job (it restarted): the idempotent submit finds the
            // folder's job again or starts it anew.
            Err(ClientError::Status { status, .. })
                if status == hyper::StatusCode::NOT_FOUND && resubmitted < args.attempts =>
            {
                resubmitted += 1;
                match submit(client, &args.worker, folder).await {
                    Ok(job) => job,
                    Err(cause) => return Outcome::Failed(cause),
                }
            }
            // A service that stopped gracefully ended its jobs first: the claim in the folder
            // says so, and the report there is final (a worker's own output.json, before
            // finalisation, is not).
            Err(_) if final_in_folder(path) => {
                return Outcome::Done(JobStatus {
                    state: JobState::Done,
                    ..job
                });
            }
            Err(e) => {
                // The state last heard of says little: the job may have started since.
                return Outcome::Failed(format!(
                    "lost the cortex-runner service at {} while waiting for job {}: {e}",
                    client.base(),
                    job.id,
                ));
            }
        };
    }
}

/// Whether the service's claim on the folder says its report is final.
fn final_in_folder(path: &Path) -> bool {
    matches!(
        claims::read(path),
        Ok(Some(Claim {
            state: ClaimState::Done,
            ..
        }))
    )
}

/// `POST /v1/jobs`; a folder another replica holds is waited for under the id it names.
async fn submit(client: &ServiceClient, worker: &str, folder: &str) -> Result<JobStatus, String> {
    match client.submit(worker, folder).await {
        Ok(Submitted::New(job) | Submitted::Existing(job)) => Ok(job),
        Ok(Submitted::Taken { id }) => Ok(JobStatus {
            id,
            state: JobState::Queued,
            worker: Some(worker.to_string()),
            job_folder: None,
            backend: None,
            reason: None,
            success: None,
            error_message: None,
            elapsed_s: None,
        }),
        Err(e) => Err(format!(
            "the cortex-runner service at {} did not take the job: {e}",
            client.base()
        )),
    }
}

/// Cancels the job in the service (`DELETE`) and waits a little for the report the
/// cancellation writes; without one, the failure report is written here.
async fn cancel(client: &ServiceClient, job: &JobStatus, why: String) -> Outcome {
    let cancelled = client.cancel(&job.id).await;
    let end = Instant::now() + CANCEL_GRACE;
    if cancelled.is_ok() {
        loop {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match client.wait(&job.id, left).await {
                Ok(done) if done.state == JobState::Done => return Outcome::Done(done),
                Ok(_) => {}
                Err(_) => break,
            }
        }
    }
    let also = match cancelled {
        Ok(_) => format!(
            "job {} was cancelled in the service at {}, which wrote no report within {} s",
            job.id,
            client.base(),
            CANCEL_GRACE.as_secs()
        ),
        Err(e) => format!("cancelling job {} failed: {e}", job.id),
    };
    Outcome::Failed(format!("cancelled: {why}; {also}"))
}

fn interrupted(interrupt: Interrupt) -> String {
    format!("submit {}", interrupt.reason())
}

/// The first key of the report in the folder: the report must be there and say whether the
/// job succeeded. Read without following a symlink and without keeping what it skips.
fn read_success(folder: &JobFolder) -> Result<bool, String> {
    #[derive(Deserialize)]
    struct Head {
        success: bool,
    }
    let path = folder.output_dir().join("output.json");
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(&path)
        .map_err(|e| {
            format!(
                "{} cannot be read ({e}): does this process see the service's job volume at \
                 the same path?",
                path.display()
            )
        })?;
    let head: Head = serde_json::from_reader(std::io::BufReader::new(file))
        .map_err(|e| format!("{} is not a report: {e}", path.display()))?;
    Ok(head.success)
}

/// Writes the failure report for `cause` into the folder and reports it.
fn fail(folder: &JobFolder, cause: &str) -> Result<Status> {
    let finalised = cortex_job::finalise(
        folder,
        &WorkerEnd::failed(cause),
        &FinaliseOptions::default(),
    )?;
    let message = finalised
        .report
        .get("errorMessage")
        .and_then(serde_json::Value::as_str)
        .unwrap_or(cause);
    eprintln!("failure: {}", super::terminal::escape(message));
    Ok(Status::ReportFailure)
}
