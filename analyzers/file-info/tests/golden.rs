//! Runs the FileInfo binary on every job in `tests/corpus/` and compares its `output.json`
//! with the original analyzer's (`expected.json`), relaxed only where README.md says so. Running,
//! normalising, relaxing (`tests/corpus/relaxed.json`) and comparing are the shared harness's
//! (`analyzer-golden`); the tests below check that every relaxation is one the README names.

use analyzer_golden::Corpus;
use analyzer_golden::normalise::relax;
use serde_json::{Value, json};

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

fn corpus() -> Corpus {
    Corpus::of_crate(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_case_matches_the_original() {
    corpus()
        .check_binary(env!("CARGO_BIN_EXE_FileInfo"))
        .assert_passed();
}

#[test]
fn every_relaxation_is_one_the_readme_names() {
    // Each relaxed pointer must name something that exists in the original's report and is
    // one of the three documented kinds; anything else would hide a real difference.
    let corpus = corpus();
    for (case, pointers) in corpus.relaxations() {
        let expected = corpus.case(case).expected();
        for pointer in pointers {
            assert!(
                expected.pointer(pointer).is_some(),
                "{case}: {pointer} is not in expected.json"
            );
            assert!(
                relaxation_kind(&expected, pointer).is_some(),
                "{case}: {pointer} is not a documented relaxation"
            );
        }
    }
}

#[test]
fn relaxations_keep_every_ported_field() {
    // A PE case keeps its Headers, hashes, imports and sections; the PDF case keeps the
    // Filetype taxonomy and the Basic properties entry.
    let corpus = corpus();
    let mut pe = corpus.case("pe32-exe").expected();
    relax(&mut pe, corpus.relaxed("pe32-exe"));
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
    let mut pdf = corpus.case("pdf").expected();
    relax(&mut pdf, corpus.relaxed("pdf"));
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
