//! The per-job path of the wasm backend: run a module on a job folder, then finalise the folder.

use std::time::{Duration, Instant};

use cortex_job::{FinaliseOptions, Finalised, JobFolder, WorkerEnd};
use wasm_host::{Captured, Limits, Module, Outcome, RunRecord, RunSpec, Sandbox};

/// Errors of one sandboxed job that leave no report behind (setup failures of the host).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The sandbox could not set the job up (e.g. a preopen failed).
    #[error("running the sandbox")]
    Sandbox(#[from] wasm_host::Error),
    /// Finalisation could not write the report.
    #[error("finalising the job folder")]
    Finalise(#[from] cortex_job::FinaliseError),
}

/// Result alias of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What one sandboxed job produced: how the guest ended, the final report, and how long each
/// step took.
#[derive(Debug)]
pub struct SandboxJob {
    /// The sandbox's run record (outcome, captured output, time, fuel, memory).
    pub record: RunRecord,
    /// The final report, as written to `output/output.json`.
    pub finalised: Finalised,
    /// The whole sandbox step: setting the guest's world up, running it, tearing it down.
    pub run_time: Duration,
    /// Finalisation of the folder.
    pub finalise_time: Duration,
}

/// Runs `module` on `folder` (the guest's argv is `[<module name>, "/job"]`) and finalises the
/// folder.
pub async fn run_and_finalise(
    sandbox: &Sandbox,
    module: &Module,
    folder: &JobFolder,
    env: Vec<(String, String)>,
    limits: Limits,
    options: &FinaliseOptions,
) -> Result<SandboxJob> {
    let started = Instant::now();
    let record = sandbox.run(module, run_spec(folder, env, limits)).await?;
    let run_time = started.elapsed();
    let finalised = cortex_job::finalise(folder, &worker_end(&record), options)?;
    Ok(SandboxJob {
        record,
        finalised,
        run_time,
        finalise_time: started.elapsed() - run_time,
    })
}

/// The sandbox's view of `folder`: its `input/` and `output/`, with `env` and `limits`.
pub fn run_spec(folder: &JobFolder, env: Vec<(String, String)>, limits: Limits) -> RunSpec {
    RunSpec {
        input_dir: folder.input_dir(),
        output_dir: folder.output_dir(),
        env,
        limits,
    }
}

/// Translates the sandbox's run record into the backend-neutral end that finalisation reads.
pub fn worker_end(record: &RunRecord) -> WorkerEnd {
    let end = match &record.outcome {
        Outcome::Exited { code } => WorkerEnd::exited(*code),
        other => WorkerEnd::failed(other.to_string()),
    };
    end.with_stdout(tail_text(&record.stdout))
        .with_stderr(tail_text(&record.stderr))
        .with_warnings(record.warnings.clone())
}

/// How much of each captured stream a failure report quotes. The sandbox keeps more (its own
/// capture limit) for logs; a report is stored by Cortex and shown in TheHive, where the last
/// few kilobytes are what explains a failure.
pub const REPORT_TAIL_BYTES: usize = 16 * 1024;

/// Renders the end of a captured stream as text, saying how much was left out.
fn tail_text(captured: &Captured) -> String {
    let kept = &captured.tail[captured.tail.len().saturating_sub(REPORT_TAIL_BYTES)..];
    let text = String::from_utf8_lossy(kept);
    if (kept.len() as u64) < captured.total_bytes {
        format!(
            "[{} bytes in all; last {} shown]\n{text}",
            captured.total_bytes,
            kept.len()
        )
    } else {
        text.into_owned()
    }
}
