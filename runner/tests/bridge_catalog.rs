//! `cortex-runner catalog export`: one Cortex definition and one wrapper per worker the service
//! lists, analyzers and responders apart, the catalog's keys kept, names that could leave the
//! directory refused; the wrapper, run as Cortex's process runner runs a command, submits the
//! job and leaves the report.

mod bridge_common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use bridge_common::*;
use serde_json::{Value, json};

fn workers() -> Value {
    json!([
        {"name": "ValidateObservable", "kind": "analyzer", "version": "1.0",
         "data_types": ["ip", "domain"], "backend": "wasm", "reason": "policy says wasm"},
        {"name": "AbuseIPDB", "kind": "analyzer", "version": "2.0", "data_types": ["ip"],
         "backend": null, "reason": "no backend", "definition": null},
        {"name": "Mailer", "kind": "responder", "version": "1.0",
         "data_types": ["thehive:case"], "backend": "kubernetes", "reason": "policy",
         "definition": {"name": "Mailer", "version": "1.0", "author": "Jane", "url": "https://x",
                        "license": "AGPL-V3", "description": "Send mails",
                        "dataTypeList": ["thehive:case"], "dockerImage": "mailer:1",
                        "baseConfig": "Mailer", "config": {}, "configurationItems": []}},
        {"name": "MSDefenderOffice365_SafeLinksDecoder", "kind": "analyzer", "version": "1.0",
         "data_types": ["url"], "backend": "wasm", "reason": "policy says wasm"},
        {"name": "Elsewhere", "kind": "analyzer", "version": "3.1", "data_types": ["hash"],
         "backend": "kubernetes", "reason": "policy"},
        {"name": "../escape", "kind": "analyzer", "version": "1.0", "data_types": [],
         "backend": null, "reason": "x"},
    ])
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn export(service: &StandIn, dir: &Path, token: &Path) -> std::process::Output {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let catalog = repo.join("runner/tests/fixtures/cortex-catalog/analyzers.json");
    let policies = repo.join("policies");
    runner(&[
        "catalog",
        "export",
        dir.to_str().unwrap(),
        "--server",
        &service.url,
        "--token-file",
        token.to_str().unwrap(),
        "--policies",
        policies.to_str().unwrap(),
        "--catalog",
        catalog.to_str().unwrap(),
    ])
}

#[test]
fn every_worker_gets_a_definition_and_a_wrapper() {
    let tmp = tempfile::tempdir().unwrap();
    let token = token_file(tmp.path());
    let service = StandIn::start(Script {
        token: true,
        workers: workers(),
        ..Script::default()
    });
    let dir = tmp.path().join("export");
    let output = export(&service, &dir, &token);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(service.lines(), ["GET /v1/workers"]);
    let dir = dir.canonicalize().unwrap();
    let analyzers = dir.join("analyzers");

    // A worker of the local catalog: its catalog entry's keys, what the service runs (name,
    // version, data types) and the wrapper as the command.
    assert_eq!(
        read_json(&analyzers.join("ValidateObservable/ValidateObservable.json")),
        json!({"name": "ValidateObservable", "version": "1.0",
               "author": "Fabien Bloume, StrangeBee",
               "url": "https://github.com/TheHive-Project/Cortex-Analyzers",
               "license": "AGPL-V3",
               "description": "Use regexes and libraries to indicate if observable is valid",
               "dataTypeList": ["ip", "domain"], "command": "ValidateObservable/run",
               "integration_type": "local", "free_subscription": false,
               "registration_required": false, "configurationItems": [],
               "config": {"service": "validateObservable"}, "baseConfig": "ValidateObservable",
               "subscription_required": false})
    );
    // A worker the policy takes from a catalog entry of another name keeps its own name.
    let decoder = read_json(
        &analyzers
            .join("MSDefenderOffice365_SafeLinksDecoder/MSDefenderOffice365_SafeLinksDecoder.json"),
    );
    assert_eq!(decoder["name"], "MSDefenderOffice365_SafeLinksDecoder");
    assert_eq!(
        decoder["command"],
        "MSDefenderOffice365_SafeLinksDecoder/run"
    );
    // A worker known nowhere but in the service: Cortex's required strings, empty.
    assert_eq!(
        read_json(&analyzers.join("Elsewhere/Elsewhere.json")),
        json!({"name": "Elsewhere", "version": "3.1", "author": "", "url": "", "license": "",
               "description": "", "dataTypeList": ["hash"], "command": "Elsewhere/run"})
    );
    // A worker of the local catalog: every key of its catalog entry but the image.
    let abuse = read_json(&analyzers.join("AbuseIPDB/AbuseIPDB.json"));
    assert_eq!(
        abuse["url"],
        "https://github.com/TheHive-Project/Cortex-Analyzers"
    );
    assert_eq!(abuse["license"], "AGPL-v3");
    assert_eq!(abuse["command"], "AbuseIPDB/run");
    assert_eq!(abuse["baseConfig"], "AbuseIPDB");
    assert_eq!(abuse["configurationItems"][0]["name"], "key");
    assert_eq!(abuse["config"]["max_tlp"], 2);
    assert_eq!(abuse["registration_required"], true);
    assert!(abuse.get("dockerImage").is_none());
    // A responder, from the definition the service sent, under responders/.
    assert_eq!(
        read_json(&dir.join("responders/Mailer/Mailer.json")),
        json!({"name": "Mailer", "version": "1.0", "author": "Jane", "url": "https://x",
               "license": "AGPL-V3", "description": "Send mails",
               "dataTypeList": ["thehive:case"], "command": "Mailer/run",
               "baseConfig": "Mailer", "config": {}, "configurationItems": []})
    );

    // The wrapper: executable, the runner's own absolute path, the token's path (not the token).
    let run = analyzers.join("ValidateObservable/run");
    let mode = std::fs::metadata(&run).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o755);
    let exe = Path::new(env!("CARGO_BIN_EXE_cortex-runner"))
        .canonicalize()
        .unwrap();
    let token = token.canonicalize().unwrap();
    assert_eq!(
        std::fs::read_to_string(&run).unwrap(),
        format!(
            "#!/bin/sh\n\
             # Written by `cortex-runner catalog export`. Cortex's process runner runs\n\
             # `<this file> <job folder>`; the worker runs in the cortex-runner service, and this\n\
             # waits for its report in the job folder.\n\
             exec '{}' submit --server '{}' --worker 'ValidateObservable' --token-file '{}' -- \"$1\"\n",
            exe.display(),
            service.url,
            token.display()
        )
    );

    // The name that would leave the directory is skipped, and nothing is written for it.
    let printed: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        printed["skipped"],
        json!([{"name": "../escape", "reason": "the name contains `/` or `..`"}])
    );
    assert_eq!(printed["workers"].as_array().unwrap().len(), 5);
    assert_eq!(printed["analyzer_urls"], json!(analyzers));
    assert!(!tmp.path().join("escape").exists());
    assert!(!dir.join("escape").exists());
    let mut listed: Vec<_> = std::fs::read_dir(&analyzers)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    listed.sort();
    assert_eq!(
        listed,
        [
            "AbuseIPDB",
            "Elsewhere",
            "MSDefenderOffice365_SafeLinksDecoder",
            "ValidateObservable"
        ]
    );
    assert!(!stderr(&output).contains(TOKEN));
}

#[test]
fn a_symlink_in_place_of_a_worker_directory_is_not_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let token = token_file(tmp.path());
    let service = StandIn::start(Script {
        workers: workers(),
        ..Script::default()
    });
    let dir = tmp.path().join("export");
    let outside = tmp.path().join("outside");
    std::fs::create_dir_all(dir.join("analyzers")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, dir.join("analyzers/AbuseIPDB")).unwrap();
    let output = export(&service, &dir, &token);
    assert_eq!(output.status.code(), Some(2));
    let dir = dir.canonicalize().unwrap();
    assert_eq!(
        stderr(&output),
        format!(
            "error: {} exists and is not a directory (a symlink is not followed)\n",
            dir.join("analyzers/AbuseIPDB").display()
        )
    );
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
}

#[test]
fn the_wrapper_run_as_cortex_runs_it_submits_and_leaves_the_report() {
    let tmp = tempfile::tempdir().unwrap();
    let token = token_file(tmp.path());
    let service = StandIn::start(Script {
        token: true,
        workers: workers(),
        running_waits: 1,
        report: success_report(),
        ..Script::default()
    });
    let dir = tmp.path().join("export");
    let output = export(&service, &dir, &token);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let folder = job_folder(&tmp.path().join("jobs"));
    let ran = cortex_process_runner(
        &dir.canonicalize().unwrap().join("analyzers"),
        "ValidateObservable",
        folder.path(),
    );
    assert_eq!(ran.status.code(), Some(0), "{}", stderr(&ran));
    assert_eq!(report(&folder), success_report());
    let seen = service.seen();
    assert_eq!(
        seen[1].body,
        Some(json!({"worker": "ValidateObservable",
                    "job_folder": folder.path().canonicalize().unwrap()}))
    );
}
