//! The jobs one replica knows: those it runs (in flight, then finished) and folders another
//! replica claimed that a client asked it about. Bounded: at most `max` finished jobs are kept,
//! the oldest forgotten first, and at most `max` jobs may be in flight.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::watch;

use super::folders::Resolved;
use crate::backend::BackendKind;
use crate::scheduler::{Canceller, JobRecord, SchedulerError};

/// One job.
#[derive(Debug)]
pub struct Entry {
    /// The job's id (`spec::job_name` of the folder relative to the job root).
    pub id: String,
    /// The worker as asked for.
    pub worker: String,
    /// The job folder.
    pub folder: Resolved,
    /// When it was submitted to this replica.
    pub submitted: Instant,
    /// The backend and reason of the decision at submission (the final record's replace them).
    pub decision: (Option<BackendKind>, String),
    /// Whether this replica runs it.
    pub origin: Origin,
}

/// Who runs a job.
#[derive(Debug)]
pub enum Origin {
    /// This replica.
    Local {
        /// Cancels the job.
        canceller: Canceller,
        /// When the job got its slot.
        started: watch::Receiver<Option<Instant>>,
        /// The outcome, once the report is written.
        done: watch::Sender<Option<Arc<Outcome>>>,
    },
    /// Another replica claimed the folder; its report is read from the volume.
    Foreign {
        /// The replica named in the claim, when it could be read.
        replica: Option<String>,
    },
}

/// How a job ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The report's `success`.
    pub success: bool,
    /// The report's `summary`, when it has one.
    pub summary: Option<Value>,
    /// The report's `errorMessage`, when it has one.
    pub error_message: Option<String>,
    /// Time queued, when this replica ran the job.
    pub queued: Option<Duration>,
    /// Time from submission to the report, when this replica ran the job.
    pub elapsed: Option<Duration>,
    /// The backend of the final decision.
    pub backend: Option<BackendKind>,
    /// The reason of the final decision.
    pub reason: Option<String>,
}

impl Outcome {
    /// The outcome of a job this replica ran.
    pub fn from_record(record: &crate::scheduler::Result<JobRecord>) -> Self {
        match record {
            Ok(record) => Self {
                queued: Some(record.queued),
                elapsed: Some(record.elapsed),
                backend: record.decision.backend(),
                reason: Some(record.decision.reason.clone()),
                ..Self::from_report(&record.finalised.report)
            },
            Err(e) => Self::lost(e),
        }
    }

    /// The outcome read from a final report (a job another replica ran).
    pub fn from_report(report: &Value) -> Self {
        Self {
            success: report["success"].as_bool().unwrap_or(false),
            summary: report.get("summary").cloned(),
            error_message: report["errorMessage"].as_str().map(str::to_string),
            queued: None,
            elapsed: None,
            backend: None,
            reason: None,
        }
    }

    fn lost(e: &SchedulerError) -> Self {
        Self {
            success: false,
            summary: None,
            error_message: Some(format!("the job ended without a report: {e}")),
            queued: None,
            elapsed: None,
            backend: None,
            reason: None,
        }
    }
}

impl Entry {
    /// The outcome of a local job once it has one (`None` for a foreign job: read its folder).
    pub fn outcome(&self) -> Option<Arc<Outcome>> {
        match &self.origin {
            Origin::Local { done, .. } => done.borrow().clone(),
            Origin::Foreign { .. } => None,
        }
    }

    /// When a local job got its slot.
    pub fn started(&self) -> Option<Instant> {
        match &self.origin {
            Origin::Local { started, .. } => *started.borrow(),
            Origin::Foreign { .. } => None,
        }
    }
}

/// Why a job cannot be registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0} jobs are in flight, the most service.finished_jobs allows")]
pub struct Full(pub usize);

/// A place for one job in flight ([`Registry::reserve`]).
#[must_use = "a reservation not used is given back at once"]
#[derive(Debug)]
pub struct Reservation<'a> {
    registry: &'a Registry,
    used: bool,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if !self.used {
            let mut inner = self.registry.lock();
            inner.in_flight = inner.in_flight.saturating_sub(1);
        }
    }
}

/// The jobs of this replica (see the module doc).
#[derive(Debug)]
pub struct Registry {
    inner: Mutex<Inner>,
    max: usize,
}

#[derive(Debug, Default)]
struct Inner {
    jobs: HashMap<String, Arc<Entry>>,
    /// Finished (and foreign) jobs, oldest first.
    finished: VecDeque<String>,
    in_flight: usize,
}

impl Registry {
    /// A registry keeping at most `max` finished jobs and `max` in flight (at least one).
    pub fn new(max: usize) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            max: max.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The job with `id`.
    pub fn get(&self, id: &str) -> Option<Arc<Entry>> {
        self.lock().jobs.get(id).cloned()
    }

    /// Takes a place for one more local job in flight, or says why there is none. The place is
    /// given back if the reservation is dropped without [`Registry::insert_local`].
    pub fn reserve(&self) -> Result<Reservation<'_>, Full> {
        let mut inner = self.lock();
        if inner.in_flight >= self.max {
            return Err(Full(inner.in_flight));
        }
        inner.in_flight += 1;
        Ok(Reservation {
            registry: self,
            used: false,
        })
    }

    /// Takes a place whatever the bound: for a job that exists already (adopted at start-up).
    pub fn reserve_anyway(&self) -> Reservation<'_> {
        self.lock().in_flight += 1;
        Reservation {
            registry: self,
            used: false,
        }
    }

    /// Registers a local job in flight in the place `reservation` holds. The caller has checked
    /// that the id is new (under the id's submission lock).
    pub fn insert_local(&self, entry: Arc<Entry>, mut reservation: Reservation<'_>) {
        reservation.used = true;
        self.lock().jobs.insert(entry.id.clone(), entry);
    }

    /// Registers a job another replica runs; it counts as finished for the bound.
    pub fn insert_foreign(&self, entry: Arc<Entry>) -> Arc<Entry> {
        let mut inner = self.lock();
        if let Some(existing) = inner.jobs.get(&entry.id) {
            return existing.clone();
        }
        let id = entry.id.clone();
        inner.jobs.insert(id.clone(), entry.clone());
        self.push_finished(&mut inner, id);
        entry
    }

    /// Records that a local job ended with `outcome`, and forgets the oldest finished jobs
    /// beyond the bound.
    pub fn finish(&self, entry: &Entry, outcome: Outcome) {
        if let Origin::Local { done, .. } = &entry.origin {
            done.send_replace(Some(Arc::new(outcome)));
        }
        let mut inner = self.lock();
        inner.in_flight = inner.in_flight.saturating_sub(1);
        self.push_finished(&mut inner, entry.id.clone());
    }

    fn push_finished(&self, inner: &mut Inner, id: String) {
        inner.finished.push_back(id);
        while inner.finished.len() > self.max {
            // Each id is queued once: an entry is finished (or foreign) once, and a forgotten
            // id comes back only as a new entry.
            if let Some(old) = inner.finished.pop_front() {
                inner.jobs.remove(&old);
            }
        }
    }

    /// Every local job still in flight.
    pub fn in_flight(&self) -> Vec<Arc<Entry>> {
        self.lock()
            .jobs
            .values()
            .filter(|e| matches!(&e.origin, Origin::Local { done, .. } if done.borrow().is_none()))
            .cloned()
            .collect()
    }

    /// Local jobs waiting for a slot, and local jobs in flight.
    pub fn counts(&self) -> (usize, usize) {
        let in_flight = self.in_flight();
        let queued = in_flight.iter().filter(|e| e.started().is_none()).count();
        (queued, in_flight.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn foreign(id: &str) -> Arc<Entry> {
        Arc::new(Entry {
            id: id.to_string(),
            worker: "W".into(),
            folder: Resolved {
                path: format!("/jobs/{id}").into(),
                rel: id.to_string(),
            },
            submitted: Instant::now(),
            decision: (None, String::new()),
            origin: Origin::Foreign { replica: None },
        })
    }

    #[test]
    fn places_in_flight_are_bounded_and_given_back_unused() {
        let registry = Registry::new(2);
        let a = registry.reserve().unwrap();
        let b = registry.reserve().unwrap();
        assert_eq!(registry.reserve().unwrap_err(), Full(2));
        assert_eq!(
            Full(2).to_string(),
            "2 jobs are in flight, the most service.finished_jobs allows"
        );
        drop(a);
        let c = registry.reserve().unwrap();
        registry.insert_local(foreign("x"), b);
        drop(c);
        // The used place stays taken until the job finishes.
        assert_eq!(registry.lock().in_flight, 1);
        registry.finish(
            &registry.get("x").unwrap(),
            Outcome::from_report(&Value::Null),
        );
        assert_eq!(registry.lock().in_flight, 0);
    }

    #[test]
    fn the_oldest_finished_jobs_are_forgotten_beyond_the_bound() {
        let registry = Registry::new(2);
        for id in ["a", "b", "c"] {
            registry.insert_foreign(foreign(id));
        }
        assert!(registry.get("a").is_none());
        assert!(registry.get("b").is_some() && registry.get("c").is_some());
        // Registered again: the entry already known is kept, nothing is queued twice.
        let again = registry.insert_foreign(foreign("c"));
        assert!(Arc::ptr_eq(&again, &registry.get("c").unwrap()));
        registry.insert_foreign(foreign("d"));
        assert!(registry.get("b").is_none());
        assert!(registry.get("c").is_some() && registry.get("d").is_some());
        assert_eq!(registry.lock().jobs.len(), 2);
        assert_eq!(registry.lock().finished.len(), 2);
    }
}
