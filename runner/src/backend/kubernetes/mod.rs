//! The Kubernetes backend: each job runs as a `batch/v1` Job on the ReadWriteMany volume that
//! holds `jobs.root`, in Cortex's own layout, so the existing Cortex-Analyzers images run
//! unchanged.

pub mod spec;
