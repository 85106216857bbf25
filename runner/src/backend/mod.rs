//! The seam between the scheduler and whatever runs a worker: the [`Backend`] trait.
//!
//! A backend receives an owned [`BackendJob`] (the prepared job folder, the worker, the decision
//! and the limits), runs the worker, and says how it ended in backend-neutral terms
//! ([`cortex_job::WorkerEnd`] plus [`RunInfo`]). It never writes the final report: the scheduler
//! calls [`cortex_job::finalise`] after every run, whatever the backend. A backend also says what
//! the scheduler must not guess: the lane limits of a worker ([`Backend::lane_limits`]) and
//! whether it takes overflow ([`Backend::accepts_overflow`]).
//!
//! The backends are [`wasm::WasmBackend`] and [`kubernetes::KubernetesBackend`]. A decision
//! naming a backend that is not registered (disabled in the configuration) ends in a failure
//! report saying why the backend is absent.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use cortex_job::{JobFolder, WorkerEnd};
use serde::{Deserialize, Serialize};

use crate::workers::Worker;

pub mod kubernetes;
mod route;
pub mod wasm;

pub use route::{Decision, Route};

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

/// The limits of one worker's lane on one backend: how long a job may take and how many run at
/// once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LaneLimits {
    /// Job timeout, counted from submission.
    pub timeout: Duration,
    /// Jobs of one worker running at once on this backend.
    pub concurrency: u32,
}

impl LaneLimits {
    /// The limits a worker's policy sets for a backend (`timeout_s` and `concurrency` of its
    /// `[wasm]` or `[kubernetes]` table, already resolved against the configuration), else
    /// `defaults` for a worker without a policy.
    pub fn from_policy(set: Option<(u64, u32)>, defaults: LaneLimits) -> Self {
        match set {
            Some((timeout_s, concurrency)) => Self {
                timeout: Duration::from_secs(timeout_s),
                concurrency,
            },
            None => defaults,
        }
    }
}

/// One job handed to a backend. Owned, so that a backend can move it (or parts of it) into a
/// task that outlives the run's future, e.g. to clean up after a cancelled run.
#[derive(Debug, Clone)]
pub struct BackendJob {
    /// The prepared job folder (`input/input.json` written, `output/` empty).
    pub folder: Arc<JobFolder>,
    /// The worker, with its policy.
    pub worker: Arc<Worker>,
    /// Why this backend was chosen.
    pub decision: Decision,
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

impl BackendEnd {
    /// A run that could not start or did not finish, for `cause`, after `wall`.
    pub fn failed(cause: impl Into<String>, wall: Duration) -> Self {
        Self {
            end: WorkerEnd::failed(cause),
            info: RunInfo {
                wall,
                ..RunInfo::default()
            },
        }
    }
}

/// A boxed future, so that [`Backend`] can be used as a trait object.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Something that runs a worker on a job folder.
///
/// Contract: the future returned by [`Backend::run`] is cancel-safe: dropping it stops the
/// worker (a wasm guest stops at once) and releases what the run holds; cleanup that must await
/// something (deleting a Kubernetes Job) is spawned as a task of its own, which the owned
/// [`BackendJob`] and `self: Arc<Self>` make possible. Everything that goes wrong, setup
/// included, is reported as a failed [`WorkerEnd`] with a precise cause (the scheduler turns it
/// into a failure report), never as a panic.
pub trait Backend: Send + Sync + 'static {
    /// Which backend this is.
    fn kind(&self) -> BackendKind;

    /// The timeout and concurrency of `worker`'s lane on this backend: what its policy sets for
    /// this backend, else the defaults the backend was built with.
    fn lane_limits(&self, worker: &Worker) -> LaneLimits;

    /// Whether this backend takes the jobs that a saturated wasm lane overflows (policy
    /// `overflow = "kubernetes"`). None does by default.
    fn accepts_overflow(&self) -> bool {
        false
    }

    /// Runs `job` to its end.
    fn run(self: Arc<Self>, job: BackendJob) -> BoxFuture<'static, BackendEnd>;

    /// Called once the report of `job` is written, whether its run ended, timed out or was
    /// cancelled: cleanup that must wait for the report (deleting a Kubernetes Job, which a
    /// restarted runner would otherwise adopt). Nothing by default.
    fn finalised(self: Arc<Self>, job: BackendJob) -> BoxFuture<'static, ()> {
        let _ = job;
        Box::pin(async {})
    }

    /// Whether a run survives the runner: when the runner stops with the job running, the job
    /// goes on outside it (a Kubernetes Job) and the next runner adopts it, so the job must not
    /// be finalised as stopped. False by default (a wasm guest stops with the runner).
    fn outlives_runner(&self) -> bool {
        false
    }

    /// Gets ready to run `worker` (compiles a module, pulls nothing by default), so that one-time
    /// costs need not count against a job's timeout. A failure here is reported again by `run`.
    fn prepare<'a>(&'a self, worker: &'a Worker) -> BoxFuture<'a, Result<(), String>> {
        let _ = worker;
        Box::pin(async { Ok(()) })
    }

    /// How many module loads a cache answered (in memory, or precompiled on disk) instead of a
    /// compilation, for the service's metrics; `None` for a backend without modules (the
    /// default).
    fn module_cache_hits(&self) -> Option<u64> {
        None
    }
}
