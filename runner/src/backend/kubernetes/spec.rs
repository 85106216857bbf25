//! The Job a worker runs as: built from the worker, its policy and the configuration with the
//! `k8s-openapi` types.
