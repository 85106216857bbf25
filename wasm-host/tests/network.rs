//! Components and the network: a WASI 0.2 component runs like a preview-1 module, and every
//! HTTP request it makes goes through the run's [`NetworkPolicy`] — denied outside the
//! allowlist, denied to internal addresses an allowed name resolves to, bounded in count, bytes
//! and time — while a local server counts what actually reaches it.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::{Job, SANDBOX};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wasm_host::net::{Origin, Pinned};
use wasm_host::{ModuleKind, NetworkPolicy, NetworkStats, Outcome, RunRecord};

/// A plain HTTP/1.1 server on 127.0.0.1 that counts requests per path:
/// `/ok` → 200 "hello"; `/redirect?to=URL` → 302 to URL; `/endless` → a body that never ends;
/// `/trickle` → one byte every 200 ms.
struct Server {
    addr: SocketAddr,
    hits: Arc<std::sync::Mutex<BTreeMap<String, u64>>>,
    connections: Arc<AtomicU64>,
}

impl Server {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(std::sync::Mutex::new(BTreeMap::new()));
        let connections = Arc::new(AtomicU64::new(0));
        let (h, c) = (hits.clone(), connections.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                c.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(serve(stream, h.clone()));
            }
        });
        Self {
            addr,
            hits,
            connections,
        }
    }

    fn hits(&self) -> BTreeMap<String, u64> {
        self.hits.lock().unwrap().clone()
    }

    fn total(&self) -> u64 {
        self.hits().values().sum()
    }
}

async fn serve(
    mut stream: tokio::net::TcpStream,
    hits: Arc<std::sync::Mutex<BTreeMap<String, u64>>>,
) {
    loop {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            match stream.read(&mut byte).await {
                Ok(1) => head.push(byte[0]),
                _ => return,
            }
        }
        let head = String::from_utf8_lossy(&head).into_owned();
        let target = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
        let path = target.split('?').next().unwrap_or("/").to_owned();
        *hits.lock().unwrap().entry(path.clone()).or_default() += 1;
        let result = match path.as_str() {
            "/ok" => {
                stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello")
                    .await
            }
            "/redirect" => {
                let to = target.split_once("to=").map(|(_, to)| to).unwrap_or("/");
                let answer =
                    format!("HTTP/1.1 302 Found\r\nlocation: {to}\r\ncontent-length: 0\r\n\r\n");
                stream.write_all(answer.as_bytes()).await
            }
            "/endless" => {
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100000000000\r\n\r\n")
                    .await;
                let chunk = vec![b'x'; 64 * 1024];
                while stream.write_all(&chunk).await.is_ok() {}
                return;
            }
            "/trickle" => {
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n")
                    .await;
                loop {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    if stream.write_all(b"x").await.is_err() {
                        return;
                    }
                }
            }
            _ => {
                stream
                    .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
                    .await
            }
        };
        if result.is_err() {
            return;
        }
    }
}

fn component(path: &str) -> wasm_host::Module {
    let module = SANDBOX
        .load(std::path::Path::new(path))
        .expect("load the component");
    assert_eq!(module.kind(), ModuleKind::Component);
    module
}

/// Runs the probe on `urls` with `env` under `network`; returns the record and the report's
/// `full`.
async fn probe(
    urls: &[String],
    env: &[(&str, &str)],
    network: Option<NetworkPolicy>,
) -> (RunRecord, Value) {
    let module = component(test_programs_artifacts::p2::HTTP_PROBE);
    let job = Job::new();
    let mut spec = job.spec();
    spec.env = vec![("PROBE_URLS".into(), urls.join(" "))];
    spec.env
        .extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    spec.network = network;
    spec.limits.timeout = Duration::from_secs(30);
    let record = SANDBOX.run(&module, spec).await.expect("run the probe");
    assert_eq!(record.outcome, Outcome::Exited { code: 0 }, "{record:?}");
    let full = job.report()["full"].clone();
    (record, full)
}

fn allow(origins: &[String]) -> NetworkPolicy {
    NetworkPolicy {
        allow: origins
            .iter()
            .map(|o| o.parse::<Origin>().unwrap())
            .collect(),
        ..NetworkPolicy::default()
    }
}

#[tokio::test]
async fn a_component_runs_like_a_module_and_sees_only_its_job() {
    let module = component(test_programs_artifacts::p2::P2_HONEST);
    let job = Job::new();
    let record = SANDBOX.run(&module, job.spec()).await.unwrap();
    assert_eq!(record.outcome, Outcome::Exited { code: 0 });
    assert_eq!(
        job.report()["full"],
        json!({"data": "8.8.8.8", "args": ["p2-honest", "/job"]})
    );
    assert_eq!(record.network, Some(NetworkStats::default()));
    assert!(record.warnings.is_empty());
}

#[tokio::test]
async fn an_allowed_origin_is_reached_and_counted() {
    let server = Server::start().await;
    let origin = format!("http://{}", server.addr);
    let (record, full) = probe(&[format!("{origin}/ok")], &[], Some(allow(&[origin]))).await;
    assert_eq!(full["counts"], json!({"200": 1}));
    assert_eq!(full["results"][0]["bytes"], 5);
    assert_eq!(server.hits(), BTreeMap::from([("/ok".to_owned(), 1)]));
    assert_eq!(
        record.network,
        Some(NetworkStats {
            requests: 1,
            denied: 0,
            response_bytes: 5
        })
    );
    assert!(record.warnings.is_empty(), "{:?}", record.warnings);
}

#[tokio::test]
async fn without_a_policy_every_request_is_denied() {
    let server = Server::start().await;
    let url = format!("http://{}/ok", server.addr);
    let (record, full) = probe(std::slice::from_ref(&url), &[], None).await;
    assert_eq!(full["counts"], json!({"HttpRequestDenied": 1}));
    assert_eq!(server.connections.load(Ordering::Relaxed), 0);
    assert_eq!(
        record.warnings,
        [format!(
            "http-probe asked for {url}: denied, its policy grants no network (no [wasm.network] section)"
        )]
    );
}

#[tokio::test]
async fn a_host_outside_the_allowlist_is_denied_and_never_reached() {
    let server = Server::start().await;
    let allowed = format!("http://{}", server.addr);
    let other = format!("http://localhost:{}/ok", server.addr.port());
    let (record, full) = probe(
        std::slice::from_ref(&other),
        &[],
        Some(allow(std::slice::from_ref(&allowed))),
    )
    .await;
    assert_eq!(full["counts"], json!({"HttpRequestDenied": 1}));
    assert_eq!(server.connections.load(Ordering::Relaxed), 0);
    assert_eq!(
        record.warnings,
        [format!(
            "http-probe asked for {other}: denied, http://localhost:{} is not in its network allowlist ({allowed})",
            server.addr.port()
        )]
    );
    assert_eq!(record.network.unwrap().denied, 1);
}

/// An allowed name that resolves (here: is pinned) to a loopback or metadata address is refused
/// unless the policy names the address; with it named, the request goes through.
#[tokio::test]
async fn an_allowed_name_resolving_to_an_internal_address_is_refused() {
    let server = Server::start().await;
    let port = server.addr.port();
    let origin = format!("http://api.example.test:{port}");
    let url = format!("{origin}/ok");
    let pinned = |ip: &str| Pinned {
        host: "api.example.test".into(),
        port,
        addrs: vec![format!("{ip}:{port}").parse().unwrap()],
    };
    for (ip, kind) in [
        ("127.0.0.1", "loopback"),
        ("169.254.169.254", "cloud metadata"),
    ] {
        let policy = NetworkPolicy {
            resolve: vec![pinned(ip)],
            ..allow(std::slice::from_ref(&origin))
        };
        let (record, full) = probe(std::slice::from_ref(&url), &[], Some(policy)).await;
        assert_eq!(full["counts"], json!({"HttpRequestDenied": 1}), "{ip}");
        assert_eq!(
            record.warnings,
            [format!(
                "http-probe asked for {url}: denied, api.example.test resolves to {ip} (a {kind} \
                 address) (list the address in wasm.network.allow_addresses to allow it)"
            )]
        );
    }
    assert_eq!(server.connections.load(Ordering::Relaxed), 0);
    let policy = NetworkPolicy {
        resolve: vec![pinned("127.0.0.1")],
        allow_addresses: vec!["127.0.0.1/32".parse().unwrap()],
        ..allow(std::slice::from_ref(&origin))
    };
    let (record, full) = probe(std::slice::from_ref(&url), &[], Some(policy)).await;
    assert_eq!(full["counts"], json!({"200": 1}));
    assert!(record.warnings.is_empty());
    assert_eq!(server.total(), 1);
}

#[tokio::test]
async fn a_redirect_to_a_denied_host_is_checked_again_and_denied() {
    let server = Server::start().await;
    let origin = format!("http://{}", server.addr);
    let url = format!("{origin}/redirect?to=http://169.254.169.254/latest/meta-data/");
    let (record, full) = probe(
        std::slice::from_ref(&url),
        &[("PROBE_FOLLOW", "1")],
        Some(allow(std::slice::from_ref(&origin))),
    )
    .await;
    assert_eq!(full["counts"], json!({"302": 1, "HttpRequestDenied": 1}));
    assert_eq!(
        full["results"][1]["url"],
        "http://169.254.169.254/latest/meta-data/"
    );
    assert_eq!(
        record.warnings,
        [format!(
            "http-probe asked for http://169.254.169.254/latest/meta-data/: denied, \
             http://169.254.169.254 is not in its network allowlist ({origin})"
        )]
    );
    assert_eq!(server.hits(), BTreeMap::from([("/redirect".to_owned(), 1)]));
}

#[tokio::test]
async fn an_endless_body_is_cut_at_the_response_limit() {
    let server = Server::start().await;
    let origin = format!("http://{}", server.addr);
    let url = format!("{origin}/endless");
    let policy = NetworkPolicy {
        max_response_bytes: 1 << 20,
        ..allow(std::slice::from_ref(&origin))
    };
    let (record, full) = probe(std::slice::from_ref(&url), &[], Some(policy)).await;
    // A body cut by the host reaches the guest as a stream error carrying the host's text.
    assert_eq!(
        full["counts"],
        json!({"HTTP response body size exceeds limit: 1048576 bytes": 1})
    );
    let read = full["results"][0]["bytes"].as_u64().unwrap();
    assert!(read <= 1 << 20, "read {read} bytes");
    assert_eq!(
        record.warnings,
        [format!(
            "http-probe asked for {url}: the response was cut at 1048576 bytes \
             (wasm.network.max_response_kib)"
        )]
    );
}

#[tokio::test]
async fn a_slow_body_is_cut_at_the_request_timeout() {
    let server = Server::start().await;
    let origin = format!("http://{}", server.addr);
    let url = format!("{origin}/trickle");
    let policy = NetworkPolicy {
        request_timeout: Duration::from_millis(1500),
        ..allow(std::slice::from_ref(&origin))
    };
    let started = std::time::Instant::now();
    let (record, full) = probe(std::slice::from_ref(&url), &[], Some(policy)).await;
    let took = started.elapsed();
    assert_eq!(full["counts"], json!({"connection read timeout": 1}));
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert_eq!(
        record.warnings,
        [format!(
            "http-probe asked for {url}: the response was cut after 1.5 s \
             (wasm.network.request_timeout_s)"
        )]
    );
}

/// 10,000 requests in one job: the first `max_requests` go out, the rest are denied without
/// reaching the server, and the run's warnings stay short.
#[tokio::test]
async fn ten_thousand_requests_stop_at_the_request_budget() {
    let server = Server::start().await;
    let origin = format!("http://{}", server.addr);
    let url = format!("{origin}/ok");
    let policy = NetworkPolicy {
        max_requests: 100,
        ..allow(std::slice::from_ref(&origin))
    };
    let (record, full) = probe(
        std::slice::from_ref(&url),
        &[("PROBE_REPEAT", "10000")],
        Some(policy),
    )
    .await;
    assert_eq!(
        full["counts"],
        json!({"200": 100, "HttpRequestDenied": 9900})
    );
    assert_eq!(server.total(), 100);
    assert_eq!(
        record.network,
        Some(NetworkStats {
            requests: 10_000,
            denied: 9_900,
            response_bytes: 500
        })
    );
    // The same sentence 9,900 times is one warning.
    assert_eq!(
        record.warnings,
        [format!(
            "http-probe asked for {url}: denied, the job has made the 100 requests \
             wasm.network.max_requests allows"
        )]
    );
}

/// Without a pin, the name goes to the system's resolver, once per request: `localhost` is an
/// allowed name here, and it resolves to loopback, so the request is denied all the same.
#[tokio::test]
async fn a_name_the_resolver_maps_to_loopback_is_refused() {
    let server = Server::start().await;
    let origin = format!("http://localhost:{}", server.addr.port());
    let url = format!("{origin}/ok");
    let (record, full) = probe(std::slice::from_ref(&url), &[], Some(allow(&[origin]))).await;
    assert_eq!(full["counts"], json!({"HttpRequestDenied": 1}));
    assert_eq!(server.connections.load(Ordering::Relaxed), 0);
    let prefix = format!("http-probe asked for {url}: denied, localhost resolves to ");
    assert_eq!(record.warnings.len(), 1);
    assert!(
        record.warnings[0].starts_with(&prefix)
            && record.warnings[0].contains("127.0.0.1 (a loopback address)")
            && record.warnings[0]
                .ends_with("(list the address in wasm.network.allow_addresses to allow it)"),
        "{:?}",
        record.warnings
    );
}
