//! cortexutils' old mode: when `<job>/input/input.json` does not exist and standard input is not
//! a terminal, the job is read from standard input and the report goes to standard output. The
//! worker runs in a child process (this test binary, re-run with an environment variable).

use std::io::Write;
use std::process::{Command, Stdio};

use cortex_sdk::WorkerOptions;
use cortex_sdk::serde_json::{self, Value, json};

const CHILD_JOB: &str = "CORTEX_SDK_STDIN_TEST_JOB";

/// Runs the child test with `stdin`; returns its exit status and the report it printed.
fn run_child(test_name: &str, stdin: &str) -> (Option<i32>, Value) {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test_name, "--nocapture", "--test-threads=1"])
        .env(CHILD_JOB, dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    // The test harness prints its own lines first; the report starts at the first `{"success"`.
    let start = text
        .find("{\"success\"")
        .unwrap_or_else(|| panic!("no report in {text:?}"));
    let report = serde_json::Deserializer::from_str(&text[start..])
        .into_iter::<Value>()
        .next()
        .unwrap()
        .unwrap();
    assert!(
        !dir.path().join("output").exists(),
        "nothing is written to the job folder"
    );
    (out.status.code(), report)
}

/// In the child: run an analyzer on a job folder with no `input.json`, then exit with its status.
fn child(job: &str) -> ! {
    let options = WorkerOptions {
        job_directory: Some(job.into()),
        secret_phrases: None,
    };
    let code = cortex_sdk::run_analyzer_fn_with(options, |a| Ok(json!({"got": a.get_data_str()?})));
    std::process::exit(if code == std::process::ExitCode::SUCCESS {
        0
    } else {
        1
    })
}

#[test]
fn a_job_on_stdin_reports_on_stdout() {
    if let Ok(job) = std::env::var(CHILD_JOB) {
        child(&job);
    }
    let input = json!({"dataType": "ip", "data": "1.2.3.4"}).to_string();
    let (code, report) = run_child("a_job_on_stdin_reports_on_stdout", &input);
    assert_eq!(code, Some(0));
    assert_eq!(
        report,
        json!({"success": true, "summary": {}, "artifacts": [], "operations": [], "full": {"got": "1.2.3.4"}})
    );
}

#[test]
fn a_bad_job_on_stdin_fails_on_stdout() {
    if let Ok(job) = std::env::var(CHILD_JOB) {
        child(&job);
    }
    let (code, report) = run_child("a_bad_job_on_stdin_fails_on_stdout", "");
    assert_eq!(code, Some(1));
    assert_eq!(
        report,
        json!({"success": false, "input": {}, "errorMessage": "invalid <stdin>: EOF while parsing a value at line 1 column 0"})
    );
}
