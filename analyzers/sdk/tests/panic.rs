//! A panic in analyzer code becomes cortexutils' failure report and exit status 1, not a crash.
//! The panicking analyzer runs in a child process (this test binary, re-run with an environment
//! variable naming the job folder), because the SDK's panic hook ends the process.

use std::path::Path;
use std::process::Command;

use cortex_sdk::serde_json::{self, Value, json};
use cortex_sdk::{Analyze, Analyzer, Hooks, Result, WorkerOptions};

const CHILD_JOB: &str = "CORTEX_SDK_PANIC_TEST_JOB";
const CHILD_WHERE: &str = "CORTEX_SDK_PANIC_TEST_WHERE";

/// Panics in `run` or in the summary hook, as the environment says.
struct Panics {
    in_summary: bool,
}

impl Hooks for Panics {
    fn summary(&self, _a: &Analyzer, _full: &Value) -> Result<Value> {
        if self.in_summary {
            let v: Vec<u8> = Vec::new();
            let _ = v[3];
        }
        Ok(json!({}))
    }
}

impl Analyze for Panics {
    fn run(&self, a: &Analyzer) -> Result<Value> {
        if !self.in_summary {
            panic!("boom on {}", a.get_data_str()?);
        }
        Ok(json!({}))
    }
}

/// In the child: run the panicking analyzer. The hook must exit with status 1 before this
/// function returns; status 99 says it did not.
fn child(job: &str) -> ! {
    let in_summary = std::env::var(CHILD_WHERE).as_deref() == Ok("summary");
    let options = WorkerOptions {
        job_directory: Some(job.into()),
        secret_phrases: None,
    };
    let _ = cortex_sdk::run_analyzer_with(options, Panics { in_summary });
    std::process::exit(99)
}

fn run_child(test_name: &str, place: &str) -> (Option<i32>, Value, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("input")).unwrap();
    let input = json!({"dataType": "domain", "data": "evil.example", "config": {"api_key": "k", "user": "u"}});
    std::fs::write(dir.path().join("input/input.json"), input.to_string()).unwrap();
    let status = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test_name, "--nocapture", "--test-threads=1"])
        .env(CHILD_JOB, dir.path())
        .env(CHILD_WHERE, place)
        .output()
        .unwrap();
    let report = read_report(dir.path());
    (status.status.code(), report, dir)
}

fn read_report(dir: &Path) -> Value {
    let text =
        std::fs::read_to_string(dir.join("output/output.json")).expect("output.json written");
    serde_json::from_str(&text).unwrap()
}

#[test]
fn panic_in_run_becomes_a_failure_report() {
    if let Ok(job) = std::env::var(CHILD_JOB) {
        child(&job);
    }
    let (code, report, _dir) = run_child("panic_in_run_becomes_a_failure_report", "run");
    assert_eq!(code, Some(1));
    assert_eq!(
        report,
        json!({"success": false, "input": {"dataType": "domain", "data": "evil.example",
               "config": {"api_key": "REMOVED", "user": "u"}}, "errorMessage": "Unexpected Error: boom on evil.example"})
    );
}

#[test]
fn panic_in_a_hook_becomes_a_failure_report() {
    if let Ok(job) = std::env::var(CHILD_JOB) {
        child(&job);
    }
    let (code, report, _dir) = run_child("panic_in_a_hook_becomes_a_failure_report", "summary");
    assert_eq!(code, Some(1));
    assert_eq!(report["success"], json!(false));
    assert_eq!(
        report["errorMessage"],
        json!("Unexpected Error: index out of bounds: the len is 0 but the index is 3")
    );
}
