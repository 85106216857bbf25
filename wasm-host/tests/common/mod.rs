//! Shared fixtures of the sandbox tests: one sandbox per test binary, job folders, snapshots.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::Duration;

use serde_json::Value;
use wasm_host::{Limits, Module, RunRecord, RunSpec, Sandbox, SandboxConfig};

/// One sandbox for the whole test binary, as in the service.
pub static SANDBOX: LazyLock<Sandbox> =
    LazyLock::new(|| Sandbox::new(SandboxConfig::default()).expect("create the sandbox"));

/// A sandbox with fuel metering.
pub static FUEL_SANDBOX: LazyLock<Sandbox> = LazyLock::new(|| {
    Sandbox::new(SandboxConfig {
        fuel_metering: true,
        ..SandboxConfig::default()
    })
    .expect("create the fuel sandbox")
});

/// The input.json every test job gets (with a secret, as Cortex writes one).
pub const INPUT_JSON: &str = r#"{"data":"8.8.8.8","dataType":"ip","tlp":2,"pap":2,"message":"","parameters":{},"config":{"api_key":"s3cr3t"}}"#;

/// A job folder in a temporary directory: `input/input.json`, `input/attachment` and an empty
/// `output/`.
pub struct Job {
    pub root: tempfile::TempDir,
}

impl Job {
    pub fn new() -> Self {
        let root = tempfile::tempdir().expect("create a temp dir");
        std::fs::create_dir(root.path().join("input")).unwrap();
        std::fs::create_dir(root.path().join("output")).unwrap();
        std::fs::write(root.path().join("input/input.json"), INPUT_JSON).unwrap();
        std::fs::write(root.path().join("input/attachment"), b"attachment bytes\n").unwrap();
        Self { root }
    }

    pub fn input(&self) -> PathBuf {
        self.root.path().join("input")
    }

    pub fn output(&self) -> PathBuf {
        self.root.path().join("output")
    }

    pub fn spec(&self) -> RunSpec {
        RunSpec::new(self.input(), self.output())
    }

    /// The parsed `output/output.json`.
    pub fn report(&self) -> Value {
        let text = std::fs::read(self.output().join("output.json")).expect("read output.json");
        serde_json::from_slice(&text).expect("output.json is JSON")
    }
}

/// Loads a test program into the shared sandbox.
pub fn load(path: &str) -> Module {
    SANDBOX
        .load(Path::new(path))
        .expect("load the test program")
}

/// Runs `program` on `job` with `limits` in the shared sandbox.
pub async fn run(program: &str, job: &Job, limits: Limits) -> RunRecord {
    let spec = RunSpec {
        limits,
        ..job.spec()
    };
    SANDBOX
        .run(&load(program), spec)
        .await
        .expect("the run starts")
}

/// Default limits with a short timeout, so a wrong test fails fast instead of hanging.
pub fn quick() -> Limits {
    Limits {
        timeout: Duration::from_secs(20),
        ..Limits::default()
    }
}

/// Everything observable about a directory tree: per relative path, the kind, mode, size,
/// modification time and content (files) or link target (symlinks).
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, String>) {
    let meta = std::fs::symlink_metadata(dir).unwrap();
    out.insert(
        dir.strip_prefix(root).unwrap().to_owned(),
        format!(
            "dir mode={:o} mtime={}",
            meta.mode(),
            meta.mtime_nsec() + meta.mtime() * 1_000_000_000
        ),
    );
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let rel = path.strip_prefix(root).unwrap().to_owned();
        if meta.is_dir() {
            walk(root, &path, out);
        } else if meta.is_symlink() {
            out.insert(
                rel,
                format!("symlink -> {:?}", std::fs::read_link(&path).unwrap()),
            );
        } else {
            let content = std::fs::read(&path).unwrap();
            out.insert(
                rel,
                format!(
                    "file mode={:o} mtime={} content={:?}",
                    meta.mode(),
                    meta.mtime_nsec() + meta.mtime() * 1_000_000_000,
                    String::from_utf8_lossy(&content)
                ),
            );
        }
    }
}

/// The guest's `{"op", "ok", "errno"}` attempts from `full.attempts`, as `op -> outcome` where
/// the outcome is `"ok"` or `"errno N"`.
pub fn attempts(report: &Value) -> Vec<(String, String)> {
    report["full"]["attempts"]
        .as_array()
        .expect("full.attempts is an array")
        .iter()
        .map(|a| {
            let outcome = if a["ok"] == true {
                "ok".to_owned()
            } else {
                format!("errno {}", a["errno"])
            };
            (a["op"].as_str().unwrap().to_owned(), outcome)
        })
        .collect()
}

/// Runs `program` like [`run`] and asserts the input folder is byte-identical afterwards.
pub async fn run_checked(program: &str, job: &Job, limits: Limits) -> RunRecord {
    let before = snapshot(&job.input());
    let record = run(program, job, limits).await;
    assert_eq!(
        snapshot(&job.input()),
        before,
        "the guest changed its input folder"
    );
    record
}

/// The names in `output/`, each with its kind, sorted.
pub fn output_listing(job: &Job) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(job.output())
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let meta = std::fs::symlink_metadata(e.path()).unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            if meta.is_symlink() {
                format!(
                    "{name} -> {}",
                    std::fs::read_link(e.path()).unwrap().display()
                )
            } else if meta.is_dir() {
                format!("{name}/")
            } else {
                name
            }
        })
        .collect();
    names.sort();
    names
}
