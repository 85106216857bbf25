//! The SDK's error type: every error ends the job with a cortexutils failure report.

use std::path::PathBuf;

/// The result type of the SDK.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a worker stops. Whatever the variant, the runner turns it into
/// `{"success": false, "input": ..., "errorMessage": <Display of the error>}`, the report
/// cortexutils' `Worker.error(message)` writes.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A message for the failure report, exactly as given: cortexutils' `self.error(message)`.
    #[error("{0}")]
    Message(String),
    /// `input/input.json` could not be read.
    #[error("cannot read {}: {source}", path.display())]
    ReadInput {
        /// The file that could not be read.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// `input/input.json` is not a JSON object.
    #[error("invalid {}: {reason}", path.display())]
    InvalidInput {
        /// The file that holds the invalid input.
        path: PathBuf,
        /// What is wrong with it (the JSON parser's message, or "not a JSON object").
        reason: String,
    },
    /// The report or an artifact file could not be written to `output/`.
    #[error("cannot write {}: {source}", path.display())]
    WriteOutput {
        /// The file or folder that could not be written.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// An operation Python would refuse with a `TypeError` (for example comparing a string TLP
    /// with a number, or extracting artifacts from a report that is a number). cortexutils
    /// crashes with a traceback there; the SDK writes a failure report with the same message.
    #[error("{0}")]
    Type(String),
}

impl Error {
    /// A failure with this exact message, like cortexutils' `self.error(message)`.
    pub fn msg(message: impl Into<String>) -> Self {
        Error::Message(message.into())
    }
}

impl From<String> for Error {
    fn from(message: String) -> Self {
        Error::Message(message)
    }
}

impl From<&str> for Error {
    fn from(message: &str) -> Self {
        Error::Message(message.to_owned())
    }
}
