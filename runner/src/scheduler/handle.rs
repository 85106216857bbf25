//! What the submitter of a job holds: a [`JobHandle`] to await the job's record, and
//! [`Canceller`]s to cancel it.
//!
//! The job runs in a task of its own, so the handle only observes it: dropping the handle (a
//! client that went away) leaves the job to run to its end and write its report. Cancelling is
//! explicit: the job stops where it is (in the queue, or with its backend's run future dropped)
//! and still ends in a failure report saying `cancelled: <reason>`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use tokio::sync::{oneshot, watch};

use super::{JobRecord, Result, SchedulerError};

/// A submitted job: await it for its [`JobRecord`], or cancel it.
///
/// Dropping the handle does not cancel the job; it runs to its end and is finalised all the same.
#[derive(Debug)]
pub struct JobHandle {
    record: oneshot::Receiver<Result<JobRecord>>,
    canceller: Canceller,
    started: watch::Receiver<Option<Instant>>,
}

/// Cancels one job; cloneable, so that one party can await a job while another cancels it.
#[derive(Debug, Clone)]
pub struct Canceller {
    reason: Arc<watch::Sender<Option<String>>>,
}

/// The job's side of its [`Canceller`]s.
#[derive(Debug)]
pub(super) struct CancelSignal {
    reason: watch::Receiver<Option<String>>,
}

impl JobHandle {
    /// A handle receiving the job's record on `record` and its start on `started`, and the
    /// signal the job watches.
    pub(super) fn new(
        record: oneshot::Receiver<Result<JobRecord>>,
        started: watch::Receiver<Option<Instant>>,
    ) -> (Self, CancelSignal) {
        let (tx, rx) = watch::channel(None);
        let canceller = Canceller {
            reason: Arc::new(tx),
        };
        let handle = Self {
            record,
            canceller,
            started,
        };
        (handle, CancelSignal { reason: rx })
    }

    /// When the job got its slot and went to its backend; `None` while it waits (or if it
    /// ended without running: refused, cancelled or timed out in the queue). For a service
    /// telling queued jobs from running ones.
    pub fn started(&self) -> watch::Receiver<Option<Instant>> {
        self.started.clone()
    }

    /// Cancels the job with `reason`; see [`Canceller::cancel`].
    pub fn cancel(&self, reason: impl Into<String>) {
        self.canceller.cancel(reason);
    }

    /// A canceller for this job, usable after the handle is moved or dropped.
    pub fn canceller(&self) -> Canceller {
        self.canceller.clone()
    }
}

impl Canceller {
    /// Cancels the job: queued, it leaves the queue; running, its backend's run future is
    /// dropped (a wasm guest stops at once). Either way the job is finalised with the failure
    /// report `cancelled: <reason>`. The first reason wins; a job that has already ended, or is
    /// being finalised, keeps its report.
    pub fn cancel(&self, reason: impl Into<String>) {
        let reason = reason.into();
        self.reason.send_if_modified(|current| {
            if current.is_some() {
                return false;
            }
            *current = Some(reason);
            true
        });
    }
}

impl CancelSignal {
    /// Resolves with the reason once the job is cancelled; never, if every canceller is dropped
    /// first.
    pub(super) async fn cancelled(&mut self) -> String {
        // The borrow holds a lock: take the reason out before awaiting anything else.
        let reason = match self.reason.wait_for(Option::is_some).await {
            Ok(reason) => reason.clone(),
            Err(_) => None,
        };
        match reason {
            Some(reason) => reason,
            None => std::future::pending().await,
        }
    }
}

impl Future for JobHandle {
    type Output = Result<JobRecord>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.record)
            .poll(cx)
            .map(|sent| sent.unwrap_or(Err(SchedulerError::Lost)))
    }
}
