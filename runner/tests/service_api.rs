//! `cortex-runner serve` over real HTTP on 127.0.0.1: every route with a real wasm analyzer
//! (ValidateObservable, built in), idempotent submission, the bearer token, refused job
//! folders, the body limit, the long poll's timeout, cancellation, metrics, JSON logs, the
//! refusal to listen unauthenticated, and the graceful end on SIGTERM.

use std::time::{Duration, Instant};

use cortex_runner::backend::kubernetes::spec::job_name;
use serde_json::{Value, json};

mod common;
mod service_common;

use service_common::{Server, Setup, TOKEN, report, spawn_on};

const VALIDATE: &str = "ValidateObservable";

fn with_token(setup: &Setup) -> Server {
    let token = setup.token_file();
    Server::start(&setup.config, &["--token-file", token.to_str().unwrap()])
}

#[test]
fn a_job_runs_through_every_route_and_resubmitting_returns_it() {
    let setup = Setup::new("");
    let server = with_token(&setup);
    let (folder, rel) = setup.folder("api1");
    let id = job_name(&rel);

    let posted = server.submit(VALIDATE, &rel);
    assert_eq!(posted.status, 202, "{}", posted.body);
    let brief = posted.json();
    assert_eq!(brief["id"], id.as_str());
    assert_eq!(brief["backend"], "wasm");
    assert!(["queued", "running", "done"].contains(&brief["state"].as_str().unwrap()));
    assert!(
        brief["reason"]
            .as_str()
            .unwrap()
            .contains("ValidateObservable.toml sets backend = \"wasm\"; module ValidateObservable.wasm built into the runner (sha256 "),
        "{brief}"
    );
    assert_eq!(
        brief.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["id", "state", "backend", "reason"]
    );

    let waited = server.get(&format!("/v1/jobs/{id}/wait?timeout=30s"), Some(TOKEN));
    assert_eq!(waited.status, 200);
    let job = waited.json();
    let on_disk = report(folder.path());
    assert_eq!(job["state"], "done");
    assert_eq!(job["success"], true);
    assert_eq!(job["worker"], VALIDATE);
    assert_eq!(job["job_folder"], rel.as_str());
    assert_eq!(job["summary"], on_disk["summary"]);
    assert_eq!(
        job["summary"],
        json!({"taxonomies": [{"level": "info", "namespace": "ValidateObs", "predicate": "ip", "value": "valid"}]})
    );
    assert_eq!(job["error_message"], Value::Null);
    assert!(job["queued_s"].as_f64().unwrap() >= 0.0);
    assert!(job["running_s"].as_f64().unwrap() > 0.0);
    assert!(job["elapsed_s"].as_f64().unwrap() >= job["running_s"].as_f64().unwrap());
    assert_eq!(
        server.get(&format!("/v1/jobs/{id}"), Some(TOKEN)).json(),
        job
    );

    // The same folder again, relative or absolute, under any worker: the same job, 200.
    let again = server.submit("FileInfo", &rel);
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["id"], id.as_str());
    assert_eq!(again.json()["state"], "done");
    let absolute = folder.path().display().to_string();
    let again = server.submit(VALIDATE, &absolute);
    assert_eq!((again.status, again.json()["id"].clone()), (200, json!(id)));

    let unknown = server.get("/v1/jobs/nope-123", Some(TOKEN));
    assert_eq!(unknown.status, 404);
    assert_eq!(
        unknown.json(),
        json!({"error": "no such job", "detail": "no job with id \"nope-123\" on this replica (finished jobs are kept for a while, then forgotten)"})
    );

    let workers = server.get("/v1/workers", Some(TOKEN));
    assert_eq!(workers.status, 200);
    let workers = workers.json();
    let validate = workers
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == VALIDATE)
        .unwrap();
    assert_eq!(validate["kind"], "analyzer");
    assert_eq!(validate["backend"], "wasm");
    assert!(
        validate["data_types"]
            .as_array()
            .unwrap()
            .contains(&json!("ip"))
    );
    assert!(
        validate["reason"]
            .as_str()
            .unwrap()
            .contains("sets backend = \"wasm\"")
    );

    assert_eq!(server.get("/healthz", None).json(), json!({"status": "ok"}));
    assert_eq!(
        server.get("/readyz", None).json(),
        json!({"status": "ready"})
    );
    let metrics = server.get("/metrics", None);
    assert_eq!(metrics.status, 200);
    assert_eq!(
        metrics.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    let hits = metrics
        .body
        .lines()
        .find_map(|l| l.strip_prefix("cortex_runner_module_cache_hits_total "))
        .unwrap_or_else(|| panic!("no cache hits in\n{}", metrics.body));
    // Readied at start-up (compiled, or loaded precompiled from the shared cache): the job's
    // load was answered from memory.
    assert!(hits.parse::<u64>().unwrap() >= 1, "{hits}");
    let compiled = metrics
        .body
        .lines()
        .find_map(|l| l.strip_prefix("cortex_runner_module_compile_seconds_count "))
        .unwrap();
    assert!(compiled.parse::<u64>().unwrap() >= 2, "{compiled}");
    for line in [
        "cortex_runner_jobs_total{worker=\"ValidateObservable\",backend=\"wasm\",outcome=\"success\"} 1",
        "cortex_runner_job_duration_seconds_count{backend=\"wasm\"} 1",
        "cortex_runner_queue_depth 0",
        "cortex_runner_jobs_in_flight 0",
        "cortex_runner_http_requests_total{route=\"/v1/jobs\",status=\"202\"} 1",
        "cortex_runner_http_requests_total{route=\"/v1/jobs\",status=\"200\"} 2",
        "cortex_runner_http_requests_total{route=\"/v1/jobs/{id}\",status=\"404\"} 1",
        "# TYPE cortex_runner_module_compile_seconds histogram",
        "# TYPE cortex_runner_kubernetes_api_errors counter",
        "# TYPE cortex_runner_kubernetes_watch_restarts counter",
    ] {
        assert!(
            metrics.body.contains(line),
            "no {line:?} in\n{}",
            metrics.body
        );
    }
}

#[test]
fn an_unknown_worker_is_accepted_and_ends_with_its_failure_report() {
    let setup = Setup::new("");
    let server = with_token(&setup);
    let (folder, rel) = setup.folder("unknown1");
    // A name no catalog can hold is refused before anything runs: it would reach log lines.
    let forged = server.submit("Nope\nINFO forged line", &rel);
    assert_eq!(forged.status, 400);
    assert_eq!(
        forged.json(),
        json!({"error": "bad worker", "detail": "worker \"Nope\\nINFO forged line\" contains a control character; expected a worker's name, Cortex id or catalog name"})
    );
    assert!(!folder.path().join(".cortex-runner-claim").exists());
    let posted = server.submit("Nope", &rel);
    assert_eq!(posted.status, 202);
    assert_eq!(posted.json()["backend"], Value::Null);
    assert_eq!(
        posted.json()["reason"],
        "no worker named Nope in the catalogs or policies"
    );
    let id = posted.json()["id"].as_str().unwrap().to_string();
    let job = server
        .get(&format!("/v1/jobs/{id}/wait"), Some(TOKEN))
        .json();
    assert_eq!(job["state"], "done");
    assert_eq!(job["success"], false);
    assert_eq!(
        job["error_message"],
        "no worker named Nope in the catalogs or policies"
    );
    assert_eq!(report(folder.path())["errorMessage"], job["error_message"]);
    // The name a client sent stays out of the metrics' labels.
    let metrics = server.get("/metrics", None).body;
    assert!(
        metrics.contains(
            "cortex_runner_jobs_total{worker=\"unknown\",backend=\"none\",outcome=\"failure\"} 1"
        ),
        "{metrics}"
    );
}

#[test]
fn v1_routes_need_the_bearer_token_and_it_never_shows() {
    let setup = Setup::new("");
    let server = with_token(&setup);
    let (_folder, rel) = setup.folder("auth1");
    let body = json!({"worker": VALIDATE, "job_folder": rel}).to_string();
    for (method, path) in [
        ("GET", "/v1/workers"),
        ("GET", "/v1/jobs/x"),
        ("GET", "/v1/jobs/x/wait"),
        ("DELETE", "/v1/jobs/x"),
    ] {
        let answer = server.request(method, path, None, None);
        assert_eq!(answer.status, 401, "{method} {path}");
        assert_eq!(
            answer.json(),
            json!({"error": "unauthorized", "detail": "no bearer token; send Authorization: Bearer <the service's token>"})
        );
    }
    let wrong = server.request(
        "POST",
        "/v1/jobs",
        Some("t0ken-for-test"),
        Some(body.as_bytes()),
    );
    assert_eq!(wrong.status, 401);
    assert_eq!(
        wrong.json(),
        json!({"error": "unauthorized", "detail": "the bearer token is wrong; send Authorization: Bearer <the service's token>"})
    );
    // Nothing was submitted.
    assert!(
        !setup
            .root()
            .join(&rel)
            .join(".cortex-runner-claim")
            .exists()
    );
    assert_eq!(server.get("/healthz", None).status, 200);
    assert_eq!(server.get("/metrics", None).status, 200);
    assert_eq!(server.submit(VALIDATE, &rel).status, 202);
    assert!(!server.log().contains(TOKEN), "{}", server.log());
}

#[test]
fn job_folders_outside_the_root_or_not_folders_get_400_with_the_reason() {
    let setup = Setup::new("");
    let server = with_token(&setup);
    let root = setup.root().canonicalize().unwrap();
    std::os::unix::fs::symlink(setup.dir.path(), root.join("escape")).unwrap();
    std::fs::write(root.join("plain"), "").unwrap();
    std::fs::create_dir(root.join("empty")).unwrap();
    let outside = setup.dir.path().canonicalize().unwrap();
    let cases = [
        (
            "../x",
            "job_folder \"../x\" contains `..`; expected a folder inside the job root without it"
                .to_string(),
        ),
        (
            "/etc",
            format!(
                "job_folder \"/etc\" is outside the job root {}",
                setup.root().display()
            ),
        ),
        (
            "escape",
            format!(
                "job_folder \"escape\" leaves the job root through a symlink (it resolves to {})",
                outside.display()
            ),
        ),
        (
            "plain",
            "job_folder \"plain\" is not a directory".to_string(),
        ),
        (
            "missing",
            "job_folder \"missing\": no such directory in the job root".to_string(),
        ),
    ];
    for (given, detail) in cases {
        let answer = server.submit(VALIDATE, given);
        assert_eq!(answer.status, 400, "{given}: {}", answer.body);
        assert_eq!(
            answer.json(),
            json!({"error": "bad job_folder", "detail": detail}),
            "{given}"
        );
    }
    let empty = server.submit(VALIDATE, "empty");
    assert_eq!(empty.status, 400);
    assert_eq!(empty.json()["error"], "not a Cortex job folder");
    assert!(!root.join("empty/.cortex-runner-claim").exists());

    let bad = server.request("POST", "/v1/jobs", Some(TOKEN), Some(b"{\"worker\": 1}"));
    assert_eq!(bad.status, 400);
    assert_eq!(
        bad.json(),
        json!({"error": "bad request body", "detail": "invalid type: integer `1`, expected a string at line 1 column 12; expected {\"worker\": NAME, \"job_folder\": PATH}"})
    );
}

#[test]
fn a_body_over_the_limit_gets_413() {
    let setup = Setup::new("max_body_kib = 1");
    let server = with_token(&setup);
    let big = format!(
        "{{\"worker\": \"{VALIDATE}\", \"job_folder\": \"{}\"}}",
        "a".repeat(2000)
    );
    let answer = server.request("POST", "/v1/jobs", Some(TOKEN), Some(big.as_bytes()));
    assert_eq!(answer.status, 413);
    assert_eq!(
        answer.json(),
        json!({"error": "request body too large", "detail": "the body is larger than 1024 bytes (service.max_body_kib)"})
    );
}

#[test]
fn wait_returns_at_its_timeout_and_delete_cancels_with_a_report() {
    let setup = Setup::new("");
    let server = with_token(&setup);
    let (folder, rel) = setup.folder("sleep1");
    let posted = server.submit("Sleep", &rel);
    assert_eq!(posted.status, 202, "{}", posted.body);
    let id = posted.json()["id"].as_str().unwrap().to_string();

    let asked = Instant::now();
    let waited = server.get(&format!("/v1/jobs/{id}/wait?timeout=300ms"), Some(TOKEN));
    let took = asked.elapsed();
    assert_eq!(waited.status, 200);
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(5),
        "{took:?}"
    );
    let job = waited.json();
    assert_eq!(job["state"], "running");
    assert_eq!(job["success"], Value::Null);
    assert_eq!(job["summary"], Value::Null);
    assert!(job["running_s"].as_f64().unwrap() > 0.0);

    let too_long = server.get(&format!("/v1/jobs/{id}/wait?timeout=301s"), Some(TOKEN));
    assert_eq!(too_long.status, 400);
    assert_eq!(
        too_long.json(),
        json!({"error": "bad timeout", "detail": "timeout=\"301s\" is longer than 300s; expected Ns, Nms or Nm, at most 300s"})
    );

    // Resubmitted while it runs: the same job.
    let again = server.submit("Sleep", &rel);
    assert_eq!(
        (again.status, again.json()["state"].clone()),
        (200, json!("running"))
    );

    let deleted = server.request("DELETE", &format!("/v1/jobs/{id}"), Some(TOKEN), None);
    assert_eq!(deleted.status, 202);
    assert_eq!(deleted.json()["id"], id.as_str());
    let job = server
        .get(&format!("/v1/jobs/{id}/wait?timeout=10s"), Some(TOKEN))
        .json();
    assert_eq!(job["state"], "done");
    assert_eq!(job["success"], false);
    assert_eq!(job["error_message"], "cancelled: deleted through the API");
    assert_eq!(
        report(folder.path())["errorMessage"],
        "cancelled: deleted through the API"
    );
    let metrics = server.get("/metrics", None).body;
    assert!(metrics.contains(
        "cortex_runner_jobs_total{worker=\"Sleep\",backend=\"wasm\",outcome=\"failure\"} 1"
    ));
}

#[test]
fn json_logs_are_one_object_per_line_with_each_state_change() {
    let setup = Setup::new("");
    let token = setup.token_file();
    let server = Server::start(
        &setup.config,
        &[
            "--token-file",
            token.to_str().unwrap(),
            "--log-format",
            "json",
        ],
    );
    let (_folder, rel) = setup.folder("log1");
    let id = server.submit(VALIDATE, &rel).json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    server.get(&format!("/v1/jobs/{id}/wait"), Some(TOKEN));
    // The "done" line is written before the wait returns.
    let log = server.log();
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    for state in ["queued", "running", "done"] {
        let line = lines
            .iter()
            .find(|l| l["state"] == state && l["job"] == id.as_str())
            .unwrap_or_else(|| panic!("no {state} line in {log}"));
        assert_eq!(line["worker"], VALIDATE);
        assert_eq!(line["backend"], "wasm");
        assert_eq!(line["level"], "INFO");
    }
}

#[test]
fn listening_beyond_loopback_without_a_token_exits_2() {
    let setup = Setup::new("");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cortex-runner"))
        .args(["serve", "--listen", "0.0.0.0:0", "--config"])
        .arg(&setup.config)
        .env_remove("CORTEX_RUNNER_CONFIG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: refusing to listen on 0.0.0.0:0 without a bearer token: set --token-file, service.token_file or service.token, or service.allow_unauthenticated = true to let anyone who reaches this address run workers\n"
    );
    // Allowed explicitly, it listens.
    let open = Setup::new("allow_unauthenticated = true");
    let server = spawn_on(&open.config, "0.0.0.0:0", &[]);
    assert!(server.addr.ip().is_unspecified());
}

/// Sends `signal` with a job running and a grace of 1 s: new jobs get 503 and `/readyz` says
/// why during the grace, then the job is cancelled with its report, and the process exits 0.
fn a_signal_cancels_a_running_job_after_the_grace(signal: &str, name: &str) {
    let setup = Setup::new("shutdown_grace_s = 1");
    let mut server = with_token(&setup);
    let (folder, rel) = setup.folder("term1");
    let id = server.submit("Sleep", &rel).json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Running before the signal.
    let job = server
        .get(&format!("/v1/jobs/{id}/wait?timeout=200ms"), Some(TOKEN))
        .json();
    assert_eq!(job["state"], "running");
    let sent = Instant::now();
    server.signal(signal);
    std::thread::sleep(Duration::from_millis(300));
    let (_other, other_rel) = setup.folder("term-late");
    let refused = server.submit(VALIDATE, &other_rel);
    assert_eq!(refused.status, 503);
    assert_eq!(
        refused.json(),
        json!({"error": "shutting down", "detail": "the service is stopping and takes no new jobs; submit to another replica"})
    );
    assert_eq!(
        server.get("/readyz", None).json(),
        json!({"error": "not ready", "detail": "the service is shutting down"})
    );
    let status = server.wait_exit(Duration::from_secs(20));
    assert_eq!(status.code(), Some(0), "{}", server.log());
    assert!(sent.elapsed() >= Duration::from_secs(1));
    assert_eq!(
        report(folder.path())["errorMessage"],
        format!(
            "cancelled: the service stopped ({name}) before the job ended, after a grace of 1 s"
        )
    );
    let claim: Value =
        serde_json::from_slice(&std::fs::read(folder.path().join(".cortex-runner-claim")).unwrap())
            .unwrap();
    assert_eq!(claim["state"], "done");
}

#[test]
fn sigterm_cancels_a_running_job_after_the_grace_and_its_report_is_written() {
    a_signal_cancels_a_running_job_after_the_grace("-TERM", "SIGTERM");
}

#[test]
fn sigint_cancels_a_running_job_after_the_grace_and_its_report_is_written() {
    a_signal_cancels_a_running_job_after_the_grace("-INT", "SIGINT");
}

#[test]
fn a_second_signal_exits_at_once() {
    let setup = Setup::new("shutdown_grace_s = 60");
    let mut server = with_token(&setup);
    let (_folder, rel) = setup.folder("term3");
    assert_eq!(server.submit("Sleep", &rel).status, 202);
    server.signal("-TERM");
    std::thread::sleep(Duration::from_millis(300));
    server.signal("-TERM");
    let status = server.wait_exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(143), "{}", server.log());
}

#[test]
fn a_client_that_stalls_its_body_gets_408() {
    let setup = Setup::new("request_timeout_s = 1");
    let server = with_token(&setup);
    let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
    let head = format!(
        "POST /v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{{\"worker\""
    );
    std::io::Write::write_all(&mut stream, head.as_bytes()).unwrap();
    let asked = Instant::now();
    let mut raw = Vec::new();
    let _ = std::io::Read::read_to_end(&mut stream, &mut raw);
    let took = asked.elapsed();
    let answer = service_common::parse(&raw);
    assert_eq!(answer.status, 408);
    assert_eq!(
        answer.json(),
        json!({"error": "request timed out", "detail": "the request took longer than 1 s (service.request_timeout_s)"})
    );
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(10),
        "{took:?}"
    );
}

#[test]
fn a_client_that_never_finishes_its_headers_is_dropped() {
    let setup = Setup::new("request_timeout_s = 1");
    let server = with_token(&setup);
    let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
    std::io::Write::write_all(&mut stream, b"GET /healthz HTTP/1.1\r\nHost: x\r\n").unwrap();
    let asked = Instant::now();
    let mut raw = Vec::new();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let read = std::io::Read::read_to_end(&mut stream, &mut raw);
    let took = asked.elapsed();
    // Closed by the server after the header timeout, not by the client's read timeout.
    assert!(read.is_ok(), "{read:?}");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(10),
        "{took:?}"
    );
    // The server still serves everyone else.
    assert_eq!(server.get("/healthz", None).status, 200);
}

#[test]
fn a_forgotten_job_submitted_again_is_read_back_from_its_folder() {
    let setup = Setup::new("finished_jobs = 1");
    let server = with_token(&setup);
    let (_a, a) = setup.folder("first");
    let (_b, b) = setup.folder("second");
    let id_a = job_name(&a);
    for rel in [&a, &b] {
        let id = server.submit(VALIDATE, rel).json()["id"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(
            server
                .get(&format!("/v1/jobs/{id}/wait"), Some(TOKEN))
                .json()["state"],
            "done"
        );
    }
    // The first was forgotten when the second finished.
    assert_eq!(
        server.get(&format!("/v1/jobs/{id_a}"), Some(TOKEN)).status,
        404
    );
    let again = server.submit(VALIDATE, &a);
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.json()["state"], "done");
    let job = server.get(&format!("/v1/jobs/{id_a}"), Some(TOKEN)).json();
    assert_eq!(job["success"], true);
    assert_eq!(
        job["summary"],
        json!({"taxonomies": [{"level": "info", "namespace": "ValidateObs", "predicate": "ip", "value": "valid"}]})
    );
}

#[test]
fn sigterm_lets_a_short_job_finish_within_the_grace() {
    let setup = Setup::new("shutdown_grace_s = 30");
    let mut server = with_token(&setup);
    let (folder, rel) = setup.folder("term2");
    assert_eq!(server.submit(VALIDATE, &rel).status, 202);
    server.signal("-TERM");
    let status = server.wait_exit(Duration::from_secs(20));
    assert_eq!(status.code(), Some(0), "{}", server.log());
    let report = report(folder.path());
    assert_eq!(report["success"], true, "{report}");
}

#[test]
fn service_keys_out_of_range_are_setup_errors() {
    for (line, error) in [
        (
            "max_body_kib = 0",
            "`service.max_body_kib` must be an integer from 1 to 1024, found 0",
        ),
        (
            "shutdown_grace_s = 3601",
            "`service.shutdown_grace_s` must be an integer from 0 to 3600, found 3601",
        ),
        (
            "finished_jobs = 0",
            "`service.finished_jobs` must be an integer from 1 to 1000000, found 0",
        ),
        (
            "request_timeout_s = 601",
            "`service.request_timeout_s` must be an integer from 1 to 600, found 601",
        ),
    ] {
        let setup = Setup::new(line);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_cortex-runner"))
            .args(["serve", "--config"])
            .arg(&setup.config)
            .env_remove("CORTEX_RUNNER_CONFIG")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{line}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!("error: config {}: {error}\n", setup.config.display())
        );
    }
}
