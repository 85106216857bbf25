//! Write Cortex analyzers and responders in Rust with the semantics of `cortexutils` 2.2.1, the
//! Python library almost every Cortex worker uses, natively and for `wasm32-wasip1` and
//! `wasm32-wasip2`.
//!
//! [`Worker`] reads the job folder (`argv[1]`, default `/job`) and checks TLP/PAP;
//! [`Analyzer`] adds the observable, taxonomies, artifacts and the report with its
//! [`Hooks`]; [`Responder`] builds operations; [`Extractor`] is cortexutils' artifact
//! auto-extraction. [`run_analyzer`] / [`run_responder`] are a worker's whole `main`, and turn
//! errors and panics into cortexutils' failure report. [`http`] is an HTTP client with the
//! semantics of Python's `requests`, over wasi-http on `wasm32-wasip2`.

mod analyzer;
mod artifact;
mod error;
mod extractor;
pub mod http;
mod matchers;
mod output;
mod pydecode;
pub mod pyjson;
mod python;
mod responder;
mod run;
mod worker;

pub use analyzer::{Analyze, Analyzer, DefaultHooks, Hooks, LEVELS};
pub use error::{Error, Result};
pub use extractor::{Extractor, check_str};
pub use output::{DEFAULT_SECRET_PHRASES, Failure, Output, redact_secrets};
pub use python::{lookup, truthy};
pub use responder::{Respond, Responder};
pub use run::{
    run_analyzer, run_analyzer_fn, run_analyzer_fn_with, run_analyzer_with, run_responder,
    run_responder_with,
};
pub use worker::{DEFAULT_JOB_DIRECTORY, Worker, WorkerOptions};

/// Re-exported so that workers use the same `serde_json` (with `preserve_order`) as the SDK.
pub use serde_json;

/// The README's example is compiled and run as a doctest, so it cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
