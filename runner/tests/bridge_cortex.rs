//! The Cortex bridge end to end: a running `cortex-runner serve`, `catalog export` of its
//! workers, and this test playing Cortex's process runner exactly (the job folder made with
//! `JobFolder::create` as Cortex makes it, `<command> <folder>` run in the command's grandparent
//! with Cortex's environment, then `output/output.json` and the artifact files read back):
//! wasm workers (ValidateObservable, and EmlParser with artifact files), a worker routed to
//! Kubernetes with Kubernetes disabled, a missing token, a folder outside the job root, and the
//! service stopped mid-job (gracefully, and killed).

mod bridge_common;
mod common;
mod service_common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bridge_common::{cortex_process, cortex_process_runner, runner, stderr};
use cortex_job::{Attachment, AttachmentSource, JobFolder, JobInput};
use serde_json::{Value, json};
use service_common::{Server, Setup};
use sha2::Digest as _;

/// The real analyzer catalog, so that catalog workers without a policy exist (Abuse_Finder's
/// Docker image routes it to Kubernetes).
fn catalog() -> PathBuf {
    common::repo().join("runner/tests/fixtures/cortex-catalog/analyzers.json")
}

/// A service on `setup` with its token and the real catalog, and the definitions exported for
/// it into `<scratch>/workers`. Returns the server and the analyzers directory Cortex's
/// `analyzer.urls` names.
fn service_and_export(setup: &Setup) -> (Server, PathBuf) {
    let token = setup.token_file();
    let catalog = catalog();
    let server = Server::start(
        &setup.config,
        &[
            "--token-file",
            token.to_str().unwrap(),
            "--catalog",
            catalog.to_str().unwrap(),
        ],
    );
    let dir = setup.dir.path().join("workers");
    let url = format!("http://{}", server.addr);
    let output = runner(&[
        "catalog",
        "export",
        dir.to_str().unwrap(),
        "--server",
        &url,
        "--token-file",
        token.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    (server, dir.canonicalize().unwrap().join("analyzers"))
}

/// An ip job's input with a secret in its config, as Cortex writes it.
fn ip_input() -> JobInput {
    let mut input = JobInput::new("ip", json!("8.8.8.8"));
    input
        .config
        .insert("api_key".into(), json!("s3cret-api-key-value"));
    input
}

fn report(folder: &Path) -> Value {
    service_common::report(folder)
}

/// The report with every file artifact's random name replaced by the sha256 of its file, which
/// must be a regular file directly in `output/`, where Cortex reads it.
fn with_file_hashes(folder: &Path) -> Value {
    let mut report = report(folder);
    if let Some(artifacts) = report["artifacts"].as_array_mut() {
        for artifact in artifacts {
            if artifact["dataType"] == "file" {
                let name = artifact["file"].as_str().unwrap();
                let path = folder.join("output").join(name);
                assert_eq!(path.parent().unwrap(), folder.join("output"));
                let meta = std::fs::symlink_metadata(&path).unwrap();
                assert!(meta.is_file(), "{}", path.display());
                let bytes = std::fs::read(&path).unwrap();
                artifact["file"] = json!(format!(
                    "sha256:{}",
                    hex::encode(sha2::Sha256::digest(&bytes))
                ));
            }
        }
    }
    report
}

/// The same job through `cortex-runner job` in-process, for the report the bridge must match.
fn direct(
    setup: &Setup,
    worker: &str,
    input: &JobInput,
    attachment: Option<Attachment<'_>>,
) -> JobFolder {
    let root = setup.dir.path().join("direct");
    std::fs::create_dir_all(&root).unwrap();
    let folder = JobFolder::create(&root, "DIRECT01", input, attachment).unwrap();
    let catalog = catalog();
    let output = runner(&[
        "job",
        "--config",
        setup.config.to_str().unwrap(),
        "--catalog",
        catalog.to_str().unwrap(),
        "--analyzer",
        worker,
        folder.path().to_str().unwrap(),
    ]);
    assert!(output.status.code().is_some(), "{}", stderr(&output));
    folder
}

#[test]
fn wasm_workers_through_the_bridge_match_the_direct_run() {
    let setup = Setup::new("");
    let (_server, analyzers) = service_and_export(&setup);

    // ValidateObservable: the report is byte-for-byte the one the in-process run writes.
    let folder = JobFolder::create(&setup.root(), "AZcortex01", &ip_input(), None).unwrap();
    let ran = cortex_process_runner(&analyzers, "ValidateObservable", folder.path());
    assert_eq!(ran.status.code(), Some(0), "{}", stderr(&ran));
    let expected = direct(&setup, "ValidateObservable", &ip_input(), None);
    assert_eq!(
        std::fs::read(folder.path().join("output/output.json")).unwrap(),
        std::fs::read(expected.path().join("output/output.json")).unwrap()
    );
    assert_eq!(report(folder.path())["success"], true);

    // EmlParser on a file: the artifact files Cortex imports sit directly in output/.
    let corpus = common::repo().join("analyzers/eml-parser/tests/corpus/attachments");
    let eml = std::fs::read(corpus.join("attachment")).unwrap();
    let mut input: JobInput =
        serde_json::from_slice(&std::fs::read(corpus.join("input.json")).unwrap()).unwrap();
    input.file = None;
    let attachment = || Attachment {
        source: AttachmentSource::Bytes(&eml),
        filename: "attachments.eml",
        content_type: "message/rfc822",
    };
    let folder =
        JobFolder::create(&setup.root(), "AZcortex02", &input, Some(attachment())).unwrap();
    let ran = cortex_process_runner(&analyzers, "EmlParser", folder.path());
    assert_eq!(ran.status.code(), Some(0), "{}", stderr(&ran));
    let expected = direct(&setup, "EmlParser", &input, Some(attachment()));
    let bridged = with_file_hashes(folder.path());
    assert_eq!(bridged, with_file_hashes(expected.path()));
    let files = bridged["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["dataType"] == "file")
        .count();
    assert!(files >= 1, "{bridged}");
}

#[test]
fn a_worker_routed_to_kubernetes_with_kubernetes_disabled_gets_the_exact_report() {
    let setup = Setup::new("");
    let (_server, analyzers) = service_and_export(&setup);
    // The export took the definition from the service's catalog (`definition` of
    // GET /v1/workers), with no catalog of its own: author, license and url are the catalog's.
    let catalog: Value = serde_json::from_slice(&std::fs::read(catalog()).unwrap()).unwrap();
    let original = catalog
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "Abuse_Finder")
        .unwrap();
    let exported: Value = serde_json::from_slice(
        &std::fs::read(analyzers.join("Abuse_Finder/Abuse_Finder.json")).unwrap(),
    )
    .unwrap();
    for key in ["author", "license", "url", "description"] {
        assert_eq!(exported[key], original[key], "{key}");
    }
    assert_ne!(exported["author"], json!(""));
    let folder = JobFolder::create(&setup.root(), "AZcortex03", &ip_input(), None).unwrap();
    let ran = cortex_process_runner(&analyzers, "Abuse_Finder", folder.path());
    assert_eq!(ran.status.code(), Some(1), "{}", stderr(&ran));
    let mut redacted = ip_input().redacted();
    redacted["config"]["api_key"] = json!("REMOVED");
    assert_eq!(
        report(folder.path()),
        json!({"success": false,
               "errorMessage": "the kubernetes backend is not available (kubernetes.enabled = \
                false in the configuration); the job needs it because no policy for \
                Abuse_Finder; its catalog Docker image ghcr.io/thehive-project/abuse_finder:3 \
                runs on Kubernetes",
               "input": redacted})
    );
}

#[test]
fn a_missing_token_and_a_folder_outside_the_root_get_failure_reports() {
    let setup = Setup::new("");
    let (server, analyzers) = service_and_export(&setup);
    let url = format!("http://{}", server.addr);

    // The wrapper's token file is gone on Cortex's side.
    let folder = JobFolder::create(&setup.root(), "AZcortex04", &ip_input(), None).unwrap();
    let token = setup.token_file();
    let moved = setup.dir.path().join("token.moved");
    std::fs::rename(&token, &moved).unwrap();
    let ran = cortex_process_runner(&analyzers, "ValidateObservable", folder.path());
    std::fs::rename(&moved, &token).unwrap();
    assert_eq!(ran.status.code(), Some(1), "{}", stderr(&ran));
    let canonical_token = setup.dir.path().canonicalize().unwrap().join("token");
    assert_eq!(
        report(folder.path()),
        json!({"success": false,
               "errorMessage": format!("cannot read the token file {}: No such file or directory \
                                        (os error 2)", canonical_token.display()),
               "input": ip_input().redacted()})
    );

    // A wrapper without a token (exported for an unauthenticated service) meets a service that
    // wants one.
    let folder = JobFolder::create(&setup.root(), "AZcortex05", &ip_input(), None).unwrap();
    let output = runner(&[
        "submit",
        "--server",
        &url,
        "--worker",
        "ValidateObservable",
        folder.path().to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(
        report(folder.path())["errorMessage"],
        format!(
            "the cortex-runner service at {url} did not take the job: POST {url}/v1/jobs: 401 \
             Unauthorized: unauthorized: no bearer token; send Authorization: Bearer <the \
             service's token>"
        )
    );

    // A job folder outside the service's job root.
    let elsewhere = setup.dir.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let folder = JobFolder::create(&elsewhere, "AZcortex06", &ip_input(), None).unwrap();
    let ran = cortex_process_runner(&analyzers, "ValidateObservable", folder.path());
    assert_eq!(ran.status.code(), Some(1), "{}", stderr(&ran));
    let message = report(folder.path())["errorMessage"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        message,
        format!(
            "the cortex-runner service at {url} did not take the job: POST {url}/v1/jobs: 400 \
             Bad Request: {}",
            outside_root(&server, folder.path())
        )
    );
    assert_eq!(report(folder.path())["input"], ip_input().redacted());
}

/// The service's own `400` for `folder`, asked directly, as `error: detail`.
fn outside_root(server: &Server, folder: &Path) -> String {
    let answer = server.submit("ValidateObservable", folder.to_str().unwrap());
    assert_eq!(answer.status, 400, "{}", answer.body);
    let body = answer.json();
    format!(
        "{}: {}",
        body["error"].as_str().unwrap(),
        body["detail"].as_str().unwrap()
    )
}

/// Runs the `Sleep` worker (asleep until its 60 s timeout) through the wrapper and waits until
/// the service has the job.
fn sleeping_job(setup: &Setup, analyzers: &Path, id: &str) -> (JobFolder, std::process::Child) {
    let folder = JobFolder::create(&setup.root(), id, &ip_input(), None).unwrap();
    let child = cortex_process(analyzers, "Sleep", folder.path())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let claim = folder.path().join(".cortex-runner-claim");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !claim.exists() {
        assert!(Instant::now() < deadline, "the job was never claimed");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The claim comes with the submission; let the sandbox start the guest.
    std::thread::sleep(Duration::from_millis(500));
    (folder, child)
}

#[test]
fn a_service_stopped_mid_job_still_leaves_a_report() {
    let setup = Setup::new("shutdown_grace_s = 1");
    let (mut server, analyzers) = service_and_export(&setup);
    let (folder, child) = sleeping_job(&setup, &analyzers, "AZcortex07");
    server.signal("-TERM");
    let output = child.wait_with_output().unwrap();
    server.wait_exit(Duration::from_secs(60));
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(
        report(folder.path()),
        json!({"success": false,
               "errorMessage": "cancelled: the service stopped (SIGTERM) before the job ended, \
                                after a grace of 1 s",
               "input": ip_input().redacted()})
    );
}

#[test]
fn a_service_killed_mid_job_gets_the_bridge_report() {
    let setup = Setup::new("");
    let (mut server, analyzers) = service_and_export(&setup);
    let url = format!("http://{}", server.addr);
    let (folder, child) = sleeping_job(&setup, &analyzers, "AZcortex08");
    server.signal("-KILL");
    server.wait_exit(Duration::from_secs(10));
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let message = report(folder.path())["errorMessage"]
        .as_str()
        .unwrap()
        .to_string();
    let rel = folder.path().strip_prefix(setup.root()).unwrap();
    let id = cortex_runner::backend::kubernetes::spec::job_name(rel.to_str().unwrap());
    let prefix = format!(
        "lost the cortex-runner service at {url} while waiting for job {id}: GET \
         {url}/v1/jobs/{id}/wait?timeout=30s: no answer after 6 attempts: "
    );
    // The last attempt finds the port closed, or the connection the killed process held
    // reset, depending on timing.
    assert!(message.starts_with(&prefix), "{message}");
    assert_eq!(report(folder.path())["input"], ip_input().redacted());
}
