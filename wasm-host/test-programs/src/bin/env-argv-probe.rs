//! Probe: reports its argv, environment, what stdin yields, the job folder listing and the
//! working directory, so a test can assert the sandbox hands over exactly what the caller passed.

use std::io::Read;

use serde_json::json;
use test_programs::attempt;

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    let env: Vec<(String, String)> = std::env::vars().collect();
    let mut stdin = Vec::new();
    let stdin_read = attempt("read stdin", std::io::stdin().read_to_end(&mut stdin));
    let list = |dir: std::path::PathBuf| {
        std::fs::read_dir(dir).map(|entries| {
            let mut names: Vec<String> = entries
                .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
                .collect::<Result<_, _>>()
                .unwrap_or_default();
            names.sort();
            names
        })
    };
    let full = json!({
        "argv": argv,
        "env": env,
        "stdin": stdin_read,
        "stdinBytes": stdin.len(),
        "input": attempt("list input", list(test_programs::input_dir())),
        "output": attempt("list output", list(test_programs::output_dir())),
        "cwd": attempt("current_dir", std::env::current_dir()),
    });
    println!("probe on stdout");
    eprintln!("probe on stderr");
    test_programs::write_report(&test_programs::success(full));
}
