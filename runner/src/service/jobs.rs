//! Submitting a job folder (idempotent per folder, claimed on the shared volume), following it
//! to its report, and the JSON views of a job.

use std::hash::{Hash as _, Hasher as _};
use std::sync::Arc;
use std::time::Instant;

use axum::http::StatusCode;
use cortex_job::JobFolder;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::watch;

use super::claims::{self, Claim, ClaimState, Claimed};
use super::folders::{self, Resolved};
use super::registry::{Entry, Origin, Outcome, Reservation};
use super::{ApiError, App};
use crate::backend::BackendKind;
use crate::backend::kubernetes::spec::job_name;
use crate::scheduler::{JobFacts, JobHandle};

/// The body of `POST /v1/jobs`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitRequest {
    /// The worker's name (or Cortex id, or catalog name).
    pub worker: String,
    /// The job folder, relative to the job root or absolute inside it.
    pub job_folder: String,
}

/// What `POST /v1/jobs` did.
#[derive(Debug)]
pub enum Submitted {
    /// A new job (`202`).
    New(Arc<Entry>),
    /// The folder's job was already known here (`200`).
    Existing(Arc<Entry>),
}

/// Serialises submissions of one id (different ids rarely share a stripe), so that the same
/// folder submitted twice at once is claimed and registered once.
const STRIPES: usize = 64;

/// The submission locks, one per stripe of ids.
pub(super) fn stripes() -> Vec<tokio::sync::Mutex<()>> {
    (0..STRIPES).map(|_| tokio::sync::Mutex::new(())).collect()
}

fn stripe(id: &str) -> usize {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    id.hash(&mut hasher);
    (hasher.finish() % STRIPES as u64) as usize
}

/// `POST /v1/jobs`: resolves the folder, then returns the job already known for it, or claims
/// it and submits it, or answers `409` when another replica claimed it.
pub async fn submit(app: &Arc<App>, request: SubmitRequest) -> Result<Submitted, ApiError> {
    if app.is_stopping() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting down",
            "the service is stopping and takes no new jobs; submit to another replica",
        ));
    }
    check_worker(&request.worker)?;
    let (root, configured) = (
        app.options.job_root.clone(),
        app.options.job_root_configured.clone(),
    );
    let given = request.job_folder.clone();
    let resolved = blocking(move || folders::resolve(&root, &configured, &given)).await??;
    let id = job_name(&resolved.rel);
    let _lock = app.submit_locks[stripe(&id)].lock().await;
    if let Some(existing) = app.registry.get(&id) {
        return Ok(Submitted::Existing(existing));
    }
    let reservation = app.registry.reserve().map_err(|full| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many jobs",
            full.to_string(),
        )
    })?;
    let replica = app.options.replica.clone();
    let path = resolved.path.clone();
    let opened = blocking(move || -> Result<_, ApiError> {
        // Opened before it is claimed: a folder that is not a job folder is refused, not claimed.
        let folder = JobFolder::open(&path)
            .map_err(|e| ApiError::bad_request("not a Cortex job folder", e.to_string()))?;
        let claimed = claims::claim(&path, &replica).map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "cannot claim the job folder",
                format!("creating {}: {e}", path.join(claims::CLAIM_FILE).display()),
            )
        })?;
        let facts = JobFacts::from_folder(&folder).map_err(|e| e.to_string());
        Ok((folder, claimed, facts))
    })
    .await??;
    let (folder, claimed, facts) = opened;
    let submitted = Instant::now();
    if let Claimed::Taken(claim) = claimed {
        let owner = claim.as_ref().map(|c| c.replica.clone());
        // This replica's own claim on a job it has forgotten (beyond service.finished_jobs):
        // the same job again, read back from its folder.
        let ours = owner.as_deref() == Some(app.options.replica.as_str());
        let entry = app.registry.insert_foreign(Arc::new(Entry {
            id: id.clone(),
            worker: request.worker.clone(),
            decision: (None, foreign_reason(owner.as_deref())),
            folder: resolved,
            submitted,
            origin: Origin::Foreign { replica: owner },
        }));
        if ours {
            return Ok(Submitted::Existing(entry));
        }
        let mut error = ApiError::new(
            StatusCode::CONFLICT,
            "job folder taken",
            format!(
                "{}; GET /v1/jobs/{id}/wait here waits for its report",
                entry.decision.1
            ),
        );
        error.id = Some(id);
        return Err(error);
    }
    let decision = match facts {
        Ok(facts) => match app.scheduler.explain(&request.worker, &facts) {
            Some((_, decision)) => (decision.backend(), decision.reason),
            None => (
                None,
                format!(
                    "no worker named {} in the catalogs or policies",
                    request.worker
                ),
            ),
        },
        Err(e) => (None, format!("reading the job's input failed: {e}")),
    };
    let handle = app
        .scheduler
        .submit(&request.worker, Arc::new(folder), submitted);
    let job = NewJob {
        id,
        worker: request.worker,
        folder: resolved,
        decision,
        submitted,
    };
    Ok(Submitted::New(register(app, job, handle, reservation)))
}

/// The longest worker name accepted.
const MAX_WORKER_BYTES: usize = 256;

/// Refuses a worker name no catalog can hold: empty, too long, or with a control character (it
/// would reach log lines, where a newline forges one). Any other unknown name is accepted and
/// ends in its failure report, as with `cortex-runner job`.
fn check_worker(worker: &str) -> Result<(), ApiError> {
    let why = if worker.is_empty() {
        "is empty"
    } else if worker.len() > MAX_WORKER_BYTES {
        "is longer than 256 bytes"
    } else if worker.chars().any(char::is_control) {
        "contains a control character"
    } else {
        return Ok(());
    };
    Err(ApiError::bad_request(
        "bad worker",
        format!("worker {worker:?} {why}; expected a worker's name, Cortex id or catalog name"),
    ))
}

/// A job about to be registered.
pub(super) struct NewJob {
    id: String,
    worker: String,
    folder: Resolved,
    decision: (Option<BackendKind>, String),
    submitted: Instant,
}

/// Registers a job this replica runs and follows it to its report in a task of its own.
pub(super) fn register(
    app: &Arc<App>,
    job: NewJob,
    handle: JobHandle,
    reservation: Reservation<'_>,
) -> Arc<Entry> {
    let entry = Arc::new(Entry {
        id: job.id,
        worker: job.worker,
        folder: job.folder,
        submitted: job.submitted,
        decision: job.decision,
        origin: Origin::Local {
            canceller: handle.canceller(),
            started: handle.started(),
            done: watch::Sender::new(None),
        },
    });
    app.registry.insert_local(entry.clone(), reservation);
    log_state(&entry, "queued");
    tokio::spawn(track(app.clone(), entry.clone(), handle));
    entry
}

/// Logs the job's state change: one line per change, with id, worker and backend.
fn log_state(entry: &Entry, state: &str) {
    let backend = super::metrics::backend_label(entry.decision.0);
    tracing::info!(
        job = %entry.id,
        worker = %printable(&entry.worker),
        backend = %backend,
        state,
        folder = %printable(&entry.folder.rel),
        "job {state}"
    );
}

/// Waits for the job's start and its record; then counts it, marks its claim done and keeps
/// its outcome.
async fn track(app: Arc<App>, entry: Arc<Entry>, mut handle: JobHandle) {
    let mut started = handle.started();
    let mut watching = true;
    let record = loop {
        tokio::select! {
            // The start first: a job that starts and ends between two polls still logs both.
            biased;
            changed = started.changed(), if watching => {
                // The job starts at most once; after that (or when it ends unstarted) only the
                // record is awaited.
                watching = false;
                if changed.is_ok() && started.borrow().is_some() {
                    log_state(&entry, "running");
                }
            }
            record = &mut handle => break record,
        }
    };
    // Ended before its start was seen: its start is logged all the same, in order.
    if watching && started.borrow().is_some() {
        log_state(&entry, "running");
    }
    let outcome = Outcome::from_record(&record);
    let elapsed = outcome.elapsed.unwrap_or_else(|| entry.submitted.elapsed());
    // The label is the worker's own name, or `unknown`: what a client sends must not make the
    // metrics grow without bound.
    let label = app
        .scheduler
        .table()
        .get(&entry.worker)
        .map_or("unknown", |w| w.name.as_str());
    app.metrics
        .job_finished(label, outcome.backend, outcome.success, elapsed);
    let backend = super::metrics::backend_label(outcome.backend);
    tracing::info!(
        job = %entry.id,
        worker = %printable(&entry.worker),
        backend = %backend,
        state = "done",
        success = outcome.success,
        elapsed_s = elapsed.as_secs_f64(),
        "job done"
    );
    let (path, replica) = (entry.folder.path.clone(), app.options.replica.clone());
    let marked = blocking(move || {
        claims::write(
            &path,
            &Claim {
                replica,
                state: ClaimState::Done,
            },
        )
    })
    .await;
    let failed = match marked {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(e) => Some(e.detail),
    };
    if let Some(e) = failed {
        tracing::warn!(job = %entry.id, "marking the claim done failed: {e}");
    }
    app.registry.finish(&entry, outcome);
}

/// `text` as a log line may carry it: control characters (a newline that would forge a line)
/// escaped, anything else as is. Worker names and folders come from clients and the volume.
pub(super) fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().any(char::is_control) {
        text.escape_debug().to_string().into()
    } else {
        text.into()
    }
}

fn foreign_reason(replica: Option<&str>) -> String {
    match replica {
        Some(replica) => format!("the job folder is claimed by replica {replica:?}"),
        None => "the job folder is claimed by another replica".to_string(),
    }
}

/// Runs file I/O on a blocking thread.
pub(super) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error",
            format!("a file system task failed: {e}"),
        )
    })
}

/// A job as the API shows it at one moment.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The entry.
    pub entry: Arc<Entry>,
    /// The outcome, once the report is final.
    pub outcome: Option<Arc<Outcome>>,
}

impl Snapshot {
    /// The job now; for a job another replica runs, its claim and report are read from the
    /// volume.
    pub async fn take(app: &App, entry: Arc<Entry>) -> Self {
        let outcome = match &entry.origin {
            Origin::Local { .. } => entry.outcome(),
            Origin::Foreign { .. } => {
                let (path, max) = (entry.folder.path.clone(), app.options.max_output_bytes);
                match blocking(move || claims::final_report(&path, max)).await {
                    Ok(Ok(Some(report))) => Some(Arc::new(Outcome::from_report(&report))),
                    _ => None,
                }
            }
        };
        Self { entry, outcome }
    }

    /// `queued`, `running` or `done`.
    pub fn state(&self) -> &'static str {
        if self.outcome.is_some() {
            "done"
        } else if matches!(self.entry.origin, Origin::Foreign { .. })
            || self.entry.started().is_some()
        {
            "running"
        } else {
            "queued"
        }
    }

    fn backend_reason(&self) -> (Option<BackendKind>, String) {
        match self.outcome.as_deref() {
            Some(Outcome {
                reason: Some(reason),
                backend,
                ..
            }) => (*backend, reason.clone()),
            _ => self.entry.decision.clone(),
        }
    }

    /// The body of `202`/`200` for `POST /v1/jobs`.
    pub fn brief(&self) -> Value {
        let (backend, reason) = self.backend_reason();
        json!({
            "id": self.entry.id,
            "state": self.state(),
            "backend": backend.map(|b| b.to_string()),
            "reason": reason,
        })
    }

    /// The body of `GET /v1/jobs/{id}` (and `/wait`, `DELETE`).
    pub fn full(&self) -> Value {
        let (backend, reason) = self.backend_reason();
        let entry = &self.entry;
        let now = Instant::now();
        let started = entry.started();
        let local = matches!(entry.origin, Origin::Local { .. });
        let (queued, running, elapsed) = match self.outcome.as_deref() {
            Some(Outcome {
                queued: Some(queued),
                elapsed: Some(elapsed),
                ..
            }) => (
                Some(queued.as_secs_f64()),
                started.map(|_| elapsed.saturating_sub(*queued).as_secs_f64()),
                elapsed.as_secs_f64(),
            ),
            _ if local => (
                Some(
                    started
                        .unwrap_or(now)
                        .saturating_duration_since(entry.submitted)
                        .as_secs_f64(),
                ),
                started.map(|s| now.saturating_duration_since(s).as_secs_f64()),
                now.saturating_duration_since(entry.submitted).as_secs_f64(),
            ),
            _ => (
                None,
                None,
                now.saturating_duration_since(entry.submitted).as_secs_f64(),
            ),
        };
        let outcome = self.outcome.as_deref();
        json!({
            "id": entry.id,
            "worker": entry.worker,
            "job_folder": entry.folder.rel,
            "state": self.state(),
            "backend": backend.map(|b| b.to_string()),
            "reason": reason,
            "queued_s": queued,
            "running_s": running,
            "elapsed_s": elapsed,
            "success": outcome.map(|o| o.success),
            "summary": outcome.and_then(|o| o.summary.clone()),
            "error_message": outcome.and_then(|o| o.error_message.clone()),
        })
    }
}

impl App {
    /// Registers a job adopted at start-up (a Kubernetes Job an earlier instance left) as a job
    /// of this instance, taking over its folder's claim.
    pub fn adopt(self: &Arc<Self>, worker: String, folder: Resolved, handle: JobHandle) {
        let id = job_name(&folder.rel);
        let claim = Claim {
            replica: self.options.replica.clone(),
            state: ClaimState::Claimed,
        };
        if let Err(e) = claims::write(&folder.path, &claim) {
            tracing::warn!(job = %id, "taking over the claim failed: {e}");
        }
        let decision = (
            Some(BackendKind::Kubernetes),
            "adopted: its kubernetes run was going when this runner started".to_string(),
        );
        let reservation = self.registry.reserve_anyway();
        let job = NewJob {
            id,
            worker,
            folder,
            decision,
            submitted: Instant::now(),
        };
        register(self, job, handle, reservation);
    }
}
