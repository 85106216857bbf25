//! Hostile: plants symlinks in `output/` (absolute, a `..` chain, into `input/`, to a directory)
//! and names each of them as a file artifact, plus one honest artifact, in a success report.

use std::fs;

use serde_json::json;
use test_programs::{attempt, output_dir};

/// `(link name in output/, link target)`.
const LINKS: &[(&str, &str)] = &[
    ("abs-passwd", "/etc/passwd"),
    ("up-chain", "../../.."),
    ("into-input", "../input/input.json"),
    ("self-dir", "."),
];

fn main() {
    let output = output_dir();
    let mut attempts = Vec::new();
    let mut artifacts = Vec::new();
    for (name, target) in LINKS {
        attempts.push(attempt(
            format!("symlink output/{name} -> {target}"),
            test_programs::symlink(target, &output.join(name)),
        ));
        artifacts
            .push(json!({"dataType": "file", "file": name, "filename": format!("{name}.txt")}));
    }
    fs::write(output.join("honest.txt"), b"an honest artifact\n").expect("write honest.txt");
    artifacts.push(json!({"dataType": "file", "file": "honest.txt", "filename": "honest.txt"}));
    let report = json!({
        "success": true,
        "full": {"attempts": attempts},
        "summary": {"taxonomies": []},
        "artifacts": artifacts,
        "operations": [],
    });
    test_programs::write_report(&report);
}
