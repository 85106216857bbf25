//! cortex-runner: runs Cortex analyzers and responders on Cortex job folders, in the in-process
//! wasm sandbox ([`wasm_host`]) or (later) as Kubernetes Jobs, and finalises every folder through
//! [`cortex_job::finalise`] so that Cortex reads the same layout whatever ran the worker.
//!
//! [`sandbox_run`] is the per-job path of the wasm backend; [`bench`] measures it.
//!
//! [`config`] layers the configuration, [`catalog`] loads Cortex catalogs, [`policy`] loads the
//! per-worker policy files, [`scheduler`] decides and queues jobs over the [`backend::Backend`]
//! trait, and [`setup`] assembles them from a configuration.

pub mod backend;
pub mod bench;
pub mod catalog;
pub mod config;
pub mod policy;
pub mod sandbox_run;
pub mod scheduler;
pub mod setup;
