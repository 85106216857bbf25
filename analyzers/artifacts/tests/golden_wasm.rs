//! Every analyzer's golden corpus, run through the wasm sandbox: the report the wasm port writes
//! must equal the Python original's report (`expected.json`), case by case.
//!
//! Corpus layout (per analyzer crate): `tests/corpus/<case>/input.json`, the attachment (or a
//! `generate.py` that writes the large input and its golden), and `expected.json`, the original's `output.json` with each file
//! artifact's random name replaced by `sha256:<hex of its bytes>`. An intentional difference is
//! listed in `tests/corpus/relaxed.json` as `{"<case>": ["<JSON pointer>", ...]}`: those values
//! are removed from both sides before comparing (array items listed from the highest index down), and the analyzer's README gives the reason.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use sha2::{Digest, Sha256};

/// `(worker name, analyzer crate folder)`.
const ANALYZERS: &[(&str, &str)] = &[
    ("EmlParser", "eml-parser"),
    ("FileInfo", "file-info"),
    ("MSDefenderOffice365_SafeLinksDecoder", "safelinks-decoder"),
    ("ValidateObservable", "validate-observable"),
];

fn analyzers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Copies one case into a fresh job folder (`input/` without `expected.json`, empty `output/`),
/// generating a large attachment first when the case ships only its `generate.py`.
fn prepare(case: &Path, root: &Path) -> PathBuf {
    let generator = case.join("generate.py");
    if generator.exists() {
        let status = std::process::Command::new("python3")
            .arg(&generator)
            .current_dir(case)
            .status()
            .expect("python3 runs the case generator");
        assert!(status.success(), "{} failed", generator.display());
    }
    let job = root.join(case.file_name().unwrap());
    let input = job.join("input");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::create_dir_all(job.join("output")).unwrap();
    for entry in std::fs::read_dir(case).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        let skip = [
            "expected.json",
            "expected.json.gz",
            "generate.py",
            ".gitignore",
        ];
        if entry.file_type().unwrap().is_file() && !skip.iter().any(|s| name == *s) {
            std::fs::copy(entry.path(), input.join(&name)).unwrap();
        }
    }
    job
}

/// Strings longer than this many characters are kept in goldens as a marker (see
/// [`reduce_long_strings`]), so that a 20 MiB attachment's base64 is not committed.
const LONG_STRING: usize = 1 << 20;

/// Replaces every string longer than [`LONG_STRING`] characters by
/// `<long string: N chars, sha256:HEX>`, the marker the goldens' `make_golden.py` writes.
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

/// Replaces each file artifact's random name by the hash of the file it names.
fn normalise(mut report: Value, output: &Path) -> Value {
    if let Some(artifacts) = report.get_mut("artifacts").and_then(Value::as_array_mut) {
        for artifact in artifacts {
            if let Some(name) = artifact.get("file").and_then(Value::as_str) {
                let bytes = std::fs::read(output.join(name)).unwrap_or_default();
                artifact["file"] =
                    Value::String(format!("sha256:{}", hex::encode(Sha256::digest(&bytes))));
            }
        }
    }
    report
}

/// Removes every value at `pointers` (the case's documented differences): an object key is
/// deleted, an array item is removed.
fn relax(report: &mut Value, pointers: &[String]) {
    for pointer in pointers {
        let (parent, key) = pointer
            .rsplit_once('/')
            .expect("a JSON pointer starts with /");
        if let Some(parent) = report.pointer_mut(parent) {
            match parent {
                Value::Object(map) => {
                    map.remove(key);
                }
                // relaxed.json lists array items from the highest index down, so removing one
                // does not shift the next.
                Value::Array(items) => {
                    if let Ok(i) = key.parse::<usize>()
                        && i < items.len()
                    {
                        items.remove(i);
                    }
                }
                _ => {}
            }
        }
    }
}

/// The first place where `expected` and `actual` differ, as a JSON pointer with both values.
fn first_difference(expected: &Value, actual: &Value, at: String) -> Option<String> {
    let show = |v: Option<&Value>| match v {
        Some(v) => {
            let text = v.to_string();
            let cut: String = text.chars().take(300).collect();
            if cut.len() < text.len() {
                format!("{cut}…")
            } else {
                cut
            }
        }
        None => "(absent)".to_string(),
    };
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for key in e.keys().chain(a.keys().filter(|k| !e.contains_key(*k))) {
                let here = format!("{at}/{key}");
                match (e.get(key), a.get(key)) {
                    (Some(ev), Some(av)) => {
                        if let Some(d) = first_difference(ev, av, here) {
                            return Some(d);
                        }
                    }
                    (ev, av) => {
                        return Some(format!(
                            "{here}: expected {}, actual {}",
                            show(ev),
                            show(av)
                        ));
                    }
                }
            }
            // Key order is not compared: a JSON object is unordered for Cortex and TheHive, and
            // the analyzers' own golden tests compare the same way.
            None
        }
        (Value::Array(e), Value::Array(a)) => {
            for i in 0..e.len().max(a.len()) {
                let here = format!("{at}/{i}");
                match (e.get(i), a.get(i)) {
                    (Some(ev), Some(av)) => {
                        if let Some(d) = first_difference(ev, av, here) {
                            return Some(d);
                        }
                    }
                    (ev, av) => {
                        return Some(format!(
                            "{here}: expected {}, actual {}",
                            show(ev),
                            show(av)
                        ));
                    }
                }
            }
            None
        }
        (e, a) if e == a => None,
        (e, a) => Some(format!(
            "{at}: expected {}, actual {}",
            show(Some(e)),
            show(Some(a))
        )),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_wasm_port_reproduces_its_originals_reports() {
    let sandbox = wasm_host::Sandbox::new(wasm_host::SandboxConfig::default()).unwrap();
    let root = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    let mut checked = 0;
    for (worker, dir) in ANALYZERS {
        let module_path = analyzer_artifacts::module_path(worker).expect("module is built");
        let module = sandbox.load(Path::new(module_path)).unwrap();
        let corpus = analyzers_dir().join(dir).join("tests/corpus");
        let relaxed: serde_json::Map<String, Value> =
            match std::fs::read_to_string(corpus.join("relaxed.json")) {
                Ok(text) => serde_json::from_str(&text).expect("relaxed.json is an object"),
                Err(_) => serde_json::Map::new(),
            };
        let mut cases: Vec<PathBuf> = std::fs::read_dir(&corpus)
            .unwrap_or_else(|e| panic!("{}: {e}", corpus.display()))
            .map(|e| e.unwrap().path())
            // A large case ships only its generate.py, which writes its input and golden.
            .filter(|p| p.join("input.json").is_file() || p.join("generate.py").is_file())
            .collect();
        cases.sort();
        assert!(
            cases.len() >= 15,
            "{worker}: only {} corpus cases",
            cases.len()
        );
        for case in cases {
            let name = case.file_name().unwrap().to_string_lossy().into_owned();
            let job = prepare(&case, root.path());
            let record = sandbox
                .run(
                    &module,
                    wasm_host::RunSpec {
                        input_dir: job.join("input"),
                        output_dir: job.join("output"),
                        env: Vec::new(),
                        limits: wasm_host::Limits {
                            timeout: Duration::from_secs(120),
                            memory_bytes: 1024 * 1024 * 1024,
                            ..wasm_host::Limits::default()
                        },
                    },
                )
                .await
                .unwrap();
            let written = std::fs::read(job.join("output/output.json")).unwrap_or_else(|e| {
                panic!("{worker}/{name}: no output.json ({e}); run: {record:?}")
            });
            let mut actual = reduce_long_strings(normalise(
                serde_json::from_slice(&written).unwrap(),
                &job.join("output"),
            ));
            // Both sides are reduced: some goldens keep their long strings, some the marker.
            let mut expected: Value = reduce_long_strings(
                serde_json::from_str(&std::fs::read_to_string(case.join("expected.json")).unwrap())
                    .unwrap(),
            );
            let pointers: Vec<String> = relaxed
                .get(&name)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|p| p.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            relax(&mut actual, &pointers);
            relax(&mut expected, &pointers);
            if let Some(difference) = first_difference(&expected, &actual, String::new()) {
                failures.push(format!("{worker}/{name}: {difference}"));
            }
            checked += 1;
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} cases differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
