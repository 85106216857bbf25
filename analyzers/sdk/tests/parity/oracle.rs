//! Runs `oracle.py`, the real cortexutils 2.2.1, for the parity tests.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use cortex_sdk::serde_json::{self, Value};

/// The folder of the parity corpus and oracle.
pub const PARITY_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/parity");

/// Runs the oracle with `args`, feeding `stdin`, and returns its standard output as JSON. Panics
/// (failing the test, never skipping it) when Python or cortexutils 2.2.1 is missing.
pub fn oracle(args: &[&str], stdin: &str) -> Value {
    let script = Path::new(PARITY_DIR).join("oracle.py");
    let mut child = Command::new("python3")
        .arg(&script)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run python3 ({e}): install Python 3 and `pip install cortexutils==2.2.1`"
            )
        });
    let mut pipe = child.stdin.take().expect("piped stdin");
    let input = stdin.to_owned();
    // Writing on another thread keeps a large input from deadlocking against a full stdout.
    let writer = std::thread::spawn(move || pipe.write_all(input.as_bytes()));
    let out = child.wait_with_output().expect("waiting for python3");
    writer
        .join()
        .expect("stdin writer")
        .expect("writing the oracle's stdin");
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(3) {
        panic!(
            "the parity oracle needs cortexutils 2.2.1: {stderr}(pip install cortexutils==2.2.1)"
        );
    }
    assert!(out.status.success(), "oracle.py {args:?} failed: {stderr}");
    serde_json::from_slice(&out.stdout).expect("the oracle prints JSON")
}
