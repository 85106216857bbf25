//! The scheduler: decides where each job runs, queues it within the concurrency limits, hands it
//! to a backend and always finalises the job folder.
//!
//! It knows backends only through [`crate::backend::Backend`]; a decision naming a backend that
//! is not registered ends in a failure report saying why the backend is absent.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cortex_job::{FinaliseOptions, Finalised, JobFolder, WorkerEnd};
use serde::Serialize;

use crate::backend::{Backend, BackendJob, BackendKind, RunInfo, RunLimits};

mod decide;
mod slots;
mod table;

pub use decide::{Decision, JobFacts, Load, PAP_MESSAGE, Route, TLP_MESSAGE, decide, format_size};
pub use slots::{Permit, Slots, Usage};
pub use table::{Worker, WorkerTable, with_prefix};

/// Errors that leave no report: only a job folder the runner cannot finalise.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    /// Finalisation could not write the report.
    #[error("finalising {}", path.display())]
    Finalise {
        /// The job folder.
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        source: cortex_job::FinaliseError,
    },
}

/// The result of scheduler operations.
pub type Result<T, E = SchedulerError> = std::result::Result<T, E>;

/// Limits of a backend's lanes for workers whose policy does not set them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LaneDefaults {
    /// Job timeout, counted from submission.
    pub timeout: Duration,
    /// Jobs of one worker running at once.
    pub concurrency: u32,
}

/// Everything one job went through: the decision, the times, the backend's facts, the report.
#[derive(Debug, Clone, Serialize)]
pub struct JobRecord {
    /// The worker as asked for.
    pub worker: String,
    /// Where the job went and why.
    pub decision: Decision,
    /// Time spent waiting for a slot.
    pub queued: Duration,
    /// Time from submission to the final report.
    pub elapsed: Duration,
    /// What the backend reported, when it ran.
    pub run: Option<RunInfo>,
    /// The final report, as written to `output/output.json`.
    #[serde(skip)]
    pub finalised: Finalised,
}

/// Decides, queues, runs and finalises jobs.
pub struct Scheduler {
    table: WorkerTable,
    slots: Slots,
    backends: BTreeMap<BackendKind, Arc<dyn Backend>>,
    absent: BTreeMap<BackendKind, String>,
    defaults: BTreeMap<BackendKind, LaneDefaults>,
    finalise: FinaliseOptions,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("workers", &self.table.len())
            .field("backends", &self.backends.keys().collect::<Vec<_>>())
            .field("absent", &self.absent)
            .finish()
    }
}

impl Scheduler {
    /// A scheduler over `table` running at most `global_limit` jobs at once, with no backend yet.
    pub fn new(table: WorkerTable, global_limit: usize, finalise: FinaliseOptions) -> Self {
        let fallback = LaneDefaults {
            timeout: Duration::from_secs(60),
            concurrency: 1,
        };
        let defaults = [
            (BackendKind::Wasm, fallback),
            (BackendKind::Kubernetes, fallback),
        ]
        .into();
        Self {
            table,
            slots: Slots::new(global_limit),
            backends: BTreeMap::new(),
            absent: BTreeMap::new(),
            defaults,
            finalise,
        }
    }

    /// Registers a backend, with the lane defaults for workers whose policy sets none.
    pub fn with_backend(mut self, backend: Arc<dyn Backend>, defaults: LaneDefaults) -> Self {
        let kind = backend.kind();
        self.absent.remove(&kind);
        self.defaults.insert(kind, defaults);
        self.backends.insert(kind, backend);
        self
    }

    /// Records why a backend is not available, e.g. "kubernetes.enabled = false in the configuration".
    pub fn without_backend(mut self, kind: BackendKind, why: impl Into<String>) -> Self {
        self.backends.remove(&kind);
        self.absent.insert(kind, why.into());
        self
    }

    /// The worker table.
    pub fn table(&self) -> &WorkerTable {
        &self.table
    }

    /// The slots, for observing load.
    pub fn slots(&self) -> &Slots {
        &self.slots
    }

    /// The decision for a job of `worker` with `facts` right now; `None` for an unknown worker.
    pub fn explain(&self, worker: &str, facts: &JobFacts) -> Option<(&Worker, Decision)> {
        let worker = self.table.get(worker)?;
        Some((worker, decide(worker, facts, self.load(worker))))
    }

    fn load(&self, worker: &Worker) -> Load {
        Load {
            wasm_running: self.slots.running(&lane(&worker.name, BackendKind::Wasm)) as u32,
            overflow_available: self.backends.contains_key(&BackendKind::Kubernetes),
        }
    }

    /// Readies every backend for `worker` (a wasm module is compiled), so that jobs submitted
    /// afterwards do not spend their timeout on it. Unknown workers and failures are left to `run`
    /// to report.
    pub async fn prepare(&self, worker: &str) {
        let Some(entry) = self.table.get(worker) else {
            return;
        };
        for backend in self.backends.values() {
            if let Err(e) = backend.prepare(entry).await {
                tracing::warn!(worker = %entry.name, backend = %backend.kind(), "prepare failed: {e}");
            }
        }
    }

    /// Runs the job in `folder` as `worker`, submitted at `submitted`: decide, wait for a slot,
    /// run, finalise. Cancel-safe: dropping the future frees the job's place or slot.
    pub async fn run(
        &self,
        worker: &str,
        folder: &JobFolder,
        submitted: Instant,
    ) -> Result<JobRecord> {
        let facts = JobFacts::from_folder(folder);
        let Some((entry, decision)) = self.explain(worker, &facts) else {
            let message = format!("no worker named {worker} in the catalogs or policies");
            let decision = Decision {
                route: Route::Refused {
                    message: message.clone(),
                },
                reason: message.clone(),
            };
            return self.finish(
                worker,
                folder,
                decision,
                WorkerEnd::failed(message),
                None,
                submitted,
                Duration::ZERO,
            );
        };
        tracing::info!(job = %folder.path().display(), worker = %entry.name, decision = ?decision.route, reason = %decision.reason, "decided");
        let backend_kind = match &decision.route {
            Route::Refused { message } => {
                let end = WorkerEnd::failed(message.clone());
                return self.finish(
                    worker,
                    folder,
                    decision,
                    end,
                    None,
                    submitted,
                    Duration::ZERO,
                );
            }
            Route::Run { backend } => *backend,
        };
        let Some(backend) = self.backends.get(&backend_kind) else {
            let why = self
                .absent
                .get(&backend_kind)
                .map_or("it is not configured", String::as_str);
            let cause = format!(
                "the {backend_kind} backend is not available ({why}); the job needs it because {}",
                decision.reason
            );
            return self.finish(
                worker,
                folder,
                decision,
                WorkerEnd::failed(cause),
                None,
                submitted,
                Duration::ZERO,
            );
        };
        let (timeout, limit) = self.lane_limits(entry, backend_kind);
        let deadline = tokio::time::Instant::from_std(submitted + timeout);
        let lane = lane(&entry.name, backend_kind);
        let permit = match tokio::time::timeout_at(deadline, self.slots.acquire(&lane, limit)).await
        {
            Ok(permit) => permit,
            Err(_) => {
                let cause = format!(
                    "timed out after {} s waiting for a {backend_kind} slot ({} of {limit} {backend_kind} jobs of {} running; {} of {} jobs in all)",
                    timeout.as_secs(),
                    self.slots.running(&lane),
                    entry.name,
                    self.slots.usage().running,
                    self.slots.global_limit(),
                );
                let queued = submitted.elapsed();
                return self.finish(
                    worker,
                    folder,
                    decision,
                    WorkerEnd::failed(cause),
                    None,
                    submitted,
                    queued,
                );
            }
        };
        let queued = submitted.elapsed();
        let remaining = timeout.saturating_sub(queued);
        let job = BackendJob {
            folder,
            worker: entry,
            decision: &decision,
            limits: RunLimits { timeout: remaining },
        };
        let started = Instant::now();
        // The scheduler owns the deadline so that the timeout counts from submission whatever
        // the backend does; the backend gets the same budget and usually stops first.
        let (end, info) = match tokio::time::timeout_at(deadline, backend.run(job)).await {
            Ok(ended) => (ended.end, Some(ended.info)),
            Err(_) => {
                let cause = if queued.as_secs() > 0 {
                    format!(
                        "timed out after {} s (of which {} s queued)",
                        timeout.as_secs(),
                        queued.as_secs()
                    )
                } else {
                    format!("timed out after {} s", timeout.as_secs())
                };
                (
                    WorkerEnd::failed(cause),
                    Some(RunInfo {
                        wall: started.elapsed(),
                        ..RunInfo::default()
                    }),
                )
            }
        };
        drop(permit);
        self.finish(worker, folder, decision, end, info, submitted, queued)
    }

    fn lane_limits(&self, worker: &Worker, kind: BackendKind) -> (Duration, u32) {
        let defaults = self.defaults[&kind];
        match (&worker.policy, kind) {
            (Some(p), BackendKind::Wasm) => {
                (Duration::from_secs(p.wasm.timeout_s), p.wasm.concurrency)
            }
            (Some(p), BackendKind::Kubernetes) => (
                Duration::from_secs(p.kubernetes.timeout_s),
                p.kubernetes.concurrency,
            ),
            (None, _) => (defaults.timeout, defaults.concurrency),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn finish(
        &self,
        worker: &str,
        folder: &JobFolder,
        decision: Decision,
        end: WorkerEnd,
        run: Option<RunInfo>,
        submitted: Instant,
        queued: Duration,
    ) -> Result<JobRecord> {
        let finalised = cortex_job::finalise(folder, &end, &self.finalise).map_err(|source| {
            SchedulerError::Finalise {
                path: folder.path().to_path_buf(),
                source,
            }
        })?;
        let elapsed = submitted.elapsed();
        tracing::info!(job = %folder.path().display(), worker, success = finalised.success, ?elapsed, "finished");
        Ok(JobRecord {
            worker: worker.to_string(),
            decision,
            queued,
            elapsed,
            run,
            finalised,
        })
    }
}

/// The slot lane of one worker on one backend.
fn lane(worker: &str, backend: BackendKind) -> String {
    format!("{worker}/{backend}")
}

impl JobFacts {
    /// The facts of the job in `folder`: its data type, TLP, PAP and input size (the
    /// attachment's size for files, else the length of `data` as JSON text).
    pub fn from_folder(folder: &JobFolder) -> Self {
        let input = folder.input();
        let input_bytes = match folder.attachment_path() {
            Some(path) => std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
            None => input.data.as_ref().map_or(0, |d| match d {
                serde_json::Value::String(s) => s.len() as u64,
                other => other.to_string().len() as u64,
            }),
        };
        Self {
            data_type: input.data_type.clone(),
            input_bytes,
            tlp: input.tlp,
            pap: input.pap,
        }
    }
}
