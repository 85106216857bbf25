//! Helpers shared by the guest test programs in `src/bin/`: each program is one honest or hostile
//! Cortex worker that the sandbox tests run in `wasm32-wasip1`. The programs also build natively
//! (the workspace lints every member), where they behave the same on a real `/job` folder.
//!
//! A probe records each attempted operation as `{"op": ..., "ok": bool, "errno": n}`, where
//! `errno` is the raw WASI error number (`2` EACCES, `8` EBADF, `44` ENOENT, `63` EPERM,
//! `76` ENOTCAPABLE, ...), so a test can assert the exact refusal.

use std::io;
use std::path::PathBuf;

use serde_json::{Value, json};

/// The job folder the runner passes as `argv[1]` (`/job` in the sandbox).
pub fn job_dir() -> PathBuf {
    PathBuf::from(
        std::env::args()
            .nth(1)
            .expect("the runner passes the job folder as argv[1]"),
    )
}

/// `<job>/input`.
pub fn input_dir() -> PathBuf {
    job_dir().join("input")
}

/// `<job>/output`.
pub fn output_dir() -> PathBuf {
    job_dir().join("output")
}

/// Reads and parses `<job>/input/input.json`.
pub fn read_input() -> Value {
    let text = std::fs::read_to_string(input_dir().join("input.json")).expect("read input.json");
    serde_json::from_str(&text).expect("input.json is JSON")
}

/// Writes `report` as `<job>/output/output.json`.
pub fn write_report(report: &Value) {
    let text = serde_json::to_vec(report).expect("serialise the report");
    std::fs::write(output_dir().join("output.json"), text).expect("write output.json");
}

/// A success report whose `full` is `full`, with no taxonomies or artifacts.
pub fn success(full: Value) -> Value {
    json!({"success": true, "full": full, "summary": {"taxonomies": []}, "artifacts": [], "operations": []})
}

/// Records the outcome of one attempted operation: `{"op", "ok": true, "detail"}` on success,
/// `{"op", "ok": false, "errno"}` on failure.
pub fn attempt<T: std::fmt::Debug>(op: impl Into<String>, result: io::Result<T>) -> Value {
    match result {
        Ok(value) => json!({"op": op.into(), "ok": true, "detail": format!("{value:?}")}),
        Err(e) => {
            json!({"op": op.into(), "ok": false, "errno": e.raw_os_error(), "error": e.to_string()})
        }
    }
}

/// Creates a symlink at `link` whose target is the literal `target`. `std::fs::soft_link` is the
/// one stable std call that does this on both WASI and Unix (`std::os::wasi::fs::symlink_path` is
/// unstable); its deprecation is only about Windows.
pub fn symlink(target: &str, link: &std::path::Path) -> io::Result<()> {
    #[allow(deprecated)]
    std::fs::soft_link(target, link)
}
