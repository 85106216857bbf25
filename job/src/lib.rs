//! The Cortex job folder, shared by every backend: what Cortex writes into it, what a worker
//! must leave in it, and the one step that turns a stopped worker's output into the report
//! Cortex reads. No knowledge of wasmtime or Kubernetes lives here.
//!
//! # Public API
//!
//! - [`JobInput`] (`input/input.json`), [`redact_secrets`] (cortexutils 2.2.1's rule: every
//!   top-level `config` key whose lower-cased name contains `key`, `password` or `secret`
//!   becomes `"REMOVED"`); [`TLP_RANGE`] and [`PAP_RANGE`], the levels Cortex accepts (0..=3),
//!   checked by [`JobInput::check_levels`]; [`Secrets`], the job's secret values to scrub from
//!   free text ([`JobInput::secrets`]).
//! - [`Report`] and its parts ([`SuccessReport`], [`FailureReport`], [`Taxonomy`], [`Level`],
//!   [`Artifact`], [`Operation`]): the report shapes, as serde types that round-trip.
//! - [`JobFolder::create`]`(root, job_id, &input, Option<Attachment>) -> Result<JobFolder>` lays
//!   out `root/cortex-job-<id>-<random>/` exactly as Cortex does; [`JobFolder::open`]`(path)`
//!   checks an existing folder (directory, valid `input/input.json` with TLP and PAP in range,
//!   the attachment a regular file; no symlink followed anywhere inside; creates a missing
//!   `output/`).
//!   Accessors: [`JobFolder::path`], [`JobFolder::input_dir`], [`JobFolder::output_dir`],
//!   [`JobFolder::input`], [`JobFolder::attachment_path`]; [`JobFolder::remove`].
//! - [`finalise`]`(&JobFolder, &WorkerEnd, &FinaliseOptions) -> Result<Finalised>`: called by
//!   every backend after the worker stopped; writes the final `output/output.json`.
//! - [`format_bytes`]: the one way byte counts are written for people ("16 MiB", "1.5 KiB").
//!
//! # What finalisation guarantees
//!
//! `output/` is hostile. After [`finalise`] it holds only regular files, and `output.json` is
//! either a success report Cortex accepts or a failure report:
//!
//! - **Caps**: a worker that leaves more than [`FinaliseOptions::max_artifacts`] entries in
//!   `output/`, a file bigger than [`FinaliseOptions::max_artifact_bytes`] (apparent or
//!   allocated size, whichever is larger) or more than
//!   [`FinaliseOptions::max_artifact_total_bytes`] in all fails the job: the listing stops at
//!   the first cap exceeded, `output/` is emptied, and `errorMessage` names the cap and its value
//!   ("the worker left more than 10000 entries in output/ (jobs.max_artifacts)").
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
//!   ...", ...) followed by `--- stderr (tail) ---` and `--- stdout (tail) ---` sections (the
//!   last [`FinaliseOptions::max_tail_bytes`] of each). Every secret value of `config` is
//!   replaced by `"REMOVED"` in everything the message quotes from the worker (its own message,
//!   the tails, names in warnings), as is, JSON-escaped or as a number, at any depth ([`Secrets`]);
//!   the tails are scrubbed whole before they are cut, and a part of a secret left at a cut is
//!   removed too. `input` is always the runner's own redaction of the real input, never the
//!   worker's copy.
//! - **Warnings**: everything removed, dropped or repaired is listed as one sentence each in
//!   `full.runnerWarnings` (an array of strings) on success, where Cortex users see it in the
//!   full report. On failure the list is in a top-level `runnerWarnings` and, because Cortex
//!   keeps only `errorMessage` and `input` of a failed job, also appended to `errorMessage`
//!   after a `--- runner warnings ---` line. The key is absent when there is nothing to say; at
//!   most [`MAX_WARNINGS`] are kept. Only finalisation writes the key: wherever a worker put a
//!   `runnerWarnings` in its report (top level, in `full`, at any depth, in a success or a
//!   failure report), it is removed, with a warning naming where.
//! - A success report is kept even when the worker exited with a non-zero status (Cortex's
//!   process and docker runners do the same), with a warning saying so.
//! - The final `output.json` is written to a temporary file in `output/` and renamed over the
//!   old one, so a reader never sees a half-written report.

mod bytes;
mod finalise;
mod folder;
mod input;
mod output_dir;
mod parse;
mod report;
mod scrub;
mod validate;

pub use bytes::format_bytes;
pub use finalise::{
    EndStatus, FinaliseError, FinaliseOptions, Finalised, MAX_WARNINGS, RUNNER_WARNINGS, WorkerEnd,
    finalise,
};
pub use folder::{Attachment, AttachmentSource, FolderError, JobFolder};
pub use input::{
    JobInput, LevelError, PAP_RANGE, REDACTED, SECRET_PHRASES, TLP_RANGE, is_secret_key,
    redact_secrets,
};
pub use parse::MAX_PARSE_DEPTH;
pub use report::{
    Artifact, DataArtifact, FailureReport, FileArtifact, Level, Operation, Report, SuccessReport,
    Summary, Taxonomy,
};
pub use scrub::{MIN_SECRET_CHARS, Secrets};
