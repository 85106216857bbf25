//! `Responder` (cortexutils' `responder.Responder`): a worker whose report carries operations
//! for Cortex to apply (tag a case, create a task, ...).

use std::ops::Deref;

use serde_json::{Map, Value, json};

use crate::error::Result;
use crate::output::Failure;
use crate::worker::{Worker, WorkerOptions};

/// A responder program: `run` returns the `full` report, `operations` the operations for it.
/// Run it with [`crate::run_responder`].
pub trait Respond {
    /// Acts on the observable (`data` is a TheHive object) and returns the `full` report.
    fn run(&self, responder: &Responder) -> Result<Value>;

    /// The report's `operations`, usually built with [`Responder::build_operation`]. An error
    /// yields `[]`, as cortexutils swallows any exception from `operations`.
    fn operations(&self, responder: &Responder, full: &Value) -> Result<Vec<Value>> {
        let _ = (responder, full);
        Ok(Vec::new())
    }
}

/// An opened responder job; dereferences to [`Worker`].
#[derive(Debug, Clone)]
pub struct Responder {
    worker: Worker,
}

impl Deref for Responder {
    type Target = Worker;

    fn deref(&self) -> &Worker {
        &self.worker
    }
}

impl Responder {
    /// Opens the job named by `argv[1]` (default `/job`).
    pub fn from_args() -> Result<Responder, Box<Failure>> {
        Responder::open(WorkerOptions::default())
    }

    /// Opens a job with the checks of [`Worker::open`].
    pub fn open(options: WorkerOptions) -> Result<Responder, Box<Failure>> {
        Worker::open(options).map(Responder::from_worker)
    }

    /// Wraps an opened worker.
    pub fn from_worker(worker: Worker) -> Responder {
        Responder { worker }
    }

    /// cortexutils' `build_operation(op_type, **parameters)`, e.g.
    /// `build_operation("AddTagToCase", {"tag": "x"})` → `{"type": "AddTagToCase", "tag": "x"}`.
    pub fn build_operation(op_type: &str, parameters: Map<String, Value>) -> Value {
        Worker::build_operation(op_type, parameters)
    }

    /// cortexutils' `Responder.report(full)` without writing: `{"success": true, "full": full,
    /// "operations": [...]}`; a failing `operations` hook yields `[]`.
    pub fn build_report(&self, full: Value, responder: &(impl Respond + ?Sized)) -> Value {
        let operations = responder.operations(self, &full).unwrap_or_default();
        json!({"success": true, "full": full, "operations": operations})
    }

    /// Builds the report and writes it to `output/output.json`.
    pub fn report(&self, full: Value, responder: &(impl Respond + ?Sized)) -> Result<()> {
        self.write_report(&self.build_report(full, responder))
    }
}
