//! What the bridge tests share: a stand-in for the runner service that follows the issue 11
//! API contract (`POST /v1/jobs`, `GET /v1/jobs/{id}/wait`, `DELETE /v1/jobs/{id}`,
//! `GET /v1/workers`) with scripted answers, job folders made as Cortex makes them, and running
//! `cortex-runner`.

// Each test binary uses some of these.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use cortex_job::{JobFolder, JobInput};
use serde_json::{Value, json};

/// The token the stand-in wants when it wants one.
pub const TOKEN: &str = "bridge-test-token-0123456789";

/// One request the stand-in received.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    /// `POST /v1/jobs`, `GET /v1/jobs/ID/wait?timeout=30s`, ...
    pub line: String,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
    /// The JSON body, if any.
    pub body: Option<Value>,
}

/// The stand-in's script: what it answers, in order.
#[derive(Debug, Default)]
pub struct Script {
    /// Require `Authorization: Bearer TOKEN`.
    pub token: bool,
    /// Status codes answered to `POST /v1/jobs` before it is accepted (500, 503, 429...).
    pub post_errors: VecDeque<u16>,
    /// A `400` body detail for every POST (a folder the service refuses).
    pub refuse_folder: Option<String>,
    /// Answer every POST with `409` naming this job id (another replica holds the folder).
    pub taken_by: Option<String>,
    /// How many waits answer `running` before the job is done.
    pub running_waits: usize,
    /// Status codes answered to waits (before the running ones), e.g. a lost service.
    pub wait_errors: VecDeque<u16>,
    /// Answer every wait with `running` and never finish (until a DELETE).
    pub never_done: bool,
    /// The report the "job" leaves in the folder when done.
    pub report: Value,
    /// The rows of `GET /v1/workers`.
    pub workers: Value,
}

/// The stand-in's state.
#[derive(Debug, Default)]
struct Inner {
    script: Script,
    seen: Vec<Seen>,
    /// The folder of the job (from the POST), where the report goes.
    folder: Option<PathBuf>,
    cancelled: bool,
}

type Shared = Arc<Mutex<Inner>>;

/// A running stand-in; dropping it stops the server.
pub struct StandIn {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    shared: Shared,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for StandIn {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl StandIn {
    /// Starts the stand-in on a port of its own, in a runtime of its own.
    pub fn start(script: Script) -> StandIn {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let shared: Shared = Arc::new(Mutex::new(Inner {
            script,
            ..Inner::default()
        }));
        let app = Router::new()
            .route("/v1/jobs", post(submit))
            .route("/v1/jobs/{id}/wait", get(wait))
            .route("/v1/jobs/{id}", delete(cancel))
            .route("/v1/workers", get(workers))
            .with_state(shared.clone());
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        runtime.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        StandIn {
            url,
            shared,
            runtime: Some(runtime),
        }
    }

    /// Every request received, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.shared.lock().unwrap().seen.clone()
    }

    /// The request lines received, in order.
    pub fn lines(&self) -> Vec<String> {
        self.seen().into_iter().map(|s| s.line).collect()
    }
}

fn error(status: u16, error: &str, detail: &str) -> Response {
    (
        StatusCode::from_u16(status).unwrap(),
        Json(json!({"error": error, "detail": detail})),
    )
        .into_response()
}

/// Records the request; answers 401 when the token is wanted and missing or wrong.
fn record(
    shared: &Shared,
    line: String,
    headers: &HeaderMap,
    body: Option<Value>,
) -> Option<Response> {
    let mut inner = shared.lock().unwrap();
    let authorization = headers
        .get("authorization")
        .map(|v| v.to_str().unwrap().to_string());
    let refused =
        inner.script.token && authorization.as_deref() != Some(&format!("Bearer {TOKEN}"));
    inner.seen.push(Seen {
        line,
        authorization,
        body,
    });
    refused.then(|| {
        error(
            401,
            "unauthorized",
            "expected the header Authorization: Bearer <token>",
        )
    })
}

const JOB_ID: &str = "cj-bridge-test";

fn status(id: &str, state: &str, success: Option<bool>) -> Value {
    json!({"id": id, "state": state, "backend": "wasm", "reason": "policy says wasm",
           "success": success})
}

async fn submit(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(refused) = record(
        &shared,
        "POST /v1/jobs".into(),
        &headers,
        Some(body.clone()),
    ) {
        return refused;
    }
    let mut inner = shared.lock().unwrap();
    if let Some(code) = inner.script.post_errors.pop_front() {
        return error(
            code,
            "scripted failure",
            &format!("status {code} as scripted"),
        );
    }
    if let Some(detail) = &inner.script.refuse_folder {
        return error(400, "invalid job folder", detail);
    }
    inner.folder = body["job_folder"].as_str().map(PathBuf::from);
    if let Some(id) = &inner.script.taken_by {
        return (
            StatusCode::CONFLICT,
            Json(json!({"error": "job folder taken", "detail": "held by replica b", "id": id})),
        )
            .into_response();
    }
    (StatusCode::ACCEPTED, Json(status(JOB_ID, "queued", None))).into_response()
}

async fn wait(
    State(shared): State<Shared>,
    UrlPath(id): UrlPath<String>,
    Query(query): Query<std::collections::BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let timeout = query.get("timeout").cloned().unwrap_or_default();
    let line = format!("GET /v1/jobs/{id}/wait?timeout={timeout}");
    if let Some(refused) = record(&shared, line, &headers, None) {
        return refused;
    }
    // A long-poll holds the answer for a while; a short hold keeps the tests quick.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mut inner = shared.lock().unwrap();
    if let Some(code) = inner.script.wait_errors.pop_front() {
        return error(
            code,
            "scripted failure",
            &format!("status {code} as scripted"),
        );
    }
    if inner.cancelled {
        return Json(status(&id, "done", Some(false))).into_response();
    }
    if inner.script.never_done {
        return Json(status(&id, "running", None)).into_response();
    }
    if inner.script.running_waits > 0 {
        inner.script.running_waits -= 1;
        return Json(status(&id, "running", None)).into_response();
    }
    let report = inner.script.report.clone();
    if let Some(folder) = &inner.folder {
        std::fs::write(folder.join("output/output.json"), report.to_string()).unwrap();
    }
    let success = report["success"].as_bool();
    Json(status(&id, "done", success)).into_response()
}

async fn cancel(
    State(shared): State<Shared>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = record(&shared, format!("DELETE /v1/jobs/{id}"), &headers, None) {
        return refused;
    }
    let mut inner = shared.lock().unwrap();
    inner.cancelled = true;
    if let Some(folder) = &inner.folder {
        let report = json!({"success": false, "errorMessage": "cancelled: deleted through the API",
                            "input": {}});
        std::fs::write(folder.join("output/output.json"), report.to_string()).unwrap();
    }
    (StatusCode::ACCEPTED, Json(status(&id, "running", None))).into_response()
}

async fn workers(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    if let Some(refused) = record(&shared, "GET /v1/workers".into(), &headers, None) {
        return refused;
    }
    Json(shared.lock().unwrap().script.workers.clone()).into_response()
}

/// The input every bridge job gets: an IP with a secret in its config.
pub fn input() -> JobInput {
    let mut input = JobInput::new("ip", "8.8.8.8");
    input
        .config
        .insert("api_key".into(), json!("hunter2-secret"));
    input.config.insert("service".into(), json!("validate"));
    input
}

/// A job folder made as Cortex makes it, under `root`.
pub fn job_folder(root: &Path) -> JobFolder {
    std::fs::create_dir_all(root).unwrap();
    JobFolder::create(root, "AZbridge01", &input(), None).unwrap()
}

/// `input.json` as a failure report quotes it: the secret config values removed.
pub fn redacted_input() -> Value {
    input().redacted()
}

/// The report in the folder.
pub fn report(folder: &JobFolder) -> Value {
    let text = std::fs::read_to_string(folder.output_dir().join("output.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// A token file in `dir`.
pub fn token_file(dir: &Path) -> PathBuf {
    let path = dir.join("token");
    std::fs::write(&path, format!("{TOKEN}\n")).unwrap();
    path
}

/// Runs `cortex-runner ARGS`.
pub fn runner(args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_cortex-runner"))
        .args(args)
        .env_remove("CORTEX_RUNNER_TOKEN_FILE")
        .env_remove("CORTEX_RUNNER_CONFIG")
        .output()
        .unwrap()
}

/// The text of a process's stderr.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A success report as a worker's finalised report looks.
pub fn success_report() -> Value {
    json!({"success": true, "summary": {"taxonomies": []}, "artifacts": [], "operations": [],
           "full": {"valid": true}})
}

/// A URL where nothing listens: a port just bound and released.
pub fn dead_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    url
}

/// Cortex's process runner: the definition's `command` resolved against the directory it lists
/// (and refused outside it), run in the command's grandparent with the job folder as its one
/// argument, `REQUESTS_CA_BUNDLE` set when the job has `input/cacerts`.
pub fn cortex_process_runner(urls_dir: &Path, name: &str, folder: &Path) -> std::process::Output {
    cortex_process(urls_dir, name, folder).output().unwrap()
}

/// The command [`cortex_process_runner`] runs, to spawn it.
pub fn cortex_process(urls_dir: &Path, name: &str, folder: &Path) -> std::process::Command {
    let text = std::fs::read_to_string(urls_dir.join(name).join(format!("{name}.json"))).unwrap();
    let definition: Value = serde_json::from_str(&text).unwrap();
    let command: PathBuf = urls_dir.join(definition["command"].as_str().unwrap());
    assert!(
        command.starts_with(urls_dir),
        "Cortex drops a command outside its directory"
    );
    let base = command.parent().unwrap().parent().unwrap();
    let mut process = std::process::Command::new(&command);
    process.arg(folder).current_dir(base);
    let cacerts = folder.join("input/cacerts");
    if cacerts.exists() {
        process.env("REQUESTS_CA_BUNDLE", cacerts);
    }
    process
}
