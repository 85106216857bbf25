//! cortex-runner: runs Cortex analyzers and responders on Cortex job folders, in the in-process
//! wasm sandbox ([`wasm_host`]) or (later) as Kubernetes Jobs, and finalises every folder through
//! [`cortex_job::finalise`] so that Cortex reads the same layout whatever ran the worker.
//!
//! [`sandbox_run`] is the per-job path of the wasm backend; [`bench`] measures it.

pub mod bench;
pub mod sandbox_run;
pub mod config;
pub mod backend;
pub mod catalog;
pub mod policy;
pub mod scheduler;
pub mod setup;
