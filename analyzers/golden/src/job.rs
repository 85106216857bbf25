//! A fresh Cortex job folder per case, and how a worker's run on it ended.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::corpus::{Case, NOT_INPUT};

/// A temporary job folder laid out as Cortex's process runner lays it out: `input/` holding the
/// case's files (all but [`NOT_INPUT`]) and an empty `output/`. Removed when dropped.
#[derive(Debug)]
pub struct JobFolder {
    dir: tempfile::TempDir,
}

impl JobFolder {
    /// Copies `case` into a new job folder.
    ///
    /// # Panics
    ///
    /// When the temporary folder cannot be made or a case file cannot be copied.
    pub fn for_case(case: &Case) -> Self {
        let dir = tempfile::tempdir().expect("a temporary job folder");
        let job = Self { dir };
        let (input, output) = (job.input(), job.output());
        fs::create_dir(&input).expect("the job's input folder");
        fs::create_dir(&output).expect("the job's output folder");
        let entries =
            fs::read_dir(case.dir()).unwrap_or_else(|e| panic!("{}: {e}", case.dir().display()));
        for entry in entries {
            let entry = entry.unwrap_or_else(|e| panic!("{}: {e}", case.dir().display()));
            let name = entry.file_name();
            let is_file = entry.file_type().is_ok_and(|t| t.is_file());
            if is_file && !NOT_INPUT.iter().any(|skip| name == *skip) {
                fs::copy(entry.path(), input.join(&name))
                    .unwrap_or_else(|e| panic!("{}: cannot copy: {e}", entry.path().display()));
            }
        }
        job
    }

    /// The job folder, the worker's one argument.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `input/`.
    pub fn input(&self) -> PathBuf {
        self.path().join("input")
    }

    /// `output/`, where the worker writes `output.json` and its file artifacts.
    pub fn output(&self) -> PathBuf {
        self.path().join("output")
    }
}

/// How a worker's run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    /// The exit status, or `None` when the worker did not exit by itself (killed by a signal,
    /// trapped, stopped by a sandbox limit).
    pub code: Option<i32>,
    /// The run in words, shown when the case fails: the process status, the sandbox's record.
    pub detail: String,
}

/// Runs the native worker `bin` on `job` as Cortex's process runner does (`<bin> <job folder>`),
/// its standard output and error going to the test's.
///
/// # Panics
///
/// When `bin` cannot be started.
pub fn run_binary(bin: &Path, job: &JobFolder) -> Ended {
    let status = Command::new(bin)
        .arg(job.path())
        .status()
        .unwrap_or_else(|e| panic!("{}: cannot start: {e}", bin.display()));
    let name = bin.file_name().unwrap_or(bin.as_os_str()).to_string_lossy();
    Ended {
        code: status.code(),
        detail: format!("{name} ended with {status}"),
    }
}
