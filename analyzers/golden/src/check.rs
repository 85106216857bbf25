//! Runs a worker on every case of a corpus and reports each way a case differs from its golden.

use std::fmt;
use std::fs;
use std::path::Path;

use serde_json::Value;

use crate::compare::differences;
use crate::corpus::{Case, Corpus};
use crate::job::{Ended, JobFolder, run_binary};
use crate::normalise::{file_artifacts, long_strings, relax};

/// One way a case does not reproduce the original.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The exit status does not fit the golden's `success`: a worker exits 0 after a success
    /// report and 1 after a failure report, as cortexutils does.
    #[error("exit status {found}, expected {expected} (expected.json's success is {success}); {detail}",
        found = .found.map_or_else(|| "none".to_owned(), |c| c.to_string()))]
    ExitStatus {
        /// The status the golden calls for.
        expected: i32,
        /// The worker's status, `None` when it did not exit by itself.
        found: Option<i32>,
        /// The golden's `success`.
        success: bool,
        /// How the run ended, in words.
        detail: String,
    },
    /// The worker left no readable `output/output.json`.
    #[error("no output/output.json ({source}); the run: {detail}")]
    NoReport {
        /// Why it could not be read.
        source: std::io::Error,
        /// How the run ended, in words.
        detail: String,
    },
    /// `output/output.json` is not JSON.
    #[error("output/output.json is not JSON: {0}")]
    ReportNotJson(#[source] serde_json::Error),
    /// A file artifact names a file that is not in `output/`.
    #[error("file artifact `{name}` cannot be read from output/: {source}")]
    ArtifactUnreadable {
        /// The artifact's `file`.
        name: String,
        /// Why it could not be read.
        source: std::io::Error,
    },
    /// The normalised, relaxed reports differ; one line per difference, by JSON pointer.
    #[error("the report differs from expected.json:\n    {}", .0.join("\n    "))]
    ReportDiffers(Vec<String>),
}

/// What checking one corpus found.
#[derive(Debug)]
pub struct Report {
    corpus: String,
    checked: usize,
    failures: Vec<(String, Failure)>,
}

impl Report {
    /// How many cases were run.
    pub fn checked(&self) -> usize {
        self.checked
    }

    /// Every failure, with its case's name (a case may fail in more than one way).
    pub fn failures(&self) -> &[(String, Failure)] {
        &self.failures
    }

    /// Prints how many cases were checked, and panics listing every failure if there is one.
    pub fn assert_passed(&self) {
        assert_passed(std::slice::from_ref(self));
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (case, failure) in &self.failures {
            writeln!(f, "{}/{case}: {failure}", self.corpus)?;
        }
        Ok(())
    }
}

/// [`Report::assert_passed`] for several corpora at once, so that one test reports them all.
///
/// # Panics
///
/// When a case of any of them failed.
pub fn assert_passed(reports: &[Report]) {
    for report in reports {
        println!("{}: {} cases checked", report.corpus, report.checked);
    }
    let checked: usize = reports.iter().map(|r| r.checked).sum();
    let failing: usize = reports
        .iter()
        .map(|r| {
            let mut cases: Vec<&str> = r.failures.iter().map(|(case, _)| case.as_str()).collect();
            cases.dedup();
            cases.len()
        })
        .sum();
    let listed: String = reports.iter().map(ToString::to_string).collect();
    assert!(
        failing == 0,
        "{failing} of {checked} cases differ from the original:\n{listed}"
    );
}

impl Corpus {
    /// Runs the native worker binary `bin` on every case (see [`Corpus::check`]).
    pub fn check_binary(&self, bin: impl AsRef<Path>) -> Report {
        self.check(|job| run_binary(bin.as_ref(), job))
    }

    /// [`Corpus::check_binary`] for corpora whose inputs hold placeholders (the network
    /// analyzers' `STANDIN_PORT`, `STANDIN_CA_PEM`); see [`Corpus::check_filled`].
    ///
    /// # Panics
    ///
    /// When a job's `input.json` or `output.json` cannot be read or written back.
    pub fn check_binary_filled(
        &self,
        bin: impl AsRef<Path>,
        fill: impl Fn(&Value) -> Value,
        restore: impl Fn(&Value) -> Value,
    ) -> Report {
        self.check_filled(|job| run_binary(bin.as_ref(), job), fill, restore)
    }

    /// [`Corpus::check`] for corpora whose inputs hold placeholders: `fill` rewrites each case's
    /// `input/input.json` before `run`, and `restore` rewrites `output/output.json` after it
    /// (a failure report echoes the input), before the comparison.
    ///
    /// # Panics
    ///
    /// When a job's `input.json` or `output.json` cannot be read or written back.
    pub fn check_filled(
        &self,
        mut run: impl FnMut(&JobFolder) -> Ended,
        fill: impl Fn(&Value) -> Value,
        restore: impl Fn(&Value) -> Value,
    ) -> Report {
        self.check(|job| {
            let input = job.input().join("input.json");
            let text = fs::read(&input).unwrap_or_else(|e| panic!("{}: {e}", input.display()));
            let value: Value = serde_json::from_slice(&text)
                .unwrap_or_else(|e| panic!("{}: {e}", input.display()));
            fs::write(&input, serde_json::to_vec(&fill(&value)).expect("JSON"))
                .unwrap_or_else(|e| panic!("{}: {e}", input.display()));
            let ended = run(job);
            let output = job.output().join("output.json");
            if let Ok(written) = fs::read(&output)
                && let Ok(report) = serde_json::from_slice::<Value>(&written)
            {
                fs::write(
                    &output,
                    serde_json::to_vec(&restore(&report)).expect("JSON"),
                )
                .unwrap_or_else(|e| panic!("{}: {e}", output.display()));
            }
            ended
        })
    }

    /// Runs `run` on a fresh job folder for every case, generating large cases first, and
    /// compares what it wrote with the golden: the exit status with the golden's `success`,
    /// then the report, after [`file_artifacts`] (port's side), [`long_strings`] and the case's
    /// [`relax`]ations (both sides), with [`Corpus::key_order`].
    pub fn check(&self, mut run: impl FnMut(&JobFolder) -> Ended) -> Report {
        let mut report = Report {
            corpus: self.name().to_owned(),
            checked: 0,
            failures: Vec::new(),
        };
        for case in self.cases() {
            case.generate_if_needed();
            let job = JobFolder::for_case(&case);
            let ended = run(&job);
            for failure in self.compare(&case, &job, ended) {
                report.failures.push((case.name().to_owned(), failure));
            }
            report.checked += 1;
        }
        report
    }

    /// Every way the run of `case` in `job` differs from the golden.
    fn compare(&self, case: &Case, job: &JobFolder, ended: Ended) -> Vec<Failure> {
        let mut failures = Vec::new();
        let mut expected = long_strings(case.expected());
        let success = expected["success"] == true;
        let expected_code = if success { 0 } else { 1 };
        if ended.code != Some(expected_code) {
            failures.push(Failure::ExitStatus {
                expected: expected_code,
                found: ended.code,
                success,
                detail: ended.detail.clone(),
            });
        }
        let written = match fs::read(job.output().join("output.json")) {
            Ok(written) => written,
            Err(source) => {
                failures.push(Failure::NoReport {
                    source,
                    detail: ended.detail,
                });
                return failures;
            }
        };
        let mut actual: Value = match serde_json::from_slice(&written) {
            Ok(actual) => actual,
            Err(e) => {
                failures.push(Failure::ReportNotJson(e));
                return failures;
            }
        };
        if let Err(failure) = file_artifacts(&mut actual, &job.output()) {
            failures.push(failure);
            return failures;
        }
        let mut actual = long_strings(actual);
        let pointers = self.relaxed(case.name());
        relax(&mut actual, pointers);
        relax(&mut expected, pointers);
        let found = differences(&expected, &actual, self.key_order());
        if !found.is_empty() {
            failures.push(Failure::ReportDiffers(found));
        }
        failures
    }
}
