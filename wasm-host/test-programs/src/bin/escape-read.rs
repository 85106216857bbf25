//! Hostile: tries to read outside the job folder with absolute paths, `..` chains, `/proc`, the
//! preopen's parent, and a symlink it plants in `output/`, then reports each outcome.

use std::fs;

use serde_json::json;
use test_programs::attempt;

/// Paths a worker outside a sandbox could read.
const TARGETS: &[&str] = &[
    "/etc/passwd",
    "/proc/self/environ",
    "/proc/self/status",
    "/job/input/../../../../../../etc/passwd",
    "/job/output/../input/input.json",
    "/job/input/../output/output.json",
    "../../../../etc/passwd",
    "/",
    "/job",
    "/job/input/..",
];

fn main() {
    let mut attempts = Vec::new();
    for target in TARGETS {
        attempts.push(attempt(
            format!("read {target}"),
            fs::read(target).map(|b| b.len()),
        ));
        attempts.push(attempt(
            format!("read_dir {target}"),
            fs::read_dir(target).map(|d| d.count()),
        ));
        attempts.push(attempt(
            format!("metadata {target}"),
            fs::metadata(target).map(|m| m.len()),
        ));
    }
    // A symlink is only a name; following it must stay inside the preopen.
    let link = test_programs::output_dir().join("passwd-link");
    let planted = test_programs::symlink("/etc/passwd", &link);
    attempts.push(attempt(
        "symlink output/passwd-link -> /etc/passwd",
        planted,
    ));
    attempts.push(attempt(
        "read output/passwd-link",
        fs::read(&link).map(|b| b.len()),
    ));
    let up = test_programs::output_dir().join("up-link");
    let planted = test_programs::symlink("../../../../../etc/passwd", &up);
    attempts.push(attempt(
        "symlink output/up-link -> ../../../../../etc/passwd",
        planted,
    ));
    attempts.push(attempt(
        "read output/up-link",
        fs::read(&up).map(|b| b.len()),
    ));
    test_programs::write_report(&test_programs::success(json!({ "attempts": attempts })));
}
