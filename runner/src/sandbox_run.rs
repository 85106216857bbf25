//! The per-job path of the wasm backend: run a module on a job folder, then finalise the folder.

use std::time::{Duration, Instant};

use cortex_job::{FinaliseOptions, Finalised, JobFolder, WorkerEnd};
use wasm_host::{LimitExceeded, Limits, Module, Outcome, RunRecord, RunSpec, Sandbox};

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
/// folder. A component gets `network` (with the job's proxy and CA bundle); none denies every
/// request.
pub async fn run_and_finalise(
    sandbox: &Sandbox,
    module: &Module,
    folder: &JobFolder,
    env: Vec<(String, String)>,
    limits: Limits,
    network: Option<&crate::policy::NetworkRules>,
    options: &FinaliseOptions,
) -> Result<SandboxJob> {
    let started = Instant::now();
    let mut spec = run_spec(folder, env, limits);
    if module.kind() == wasm_host::ModuleKind::Component {
        spec.network =
            crate::network::job_network(network, &crate::network::HostNetwork::default(), folder)
                .map_err(wasm_host::Error::Setup)?;
    }
    let record = sandbox.run(module, spec).await?;
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
        network: None,
    }
}

/// Translates the sandbox's run record into the backend-neutral end that finalisation reads.
///
/// The captured tails go to finalisation whole and unscrubbed, with how much came before them:
/// finalisation knows the job's secrets, scrubs them from the whole capture, and only then cuts
/// it to what a report quotes ([`FinaliseOptions::max_tail_bytes`]), so that no half of a secret
/// survives a cut.
pub fn worker_end(record: &RunRecord) -> WorkerEnd {
    let end = match &record.outcome {
        Outcome::Exited { code } => WorkerEnd::exited(*code),
        Outcome::LimitExceeded(limit) => WorkerEnd::failed(limit_sentence(limit)),
        other => WorkerEnd::failed(other.to_string()),
    };
    end.with_stdout(record.stdout.tail_text())
        .with_stdout_dropped(record.stdout.dropped_bytes)
        .with_stderr(record.stderr.tail_text())
        .with_stderr_dropped(record.stderr.dropped_bytes)
        .with_warnings(record.warnings.clone())
}

/// The report's sentence for a limit that stopped the guest: wasm-host's own, except that the
/// memory limit is written as every byte count of a report is ([`cortex_job::format_bytes`]):
/// wasm-host has no Cortex knowledge, so it writes bytes and leaves reports to the runner.
fn limit_sentence(limit: &LimitExceeded) -> String {
    match limit {
        LimitExceeded::Memory { limit_bytes, .. } => format!(
            "memory limit {} exceeded",
            cortex_job::format_bytes(*limit_bytes)
        ),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_memory_limit_reads_as_every_other_byte_count_of_a_report() {
        let memory = |limit_bytes: u64| {
            limit_sentence(&LimitExceeded::Memory {
                limit_bytes,
                requested_bytes: limit_bytes + 1,
            })
        };
        assert_eq!(memory(256 << 20), "memory limit 256 MiB exceeded");
        assert_eq!(memory(1536), "memory limit 1.5 KiB exceeded");
        assert_eq!(memory(4 << 30), "memory limit 4 GiB exceeded");
        assert_eq!(memory(1), "memory limit 1 byte exceeded");
        // The other limits keep wasm-host's sentence.
        let fuel = LimitExceeded::Fuel { limit: 1_000_000 };
        assert_eq!(limit_sentence(&fuel), "fuel limit 1000000 exhausted");
        let timeout = LimitExceeded::Timeout {
            limit: Duration::from_secs(30),
        };
        assert_eq!(limit_sentence(&timeout), "timed out after 30 s");
    }
}
