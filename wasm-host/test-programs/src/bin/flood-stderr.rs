//! Hostile: writes 2 GiB to stderr, then a last line and an honest report.

use std::io::Write;

fn main() {
    let chunk = vec![b'e'; 1 << 20];
    let mut err = std::io::stderr().lock();
    for _ in 0..2048 {
        err.write_all(&chunk).expect("write to stderr");
    }
    err.write_all(b"\nlast line of stderr\n")
        .expect("write to stderr");
    test_programs::write_report(&test_programs::success(
        serde_json::json!({"flooded": "stderr"}),
    ));
}
