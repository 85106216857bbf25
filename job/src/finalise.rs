//! Finalisation: turning whatever a stopped worker left in `output/` into the report Cortex reads.
//!
//! Every backend calls [`finalise`] once the worker has stopped, so that a job ends with the
//! same `output/output.json` whichever backend ran it. The steps:
//!
//! 1. open `output/` (cap-std) and remove every entry that is not a regular file;
//! 2. read `output.json` without following a symlink and never past
//!    [`FinaliseOptions::max_output_bytes`], then parse it with a nesting limit;
//! 3. decide the outcome: a worker that failed ([`EndStatus::Failed`]) fails the job whatever it
//!    wrote; a worker's own failure report keeps its `errorMessage`; a success report is checked
//!    and repaired (see the `validate` rules in the crate doc); anything else is a failure whose
//!    `errorMessage` names the cause, followed by the tails of stderr and stdout;
//! 4. write the final report atomically and return it.

use crate::bytes::format_bytes;
use crate::folder::JobFolder;
use crate::output_dir::{Caps, OutputDir, ReportFile, shown};
use crate::parse::{MAX_PARSE_DEPTH, ParseProblem, parse_bounded};
use crate::scrub::Secrets;
use crate::validate::{kind, validate_success};
use serde_json::{Map, Value};
use std::io;
use std::path::PathBuf;

/// The most warnings a report carries; more are summed up in one last warning, so that a worker
/// that leaves a million symlinks cannot blow up the report.
pub const MAX_WARNINGS: usize = 100;

/// The key under which the runner's warnings appear: in `full` on success, at the top level on
/// failure. Only finalisation writes it: wherever a worker put it in its report, it is removed
/// with a warning.
pub const RUNNER_WARNINGS: &str = "runnerWarnings";

/// How the worker stopped, in terms every backend can state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerEnd {
    /// Exit status or failure.
    pub status: EndStatus,
    /// The end of the worker's stdout as captured, unscrubbed: finalisation scrubs the job's
    /// secrets from it, then keeps at most [`FinaliseOptions::max_tail_bytes`] of it.
    pub stdout_tail: String,
    /// The end of the worker's stderr, as `stdout_tail`.
    pub stderr_tail: String,
    /// How many bytes of stdout came before `stdout_tail` (0: the tail is all of it). When not
    /// 0, the tail begins where a capture cut the stream, and a part of a secret there is
    /// scrubbed too.
    pub stdout_dropped: u64,
    /// How many bytes of stderr came before `stderr_tail`, as `stdout_dropped`.
    pub stderr_dropped: u64,
    /// What the backend observed about the run that the operator should read (e.g. "the worker
    /// hit the sandbox's cap of 256 open files ..."): the first of the report's runner warnings.
    pub warnings: Vec<String>,
}

/// Whether the worker ran to an exit or was stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndStatus {
    /// The worker exited by itself with this status.
    Exited(i32),
    /// The worker was stopped or could not run; `cause` is the backend's precise text, e.g.
    /// "timed out after 30 s", "memory limit 256 MiB exceeded", "pod failed: ImagePullBackOff".
    Failed {
        /// What happened, as the Cortex user should read it.
        cause: String,
    },
}

impl WorkerEnd {
    /// A worker that exited with `code` and printed nothing.
    pub fn exited(code: i32) -> Self {
        Self {
            status: EndStatus::Exited(code),
            stdout_tail: String::new(),
            stderr_tail: String::new(),
            stdout_dropped: 0,
            stderr_dropped: 0,
            warnings: Vec::new(),
        }
    }

    /// A worker that was stopped for `cause` and printed nothing.
    pub fn failed(cause: impl Into<String>) -> Self {
        Self {
            status: EndStatus::Failed {
                cause: cause.into(),
            },
            stdout_tail: String::new(),
            stderr_tail: String::new(),
            stdout_dropped: 0,
            stderr_dropped: 0,
            warnings: Vec::new(),
        }
    }

    /// The same end with this stdout tail.
    pub fn with_stdout(mut self, tail: impl Into<String>) -> Self {
        self.stdout_tail = tail.into();
        self
    }

    /// The same end with this stderr tail.
    pub fn with_stderr(mut self, tail: impl Into<String>) -> Self {
        self.stderr_tail = tail.into();
        self
    }

    /// The same end, saying that `dropped` bytes of stdout came before its tail.
    pub fn with_stdout_dropped(mut self, dropped: u64) -> Self {
        self.stdout_dropped = dropped;
        self
    }

    /// The same end, saying that `dropped` bytes of stderr came before its tail.
    pub fn with_stderr_dropped(mut self, dropped: u64) -> Self {
        self.stderr_dropped = dropped;
        self
    }

    /// The same end with these backend warnings (see [`WorkerEnd::warnings`]).
    pub fn with_warnings(mut self, warnings: Vec<String>) -> Self {
        self.warnings = warnings;
        self
    }
}

/// Limits applied to the worker's output.
///
/// The three caps on what a worker leaves in `output/` fail the job when exceeded: the listing
/// of `output/` stops at the first one exceeded, everything in `output/` is removed, and the
/// failure report names the cap, its value and the runner configuration key that sets it
/// (`jobs.max_artifacts`, `jobs.max_artifact_mib`, `jobs.max_artifact_total_mib`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinaliseOptions {
    /// The largest `output.json` read, in bytes. Default 16 MiB.
    pub max_output_bytes: u64,
    /// The deepest nesting of arrays and objects accepted in `output.json` (the top-level object
    /// is depth 1). Default and maximum [`MAX_PARSE_DEPTH`] (127, serde_json's own limit).
    pub max_depth: usize,
    /// The most entries `output/` may hold, `output.json` and anything planted (directories,
    /// symlinks, ...) included; the contents of subdirectories are not counted, they are removed
    /// anyway. Default 10,000.
    pub max_artifacts: u64,
    /// The largest file in `output/` other than `output.json` (which has `max_output_bytes`),
    /// in bytes, counting the larger of its apparent size and its allocated size, so that a
    /// sparse file is measured by what a reader of it gets. Default 512 MiB.
    pub max_artifact_bytes: u64,
    /// The most bytes all files in `output/` but `output.json` may hold together, measured as
    /// `max_artifact_bytes` measures each. Default 1 GiB.
    pub max_artifact_total_bytes: u64,
    /// The most bytes of each of stderr and stdout quoted in a failure report (their end, after
    /// scrubbing secrets). Default 16 KiB: Cortex stores the report and TheHive shows it, where
    /// the last few kilobytes are what explains a failure.
    pub max_tail_bytes: usize,
}

impl Default for FinaliseOptions {
    fn default() -> Self {
        Self {
            max_output_bytes: 16 * 1024 * 1024,
            max_depth: MAX_PARSE_DEPTH,
            max_artifacts: 10_000,
            max_artifact_bytes: 512 * 1024 * 1024,
            max_artifact_total_bytes: 1024 * 1024 * 1024,
            max_tail_bytes: 16 * 1024,
        }
    }
}

/// The outcome of [`finalise`].
#[derive(Debug, Clone, PartialEq)]
pub struct Finalised {
    /// Exactly what was written to `output/output.json`.
    pub report: Value,
    /// The report's `success`.
    pub success: bool,
    /// What was removed, dropped or repaired (also in the report, see the crate doc).
    pub warnings: Vec<String>,
}

/// Errors of finalisation: only a job folder the runner itself cannot work in. Everything a
/// worker can cause ends in a failure report instead.
#[derive(Debug, thiserror::Error)]
pub enum FinaliseError {
    /// `output/` could not be opened, listed or made.
    #[error("cannot open the output folder {path}: {source}")]
    OpenOutput {
        /// The output folder.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The final report could not be written.
    #[error("cannot write the final report {path}: {source}")]
    WriteReport {
        /// The report's path.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}

/// The result type of this module.
pub type Result<T, E = FinaliseError> = std::result::Result<T, E>;

/// Finalises the job in `folder` after its worker stopped as `end` says (see the module doc).
pub fn finalise(folder: &JobFolder, end: &WorkerEnd, opts: &FinaliseOptions) -> Result<Finalised> {
    let mut warnings = end.warnings.clone();
    let open_error = |source| FinaliseError::OpenOutput {
        path: folder.output_dir(),
        source,
    };
    let mut out = OutputDir::open(folder.path(), &mut warnings).map_err(open_error)?;
    let caps = Caps {
        max_entries: opts.max_artifacts,
        max_file_bytes: opts.max_artifact_bytes,
        max_total_bytes: opts.max_artifact_total_bytes,
    };
    let over_cap = out.sanitise(&caps, &mut warnings).map_err(open_error)?;
    // A stopped worker fails the job whatever it wrote, so its report is not even read; nor is
    // the report of a worker that left more than the caps allow (it was removed with the rest).
    let (read, outcome) = match (&end.status, over_cap) {
        (EndStatus::Failed { cause }, over_cap) => {
            warnings.extend(over_cap);
            (None, Err(cause.clone()))
        }
        (&EndStatus::Exited(code), Some(over_cap)) => (None, Err(over_cap + &status_note(code))),
        (&EndStatus::Exited(code), None) => {
            let read = out.read_report(opts.max_output_bytes);
            let outcome = judge(&read, code, opts, &out, &mut warnings);
            (Some(read), outcome)
        }
    };
    let secrets = folder.input().secrets();
    let report = match outcome {
        Ok(Verdict::Success(mut report)) => {
            if let Some(Value::Object(full)) = report.get_mut("full") {
                cap_warnings(&mut warnings);
                if !warnings.is_empty() {
                    full.insert(RUNNER_WARNINGS.into(), warnings_value(&warnings));
                }
            }
            Value::Object(report)
        }
        Ok(Verdict::WorkerFailure(message)) => {
            failure(folder, &message, "", &mut warnings, &secrets)
        }
        Err(cause) => {
            let tails = tails(end, opts, &secrets);
            failure(folder, &cause, &tails, &mut warnings, &secrets)
        }
    };
    let bytes = serde_json::to_vec(&report).map_err(|e| FinaliseError::WriteReport {
        path: folder.output_dir().join("output.json"),
        source: e.into(),
    })?;
    // A report the worker wrote exactly as it ends up (compact JSON, nothing repaired) stays
    // where it is: the atomic rewrite would produce the very same file.
    let unchanged = matches!(&read, Some(ReportFile::Bytes(original)) if original.reusable && original.bytes == bytes);
    if !unchanged {
        out.write_report(&bytes)
            .map_err(|source| FinaliseError::WriteReport {
                path: folder.output_dir().join("output.json"),
                source,
            })?;
    }
    let success = report.get("success") == Some(&Value::Bool(true));
    Ok(Finalised {
        report,
        success,
        warnings,
    })
}

/// " (the worker exited with status 3)", or nothing for status 0: problems with the output say
/// the exit status too when it was not 0.
fn status_note(code: i32) -> String {
    if code == 0 {
        String::new()
    } else {
        format!(" (the worker exited with status {code})")
    }
}

/// What the worker's own report says, when it is usable.
enum Verdict {
    /// A checked success report.
    Success(Map<String, Value>),
    /// The worker's own failure message.
    WorkerFailure(String),
}

/// Reads the verdict of an exited worker from its output; `Err` names why the job fails.
fn judge(
    read: &ReportFile,
    code: i32,
    opts: &FinaliseOptions,
    out: &OutputDir,
    warnings: &mut Vec<String>,
) -> Result<Verdict, String> {
    let status_note = status_note(code);
    let bytes = match read {
        ReportFile::Missing => {
            return Err(format!(
                "exited with status {code} without writing output.json"
            ));
        }
        ReportFile::Unreadable(error) => {
            return Err(format!("output.json cannot be read: {error}{status_note}"));
        }
        &ReportFile::TooLarge(Some(size)) => {
            // The size in people's units too, from 1 KiB up.
            let shown = if size >= 1024 {
                format!(" ({})", format_bytes(size))
            } else {
                String::new()
            };
            return Err(format!(
                "output.json is {size} bytes{shown}, limit {}{status_note}",
                format_bytes(opts.max_output_bytes)
            ));
        }
        ReportFile::TooLarge(None) => {
            return Err(format!(
                "output.json grew past the limit of {} while being read{status_note}",
                format_bytes(opts.max_output_bytes)
            ));
        }
        ReportFile::Bytes(report) => &report.bytes,
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(format!(
            "exited with status {code} and an empty output.json"
        ));
    }
    let mut report = match parse_bounded(bytes, opts.max_depth) {
        Ok(Value::Object(report)) => report,
        Ok(other) => {
            return Err(format!(
                "output.json holds {}, not a JSON object{status_note}",
                kind(&other)
            ));
        }
        Err(ParseProblem::Invalid(error)) => {
            return Err(format!(
                "output.json is not valid JSON: {error}{status_note}"
            ));
        }
        Err(ParseProblem::TooDeep {
            limit,
            line,
            column,
        }) => {
            return Err(format!(
                "output.json nests arrays and objects deeper than {limit} levels (line {line}, column {column}){status_note}"
            ));
        }
    };
    // The key is the runner's: a worker must not be able to speak in its name, wherever it
    // puts it.
    for (key, value) in report.iter_mut() {
        strip_runner_warnings(value, &shown(key), warnings);
    }
    if report.shift_remove(RUNNER_WARNINGS).is_some() {
        warnings.push(format!(
            "removed the worker's own `{RUNNER_WARNINGS}`: the key is reserved for the runner"
        ));
    }
    match report.get("success") {
        Some(Value::Bool(true)) => {
            let report = validate_success(report, out, warnings).map_err(|e| e + &status_note)?;
            // Cortex's process and docker runners accept a report whatever the exit status; so
            // does this, but it says so.
            if code != 0 {
                warnings.push(format!(
                    "the worker exited with status {code} after writing a success report"
                ));
            }
            Ok(Verdict::Success(report))
        }
        Some(Value::Bool(false)) => match report.get("errorMessage") {
            Some(Value::String(message)) => Ok(Verdict::WorkerFailure(message.clone())),
            _ => Err(format!(
                "the worker reported failure without a string errorMessage{status_note}"
            )),
        },
        Some(other) => Err(format!(
            "output.json has a `success` that is {}, not a boolean{status_note}",
            kind(other)
        )),
        None => Err(format!("output.json has no boolean `success`{status_note}")),
    }
}

/// Removes every `runnerWarnings` key below `value` (at `path` in the report), with a warning
/// for each. The report's nesting is bounded by its parser ([`FinaliseOptions::max_depth`]).
fn strip_runner_warnings(value: &mut Value, path: &str, warnings: &mut Vec<String>) {
    match value {
        Value::Object(object) => {
            for (key, child) in object.iter_mut() {
                strip_runner_warnings(child, &format!("{path}.{}", shown(key)), warnings);
            }
            if object.shift_remove(RUNNER_WARNINGS).is_some() {
                warnings.push(format!(
                    "removed the worker's own `{path}.{RUNNER_WARNINGS}`: the key is reserved for the runner"
                ));
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                strip_runner_warnings(item, &format!("{path}[{index}]"), warnings);
            }
        }
        _ => {}
    }
}

/// The failure report: `head` (the cause, or the worker's own message) and `tails`, the
/// runner's own redaction of the real input (never the worker's copy), and the warnings.
///
/// Cortex keeps only `errorMessage` and `input` of a failed job, so the warnings are also
/// appended to the message, where its users can read them. Everything in it that may quote the
/// worker (its message, the names of what it left in `output/`) is scrubbed of the job's
/// secrets; `tails` are scrubbed already.
fn failure(
    folder: &JobFolder,
    head: &str,
    tails: &str,
    warnings: &mut Vec<String>,
    secrets: &Secrets,
) -> Value {
    cap_warnings(warnings);
    for warning in warnings.iter_mut() {
        *warning = secrets.scrub(warning);
    }
    let mut message = secrets.scrub(head);
    message.push_str(tails);
    if !warnings.is_empty() {
        message.push_str("\n--- runner warnings ---");
        for warning in warnings.iter() {
            message.push('\n');
            message.push_str(warning);
        }
    }
    let mut report = Map::new();
    report.insert("success".into(), Value::Bool(false));
    report.insert("errorMessage".into(), Value::String(message));
    report.insert("input".into(), folder.input().redacted());
    if !warnings.is_empty() {
        report.insert(RUNNER_WARNINGS.into(), warnings_value(warnings));
    }
    Value::Object(report)
}

/// The stderr and stdout tails to append to an error message: each scrubbed of the job's
/// secrets whole, then cut to its last [`FinaliseOptions::max_tail_bytes`], then scrubbed of a
/// partial secret at the cut, with a note of how much was left out.
fn tails(end: &WorkerEnd, opts: &FinaliseOptions, secrets: &Secrets) -> String {
    let mut text = String::new();
    for (name, tail, dropped) in [
        ("stderr", &end.stderr_tail, end.stderr_dropped),
        ("stdout", &end.stdout_tail, end.stdout_dropped),
    ] {
        let (kept, cut) = secrets.tail(tail.trim_end(), opts.max_tail_bytes, dropped > 0);
        if kept.is_empty() {
            continue;
        }
        text.push_str(&format!("\n--- {name} (tail) ---\n"));
        let whole = u64::try_from(tail.len()).unwrap_or(u64::MAX);
        if dropped > 0 || cut {
            text.push_str(&format!(
                "[{} bytes in all; last {} shown]\n",
                dropped.saturating_add(whole),
                kept.len()
            ));
        }
        text.push_str(&kept);
    }
    text
}

fn cap_warnings(warnings: &mut Vec<String>) {
    if warnings.len() > MAX_WARNINGS {
        let more = warnings.len() - MAX_WARNINGS;
        warnings.truncate(MAX_WARNINGS);
        warnings.push(format!("... and {more} more warnings"));
    }
}

fn warnings_value(warnings: &[String]) -> Value {
    Value::Array(warnings.iter().cloned().map(Value::String).collect())
}
