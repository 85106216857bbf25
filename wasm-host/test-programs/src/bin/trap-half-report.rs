//! Hostile: writes the first half of a report, then panics, which traps (`unreachable`) in wasm.

use std::io::Write;

fn main() {
    let path = test_programs::output_dir().join("output.json");
    let mut file = std::fs::File::create(path).expect("create output.json");
    file.write_all(br#"{"success": true, "full": {"half": "#)
        .expect("write half a report");
    file.flush().expect("flush");
    panic!("trap-half-report: stopping half way through the report");
}
