//! The API's JSON shapes, as `cortex-runner serve` answers them (the issue 11 contract).

use serde::{Deserialize, Serialize};

/// A job's state in the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Waiting for a slot.
    Queued,
    /// Running on a backend.
    Running,
    /// Its final report is in the job folder.
    Done,
}

impl std::fmt::Display for JobState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Done => "done",
        })
    }
}

/// A job as `POST /v1/jobs`, `GET /v1/jobs/{id}` and its `wait` describe it (the POST answer
/// has only `id`, `state`, `backend` and `reason`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobStatus {
    /// The job id (the same on every replica for one job folder).
    pub id: String,
    /// Its state.
    pub state: JobState,
    /// The worker.
    #[serde(default)]
    pub worker: Option<String>,
    /// The job folder, relative to the service's job root.
    #[serde(default)]
    pub job_folder: Option<String>,
    /// `wasm`, `kubernetes`, or none (no backend can run it).
    #[serde(default)]
    pub backend: Option<String>,
    /// Why that backend.
    #[serde(default)]
    pub reason: Option<String>,
    /// The final report's `success`, once done.
    #[serde(default)]
    pub success: Option<bool>,
    /// The final report's `errorMessage`, once done and failed.
    #[serde(default)]
    pub error_message: Option<String>,
    /// Seconds since submission.
    #[serde(default)]
    pub elapsed_s: Option<f64>,
}

/// One worker as `GET /v1/workers` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerInfo {
    /// The name jobs are submitted under.
    pub name: String,
    /// `analyzer` or `responder`.
    pub kind: crate::catalog::WorkerKind,
    /// The version ("" when unknown).
    #[serde(default)]
    pub version: String,
    /// The data types it accepts.
    #[serde(default)]
    pub data_types: Vec<String>,
    /// The backend its jobs get, or none.
    #[serde(default)]
    pub backend: Option<String>,
    /// Why.
    #[serde(default)]
    pub reason: String,
    /// The worker's Cortex definition as the service's catalog has it (camelCase keys, see the
    /// contract), when it has one.
    #[serde(default)]
    pub definition: Option<serde_json::Map<String, serde_json::Value>>,
}

/// What `POST /v1/jobs` answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Submitted {
    /// `202`: a new job.
    New(JobStatus),
    /// `200`: this folder's job already exists on this replica.
    Existing(JobStatus),
    /// `409`: another replica holds the folder; its job `id` can be waited for here.
    Taken {
        /// The job id.
        id: String,
    },
}

/// The error body every API error has.
#[derive(Debug, Default, Deserialize)]
pub(super) struct ApiError {
    #[serde(default)]
    pub(super) error: String,
    #[serde(default)]
    pub(super) detail: String,
    #[serde(default)]
    pub(super) id: Option<String>,
}
