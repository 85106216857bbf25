//! The worker subcommands end to end: `analyzers`, `explain`, `run`, `job`, `config show`, and
//! their exit codes (0 report success, 1 report failure, 2 usage or setup error).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

mod common;

use common::{config, repo};

fn catalog(name: &str) -> String {
    repo()
        .join("runner/tests/fixtures/cortex-catalog")
        .join(name)
        .display()
        .to_string()
}

fn runner(config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cortex-runner"))
        .args(args)
        .arg("--config")
        .arg(config)
        .env_remove("CORTEX_RUNNER_CONFIG")
        .output()
        .unwrap()
}

fn stdout_json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn analyzers_lists_every_worker_of_the_real_catalogs() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "");
    let (a, r) = (catalog("analyzers.json"), catalog("responders.json"));
    let out = runner(
        &cfg,
        &["analyzers", "--json", "--catalog", &a, "--catalog", &r],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = stdout_json(&out);
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 275 + 156);
    assert_eq!(
        rows.iter().filter(|r| r["kind"] == "responder").count(),
        156
    );
    let find = |name: &str| rows.iter().find(|r| r["name"] == name).unwrap().clone();
    for wasm in [
        "EmlParser",
        "FileInfo",
        "ValidateObservable",
        "MSDefenderOffice365_SafeLinksDecoder",
    ] {
        let row = find(wasm);
        assert_eq!(row["backend"], "wasm", "{row}");
        assert_eq!(row["available"], true);
    }
    let abuse = find("Abuse_Finder");
    assert_eq!(abuse["backend"], "kubernetes");
    assert_eq!(abuse["available"], false);
    assert_eq!(
        abuse["reason"],
        "no policy for Abuse_Finder; its catalog Docker image ghcr.io/thehive-project/abuse_finder:3 runs on Kubernetes (unavailable: kubernetes.enabled = false in the configuration)"
    );
}

#[test]
fn run_prints_a_summary_and_exits_0_on_success() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "");
    let out = runner(
        &cfg,
        &[
            "run",
            "--analyzer",
            "ValidateObservable",
            "--data",
            "8.8.8.8",
            "--data-type",
            "ip",
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let first = stdout.lines().next().unwrap();
    assert!(
        first.starts_with("ValidateObservable: success (wasm, "),
        "{stdout}"
    );
    let policy = repo().join("policies/ValidateObservable.toml");
    assert!(
        stdout.contains(&format!(
            "decision: {} sets backend = \"wasm\"",
            policy.display()
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("taxonomies:\n  info       ValidateObs:ip = \"valid\"\n"),
        "{stdout}"
    );
    // Without --keep the job folder is gone.
    assert_eq!(
        std::fs::read_dir(dir.path().join("jobs")).unwrap().count(),
        0
    );
}

#[test]
fn run_json_and_keep_leave_the_folder_and_print_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "");
    let a = catalog("analyzers.json");
    let out = runner(
        &cfg,
        &[
            "run",
            "--analyzer",
            "ValidateObservable",
            "--data",
            "8.8.8.8",
            "--data-type",
            "ip",
            "--json",
            "--keep",
            "--tlp",
            "1",
            "--worker-config",
            "max_tlp=3",
            "--worker-config",
            "note=plain text",
            "--param",
            "p={\"a\":1}",
            "--catalog",
            &a,
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = stdout_json(&out);
    assert_eq!(report["success"], true);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr
        .lines()
        .find(|l| l.starts_with("job folder: "))
        .unwrap_or_else(|| panic!("{stderr}"));
    let folder = PathBuf::from(line.trim_start_matches("job folder: "));
    assert!(folder.starts_with(dir.path().join("jobs")));
    let written: Value =
        serde_json::from_slice(&std::fs::read(folder.join("output/output.json")).unwrap()).unwrap();
    assert_eq!(written, report);
    let input: Value =
        serde_json::from_slice(&std::fs::read(folder.join("input/input.json")).unwrap()).unwrap();
    assert_eq!(input["tlp"], 1);
    assert_eq!(input["data"], "8.8.8.8");
    // The catalog definition's config, then --worker-config (JSON when it parses, else a string).
    assert_eq!(
        input["config"],
        serde_json::json!({"service": "validateObservable", "max_tlp": 3, "note": "plain text"})
    );
    assert_eq!(input["parameters"], serde_json::json!({"p": {"a": 1}}));
}

#[test]
fn a_failed_job_exits_1_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "");
    // ValidateObservable does not take files: refused before running, report failure.
    let out = runner(
        &cfg,
        &[
            "run",
            "--analyzer",
            "ValidateObservable",
            "--data",
            "x",
            "--data-type",
            "file",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("ValidateObservable: failure (refused, "),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "error: data type `file` is not accepted by ValidateObservable (it accepts: ip, domain, url, fqdn, mail, hash, filename, uri_path, user-agent)"
        ),
        "{stdout}"
    );
    // A worker that needs Kubernetes, with Kubernetes disabled.
    let a = catalog("analyzers.json");
    let out = runner(
        &cfg,
        &[
            "run",
            "--analyzer",
            "Abuse_Finder",
            "--data",
            "1.2.3.4",
            "--data-type",
            "ip",
            "--json",
            "--catalog",
            &a,
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let report = stdout_json(&out);
    assert_eq!(
        report["errorMessage"],
        "the kubernetes backend is not available (kubernetes.enabled = false in the configuration); the job needs it because no policy for Abuse_Finder; its catalog Docker image ghcr.io/thehive-project/abuse_finder:3 runs on Kubernetes"
    );
}

#[test]
fn setup_and_usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "");
    let out = runner(
        &cfg,
        &[
            "run",
            "--analyzer",
            "NoSuchWorker",
            "--data",
            "x",
            "--data-type",
            "ip",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim_end(),
        "error: no worker named NoSuchWorker in the catalogs or policies (`cortex-runner analyzers` lists them)"
    );
    let policies = dir.path().join("bad-policies");
    std::fs::create_dir(&policies).unwrap();
    std::fs::write(
        policies.join("ValidateObservable.toml"),
        "backend = \"wasm\"\n[wasm]\nmemry = 1\n",
    )
    .unwrap();
    let out = runner(
        &cfg,
        &["analyzers", "--policies", policies.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim_end(),
        format!(
            "error: policy {}:3: unknown key `wasm.memry` (expected one of: module, sha256, memory_mib, timeout_s, fuel, max_input_mib, concurrency, env, network)",
            policies.join("ValidateObservable.toml").display()
        )
    );
    let out = runner(&cfg, &["run", "--analyzer", "ValidateObservable"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn explain_gives_the_decision_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "");
    let big = dir.path().join("big.eml");
    std::fs::write(&big, vec![b'x'; 65 * 1024 * 1024]).unwrap();
    let out = runner(
        &cfg,
        &[
            "explain",
            "EmlParser",
            "--file",
            big.to_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = stdout_json(&out);
    assert_eq!(v["decision"]["route"], "run");
    assert_eq!(v["decision"]["backend"], "kubernetes");
    let policy = repo().join("policies/EmlParser.toml");
    assert_eq!(
        v["decision"]["reason"],
        format!(
            "input is 65 MiB, above the wasm limit of 64 MiB (wasm.max_input_mib of {})",
            policy.display()
        )
    );
    assert_eq!(
        v["unavailable"],
        "kubernetes.enabled = false in the configuration"
    );
}

#[test]
fn job_runs_an_existing_cortex_folder() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "");
    let input = cortex_job::JobInput::new("domain", "thehive-project.org");
    let folder = cortex_job::JobFolder::create(dir.path(), "job1", &input, None).unwrap();
    let out = runner(
        &cfg,
        &[
            "job",
            "--analyzer",
            "ValidateObservable",
            folder.path().to_str().unwrap(),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written: Value =
        serde_json::from_slice(&std::fs::read(folder.output_dir().join("output.json")).unwrap())
            .unwrap();
    assert_eq!(written, stdout_json(&out));
    assert_eq!(written["success"], true);
}

#[test]
fn config_show_prints_values_with_sources_and_masks_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "");
    let out = Command::new(env!("CARGO_BIN_EXE_cortex-runner"))
        .args(["config", "show", "--json", "--config"])
        .arg(&cfg)
        .env("CORTEX_RUNNER_WASM__MEMORY_MIB", "512")
        .env("CORTEX_RUNNER_SERVICE__TOKEN", "hunter2")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = stdout_json(&out);
    let get = |key: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["key"] == key)
            .unwrap()
            .clone()
    };
    assert_eq!(
        get("wasm.memory_mib"),
        serde_json::json!({"key": "wasm.memory_mib", "value": "512", "source": "environment CORTEX_RUNNER_WASM__MEMORY_MIB"})
    );
    assert_eq!(get("service.token")["value"], "********");
    assert_eq!(get("policies.dir")["source"], cfg.display().to_string());
    assert_eq!(get("wasm.timeout_s")["source"], "default");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("hunter2"));
}

#[test]
fn a_responder_gets_its_json_object_as_data() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "");
    let r = catalog("responders.json");
    let object = r#"{"_type": "case", "title": "phishing"}"#;
    let args = [
        "run",
        "--analyzer",
        "Mailer_1_0",
        "--data",
        object,
        "--data-type",
        "thehive:case",
        "--keep",
        "--catalog",
        &r,
    ];
    let out = runner(&cfg, &args);
    // Mailer has no policy and needs Kubernetes, which is disabled: a failure report, exit 1.
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr
        .lines()
        .find(|l| l.starts_with("job folder: "))
        .unwrap_or_else(|| panic!("{stderr}"));
    let folder = PathBuf::from(line.trim_start_matches("job folder: "));
    let input: Value =
        serde_json::from_slice(&std::fs::read(folder.join("input/input.json")).unwrap()).unwrap();
    assert_eq!(
        input["data"],
        serde_json::json!({"_type": "case", "title": "phishing"})
    );
    assert_eq!(input["dataType"], "thehive:case");
}

/// Runs `cortex-runner ARGS --config CONFIG` and returns (exit code, stdout, stderr).
fn runner_text(config: &Path, args: &[&str]) -> (i32, String, String) {
    let out = runner(config, args);
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn run_summary_escapes_terminal_sequences_a_worker_writes() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "");
    // An e-mail whose attachment is named with an OSC 52 clipboard write and a right-to-left
    // override: EmlParser reports the name in its artifacts, as the original does.
    let name = "a\x1b]52;c;ZXZpbA==\x07\u{202e}fdp.exe";
    let eml = dir.path().join("invoice.eml");
    std::fs::write(
        &eml,
        format!(
            "From: a@example.com\r\nTo: b@example.com\r\nSubject: invoice\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n--XX\r\nContent-Type: text/plain\r\n\r\n\
             hello\r\n--XX\r\nContent-Type: application/pdf\r\n\
             Content-Disposition: attachment; filename=\"{name}\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\naGVsbG8=\r\n--XX--\r\n"
        ),
    )
    .unwrap();
    let run = |json: bool| {
        let mut args = vec![
            "run",
            "--analyzer",
            "EmlParser",
            "--file",
            eml.to_str().unwrap(),
        ];
        if json {
            args.push("--json");
        }
        let (code, stdout, stderr) = runner_text(&cfg, &args);
        assert_eq!(code, 0, "{stdout}\n{stderr}");
        for raw in ['\x1b', '\x07', '\u{202e}'] {
            assert!(!stdout.contains(raw), "{raw:?} printed raw: {stdout:?}");
        }
        stdout
    };
    let summary = run(false);
    let escaped = "a\\x1b]52;c;ZXZpbA==\\x07\\u202efdp.exe";
    assert!(
        summary.contains(&format!(
            "  filename     {escaped}\n  file         {escaped}\n"
        )),
        "{summary}"
    );
    let json = run(true);
    assert!(
        json.contains(r#""filename": "a\u001b]52;c;ZXZpbA==\u0007\u202efdp.exe""#),
        "{json}"
    );
    // The printed JSON is still the worker's value.
    let report: Value = serde_json::from_str(&json).unwrap();
    let artifact = report["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["dataType"] == "file")
        .unwrap();
    assert_eq!(artifact["filename"], name);
}

#[test]
fn run_file_must_be_a_regular_file() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "");
    let folder = dir.path().join("a-folder");
    std::fs::create_dir(&folder).unwrap();
    // A fifo with no writer: opening it for reading must not hang (the file is opened once,
    // non-blocking, and checked through its descriptor).
    let fifo = dir.path().join("a-fifo");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    let cases = [
        (
            fifo.display().to_string(),
            format!("error: --file {}: is not a regular file", fifo.display()),
        ),
        (
            folder.display().to_string(),
            format!(
                "error: --file {}: is a directory, expected a regular file",
                folder.display()
            ),
        ),
        (
            "/dev/zero".to_string(),
            "error: --file /dev/zero: is not a regular file".to_string(),
        ),
        (
            "/nonexistent/x.eml".to_string(),
            "error: --file /nonexistent/x.eml: no such file".to_string(),
        ),
    ];
    for (file, expected) in cases {
        let started = std::time::Instant::now();
        let (code, stdout, stderr) =
            runner_text(&cfg, &["run", "--analyzer", "EmlParser", "--file", &file]);
        assert_eq!((code, stdout.as_str()), (2, ""), "{stderr}");
        assert_eq!(stderr.trim_end(), expected);
        assert!(started.elapsed() < std::time::Duration::from_secs(30));
    }
    // Nothing was created under the job root.
    let jobs = dir.path().join("jobs");
    assert!(!jobs.exists() || std::fs::read_dir(&jobs).unwrap().count() == 0);
}

#[test]
fn tlp_and_pap_outside_cortex_levels_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "");
    for command in ["run", "explain"] {
        for (flag, value) in [
            ("--tlp", "9"),
            ("--tlp", "4"),
            ("--pap", "99999999999"),
            ("--pap", "-1"),
        ] {
            let flag_value = format!("{flag}={value}");
            let mut args = vec![command];
            if command == "run" {
                args.extend(["--analyzer", "ValidateObservable", "--data-type", "ip"]);
                args.extend(["--data", "8.8.8.8"]);
            } else {
                args.push("ValidateObservable");
            }
            args.push(&flag_value);
            let (code, stdout, stderr) = runner_text(&cfg, &args);
            assert_eq!((code, stdout.as_str()), (2, ""), "{stderr}");
            assert_eq!(
                stderr.lines().next().unwrap(),
                format!("error: invalid value '{value}' for '{flag} <N>': {value} is not in 0..=3")
            );
        }
    }
}

#[test]
fn tlp_and_pap_at_the_edges_of_cortex_levels_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "");
    for (tlp, pap) in [("0", "3"), ("3", "0")] {
        let (code, stdout, stderr) = runner_text(
            &cfg,
            &["explain", "ValidateObservable", "--tlp", tlp, "--pap", pap],
        );
        assert_eq!(code, 0, "{stderr}");
        assert!(
            stdout.contains(&format!("TLP {tlp}, PAP {pap}\n")),
            "{stdout}"
        );
    }
    let (code, stdout, stderr) = runner_text(
        &cfg,
        &[
            "run",
            "--analyzer",
            "ValidateObservable",
            "--data",
            "8.8.8.8",
            "--data-type",
            "ip",
            "--tlp",
            "3",
            "--pap",
            "0",
            "--json",
        ],
    );
    assert_eq!(code, 0, "{stdout}\n{stderr}");
}

#[test]
fn an_observable_starting_with_a_hyphen_is_data_not_a_flag() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "");
    let (code, stdout, stderr) = runner_text(
        &cfg,
        &[
            "run",
            "--analyzer",
            "ValidateObservable",
            "--data",
            "-bad-.com",
            "--data-type",
            "domain",
        ],
    );
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("ValidateObs:domain = \"invalid\""),
        "{stdout}"
    );
    let (code, stdout, stderr) = runner_text(
        &cfg,
        &[
            "explain",
            "ValidateObservable",
            "--data",
            "-bad-.com",
            "--data-type",
            "domain",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("job:      dataType domain, 9 bytes,"),
        "{stdout}"
    );
}

#[test]
fn a_config_file_elsewhere_resolves_its_relative_paths_from_its_own_directory() {
    // <tmp>/conf/config.toml names "policies" and "jobs"; the runner starts in <tmp>/elsewhere.
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("conf");
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir_all(conf.join("policies")).unwrap();
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::copy(
        repo().join("policies/ValidateObservable.toml"),
        conf.join("policies/ValidateObservable.toml"),
    )
    .unwrap();
    std::fs::write(
        conf.join("config.toml"),
        "[jobs]\nroot = \"jobs\"\n[policies]\ndir = \"policies\"\n",
    )
    .unwrap();
    let cortex_runner = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_cortex-runner"))
            .args(args)
            .args(["--config", "../conf/config.toml"])
            .current_dir(&elsewhere)
            .env_remove("CORTEX_RUNNER_CONFIG")
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout_json(&out)
    };
    let rows = cortex_runner(&["config", "show", "--json"]);
    let value = |key: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["key"] == key)
            .unwrap()["value"]
            .clone()
    };
    assert_eq!(value("policies.dir"), "\"../conf/policies\"");
    assert_eq!(value("jobs.root"), "\"../conf/jobs\"");
    let rows = cortex_runner(&["analyzers", "--json"]);
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "ValidateObservable")
        .unwrap()
        .clone();
    assert_eq!(row["policy"], "../conf/policies/ValidateObservable.toml");
    assert_eq!(row["backend"], "wasm");
}

#[test]
fn config_show_escapes_values_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "");
    let out = Command::new(env!("CARGO_BIN_EXE_cortex-runner"))
        .args(["config", "show", "--config"])
        .arg(&cfg)
        .env(
            "CORTEX_RUNNER_KUBERNETES__NAMESPACE",
            "ns\u{9b}31m\u{202e}x",
        )
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    // serde_json escapes C0 controls in the rendered value, not C1 or bidi characters.
    assert!(!stdout.contains(['\u{9b}', '\u{202e}']), "{stdout:?}");
    assert!(
        stdout.contains("namespace = \"ns\\x9b31m\\u202ex\""),
        "{stdout}"
    );
}
