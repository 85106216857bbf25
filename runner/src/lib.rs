//! cortex-runner: runs Cortex analyzers and responders on Cortex job folders and finalises every
//! folder through [`cortex_job::finalise`], so that Cortex reads the same layout whatever ran the
//! worker. Two backends sit behind the [`backend::Backend`] trait: the in-process wasm sandbox
//! ([`wasm_host`]) and Kubernetes Jobs ([`backend::kubernetes`]); [`adoption`] resumes the Jobs
//! an earlier runner left.
//!
//! [`sandbox_run`] runs a module on a job folder and finalises it (`exec`, `bench`; the wasm
//! backend shares its `RunRecord` → `WorkerEnd` mapping); [`bench`](mod@bench) measures it.
//!
//! [`config`] layers the configuration, [`catalog`] loads Cortex catalogs, [`policy`] loads the
//! per-worker policy files, [`workers`] joins them into the worker table, [`scheduler`] decides,
//! queues and runs each job in a task of its own over the [`backend::Backend`] trait (a
//! [`scheduler::JobHandle`] to await or cancel it), and [`setup`] assembles them from a
//! configuration. [`service`] is the HTTP API of `cortex-runner serve` over the scheduler.
//!
//! [`client`] is the client of the runner service's HTTP API, for Cortex's side of it (`submit`,
//! `catalog export`).

pub mod adoption;
pub mod backend;
pub mod bench;
pub mod catalog;
pub mod client;
pub mod config;
pub mod network;
pub mod policy;
pub mod sandbox_run;
pub mod scheduler;
pub mod service;
pub mod setup;
pub mod workers;
