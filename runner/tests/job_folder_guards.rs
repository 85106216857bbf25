//! `cortex-runner job` on folders a worker or a caller made hostile: the caps on `output/` from
//! the configuration (`jobs.max_artifacts`, `jobs.max_artifact_mib`,
//! `jobs.max_artifact_total_mib`), their ranges, and job folders whose input is a symlink or
//! holds levels Cortex would refuse (exit 2 with the exact reason).

use std::path::Path;
use std::process::Output;

use cortex_job::{JobFolder, JobInput};
use serde_json::Value;

mod common;

use common::config;

fn job(config: &Path, folder: &Path) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_cortex-runner"))
        .args(["job", "--analyzer", "ValidateObservable", "--config"])
        .arg(config)
        .arg(folder)
        .env_remove("CORTEX_RUNNER_CONFIG")
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).trim_end().to_owned()
}

fn folder(dir: &Path) -> JobFolder {
    let input = JobInput::new("domain", "thehive-project.org");
    JobFolder::create(dir, "job1", &input, None).unwrap()
}

#[test]
fn a_worker_that_leaves_more_entries_than_jobs_max_artifacts_fails_its_job() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "max_artifacts = 5");
    let folder = folder(dir.path());
    for i in 0..20 {
        std::fs::write(folder.output_dir().join(format!("left-{i}")), "x").unwrap();
    }

    let out = job(&cfg, folder.path());

    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["success"], false);
    assert_eq!(
        report["errorMessage"],
        "the worker left more than 5 entries in output/ (jobs.max_artifacts)\n\
         --- runner warnings ---\n\
         removed everything the worker left in output/ (21 entries)"
    );
    let left: Vec<_> = std::fs::read_dir(folder.output_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["output.json"]);
}

#[test]
fn output_caps_outside_their_ranges_are_setup_errors_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let folder = folder(dir.path());
    let cases = [
        (
            "max_artifacts = 0",
            "jobs.max_artifacts",
            "1 to 1000000",
            "0",
        ),
        (
            "max_artifacts = 1000001",
            "jobs.max_artifacts",
            "1 to 1000000",
            "1000001",
        ),
        (
            "max_artifact_mib = 0",
            "jobs.max_artifact_mib",
            "1 to 1048576",
            "0",
        ),
        (
            "max_artifact_mib = 17592186044417",
            "jobs.max_artifact_mib",
            "1 to 1048576",
            "17592186044417",
        ),
        (
            "max_artifact_total_mib = 1048577",
            "jobs.max_artifact_total_mib",
            "1 to 1048576",
            "1048577",
        ),
    ];
    for (line, key, range, value) in cases {
        let cfg = config(dir.path(), line);
        let out = job(&cfg, folder.path());
        assert_eq!(out.status.code(), Some(2), "{line}: {}", stderr(&out));
        assert_eq!(
            stderr(&out),
            format!(
                "error: config {}: `{key}` must be an integer from {range}, found {value}",
                cfg.display()
            ),
            "{line}"
        );
    }
}

#[test]
fn a_symlinked_input_folder_or_input_json_is_refused_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "");
    let folder = folder(dir.path());
    let input = folder.input_dir();
    let moved = dir.path().join("real-input");
    std::fs::rename(&input, &moved).unwrap();
    std::os::unix::fs::symlink(&moved, &input).unwrap();

    let out = job(&cfg, folder.path());

    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        format!(
            "error: {} is a symlink: the runner follows no symlink in a job folder (it would read whatever the link points at, and show it to the worker); pass the folder Cortex created",
            input.display()
        )
    );

    std::fs::remove_file(&input).unwrap();
    std::fs::create_dir(&input).unwrap();
    std::os::unix::fs::symlink(moved.join("input.json"), input.join("input.json")).unwrap();
    let out = job(&cfg, folder.path());
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        format!(
            "error: {} is a symlink: the runner follows no symlink in a job folder (it would read whatever the link points at, and show it to the worker); pass the folder Cortex created",
            input.join("input.json").display()
        )
    );
}

#[test]
fn an_input_json_with_a_tlp_cortex_would_refuse_is_an_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "");
    let folder = folder(dir.path());
    let path = folder.input_dir().join("input.json");
    std::fs::write(
        &path,
        r#"{"data":"thehive-project.org","dataType":"domain","tlp":99999999999,"pap":2}"#,
    )
    .unwrap();

    let out = job(&cfg, folder.path());

    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        format!(
            "error: {}: `tlp` is 99999999999, outside the levels Cortex accepts (0 to 3)",
            path.display()
        )
    );
}
