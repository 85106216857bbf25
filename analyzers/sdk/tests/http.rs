//! The native HTTP client against a small HTTP/1.1 server on 127.0.0.1 that records every
//! request it receives and answers from a script.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use cortex_sdk::http::{Client, ClientOptions, HttpError};

/// A request as the server read it.
#[derive(Debug)]
struct Seen {
    /// `GET /path?query HTTP/1.1`.
    line: String,
    /// Header lines, names in lower case.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// How the server answers one connection: the raw response bytes, or `None` to hold the
/// connection open without answering (for timeouts).
type Answer = Box<dyn FnOnce(&Seen) -> Option<Vec<u8>> + Send>;

/// Serves one connection per answer, in order; `answer(request)` gives the raw response bytes
/// (`None`: hold the connection open without answering, for timeouts).
struct Server {
    base: String,
    seen: mpsc::Receiver<Seen>,
}

impl Server {
    fn start(answers: Vec<Answer>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for answer in answers {
                let Ok((mut stream, _)) = listener.accept() else {
                    return;
                };
                let seen = read_request(&mut stream);
                let reply = answer(&seen);
                let _ = tx.send(seen);
                match reply {
                    Some(bytes) => {
                        let _ = stream.write_all(&bytes);
                    }
                    None => thread::sleep(Duration::from_secs(5)),
                }
            }
        });
        Server { base, seen: rx }
    }

    fn next(&self) -> Seen {
        self.seen.recv_timeout(Duration::from_secs(5)).unwrap()
    }
}

fn read_request(stream: &mut TcpStream) -> Seen {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).unwrap();
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (k, v) = header.split_once(':').unwrap();
        headers.push((k.to_ascii_lowercase(), v.trim().to_owned()));
    }
    let length = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .map_or(0, |(_, v)| v.parse::<usize>().unwrap());
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    Seen {
        line: line.trim_end().to_owned(),
        headers,
        body,
    }
}

fn reply(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

fn answer(
    status: &'static str,
    headers: &'static [(&'static str, &'static str)],
    body: &'static [u8],
) -> Answer {
    Box::new(move |_| Some(reply(status, headers, body)))
}

fn client() -> Client {
    Client::with_options(ClientOptions::default()).unwrap()
}

#[test]
fn get_sends_the_query_encoded_as_requests_params_and_the_headers() {
    let server = Server::start(vec![answer(
        "200 OK",
        &[("Content-Type", "application/json")],
        br#"{"data": {"ipAddress": "1.2.3.4", "score": 0}}"#,
    )]);
    let response = client()
        .get(&format!("{}/api/v2/check?x=1", server.base))
        .query("maxAgeInDays", "30")
        .query("ipAddress", "1.2.3.4")
        .query("q", "a b&c/é")
        .header("Key", "secret")
        .header("Accept", "application/json")
        .send()
        .unwrap();
    let seen = server.next();
    assert_eq!(
        seen.line,
        "GET /api/v2/check?x=1&maxAgeInDays=30&ipAddress=1.2.3.4&q=a+b%26c%2F%C3%A9 HTTP/1.1"
    );
    assert_eq!(seen.header("key"), Some("secret"));
    assert_eq!(seen.header("accept"), Some("application/json"));
    assert_eq!(
        seen.header("user-agent"),
        Some(cortex_sdk::http::DEFAULT_USER_AGENT)
    );
    assert_eq!(seen.body, b"");
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert_eq!(
        response.json().unwrap(),
        serde_json::json!({"data": {"ipAddress": "1.2.3.4", "score": 0}})
    );
    assert_eq!(
        response.url,
        format!(
            "{}/api/v2/check?x=1&maxAgeInDays=30&ipAddress=1.2.3.4&q=a+b%26c%2F%C3%A9",
            server.base
        )
    );
}

#[test]
fn post_form_is_urlencoded_like_requests_data() {
    let server = Server::start(vec![answer("404 Not Found", &[], b"no \xff such")]);
    let response = client()
        .post(&format!("{}/v1/url/", server.base))
        .header("Auth-Key", "k")
        .form(&[("url", "http://evil.example/a b?c=d")])
        .send()
        .unwrap();
    let seen = server.next();
    assert_eq!(seen.line, "POST /v1/url/ HTTP/1.1");
    assert_eq!(
        seen.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(seen.header("auth-key"), Some("k"));
    assert_eq!(seen.body, b"url=http%3A%2F%2Fevil.example%2Fa+b%3Fc%3Dd");
    // A 4xx is a response, not an error; invalid UTF-8 is replaced as requests' .text does.
    assert_eq!(response.status, 404);
    assert!(!response.is_success());
    assert_eq!(response.text(), "no \u{fffd} such");
    assert!(matches!(response.json(), Err(HttpError::Json(_))));
}

#[test]
fn redirects_follow_requests_rules() {
    let server = Server::start(vec![
        // 302 turns the POST into a GET without body or Content-Type.
        answer("302 Found", &[("Location", "/second?a=1")], b""),
        // 307 keeps the method (GET here) and the query of the new location.
        answer("307 Temporary Redirect", &[("Location", "third")], b""),
        answer("200 OK", &[], b"done"),
    ]);
    let response = client()
        .post(&format!("{}/first/", server.base))
        .header("Authorization", "Bearer t")
        .form(&[("k", "v")])
        .send()
        .unwrap();
    let first = server.next();
    assert_eq!(first.line, "POST /first/ HTTP/1.1");
    assert_eq!(first.body, b"k=v");
    let second = server.next();
    assert_eq!(second.line, "GET /second?a=1 HTTP/1.1");
    assert_eq!(second.header("content-type"), None);
    assert_eq!(second.body, b"");
    // Same host: the credentials stay.
    assert_eq!(second.header("authorization"), Some("Bearer t"));
    let third = server.next();
    assert_eq!(third.line, "GET /third HTTP/1.1");
    assert_eq!(response.text(), "done");
    assert_eq!(response.url, format!("{}/third", server.base));
}

#[test]
fn a_307_resends_the_post_body() {
    let server = Server::start(vec![
        answer("307 Temporary Redirect", &[("Location", "/again")], b""),
        answer("200 OK", &[], b"ok"),
    ]);
    client()
        .post(&format!("{}/once", server.base))
        .form(&[("a", "b")])
        .send()
        .unwrap();
    assert_eq!(server.next().line, "POST /once HTTP/1.1");
    let again = server.next();
    assert_eq!(again.line, "POST /again HTTP/1.1");
    assert_eq!(again.body, b"a=b");
}

#[test]
fn more_than_thirty_redirects_fail_with_requests_message() {
    let loops: Vec<Answer> = (0..31)
        .map(|_| answer("301 Moved Permanently", &[("Location", "/loop")], b""))
        .collect();
    let server = Server::start(loops);
    let err = client()
        .get(&format!("{}/loop", server.base))
        .send()
        .unwrap_err();
    assert_eq!(err.to_string(), "Exceeded 30 redirects.");
    for _ in 0..31 {
        assert_eq!(server.next().line, "GET /loop HTTP/1.1");
    }
}

#[test]
fn the_body_is_read_up_to_the_bound() {
    let server = Server::start(vec![
        answer("200 OK", &[], b"0123456789"),
        answer("200 OK", &[], b"0123456789a"),
    ]);
    let small = Client::with_options(ClientOptions {
        max_body_bytes: 10,
        ..ClientOptions::default()
    })
    .unwrap();
    let url = format!("{}/body", server.base);
    assert_eq!(small.get(&url).send().unwrap().body, b"0123456789");
    let err = small.get(&url).send().unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("the response body from {url} is larger than 10 bytes")
    );
}

#[test]
fn a_server_that_does_not_answer_times_out() {
    let server = Server::start(vec![Box::new(|_| None)]);
    let url = format!("{}/slow", server.base);
    let started = Instant::now();
    let err = client()
        .get(&url)
        .timeout(Duration::from_millis(300))
        .send()
        .unwrap_err();
    let took = started.elapsed();
    assert_eq!(
        err.to_string(),
        format!("request to {url} timed out after 0.3 s")
    );
    assert!(took < Duration::from_secs(3), "took {took:?}");
}

#[test]
fn a_url_that_cannot_be_requested_is_refused_before_any_connection() {
    let err = client().get("ftp://example.com/x").send().unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid URL \"ftp://example.com/x\": only http:// and https:// URLs can be requested"
    );
}

#[test]
fn a_refused_connection_is_a_transport_error_naming_the_url() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/x");
    let err = client().get(&url).send().unwrap_err();
    assert!(matches!(err, HttpError::Transport { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with(&format!("request to {url} failed: ")),
        "{err}"
    );
}

#[test]
fn an_http_proxy_is_used_with_connect() {
    // The "proxy" answers the CONNECT, then serves the tunnelled request itself.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy = format!("http://{}", listener.local_addr().unwrap());
    let handle = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let connect = read_request(&mut stream);
        stream
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .unwrap();
        let inner = read_request(&mut stream);
        stream
            .write_all(&reply("200 OK", &[], b"via proxy"))
            .unwrap();
        let host = inner.header("host").map(str::to_owned);
        (connect.line, inner.line, host)
    });
    let client = Client::with_options(ClientOptions {
        http_proxy: Some(proxy),
        ..ClientOptions::default()
    })
    .unwrap();
    let response = client
        .get("http://api.example.test:8080/v1/x")
        .send()
        .unwrap();
    assert_eq!(response.text(), "via proxy");
    let (connect, inner, host) = handle.join().unwrap();
    assert_eq!(connect, "CONNECT api.example.test:8080 HTTP/1.1");
    assert_eq!(inner, "GET /v1/x HTTP/1.1");
    assert_eq!(host.as_deref(), Some("api.example.test:8080"));
}

#[test]
fn a_ca_bundle_without_certificates_is_refused() {
    let err = Client::with_options(ClientOptions {
        extra_roots_pem: Some(b"not a pem".to_vec()),
        ..ClientOptions::default()
    })
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot use the CA bundle the job's cacerts: no PEM certificate in it"
    );
}

/// A job folder with `config` as its worker configuration and, when given, `input/cacerts`.
fn job(config: serde_json::Value, cacerts: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("input")).unwrap();
    std::fs::create_dir(dir.path().join("output")).unwrap();
    let input = serde_json::json!({"data": "1.2.3.4", "dataType": "ip", "config": config});
    std::fs::write(dir.path().join("input/input.json"), input.to_string()).unwrap();
    if let Some(pem) = cacerts {
        std::fs::write(dir.path().join("input/cacerts"), pem).unwrap();
    }
    dir
}

fn options_of(dir: &tempfile::TempDir) -> ClientOptions {
    let worker = cortex_sdk::Worker::open(cortex_sdk::WorkerOptions {
        job_directory: Some(dir.path().to_path_buf()),
        secret_phrases: None,
    })
    .unwrap();
    ClientOptions::from_worker(&worker).unwrap()
}

#[test]
fn the_jobs_proxies_and_ca_bundle_come_from_its_config_or_input_cacerts() {
    let dir = job(
        serde_json::json!({
            "proxy": {"http": "http://p:3128", "https": "http://q:3129"},
            "cacerts": "-----BEGIN CERTIFICATE-----\nconfig\n",
        }),
        Some("file"),
    );
    let options = options_of(&dir);
    assert_eq!(options.http_proxy.as_deref(), Some("http://p:3128"));
    assert_eq!(options.https_proxy.as_deref(), Some("http://q:3129"));
    // config.cacerts wins over the file Cortex writes from it.
    assert_eq!(
        options.extra_roots_pem.as_deref(),
        Some(&b"-----BEGIN CERTIFICATE-----\nconfig\n"[..])
    );

    let dir = job(serde_json::json!({}), Some("from the file"));
    let options = options_of(&dir);
    assert_eq!((options.http_proxy, options.https_proxy), (None, None));
    assert_eq!(
        options.extra_roots_pem.as_deref(),
        Some(&b"from the file"[..])
    );
    assert_eq!(
        options.max_body_bytes,
        cortex_sdk::http::DEFAULT_MAX_BODY_BYTES
    );
    assert_eq!(options.timeout, cortex_sdk::http::DEFAULT_TIMEOUT);
}
