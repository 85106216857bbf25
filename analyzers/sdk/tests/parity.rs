//! Parity with the real thing: runs the corpus in `tests/parity/cases/` through Python's
//! `cortexutils` 2.2.1 (`tests/parity/oracle.py`) and through the SDK, and requires the same exit
//! status and a byte-identical `output.json` (so the same `artifacts`, `summary`, `operations`,
//! failure reports and key order), case by case. Where cortexutils crashes with an uncaught
//! exception, the SDK must write a failure report carrying the exception's message.
//! `parity_strings.rs` compares the extractor on thousands of generated strings.
//!
//! The test fails (it never skips) when `python3` or `cortexutils` 2.2.1 is missing.

#[path = "parity/oracle.rs"]
mod oracle;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use oracle::{PARITY_DIR, oracle};

use cortex_sdk::serde_json::{self, Map, Value, json};
use cortex_sdk::{Analyze, Analyzer, Error, Hooks, Respond, Responder, Result, WorkerOptions};

/// The corpus files, sorted so the order is the same on every machine.
fn corpus_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(Path::new(PARITY_DIR).join("cases"))
        .expect("tests/parity/cases")
        .map(|e| e.expect("corpus entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

/// The case's `input.json`: the oracle's defaults, updated with `input`, minus `drop`.
fn job_input(case: &Value) -> Value {
    let mut input = json!({"dataType": "other", "data": "observable.example", "tlp": 2, "pap": 2,
                           "message": "", "parameters": {}, "config": {}});
    let map = input.as_object_mut().expect("object");
    if let Some(Value::Object(extra)) = case.get("input") {
        for (k, v) in extra {
            map.insert(k.clone(), v.clone());
        }
    }
    for key in case["drop"].as_array().into_iter().flatten() {
        map.shift_remove(key.as_str().expect("drop names keys"));
    }
    input
}

/// The worker a case describes, with the same hooks as the oracle's `CaseWorker`.
struct CaseWorker<'a>(&'a Value);

impl CaseWorker<'_> {
    fn run_case(&self) -> Result<Value> {
        match self.0.get("error").and_then(Value::as_str) {
            Some(message) => Err(Error::msg(message)),
            None => Ok(self.0["full"].clone()),
        }
    }

    fn operations_case(&self) -> Result<Vec<Value>> {
        if self.0["operations_fails"] == json!(true) {
            return Err(Error::msg("operations"));
        }
        let ops = self.0["operations"].as_array().into_iter().flatten();
        Ok(ops
            .map(|op| {
                let params: Map<String, Value> = op[1].as_object().cloned().unwrap_or_default();
                Responder::build_operation(op[0].as_str().expect("operation type"), params)
            })
            .collect())
    }
}

impl Hooks for CaseWorker<'_> {
    fn summary(&self, _analyzer: &Analyzer, _full: &Value) -> Result<Value> {
        if self.0["summary_fails"] == json!(true) {
            return Err(Error::msg("summary"));
        }
        let Some(taxonomies) = self.0["taxonomies"].as_array() else {
            return Ok(json!({}));
        };
        let built: Vec<Value> = taxonomies
            .iter()
            .map(|t| {
                let s = |i: usize| t[i].as_str().expect("taxonomy strings");
                Analyzer::build_taxonomy(s(0), s(1), s(2), t[3].clone())
            })
            .collect();
        Ok(json!({"taxonomies": built}))
    }

    fn operations(&self, _analyzer: &Analyzer, _full: &Value) -> Result<Vec<Value>> {
        self.operations_case()
    }
}

impl Analyze for CaseWorker<'_> {
    fn run(&self, _analyzer: &Analyzer) -> Result<Value> {
        self.run_case()
    }
}

impl Respond for CaseWorker<'_> {
    fn run(&self, _responder: &Responder) -> Result<Value> {
        self.run_case()
    }

    fn operations(&self, _responder: &Responder, _full: &Value) -> Result<Vec<Value>> {
        self.operations_case()
    }
}

/// Runs one case through the SDK on a fresh job folder: its exit status and `output.json`.
fn run_sdk(case: &Value) -> (ExitCode, Option<String>) {
    let job = tempfile::tempdir().expect("job folder");
    std::fs::create_dir_all(job.path().join("input")).unwrap();
    std::fs::create_dir_all(job.path().join("output")).unwrap();
    std::fs::write(
        job.path().join("input/input.json"),
        job_input(case).to_string(),
    )
    .unwrap();
    for (name, text) in case["attachments"].as_object().into_iter().flatten() {
        std::fs::write(job.path().join("input").join(name), text.as_str().unwrap()).unwrap();
    }
    let options = WorkerOptions {
        job_directory: Some(job.path().to_path_buf()),
        secret_phrases: None,
    };
    let worker = CaseWorker(case);
    let code = if case["kind"] == json!("responder") {
        cortex_sdk::run_responder_with(options, worker)
    } else {
        cortex_sdk::run_analyzer_with(options, worker)
    };
    (
        code,
        std::fs::read_to_string(job.path().join("output/output.json")).ok(),
    )
}

/// Compares one case; returns a description of the difference, if any.
fn compare(case: &Value, python: &Value) -> Option<String> {
    let (code, output) = run_sdk(case);
    let exit = python["exit"].as_u64().expect("exit status") as u8;
    let mut problems = Vec::new();
    if code != ExitCode::from(exit) {
        problems.push(format!("exit status: python {exit}, sdk {code:?}"));
    }
    if let Some(crash) = python["crash"].as_str() {
        // cortexutils crashed with "<Type>: <message>"; the SDK reports the message.
        let message = crash.split_once(": ").map_or(crash, |(_, m)| m);
        let expected = json!(false);
        match output.as_deref().map(serde_json::from_str::<Value>) {
            Some(Ok(report))
                if report["success"] == expected && report["errorMessage"] == json!(message) => {}
            other => problems.push(format!(
                "python crashed with {crash:?}; sdk wrote {other:?}"
            )),
        }
    } else {
        let py_text = python["output"].as_str();
        match (py_text, output.as_deref()) {
            (Some(py), Some(rs)) if py == rs => {}
            (Some(py), Some(rs)) => {
                let same_value = serde_json::from_str::<Value>(py).ok()
                    == serde_json::from_str::<Value>(rs).ok();
                let what = if same_value {
                    "same JSON, different text (key order or formatting)"
                } else {
                    "different JSON"
                };
                problems.push(format!("{what}\n  python: {py}\n  sdk:    {rs}"));
            }
            (py, rs) => problems.push(format!("output.json: python {py:?}, sdk {rs:?}")),
        }
    }
    (!problems.is_empty()).then(|| problems.join("\n  "))
}

#[test]
fn reports_match_cortexutils_case_by_case() {
    let files = corpus_files();
    let paths: Vec<&str> = files
        .iter()
        .map(|p| p.to_str().expect("UTF-8 path"))
        .collect();
    let mut args = vec!["cases"];
    args.extend(paths.iter().copied());
    let results = oracle(&args, "");
    let cases: Vec<Value> = files
        .iter()
        .flat_map(|f| {
            let text = std::fs::read_to_string(f).expect("corpus file");
            let cases: Vec<Value> =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            cases
        })
        .collect();
    let results = results.as_array().expect("a list of results");
    assert_eq!(results.len(), cases.len(), "the oracle ran every case");
    assert!(cases.len() >= 60, "the corpus has {} cases", cases.len());
    let mut failures = Vec::new();
    for (case, python) in cases.iter().zip(results) {
        assert_eq!(case["name"], python["name"]);
        if let Some(difference) = compare(case, python) {
            failures.push(format!(
                "case {:?}:\n  {difference}",
                case["name"].as_str().unwrap_or("?")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from cortexutils:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
