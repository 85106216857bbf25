//! Hostile: writes 2 GiB to stdout, then a last line and an honest report.

use std::io::Write;

fn main() {
    let chunk = vec![b'o'; 1 << 20];
    let mut out = std::io::stdout().lock();
    for _ in 0..2048 {
        out.write_all(&chunk).expect("write to stdout");
    }
    out.write_all(b"\nlast line of stdout\n")
        .expect("write to stdout");
    out.flush().expect("flush stdout");
    test_programs::write_report(&test_programs::success(
        serde_json::json!({"flooded": "stdout"}),
    ));
}
