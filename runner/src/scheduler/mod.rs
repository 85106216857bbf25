//! The scheduler: decides where each job runs, queues it within the concurrency limits, hands it
//! to a backend and always finalises the job folder.
//!
//! [`Scheduler::submit`] starts each job in a tokio task of its own and returns a [`JobHandle`],
//! so a job's end does not depend on whoever submitted it: dropping the handle leaves the job to
//! finish and write its report, and [`JobHandle::cancel`] stops it with a report that says so.
//! The scheduler knows backends only through [`crate::backend::Backend`]; a decision naming a
//! backend that is not registered ends in a failure report saying why the backend is absent.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cortex_job::{FinaliseOptions, Finalised, JobFolder, WorkerEnd};
use serde::Serialize;
use tokio::sync::{oneshot, watch};

use crate::backend::{Backend, BackendJob, BackendKind, Decision, Route, RunInfo, RunLimits};
use crate::workers::{Worker, WorkerTable};

mod decide;
mod handle;
mod slots;

pub use decide::{JobFacts, Load, PAP_MESSAGE, TLP_MESSAGE, decide, format_size};
pub use handle::{Canceller, JobHandle};
pub use slots::{Permit, Slots, Usage};

use handle::CancelSignal;

/// The report's `errorMessage` when the task running a job is dropped before the job is
/// finalised: the runtime shut down, or the scheduler failed internally.
pub const STOPPED_MESSAGE: &str = "the runner stopped before the job ended";

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
    /// The job's task ended without a record: the runtime shut down or the task panicked. The
    /// job folder was finalised with [`STOPPED_MESSAGE`] if it could be.
    #[error("the job's task ended without a record ({STOPPED_MESSAGE})")]
    Lost,
}

/// The result of scheduler operations.
pub type Result<T, E = SchedulerError> = std::result::Result<T, E>;

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
    finalise: FinaliseOptions,
    in_flight: watch::Sender<usize>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("workers", &self.table.len())
            .field("backends", &self.backends.keys().collect::<Vec<_>>())
            .field("absent", &self.absent)
            .field("in_flight", &self.in_flight())
            .finish()
    }
}

/// One job between submission and its report.
struct Job {
    worker: String,
    folder: Arc<JobFolder>,
    submitted: Instant,
    /// A backend the job must go to without a decision: a run adopted from an earlier runner.
    adopted_on: Option<BackendKind>,
    /// Set when the job gets its slot ([`JobHandle::started`]).
    started: watch::Sender<Option<Instant>>,
}

impl Scheduler {
    /// A scheduler over `table` running at most `global_limit` jobs at once, with no backend yet.
    pub fn new(table: WorkerTable, global_limit: usize, finalise: FinaliseOptions) -> Self {
        Self {
            table,
            slots: Slots::new(global_limit),
            backends: BTreeMap::new(),
            absent: BTreeMap::new(),
            finalise,
            in_flight: watch::Sender::new(0),
        }
    }

    /// Registers a backend; its lane limits and overflow come from the backend itself.
    pub fn with_backend(mut self, backend: Arc<dyn Backend>) -> Self {
        let kind = backend.kind();
        self.absent.remove(&kind);
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

    /// Module loads the backends' caches answered instead of a compilation (for metrics).
    pub fn module_cache_hits(&self) -> u64 {
        self.backends
            .values()
            .filter_map(|b| b.module_cache_hits())
            .sum()
    }

    /// Jobs submitted and not yet finalised.
    pub fn in_flight(&self) -> usize {
        *self.in_flight.borrow()
    }

    /// Waits until no job is in flight, i.e. every job submitted so far has its report (for a
    /// graceful shutdown, or a caller that dropped its handles).
    pub async fn drained(&self) {
        let mut rx = self.in_flight.subscribe();
        // The sender lives in `self`, so the channel cannot close while this borrow lasts.
        let _ = rx.wait_for(|&n| n == 0).await;
    }

    /// The decision for a job of `worker` with `facts` right now; `None` for an unknown worker.
    pub fn explain(&self, worker: &str, facts: &JobFacts) -> Option<(&Arc<Worker>, Decision)> {
        let worker = self.table.get(worker)?;
        Some((worker, decide(worker, facts, self.load(worker))))
    }

    fn load(&self, worker: &Worker) -> Load {
        Load {
            wasm_running: self.slots.running(&lane(&worker.name, BackendKind::Wasm)) as u32,
            overflow_available: self.backends.values().any(|b| b.accepts_overflow()),
        }
    }

    /// Readies every backend for `worker` (a wasm module is compiled), so that jobs submitted
    /// afterwards do not spend their timeout on it. Unknown workers and failures are left to the
    /// job to report.
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

    /// Submits the job in `folder` as `worker`, submitted at `submitted` (its timeout counts from
    /// then): decide, wait for a slot, run, finalise, in a task of its own. Await the handle for
    /// the record. Must be called within a tokio runtime.
    ///
    /// The job does not depend on the handle: dropped, the job still runs to its end and is
    /// finalised; cancelled, it is finalised with `cancelled: <reason>`; and if its task is
    /// dropped all the same (the runtime shuts down), the folder is finalised with
    /// [`STOPPED_MESSAGE`].
    pub fn submit(
        self: &Arc<Self>,
        worker: &str,
        folder: Arc<JobFolder>,
        submitted: Instant,
    ) -> JobHandle {
        self.start(worker, folder, submitted, None)
    }

    /// Adopts a run that an earlier runner started on `backend` and that is still going (a
    /// Kubernetes Job found at start-up): no new decision is made, the job waits for the run
    /// (the backend finds it instead of starting another) and is finalised as any other.
    pub fn adopt(
        self: &Arc<Self>,
        worker: &str,
        folder: Arc<JobFolder>,
        backend: BackendKind,
    ) -> JobHandle {
        self.start(worker, folder, Instant::now(), Some(backend))
    }

    fn start(
        self: &Arc<Self>,
        worker: &str,
        folder: Arc<JobFolder>,
        submitted: Instant,
        adopted_on: Option<BackendKind>,
    ) -> JobHandle {
        let (tx, rx) = oneshot::channel();
        let (started, started_rx) = watch::channel(None);
        let (handle, cancel) = JobHandle::new(rx, started_rx);
        self.in_flight.send_modify(|n| *n += 1);
        let unfinished = Unfinished {
            scheduler: self.clone(),
            folder: Some(folder.clone()),
            outlives_runner: false,
        };
        let job = Job {
            worker: worker.to_string(),
            folder,
            submitted,
            adopted_on,
            started,
        };
        let scheduler = self.clone();
        tokio::spawn(async move {
            let record = scheduler.execute(job, cancel, unfinished).await;
            // Nobody may be waiting: the handle was dropped, and the report is written anyway.
            let _ = tx.send(record);
        });
        handle
    }

    /// Everything a job goes through, from its facts to its report.
    async fn execute(
        &self,
        job: Job,
        cancel: CancelSignal,
        unfinished: Unfinished,
    ) -> Result<JobRecord> {
        if let Some(kind) = job.adopted_on {
            return match self.table.get(&job.worker).cloned() {
                Some(entry) => {
                    let decision = Decision::run(
                        kind,
                        format!("adopted: its {kind} run was going when this runner started"),
                    );
                    self.dispatch(job, entry, decision, kind, cancel, unfinished)
                        .await
                }
                None => {
                    let message =
                        format!("no worker named {} in the catalogs or policies", job.worker);
                    let decision = Decision::refuse(message.clone(), message.clone());
                    let end = WorkerEnd::failed(message);
                    self.finish(job, decision, end, None, Duration::ZERO, unfinished)
                        .await
                }
            };
        }
        let folder = job.folder.clone();
        // Reading the attachment's size is file I/O, which may block on a network volume.
        let facts = match tokio::task::spawn_blocking(move || JobFacts::from_folder(&folder))
            .await
            .map_err(|e| e.to_string())
            .and_then(|read| read.map_err(|e| e.to_string()))
        {
            Ok(facts) => facts,
            Err(e) => {
                let cause = format!("reading the job's input failed: {e}");
                let decision = Decision::refuse(cause.clone(), cause.clone());
                let end = WorkerEnd::failed(cause);
                return self
                    .finish(job, decision, end, None, Duration::ZERO, unfinished)
                    .await;
            }
        };
        let Some((entry, decision)) = self.explain(&job.worker, &facts) else {
            let message = format!("no worker named {} in the catalogs or policies", job.worker);
            let decision = Decision::refuse(message.clone(), message.clone());
            let end = WorkerEnd::failed(message);
            return self
                .finish(job, decision, end, None, Duration::ZERO, unfinished)
                .await;
        };
        let entry = entry.clone();
        tracing::info!(job = %job.folder.path().display(), worker = %entry.name, decision = ?decision.route, reason = %decision.reason, "decided");
        let backend_kind = match &decision.route {
            Route::Refused { message } => {
                let end = WorkerEnd::failed(message.clone());
                return self
                    .finish(job, decision, end, None, Duration::ZERO, unfinished)
                    .await;
            }
            Route::Run { backend } => *backend,
        };
        self.dispatch(job, entry, decision, backend_kind, cancel, unfinished)
            .await
    }

    /// Runs a decided job on `backend_kind`: waits for a slot, runs, finalises, cleans up.
    async fn dispatch(
        &self,
        job: Job,
        entry: Arc<Worker>,
        decision: Decision,
        backend_kind: BackendKind,
        mut cancel: CancelSignal,
        mut unfinished: Unfinished,
    ) -> Result<JobRecord> {
        let Some(backend) = self.backends.get(&backend_kind).cloned() else {
            let why = self
                .absent
                .get(&backend_kind)
                .map_or("it is not configured", String::as_str);
            let cause = format!(
                "the {backend_kind} backend is not available ({why}); the job needs it because {}",
                decision.reason
            );
            let end = WorkerEnd::failed(cause);
            return self
                .finish(job, decision, end, None, Duration::ZERO, unfinished)
                .await;
        };
        let limits = backend.lane_limits(&entry);
        let (timeout, limit) = (limits.timeout, limits.concurrency);
        let deadline = deadline(job.submitted, timeout);
        let lane = lane(&entry.name, backend_kind);
        let acquire = tokio::time::timeout_at(deadline, self.slots.acquire(&lane, limit));
        let permit = tokio::select! {
            // A job cancelled before it got a slot never starts, even if one is free.
            biased;
            reason = cancel.cancelled() => {
                let queued = job.submitted.elapsed();
                let end = WorkerEnd::failed(format!("cancelled: {reason}"));
                return self.finish(job, decision, end, None, queued, unfinished).await;
            }
            acquired = acquire => match acquired {
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
                    let queued = job.submitted.elapsed();
                    let end = WorkerEnd::failed(cause);
                    return self.finish(job, decision, end, None, queued, unfinished).await;
                }
            },
        };
        let queued = job.submitted.elapsed();
        job.started.send_replace(Some(Instant::now()));
        let backend_job = BackendJob {
            folder: job.folder.clone(),
            worker: entry.clone(),
            decision: decision.clone(),
            limits: RunLimits {
                timeout: timeout.saturating_sub(queued),
            },
        };
        let started = Instant::now();
        // A run that goes on outside the runner (a Kubernetes Job) is adopted by the next
        // runner if this one stops: it must not be finalised as stopped.
        unfinished.outlives_runner = backend.outlives_runner();
        let cleanup = backend_job.clone();
        let ran_for = || {
            Some(RunInfo {
                wall: started.elapsed(),
                ..RunInfo::default()
            })
        };
        // The scheduler owns the deadline so that the timeout counts from submission whatever
        // the backend does; the backend gets the same budget and usually stops first. Leaving
        // this `select!` any other way than through the run drops the run's future, which
        // stops the worker.
        let (end, info) = tokio::select! {
            biased;
            reason = cancel.cancelled() => (WorkerEnd::failed(format!("cancelled: {reason}")), ran_for()),
            ran = tokio::time::timeout_at(deadline, backend.clone().run(backend_job)) => match ran {
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
                    (WorkerEnd::failed(cause), ran_for())
                }
            },
        };
        drop(permit);
        unfinished.outlives_runner = false;
        let record = self
            .finish(job, decision, end, info, queued, unfinished)
            .await;
        backend.finalised(cleanup).await;
        record
    }

    /// Finalises the job folder (on a blocking thread: it is file I/O, possibly on a network
    /// volume) and makes the record.
    async fn finish(
        &self,
        job: Job,
        decision: Decision,
        end: WorkerEnd,
        run: Option<RunInfo>,
        queued: Duration,
        mut unfinished: Unfinished,
    ) -> Result<JobRecord> {
        // From here the blocking task finalises; it runs to its end even if this task is dropped,
        // so the guard must not finalise a second time.
        unfinished.folder = None;
        let (folder, options) = (job.folder.clone(), self.finalise.clone());
        let finalised =
            tokio::task::spawn_blocking(move || cortex_job::finalise(&folder, &end, &options))
                .await;
        drop(unfinished);
        let finalised = match finalised {
            Ok(finalised) => finalised,
            Err(_) => return Err(SchedulerError::Lost),
        }
        .map_err(|source| SchedulerError::Finalise {
            path: job.folder.path().to_path_buf(),
            source,
        })?;
        let elapsed = job.submitted.elapsed();
        tracing::info!(job = %job.folder.path().display(), worker = %job.worker, success = finalised.success, ?elapsed, "finished");
        Ok(JobRecord {
            worker: job.worker,
            decision,
            queued,
            elapsed,
            run,
            finalised,
        })
    }
}

/// Counts a job as in flight until it is finalised, and finalises it with [`STOPPED_MESSAGE`]
/// if its task is dropped before it got that far (the runtime shut down, or a panic unwound it).
struct Unfinished {
    scheduler: Arc<Scheduler>,
    /// The folder still to finalise; `None` once finalisation is under way.
    folder: Option<Arc<JobFolder>>,
    /// The run goes on outside the runner and the next runner adopts it: leave the folder.
    outlives_runner: bool,
}

impl Drop for Unfinished {
    fn drop(&mut self) {
        if let Some(folder) = self.folder.take().filter(|_| !self.outlives_runner) {
            // Blocking I/O in a drop, but only on the way out: there is no task left to run it on.
            let end = WorkerEnd::failed(STOPPED_MESSAGE);
            if let Err(e) = cortex_job::finalise(&folder, &end, &self.scheduler.finalise) {
                tracing::error!(job = %folder.path().display(), "finalising a stopped job: {e}");
            }
        }
        if self.outlives_runner {
            tracing::info!(
                "the runner stopped with a job running outside it; the next runner adopts it"
            );
        }
        self.scheduler.in_flight.send_modify(|n| *n -= 1);
    }
}

/// The instant `timeout` after `submitted`; a timeout too large to add means no deadline in
/// practice (a century away).
fn deadline(submitted: Instant, timeout: Duration) -> tokio::time::Instant {
    const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
    let end = submitted
        .checked_add(timeout)
        .or_else(|| submitted.checked_add(CENTURY))
        .unwrap_or(submitted);
    tokio::time::Instant::from_std(end)
}

/// The slot lane of one worker on one backend.
fn lane(worker: &str, backend: BackendKind) -> String {
    format!("{worker}/{backend}")
}
