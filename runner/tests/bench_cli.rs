//! `cortex-runner bench` through the binary: the figures it prints, the job root it leaves clean,
//! `--config`, `--compare-process`, and its usage errors.

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use test_programs_artifacts as programs;

fn bench(args: &[&str]) -> (i32, Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cortex-runner"))
        .arg("bench")
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap(), json, stderr)
}

fn entries(dir: &Path) -> usize {
    std::fs::read_dir(dir).unwrap().count()
}

#[test]
fn figures_of_a_concurrent_run_and_a_clean_job_root() {
    let root = tempfile::tempdir().unwrap();
    let root_arg = root.path().to_str().unwrap();
    let (code, out, stderr) = bench(&[
        "--module",
        programs::HONEST,
        "--jobs",
        "24",
        "--concurrency",
        "2",
        "--job-root",
        root_arg,
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(out["jobs"], 24);
    assert_eq!(out["concurrency"], 2);
    assert_eq!(out["failures"], 0);
    assert_eq!(out["job_root"], root_arg);
    let latency = &out["latency_us"];
    let p = |k: &str| latency[k].as_u64().unwrap();
    assert!(p("p50") > 0 && p("p50") <= p("p90") && p("p90") <= p("p99") && p("p99") <= p("max"));
    let phases = out["phases_p50_us"].as_object().unwrap();
    let names: Vec<&str> = phases.keys().map(String::as_str).collect();
    assert_eq!(names, ["create", "run", "finalise", "read_back", "remove"]);
    assert!(phases["run"].as_u64().unwrap() > 0);
    assert!(out["peak_rss_bytes"].as_u64().unwrap() > 1 << 20);
    assert!(out["jobs_per_s"].as_f64().unwrap() > 0.0);
    assert_eq!(entries(root.path()), 0, "every job folder was removed");
}

#[test]
fn config_reaches_every_job_input() {
    // The SDK refuses a job whose TLP (2, Cortex's default) is above the configured maximum.
    let module = analyzer_artifacts::module_path("ValidateObservable").unwrap();
    let root = tempfile::tempdir().unwrap();
    let root_arg = root.path().to_str().unwrap();
    let common = [
        "--module",
        module,
        "--jobs",
        "3",
        "--data",
        "example.com",
        "--data-type",
        "domain",
        "--job-root",
        root_arg,
    ];
    let (code, out, stderr) = bench(&common);
    assert_eq!((code, &out["failures"]), (0, &Value::from(0)), "{stderr}");
    let mut refused = common.to_vec();
    refused.extend(["--config", r#"{"check_tlp": true, "max_tlp": 1}"#]);
    let (code, out, stderr) = bench(&refused);
    assert_eq!((code, &out["failures"]), (0, &Value::from(3)), "{stderr}");
}

#[test]
fn a_process_comparison_runs_the_same_jobs() {
    let root = tempfile::tempdir().unwrap();
    // `true` exits 0 without a report: every process job fails, none of the sandbox's.
    let (code, out, stderr) = bench(&[
        "--module",
        programs::HONEST,
        "--jobs",
        "4",
        "--job-root",
        root.path().to_str().unwrap(),
        "--compare-process",
        "true",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(out["failures"], 0);
    assert_eq!(out["process"]["command"], "true");
    assert_eq!(out["process"]["failures"], 4);
    assert!(out["ratio"]["p50_process_over_wasm"].as_f64().is_some());
    assert_eq!(entries(root.path()), 0);
}

#[test]
fn usage_errors_exit_2_and_say_what_was_expected() {
    let (code, _, stderr) = bench(&["--module", programs::HONEST, "--config", "[1]"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains(
            r#"invalid value '[1]' for '--config <JSON>': expected a JSON object such as '{"check_tlp": false}', got an array"#
        ),
        "{stderr}"
    );
    let (code, _, stderr) = bench(&["--module", programs::HONEST, "--jobs", "0"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("invalid value '0' for '--jobs <N>': 0 is not in 1..=10000000"),
        "{stderr}"
    );
    let (code, _, stderr) = bench(&["--module", "/nonexistent/x.wasm"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("/nonexistent/x.wasm"), "{stderr}");
}
