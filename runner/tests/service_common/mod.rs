//! What the service tests share: a `cortex-runner serve` process on 127.0.0.1 (a free port the
//! kernel picks, read back from its "listening" log line), a minimal HTTP/1.1 client over a
//! `TcpStream`, job folders made as Cortex makes them, and slow test workers.

// Each test binary uses some of these.
#![allow(dead_code)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use cortex_job::{JobFolder, JobInput};
use serde_json::{Value, json};
use test_programs_artifacts as programs;

use crate::common::config_with;

/// The token of the tests that set one.
pub const TOKEN: &str = "t0ken-for-tests";

/// A scratch directory with `config.toml` (the shipped policies plus `Sleep`, a guest asleep in
/// a host call with a 60 s timeout), `jobs/` and a token file; `service` lines are added to
/// `[service]`.
pub struct Setup {
    /// The scratch directory.
    pub dir: tempfile::TempDir,
    /// The configuration file.
    pub config: PathBuf,
}

impl Setup {
    /// The setup with `service` lines in `[service]`.
    pub fn new(service: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let policies = dir.path().join("policies");
        let modules = dir.path().join("modules");
        std::fs::create_dir_all(&modules).unwrap();
        std::fs::create_dir_all(&policies).unwrap();
        for entry in std::fs::read_dir(crate::common::repo().join("policies")).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                std::fs::copy(&path, policies.join(path.file_name().unwrap())).unwrap();
            }
        }
        std::fs::copy(programs::SLEEP_FOREVER, modules.join("Sleep.wasm")).unwrap();
        std::fs::write(
            policies.join("Sleep.toml"),
            "backend = \"wasm\"\n[worker]\ndata_types = [\"ip\"]\n[wasm]\ntimeout_s = 60\n",
        )
        .unwrap();
        let module_dirs = format!("module_dirs = [{:?}]", modules.display().to_string());
        let config = config_with(dir.path(), &policies, "", &module_dirs);
        let mut text = std::fs::read_to_string(&config).unwrap();
        text.push_str(&format!("[service]\n{service}\n"));
        std::fs::write(&config, text).unwrap();
        std::fs::create_dir_all(dir.path().join("jobs")).unwrap();
        std::fs::write(dir.path().join("token"), format!("{TOKEN}\n")).unwrap();
        Self { dir, config }
    }

    /// The job root.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("jobs")
    }

    /// The token file.
    pub fn token_file(&self) -> PathBuf {
        self.dir.path().join("token")
    }

    /// A job folder with an ip observable, made as Cortex makes it; its path relative to the
    /// job root.
    pub fn folder(&self, id: &str) -> (JobFolder, String) {
        let input = JobInput::new("ip", json!("8.8.8.8"));
        let folder = JobFolder::create(&self.root(), id, &input, None).unwrap();
        let rel = folder
            .path()
            .strip_prefix(self.root())
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        (folder, rel)
    }
}

/// The report a folder holds.
pub fn report(folder: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(folder.join("output/output.json")).unwrap()).unwrap()
}

/// A running `cortex-runner serve`.
pub struct Server {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its stderr so far.
    pub log: Arc<Mutex<String>>,
}

/// One HTTP answer.
#[derive(Debug)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// Header names (lower-case) and values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: String,
}

impl Answer {
    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Starts `cortex-runner serve --config <config> --listen 127.0.0.1:0 <args>` and waits for it
/// to listen (not for it to be ready).
pub fn spawn(config: &Path, args: &[&str]) -> Server {
    spawn_on(config, "127.0.0.1:0", args)
}

/// As [`spawn`], listening on `listen`.
pub fn spawn_on(config: &Path, listen: &str, args: &[&str]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cortex-runner"))
        .arg("serve")
        .arg("--config")
        .arg(config)
        .arg("--listen")
        .arg(listen)
        .args(args)
        .env_remove("CORTEX_RUNNER_CONFIG")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log = Arc::new(Mutex::new(String::new()));
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if let Some(addr) = listening_addr(&line) {
                let _ = tx.send(addr);
            }
            let mut log = sink.lock().unwrap();
            log.push_str(&line);
            log.push('\n');
        }
    });
    let addr = match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(addr) => addr,
        Err(_) => {
            let _ = child.kill();
            panic!("serve did not listen: {}", log.lock().unwrap());
        }
    };
    Server { child, addr, log }
}

/// The address of the "listening" line, in either log format.
fn listening_addr(line: &str) -> Option<SocketAddr> {
    if !line.contains("listening") {
        return None;
    }
    if let Ok(value) = serde_json::from_str::<Value>(line) {
        return value["addr"].as_str()?.parse().ok();
    }
    let rest = &line[line.find("addr=")? + 5..];
    rest.split_whitespace().next()?.parse().ok()
}

impl Server {
    /// Starts a server and waits until `/readyz` says ready.
    pub fn start(config: &Path, args: &[&str]) -> Server {
        let server = spawn(config, args);
        let deadline = Instant::now() + Duration::from_secs(120);
        while server.get("/readyz", None).status != 200 {
            assert!(Instant::now() < deadline, "not ready: {}", server.log());
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// Its stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Sends one request (`Connection: close`) and reads the whole answer.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&[u8]>,
    ) -> Answer {
        let mut stream = TcpStream::connect(self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(400)))
            .unwrap();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.addr
        );
        if let Some(token) = token {
            head.push_str(&format!("Authorization: Bearer {token}\r\n"));
        }
        if let Some(body) = body {
            head.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).unwrap();
        if let Some(body) = body {
            // The server may answer (413) and close before it has read everything.
            let _ = stream.write_all(body);
        }
        let mut raw = Vec::new();
        let _ = stream.read_to_end(&mut raw);
        parse(&raw)
    }

    /// GET `path`.
    pub fn get(&self, path: &str, token: Option<&str>) -> Answer {
        self.request("GET", path, token, None)
    }

    /// POST /v1/jobs with the test token.
    pub fn submit(&self, worker: &str, job_folder: &str) -> Answer {
        let body = json!({"worker": worker, "job_folder": job_folder}).to_string();
        self.request("POST", "/v1/jobs", Some(TOKEN), Some(body.as_bytes()))
    }

    /// Sends `signal` (`-TERM`, `-INT`) to the process.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(signal)
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits up to `limit` for the process to end.
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "still running: {}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Parses an HTTP/1.1 answer (a `Content-Length` or chunked body, or one that ends with the
/// connection).
pub fn parse(raw: &[u8]) -> Answer {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut body = raw[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    if headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"))
    {
        let mut out = Vec::new();
        let mut rest = &body[..];
        loop {
            let at = rest.windows(2).position(|w| w == b"\r\n").unwrap();
            let size = usize::from_str_radix(std::str::from_utf8(&rest[..at]).unwrap().trim(), 16)
                .unwrap();
            if size == 0 {
                break;
            }
            out.extend_from_slice(&rest[at + 2..at + 2 + size]);
            rest = &rest[at + 2 + size + 2..];
        }
        body = out;
    }
    Answer {
        status,
        headers,
        body: String::from_utf8(body).unwrap(),
    }
}
