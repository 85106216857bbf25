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

use crate::folder::JobFolder;
use crate::input::scrub_secrets;
use crate::output_dir::{OutputDir, ReportFile};
use crate::parse::{MAX_PARSE_DEPTH, ParseProblem, parse_bounded};
use crate::validate::{kind, validate_success};
use serde_json::{Map, Value};
use std::io;
use std::path::PathBuf;

/// The most warnings a report carries; more are summed up in one last warning, so that a worker
/// that leaves a million symlinks cannot blow up the report.
pub const MAX_WARNINGS: usize = 100;

/// The key under which the runner's warnings appear: in `full` on success, at the top level on
/// failure.
pub const RUNNER_WARNINGS: &str = "runnerWarnings";

/// How the worker stopped, in terms every backend can state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerEnd {
    /// Exit status or failure.
    pub status: EndStatus,
    /// The end of the worker's stdout (with a truncation note from the caller, if any).
    pub stdout_tail: String,
    /// The end of the worker's stderr (with a truncation note from the caller, if any).
    pub stderr_tail: String,
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
}

/// Limits applied to the worker's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinaliseOptions {
    /// The largest `output.json` read, in bytes. Default 16 MiB.
    pub max_output_bytes: u64,
    /// The deepest nesting of arrays and objects accepted in `output.json` (the top-level object
    /// is depth 1). Default and maximum [`MAX_PARSE_DEPTH`] (127, serde_json's own limit).
    pub max_depth: usize,
}

impl Default for FinaliseOptions {
    fn default() -> Self {
        Self {
            max_output_bytes: 16 * 1024 * 1024,
            max_depth: MAX_PARSE_DEPTH,
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
    let mut warnings = Vec::new();
    let open_error = |source| FinaliseError::OpenOutput {
        path: folder.output_dir(),
        source,
    };
    let mut out = OutputDir::open(folder.path(), &mut warnings).map_err(open_error)?;
    out.sanitise(&mut warnings).map_err(open_error)?;
    // A stopped worker fails the job whatever it wrote, so its report is not even read.
    let (read, outcome) = match &end.status {
        EndStatus::Failed { cause } => (None, Err(cause.clone())),
        EndStatus::Exited(code) => {
            let read = out.read_report(opts.max_output_bytes);
            let outcome = judge(&read, *code, opts, &out, &mut warnings);
            (Some(read), outcome)
        }
    };
    let report = match outcome {
        Ok(Verdict::Success(mut report)) => {
            if let Some(Value::Object(full)) = report.get_mut("full") {
                // The key is the runner's: a worker must not be able to speak in its name.
                if full.shift_remove(RUNNER_WARNINGS).is_some() {
                    warnings.push(format!(
                        "removed the worker's own `full.{RUNNER_WARNINGS}`: the key is reserved for the runner"
                    ));
                }
                cap_warnings(&mut warnings);
                if !warnings.is_empty() {
                    full.insert(RUNNER_WARNINGS.into(), warnings_value(&warnings));
                }
            }
            Value::Object(report)
        }
        Ok(Verdict::WorkerFailure(message)) => failure(folder, message, &mut warnings),
        Err(cause) => {
            let message = cause + &tails(folder, end);
            failure(folder, message, &mut warnings)
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
    // Problems with the report say the exit status too when it was not 0.
    let status_note = if code == 0 {
        String::new()
    } else {
        format!(" (the worker exited with status {code})")
    };
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
                format!(" ({})", human(size))
            } else {
                String::new()
            };
            return Err(format!(
                "output.json is {size} bytes{shown}, limit {}{status_note}",
                human(opts.max_output_bytes)
            ));
        }
        ReportFile::TooLarge(None) => {
            return Err(format!(
                "output.json grew past the limit of {} while being read{status_note}",
                human(opts.max_output_bytes)
            ));
        }
        ReportFile::Bytes(report) => &report.bytes,
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(format!(
            "exited with status {code} and an empty output.json"
        ));
    }
    let report = match parse_bounded(bytes, opts.max_depth) {
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

/// The failure report: the message, the runner's own redaction of the real input (never the
/// worker's copy), and the warnings.
///
/// Cortex keeps only `errorMessage` and `input` of a failed job, so the warnings are also
/// appended to the message, where its users can read them.
fn failure(folder: &JobFolder, mut message: String, warnings: &mut Vec<String>) -> Value {
    cap_warnings(warnings);
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

/// The stderr and stdout tails to append to an error message, secrets scrubbed.
fn tails(folder: &JobFolder, end: &WorkerEnd) -> String {
    let secrets = folder.input().secret_values();
    let mut text = String::new();
    for (name, tail) in [("stderr", &end.stderr_tail), ("stdout", &end.stdout_tail)] {
        let tail = tail.trim_end();
        if !tail.is_empty() {
            text.push_str(&format!(
                "\n--- {name} (tail) ---\n{}",
                scrub_secrets(tail, &secrets)
            ));
        }
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

/// A byte count for people: whole KiB/MiB/GiB when exact, else one decimal; bytes below 1 KiB.
pub(crate) fn human(bytes: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    for (size, unit) in UNITS {
        if bytes >= size {
            return if bytes.is_multiple_of(size) {
                format!("{} {unit}", bytes / size)
            } else {
                format!("{:.1} {unit}", bytes as f64 / size as f64)
            };
        }
    }
    format!("{bytes} bytes")
}

#[cfg(test)]
mod tests {
    use super::human;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human(268_435_456), "256 MiB");
        assert_eq!(human(16 * 1024 * 1024), "16 MiB");
        assert_eq!(human(1536), "1.5 KiB");
        assert_eq!(human(3 << 30), "3 GiB");
        assert_eq!(human(100), "100 bytes");
    }
}
