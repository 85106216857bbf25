//! The SDK inside the project's wasm sandbox (`wasm-host`): `src/bin/cortex-sdk-wasm-guest.rs` is built
//! for `wasm32-wasip1` and run on job folders. A panic there cannot unwind (`wasm32-wasip1` is
//! `panic = "abort"`), so this is where the panic hook must prove that it still writes the
//! failure report and exits with status 1 instead of trapping.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::OnceLock;

use cortex_sdk::serde_json::{self, Value, json};
use wasm_host::{Outcome, RunSpec, Sandbox, SandboxConfig};

/// Builds the guest once per test binary, in its own target directory so that the nested cargo
/// never waits on the lock of the cargo running the tests.
fn guest_wasm() -> &'static Path {
    static WASM: OnceLock<PathBuf> = OnceLock::new();
    WASM.get_or_init(|| {
        let target_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sdk-wasm-guest");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args([
                "build",
                "--quiet",
                "-p",
                "cortex-sdk",
                "--bin",
                "cortex-sdk-wasm-guest",
            ])
            .args([
                "--features",
                "test-guest",
                "--target",
                "wasm32-wasip1",
                "--target-dir",
            ])
            .arg(&target_dir)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo");
        assert!(
            status.success(),
            "building the wasm guest failed (rustup target add wasm32-wasip1?)"
        );
        target_dir.join("wasm32-wasip1/debug/cortex-sdk-wasm-guest.wasm")
    })
}

/// A job folder with `input.json`, an optional attachment, and an empty `output/`.
fn job(input: &Value, attachment: Option<(&str, &[u8])>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("input")).unwrap();
    std::fs::create_dir(dir.path().join("output")).unwrap();
    std::fs::write(dir.path().join("input/input.json"), input.to_string()).unwrap();
    if let Some((name, bytes)) = attachment {
        std::fs::write(dir.path().join("input").join(name), bytes).unwrap();
    }
    dir
}

/// Runs the guest in the sandbox on `dir`; returns how it ended and its `output.json` text.
async fn run_in_wasm(dir: &Path) -> (Outcome, String) {
    let sandbox = Sandbox::new(SandboxConfig {
        pooling: false,
        ..SandboxConfig::default()
    })
    .unwrap();
    let module = sandbox.load(guest_wasm()).unwrap();
    let record = sandbox
        .run(&module, RunSpec::new(dir.join("input"), dir.join("output")))
        .await
        .unwrap();
    let output = std::fs::read_to_string(dir.join("output/output.json")).unwrap_or_default();
    (record.outcome, output)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_wasm_writes_the_failure_report_and_exits_1() {
    let input = json!({"dataType": "other", "data": "panic", "config": {"api_key": "k", "n": 1}});
    let dir = job(&input, None);
    let (outcome, output) = run_in_wasm(dir.path()).await;
    assert_eq!(outcome, Outcome::Exited { code: 1 });
    assert_eq!(
        serde_json::from_str::<Value>(&output).unwrap(),
        json!({"success": false, "input": {"dataType": "other", "data": "panic", "config": {"api_key": "REMOVED", "n": 1}},
               "errorMessage": "Unexpected Error: guest panic on panic"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wasm_and_native_write_the_same_report() {
    let input = json!({"dataType": "domain", "data": "x.example", "config": {"check_tlp": true, "max_tlp": 3}});
    let wasm_dir = job(&input, None);
    let (outcome, wasm_output) = run_in_wasm(wasm_dir.path()).await;
    assert_eq!(outcome, Outcome::Exited { code: 0 });

    // The same analyzer code, run natively through the SDK.
    let native_dir = job(&input, None);
    let options = cortex_sdk::WorkerOptions {
        job_directory: Some(native_dir.path().into()),
        secret_phrases: None,
    };
    let code = cortex_sdk::run_analyzer_fn_with(options, |a| {
        Ok(
            json!({"verdict": "suspicious", "data": a.get_data_str()?, "seen": ["10.1.2.3", "https://x.example/a"]}),
        )
    });
    assert_eq!(code, ExitCode::SUCCESS);
    let native: Value = serde_json::from_str(
        &std::fs::read_to_string(native_dir.path().join("output/output.json")).unwrap(),
    )
    .unwrap();
    let wasm: Value = serde_json::from_str(&wasm_output).unwrap();
    assert_eq!(wasm["full"], native["full"]);
    assert_eq!(
        wasm["artifacts"],
        json!([{"dataType": "ip", "data": "10.1.2.3"}])
    );
    assert_eq!(wasm["artifacts"], native["artifacts"]);
    assert_eq!(
        wasm["summary"],
        json!({"taxonomies": [{"level": "suspicious", "namespace": "Guest", "predicate": "Verdict", "value": "suspicious"}]})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tlp_refusal_in_wasm_exits_1() {
    let input =
        json!({"dataType": "domain", "data": "x.example", "tlp": 3, "config": {"check_tlp": true}});
    let dir = job(&input, None);
    let (outcome, output) = run_in_wasm(dir.path()).await;
    assert_eq!(outcome, Outcome::Exited { code: 1 });
    let report: Value = serde_json::from_str(&output).unwrap();
    assert_eq!(report["errorMessage"], json!("TLP is higher than allowed."));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_artifact_is_copied_inside_the_sandbox() {
    let input = json!({"dataType": "file", "file": "attachment42", "filename": "sample.exe"});
    let bytes: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    let dir = job(&input, Some(("attachment42", &bytes)));
    let (outcome, output) = run_in_wasm(dir.path()).await;
    assert_eq!(outcome, Outcome::Exited { code: 0 }, "{output}");
    let report: Value = serde_json::from_str(&output).unwrap();
    let copy = &report["full"]["copy"];
    let name = copy["file"].as_str().unwrap();
    assert_eq!(
        copy,
        &json!({"dataType": "file", "file": name, "filename": "attachment42"})
    );
    assert!(name.starts_with("tmp") && name.len() == 11, "{name}");
    assert_eq!(
        std::fs::read(dir.path().join("output").join(name)).unwrap(),
        bytes
    );
}
