//! A small analyzer (the `cortex-sdk-wasm-guest` binary, only built with the `test-guest`
//! feature) used by `tests/wasm.rs` to check the SDK inside the real wasm sandbox: it
//! reports, copies a file artifact, or panics, depending on the observable.

use cortex_sdk::serde_json::{Value, json};
use cortex_sdk::{Analyze, Analyzer, Error, Hooks, Result};

struct Guest;

impl Hooks for Guest {
    fn summary(&self, _a: &Analyzer, full: &Value) -> Result<Value> {
        let level = full["verdict"].as_str().unwrap_or("unknown");
        Ok(json!({"taxonomies": [Analyzer::build_taxonomy(level, "Guest", "Verdict", level)]}))
    }
}

impl Analyze for Guest {
    fn run(&self, a: &Analyzer) -> Result<Value> {
        if a.data_type() == "file" {
            let path = a.file_path().ok_or_else(|| Error::msg("File is missing"))?;
            let artifact = a.build_artifact("file", path.to_string_lossy().as_ref())?;
            return Ok(json!({"verdict": "safe", "copy": artifact}));
        }
        let data = a.get_data_str()?;
        if data == "panic" {
            panic!("guest panic on {data}");
        }
        Ok(
            json!({"verdict": "suspicious", "data": data, "seen": ["10.1.2.3", "https://x.example/a"]}),
        )
    }
}

fn main() -> std::process::ExitCode {
    cortex_sdk::run_analyzer(Guest)
}
