//! Helpers shared by the integration tests: a started stand-in with a kube client, and a raw
//! HTTP/1.0 client for checking exact wire shapes.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use kube_standin::{Config, Handle, Image, Standin};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// A running stand-in, a kube client for it, and the temp dir holding its kubeconfig.
pub struct Env {
    pub handle: Handle,
    pub client: kube::Client,
    pub kubeconfig: PathBuf,
    pub dir: tempfile::TempDir,
}

/// The image map most tests use: `sh:1` runs `sh -c ARGS...`.
pub fn images() -> BTreeMap<String, Image> {
    BTreeMap::from([
        (
            "sh:1".to_owned(),
            Image {
                command: vec!["sh".to_owned(), "-c".to_owned()],
                ..Image::default()
            },
        ),
        (
            "gone:1".to_owned(),
            Image {
                missing: true,
                ..Image::default()
            },
        ),
        ("empty:1".to_owned(), Image::default()),
        (
            "evict:1".to_owned(),
            Image {
                command: vec!["sleep".to_owned(), "30".to_owned()],
                evicted: true,
                ..Image::default()
            },
        ),
        (
            "oom:1".to_owned(),
            Image {
                command: vec!["sleep".to_owned(), "30".to_owned()],
                oom: true,
                ..Image::default()
            },
        ),
    ])
}

pub async fn start(mut config: Config) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    config.kubeconfig_out = Some(kubeconfig.clone());
    if config.images.is_empty() {
        config.images = images();
    }
    let handle = Standin::start(config).await.unwrap();
    let kc = kube::config::Kubeconfig::read_from(&kubeconfig).unwrap();
    let cfg = kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
        .await
        .unwrap();
    let client = kube::Client::try_from(cfg).unwrap();
    Env {
        handle,
        client,
        kubeconfig,
        dir,
    }
}

/// How many times [`eventually`] looks, [`POLL`] apart: 30 s and the probes' own time, so that a
/// loaded CI machine does not fail a test the stand-in passes.
pub const POLLS: usize = 1500;
/// The pause between two looks of [`eventually`].
pub const POLL: Duration = Duration::from_millis(20);

/// Awaits `probe` until it returns `Some`, [`POLLS`] times at most, [`POLL`] apart; panics
/// naming `what` when it never does. Every test that waits for the stand-in to get somewhere
/// (a pod to run, a Job to go) waits through this.
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..POLLS {
        if let Some(found) = probe().await {
            return found;
        }
        tokio::time::sleep(POLL).await;
    }
    panic!("{what}: not within {POLLS} polls {POLL:?} apart");
}

fn addr(handle: &Handle) -> String {
    handle.url().trim_start_matches("http://").to_owned()
}

/// One HTTP/1.0 request: (status code, headers lower-cased, body).
pub async fn raw(
    handle: &Handle,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> (u16, BTreeMap<String, String>, String) {
    let mut s = TcpStream::connect(addr(handle)).await.unwrap();
    let body = body.unwrap_or("");
    let req = format!(
        "{method} {path} HTTP/1.0\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut out))
        .await
        .expect("response within 20 s")
        .unwrap();
    let text = String::from_utf8(out).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let code = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned()))
        .collect();
    (code, headers, body.to_owned())
}

/// Opens a watch (HTTP/1.0, so the body is the raw event lines) and returns a line reader.
pub async fn watch(handle: &Handle, path: &str) -> BufReader<TcpStream> {
    let mut s = TcpStream::connect(addr(handle)).await.unwrap();
    let req = format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut r = BufReader::new(s);
    loop {
        let mut line = String::new();
        r.read_line(&mut line).await.unwrap();
        if line == "\r\n" || line.is_empty() {
            break;
        }
    }
    r
}

/// The next watch event line as JSON, or None at the end of the stream.
pub async fn next_event(r: &mut BufReader<TcpStream>) -> Option<serde_json::Value> {
    let mut line = String::new();
    let n = tokio::time::timeout(Duration::from_secs(20), r.read_line(&mut line))
        .await
        .expect("a watch event within 20 s")
        .unwrap();
    (n > 0).then(|| serde_json::from_str(&line).unwrap())
}

/// The pod template's spec of `job`, to change its containers or volumes in place.
pub fn pod_spec(
    job: &mut k8s_openapi::api::batch::v1::Job,
) -> &mut k8s_openapi::api::core::v1::PodSpec {
    job.spec
        .as_mut()
        .expect("a Job has a spec")
        .template
        .spec
        .as_mut()
        .expect("a Job's template has a spec")
}

/// A Job running `script` with `sh:1` (restartPolicy Never, backoffLimit 0).
pub fn sh_job(name: &str, script: &str) -> k8s_openapi::api::batch::v1::Job {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": {"app": "cortex", "worker": name}},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "metadata": {"labels": {"app": "cortex"}},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "worker", "image": "sh:1", "args": [script]}]
                }
            }
        }
    }))
    .unwrap()
}
