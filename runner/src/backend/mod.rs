//! The seam between the scheduler and whatever runs a worker: the [`Backend`] trait.
//!
//! A backend receives a prepared job folder, the worker, the decision and the limits, runs the
//! worker, and says how it ended in backend-neutral terms ([`cortex_job::WorkerEnd`] plus
//! [`RunInfo`]). It never writes the final report: the scheduler calls
//! [`cortex_job::finalise`] after every run, whatever the backend. The wasm backend is
//! [`wasm::WasmBackend`]; the Kubernetes backend implements the same trait in its own issue.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use cortex_job::{JobFolder, WorkerEnd};
use serde::{Deserialize, Serialize};

use crate::scheduler::{Decision, Worker};

pub mod wasm;

/// The backends a decision can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// The in-process wasm sandbox.
    Wasm,
    /// A Kubernetes Job.
    Kubernetes,
}

impl BackendKind {
    /// "wasm" or "kubernetes".
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Wasm => "wasm",
            Self::Kubernetes => "kubernetes",
        }
    }
}

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The limits of one run, already reduced by the time the job spent queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunLimits {
    /// Time left before the job's deadline (its timeout counts from submission).
    pub timeout: Duration,
}

/// One job handed to a backend.
#[derive(Debug, Clone, Copy)]
pub struct BackendJob<'a> {
    /// The prepared job folder (`input/input.json` written, `output/` empty).
    pub folder: &'a JobFolder,
    /// The worker, with its policy.
    pub worker: &'a Worker,
    /// Why this backend was chosen.
    pub decision: &'a Decision,
    /// The limits of this run.
    pub limits: RunLimits,
}

/// What a backend reports besides how the worker ended.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RunInfo {
    /// Time from the start of the run to its end.
    pub wall: Duration,
    /// Backend-specific facts for the run record, e.g. `fuel_used`, `peak_memory_bytes`,
    /// `module_sha256`, or a pod name.
    pub details: BTreeMap<String, serde_json::Value>,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct BackendEnd {
    /// The backend-neutral end that finalisation reads.
    pub end: WorkerEnd,
    /// Extra facts about the run.
    pub info: RunInfo,
}

/// A boxed future, so that [`Backend`] can be used as a trait object.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Something that runs a worker on a job folder.
///
/// Contract: the returned future is cancel-safe: dropping it stops the worker and releases what
/// the run holds. Everything that goes wrong, setup included, is reported as a failed
/// [`WorkerEnd`] with a precise cause (the scheduler turns it into a failure report), never as a
/// panic.
pub trait Backend: Send + Sync {
    /// Which backend this is.
    fn kind(&self) -> BackendKind;

    /// Runs `job` to its end.
    fn run<'a>(&'a self, job: BackendJob<'a>) -> BoxFuture<'a, BackendEnd>;

    /// Gets ready to run `worker` (compiles a module, pulls nothing by default), so that one-time
    /// costs need not count against a job's timeout. A failure here is reported again by `run`.
    fn prepare<'a>(&'a self, worker: &'a Worker) -> BoxFuture<'a, Result<(), String>> {
        let _ = worker;
        Box::pin(async { Ok(()) })
    }
}
