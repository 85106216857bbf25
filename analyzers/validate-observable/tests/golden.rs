//! Runs the analyzer on every case of `tests/corpus/` as Cortex's process runner would, and
//! compares its `output/output.json` with `expected.json`, the original Python analyzer's report
//! for the same job (see `make_golden.py`).
//!
//! Both sides get the same normalisation: a file artifact's random name becomes
//! `sha256:<hex of its bytes>`. Intentional differences are listed in `tests/corpus/relaxed.json`
//! as `{"<case>": ["<JSON pointer>", ...]}` (the layout the workspace's wasm golden harness
//! reads too): those values are removed from both sides, and the README gives the reason.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use sha2::{Digest, Sha256};

/// The binary under test.
const BIN: &str = env!("CARGO_BIN_EXE_ValidateObservable");

/// Case files that are not part of the job input.
const NOT_INPUT: [&str; 4] = [
    "expected.json",
    "expected.json.gz",
    "generate.py",
    ".gitignore",
];

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

/// Writes a large case's input (and its golden, from the committed `.gz`) when absent.
fn generate_if_needed(case: &Path) {
    let generator = case.join("generate.py");
    if generator.exists()
        && !(case.join("input.json").exists() && case.join("expected.json").exists())
    {
        let status = Command::new("python3")
            .arg("generate.py")
            .current_dir(case)
            .status()
            .expect("python3 runs");
        assert!(status.success(), "{}: generate.py failed", case.display());
    }
}

/// Replaces each file artifact's name by the sha256 of the file it names in `output`.
fn normalise(report: &mut Value, output: &Path) {
    let Some(artifacts) = report.get_mut("artifacts").and_then(Value::as_array_mut) else {
        return;
    };
    for artifact in artifacts {
        if artifact["dataType"] == "file"
            && let Some(name) = artifact.get("file").and_then(Value::as_str)
        {
            let bytes = fs::read(output.join(name)).expect("file artifact exists");
            artifact["file"] = Value::String(format!("sha256:{}", hex(&Sha256::digest(&bytes))));
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Removes the value at each JSON pointer (an object member) from `report`.
fn relax(report: &mut Value, pointers: &[String]) {
    for pointer in pointers {
        let (parent, key) = pointer
            .rsplit_once('/')
            .expect("a JSON pointer starts with /");
        if let Some(Value::Object(map)) = report.pointer_mut(parent) {
            map.remove(key);
        }
    }
}

/// The documented differences: `relaxed.json`'s pointers per case.
fn relaxations() -> serde_json::Map<String, Value> {
    match fs::read_to_string(corpus().join("relaxed.json")) {
        Ok(text) => serde_json::from_str(&text).expect("relaxed.json is an object"),
        Err(_) => serde_json::Map::new(),
    }
}

/// Runs the port on one case; returns a description of the difference, if any.
fn run_case(case: &Path, relaxed: &[String]) -> Option<String> {
    generate_if_needed(case);
    let job = tempfile::tempdir().expect("temp dir");
    let (input, output) = (job.path().join("input"), job.path().join("output"));
    fs::create_dir(&input).expect("input dir");
    fs::create_dir(&output).expect("output dir");
    for entry in fs::read_dir(case).expect("case dir") {
        let entry = entry.expect("entry");
        let name = entry.file_name();
        if !NOT_INPUT.iter().any(|n| name == *n) {
            fs::copy(entry.path(), input.join(&name)).expect("copy input");
        }
    }
    let status = Command::new(BIN)
        .arg(job.path())
        .status()
        .expect("analyzer runs");
    let text = fs::read_to_string(output.join("output.json")).expect("output.json written");
    let mut actual: Value = serde_json::from_str(&text).expect("output.json is JSON");
    normalise(&mut actual, &output);
    let mut expected: Value = serde_json::from_str(
        &fs::read_to_string(case.join("expected.json")).expect("expected.json"),
    )
    .expect("golden is JSON");
    relax(&mut actual, relaxed);
    relax(&mut expected, relaxed);
    let success = expected["success"] == true;
    if status.success() != success {
        return Some(format!("exit status {status}, expected success={success}"));
    }
    // Compare the serialised forms, so that key order counts too.
    let (a, e) = (
        serde_json::to_string_pretty(&actual).unwrap(),
        serde_json::to_string_pretty(&expected).unwrap(),
    );
    (a != e).then(|| {
        format!(
            "report differs\n--- expected\n{}\n--- actual\n{}",
            cut(&e),
            cut(&a)
        )
    })
}

/// The start of a long text, for failure messages.
fn cut(s: &str) -> &str {
    let end = s.char_indices().nth(3000).map_or(s.len(), |(i, _)| i);
    &s[..end]
}

#[test]
fn every_corpus_case_matches_the_original() {
    let mut cases: Vec<PathBuf> = fs::read_dir(corpus())
        .expect("corpus")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 15, "the corpus has {} cases", cases.len());
    let relaxed = relaxations();
    for name in relaxed.keys() {
        assert!(
            corpus().join(name).is_dir(),
            "relaxed.json names {name}, which is not a case"
        );
    }
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            let name = case.file_name().unwrap().to_string_lossy().into_owned();
            let pointers: Vec<String> = relaxed
                .get(&name)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|p| p.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            run_case(case, &pointers).map(|why| format!("{name}: {why}"))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}
