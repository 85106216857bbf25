//! `cortex-runner submit` against a stand-in that follows the service contract: long-polls until
//! done, retries on 5xx and 429, waits on the id a 409 names, and writes the failure report
//! itself (exact `errorMessage`, secrets removed from `input`) when the service cannot be
//! reached, refuses the token or the folder, or is lost while the job runs.

mod bridge_common;

use bridge_common::*;
use serde_json::json;

/// `submit` with fast retries (3 attempts, 1 ms apart).
fn submit(server: &str, folder: &cortex_job::JobFolder, extra: &[&str]) -> std::process::Output {
    let path = folder.path().to_str().unwrap();
    let mut args = vec![
        "submit",
        "--server",
        server,
        "--worker",
        "ValidateObservable",
        "--attempts",
        "3",
        "--backoff-ms",
        "1",
    ];
    args.extend_from_slice(extra);
    args.push(path);
    runner(&args)
}

#[test]
fn long_polls_until_done_then_exits_0_with_the_report_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let folder = job_folder(&dir.path().join("jobs"));
    let token = token_file(dir.path());
    let service = StandIn::start(Script {
        token: true,
        running_waits: 2,
        report: success_report(),
        ..Script::default()
    });
    let output = submit(
        &service.url,
        &folder,
        &["--token-file", token.to_str().unwrap()],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(report(&folder), success_report());
    let wait = "GET /v1/jobs/cj-bridge-test/wait?timeout=30s";
    assert_eq!(service.lines(), ["POST /v1/jobs", wait, wait, wait]);
    let seen = service.seen();
    // The canonical absolute folder, as Cortex passes it.
    let canonical = folder.path().canonicalize().unwrap();
    assert_eq!(
        seen[0].body,
        Some(json!({"worker": "ValidateObservable", "job_folder": canonical}))
    );
    for request in &seen {
        assert_eq!(
            request.authorization.as_deref(),
            Some(format!("Bearer {TOKEN}").as_str())
        );
    }
    assert_eq!(
        stderr(&output),
        "job cj-bridge-test (ValidateObservable, wasm): success\n"
    );
    assert!(output.stdout.is_empty());
}

#[test]
fn server_errors_and_429_are_retried_then_the_job_runs() {
    let dir = tempfile::tempdir().unwrap();
    let folder = job_folder(&dir.path().join("jobs"));
    let service = StandIn::start(Script {
        post_errors: [500, 429].into(),
        wait_errors: [503].into(),
        report: success_report(),
        ..Script::default()
    });
    let output = submit(&service.url, &folder, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let wait = "GET /v1/jobs/cj-bridge-test/wait?timeout=30s";
    assert_eq!(
        service.lines(),
        [
            "POST /v1/jobs",
            "POST /v1/jobs",
            "POST /v1/jobs",
            wait,
            wait
        ]
    );
    assert_eq!(report(&folder), success_report());
}

#[test]
fn a_failure_report_from_the_service_exits_1_and_is_left_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let folder = job_folder(&dir.path().join("jobs"));
    let failure = json!({"success": false, "errorMessage": "timed out after 10 s", "input": {}});
    let service = StandIn::start(Script {
        report: failure.clone(),
        ..Script::default()
    });
    let output = submit(&service.url, &folder, &[]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(report(&folder), failure);
    assert_eq!(
        stderr(&output),
        "job cj-bridge-test (ValidateObservable, wasm): failure\n"
    );
}

#[test]
fn an_unreachable_service_gets_a_failure_report_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let folder = job_folder(&dir.path().join("jobs"));
    let url = dead_url();
    let output = submit(&url, &folder, &[]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let message = format!(
        "the cortex-runner service at {url} did not take the job: POST {url}/v1/jobs: no \
         answer after 3 attempts: client error (Connect): tcp connect error: Connection refused \
         (os error 111)"
    );
    assert_eq!(
        report(&folder),
        json!({"success": false, "errorMessage": message, "input": redacted_input()})
    );
    assert_eq!(report(&folder)["input"]["config"]["api_key"], "REMOVED");
    assert_eq!(stderr(&output), format!("failure: {message}\n"));
}

#[test]
fn a_refused_token_gets_a_failure_report_and_is_not_retried() {
    let dir = tempfile::tempdir().unwrap();
    let folder = job_folder(&dir.path().join("jobs"));
    let wrong = dir.path().join("wrong-token");
    std::fs::write(&wrong, "not-the-token\n").unwrap();
    let service = StandIn::start(Script {
        token: true,
        ..Script::default()
    });
    for (extra, name) in [
        (vec![], "missing"),
        (vec!["--token-file", wrong.to_str().unwrap()], "wrong"),
    ] {
        let output = submit(&service.url, &folder, &extra);
        assert_eq!(output.status.code(), Some(1), "{name}: {}", stderr(&output));
        let url = &service.url;
        let message = format!(
            "the cortex-runner service at {url} did not take the job: POST {url}/v1/jobs: 401 \
             Unauthorized: unauthorized: expected the header Authorization: Bearer <token>"
        );
        assert_eq!(
            report(&folder),
            json!({"success": false, "errorMessage": message, "input": redacted_input()}),
            "{name}"
        );
        // The token that was sent appears nowhere.
        assert!(!stderr(&output).contains("not-the-token"));
    }
    assert_eq!(service.lines(), ["POST /v1/jobs", "POST /v1/jobs"]);
}

#[test]
fn a_folder_the_service_refuses_gets_a_failure_report_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let folder = job_folder(&dir.path().join("jobs"));
    let service = StandIn::start(Script {
        refuse_folder: Some("job_folder /elsewhere is outside the job root /jobs".into()),
        ..Script::default()
    });
    let output = submit(&service.url, &folder, &[]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let url = &service.url;
    let message = format!(
        "the cortex-runner service at {url} did not take the job: POST {url}/v1/jobs: 400 Bad \
         Request: invalid job folder: job_folder /elsewhere is outside the job root /jobs"
    );
    assert_eq!(report(&folder)["errorMessage"], message);
    assert_eq!(service.lines(), ["POST /v1/jobs"]);
}

#[test]
fn a_folder_taken_by_another_replica_is_waited_for_under_its_id() {
    let dir = tempfile::tempdir().unwrap();
    let folder = job_folder(&dir.path().join("jobs"));
    let service = StandIn::start(Script {
        taken_by: Some("cj-held-by-b".into()),
        running_waits: 1,
        report: success_report(),
        ..Script::default()
    });
    let output = submit(&service.url, &folder, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let wait = "GET /v1/jobs/cj-held-by-b/wait?timeout=30s";
    assert_eq!(service.lines(), ["POST /v1/jobs", wait, wait]);
    assert_eq!(report(&folder), success_report());
}

#[test]
fn a_service_lost_while_the_job_runs_gets_a_failure_report() {
    let dir = tempfile::tempdir().unwrap();
    let folder = job_folder(&dir.path().join("jobs"));
    let service = StandIn::start(Script {
        running_waits: 1,
        wait_errors: [502, 502, 502, 502].into(),
        ..Script::default()
    });
    let output = submit(&service.url, &folder, &[]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let url = &service.url;
    let message = format!(
        "lost the cortex-runner service at {url} while waiting for job cj-bridge-test: GET \
         {url}/v1/jobs/cj-bridge-test/wait?timeout=30s: 502 Bad Gateway after 3 attempts: \
         scripted failure: status 502 as scripted"
    );
    assert_eq!(
        report(&folder),
        json!({"success": false, "errorMessage": message, "input": redacted_input()})
    );
}

#[test]
fn a_service_that_forgot_the_job_gets_the_folder_again() {
    // A restarted service no longer knows the id: the idempotent submit finds the folder's job
    // again (or starts it), and the wait goes on.
    let dir = tempfile::tempdir().unwrap();
    let folder = job_folder(&dir.path().join("jobs"));
    let service = StandIn::start(Script {
        wait_errors: [404].into(),
        report: success_report(),
        ..Script::default()
    });
    let output = submit(&service.url, &folder, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let wait = "GET /v1/jobs/cj-bridge-test/wait?timeout=30s";
    assert_eq!(
        service.lines(),
        ["POST /v1/jobs", wait, "POST /v1/jobs", wait]
    );
    assert_eq!(report(&folder), success_report());
}

#[test]
fn a_lost_service_whose_claim_says_done_leaves_its_final_report() {
    // A service that ended the job and then stopped: the claim on the shared volume says the
    // report is final, so the bridge keeps it instead of writing its own.
    let dir = tempfile::tempdir().unwrap();
    let folder = job_folder(&dir.path().join("jobs"));
    let failure = json!({"success": false, "errorMessage": "cancelled: the service stopped",
                         "input": {}});
    std::fs::write(folder.output_dir().join("output.json"), failure.to_string()).unwrap();
    std::fs::write(
        folder.path().join(".cortex-runner-claim"),
        r#"{"replica": "a", "state": "done"}"#,
    )
    .unwrap();
    let service = StandIn::start(Script {
        wait_errors: [502, 502, 502].into(),
        ..Script::default()
    });
    let output = submit(&service.url, &folder, &[]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(report(&folder), failure);
    // Without the claim's "done", the same loss is the bridge's own report.
    std::fs::write(
        folder.path().join(".cortex-runner-claim"),
        r#"{"replica": "a", "state": "claimed"}"#,
    )
    .unwrap();
    let service = StandIn::start(Script {
        wait_errors: [502, 502, 502].into(),
        ..Script::default()
    });
    let output = submit(&service.url, &folder, &[]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        report(&folder)["errorMessage"]
            .as_str()
            .unwrap()
            .starts_with("lost the cortex-runner service at "),
        "{}",
        report(&folder)
    );
}

#[test]
fn timeout_cancels_the_job_and_keeps_the_cancellation_report() {
    let dir = tempfile::tempdir().unwrap();
    let folder = job_folder(&dir.path().join("jobs"));
    let service = StandIn::start(Script {
        never_done: true,
        ..Script::default()
    });
    let output = submit(&service.url, &folder, &["--timeout-s", "1"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(
        report(&folder)["errorMessage"],
        "cancelled: deleted through the API"
    );
    let lines = service.lines();
    assert_eq!(lines[0], "POST /v1/jobs");
    assert!(
        lines.contains(&"DELETE /v1/jobs/cj-bridge-test".to_string()),
        "{lines:?}"
    );
    // Every long-poll before the cancellation asked for at most the time left; the one after
    // it waits for the cancelled job's report.
    let delete = lines.iter().position(|l| l.starts_with("DELETE")).unwrap();
    assert!(
        lines[1..delete].iter().all(|l| l.ends_with("timeout=1s")),
        "{lines:?}"
    );
    assert_eq!(
        lines[delete + 1..],
        ["GET /v1/jobs/cj-bridge-test/wait?timeout=14s"]
    );
}

#[test]
fn sigterm_cancels_the_job_in_the_service() {
    let dir = tempfile::tempdir().unwrap();
    let folder = job_folder(&dir.path().join("jobs"));
    let service = StandIn::start(Script {
        never_done: true,
        ..Script::default()
    });
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_cortex-runner"))
        .args([
            "submit",
            "--server",
            &service.url,
            "--worker",
            "ValidateObservable",
            folder.path().to_str().unwrap(),
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Cortex's own job timeout stops its process runner's child with SIGTERM.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !service.lines().iter().any(|l| l.contains("/wait")) {
        assert!(std::time::Instant::now() < deadline, "no wait seen");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(
        report(&folder)["errorMessage"],
        "cancelled: deleted through the API"
    );
    assert!(
        service
            .lines()
            .contains(&"DELETE /v1/jobs/cj-bridge-test".to_string())
    );
}

#[test]
fn an_unreadable_token_file_gets_a_failure_report() {
    let dir = tempfile::tempdir().unwrap();
    let folder = job_folder(&dir.path().join("jobs"));
    let missing = dir.path().join("no-such-token");
    let output = submit(
        "http://127.0.0.1:9",
        &folder,
        &["--token-file", missing.to_str().unwrap()],
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(
        report(&folder)["errorMessage"],
        format!(
            "cannot read the token file {}: No such file or directory (os error 2)",
            missing.display()
        )
    );
}

#[test]
fn a_folder_that_is_not_a_job_folder_is_a_setup_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = runner(&[
        "submit",
        "--server",
        "http://127.0.0.1:9",
        "--worker",
        "X",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(!dir.path().join("output/output.json").exists());
}
