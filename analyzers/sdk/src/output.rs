//! Where a worker's report goes, and the failure report cortexutils' `Worker.error` writes.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::error::{Error, Result};
use crate::pyjson::to_python_json;

/// Where the report is written. cortexutils writes `<job>/output/output.json`, or, in its old
/// mode where the job came on standard input because `input/input.json` did not exist, to
/// standard output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// `<job folder>/output/output.json`.
    JobFolder(PathBuf),
    /// Standard output (the job was read from standard input).
    Stdout,
}

impl Output {
    /// Writes `report` in Python's `json.dump` format. Like cortexutils, it first creates
    /// `output/` if it is missing and ignores a failure to do so (the open reports it).
    pub fn write(&self, report: &Value) -> Result<()> {
        let text = to_python_json(report);
        match self {
            Output::JobFolder(dir) => {
                let output_dir = dir.join("output");
                let _ = std::fs::create_dir_all(&output_dir);
                let path = output_dir.join("output.json");
                std::fs::write(&path, text).map_err(|source| Error::WriteOutput { path, source })
            }
            Output::Stdout => {
                let mut stdout = std::io::stdout().lock();
                stdout
                    .write_all(text.as_bytes())
                    .and_then(|()| stdout.flush())
                    .map_err(|source| Error::WriteOutput {
                        path: PathBuf::from("<stdout>"),
                        source,
                    })
            }
        }
    }

    /// The job folder, when there is one.
    pub fn job_directory(&self) -> Option<&Path> {
        match self {
            Output::JobFolder(dir) => Some(dir),
            Output::Stdout => None,
        }
    }
}

/// cortexutils' secret phrases: a top-level `config` key containing one of them
/// (case-insensitively) is replaced by `"REMOVED"` in a failure report.
pub const DEFAULT_SECRET_PHRASES: [&str; 3] = ["key", "password", "secret"];

/// Replaces, in place, every top-level `config` value whose lower-cased key contains one of
/// `secret_phrases` with `"REMOVED"`, as `Worker.error` does. Nested keys are left alone, as
/// cortexutils leaves them.
pub fn redact_secrets(input: &mut Value, secret_phrases: &[String]) {
    if let Some(Value::Object(config)) = input.get_mut("config") {
        for (key, value) in config.iter_mut() {
            let lower = key.to_lowercase();
            if secret_phrases
                .iter()
                .any(|phrase| lower.contains(phrase.as_str()))
            {
                *value = Value::String("REMOVED".to_owned());
            }
        }
    }
}

/// A worker that has stopped with an error: the failure report, ready to be written.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The `errorMessage` of the report.
    pub message: String,
    /// The job input with its secrets already replaced by `"REMOVED"`.
    pub input: Value,
    /// Where the report goes.
    pub output: Output,
}

impl Failure {
    /// Builds the failure report for `error`, redacting `input` with `secret_phrases`.
    pub fn new(error: &Error, mut input: Value, secret_phrases: &[String], output: Output) -> Self {
        redact_secrets(&mut input, secret_phrases);
        Failure {
            message: error.to_string(),
            input,
            output,
        }
    }

    /// `{"success": false, "input": ..., "errorMessage": ...}`, keys in cortexutils' order.
    pub fn report(&self) -> Value {
        json!({"success": false, "input": self.input, "errorMessage": self.message})
    }

    /// Writes the report.
    pub fn write(&self) -> Result<()> {
        self.output.write(&self.report())
    }

    /// Writes the report and exits with status 1, as `Worker.error` does (`sys.exit(1)`). A
    /// failure to write is printed on standard error; the exit status is 1 either way.
    pub fn exit(&self) -> ! {
        if let Err(e) = self.write() {
            eprintln!("cortex-sdk: {e}; the failure was: {}", self.message);
        }
        std::process::exit(1)
    }
}

/// An empty JSON object, the input cortexutils reports when it could not read one.
pub(crate) fn empty_object() -> Value {
    Value::Object(Map::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phrases() -> Vec<String> {
        DEFAULT_SECRET_PHRASES
            .iter()
            .map(|s| (*s).to_owned())
            .collect()
    }

    #[test]
    fn redaction_replaces_top_level_config_secrets_only() {
        let mut input = json!({"data": "my-key", "config": {
            "key": "k", "API_KEY": "k2", "Password": "p", "client_secret": "s", "username": "u",
            "keyring": ["x"], "nested": {"password": "stays"}, "max_tlp": 2}});
        redact_secrets(&mut input, &phrases());
        assert_eq!(
            input,
            json!({"data": "my-key", "config": {
            "key": "REMOVED", "API_KEY": "REMOVED", "Password": "REMOVED", "client_secret": "REMOVED",
            "username": "u", "keyring": "REMOVED", "nested": {"password": "stays"}, "max_tlp": 2}})
        );
    }

    #[test]
    fn failure_report_is_written_with_redacted_input_in_python_format() {
        let dir = tempfile::tempdir().unwrap();
        let input = json!({"dataType": "ip", "config": {"apikey": "secret!"}});
        let failure = Failure::new(
            &Error::msg("boom"),
            input,
            &phrases(),
            Output::JobFolder(dir.path().into()),
        );
        failure.write().unwrap();
        let text = std::fs::read_to_string(dir.path().join("output/output.json")).unwrap();
        assert_eq!(
            text,
            r#"{"success": false, "input": {"dataType": "ip", "config": {"apikey": "REMOVED"}}, "errorMessage": "boom"}"#
        );
    }
}
