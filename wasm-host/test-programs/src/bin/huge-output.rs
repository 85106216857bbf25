//! Hostile: writes a valid but 256 MiB `output.json`, streamed in 1 MiB pieces so the guest's own
//! memory stays small.

use std::io::Write;

/// The exact size of the report, 256 MiB.
const SIZE: usize = 256 << 20;

fn main() {
    let path = test_programs::output_dir().join("output.json");
    let mut file =
        std::io::BufWriter::new(std::fs::File::create(path).expect("create output.json"));
    let head = br#"{"success":true,"full":{"pad":""#;
    let tail = br#""}}"#;
    file.write_all(head).expect("write");
    let mut remaining = SIZE - head.len() - tail.len();
    let chunk = vec![b'x'; 1 << 20];
    while remaining > 0 {
        let n = remaining.min(chunk.len());
        file.write_all(&chunk[..n]).expect("write");
        remaining -= n;
    }
    file.write_all(tail).expect("write");
    file.flush().expect("flush");
}
