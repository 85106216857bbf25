//! Runs the native `EmlParser` binary on every case of `tests/corpus/` and compares its
//! `output/output.json` with `expected.json`, the report of the original Python analyzer (made by
//! `tests/make_golden.py`), after the same normalisation: the random name of each file artifact
//! becomes `sha256:<hex of the file>`, and strings longer than 1 Mi characters become a marker
//! with their length and sha256 (only the 20 MiB case has such strings).

use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Strings longer than this many characters are compared by length and digest.
const LONG_STRING: usize = 1 << 20;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("corpus")
}

/// The marker `make_golden.py` writes in place of a long string.
fn reduce_long_strings(value: Value) -> Value {
    match value {
        Value::String(s) if s.chars().count() > LONG_STRING => Value::String(format!(
            "<long string: {} chars, sha256:{}>",
            s.chars().count(),
            hex::encode(Sha256::digest(s.as_bytes()))
        )),
        Value::Array(items) => Value::Array(items.into_iter().map(reduce_long_strings).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, reduce_long_strings(v)))
                .collect(),
        ),
        other => other,
    }
}

/// Replaces each file artifact's random name by the digest of the file it names.
fn normalise(mut report: Value, output: &Path) -> Value {
    if let Some(artifacts) = report.get_mut("artifacts").and_then(Value::as_array_mut) {
        for artifact in artifacts {
            if artifact.get("dataType").and_then(Value::as_str) == Some("file")
                && let Some(name) = artifact
                    .get("file")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            {
                let bytes = std::fs::read(output.join(&name)).expect("file artifact exists");
                artifact["file"] =
                    Value::String(format!("sha256:{}", hex::encode(Sha256::digest(&bytes))));
            }
        }
    }
    reduce_long_strings(report)
}

/// The first place where two JSON values differ, for a readable failure.
fn first_difference(path: &str, expected: &Value, actual: &Value) -> Option<String> {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                match a.get(k) {
                    None => return Some(format!("{path}.{k}: missing, expected {ev}")),
                    Some(av) => {
                        if let Some(d) = first_difference(&format!("{path}.{k}"), ev, av) {
                            return Some(d);
                        }
                    }
                }
            }
            a.keys()
                .find(|k| !e.contains_key(*k))
                .map(|k| format!("{path}.{k}: unexpected {}", a[k]))
        }
        (Value::Array(e), Value::Array(a)) => {
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                if let Some(d) = first_difference(&format!("{path}[{i}]"), ev, av) {
                    return Some(d);
                }
            }
            (e.len() != a.len()).then(|| {
                format!(
                    "{path}: {} items expected, {} found: {actual}",
                    e.len(),
                    a.len()
                )
            })
        }
        _ => (expected != actual).then(|| format!("{path}: expected {expected}, found {actual}")),
    }
}

/// Builds a job folder for `case` in a temporary directory and runs the analyzer on it.
fn run_case(case: &Path) -> (Value, i32) {
    let generator = case.join("generate.py");
    if generator.exists() && !case.join("attachment").exists() {
        let status = Command::new("python3")
            .arg(&generator)
            .status()
            .expect("python3 runs generate.py");
        assert!(status.success(), "{} failed", generator.display());
    }
    let job = tempfile::tempdir().expect("temp dir");
    let input = job.path().join("input");
    let output = job.path().join("output");
    std::fs::create_dir(&input).expect("input dir");
    std::fs::create_dir(&output).expect("output dir");
    for entry in std::fs::read_dir(case).expect("case dir") {
        let entry = entry.expect("entry");
        let name = entry.file_name();
        if ["expected.json", "generate.py", ".gitignore"]
            .iter()
            .any(|n| name == *n)
        {
            continue;
        }
        std::fs::copy(entry.path(), input.join(&name)).expect("copy case file");
    }
    let status = Command::new(env!("CARGO_BIN_EXE_EmlParser"))
        .arg(job.path())
        .status()
        .expect("analyzer runs");
    let text = std::fs::read_to_string(output.join("output.json")).expect("output.json written");
    let report: Value = serde_json::from_str(&text).expect("output.json is JSON");
    (normalise(report, &output), status.code().unwrap_or(-1))
}

#[test]
fn every_case_matches_the_original() {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(corpus())
        .expect("corpus")
        .map(|e| e.expect("entry").path())
        .collect();
    cases.sort();
    assert!(cases.len() >= 15, "the corpus has {} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let name = case
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("?")
            .to_string();
        let expected: Value = serde_json::from_str(
            &std::fs::read_to_string(case.join("expected.json")).expect("expected.json"),
        )
        .expect("json");
        let (actual, code) = run_case(case);
        let expected_code = if expected["success"] == Value::Bool(true) {
            0
        } else {
            1
        };
        if code != expected_code {
            failures.push(format!(
                "{name}: exit status {code}, expected {expected_code}"
            ));
        }
        if let Some(difference) = first_difference("", &expected, &actual) {
            failures.push(format!("{name}: {difference}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
