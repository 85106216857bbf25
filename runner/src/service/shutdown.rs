//! The graceful end of the service: no new jobs (`POST /v1/jobs` answers 503 and `/readyz`
//! 503, so that a load balancer stops sending, while the waits under way go on and see their
//! reports), a grace period for the jobs in flight, then cancellation (each cancelled job still
//! ends with its failure report); only then does the listener close and the open connections
//! finish. A Kubernetes job that is running is left to its Job: the next instance adopts it.

use std::sync::Arc;
use std::time::Duration;

use super::App;
use super::registry::{Entry, Origin};
use crate::backend::BackendKind;

/// How long the cancelled jobs may take to write their reports.
const CANCEL_BOUND: Duration = Duration::from_secs(30);

/// Whether the job runs as a Kubernetes Job that outlives this process.
fn left_to_kubernetes(entry: &Entry) -> bool {
    entry.decision.0 == Some(BackendKind::Kubernetes) && entry.started().is_some()
}

async fn done(entry: &Entry) {
    if let Origin::Local { done, .. } = &entry.origin {
        let mut rx = done.subscribe();
        let _ = rx.wait_for(Option::is_some).await;
    }
}

impl App {
    /// Stops the service gracefully (see the module doc); `signal` names what asked for it,
    /// for the cancellation reason. Returns once every job this process must end has its
    /// report; the server then closes.
    pub async fn shutdown(self: &Arc<Self>, grace: Duration, signal: &str) {
        self.stopping.send_replace(true);
        let pending: Vec<Arc<Entry>> = self
            .registry
            .in_flight()
            .into_iter()
            .filter(|e| !left_to_kubernetes(e))
            .collect();
        tracing::info!(
            jobs = pending.len(),
            grace_s = grace.as_secs(),
            "{signal}: stopping; the jobs in flight get the grace period"
        );
        let deadline = tokio::time::Instant::now() + grace;
        for entry in &pending {
            if tokio::time::timeout_at(deadline, done(entry))
                .await
                .is_err()
            {
                break;
            }
        }
        let reason = format!(
            "the service stopped ({signal}) before the job ended, after a grace of {} s",
            grace.as_secs()
        );
        let mut cancelled = Vec::new();
        for entry in self.registry.in_flight() {
            if left_to_kubernetes(&entry) {
                tracing::info!(job = %entry.id, worker = %super::jobs::printable(&entry.worker), "left running on Kubernetes for the next instance");
                continue;
            }
            if let Origin::Local { canceller, .. } = &entry.origin {
                canceller.cancel(reason.clone());
                cancelled.push(entry.clone());
            }
        }
        let bound = tokio::time::Instant::now() + CANCEL_BOUND;
        for entry in &cancelled {
            if tokio::time::timeout_at(bound, done(entry)).await.is_err() {
                tracing::warn!(job = %entry.id, "no report within {} s of the cancellation", CANCEL_BOUND.as_secs());
            }
        }
        self.closed.send_replace(true);
    }
}
