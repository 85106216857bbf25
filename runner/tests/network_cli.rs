//! The network analyzers through the command line, with the shipped policies and the built-in
//! components, against the local API stand-in (`api-standin`) reached the way Cortex configures
//! the Python originals: `config.proxy.https` and `config.cacerts`.
//!
//! - `run --analyzer AbuseIPDB ... --worker-config key=...` writes the original's report (the
//!   golden of the same case), and only api.abuseipdb.com was asked;
//! - a redirect to the cloud metadata address is denied and the report says so;
//! - a TLP:RED job is refused before the worker starts and nothing reaches the stand-in;
//! - `explain AbuseIPDB` shows the network the worker may use;
//! - `exec` and `bench` run the component with the network their `--allow` flags give.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use api_standin::{ApiStandin, Options, Running};
use serde_json::{Value, json};

fn runner(config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cortex-runner"))
        .args(args)
        .arg("--config")
        .arg(config)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

/// `run --analyzer <worker>` on `data` with `key`, through the stand-in.
fn run(config: &Path, standin: &Running, worker: &str, data: &str, key: &str, tlp: &str) -> Output {
    let proxy = format!("proxy={}", json!({"https": standin.proxy_url()}));
    let cacerts = format!("cacerts={}", standin.ca_pem());
    let key = format!("key={key}");
    runner(
        config,
        &[
            "run",
            "--json",
            "--analyzer",
            worker,
            "--data",
            data,
            "--data-type",
            "ip",
            "--tlp",
            tlp,
            "--worker-config",
            &key,
            "--worker-config",
            &proxy,
            "--worker-config",
            &cacerts,
        ],
    )
}

fn report(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not a report ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn standin() -> (tokio::runtime::Runtime, Running) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let running = runtime
        .block_on(ApiStandin::start(Options::default()))
        .unwrap();
    (runtime, running)
}

#[test]
fn abuseipdb_through_the_cli_reproduces_the_originals_report_and_reaches_only_its_api() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::config(dir.path(), "");
    let (_rt, standin) = standin();
    let out = run(
        &config,
        &standin,
        "AbuseIPDB",
        "118.25.6.39",
        "test-key",
        "2",
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let golden: Value = serde_json::from_slice(
        &std::fs::read(
            common::repo().join("analyzers/abuseipdb/tests/corpus/check-found/expected.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let mut got = report(&out);
    // The golden's freshness windows count from the day it was made; the stand-in's reports
    // are dated 2024, so they are 0 on any later day, as in the golden.
    assert_eq!(
        got["full"]["values"][0]["freshness"],
        json!({"last24h": 0, "last7d": 0})
    );
    got.as_object_mut().unwrap().remove("operations");
    let mut golden = golden;
    golden.as_object_mut().unwrap().remove("operations");
    assert_eq!(got, golden);
    let stats = standin.stats();
    assert_eq!(
        stats.requests.into_iter().collect::<Vec<_>>(),
        [("api.abuseipdb.com/api/v2/check".to_owned(), 1)]
    );
    assert_eq!(stats.connects, 1);
}

#[test]
fn a_redirect_to_the_metadata_address_is_denied_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::config(dir.path(), "");
    let (_rt, standin) = standin();
    let out = run(
        &config,
        &standin,
        "AbuseIPDB",
        "1.2.3.4",
        "redirect:http://169.254.169.254/latest/meta-data/",
        "2",
    );
    let got = report(&out);
    assert_eq!(out.status.code(), Some(1), "{got}");
    assert_eq!(got["success"], false);
    assert_eq!(
        got["runnerWarnings"],
        json!([
            "AbuseIPDB asked for http://169.254.169.254/latest/meta-data/: denied, \
             http://169.254.169.254 is not in its network allowlist (https://api.abuseipdb.com)"
        ])
    );
    assert_eq!(
        standin.stats().requests.into_iter().collect::<Vec<_>>(),
        [("api.abuseipdb.com/api/v2/check".to_owned(), 1)]
    );
}

#[test]
fn a_tlp_red_job_never_reaches_the_network() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::config(dir.path(), "");
    let (_rt, standin) = standin();
    let out = run(&config, &standin, "AbuseIPDB", "1.2.3.4", "test-key", "3");
    let got = report(&out);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        got["errorMessage"],
        "TLP is higher than the network policy allows: the job is TLP:RED (3) and the worker \
         sends its data to https://api.abuseipdb.com only up to TLP:AMBER (2) \
         (wasm.network.max_tlp)"
    );
    assert_eq!(got["input"]["config"]["key"], "REMOVED");
    let stats = standin.stats();
    assert!(stats.requests.is_empty(), "{stats:?}");
    assert_eq!(stats.connects, 0);
}

/// TLS is the runner's: without the job's `cacerts`, the stand-in's certificate (from its own
/// test CA) is not trusted, and the report says why.
#[test]
fn a_certificate_outside_the_trusted_roots_fails_the_job() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::config(dir.path(), "");
    let (_rt, standin) = standin();
    let proxy = format!("proxy={}", json!({"https": standin.proxy_url()}));
    let out = runner(
        &config,
        &[
            "run",
            "--json",
            "--analyzer",
            "AbuseIPDB",
            "--data",
            "118.25.6.39",
            "--data-type",
            "ip",
            "--worker-config",
            "key=test-key",
            "--worker-config",
            &proxy,
        ],
    );
    let got = report(&out);
    assert_eq!(out.status.code(), Some(1), "{got}");
    let warnings = got["runnerWarnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{got}");
    let warning = warnings[0].as_str().unwrap();
    assert!(
        warning.starts_with(
            "AbuseIPDB asked for https://api.abuseipdb.com/api/v2/check: TLS with \
             api.abuseipdb.com failed: invalid peer certificate: UnknownIssuer"
        ),
        "{warning}"
    );
    assert!(standin.stats().requests.is_empty());
}

#[test]
fn explain_shows_the_network_a_worker_may_use() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::config(dir.path(), "");
    let out = runner(
        &config,
        &[
            "explain",
            "AbuseIPDB",
            "--data",
            "1.2.3.4",
            "--data-type",
            "ip",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let network: Vec<&str> = text.lines().filter(|l| l.starts_with("network:")).collect();
    assert_eq!(
        network,
        [
            "network:  https://api.abuseipdb.com (4 requests per job, 4096 KiB per response, 30 s \
             per request, jobs up to TLP:AMBER)"
        ]
    );
    let out = runner(&config, &["explain", "EmlParser"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(
            "\nnetwork:  none (no [wasm.network] in the policy: every request is denied)\n"
        ),
        "{text}"
    );
}

/// `exec` and `bench` run components too; with no policy file, `--allow` gives the network (the
/// job's `config.proxy` and `config.cacerts` apply), and without it every request is denied.
#[test]
fn exec_and_bench_run_a_component_with_the_network_their_flags_allow() {
    let (_rt, standin) = standin();
    let module = analyzer_artifacts::module_path("AbuseIPDB").unwrap();
    let config = json!({
        "key": "test-key",
        "proxy": {"https": standin.proxy_url()},
        "cacerts": standin.ca_pem(),
    });
    let exec = |allow: &[&str]| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("input")).unwrap();
        std::fs::create_dir_all(dir.path().join("output")).unwrap();
        let input = json!({"data": "118.25.6.39", "dataType": "ip", "tlp": 2, "pap": 2,
                           "message": "", "parameters": {}, "config": config});
        std::fs::write(dir.path().join("input/input.json"), input.to_string()).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_cortex-runner"))
            .args(["exec", "--module", module, "--job-dir"])
            .arg(dir.path())
            .args(allow)
            .output()
            .unwrap();
        (out.status.code(), report(&out))
    };
    let (code, got) = exec(&["--allow", "https://api.abuseipdb.com"]);
    assert_eq!(code, Some(0), "{got}");
    assert_eq!(got["full"]["values"][0]["data"]["ipAddress"], "118.25.6.39");
    let (code, got) = exec(&[]);
    assert_eq!(code, Some(1), "{got}");
    assert_eq!(
        got["runnerWarnings"],
        json!([
            "AbuseIPDB asked for https://api.abuseipdb.com/api/v2/check: denied, its policy \
             grants no network (no [wasm.network] section)"
        ])
    );
    assert_eq!(
        standin.stats().requests.into_iter().collect::<Vec<_>>(),
        [("api.abuseipdb.com/api/v2/check".to_owned(), 1)]
    );

    let root = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_cortex-runner"))
        .args([
            "bench",
            "--module",
            module,
            "--jobs",
            "5",
            "--data",
            "118.25.6.39",
        ])
        .args([
            "--allow",
            "https://api.abuseipdb.com",
            "--config",
            &config.to_string(),
        ])
        .arg("--job-root")
        .arg(root.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let figures: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (figures["jobs"].clone(), figures["failures"].clone()),
        (json!(5), json!(0))
    );
    assert_eq!(
        standin.stats().requests.into_iter().collect::<Vec<_>>(),
        [("api.abuseipdb.com/api/v2/check".to_owned(), 6)]
    );
}
