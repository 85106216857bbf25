//! The runner service behind `cortex-runner serve`: an HTTP API (axum) that takes Cortex job
//! folders, runs them through the [`Scheduler`], and reports on them.
//!
//! [`App`] holds what every request shares: the scheduler, the [`registry::Registry`] of jobs
//! (in flight, and the last finished ones, bounded), the [`metrics::Metrics`], the bearer token
//! ([`auth::Token`]) and the job root. [`routes::router`] builds the API over it. Job folders are
//! resolved inside the job root by [`folders::resolve`] and claimed on the shared volume by
//! [`claims`], so that replicas sharing one job root run each folder once. [`App::shutdown`]
//! is the graceful end: wasm jobs get a grace period, then are cancelled with a report.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::watch;

use crate::backend::BackendKind;
use crate::backend::kubernetes::KubernetesBackend;
use crate::scheduler::Scheduler;

pub mod auth;
pub mod claims;
pub mod error;
pub mod folders;
mod jobs;
pub mod metrics;
pub mod registry;
pub mod routes;
pub mod server;
mod shutdown;
mod wait;

pub use error::ApiError;

/// What the service is configured with, beyond the scheduler.
#[derive(Debug, Clone)]
pub struct Options {
    /// The job root, canonical (every accepted job folder lies inside it).
    pub job_root: PathBuf,
    /// The job root as configured, for absolute paths given in its own spelling.
    pub job_root_configured: PathBuf,
    /// The bearer token `/v1/*` requires; `None` lets every request through.
    pub token: Option<auth::Token>,
    /// The largest request body, in bytes.
    pub max_body_bytes: usize,
    /// How long a request other than `/wait` may take.
    pub request_timeout: Duration,
    /// Finished jobs kept in memory; also the most jobs in flight at once.
    pub max_jobs: usize,
    /// The largest `output.json` read back for a job another replica ran.
    pub max_output_bytes: u64,
    /// This process's replica id, written into the claims it makes.
    pub replica: String,
    /// Why a backend is not available here, per backend (for `GET /v1/workers`).
    pub absent: BTreeMap<BackendKind, String>,
}

/// Everything requests share.
pub struct App {
    /// The scheduler jobs are submitted to.
    pub scheduler: Arc<Scheduler>,
    /// The Kubernetes backend when enabled (for readiness and its counters).
    pub kubernetes: Option<Arc<KubernetesBackend>>,
    /// The configuration of the service.
    pub options: Options,
    /// The jobs this replica knows.
    pub registry: registry::Registry,
    /// The Prometheus metrics.
    pub metrics: metrics::Metrics,
    /// Set once the built-in modules are compiled (and Kubernetes reached, when enabled).
    ready: AtomicBool,
    /// Why the service is not ready yet, while it is not.
    not_ready: std::sync::Mutex<String>,
    /// True from the start of the graceful shutdown: new jobs are refused.
    stopping: watch::Sender<bool>,
    /// True once the shutdown has dealt with every job: waits return, the server drains.
    closed: watch::Sender<bool>,
    /// The submission locks ([`jobs::submit`]).
    submit_locks: Vec<tokio::sync::Mutex<()>>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The options hold the token: only its presence is shown.
        f.debug_struct("App")
            .field("job_root", &self.options.job_root)
            .field("token", &self.options.token.is_some())
            .field("replica", &self.options.replica)
            .finish_non_exhaustive()
    }
}

impl App {
    /// The service over `scheduler`, not ready until [`App::set_ready`].
    pub fn new(
        scheduler: Arc<Scheduler>,
        kubernetes: Option<Arc<KubernetesBackend>>,
        options: Options,
    ) -> Arc<Self> {
        let registry = registry::Registry::new(options.max_jobs);
        Arc::new(Self {
            scheduler,
            kubernetes,
            options,
            registry,
            metrics: metrics::Metrics::new(),
            ready: AtomicBool::new(false),
            not_ready: std::sync::Mutex::new("starting: compiling the built-in modules".into()),
            stopping: watch::Sender::new(false),
            closed: watch::Sender::new(false),
            submit_locks: jobs::stripes(),
        })
    }

    /// Marks the service ready (`/readyz` answers 200).
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::SeqCst);
    }

    /// Marks the service not ready, saying why (`/readyz` answers 503 with it).
    pub fn set_not_ready(&self, why: impl Into<String>) {
        *self
            .not_ready
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = why.into();
        self.ready.store(false, Ordering::SeqCst);
    }

    /// `Ok` when ready, else why not.
    pub fn readiness(&self) -> Result<(), String> {
        if *self.stopping.borrow() {
            return Err("the service is shutting down".into());
        }
        if self.ready.load(Ordering::SeqCst) {
            Ok(())
        } else {
            Err(self
                .not_ready
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone())
        }
    }

    /// Whether the graceful shutdown has begun.
    pub fn is_stopping(&self) -> bool {
        *self.stopping.borrow()
    }

    /// Resolves once the shutdown has dealt with every job (the server may then close).
    pub async fn closed(&self) {
        let mut rx = self.closed.subscribe();
        let _ = rx.wait_for(|&s| s).await;
    }
}
