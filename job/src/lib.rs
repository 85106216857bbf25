//! The Cortex job folder, shared by every backend: what Cortex writes into it, what a worker
//! must leave in it, and the one step that turns a stopped worker's output into the report
//! Cortex reads. No knowledge of wasmtime or Kubernetes lives here.
//!
//! # Public API
//!
//! - [`JobInput`] (`input/input.json`), [`redact_secrets`] (cortexutils 2.2.1's rule: every
//!   top-level `config` key whose lower-cased name contains `key`, `password` or `secret`
//!   becomes `"REMOVED"`).
//! - [`Report`] and its parts ([`SuccessReport`], [`FailureReport`], [`Taxonomy`], [`Level`],
//!   [`Artifact`], [`Operation`]): the report shapes, as serde types that round-trip.
//! - [`JobFolder::create`]`(root, job_id, &input, Option<Attachment>) -> Result<JobFolder>` lays
//!   out `root/cortex-job-<id>-<random>/` exactly as Cortex does; [`JobFolder::open`]`(path)`
//!   checks an existing folder (directory, valid `input/input.json`; creates a missing `output/`).
//!   Accessors: [`JobFolder::path`], [`JobFolder::input_dir`], [`JobFolder::output_dir`],
//!   [`JobFolder::input`], [`JobFolder::attachment_path`]; [`JobFolder::remove`].
//! - [`finalise`]`(&JobFolder, &WorkerEnd, &FinaliseOptions) -> Result<Finalised>`: called by
//!   every backend after the worker stopped; writes the final `output/output.json`.
//!
//! # What finalisation guarantees
//!
//! `output/` is hostile. After [`finalise`] it holds only regular files, and `output.json` is
//! either a success report Cortex accepts or a failure report:
//!
//! - Success: `{"success": true, "summary": {...}, "artifacts": [...], "operations": [...],
//!   "full": {...}}`, the worker's report with `summary`, `artifacts` and `operations`
//!   defaulted when absent. Invalid taxonomies (level not exactly `info`, `safe`, `suspicious` or
//!   `malicious`; `namespace` or `predicate` not a string; `value` not a string, number or
//!   boolean), invalid artifacts (no string `dataType`; a data artifact without string `data`; a
//!   file artifact whose `file` is not a plain name of a regular file directly in `output/`, or
//!   that has no `filename`) and operations without a string `type` are **dropped**, not fatal.
//!   A report whose `full` is not an object fails the job (Cortex would: "Report creation
//!   failure").
//! - Failure: `{"success": false, "errorMessage": "...", "input": {...}}`. `errorMessage` is the
//!   worker's own when it wrote a failure report (cortexutils' `error()`); otherwise it names
//!   the cause ("timed out after 30 s", "exited with status 3 without writing output.json",
//!   "output.json is 268435456 bytes (256 MiB), limit 16 MiB", "output.json is not valid JSON:
//!   ...", ...) followed by `--- stderr (tail) ---` and `--- stdout (tail) ---` sections, with
//!   the values of secret `config` keys replaced by `"REMOVED"`. `input` is always the runner's
//!   own redaction of the real input, never the worker's copy.
//! - **Warnings**: everything removed, dropped or repaired is listed as one sentence each in
//!   `full.runnerWarnings` (an array of strings) on success, where Cortex users see it in the
//!   full report. On failure the list is in a top-level `runnerWarnings` and, because Cortex
//!   keeps only `errorMessage` and `input` of a failed job, also appended to `errorMessage`
//!   after a `--- runner warnings ---` line. The key is absent when there is nothing to say; at
//!   most [`MAX_WARNINGS`] are kept. A worker's own `full.runnerWarnings` is removed (with a
//!   warning): the key is the runner's.
//! - A success report is kept even when the worker exited with a non-zero status (Cortex's
//!   process and docker runners do the same), with a warning saying so.
//! - The final `output.json` is written to a temporary file in `output/` and renamed over the
//!   old one, so a reader never sees a half-written report.

mod finalise;
mod folder;
mod input;
mod output_dir;
mod parse;
mod report;
mod validate;

pub use finalise::{
    EndStatus, FinaliseError, FinaliseOptions, Finalised, MAX_WARNINGS, RUNNER_WARNINGS, WorkerEnd,
    finalise,
};
pub use folder::{Attachment, AttachmentSource, FolderError, JobFolder};
pub use input::{JobInput, REDACTED, SECRET_PHRASES, is_secret_key, redact_secrets, scrub_secrets};
pub use parse::MAX_PARSE_DEPTH;
pub use report::{
    Artifact, DataArtifact, FailureReport, FileArtifact, Level, Operation, Report, SuccessReport,
    Summary, Taxonomy,
};
