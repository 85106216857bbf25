//! An honest WASI 0.2 worker: reads `/job/input/input.json`, writes a success report whose
//! `full` echoes the data, and exits 0 — the component counterpart of `honest`.

#[cfg(target_os = "wasi")]
fn main() {
    let input = std::fs::read_to_string("/job/input/input.json").expect("input.json is readable");
    let input: serde_json::Value = serde_json::from_str(&input).expect("input.json is JSON");
    let report = serde_json::json!({
        "success": true,
        "summary": {"taxonomies": []},
        "artifacts": [],
        "operations": [],
        "full": {"data": input["data"], "args": std::env::args().collect::<Vec<_>>()},
    });
    std::fs::write("/job/output/output.json", report.to_string()).expect("output is writable");
}

#[cfg(not(target_os = "wasi"))]
fn main() {}
