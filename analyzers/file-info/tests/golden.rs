//! Runs the FileInfo binary on every job in `tests/corpus/` and compares its `output.json`
//! with the original analyzer's (`expected.json`), relaxed only where README.md says so.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Map, Value, json};

/// Submodules of the original that are not ported (README, "Not ported"): a relaxed
/// pointer may remove their entry from `full.results` and their taxonomies from the summary.
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

/// ExifTool groups whose tags the port reports (README, "Exif Info"); a relaxed pointer may
/// remove any other tag.
const PORTED_EXIF_TAGS: &[&str] = &[
    "ExifTool:",
    "EXE:MachineType",
    "EXE:TimeStamp",
    "EXE:ImageFileCharacteristics",
    "EXE:PEType",
    "EXE:LinkerVersion",
    "EXE:CodeSize",
    "EXE:InitializedDataSize",
    "EXE:UninitializedDataSize",
    "EXE:EntryPoint",
    "EXE:OSVersion",
    "EXE:ImageVersion",
    "EXE:SubsystemVersion",
    "EXE:Subsystem",
    "EXE:CPU",
    "PNG:",
    "ZIP:",
];

/// Where the "Exif Info" tags sit in a report.
const EXIF: &str = "/full/results/0/results/1/submodule_section_content/";

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

/// The documented differences: `tests/corpus/relaxed.json`, `{"<case>": ["<JSON pointer>"]}`.
fn relaxed() -> Map<String, Value> {
    serde_json::from_slice(&fs::read(corpus().join("relaxed.json")).unwrap()).unwrap()
}

fn pointers(relaxed: &Map<String, Value>, case: &str) -> Vec<String> {
    relaxed
        .get(case)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|p| p.as_str().unwrap().to_owned())
        .collect()
}

/// Removes the value at each pointer, in the listed order (array items are listed from the
/// highest index down, so each removal leaves the next pointer valid); a missing value is
/// left alone, which is how the port's side, lacking the unported parts, stays unchanged.
fn relax(report: &mut Value, pointers: &[String]) {
    for pointer in pointers {
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        let key = key.replace("~1", "/").replace("~0", "~");
        match report.pointer_mut(parent) {
            Some(Value::Object(map)) => {
                map.shift_remove(&key);
            }
            Some(Value::Array(items)) => {
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

/// Why a pointer may be relaxed in the original's report, or `None` when it is not one of the
/// README's three kinds.
fn relaxation_kind(expected: &Value, pointer: &str) -> Option<&'static str> {
    if let Some(tag) = pointer.strip_prefix(EXIF) {
        return (!PORTED_EXIF_TAGS.iter().any(|p| tag.starts_with(p)))
            .then_some("unported Exif tag");
    }
    let target = expected.pointer(pointer)?;
    if pointer.starts_with("/full/results/") && pointer.matches('/').count() == 3 {
        let name = target["submodule_name"].as_str()?;
        return NOT_PORTED_SUBMODULES
            .contains(&name)
            .then_some("unported submodule");
    }
    if pointer.starts_with("/full/results/")
        && target["submodule_section_header"] == NOT_PORTED_PE_SECTION
    {
        return Some("pefile raw output");
    }
    if pointer.starts_with("/summary/taxonomies/") {
        let from_unported = expected["full"]["results"].as_array()?.iter().any(|entry| {
            NOT_PORTED_SUBMODULES.contains(&entry["submodule_name"].as_str().unwrap_or(""))
                && entry["summary"]["taxonomies"]
                    .as_array()
                    .is_some_and(|t| t.contains(target))
        });
        return from_unported.then_some("unported submodule's taxonomy");
    }
    None
}

#[test]
fn every_case_matches_the_original() {
    let mut cases: Vec<PathBuf> = fs::read_dir(corpus())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 15, "the corpus has {} cases", cases.len());
    let relaxed = relaxed();
    let mut failures = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_str().unwrap();
        ensure_attachment(case);
        let mut actual = run_case(case);
        let mut expected: Value =
            serde_json::from_slice(&fs::read(case.join("expected.json")).unwrap()).unwrap();
        let pointers = pointers(&relaxed, name);
        relax(&mut expected, &pointers);
        relax(&mut actual, &pointers);
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
fn every_relaxation_is_one_the_readme_names() {
    // Each relaxed pointer must name something that exists in the original's report and is
    // one of the three documented kinds; anything else would hide a real difference.
    for (case, _) in relaxed() {
        let expected: Value =
            serde_json::from_slice(&fs::read(corpus().join(&case).join("expected.json")).unwrap())
                .unwrap();
        for pointer in pointers(&relaxed(), &case) {
            assert!(
                expected.pointer(&pointer).is_some(),
                "{case}: {pointer} is not in expected.json"
            );
            assert!(
                relaxation_kind(&expected, &pointer).is_some(),
                "{case}: {pointer} is not a documented relaxation"
            );
        }
    }
}

#[test]
fn relaxations_keep_every_ported_field() {
    // A PE case keeps its Headers, hashes, imports and sections; the PDF case keeps the
    // Filetype taxonomy and the Basic properties entry.
    let relaxed = relaxed();
    let mut pe: Value =
        serde_json::from_slice(&fs::read(corpus().join("pe32-exe/expected.json")).unwrap())
            .unwrap();
    relax(&mut pe, &pointers(&relaxed, "pe32-exe"));
    let sections: Vec<&str> = pe["full"]["results"][1]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["submodule_section_header"].as_str().unwrap())
        .collect();
    assert_eq!(
        sections,
        ["Headers", "Hashes", "Import Adress Tables", "Sections"]
    );
    let mut pdf: Value =
        serde_json::from_slice(&fs::read(corpus().join("pdf/expected.json")).unwrap()).unwrap();
    relax(&mut pdf, &pointers(&relaxed, "pdf"));
    assert_eq!(
        pdf["summary"]["taxonomies"],
        json!([{"level": "info", "namespace": "FileInfo", "predicate": "Filetype", "value": "PDF"}])
    );
    assert_eq!(pdf["full"]["results"].as_array().unwrap().len(), 1);
    assert_eq!(
        pdf["full"]["results"][0]["results"][1]["submodule_section_content"],
        json!({"ExifTool:ExifToolVersion": 12.57})
    );
}
