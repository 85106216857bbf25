//! Runs the FileInfo binary on every job in `tests/corpus/` and compares its `output.json`
//! with the original analyzer's (`expected.json`), relaxed only where README.md says so.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

/// Submodules of the original that are not ported: their entries are dropped from the
/// expected report, and their taxonomies from the expected summary (README, "Not ported").
const NOT_PORTED_SUBMODULES: &[&str] = &[
    "Oletools Submodule",
    "PDF Information",
    "IOC Parser",
    "Outlook mail Information",
    "rtfobj",
    "Manalyze",
    "FLOSS",
];

/// The one section of the PE submodule that is not ported: pefile's `dump_info()` text.
const NOT_PORTED_PE_SECTION: &str = "pefile raw output";

/// Cases whose "Exif Info" holds ExifTool tags of a format group this port does not read
/// (README, "Exif Info"): only the tags the port reports are compared, each must be equal.
const EXIF_PARTIAL: &[&str] = &[
    "gif",
    "html",
    "json",
    "pdf",
    "pe-arm64-version-info",
    "pe-version-info",
    "xml",
];

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

/// Writes a generated attachment (the 20 MiB case) when it is not there yet.
fn ensure_attachment(case: &Path) {
    let generator = case.join("generate.py");
    if !case.join("attachment").exists() && generator.exists() {
        let status = Command::new("python3")
            .arg(&generator)
            .status()
            .expect("python3 runs generate.py");
        assert!(status.success(), "{} failed", generator.display());
    }
}

/// Runs the binary on a fresh job folder holding the case, and returns its report.
fn run_case(case: &Path) -> Value {
    let job = tempfile::tempdir().expect("temp dir");
    fs::create_dir(job.path().join("input")).unwrap();
    fs::create_dir(job.path().join("output")).unwrap();
    for entry in fs::read_dir(case).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name() != "expected.json" {
            fs::copy(
                entry.path(),
                job.path().join("input").join(entry.file_name()),
            )
            .unwrap();
        }
    }
    let status = Command::new(env!("CARGO_BIN_EXE_FileInfo"))
        .arg(job.path())
        .status()
        .expect("FileInfo runs");
    let report: Value =
        serde_json::from_slice(&fs::read(job.path().join("output/output.json")).unwrap()).unwrap();
    let success = report["success"].as_bool().unwrap_or(false);
    assert_eq!(
        status.success(),
        success,
        "{}: exit status {status} with success={success}",
        case.display()
    );
    report
}

/// Applies the README's relaxations to the original's report.
fn relax_expected(case: &str, expected: &mut Value, actual: &Value) {
    let Some(results) = expected
        .pointer_mut("/full/results")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    let mut dropped_taxonomies = Vec::new();
    results.retain(|entry| {
        let keep = !NOT_PORTED_SUBMODULES.contains(&entry["submodule_name"].as_str().unwrap_or(""));
        if !keep {
            dropped_taxonomies.extend(
                entry["summary"]["taxonomies"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default(),
            );
        }
        keep
    });
    for entry in results.iter_mut() {
        if entry["submodule_name"] == "PE Information"
            && let Some(sections) = entry["results"].as_array_mut()
        {
            sections.retain(|s| s["submodule_section_header"] != NOT_PORTED_PE_SECTION);
        }
        if entry["submodule_name"] == "Basic properties" && EXIF_PARTIAL.contains(&case) {
            let ported =
                actual["full"]["results"][0]["results"][1]["submodule_section_content"].clone();
            let exif = &mut entry["results"][1]["submodule_section_content"];
            if let (Some(exif), Some(ported)) = (exif.as_object_mut(), ported.as_object()) {
                exif.retain(|key, _| ported.contains_key(key));
            }
        }
    }
    if let Some(taxonomies) = expected
        .pointer_mut("/summary/taxonomies")
        .and_then(Value::as_array_mut)
    {
        taxonomies.retain(|t| !dropped_taxonomies.contains(t));
    }
}

#[test]
fn every_case_matches_the_original() {
    let mut cases: Vec<PathBuf> = fs::read_dir(corpus())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    assert!(cases.len() >= 15, "the corpus has {} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_str().unwrap();
        ensure_attachment(case);
        let actual = run_case(case);
        let mut expected: Value =
            serde_json::from_slice(&fs::read(case.join("expected.json")).unwrap()).unwrap();
        relax_expected(name, &mut expected, &actual);
        if actual != expected {
            failures.push(format!(
                "{name}:\n  expected {}\n  actual   {}",
                serde_json::to_string(&expected).unwrap(),
                serde_json::to_string(&actual).unwrap()
            ));
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

#[test]
fn relaxations_keep_every_ported_field() {
    // The relaxation drops only what README.md names: a PE case keeps its hashes, imports and
    // sections, and the PDF case keeps the Filetype taxonomy.
    let pe: Value =
        serde_json::from_slice(&fs::read(corpus().join("pe32-exe/expected.json")).unwrap())
            .unwrap();
    let mut relaxed = pe.clone();
    relax_expected("pe32-exe", &mut relaxed, &json!({}));
    let sections: Vec<&str> = relaxed["full"]["results"][1]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["submodule_section_header"].as_str().unwrap())
        .collect();
    assert_eq!(
        sections,
        ["Headers", "Hashes", "Import Adress Tables", "Sections"]
    );
    let pdf: Value =
        serde_json::from_slice(&fs::read(corpus().join("pdf/expected.json")).unwrap()).unwrap();
    let mut relaxed = pdf.clone();
    relax_expected("pdf", &mut relaxed, &json!({}));
    assert_eq!(
        relaxed["summary"]["taxonomies"],
        json!([{"level": "info", "namespace": "FileInfo", "predicate": "Filetype", "value": "PDF"}])
    );
    assert_eq!(relaxed["full"]["results"].as_array().unwrap().len(), 1);
}
